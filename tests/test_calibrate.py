"""Calibration (ABC-SMC), hold-out validation, posterior use and sensitivity.

Everything runs on a tiny region (one provider of 40 places, three years) so the
whole file stays well under a minute and a half on two cores.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from sim.analysis import calibrate as cal
from sim.config import scenario as scenario_mod
from sim.analysis import sensitivity as sens
from sim.report import calibration_report as report
from sim.report.output import OutputError
from sim.model.calendar import Calendar
from sim.cli import load_app

app = load_app()
from sim.experiment.replications import Results
from sim.experiment.replication import run_replication
from sim.experiment.variance import variance_split
from sim.record.metrics import MONTHLY, MONTHLY_ROW, MUNICIPAL_ROW, YEARLY, YEARLY_ROW

TRUTH = {"inflow.per_year": 30.0, "waitlist.withdrawal_per_year": 0.4}
PRIORS = {"inflow.per_year": {"low": 10, "high": 60}, "waitlist.withdrawal_per_year": {"low": 0.05, "high": 1.5}}

TINY = {
    "name": "tiny",
    "start": dt.date(2015, 1, 1),
    "end": dt.date(2018, 1, 1),
    "profiles": {
        "regular": {"share": 0.9, "stay": {"dist": "exponential", "mean": 3.0, "unit": "years"}},
        "urgent": {"share": 0.1, "priority": 0, "stay": {"dist": "exponential", "mean": 3.0, "unit": "years"}},
    },
    "inflow": {"per_year": 30, "municipalities": {"A": 1.0}},
    "waitlist": {"withdrawal_per_year": 0.4},
    "providers": {"P": {"places": 40, "inflow_share": 1.0}},
    "uitstroom": {
        "destinations": {"independent": 0.5, "intramural": 0.3, "died_or_moved": 0.2},
        "housing": {"contingent_share": 0.0, "contingent": {"units_per_year": 0, "bw_share": 0.0},
                    "other_route_delay": {"dist": "fixed", "value": 1, "unit": "months"}},
    },
    "ambulant": {"places": None, "duration": {"dist": "fixed", "value": 1, "unit": "years"}},
    "initial": {"waiting": 10, "waited": {"dist": "uniform", "low": 0, "high": 6, "unit": "months"}},
}

POINTS = ("2015-06-30", "2015-12-31", "2016-06-30", "2016-12-31", "2017-06-30", "2017-12-31")
YEARS = (2015, 2016, 2017)


def synthetic_observations() -> list[dict]:
    """The mean of 20 replications at the true values, with a seed the fit does not use."""
    sc = scenario_mod.from_mapping(scenario_mod.with_values(TINY, TRUTH))
    reps = np.stack([run_replication(sc, 99, r).monthly for r in range(20)]).mean(axis=0)
    dates = Calendar(sc.start, sc.end).dates
    rows = []
    for day in POINTS:
        i = dates.index(dt.date.fromisoformat(day) + dt.timedelta(days=1))
        rows.append({"date_or_period": day, "metric": "waitlist", "value": round(reps[MONTHLY_ROW["waitlist"], i], 2),
                     "source": "synthetic", "match": "point", "sd": 4, "use": "fit"})
    for year in YEARS:
        months = [i for i, d in enumerate(dates[:-1]) if d.year == year]
        rows.append({"date_or_period": f"{year}-01-01/{year}-12-31", "metric": "withdrawals",
                     "value": round(reps[MONTHLY_ROW["withdrawals"], months].sum(), 2), "source": "synthetic",
                     "match": "total", "sd": 3, "use": "fit"})
    rows.append({"date_or_period": "2017-01-01/2017-12-31", "metric": "admissions", "value": 10, "source": "synthetic",
                 "match": "total", "sd": 3, "use": "check"})
    return rows


def write_setup(folder: Path, method: dict, observations: list[dict] | None = None, priors: dict | None = None,
                draws: int = 40) -> Path:
    """Scenario, observations and calibration file in ``folder``; returns the calibration file."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    pd.DataFrame(observations or synthetic_observations()).to_csv(folder / "observed.csv", index=False)
    config = {"scenario": "tiny.yaml", "observations": "observed.csv", "parameters": priors or PRIORS,
              "distance": {"kind": "scaled_rms", "discrepancy_relative": 0.0},
              "method": {"kind": "abc-smc", "seed": 5, **method}, "predictive": {"draws": draws}}
    path = folder / "calibrate.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def observations() -> list[dict]:
    return synthetic_observations()


