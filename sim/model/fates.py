"""Everything random about a client, drawn so that a client's fate depends only on who it is.

A client is named by a *family* (``""`` for new arrivals, ``"resident."`` and
``"waiter."`` for the stock on the start date, ``"conversion.<date>."`` for
converted residents, ``"relapse." + family`` for a relapse) and an *index* within
it (the n-th arrival, the n-th resident). Its draws come from fixed-size blocks:
attribute ``a`` of client ``i`` of family ``f`` is element ``i % BLOCK`` of a draw
of ``BLOCK`` values from stream ``(f + a, i // BLOCK)``. So the n-th arrival gets
the same municipality, provider, stay, … whatever the number of other clients
and in every scenario run with the same seed (common random numbers), and each
attribute keeps its own stream, so changing one law (a longer stay) leaves every
other draw (the destination, the housing route) as it was.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .calendar import Calendar
from ..config.distributions import length_biased_sample
from .rng import Streams
from ..config.scenario import Scenario

#: Clients per block of draws; a fixed number, so no client's draws depend on how many there are.
BLOCK = 256


@dataclass
class Fate:
    """One client's draws (durations in days)."""

    profile: int
    municipality: int
    provider: int
    stay: float  # the whole stay in a place, by its own profile's law
    early: float  # days from placement to an early exit (inf when the rate is 0)
    withdraw_clock: float  # a unit-exponential withdrawal clock
    destination: int
    contingent: bool  # needs a contingentwoning (if it leaves to a home)
    other_route: float  # days to a home by another route
    ambulant: float  # days of ambulant support
    relapses: bool
    relapse_delay: float
    thuis_offer: float  # uniform: offered beschermd thuis if below the share
    thuis_home: float  # uniform: has a home for it if below home_probability
    thuis_duration: float  # days of beschermd thuis
    stock_eligible: bool  # may use the housing stock (if it leaves to a home)
    stock_tenancy: float  # days in a unit of the housing stock
    stock_relapses: bool  # comes back into the inflow when it leaves the unit


_FIELDS = tuple(Fate.__dataclass_fields__)


def choose(rng: np.random.Generator, shares: list[float], n: int) -> np.ndarray:
    """Index of a category per client, by inverse CDF on one uniform each."""
    cdf = np.cumsum(shares)
    cdf[-1] = 1.0
    return np.searchsorted(cdf, rng.random(n), side="right").clip(max=len(shares) - 1)


def _draw_block(sc: Scenario, streams: Streams, family: str, block: int) -> dict[str, np.ndarray]:
    """The draws of one block of BLOCK clients of a family, one stream per attribute."""
    n = BLOCK

    def rng(name: str) -> np.random.Generator:
        return streams.block(family + name, block)

    profiles = list(sc.profiles.values())
    profile = choose(rng("profile"), [p.share for p in profiles], n)
    stay_rng = rng("stay")
    by_profile = np.stack([p.stay.sample(stay_rng, n) for p in profiles])
    early_rate = Calendar.per_day(sc.uitstroom.early_exit_per_year)
    unit = rng("early_exit").exponential(1.0, n)
    d = sc.uitstroom.destinations
    housing = sc.uitstroom.housing
    thuis = rng("beschermd_thuis")
    stock = housing.stock
    return {
        "profile": profile,
        "municipality": choose(rng("municipality"), list(sc.inflow.municipalities.values()), n),
        "provider": choose(rng("provider"), [p.inflow_share for p in sc.providers.values()], n),
        "stay": by_profile[profile, np.arange(n)],
        "early": unit / early_rate if early_rate > 0 else np.full(n, np.inf),
        "withdraw_clock": rng("withdrawal").exponential(1.0, n),
        "destination": choose(rng("destination"), [d.independent, d.intramural, d.died_or_moved], n),
        "contingent": rng("housing_route").random(n) < housing.contingent_share,
        "other_route": housing.other_route_delay.sample(rng("other_route"), n) * housing.other_route_factor,
        "ambulant": sc.ambulant.duration.sample(rng("ambulant"), n),
        "relapses": rng("relapse").random(n) < sc.relapse.probability,
        "relapse_delay": sc.relapse.delay.sample(rng("relapse_delay"), n),
        "thuis_offer": thuis.random(n),
        "thuis_home": thuis.random(n),
        "thuis_duration": sc.beschermd_thuis.duration.sample(rng("beschermd_thuis_duration"), n),
        # the housing stock's draws, from streams of their own: drawn only when there is a stock
        "stock_eligible": rng("stock").random(n) < stock.share if stock else np.zeros(n, bool),
        "stock_tenancy": stock.tenancy.sample(rng("stock_tenancy"), n) if stock else np.zeros(n),
        "stock_relapses": rng("stock_relapse").random(n) < stock.relapse if stock else np.zeros(n, bool),
    }


