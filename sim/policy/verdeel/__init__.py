"""The verdeelmodel: who receives the region's BW money, who pays for which client, and the gap.

Since 2015 the money for beschermd wonen goes to the centrumgemeente (here Haarlem), which
buys places for the whole region: the *historic* key. The Rijk decided to move it to every
municipality with an *objective* key, along an *ingroeipad*, in two tracks (clients already
in care stay with the centrumgemeente, new clients fall under the *woonplaatsbeginsel*). This
package sets the budget each municipality receives under each regime against the cost of the
clients it pays for, replication by replication, so that every gap has a confidence interval
and a probability of being negative.

Inputs: a settings file (:class:`Settings`, e.g. ``scenarios/haarlem/verdeel.yaml``) and a
table of the member municipalities and their shares (:class:`Municipalities`, a CSV). Costs
come from :attr:`sim.experiment.replications.Results.municipal`, which attributes every
care-day to the client's municipality of origin and cohort. The library never prints; the
report (CSV, figures, Markdown and HTML) is :mod:`sim.report.verdeel_report`.

Regimes, for the years from ``start_year`` (before it every regime is the historic one).
``f`` is the objective fraction of the year (0 before start; the ``phase_in`` list for
``phased`` and ``two_track``; 1 for ``objective``), ``B`` the macro budget, ``h``/``o`` a
municipality's historic/objective share, ``C`` the region's cost, ``own`` the cost of the
municipality's residents, ``existing``/``new`` their cost by cohort:

==========  =======================  ==============================================
regime      budget                   cost paid
==========  =======================  ==============================================
historic    h·B                      h·C (the centrumgemeente pays for everyone)
objective   o·B                      own (woonplaatsbeginsel)
phased      (1−f)·h·B + f·o·B        (1−f)·h·C + f·own (the bill moves with the money)
two_track   (1−f)·h·B + f·o·B        h·ΣC_existing + new
==========  =======================  ==============================================

An optional regional pool takes a share of every budget and covers deficits in proportion;
what is left goes back in proportion to the contributions, so the region's total never changes.

Modules, in the order the data flows:

- :mod:`.settings`: the settings schema, :data:`REGIMES`, :func:`load_settings`, :class:`VerdeelError`
  (no numpy: cheap to import, e.g. for the command line's help);
- :mod:`.municipalities`: the table of shares, read and checked against the scenario;
- :mod:`.budget`: the money in: macro budget, keys along the ingroeipad, the regional pool;
- :mod:`.costs`: the money out: what each municipality pays under the regime;
- :mod:`.assessment`: budget against cost per replication (:class:`Assessment`), :func:`prepare`,
  :func:`assess`, :func:`run`.

Importing this package imports only :mod:`.settings`; the other names are loaded (with numpy
and pandas) when first used, e.g. ``vd.assess``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .settings import DEFAULT_PHASE_IN, REGIMES, SCENARIO_COST, Settings, VerdeelError, load_settings, \
    settings_from_mapping

#: Public name -> the module of this package that defines it, imported when the name is first used.
LAZY = {
    **dict.fromkeys(("Municipalities", "read_municipalities", "check_against_scenario", "SHARE_TOLERANCE",
                     "REQUIRED_COLUMNS"), "municipalities"),
    **dict.fromkeys(("objective_fraction", "macro_budget", "budgets", "apply_pool"), "budget"),
    **dict.fromkeys(("cohort_costs", "paid_costs"), "costs"),
    **dict.fromkeys(("Assessment", "assess", "prepare", "run", "scenario_overrides", "probability_short",
                     "with_region", "REGION", "PEOPLE"), "assessment"),
}

__all__ = [
    "DEFAULT_PHASE_IN", "REGIMES", "SCENARIO_COST", "Settings", "VerdeelError", "load_settings",
    "settings_from_mapping",
    "Municipalities", "read_municipalities", "check_against_scenario", "SHARE_TOLERANCE", "REQUIRED_COLUMNS",
    "objective_fraction", "macro_budget", "budgets", "apply_pool",
    "cohort_costs", "paid_costs",
    "Assessment", "assess", "prepare", "run", "scenario_overrides", "probability_short", "with_region", "REGION",
    "PEOPLE",
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
    from .assessment import PEOPLE, REGION, Assessment, assess, prepare, probability_short, run, \
        scenario_overrides, with_region
    from .budget import apply_pool, budgets, macro_budget, objective_fraction
    from .costs import cohort_costs, paid_costs
    from .municipalities import REQUIRED_COLUMNS, SHARE_TOLERANCE, Municipalities, check_against_scenario, \
        read_municipalities