@pytest.fixture(scope="module")
def recovery(tmp_path_factory, observations):
    folder = tmp_path_factory.mktemp("recovery")
    path = write_setup(folder, {"population": 200, "alpha": 0.5, "generations": 5, "min_acceptance": 0.0,
                                "replications": 2}, observations)
    return report.calibrate(cal.load_config(path), folder / "out", workers=2, plots=False)


# ---------------------------------------------------------------- the method


def test_abc_smc_recovers_a_known_gaussian_posterior():
    """y ~ N(theta, 1), one observation y = 1.3, flat prior: the posterior is about N(1.3, 1)."""
    box = cal.Box(np.array([-6.0]), np.array([6.0]))
    method = cal.Method(population=2000, alpha=0.5, generations=8, min_acceptance=0.0, replications=1, seed=3)

    def simulate(x, t):
        rng = np.random.default_rng([11, t])
        return (x + rng.standard_normal(x.shape))[:, None, :]

    history = cal.abc_smc(simulate, cal.scaled_rms(np.array([1.3]), np.array([1.0])), box, method)
    gen = history[-1]
    x = box.to_x(gen.u)[:, 0]
    w = gen.normalised
    mean = np.average(x, weights=w)
    sd = np.sqrt(np.average((x - mean) ** 2, weights=w))
    assert [g.epsilon for g in history] == sorted([g.epsilon for g in history], reverse=True)
    assert abs(mean - 1.3) < 0.15
    assert 0.8 < sd < 1.15
    assert gen.ess > 100


EXACT_B = np.array([[1.0, 0.8], [0.0, 1.0]])  # y = B theta + N(0, I): a correlated 2-D posterior
EXACT_Y = np.array([1.0, -0.5])


def _exact_model(x: np.ndarray, t: int) -> np.ndarray:
    rng = np.random.default_rng([11, t, len(x)])
    return (x @ EXACT_B.T + rng.standard_normal(x.shape))[:, None, :]


