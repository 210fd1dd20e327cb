"""The scenario folder the server shows: scenarios and verdeel settings chosen by name, never by
path; a new scenario saved as a file that ``extends:`` the one it came from; an uploaded YAML
parsed with the safe loader, size-limited and validated before it is written.

No name given by a request reaches the file system unchecked: a name is letters, digits, ``-``
and ``_`` only (no separator, no ``..``), and the resolved path must lie in the folder. Nothing is
ever overwritten: a new file is created exclusively."""

from __future__ import annotations

import datetime as dt
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..config import scenario as sc_mod

#: A scenario's name: the file's stem.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,79}")
#: The largest YAML text accepted from a request (bytes).
MAX_YAML = 64 * 1024
#: Validated scenarios kept in memory (by name, overrides and the folder's state).
KEEP_SCENARIOS = 256
#: The scenario the others are described against, when the folder has it.
BASELINE = "baseline"


class CatalogError(ValueError):
    """A name or file the folder refuses; the message says why (shown to the user)."""


class NotFound(CatalogError):
    """No such scenario or settings file in the folder."""


@dataclass
class Entry:
    """One YAML file of the folder as the scenarios page shows it."""

    name: str
    kind: str  # "scenario", "verdeel" (settings) or "invalid"
    title: str = ""
    description: str = ""
    extends: str | None = None
    changes: list[str] = field(default_factory=list)
    error: str = ""
    start: dt.date | None = None
    end: dt.date | None = None


