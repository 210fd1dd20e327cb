"""Scenario loading, extends/overrides, and one clear message for every kind of bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sim.config import scenario as sc_mod
from sim.config.distributions import DAYS_PER_YEAR, Empirical, Gamma, Lognormal, Weibull, length_biased_sample

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "haarlem" / "baseline.yaml"


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def child(tmp_path: Path, body: str) -> Path:
    """A scenario extending the baseline with ``body``."""
    return write(tmp_path, f"extends: {BASELINE}\n{body}")


def test_baseline_loads_and_is_consistent():
    sc = sc_mod.load(BASELINE)
    assert sum(p.places for p in sc.providers.values()) == 634
    assert sc.initial.waiting == 178
    assert len(sc.digest()) == 16


def test_extends_merges_and_set_overrides(tmp_path):
    path = child(tmp_path, "name: child\nwaitlist: {policy: central}\n")
    sc = sc_mod.load(path, ["providers.SIG.places=20", "inflow.per_year={2015: 100, 2018: 140}"])
    assert sc.name == "child"
    assert sc.waitlist.policy == "central"
    assert sc.waitlist.withdrawal_per_year == 0.25  # inherited
    assert sc.providers["SIG"].places == 20
    assert sc_mod.value_in_year(sc.inflow.per_year, 2017) == 100
    assert sc_mod.value_in_year(sc.inflow.per_year, 2019) == 140


@pytest.mark.parametrize("body, key, expected", [
    ("waitlist: {polcy: central}", "waitlist.polcy", "unknown key"),
    ("inflow: {per_year: ten}", "inflow.per_year", "valid number"),
    ("waitlist: {withdrawal_per_year: -0.1}", "waitlist.withdrawal_per_year", "greater than or equal to 0"),
    ("providers: {SIG: {places: -3}}", "providers.SIG.places", "greater than or equal to 0"),
    ("uitstroom: {destinations: {independent: 0.5, intramural: 0.29, died_or_moved: 0.12}}",
     "uitstroom.destinations", "must sum to 1"),
    ("providers: {SIG: {inflow_share: 0.5}}", "", "provider inflow_share must sum to 1"),
    ("providers: {SIG: {schedule: [{date: 2030-01-01, places: 5}]}}", "", "outside the run"),
    ("providers: {SIG: {schedule: [{date: 2018-01-01, places: 5}, {date: 2017-01-01, places: 6}]}}",
     "providers.SIG", "schedule dates must be in strictly increasing order"),
    ("profiles: {regular: {stay: {dist: banana, mean: 3}}}", "profiles.regular.stay", "dist"),
    ("end: 2014-01-01", "", "must be after start"),
    ("capacity_path: {changes: [{date: 2018-01-01, places: -5}]}", "capacity_path.changes.0.places",
     "greater than or equal to 0"),
    ("capacity_path: {changes: [{date: 2019-01-01, places: 500}, {date: 2018-01-01, places: 400}]}",
     "capacity_path", "strictly increasing order"),
    ("capacity_path: {changes: [{date: 2018-01-01, places: 500}], shrink: randomly}", "capacity_path.shrink",
     "proportional"),
    ("levers: {halve: true}", "levers", "unknown key"),
    ("waitlist: {review: {per_year: 10, removal_share: 1.5}}", "waitlist.review.removal_share", "less than or equal to 1"),
    ("conversions: [{date: 2017-04-01, provider: Nobody, places: 5}]", "conversions", "unknown provider"),
    ("providers: {SIG: {waitlist_of: Nobody}}", "providers.SIG.waitlist_of", "expected a provider with its own list"),
    ("bridging: {stay_factor: 0}", "bridging.stay_factor", "greater than 0"),
    ("inflow: {per_year: .inf}", "inflow.per_year", "finite number"),
    ("inflow: {per_year: 1.0e9}", "inflow", "at most 1,000,000"),
    ("end: 2022-02-30", "", "not valid YAML: day is out of range"),
])
def test_bad_input_names_file_key_and_expectation(tmp_path, body, key, expected):
    path = child(tmp_path, body)
    with pytest.raises(sc_mod.ScenarioError) as info:
        sc_mod.load(path)
    message = str(info.value)
    assert str(path) in message
    assert key in message
    assert expected in message


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(sc_mod.ScenarioError, match="file not found"):
        sc_mod.load(tmp_path / "nope.yaml")
    with pytest.raises(sc_mod.ScenarioError, match="not valid YAML"):
        sc_mod.load(write(tmp_path, "name: [unclosed"))
    with pytest.raises(sc_mod.ScenarioError, match="expected key.path=value"):
        sc_mod.load(BASELINE, ["inflow.per_year"])
    with pytest.raises(sc_mod.ScenarioError, match="inflow.per_year=.*not valid YAML"):
        sc_mod.load(BASELINE, ["inflow.per_year={2015: ["])


def test_a_scenario_that_is_not_utf8_is_one_clear_error(tmp_path):
    path = tmp_path / "latin.yaml"
    path.write_bytes("name: caf\u00e9\n".encode("latin-1"))
    with pytest.raises(sc_mod.ScenarioError, match="not UTF-8 text"):
        sc_mod.load(path)


def test_extends_cycle_is_reported(tmp_path):
    write(tmp_path, "extends: b.yaml\n", "a.yaml")
    write(tmp_path, "extends: a.yaml\n", "b.yaml")
    with pytest.raises(sc_mod.ScenarioError, match="cycle"):
        sc_mod.load(tmp_path / "a.yaml")


def test_resolved_scenario_round_trips(tmp_path):
    sc = sc_mod.load(BASELINE)
    path = write(tmp_path, yaml.safe_dump(sc.model_dump(mode="json"), allow_unicode=True))
    assert sc_mod.load(path) == sc


@pytest.mark.parametrize("law", [
    Lognormal(dist="lognormal", mean=2.0, sd=1.5, unit="years"),
    Gamma(dist="gamma", mean=2.0, sd=1.5, unit="years"),
    Weibull(dist="weibull", shape=1.5, scale=2.0, unit="years"),
    Empirical(dist="empirical", values=[1.0, 2.0, 6.0], weights=[1, 2, 1], unit="years"),
])
def test_distribution_means_and_length_bias(law):
    import numpy as np

    rng = np.random.default_rng(7)
    x = law.sample(rng, 200_000)
    assert x.mean() == pytest.approx(law.mean_days(), rel=0.01)
    # length-biased mean is E[S^2]/E[S]
    biased = length_biased_sample(law, rng, 100_000)
    assert biased.mean() == pytest.approx((x**2).mean() / x.mean(), rel=0.02)
    assert law.mean_days() / DAYS_PER_YEAR > 0


# ---------------------------------------------------------------- !replace and no silent defaults


def test_replace_tag_replaces_a_mapping_instead_of_merging(tmp_path):
    path = child(tmp_path, "providers: !replace\n  One: {places: 634, inflow_share: 1.0}\n"
                           "inflow:\n  municipalities: !replace {Noord: 0.4, Zuid: 0.6}\n")
    sc = sc_mod.load(path)
    assert list(sc.providers) == ["One"]  # none of the baseline's providers is left
    assert sc.inflow.municipalities == {"Noord": 0.4, "Zuid": 0.6}
    assert sc.inflow.per_year == 105  # untagged mappings still merge
    assert sc.waitlist.withdrawal_per_year == 0.25
    # a grandchild merges into the replaced mapping as into any other
    grandchild = write(tmp_path, f"extends: {path.name}\nproviders: {{Two: {{places: 10, inflow_share: 0}}}}\n",
                       "grandchild.yaml")
    assert list(sc_mod.load(grandchild).providers) == ["One", "Two"]
    # without the tag the same child merges: the baseline's providers stay and the shares break
    merged = child(tmp_path, "providers:\n  One: {places: 634, inflow_share: 1.0}\n")
    with pytest.raises(sc_mod.ScenarioError, match="provider inflow_share must sum to 1"):
        sc_mod.load(merged)
    assert "RIBW K/AM" in sc_mod.load_raw(merged)["providers"]


def test_replace_tag_is_plain_data_once_loaded(tmp_path):
    path = child(tmp_path, "providers: !replace\n  One: {places: 634, inflow_share: 1.0}\n")
    data = sc_mod.load_raw(path)
    assert type(data["providers"]) is dict and type(data["providers"]["One"]) is dict
    # --set takes a tagged value too (a --set value replaces whole anyway)
    sc = sc_mod.load(BASELINE, ["providers=!replace {Solo: {places: 634, inflow_share: 1.0}}"])
    assert list(sc.providers) == ["Solo"]


def test_replace_tag_on_a_list_or_value_is_one_clear_error(tmp_path):
    path = child(tmp_path, "conversions: !replace [1, 2]\n")
    with pytest.raises(sc_mod.ScenarioError) as info:
        sc_mod.load(path)
    assert str(path) in str(info.value) and "!replace goes on a mapping" in str(info.value)


def test_replace_tag_still_refuses_a_duplicate_key(tmp_path):
    path = child(tmp_path, "providers: !replace\n  One: {places: 634, inflow_share: 1.0}\n"
                           "  One: {places: 1, inflow_share: 1.0}\n")
    with pytest.raises(sc_mod.ScenarioError, match="written twice"):
        sc_mod.load(path)


@pytest.mark.parametrize("body, message", [
    ("profiles: {regular: {stay: {dist: lognormal, mean: 8.5, sd: 6}}}",
     "profiles.regular.stay: expected a unit: days, months or years, "
     "e.g. {dist: lognormal, mean: 8.5, sd: 6, unit: years}"),
    ("ambulant: {duration: {dist: empirical, values: [1, 2.5]}}",
     "ambulant.duration: expected a unit: days, months or years, e.g. {dist: empirical, values: [1, 2.5], unit: years}"),
    ("initial: {waited: {dist: fixed, value: 0}}",
     "initial.waited: expected a unit: days, months or years, e.g. {dist: fixed, value: 0, unit: years}"),
    ("waitlist: !replace {policy: central}",
     "waitlist.withdrawal_per_year: missing; write the rate at which a waiting client leaves the list, per year, "
     "e.g. withdrawal_per_year: 0.25"),
])
def test_no_silent_default_for_a_unit_or_the_withdrawal_rate(tmp_path, body, message):
    path = child(tmp_path, body)
    with pytest.raises(sc_mod.ScenarioError) as info:
        sc_mod.load(path)
    assert str(info.value).startswith(f"{path}: {message}"), str(info.value)


def test_a_scenario_without_a_waitlist_block_is_told_what_to_write(tmp_path):
    data = sc_mod.load_raw(BASELINE)
    del data["waitlist"]
    path = write(tmp_path, yaml.safe_dump(data, allow_unicode=True))
    with pytest.raises(sc_mod.ScenarioError, match=r"waitlist: missing; write the block with the withdrawal rate, "
                                                   r"e.g. waitlist: \{withdrawal_per_year: 0.25\}"):
        sc_mod.load(path)


def test_an_unknown_dist_is_reported_as_such_not_as_a_missing_unit(tmp_path):
    with pytest.raises(sc_mod.ScenarioError) as info:
        sc_mod.load(child(tmp_path, "profiles: {regular: {stay: {dist: banana, mean: 3}}}"))
    assert "unit" not in str(info.value) and "'lognormal'" in str(info.value)


def test_a_duration_built_in_code_needs_its_unit_too():
    with pytest.raises(ValueError, match="unit"):
        Lognormal(dist="lognormal", mean=2.0, sd=1.5)