def _exact_abc_moments(low: float, high: float, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variances of the exact ABC posterior of :func:`_exact_model` on the box [low, high]^2:
    prior x P(||B theta + e - y|| < eps sqrt 2), e ~ N(0, I), a noncentral chi-square probability
    (RMS distance of 2 observations below eps), integrated on a fine grid."""
    from scipy import stats

    grid = np.linspace(low, high, 801)
    theta = np.stack([g.ravel() for g in np.meshgrid(grid, grid, indexing="ij")], axis=1)
    p = stats.ncx2.cdf(2 * eps**2, 2, np.sum((theta @ EXACT_B.T - EXACT_Y) ** 2, axis=1))
    p /= p.sum()
    mean = p @ theta
    return mean, p @ (theta - mean) ** 2


@pytest.mark.parametrize("kernel", ["olcm", "gaussian"])
def test_weighted_posterior_has_the_exact_abc_posterior_mean_and_variance(kernel):
    """On a box the posterior reaches (so the importance weights matter), the weighted mean must lie
    within 4.5 Monte Carlo standard errors (sd / sqrt(ESS)) of the exact ABC posterior's and each
    weighted variance within 4.5 standard errors (sqrt(2 / ESS)) of its. Measured: correct weights gave
    |z| up to 3.1 over 6 runs here (and z-scores of sd 1.0-1.2 over 20 seeds on a wider box, i.e. a
    false failure below about 1e-3); equal weights instead of prior / proposal gave |z| 3.7-8.4."""
    box = cal.Box(np.array([-3.0, -3.0]), np.array([4.0, 4.0]))
    method = cal.Method(population=400, alpha=0.5, generations=5, min_acceptance=0.0, replications=1, seed=4,
                        kernel=kernel)
    gen = cal.abc_smc(_exact_model, cal.scaled_rms(EXACT_Y, np.ones(2)), box, method)[-1]
    x, w = box.to_x(gen.u), gen.normalised
    true_mean, true_var = _exact_abc_moments(-3.0, 4.0, gen.epsilon)
    z = (w @ x - true_mean) / np.sqrt(true_var / gen.ess)
    assert np.all(np.abs(z) < 4.5), z
    ratio = np.diag(np.cov(x.T, aweights=w)) / true_var
    assert np.all(np.abs(ratio - 1) < 4.5 * np.sqrt(2 / gen.ess)), ratio
    assert gen.ess > 0.5 * len(w)


def test_ess_is_kish_effective_sample_size_of_the_weights():
    def ess(weights):
        return cal.Generation(0, np.zeros((len(weights), 1)), np.array(weights, float), np.zeros(len(weights)),
                              np.zeros((len(weights), 1, 1)), 1.0, 1.0, len(weights)).ess

    assert ess([3.0] * 10) == pytest.approx(10)
    assert ess([1, 1, 0, 0]) == pytest.approx(2)
    assert ess([4, 1, 1, 1, 1]) == pytest.approx(64 / 20)  # (sum w)^2 / sum w^2
    assert ess([2e-300, 1e-300]) == pytest.approx(9 / 5)


def test_kernel_density_is_the_mixture_of_its_local_gaussians_and_its_draws_follow_it():
    from scipy import stats
    from sim.analysis.abc_smc import Kernel, olcm_covariances

    rng = np.random.default_rng(8)
    u = rng.standard_normal((6, 3)) @ np.array([[1.0, 0.5, 0.0], [0.0, 1.0, 0.3], [0.0, 0.0, 0.7]])
    w = rng.random(6)
    w /= w.sum()
    covs = olcm_covariances(u, w)
    for j in range(6):  # Filippi et al.: the weighted second moment of all kept sets about set j
        assert covs[j] == pytest.approx(sum(w[k] * np.outer(u[k] - u[j], u[k] - u[j]) for k in range(6)), abs=1e-6)
    kernel = Kernel(u, w, np.linalg.cholesky(covs))
    points = rng.standard_normal((5, 3)) * 2
    brute = np.log([sum(w[j] * stats.multivariate_normal(u[j], covs[j]).pdf(p) for j in range(6)) for p in points])
    assert kernel.log_density(points) == pytest.approx(brute, rel=1e-9)
    draws = kernel.sample(np.random.default_rng(9), 40_000)
    mean = w @ u  # the mixture's mean and covariance; 5 standard errors (false failure < 1e-5 each)
    cov = sum(w[j] * (covs[j] + np.outer(u[j] - mean, u[j] - mean)) for j in range(6))
    assert np.all(np.abs(draws.mean(axis=0) - mean) < 5 * np.sqrt(np.diag(cov) / len(draws)))
    se_var = np.sqrt(np.var((draws - mean) ** 2, axis=0) / len(draws))
    assert np.all(np.abs(np.var(draws, axis=0) - np.diag(cov)) < 5 * se_var)


def test_weights_are_prior_over_the_mixture_of_every_proposal_so_far():
    """Every kept set's weight is prior / (population share x prior + each later generation's share x
    its kernel mixture), recomputed here by brute force with scipy's normal densities."""
    from scipy import stats
    from sim.analysis.abc_smc import olcm_covariances

    box = cal.Box(np.array([-8.0, -8.0]), np.array([8.0, 8.0]))
    method = cal.Method(population=40, alpha=0.5, generations=3, min_acceptance=0.0, replications=1, seed=2)
    history = cal.abc_smc(_exact_model, cal.scaled_rms(EXACT_Y, np.ones(2)), box, method)
    last = history[-1]
    total = 40 + 20 * 2

    def mixture(u):
        dens = 40 / total * np.exp(cal.Box.log_prior_u(u))
        for gen in history[:-1]:
            covs = olcm_covariances(gen.u, gen.normalised)
            dens += 20 / total * sum(wj * stats.multivariate_normal(cj, sj).pdf(u)
                                     for wj, cj, sj in zip(gen.normalised, gen.u, covs))
        return dens

    expected = np.exp(cal.Box.log_prior_u(last.u)) / mixture(last.u)
    assert last.normalised == pytest.approx(expected / expected.sum(), rel=1e-8)


def test_logit_prior_density_is_normalised():
    u = np.linspace(-40, 40, 400_001)[:, None]
    assert np.trapezoid(np.exp(cal.Box.log_prior_u(u)), u[:, 0]) == pytest.approx(1.0, abs=1e-6)


def test_calibration_recovers_the_true_values(recovery):
    fitted = recovery.fitted.set_index("parameter")
    for key, value in TRUTH.items():
        row = fitted.loc[key]
        assert row.p5 <= value <= row.p95, (key, row.p5, value, row.p95)
        assert row.width_vs_prior < 0.6, (key, row.width_vs_prior)
    assert recovery.predictive.query("use == 'fit'")["covered"].all()
    assert np.isclose(recovery.posterior["weight"].sum(), 1.0)
    assert len(recovery.posterior) == 100
    for name in ("posterior.csv", "fitted.csv", "fitted.md", "predictive.csv", "generations.csv", "manifest.json"):
        assert (recovery.out / name).is_file(), name


