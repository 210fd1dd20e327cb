"""A new region's scenario, written from a handful of numbers (``bwsim new-region``).

:func:`region_yaml` gives the text of a complete, commented scenario: every block the model
reads, the numbers the user gave (places, the list, dates, municipalities) marked ``# given``
and every other number marked ``# assumption: …`` with what it stands for, so the user sees
what to replace. Nothing in it comes from another region: one provider (``Provider A``), the
municipalities given (or the region itself), round numbers for the laws and shares, and pools
sized from the number of places so that the region can be in a steady state:

* enough contingentwoningen for the residents who need one (half as many again) — with fewer,
  ``ready_to_leave`` grows every year and no inflow keeps the list stable;
* a first guess of the inflow from the flows (exits from the places, withdrawals from the
  list, less the relapses that come back on their own); ``bwsim solve steady-state`` finds
  the inflow that keeps the list at a given length.

The text is validated before it is returned (a template that does not load is a bug here).
"""

from __future__ import annotations

import datetime as dt
import math

import yaml

from .scenario import SHARE_TOLERANCE, add_years, from_mapping, safe_load

#: Years a new region's run covers when no end is given.
DEFAULT_YEARS = 10
#: The one provider of a new region (no real provider's name).
PROVIDER = "Provider A"

# The assumptions, in one place (see the comments written next to each in the YAML).
PROFILES = {"regular": (0.85, 1, 6.0, 4.0), "urgent": (0.15, 0, 4.0, 3.0)}  # share, priority, mean, sd (years)
WITHDRAWAL = 0.25
EARLY_EXIT = 0.02
DESTINATIONS = {"independent": 0.6, "intramural": 0.25, "died_or_moved": 0.15}
CONTINGENT_SHARE = 0.5
CONTINGENT_SPARE = 1.5
RELAPSE = 0.0
OTHER_ROUTE_MONTHS = 4.0
BRIDGING_PER_PLACE = 0.05
BRIDGED_WITHDRAWAL = 0.5
READY_PER_PLACE = 0.02


class NewRegionError(ValueError):
    """A value given for a new region that cannot be used; the message names the flag."""


def _scalar(value) -> str:
    """A name as a YAML scalar (quoted only when it has to be)."""
    return yaml.safe_dump(value, allow_unicode=True, width=10**6).removesuffix("\n...\n").rstrip("\n")


def _mean_stay() -> float:
    """Mean stay in years over the profiles."""
    return sum(share * mean for share, _, mean, _ in PROFILES.values())


def first_inflow_guess(places: int, waiting: int) -> int:
    """New indications a year that roughly balance the flows with full places: exits (places over
    the mean time in a place: the stay cut short by early exits, and the wait for a home by
    another route) plus withdrawals from the list (at half the rate for the bridged), less relapses."""
    in_place = 1.0 / (1.0 / _mean_stay() + EARLY_EXIT)
    in_place += DESTINATIONS["independent"] * (1 - CONTINGENT_SHARE) * OTHER_ROUTE_MONTHS / 12
    exits = places / in_place
    bridged = min(waiting, max(1, round(BRIDGING_PER_PLACE * places)))
    withdrawals = WITHDRAWAL * (waiting - bridged * (1 - BRIDGED_WITHDRAWAL))
    relapses = exits * DESTINATIONS["independent"] * RELAPSE
    return max(1, round(exits + withdrawals - relapses))


def contingent_units(places: int) -> int:
    """Contingentwoningen a year for BW: those needed (independent exits that need one) and half as many again."""
    needed = places / _mean_stay() * DESTINATIONS["independent"] * CONTINGENT_SHARE
    return max(1, math.ceil(CONTINGENT_SPARE * needed))


def check_municipalities(municipalities: dict[str, float]) -> None:
    for name, share in municipalities.items():
        if not name.strip():
            raise NewRegionError("--municipality: expected NAME=SHARE with a name before '='")
        if not (0 <= share <= 1) or math.isnan(share):
            raise NewRegionError(f"--municipality {name}={share:g}: expected a share between 0 and 1")
    total = sum(municipalities.values())
    if abs(total - 1) > SHARE_TOLERANCE:
        raise NewRegionError(f"--municipality: the shares must sum to 1 (got {total:g} for "
                             f"{', '.join(municipalities)})")


