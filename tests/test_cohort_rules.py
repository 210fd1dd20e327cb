"""The two-track cohort rule in the model: who is an *existing* client (stays with the
centrumgemeente) and who is *new* (paid by the woonplaats), per client, under each rule.

``attribution.existing``: placed before the cohort date (``placed``), or also on the waitlist
before it (``waitlisted``). ``attribution.relapse``: a relapse of an existing client is new, or
stays existing. The rule only labels clients: the journeys, and every regional number, are the
same under every rule.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from sim.config import scenario as sc_mod
from sim.model.world import World
from sim.record.metrics import MUNICIPAL_ROW, municipal_metrics
from sim.record.monitor import Monitor

BASELINE = Path(__file__).resolve().parent.parent / "scenarios" / "haarlem" / "baseline.yaml"
COHORT_DATE = "2019-01-01"
#: relapses within the run: a relapse probability and delay high enough that there are many
SETTINGS = ("relapse.probability=0.6", "relapse.delay={dist: fixed, value: 0.5, unit: years}",
            "ambulant.duration={dist: fixed, value: 0.5, unit: years}")


def run(existing: str = "placed", relapse: str = "new", seed: int = 5) -> tuple[World, sc_mod.Scenario]:
    sc = sc_mod.load(BASELINE, [*SETTINGS, f"attribution.cohort_date={COHORT_DATE}",
                                f"attribution.existing={existing}", f"attribution.relapse={relapse}"])
    world = World(sc, seed, 0, Monitor)
    world.run()
    return world, sc


def expected_existing(world: World, existing: str, relapse: str) -> dict[tuple[str, int], bool]:
    """Each client's cohort from its own record, by the rule as written in the README."""
    day = world._cohort_day
    out: dict[tuple[str, int], bool] = {}
    for c in sorted(world.monitor.clients, key=lambda c: c.family.count("relapse.")):  # first stays first
        placed = c.start_stage in ("in_care", "ready_to_leave") or c.placed < day
        listed = c.start_stage == "waiting" or c.listed < day
        own = placed or (existing == "waitlisted" and listed)
        inherited = False
        if relapse == "existing" and c.family.startswith("relapse."):
            inherited = out[(c.family[len("relapse."):], c.index)]
        out[(c.family, c.index)] = own or inherited
    return out


@pytest.mark.parametrize("existing,relapse", [("placed", "new"), ("waitlisted", "new"), ("placed", "existing"),
                                              ("waitlisted", "existing")])
def test_each_client_is_in_the_cohort_its_rule_gives(existing, relapse):
    world, _ = run(existing, relapse)
    m = world._n_municipalities
    wanted = expected_existing(world, existing, relapse)
    got = {(c.family, c.index): c.group < m for c in world.monitor.clients}
    assert got == wanted
    assert all(c.group % m == c.municipality for c in world.monitor.clients)


def test_the_rules_differ_where_they_should_and_only_label_clients():
    runs = {(e, r): run(e, r) for e in ("placed", "waitlisted") for r in ("new", "existing")}
    base_world, base_sc = runs[("placed", "new")]
    base = base_world.monitor
    base_cost = municipal_metrics(base, base_sc)[:, :, MUNICIPAL_ROW["cost"], :]
    m = base_world._n_municipalities
    counts = {}
    for key, (world, sc) in runs.items():
        mon = world.monitor
        # the same journeys: every regional series identical
        assert np.array_equal(mon.snap_levels, base.snap_levels) and np.array_equal(mon.flows, base.flows)
        # the same cost, split otherwise: existing + new per municipality is the same under every rule
        cost = municipal_metrics(mon, sc)[:, :, MUNICIPAL_ROW["cost"], :]
        assert np.allclose(cost.sum(1), base_cost.sum(1))
        counts[key] = sum(c.group < m for c in mon.clients)
    # clients on the list at the date and placed after it; relapses of existing clients after it
    assert counts[("waitlisted", "new")] > counts[("placed", "new")]
    assert counts[("placed", "existing")] > counts[("placed", "new")]
    assert counts[("waitlisted", "existing")] > max(counts[("waitlisted", "new")], counts[("placed", "existing")])


def test_without_a_cohort_date_every_rule_puts_everyone_in_the_new_cohort():
    sc = sc_mod.load(BASELINE, [*SETTINGS, "attribution.existing=waitlisted", "attribution.relapse=existing"])
    world = World(sc, 5, 0, Monitor)
    world.run()
    assert world._cohort_day == -math.inf
    assert all(c.group >= world._n_municipalities for c in world.monitor.clients)


@pytest.mark.parametrize("assignment,needle", [("attribution.existing=indicated", "attribution.existing"),
                                               ("attribution.relapse=old", "attribution.relapse")])
def test_a_rule_that_is_not_one_is_refused_naming_the_key(assignment, needle):
    with pytest.raises(sc_mod.ScenarioError, match=needle):
        sc_mod.load(BASELINE, [assignment])