def test_resume_after_interruption_equals_an_uninterrupted_run(tmp_path, observations):
    method = {"population": 40, "alpha": 0.5, "generations": 4, "min_acceptance": 0.0, "replications": 2}
    path = write_setup(tmp_path, method, observations, draws=4)
    config = cal.load_config(path)
    whole = report.calibrate(config, tmp_path / "whole", workers=1, plots=False)

    class Interrupted(Exception):
        pass

    def stop_in_generation_2(event):
        if event.stage == "generation 2":
            raise Interrupted

    with pytest.raises(Interrupted):
        report.calibrate(config, tmp_path / "cut", workers=2, progress=stop_in_generation_2, plots=False)
    assert sorted(p.name for p in (tmp_path / "cut" / "checkpoints").iterdir()) == ["gen_000.npz", "gen_001.npz"]
    resumed = report.calibrate(config, tmp_path / "cut", workers=2, resume=True, plots=False)
    assert resumed.resumed_from == 2
    pd.testing.assert_frame_equal(resumed.posterior, whole.posterior)
    pd.testing.assert_frame_equal(resumed.predictive, whole.predictive)


def test_resume_refuses_checkpoints_of_another_configuration(tmp_path, observations):
    method = {"population": 12, "alpha": 0.5, "generations": 1, "replications": 1}
    path = write_setup(tmp_path, method, observations, draws=2)
    report.calibrate(cal.load_config(path), tmp_path / "out", workers=1, plots=False)
    other = write_setup(tmp_path, {**method, "seed": 6}, observations, draws=2)
    with pytest.raises(cal.CalibrationError, match="different configuration"):
        report.calibrate(cal.load_config(other), tmp_path / "out", workers=1, resume=True, plots=False)


def test_holdout_validation_scores_only_later_observations(tmp_path, observations):
    method = {"population": 40, "alpha": 0.5, "generations": 2, "replications": 1}
    path = write_setup(tmp_path, method, observations, draws=20)
    config = cal.load_config(path, cutoff=dt.date(2016, 12, 31))
    assert [o.period for o in config.fitted] == ["2015-06-30", "2015-12-31", "2016-06-30", "2016-12-31",
                                                "2015-01-01/2015-12-31", "2016-01-01/2016-12-31"]
    assert cal.fit_data(config)["end"] == dt.date(2017, 1, 1)
    result = report.validate(config, tmp_path / "val", workers=1, plots=True)
    assert list(result.holdout["observation"]) == ["waitlist 2017-06-30", "waitlist 2017-12-31",
                                                   "withdrawals 2017-01-01/2017-12-31"]
    assert 0.0 <= result.coverage <= 1.0
    for name in ("holdout.csv", "holdout.md", "holdout.png", "observations.png", "series.png", "pairs.png"):
        assert (tmp_path / "val" / name).is_file(), name


# ---------------------------------------------------------------- matching observations


def test_observations_match_the_monthly_records():
    cal_ = Calendar(dt.date(2015, 1, 1), dt.date(2018, 1, 1))

    def obs(when, match="point", metric="waitlist"):
        start, _, end = when.partition("/")
        start = dt.date.fromisoformat(start)
        return cal.Observation(2, metric, start, dt.date.fromisoformat(end) if end else start, match, 1, 1, "fit", "")

    assert cal.record_indices(obs("2016-12-31"), cal_) == [24]  # end of day: the record of 1 January
    assert cal.record_indices(obs("2017-07-01"), cal_) == [30]
    assert cal.record_indices(obs("2017-01-01/2017-07-31", "total", "exits"), cal_) == list(range(24, 31))
    with pytest.raises(cal.CalibrationError, match="first or last day of a month"):
        cal.record_indices(obs("2017-07-15"), cal_)
    monthly = np.zeros((len(MONTHLY), len(cal_.dates)))
    monthly[MONTHLY_ROW["exits"], :] = 2.0
    matcher = cal.Matcher.build([obs("2017-01-01/2017-07-31", "total", "exits"),
                                 obs("2017-01-01/2017-03-31", "average", "exits")], cal_)
    assert list(matcher(monthly)) == [14.0, 2.0]


def test_a_municipality_is_matched_on_its_own_residents(tmp_path, observations):
    two = {**TINY, "inflow": {"per_year": 30, "municipalities": {"A": 0.25, "B": 0.75}}}
    rows = observations + [
        {"date_or_period": "2016-12-31", "metric": "occupied[B]", "value": 30, "source": "s", "match": "point",
         "sd": 3, "use": "check"},
        {"date_or_period": "2016-01-01/2016-12-31", "metric": "admissions[A]", "value": 3, "source": "s",
         "match": "total", "sd": 2, "use": "check"},
    ]
    path = write_setup(tmp_path, {"population": 8, "generations": 1, "replications": 1}, rows)
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(two))
    config = cal.load_config(path)
    sc = scenario_mod.from_mapping(two)
    matcher = cal.Matcher.build(config.observations, Calendar(sc.start, sc.end), ["A", "B"])
    rep = run_replication(sc, 3, 0)
    got = matcher(rep.monthly, rep.municipal)
    assert got[-2] == rep.municipal[1, :, MUNICIPAL_ROW["occupied"], 1].sum()
    assert got[-1] == rep.municipal[0, :, MUNICIPAL_ROW["admissions"], 1].sum()
    assert got[-2] + rep.municipal[0, :, MUNICIPAL_ROW["occupied"], 1].sum() == rep.yearly[YEARLY_ROW["occupied"], 1]

    def refused(row, message):
        path = write_setup(tmp_path / message[:8].strip(), {"population": 8, "generations": 1, "replications": 1},
                           observations + [row])
        (path.parent / "tiny.yaml").write_text(yaml.safe_dump(two))
        with pytest.raises(cal.CalibrationError, match=message):
            cal.load_config(path)

    refused({**rows[-2], "metric": "occupied[Nowhere]"}, "not one of the scenario's municipalities")
    refused({**rows[-2], "date_or_period": "2016-06-30"}, "only 31 December")
    refused({**rows[-2], "metric": "ready_to_leave[B]"}, "not produced per municipality")