def check_name(name: str) -> str:
    """``name`` if it may name a file in the folder, else :class:`CatalogError`."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise CatalogError(f"{name!r}: a scenario name is letters, digits, '-' and '_' only "
                           "(at most 80, no path, no '..')")
    return name


def is_settings(raw: dict) -> bool:
    """A verdeel settings file rather than a scenario."""
    return "regime" in raw or "based_on" in raw


class Catalog:
    """The YAML files of one folder."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder).resolve()
        if not self.folder.is_dir():
            raise CatalogError(f"{folder}: not a folder of scenarios")
        self._entries: tuple[tuple, list[Entry]] | None = None
        self._scenarios: dict[tuple, sc_mod.Scenario] = {}
        self._loading = threading.Lock()

    # ------------------------------------------------------------ names and paths

    def path(self, name: str, must_exist: bool = True) -> Path:
        """The file of ``name`` in the folder (checked: inside the folder, and existing if asked)."""
        check_name(name)
        path = (self.folder / f"{name}.yaml").resolve()
        if path.parent != self.folder:
            raise CatalogError(f"{name!r}: not a file of the scenario folder")
        if must_exist and not path.is_file():
            raise NotFound(f"no scenario or settings file named {name!r} in the folder")
        return path

    def names(self) -> list[str]:
        return sorted(p.stem for p in self.folder.glob("*.yaml") if NAME.fullmatch(p.stem) and p.is_file())

    def raw(self, name: str) -> dict:
        return sc_mod.read_yaml(self.path(name))

    def scenario_names(self) -> list[str]:
        """The files that are scenarios (valid or not), baseline first."""
        names = [n for n in self.names() if not self._settings_file(n)]
        return sorted(names, key=lambda n: (n != BASELINE, n))

    def settings_names(self) -> list[str]:
        """The verdeel settings files."""
        return [n for n in self.names() if self._settings_file(n)]

    def _settings_file(self, name: str) -> bool:
        try:
            return is_settings(self.raw(name))
        except sc_mod.ScenarioError:
            return False

    # ------------------------------------------------------------ reading

    def scenario(self, name: str, overrides: list[str] | tuple[str, ...] = ()) -> sc_mod.Scenario:
        """The validated scenario (``extends:`` resolved); :class:`sim.config.scenario.ScenarioError` if not valid.
        Kept while the folder does not change (a scenario is frozen)."""
        path = self.path(name)
        key = (name, tuple(overrides), self.state())
        if key in self._scenarios:
            return self._scenarios[key]
        with self._loading:  # a burst of requests for one scenario parses it once
            if key in self._scenarios:
                return self._scenarios[key]
            if self._settings_file(name):
                raise CatalogError(f"{name!r} is a verdeel settings file, not a scenario")
            scenario = sc_mod.load(path, list(overrides))
            if len(self._scenarios) >= KEEP_SCENARIOS:
                self._scenarios.clear()
            self._scenarios[key] = scenario
            return scenario

    def data(self, name: str) -> dict:
        """The scenario mapping with ``extends:`` resolved (not validated)."""
        return sc_mod.load_data(self.path(name))

    def state(self) -> tuple:
        """What the folder holds now (names, sizes, times): the entries are recomputed when it changes."""
        files = []
        for path in sorted(self.folder.iterdir()):
            try:
                stat = path.stat()
            except OSError:
                continue
            files.append((path.name, stat.st_size, stat.st_mtime_ns))
        return tuple(files)

    def entries(self) -> list[Entry]:
        """Every file, scenarios first (baseline first), with what each changes against the baseline
        (kept while the folder does not change)."""
        state = self.state()
        if self._entries is not None and self._entries[0] == state:
            return list(self._entries[1])
        entries = self._compute_entries()
        self._entries = (state, entries)
        return list(entries)

    def _compute_entries(self) -> list[Entry]:
        baseline = self.baseline()
        out = [self.entry(name, baseline) for name in self.scenario_names()]
        for name in self.settings_names():
            out.append(Entry(name, "verdeel", title=name, description="verdeelmodel settings (bwsim verdeel)"))
        return out

    def baseline(self) -> sc_mod.Scenario | None:
        if BASELINE not in self.names():
            return None
        try:
            return self.scenario(BASELINE)
        except (sc_mod.ScenarioError, CatalogError):
            return None

    def entry(self, name: str, baseline: sc_mod.Scenario | None) -> Entry:
        """One scenario as the pages show it: its title, own description (not the one inherited
        from the baseline) and what it changes against ``baseline``."""
        from ..experiment.compare import scenario_changes
        from ..report.compare_report import change_text

        try:
            raw = self.raw(name)
            sc = self.scenario(name)
        except (sc_mod.ScenarioError, CatalogError) as exc:
            return Entry(name, "invalid", title=name, error=str(exc).replace(str(self.folder) + "/", ""))
        changes = ([change_text(c) for c in scenario_changes(baseline, sc)]
                   if baseline is not None and name != BASELINE else [])
        parent = raw.get("extends")
        description = " ".join(sc.description.split())
        if baseline is not None and name != BASELINE and description == " ".join(baseline.description.split()):
            description = ""  # inherited: says nothing about this scenario
        return Entry(name, "scenario", title=sc.name, description=description,
                     extends=Path(parent).stem if isinstance(parent, str) else None, changes=changes,
                     start=sc.start, end=sc.end)

    # ------------------------------------------------------------ writing

    def _create(self, name: str, text: str) -> Path:
        target = self.path(name, must_exist=False)
        try:
            with open(target, "x", encoding="utf-8") as handle:
                handle.write(text)
        except FileExistsError:
            raise CatalogError(f"{name}.yaml exists already; choose another name (nothing is overwritten)") from None
        return target

    def save(self, name: str, parent: str, values: dict[str, Any], title: str, description: str = "") -> Path:
        """A new file ``name.yaml`` that ``extends:`` ``parent`` and sets ``values`` (key path ->
        value) with its own title; validated before it is written (ScenarioError if not valid)."""
        check_name(name)
        if self.path(name, must_exist=False).exists():
            raise CatalogError(f"{name}.yaml exists already; choose another name (nothing is overwritten)")
        self.scenario(parent)  # the parent itself must be a valid scenario
        title = " ".join(str(title or "").split()) or name
        own = sc_mod.with_values({}, values)
        doc: dict[str, Any] = {"extends": f"{parent}.yaml", "name": title}
        if description.strip():
            doc["description"] = " ".join(description.split())
        doc.update(own)
        sc_mod.from_mapping(sc_mod.with_values(self.data(parent), {**values, "name": doc["name"],
                                                                  "description": doc.get("description", "")}),
                            f"{name}.yaml")
        header = f"# made with bwsim serve: {parent}.yaml with other policy levers\n"
        path = self._create(name, header + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100))
        try:
            sc_mod.load(path)
        except sc_mod.ScenarioError:
            path.unlink()
            raise
        return path

    def upload(self, name: str, content: bytes) -> Path:
        """Save an uploaded scenario YAML as ``name.yaml``: at most :data:`MAX_YAML` bytes, UTF-8,
        read with the safe loader, its ``extends:`` (if any) a file of this folder, and valid."""
        check_name(name)
        if len(content) > MAX_YAML:
            raise CatalogError(f"the file is {len(content)} bytes; at most {MAX_YAML} are accepted")
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            raise CatalogError("the file is not UTF-8 text") from None
        try:
            data = sc_mod.safe_load(text)
        except (yaml.YAMLError, ValueError) as exc:
            raise CatalogError(f"not valid YAML: {sc_mod.yaml_problem(exc)}") from None
        if not isinstance(data, dict):
            raise CatalogError("expected a mapping of scenario keys at the top level")
        data = dict(data)
        parent = data.pop("extends", None)
        if parent is not None:
            if not isinstance(parent, str) or not parent.endswith(".yaml"):
                raise CatalogError(f"extends: expected the name of a scenario file of this folder, got {parent!r}")
            merged = sc_mod.deep_merge(sc_mod.load_raw(self.path(check_name(parent[:-5]))), data)
        else:
            merged = data
        sc_mod.from_mapping(sc_mod.plain(merged), f"{name}.yaml")
        if self.path(name, must_exist=False).exists():
            raise CatalogError(f"{name}.yaml exists already; choose another name (nothing is overwritten)")
        return self._create(name, text)
