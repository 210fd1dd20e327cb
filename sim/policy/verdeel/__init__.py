"""The verdeelmodel: who receives the region's BW money, who pays for which client, and the gap.

Since 2015 the money for beschermd wonen goes to the centrumgemeente (here Haarlem), which
buys places for the whole region: the *historic* key. The Rijk decided to move it to every
municipality with an *objective* key, along an *ingroeipad*, in two tracks (clients already
in care stay with the centrumgemeente, new clients fall under the *woonplaatsbeginsel*). Two
dates: from ``responsibility_year`` new clients are their woonplaats's (in the Haarlem region
from 2025), from ``start_year`` the money moves along the ingroeipad. This package sets the
budget each municipality receives against the cost of the clients it pays for, replication by
replication, so that every gap has a confidence interval and a probability of being negative,
and does it again under every key and budget variant of the settings (the sensitivity).

Inputs: a settings file (:class:`Settings`, e.g. ``scenarios/haarlem/verdeel-2025.yaml``), a
table of the member municipalities and their shares (:class:`Municipalities`, a CSV) and,
optionally, published amounts per municipality and year (:mod:`.amounts`). Costs come from
:attr:`sim.experiment.replications.Results.municipal`, which attributes every care-day to the
client's municipality of origin and cohort. The library never prints; the report (CSV,
figures, Markdown and HTML) is :mod:`sim.report.verdeel_report`.

Regimes. ``f`` is the objective fraction of the year (0 before ``start_year``; the ``phase_in``
list for ``phased`` and ``two_track``; 1 for ``objective``), ``H``/``O`` a municipality's
historic/objective amount (``h·B``/``o·B`` from shares of the macro budget ``B``), ``C`` the
region's cost, ``own`` the cost of the municipality's residents, ``existing``/``new`` their cost
by cohort, ``T`` what is passed on for new clients (two_track, from the responsibility year):

==========  ============================  ==============================================
regime      budget                        cost paid
==========  ============================  ==============================================
historic    H                             h·C (the centrumgemeente pays for everyone)
objective   O                             own (woonplaatsbeginsel)
phased      (1−f)·H + f·O                 (1−f)·h·C + f·own (a regional shared purse)
two_track   (1−f)·H + f·O + T             h·ΣC_existing + new (from the responsibility year)
==========  ============================  ==============================================

An optional regional pool takes a share of every budget and covers deficits in proportion;
what is left goes back in proportion to the contributions, so the region's total never changes.

Modules, in the order the data flows:

- :mod:`.settings`: the settings schema, :data:`REGIMES`, :func:`load_settings`, :class:`VerdeelError`
  (no numpy: cheap to import, e.g. for the command line's help);
- :mod:`.municipalities`: the table of shares, read and checked against the scenario;
- :mod:`.amounts`: published historic and objective amounts per municipality and year;
- :mod:`.budget`: the money in: the macro budget's path, keys along the ingroeipad, what is passed
  on, the regional pool;
- :mod:`.costs`: the money out: the cost index, the woonplaats key, the Wlz move, the cohort rule,
  and what each municipality pays under the regime;
- :mod:`.assessment`: budget against cost per replication (:class:`Assessment`), :func:`prepare`,
  :func:`assess`, :func:`run`.

Importing this package imports only :mod:`.regimes`; the other names are loaded (with numpy
and pandas) when first used, e.g. ``vd.assess``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .regimes import REGIMES

#: Public name -> the module of this package that defines it, imported when the name is first used.
LAZY = {
    **dict.fromkeys(("DEFAULT_PHASE_IN", "EXPECTED_COST", "RUN_KEYS", "SCENARIO_COST", "Settings", "VerdeelError",
                     "load_settings", "settings_from_mapping"), "settings"),
    **dict.fromkeys(("Municipalities", "read_municipalities", "check_against_scenario", "SHARE_TOLERANCE",
                     "REQUIRED_COLUMNS"), "municipalities"),
    **dict.fromkeys(("Amounts", "read_amounts"), "amounts"),
    **dict.fromkeys(("objective_fraction", "macro_budget", "budgets", "apply_pool", "index_factor", "budget_path",
                     "cost_path", "key_amounts", "pass_on"), "budget"),
    **dict.fromkeys(("cohort_costs", "paid_costs", "simulated_costs", "Costs", "municipal"), "costs"),
    **dict.fromkeys(("Assessment", "assess", "prepare", "run", "scenario_overrides", "wlz_scenario",
                     "probability_short", "with_region", "conclusion", "price_label", "REGION", "PEOPLE"),
                    "assessment"),
}

__all__ = [
    "DEFAULT_PHASE_IN", "EXPECTED_COST", "REGIMES", "RUN_KEYS", "SCENARIO_COST", "Settings", "VerdeelError",
    "load_settings", "settings_from_mapping",
    "Municipalities", "read_municipalities", "check_against_scenario", "SHARE_TOLERANCE", "REQUIRED_COLUMNS",
    "Amounts", "read_amounts",
    "objective_fraction", "macro_budget", "budgets", "apply_pool", "index_factor", "budget_path", "cost_path",
    "key_amounts", "pass_on",
    "cohort_costs", "paid_costs", "simulated_costs", "Costs", "municipal",
    "Assessment", "assess", "prepare", "run", "scenario_overrides", "wlz_scenario", "probability_short",
    "with_region", "conclusion", "price_label", "REGION", "PEOPLE",
]


def __getattr__(name: str):
    if name not in LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(LAZY))


if TYPE_CHECKING:  # the names __getattr__ provides, for type checkers, editors and pyflakes
    from .settings import (DEFAULT_PHASE_IN, EXPECTED_COST, RUN_KEYS, SCENARIO_COST, Settings, VerdeelError,
                           load_settings, settings_from_mapping)
    from .amounts import Amounts, read_amounts
    from .assessment import PEOPLE, REGION, Assessment, assess, conclusion, prepare, price_label, \
        probability_short, run, scenario_overrides, with_region, wlz_scenario
    from .budget import apply_pool, budget_path, budgets, cost_path, index_factor, key_amounts, macro_budget, \
        objective_fraction, pass_on
    from .costs import Costs, cohort_costs, municipal, paid_costs, simulated_costs
    from .municipalities import REQUIRED_COLUMNS, SHARE_TOLERANCE, Municipalities, check_against_scenario, \
        read_municipalities