def test_trimmed_fit_horizon_drops_later_changes():
    data = {**TINY, "providers": {"P": {"places": 40, "inflow_share": 1.0,
                                        "schedule": [{"date": dt.date(2016, 5, 1), "places": 42},
                                                     {"date": dt.date(2017, 10, 1), "places": 45}]}}}
    out = cal.trimmed(data, dt.date(2017, 8, 1))
    assert out["end"] == dt.date(2017, 8, 1)
    assert [c["places"] for c in out["providers"]["P"]["schedule"]] == [42]
    assert cal.trimmed(data, dt.date(2019, 1, 1)) is data


# ---------------------------------------------------------------- bad input


def _bad_setups(tmp_path: Path, observations: list[dict]):
    method = {"population": 8, "generations": 1, "replications": 1}
    good = write_setup(tmp_path / "good", method, observations)

    def variant(name, *, obs=None, priors=None, config_edit=None):
        path = write_setup(tmp_path / name, method, obs or observations, priors=priors)
        if config_edit:
            data = yaml.safe_load(path.read_text())
            config_edit(data)
            path.write_text(yaml.safe_dump(data))
        return path

    return [
        ("unknown metric", variant("metric", obs=observations + [{**observations[0], "metric": "happiness"}]),
         "happiness"),
        ("low above high", variant("prior", priors={**PRIORS, "inflow.per_year": {"low": 50, "high": 20}}),
         "parameters.inflow.per_year"),
        ("unknown key path", variant("key", priors={**PRIORS, "inflow.per_yer": {"low": 1, "high": 2}}),
         "parameters.inflow.per_yer"),
        ("missing scenario", variant("scenario", config_edit=lambda d: d.update(scenario="nowhere.yaml")),
         "nowhere.yaml"),
        ("missing observations", variant("obsfile", config_edit=lambda d: d.update(observations="none.csv")),
         "none.csv"),
        ("unknown kernel", variant("kernel", config_edit=lambda d: d["method"].update(kernel="gauss")),
         "method.kernel"),
        ("missing calibration file", good.parent / "absent.yaml", "absent.yaml"),
    ]


@pytest.fixture
def bad_setups(tmp_path, observations):
    return _bad_setups(tmp_path, observations)


def test_bad_input_raises_calibration_error_naming_file_and_key(bad_setups):
    for what, path, named in bad_setups:
        with pytest.raises(cal.CalibrationError) as info:
            cal.load_config(path)
        assert named in str(info.value), (what, str(info.value))
        assert isinstance(info.value, ValueError)


def test_bad_input_gives_exit_code_2_on_the_command_line(bad_setups):
    runner = CliRunner()
    for what, path, named in bad_setups:
        result = runner.invoke(app, ["calibrate", str(path), "--out", str(path.parent / "out"), "--workers", "1"])
        assert result.exit_code == 2, (what, result.output)
        assert named in result.output.replace("\n", ""), (what, result.output)
    result = runner.invoke(app, ["validate", str(bad_setups[0][1]), "--cutoff", "31-12-2016"])
    assert result.exit_code == 2 and "--cutoff" in result.output


def test_an_observation_outside_the_run_or_a_flow_at_a_point_is_refused(tmp_path, observations):
    method = {"population": 8, "generations": 1, "replications": 1}
    late = write_setup(tmp_path / "late", method, observations + [{**observations[0], "date_or_period": "2019-12-31"}])
    with pytest.raises(cal.CalibrationError, match="line 12: waitlist 2019-12-31: outside the run"):
        cal.load_config(late)
    flow = write_setup(tmp_path / "flow", method, observations + [{**observations[0], "metric": "admissions"}])
    with pytest.raises(cal.CalibrationError, match="is a flow"):
        cal.load_config(flow)