class FateBook:
    """Hands out each client's fate by (family, index), drawing blocks as they are needed.

    A client asks for its fate once, so a row is dropped once handed out: the book does not
    keep a copy of every client's fate for the whole run. Asking again draws the block again
    (the same values)."""

    def __init__(self, scenario: Scenario, streams: Streams):
        self.sc = scenario
        self.streams = streams
        self._blocks: dict[tuple[str, int], list[tuple | None]] = {}

    def fate(self, family: str, index: int) -> Fate:
        block, k = divmod(index, BLOCK)
        rows = self._blocks.get((family, block))
        if rows is None or rows[k] is None:  # one block as rows of plain Python values, in Fate's field order
            draws = _draw_block(self.sc, self.streams, family, block)
            rows = self._blocks[(family, block)] = list(zip(*(draws[f].tolist() for f in _FIELDS)))
        row, rows[k] = rows[k], None
        return Fate(*row)


def blockwise(streams: Streams, name: str, n: int, draw) -> np.ndarray:
    """``n`` values of one stream drawn in fixed blocks: value i never depends on n.
    ``draw(rng, size)`` draws ``size`` values from ``rng``."""
    blocks = [draw(streams.block(name, b), BLOCK) for b in range(math.ceil(n / BLOCK))]
    return np.concatenate(blocks)[:n] if blocks else np.empty(0)


def equilibrium_residents(sc: Scenario, streams: Streams, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(profile, remaining stay in days, days to an early exit) of ``n`` residents found in
    a stationary system on the start date.

    A resident's time in a place ends at min(S, E): its stay S or an early exit E
    (exponential, rate r). In a stationary M/G/∞ system the time already spent A
    has density ∝ P(S > a)·e^{-ra}, the profile k is found with probability
    ∝ share_k·E[min(S_k, E)], and given A = a the stay is S conditioned on S > a
    while E starts afresh (memoryless). Drawn exactly: a profile ∝ share_k·E[S_k],
    a length-biased stay S* with A = U·S* (which has density ∝ P(S > a) and
    S* | A = a distributed as S | S > a), kept with probability e^{-rA}.
    """
    profiles = list(sc.profiles.values())
    rate = Calendar.per_day(sc.uitstroom.early_exit_per_year)
    weights = np.array([p.share * p.stay.mean_days() for p in profiles])
    if weights.sum() <= 0:
        weights = np.array([p.share for p in profiles])
    weights = (weights / weights.sum()).tolist()
    profile_of, remaining_of = [], []
    for b in range(math.ceil(n / BLOCK)):
        rng = streams.block("resident.equilibrium", b)
        kept_profile, kept_remaining = [], []
        while len(kept_profile) < BLOCK:
            k = choose(rng, weights, BLOCK)
            total = np.empty(BLOCK)
            for j, p in enumerate(profiles):
                members = k == j
                total[members] = length_biased_sample(p.stay, rng, int(members.sum()))
            elapsed = rng.random(BLOCK) * total
            keep = rng.random(BLOCK) < np.exp(-rate * elapsed)
            kept_profile.extend(k[keep].tolist())
            kept_remaining.extend((total - elapsed)[keep].tolist())
        profile_of.extend(kept_profile[:BLOCK])
        remaining_of.extend(kept_remaining[:BLOCK])
    early = blockwise(streams, "resident.equilibrium_early", n,
                      lambda g, size: g.exponential(1.0, size) / rate if rate > 0 else np.full(size, np.inf))
    return np.asarray(profile_of[:n], int), np.asarray(remaining_of[:n], float), early
