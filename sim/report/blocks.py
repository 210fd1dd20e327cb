"""A report as a list of blocks (heading, paragraph, note, list, table, image), rendered to Markdown
and to self-contained HTML (PNGs embedded as base64 data URIs, the CSS inline), so that the two
always say the same thing; and :func:`fmt`, numbers for people."""

from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass
from pathlib import Path

MINUS = "\u2212"


def fmt(value: float, digits: int = 1, sign: bool = False) -> str:
    """A number for people: fixed digits, a real minus sign, ``–`` when missing."""
    if value is None or not math.isfinite(value):
        return "–"
    text = f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"
    if float(text.replace("+", "")) == 0:  # no "-0.0" or "+0.0"
        text = f"{0:.{digits}f}"
    return text.replace("-", MINUS)


@dataclass
class Cell:
    text: str
    strong: bool = False


@dataclass
class Block:
    kind: str  # "h1", "h2", "p", "note", "list", "table", "image"
    text: str = ""
    header: list[str] | None = None
    rows: list[list[Cell]] | None = None
    path: Path | None = None
    items: list[str] | None = None  # a "list": its items, with ``text`` as the lead-in (may be empty)


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(blocks: list[Block]) -> str:
    out = []
    for b in blocks:
        if b.kind == "h1":
            out.append(f"# {b.text}")
        elif b.kind == "h2":
            out.append(f"## {b.text}")
        elif b.kind == "p":
            out.append(b.text)
        elif b.kind == "note":
            out.append(f"*{b.text}*")
        elif b.kind == "list":
            items = "\n".join(f"- {item}" for item in b.items or [])
            out.append(f"{b.text}\n\n{items}" if b.text else items)
        elif b.kind == "table":
            lines = ["| " + " | ".join(_md_escape(h) for h in b.header) + " |",
                     "|" + "|".join(["---"] + ["--:"] * (len(b.header) - 1)) + "|"]
            for row in b.rows:
                cells = [f"**{_md_escape(c.text)}**" if c.strong else _md_escape(c.text) for c in row]
                lines.append("| " + " | ".join(cells) + " |")
            out.append("\n".join(lines))
        elif b.kind == "image":
            out.append(f"![{b.text}]({b.path.name})")
    return "\n\n".join(out) + "\n"


CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 1100px; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.8em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; vertical-align: top; }
th { background: #f2f2f2; } td:first-child, th:first-child { text-align: left; }
tr:nth-child(even) td { background: #fafafa; }
.note { font-size: 0.88em; color: #555; } .wide { overflow-x: auto; }
figure { margin: 1.2em 0; } figcaption { font-size: 0.9em; color: #444; }
img { max-width: 100%; height: auto; }
"""


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def render_html(blocks: list[Block], title: str) -> str:
    e = html.escape
    body = []
    for b in blocks:
        if b.kind in ("h1", "h2"):
            body.append(f"<{b.kind}>{e(b.text)}</{b.kind}>")
        elif b.kind == "p":
            body.append(f"<p>{e(b.text)}</p>")
        elif b.kind == "note":
            body.append(f'<p class="note">{e(b.text)}</p>')
        elif b.kind == "list":
            lead = f"<p>{e(b.text)}</p>" if b.text else ""
            body.append(lead + "<ul>" + "".join(f"<li>{e(item)}</li>" for item in b.items or []) + "</ul>")
        elif b.kind == "table":
            head = "".join(f"<th>{e(h)}</th>" for h in b.header)
            rows = "".join("<tr>" + "".join(f"<td><strong>{e(c.text)}</strong></td>" if c.strong
                                            else f"<td>{e(c.text)}</td>" for c in row) + "</tr>"
                           for row in b.rows)
            body.append(f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>')
        elif b.kind == "image":
            body.append(f'<figure><img alt="{e(b.text)}" src="{_data_uri(b.path)}">'
                        f"<figcaption>{e(b.text)}</figcaption></figure>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{e(title)}</title><style>{CSS}</style></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n")
