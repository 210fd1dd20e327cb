"""Peers: the same M/M/c queue in our engine and in Ciw, customers per second.

Our engine runs the BW model reduced to an M/M/c queue (``common.mmc_scenario``);
Ciw runs its textbook M/M/c network. Both simulate the same arrival rate, servers
and mean stay over the same time; the ratio is our customers per second over Ciw's.
Ciw is needed only here (``pip install ciw``); without it this benchmark is skipped.
A bare SimPy queue is shown alongside for reference.
"""

from __future__ import annotations


from common import Result, best_of, main, measured, mmc_scenario, mmc_simpy

from sim.experiment.replication import run_replication
from sim.record.metrics import YEARLY_ROW

NAME = "peers (our engine / Ciw, customers per s)"
GOAL = ">= 1.0"
SERVERS, ARRIVALS_PER_DAY, MEAN_STAY_DAYS = 50, 20.0, 2.25  # utilisation 0.9


def ciw_mmc(ciw, days: float, seed: int = 1) -> int:
    """Ciw's M/M/c for ``days``; returns the customers that arrived."""
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=ARRIVALS_PER_DAY)],
        service_distributions=[ciw.dists.Exponential(rate=1.0 / MEAN_STAY_DAYS)],
        number_of_servers=[SERVERS],
    )
    ciw.seed(seed)
    sim = ciw.Simulation(network)
    sim.simulate_until_max_time(days)
    in_system = sum(len(node.all_individuals) for node in sim.transitive_nodes)
    return len(sim.get_all_records()) + in_system


def run(quick: bool = False, log=print) -> Result:
    try:
        import ciw
    except ImportError:
        log("  Ciw is not installed (pip install ciw): skipped")
        return Result(NAME, None, GOAL, None, details=["skipped: Ciw is not installed"])
    years, repeat = (1, 2) if quick else (4, 3)
    days = years * 365.0
    sc = mmc_scenario(SERVERS, ARRIVALS_PER_DAY, MEAN_STAY_DAYS, years)
    run_replication(sc, 1, 0)  # warm-up
    ours_s, rep = best_of(lambda: run_replication(sc, 1, 0), repeat)
    ours_n = int(rep.yearly[YEARLY_ROW["arrivals"]].sum())
    ciw_s, ciw_n = best_of(lambda: ciw_mmc(ciw, days), repeat)
    bare_s, bare_n = best_of(lambda: mmc_simpy(int(ARRIVALS_PER_DAY * days * 1.1), SERVERS, ARRIVALS_PER_DAY,
                                               MEAN_STAY_DAYS, until=days), repeat)
    ours, theirs, bare = ours_n / ours_s, ciw_n / ciw_s, bare_n / bare_s
    ratio = ours / theirs
    details = [
        f"M/M/{SERVERS}, {ARRIVALS_PER_DAY:g} arrivals a day, mean stay {MEAN_STAY_DAYS:g} days, {years} year(s):",
        (f"our engine {ours:,.0f} customers/s ({ours_n} customers), Ciw {ciw.__version__} {theirs:,.0f}/s "
         f"({ciw_n}), bare SimPy {bare:,.0f}/s ({bare_n}); ours / bare SimPy {ours / bare:.2f}"),
    ]
    return measured(NAME, ratio, GOAL, details, log)


if __name__ == "__main__":
    main(run, __doc__)
