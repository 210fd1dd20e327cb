"""HTML pages from the jinja2 templates in ``sim/report/templates/`` (shipped with the package),
so that the wording can be edited without touching Python: one template per page kind and
language (``gemeente.nl.html.j2``), a shared print style (``print.css``, inlined in every page)
and number filters that write euros, counts and shares the way each language does
(Dutch: ``€ 1,2 mln``, ``€ 12.345``, ``3,5``; English: ``€1.2m``, ``€12,345``, ``3.5``).

jinja2 is imported when a page is rendered, not when this module is (the command line starts
light)."""

from __future__ import annotations

import base64
import math
from pathlib import Path

#: The languages a report can be written in (``--lang``).
LANGS = ("en", "nl")
TEMPLATES = Path(__file__).resolve().parent / "templates"
MINUS = "\u2212"


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ValueError(f"--lang {lang}: expected one of {', '.join(LANGS)}")
    return lang


def number(value: float, digits: int = 0, lang: str = "en", sign: bool = False) -> str:
    """``value`` with ``digits`` decimals and thousands separators as ``lang`` writes them, a
    real minus sign, ``–`` when missing, no ``-0``."""
    if value is None or not math.isfinite(value):
        return "–"
    text = f"{value:+,.{digits}f}" if sign else f"{value:,.{digits}f}"
    if float(text.replace(",", "").replace("+", "")) == 0:
        text = f"{0:,.{digits}f}"
    if lang == "nl":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return text.replace("-", MINUS)


def euros(value: float, lang: str = "en", sign: bool = False, mln: bool = False) -> str:
    """Euros for prose: millions with one decimal from € 1 million or with ``mln`` (``€ 1,2 mln``,
    ``€1.2m``), else whole euros (``€ 12.345``, ``€12,345``)."""
    if value is None or not math.isfinite(value):
        return "–"
    if abs(value) >= 0.95e6 or mln:
        text = number(value / 1e6, 1, lang, sign)
        return f"€ {text} mln" if lang == "nl" else f"€{text}m"
    text = number(value, 0, lang, sign)
    return f"€ {text}" if lang == "nl" else f"€{text}"


def millions(value: float, lang: str = "en", digits: int = 2, sign: bool = False) -> str:
    """Euros in millions for tables (the unit is in the header): ``3,77`` / ``3.77``."""
    return number(None if value is None else value / 1e6, digits, lang, sign)


def percent(value: float, lang: str = "en", digits: int = 0) -> str:
    """A share as a percentage: ``45%`` (Dutch and English alike, with the language's decimal mark)."""
    if value is None or not math.isfinite(value):
        return "–"
    return number(100 * value, digits, lang) + "%"


def data_uri(path: str | Path) -> str:
    """A PNG as a ``data:`` URI, so that a page carries its figures with it."""
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def environment(lang: str):
    """A jinja2 environment for ``lang``: the templates folder, autoescaping, the number
    filters bound to the language, and ``css`` (the shared print style) as a global."""
    import jinja2

    check_lang(lang)
    # HTML escaped, Markdown (``*.md.j2``) as written
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                             autoescape=lambda name: not (name or "").endswith(".md.j2"),
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update({
        "euros": lambda v, sign=False, mln=False: euros(v, lang, sign, mln),
        "millions": lambda v, digits=2, sign=False: millions(v, lang, digits, sign),
        "number": lambda v, digits=0, sign=False: number(v, digits, lang, sign),
        "percent": lambda v, digits=0: percent(v, lang, digits),
        "data_uri": data_uri,
    })
    env.globals.update(css=(TEMPLATES / "print.css").read_text(encoding="utf-8"), lang=lang)
    return env


def render(name: str, lang: str, kind: str = "html", **context) -> str:
    """Template ``name`` (``gemeente``, ``verdeel_report``, ``gemeenten_index``) in ``lang`` and
    ``kind`` (``html``, or ``md`` where a Markdown template exists), filled in."""
    return environment(lang).get_template(f"{name}.{lang}.{kind}.j2").render(**context)


def labels(name: str, lang: str) -> dict[str, str]:
    """The words a figure needs, from ``{name}.{lang}.j2`` (its ``{% set key = "..." %}`` lines),
    so that figure labels are edited like the pages' wording."""
    module = environment(lang).get_template(f"{name}.{lang}.j2").module
    return {k: str(v) for k, v in vars(module).items() if not k.startswith("_") and isinstance(v, str)}