COMMENT_COLUMN = 36


def c(text: str, comment: str) -> str:
    """A line of YAML with its comment in the comment column."""
    return f"{text:<{COMMENT_COLUMN - 1}} # {comment}"


def region_yaml(name: str, places: int, waiting: int, start: dt.date, end: dt.date | None = None,
                municipalities: dict[str, float] | None = None, file: str = "FILE") -> str:
    """The text of a complete, commented, valid scenario for a new region (``file``: its name in
    the commands the comments suggest)."""
    name = name.strip()
    if not name or not name.isprintable():
        raise NewRegionError(f"NAME {name!r}: expected the region's name on one line, e.g. \"Regio Voorbeeld\"")
    if places < 1:
        raise NewRegionError(f"--places {places}: expected at least 1 place")
    if waiting < 0:
        raise NewRegionError(f"--waiting {waiting}: expected 0 or more clients on the list")
    end_given = end is not None
    end = add_years(start, DEFAULT_YEARS) if end is None else end
    if end <= start:
        raise NewRegionError(f"--end {end}: expected a date after --start {start}")
    given_municipalities = bool(municipalities)
    municipalities = dict(municipalities) if municipalities else {name: 1.0}
    check_municipalities(municipalities)

    inflow = first_inflow_guess(places, waiting)
    units = contingent_units(places)
    bridging = max(1, round(BRIDGING_PER_PLACE * places))
    ready = min(places, round(READY_PER_PLACE * places))
    (reg_share, reg_prio, reg_mean, reg_sd), (urg_share, urg_prio, urg_mean, urg_sd) = PROFILES.values()
    d = DESTINATIONS
    if given_municipalities:
        muni_lines = [c("  municipalities:", "given: --municipality")]
        muni_lines += [f"    {_scalar(m)}: {share:g}" for m, share in municipalities.items()]
    else:
        muni_lines = [c("  municipalities:", f"assumption: every client comes from {name}"),
                      "    # list the region's municipalities with their shares of the new clients (sum to 1),",
                      "    # or write the file again with --municipality NAME=SHARE for each",
                      f"    {_scalar(name)}: 1.0"]
    end_note = "given: --end" if end_given else f"assumption: {DEFAULT_YEARS} years from the start"

    lines = [
        f"# {name}: beschermd wonen, a scenario written by `bwsim new-region`.",
        "#",
        "# Every number is either given on the command line (# given) or an assumption",
        "# (# assumption: ...): replace each assumption with your region's figure and write down where",
        "# it comes from. Rates are per year; every duration states its unit.",
        f"#   bwsim check {file}",
        f"#   bwsim solve steady-state {file} --waitlist {waiting}    (the inflow that keeps the list at {waiting})",
        f"#   bwsim run {file}",
        "# Policy levers (capacity_path, beschermd_thuis, outside_contract, conversions, waitlist.review,",
        "# waitlist.intake_stop) are left out: each is off unless written (README, 'Policy levers').",
        f"name: {_scalar(name)}",
        "description: >",
        f"  {name}: {places} places and {waiting} clients on the list on {start.isoformat()}; every other",
        "  number is an assumption to be replaced (see the comments).",
        c(f"start: {start.isoformat()}", "given: --start"),
        c(f"end: {end.isoformat()}", f"{end_note} (the run covers start <= t < end)"),
        "",
        "profiles:",
        "  regular:",
        c(f"    share: {reg_share}", "assumption: most indications are regular"),
        f"    priority: {reg_prio}",
        "    # assumption: time in a place until ready to leave; a lognormal with a long tail",
        f"    stay: {{dist: lognormal, mean: {reg_mean}, sd: {reg_sd}, unit: years}}",
        "  urgent:",
        c(f"    share: {urg_share}", "assumption: the share of urgent indications"),
        c(f"    priority: {urg_prio}", "served first"),
        c(f"    stay: {{dist: lognormal, mean: {urg_mean}, sd: {urg_sd}, unit: years}}", "assumption"),
        "",
        "inflow:",
        "  # assumption: a first guess from the flows (exits from full places plus withdrawals from the",
        "  # list); write your observed new indications a year, or find the inflow that keeps the list",
        f"  # at {waiting}: bwsim solve steady-state {file} --waitlist {waiting}",
        f"  per_year: {inflow}",
        c("  growth_per_year: 0.0", "assumption: no trend"),
        *muni_lines,
        "",
        "waitlist:",
        c("  policy: per_provider", "each provider its own list (central: one list for the region)"),
        c(f"  withdrawal_per_year: {WITHDRAWAL}", "assumption: a waiting client leaves the list at this rate a year"),
        c("  max_length: null", "no limit"),
        "",
        "providers:",
        "  # assumption: one provider holds every place; split them over your providers (inflow_share:",
        "  # the share of new clients joining each one's list; the shares sum to 1)",
        f"  {_scalar(PROVIDER)}:",
        c(f"    places: {places}", "given: --places"),
        "    inflow_share: 1.0",
        c("    bridging: true", "assumption: the provider offers overbruggingszorg"),
        "",
        "bridging:",
        c(f"  places: {bridging}", "assumption: bridging slots, 5% of the places"),
        c(f"  withdrawal_factor: {BRIDGED_WITHDRAWAL}", "assumption: bridged clients withdraw at half the rate"),
        c("  stay_factor: 1.0", "assumption: bridging does not change the stay that follows"),
        "",
        "uitstroom:",
        c(f"  early_exit_per_year: {EARLY_EXIT}", "assumption: residents leaving care early, a rate a year"),
        c("  destinations:", "assumption: where residents go at the end of the stay"),
        f"    independent: {d['independent']}",
        f"    intramural: {d['intramural']}",
        f"    died_or_moved: {d['died_or_moved']}",
        "  housing:",
        c(f"    contingent_share: {CONTINGENT_SHARE}", "assumption: share of independent exits needing a contingentwoning"),
        "    contingent:",
        "      # assumption: homes a year for BW, half as many again as the residents who need one; with fewer,",
        "      # ready_to_leave grows year on year and the list cannot stay stable. If the contingent is",
        "      # shared with other groups, write all its units and BW's share as bw_share.",
        f"      units_per_year: {units}",
        "      bw_share: 1.0",
        "      release: monthly",
        "    # assumption: delay to a home by other routes (family, the open market, ...)",
        f"    other_route_delay: {{dist: gamma, mean: {OTHER_ROUTE_MONTHS:g}, sd: 3, unit: months}}",
        "",
        "ambulant:",
        c("  places: null", "assumption: no limit on ambulant support slots"),
        c("  duration: {dist: lognormal, mean: 2.0, sd: 1.5, unit: years}", "assumption"),
        "",
        "relapse:",
        "  # assumption: nobody comes back. Clients who do (after ambulant support, with this probability",
        "  # and delay) join the inflow on top of the new indications; note that the run starts with",
        "  # nobody in ambulant support, so relapses would start at zero and grow over the first years.",
        f"  probability: {RELAPSE}",
        c("  delay: {dist: lognormal, mean: 1.5, sd: 1.0, unit: years}", "assumption"),
        "",
        c("initial:", "the stock on the start date"),
        c(f"  residents: {places}", "given: every place occupied (--places)"),
        c(f"  ready_to_leave: {ready}", "assumption: 2% of the residents wait for a home"),
        c(f"  waiting: {waiting}", "given: --waiting"),
        c("  waited: {dist: uniform, low: 0, high: 24, unit: months}", "assumption: waits so far up to 2 years"),
        "",
        c("costs:", "euros per day"),
        c("  place_day: 160", "assumption: a round price, write your contracts'"),
        c("  bridging_day: 35", "assumption"),
        c("  ambulant_day: 30", "assumption"),
        c("  beschermd_thuis_day: 80", "assumption: BW-level support at home, about half a place"),
        c("  outside_contract_day: 250", "assumption: a place bought outside contract"),
    ]
    text = "\n".join(lines) + "\n"
    from_mapping(safe_load(text), f"new region {name!r}")  # refuse to hand out a scenario that does not load
    return text