# ---------------------------------------------------------------- the command line and carrying forward


def test_calibrate_and_validate_commands_write_results(tmp_path, observations):
    method = {"population": 24, "alpha": 0.5, "generations": 2, "replications": 1}
    path = write_setup(tmp_path, method, observations, draws=10)
    runner = CliRunner()
    result = runner.invoke(app, ["calibrate", str(path), "--out", str(tmp_path / "cal"), "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert "inflow.per_year" in result.output and "90% band" in result.output
    for name in ("posterior.csv", "fitted.md", "observations.png", "series.png", "marginals.png", "pairs.png"):
        assert (tmp_path / "cal" / name).is_file(), name
    result = runner.invoke(app, ["calibrate", str(path), "--out", str(tmp_path / "cal"), "--workers", "1", "--resume",
                                 "--no-plots"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["validate", str(path), "--cutoff", "2016-12-31", "--out", str(tmp_path / "val"),
                                 "--workers", "1", "--no-plots"])
    assert result.exit_code == 0, result.output
    assert "coverage of the 90% band" in result.output


def test_sample_posterior_and_overrides_round_trip(recovery, tmp_path):
    path = recovery.out / "posterior.csv"
    draws = cal.sample_posterior(path, 50, seed=1)
    assert draws == cal.sample_posterior(path, 50, seed=1)
    assert set(draws[0]) == set(TRUTH)
    frame = recovery.posterior
    assert all(any(np.isclose(frame["inflow.per_year"], d["inflow.per_year"])) for d in draws)
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    row = {"inflow.per_year": 31.25, "waitlist.withdrawal_per_year": 1e-05}
    sc = scenario_mod.load(tmp_path / "tiny.yaml", cal.posterior_overrides(row))
    assert sc.inflow.per_year == 31.25 and sc.waitlist.withdrawal_per_year == 1e-05
    with pytest.raises(cal.CalibrationError, match="not found"):
        cal.sample_posterior(tmp_path / "none.csv", 3, 1)


def test_run_posterior_splits_parameter_and_stochastic_variance(recovery, tmp_path):
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    result = CliRunner().invoke(app, ["run", str(tmp_path / "tiny.yaml"), "--posterior",
                                      str(recovery.out / "posterior.csv"), "-n", "8", "-k", "2", "--workers", "2",
                                      "--out", str(tmp_path / "run"), "--no-plots"])
    assert result.exit_code == 0, result.output
    split = pd.read_csv(tmp_path / "run" / "variance.csv")
    assert {"parameter_var", "stochastic_var", "parameter_share"} <= set(split.columns)
    assert len(pd.read_csv(tmp_path / "run" / "series.csv")["replication"].unique()) == 8


def test_variance_split_follows_the_law_of_total_variance():
    sc = scenario_mod.from_mapping(TINY)
    rng = np.random.default_rng(0)
    draws, per_draw, years = 400, 5, len(Calendar(sc.start, sc.end).years)
    yearly = np.zeros((draws * per_draw, len(YEARLY), years))
    means = rng.normal(100, 3.0, draws)  # parameter sd 3
    yearly[:, YEARLY_ROW["waitlist"], :] = (np.repeat(means, per_draw)[:, None]
                                              + rng.normal(0, 4.0, (draws * per_draw, years)))  # stochastic sd 4
    results = Results(sc, 1, np.zeros((draws * per_draw, len(MONTHLY), 2)), yearly)
    split = variance_split(results, per_draw, ["waitlist"])
    assert split["parameter_var"].mean() == pytest.approx(9.0, rel=0.2)
    assert split["stochastic_var"].mean() == pytest.approx(16.0, rel=0.1)
    assert split["parameter_share"].mean() == pytest.approx(9 / 25, abs=0.06)


def test_morris_separates_influential_from_inert_parameters(tmp_path, observations):
    path = write_setup(tmp_path, {"population": 8, "generations": 1, "replications": 1}, observations,
                       priors={**PRIORS, "profiles.regular.stay.mean": {"low": 2.9, "high": 3.1}})
    frame = sens.morris(cal.load_config(path), year=2017, trajectories=6, replications=2, workers=1)
    waitlist = frame[frame["output"] == "waitlist"].set_index("parameter")
    assert waitlist.loc["profiles.regular.stay.mean", "rank"] == 3  # a range of 0.1 year barely matters
    assert waitlist.loc["inflow.per_year", "mu"] > 0 > waitlist.loc["waitlist.withdrawal_per_year", "mu"]
    report.write_morris(frame, tmp_path / "sa")
    assert (tmp_path / "sa" / "morris.png").is_file()
    with pytest.raises(cal.CalibrationError, match="does not reach"):
        sens.morris(cal.load_config(path), year=2030, trajectories=2, workers=1)
    result = CliRunner().invoke(app, ["sensitivity", str(path), "--year", "2017", "-r", "2", "-n", "1",
                                      "--workers", "1", "--out", str(tmp_path / "cli"), "--no-plots"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "cli" / "morris.csv").is_file()


# ---------------------------------------------------------------- executors and the results folder


def test_the_same_seed_gives_the_same_calibration_on_dask_and_on_1_or_2_local_workers(tmp_path, observations):
    distributed = pytest.importorskip("distributed")
    from sim.experiment.executors import open_executor

    path = write_setup(tmp_path, {"population": 8, "generations": 1, "replications": 1}, observations, draws=4)
    config = cal.load_config(path)
    one = report.calibrate(config, tmp_path / "one", workers=1, plots=False)
    two = report.calibrate(config, tmp_path / "two", workers=2, plots=False)
    morris = sens.morris(config, year=2017, trajectories=2, replications=1, workers=1)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        def sets_done() -> int:  # parameter sets the Dask cluster has simulated so far
            prefix = cluster.scheduler.task_prefixes.get("simulate_set")
            return 0 if prefix is None else prefix.state_counts["memory"]

        with open_executor("dask", scheduler=cluster.scheduler_address) as dask:
            on_dask = report.calibrate(config, tmp_path / "dask", plots=False, executor=dask)
            assert sets_done() == 8 + 4 + 4  # the population, then the prior and posterior predictive draws
            pd.testing.assert_frame_equal(sens.morris(config, year=2017, trajectories=2, replications=1,
                                                      executor=dask), morris)
            assert sets_done() == 16 + 2 * 3  # 2 trajectories of 3 points (2 parameters + 1)
        before = sets_done()
        result = CliRunner().invoke(app, ["calibrate", str(path), "--out", str(tmp_path / "cli"), "--no-plots",
                                          "--executor", "dask", "--scheduler", cluster.scheduler_address])
        assert result.exit_code == 0, result.output
        assert sets_done() - before == 16  # the command ran its sets on the cluster too
    for other in (two, on_dask):
        pd.testing.assert_frame_equal(other.posterior, one.posterior)
        pd.testing.assert_frame_equal(other.predictive, one.predictive)
    assert (tmp_path / "cli" / "posterior.csv").read_bytes() == (tmp_path / "one" / "posterior.csv").read_bytes()


def test_a_failed_write_leaves_the_earlier_calibration_whole(tmp_path, observations, monkeypatch):
    """All or nothing: new results never mix with old ones; subfolders (checkpoints, results nested
    inside, such as validation-<cutoff>/) are carried into the new folder."""
    method = {"population": 8, "generations": 1, "replications": 1}
    first = write_setup(tmp_path / "first", method, observations, draws=2)
    out = tmp_path / "out"
    report.calibrate(cal.load_config(first), out, workers=1, plots=False)
    (out / "observations.png").write_bytes(b"a figure of the earlier run")
    (out / "validation-2016-12-31").mkdir()
    (out / "validation-2016-12-31" / "holdout.csv").write_text("a result nested inside\n")
    earlier = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert {"posterior.csv", "fitted.csv", "predictive.csv", "manifest.json"} <= set(earlier)
    second = cal.load_config(write_setup(tmp_path / "second", {**method, "seed": 6}, observations, draws=2))

    def disk_full(*args, **kwargs):
        raise OSError("disk full")

    with monkeypatch.context() as m:  # posterior.csv and fitted.csv are written by then
        m.setattr("sim.report.calibration_report.generations_frame", disk_full)
        with pytest.raises(OutputError, match="cannot write"):  # an OSError while writing is one clear error
            report.calibrate(second, out, workers=1, plots=False)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == earlier
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first", "out", "second"]  # no temporary folder left
    result = report.calibrate(second, out, workers=1, plots=False)
    assert (out / "posterior.csv").read_bytes() != earlier["posterior.csv"]
    assert not (out / "observations.png").exists()  # a file of the earlier run is not left beside the new ones
    assert (out / "validation-2016-12-31" / "holdout.csv").read_text() == "a result nested inside\n"
    assert (out / cal.CHECKPOINTS / "gen_000.npz").is_file()
    assert len(cal.load_checkpoints(out / cal.CHECKPOINTS, cal.digest(second))) == len(result.history)


def test_a_bad_out_is_refused_before_any_work(tmp_path, observations):
    from sim.report.output import OutputError

    path = write_setup(tmp_path / "setup", {"population": 8, "generations": 1, "replications": 1}, observations)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("the user's own file\n")
    events = []
    with pytest.raises(OutputError, match="not a bwsim result"):
        report.calibrate(cal.load_config(path), mine, workers=1, progress=events.append, plots=False)
    with pytest.raises(OutputError, match="not a bwsim result"):
        report.validate(cal.load_config(path, dt.date(2016, 12, 31)), mine, workers=1, progress=events.append)
    with pytest.raises(OutputError, match="is a file"):
        report.write_morris(pd.DataFrame({"output": []}), mine / "notes.txt")
    assert events == [] and [p.name for p in mine.iterdir()] == ["notes.txt"]
    runner = CliRunner()
    for command in (["calibrate", str(path)], ["validate", str(path), "--cutoff", "2016-12-31"],
                    ["sensitivity", str(path), "-r", "2", "-n", "1"]):
        for out, message in ((mine, "not a bwsim result"), (mine / "notes.txt", "is a file")):
            result = runner.invoke(app, command + ["--out", str(out), "--workers", "1"])
            assert result.exit_code == 2, (command, result.output)
            assert message in result.output and result.output.strip().count("\n") == 0, (command, result.output)
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]


# ---------------------------------------------------------------- rolling validation


def test_crps_is_the_absolute_error_of_a_point_and_matches_the_normal_formula():
    """CRPS of N(0, 1) at y is z(2Φ(z) - 1) + 2φ(z) - 1/√π (Gneiting & Raftery 2007); 200,000 draws
    estimate it to about 0.003 (a tolerance of 0.01 is over 3 sd)."""
    from scipy import stats

    from sim.analysis.calibrate.rolling import crps

    assert crps(np.full(10, 3.0), 5.0) == pytest.approx(2.0)
    x = np.random.default_rng(4).standard_normal(200_000)
    for y in (0.0, 0.7, -2.0):
        exact = y * (2 * stats.norm.cdf(y) - 1) + 2 * stats.norm.pdf(y) - 1 / np.sqrt(np.pi)
        assert crps(x, y) == pytest.approx(exact, abs=0.01)
    assert np.isnan(crps(np.array([np.nan]), 1.0))


def test_rolling_cutoffs_and_scores_use_only_what_comes_after_each_cutoff():
    import datetime as dt

    from sim.analysis.calibrate.rolling import default_cutoffs, score_cutoff, summary

    config = cal.load_config(Path(__file__).resolve().parents[1] / "calibration/haarlem/calibrate.yaml")
    cutoffs = default_cutoffs(config.observations)
    assert cutoffs == [dt.date(2015, 12, 31), dt.date(2016, 12, 31), dt.date(2017, 3, 31), dt.date(2017, 6, 30)]
    held = cal.load_config(Path(__file__).resolve().parents[1] / "calibration/haarlem/calibrate.yaml", dt.date(2016, 12, 31))
    n_obs = len(held.observations)
    draws = np.tile([o.value for o in held.observations], (50, 1)) + np.linspace(-1, 1, 50)[:, None]
    scores = score_cutoff(held, draws)
    assert len(scores) and (scores["cutoff"] == "2016-12-31").all()
    assert set(scores["observation"]) <= {o.name for o in held.observations if o.use == "holdout"}
    assert scores["months_ahead"].between(0, 12.5).all() and set(scores["horizon"]) <= {6, 12}
    assert scores["in_50"].all() and scores["in_90"].all()  # every observed value is the median of its draws
    table = summary(scores)
    assert list(table["horizon_months"]) == [6, 12] and table["forecasts"].iloc[1] == len(scores)
    assert draws.shape[1] == n_obs


def test_comparison_draws_refuse_a_column_the_scenarios_differ_on():
    """Drawn alike in every scenario, a fitted key the scenarios differ on would erase the difference
    compared: refused naming the key (the command line and the web app phrase it each their own way)."""
    root = Path(__file__).resolve().parents[1]
    posterior = root / "calibration" / "haarlem" / "results" / "posterior.csv"
    base = scenario_mod.load(root / "scenarios" / "haarlem" / "baseline.yaml")
    other = scenario_mod.load(root / "scenarios" / "haarlem" / "baseline.yaml", ["inflow.per_year=90"])
    same = scenario_mod.load(root / "scenarios" / "haarlem" / "more-contingent.yaml")
    draws = cal.comparison_draws(posterior, 4, 1, [base, same], ["base", "same"])
    assert len(draws) == 4 and "inflow.per_year" in draws[0]
    with pytest.raises(cal.ErasedDifference) as caught:
        cal.comparison_draws(posterior, 4, 1, [base, other], ["base", "other"])
    assert caught.value.key == "inflow.per_year" and isinstance(caught.value, cal.CalibrationError)
