"""The SimPy world of one region: the client journey and the processes around it.

Read :meth:`World.journey` first: it is the pathway, top to bottom —
arrive → waitlist (maybe bridging) → placement → stay → ready to leave →
home → exit → ambulant support → maybe relapse. Everything random about a client
(its stay, its withdrawal clock, where it goes) is drawn when it arrives, from
named streams in arrival order, so that two scenarios run with the same seed
give the same client the same fate (common random numbers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import simpy

from ..calendar import Calendar
from ..distributions import residual_after_elapsed
from ..monitor import F, JOURNEY_PLACED, JOURNEY_WITHDRAWN, L, Monitor
from ..rng import Streams
from ..scenario import Scenario, value_in_year
from .pools import Contingent, Provider, SlotPool, Waitlist

PLACED, WITHDRAWN = "placed", "withdrawn"
INDEPENDENT, INTRAMURAL, DIED_OR_MOVED = 0, 1, 2
_EXIT_STATE = {INTRAMURAL: L["exit_intramural"], DIED_OR_MOVED: L["exit_died_or_moved"]}
_EXIT_FLOW = {INTRAMURAL: F["exits_intramural"], DIED_OR_MOVED: F["exits_died_or_moved"]}


class Client:
    __slots__ = (
        "id", "profile", "priority", "municipality", "provider", "joined", "state",
        "waitlist", "placed", "place", "bridged", "was_bridged", "bridge_queued",
        "w_unit", "w_rate", "w_since", "w_version",
        "stay", "early", "destination", "contingent", "other_route", "ambulant",
        "relapses", "relapse_delay",
    )


@dataclass
class Fates:
    """Everything drawn for a batch of clients, one entry per client."""

    profile: np.ndarray
    municipality: np.ndarray
    provider: np.ndarray
    stay: np.ndarray  # days, by client (its own profile's stay law)
    early: np.ndarray  # days until an early exit (inf when the rate is 0)
    withdraw_unit: np.ndarray  # unit-exponential withdrawal clock
    destination: np.ndarray
    contingent: np.ndarray  # needs a contingentwoning (if independent)
    other_route: np.ndarray  # days to a home by another route
    ambulant: np.ndarray  # days of ambulant support
    relapses: np.ndarray
    relapse_delay: np.ndarray

    @classmethod
    def draw(cls, sc: Scenario, streams: Streams, prefix: str, n: int) -> "Fates":
        def rng(name):
            return streams[prefix + name]

        attributes = rng("attributes")
        profiles = list(sc.profiles.values())
        profile = _choose(attributes, [p.share for p in profiles], n)
        municipality = _choose(attributes, list(sc.inflow.municipalities.values()), n)
        provider = _choose(attributes, [p.inflow_share for p in sc.providers.values()], n)
        stay_rng = rng("stay")
        by_profile = np.stack([p.stay.sample(stay_rng, n) for p in profiles]) if n else np.empty((len(profiles), 0))
        stay = by_profile[profile, np.arange(n)]
        early_rate = Calendar.per_day(sc.uitstroom.early_exit_per_year)
        unit = rng("early_exit").exponential(1.0, n)
        early = unit / early_rate if early_rate > 0 else np.full(n, np.inf)
        d = sc.uitstroom.destinations
        destination = _choose(rng("destination"), [d.independent, d.intramural, d.died_or_moved], n)
        housing = sc.uitstroom.housing
        contingent = rng("housing_route").random(n) < housing.contingent_share
        return cls(
            profile=profile,
            municipality=municipality,
            provider=provider,
            stay=stay,
            early=early,
            withdraw_unit=rng("withdrawal").exponential(1.0, n),
            destination=destination,
            contingent=contingent,
            other_route=housing.other_route_delay.sample(rng("other_route"), n),
            ambulant=sc.ambulant.duration.sample(rng("ambulant"), n),
            relapses=rng("relapse").random(n) < sc.relapse.probability,
            relapse_delay=sc.relapse.delay.sample(rng("relapse_delay"), n),
        )


def _choose(rng: np.random.Generator, shares: list[float], n: int) -> np.ndarray:
    """Index of a category per client, by inverse CDF on one uniform each."""
    cdf = np.cumsum(shares)
    cdf[-1] = 1.0
    return np.searchsorted(cdf, rng.random(n), side="right").clip(max=len(shares) - 1)


def _largest_remainder(total: int, weights: list[float]) -> list[int]:
    w = np.asarray(weights, float)
    if total == 0 or w.sum() == 0:
        return [0] * len(weights)
    exact = total * w / w.sum()
    out = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - out), kind="stable")[: total - out.sum()]:
        out[i] += 1
    return out.tolist()


class World:
    def __init__(self, scenario: Scenario, seed: int, replication: int, log_events: bool = False):
        self.sc = sc = scenario
        self.env = simpy.Environment()
        self.calendar = Calendar(sc.start, sc.end)
        self.streams = Streams(seed, replication)
        self.monitor = Monitor(self.calendar, self.env, log_events)
        self._next_id = 0
        self._profiles = list(sc.profiles.values())
        self._withdrawal_rate = Calendar.per_day(sc.waitlist.withdrawal_per_year)

        max_len = sc.waitlist.max_length
        central = Waitlist("central", max_len) if sc.waitlist.policy == "central" else None
        self.providers: list[Provider] = [
            Provider(name, p.places, central or Waitlist(name, max_len), p.bridging)
            for name, p in sc.providers.items()
        ]
        self.waitlists = [central] if central else [p.waitlist for p in self.providers]
        self.bridging = SlotPool(sc.bridging.places)
        self.ambulant = SlotPool(sc.ambulant.places)
        self.contingent = Contingent(self.env, sc.uitstroom.housing.contingent.carry_over)
        self.monitor.change(L["places"], sum(p.capacity for p in self.providers))

    # ------------------------------------------------------------ the journey

    def journey(self, c: Client):
        """One client's pathway through beschermd wonen."""
        if not self.join_waitlist(c):
            return
        outcome = yield c.placed
        if outcome is WITHDRAWN:
            return
        stay = c.stay * (self.sc.bridging.stay_factor if c.was_bridged else 1.0)
        yield from self.stay_and_leave(c, stay, c.early)

    def stay_and_leave(self, c: Client, stay: float, early: float):
        """In a place: the stay ends, or the client leaves early."""
        if early < stay:
            yield self.env.timeout(early)
            self.leave_place(c, L["exit_early"], F["exits_early"])
            return
        yield self.env.timeout(stay)
        if c.destination != INDEPENDENT:
            self.leave_place(c, _EXIT_STATE[c.destination], _EXIT_FLOW[c.destination])
            return
        self.monitor.move(c, L["ready_to_leave"])
        self.monitor.count(F["became_ready_to_leave"])
        yield from self.wait_for_home(c)

    def wait_for_home(self, c: Client):
        """Ready to leave: the client keeps the place until a home comes."""
        if c.contingent:
            yield self.contingent.request(c)
            self.monitor.count(F["contingent_housed"])
        else:
            yield self.env.timeout(c.other_route)
        self.leave_place(c, L["ambulant_waiting"], F["exits_independent"])
        yield from self.after_care(c)

    def after_care(self, c: Client):
        """At home: ambulant support (possibly after a wait), then maybe a relapse."""
        started = self.env.event()

        def start(client):
            self.monitor.move(client, L["ambulant"])
            started.succeed()
            return True

        self.ambulant.request(c, start)
        yield started
        yield self.env.timeout(c.ambulant)
        self.ambulant.release()
        self.monitor.move(c, L["at_home"])
        if c.relapses:
            yield self.env.timeout(c.relapse_delay)
            self.monitor.move(c, L["relapsed"])
            self.monitor.count(F["relapses"])
            self.arrive(self._reentry(c))

    # ------------------------------------------------------------ waitlist

    def join_waitlist(self, c: Client) -> bool:
        wl = self.waitlists[0] if len(self.waitlists) == 1 else self.providers[c.provider].waitlist
        if wl.full():
            self.monitor.enter(c, L["turned_away"])
            self.monitor.count(F["turned_away"])
            return False
        c.waitlist = wl
        c.placed = self.env.event()
        self.monitor.enter(c, L["waiting"])
        wl.push(c)
        c.w_rate = self._withdrawal_rate
        c.w_since = self.env.now
        self._schedule_withdrawal(c)
        if self.providers[c.provider].bridging:
            self.monitor.change(L["bridging_waiting"], +1)
            c.bridge_queued = True
            self.bridging.request(c, self._start_bridging)
        for provider in wl.providers:
            self.fill(provider)
        return True

    def _schedule_withdrawal(self, c: Client) -> None:
        c.w_version += 1
        if c.w_rate <= 0:
            return
        version = c.w_version
        event = self.env.timeout(c.w_unit / c.w_rate)
        event.callbacks.append(lambda _e: self._withdraw(c, version))

    def _withdraw(self, c: Client, version: int) -> None:
        if c.state != L["waiting"] or version != c.w_version:
            return
        c.waitlist.discard(c)
        self._end_waiting(c)
        self.monitor.left_waitlist(c, JOURNEY_WITHDRAWN)
        self.monitor.move(c, L["withdrawn"])
        self.monitor.count(F["withdrawals"])
        c.placed.succeed(WITHDRAWN)

    def _start_bridging(self, c: Client) -> bool:
        """Overbruggingszorg starts: the withdrawal clock slows down."""
        if c.state != L["waiting"]:
            return False
        c.bridge_queued = False
        c.bridged = c.was_bridged = True
        self.monitor.change(L["bridging_waiting"], -1)
        self.monitor.change(L["bridged"], +1)
        self.monitor.count(F["bridging_starts"])
        now = self.env.now
        c.w_unit -= c.w_rate * (now - c.w_since)
        c.w_since = now
        c.w_rate *= self.sc.bridging.withdrawal_factor
        self._schedule_withdrawal(c)
        return True

    def _end_waiting(self, c: Client) -> None:
        """Leaving the list ends bridging (or the wait for it)."""
        if c.bridged:
            c.bridged = False
            self.monitor.change(L["bridged"], -1)
            self.bridging.release()
        elif c.bridge_queued:
            c.bridge_queued = False
            self.monitor.change(L["bridging_waiting"], -1)

    # ------------------------------------------------------------ places

    def fill(self, provider: Provider) -> None:
        """Give free places to the head of the provider's list."""
        while provider.occupied < provider.capacity:
            c = provider.waitlist.pop()
            if c is None:
                return
            provider.occupied += 1
            c.place = provider
            self._end_waiting(c)
            self.monitor.left_waitlist(c, JOURNEY_PLACED)
            self.monitor.move(c, L["in_care"])
            self.monitor.count(F["admissions"])
            c.placed.succeed(PLACED)

    def leave_place(self, c: Client, state: int, flow: int) -> None:
        provider = c.place
        provider.occupied -= 1
        self.monitor.move(c, state)
        self.monitor.count(flow)
        self.fill(provider)

    def set_places(self, provider: Provider, places: int) -> None:
        self.monitor.change(L["places"], places - provider.capacity)
        provider.capacity = places
        self.fill(provider)

    # ------------------------------------------------------------ clients

    def _new_client(self, fates: Fates, i: int, joined: float) -> Client:
        c = Client()
        c.id = self._next_id
        self._next_id += 1
        c.profile = int(fates.profile[i])
        c.priority = self._profiles[c.profile].priority
        c.municipality = int(fates.municipality[i])
        c.provider = int(fates.provider[i])
        c.joined = joined
        c.state = -1
        c.bridged = c.was_bridged = c.bridge_queued = False
        c.w_unit = float(fates.withdraw_unit[i])
        c.w_rate = 0.0
        c.w_since = 0.0
        c.w_version = 0
        c.stay = float(fates.stay[i])
        c.early = float(fates.early[i])
        c.destination = int(fates.destination[i])
        c.contingent = bool(fates.contingent[i])
        c.other_route = float(fates.other_route[i])
        c.ambulant = float(fates.ambulant[i])
        c.relapses = bool(fates.relapses[i])
        c.relapse_delay = float(fates.relapse_delay[i])
        return c

    def arrive(self, c: Client) -> None:
        self.monitor.count(F["arrivals"])
        self.env.process(self.journey(c))

    def _reentry(self, old: Client) -> Client:
        fates = Fates.draw(self.sc, self.streams, "reentry.", 1)
        c = self._new_client(fates, 0, self.env.now)
        c.municipality = old.municipality
        return c

    def arrival_times(self) -> np.ndarray:
        """Non-homogeneous Poisson arrivals: a rate per calendar year, piecewise constant."""
        rng = self.streams["arrival_times"]
        sc, cal = self.sc, self.calendar
        times = []
        for k, year in enumerate(cal.years):
            lo = max(0.0, cal.year_start_day(year))
            hi = min(cal.horizon, cal.year_start_day(year + 1))
            rate = value_in_year(sc.inflow.per_year, year)
            if not isinstance(sc.inflow.per_year, dict):
                rate *= (1.0 + sc.inflow.growth_per_year) ** k
            n = rng.poisson(Calendar.per_day(rate) * (hi - lo))
            times.append(np.sort(rng.uniform(lo, hi, n)))
        return np.concatenate(times) if times else np.empty(0)

    def arrivals(self, times: np.ndarray):
        fates = Fates.draw(self.sc, self.streams, "", len(times))
        env = self.env
        for i, t in enumerate(times.tolist()):
            yield env.timeout(t - env.now)
            self.arrive(self._new_client(fates, i, t))

    # ------------------------------------------------------------ the start

    def initial_state(self) -> None:
        """The observed stock on the start date: residents (some ready to leave) and a waitlist."""
        sc, env, mon = self.sc, self.env, self.monitor
        init = sc.initial
        n_res = sc.initial_residents
        fates = Fates.draw(sc, self.streams, "initial.", n_res + init.waiting)
        rng = self.streams["initial.elapsed"]
        per_provider = _largest_remainder(n_res, [p.capacity for p in self.providers])
        residents = [self._new_client(fates, i, 0.0) for i in range(n_res)]
        ready = set(rng.choice(n_res, size=init.ready_to_leave, replace=False).tolist()) if n_res else set()
        remaining = np.empty(n_res)
        for k, profile in enumerate(self._profiles):
            members = [i for i, c in enumerate(residents) if c.profile == k]
            _, remaining[members] = residual_after_elapsed(profile.stay, rng, len(members))
        k = 0
        for provider, count in zip(self.providers, per_provider):
            for _ in range(count):
                c = residents[k]
                c.place = provider
                provider.occupied += 1
                if k in ready:
                    c.destination, c.contingent = INDEPENDENT, True
                    mon.enter(c, L["ready_to_leave"])
                    env.process(self.wait_for_home(c))
                else:
                    mon.enter(c, L["in_care"])
                    env.process(self.stay_and_leave(c, float(remaining[k]), c.early))
                k += 1
        waited = init.waited.sample(rng, init.waiting)
        order = np.argsort(-waited, kind="stable")  # longest waiting joins first
        for j in order.tolist():
            self.join_waitlist(self._new_client(fates, n_res + j, -float(waited[j])))

    # ------------------------------------------------------------ schedules

    def capacity_schedule(self, provider: Provider, changes):
        for change in changes:
            yield self.env.timeout(self.calendar.day(change.date) - self.env.now)
            self.set_places(provider, change.places)

    def contingent_releases(self):
        """Contingentwoningen for BW, released on the first of every month."""
        spec = self.sc.uitstroom.housing.contingent
        rng = self.streams["contingent"]
        cal, env = self.calendar, self.env
        owed = 0.0
        for day, date in zip(cal.days[:-1].tolist(), cal.dates[:-1]):
            yield env.timeout(day - env.now)
            expected = value_in_year(spec.units_per_year, date.year) * spec.bw_share / 12.0
            if spec.release == "poisson":
                units = int(rng.poisson(expected))
            else:
                owed += expected
                units = math.floor(owed + 1e-9)
                owed -= units
            self.contingent.release(units)

    def snapshots(self):
        cal, env = self.calendar, self.env
        for i, day in enumerate(cal.days[:-1].tolist()):
            yield env.timeout(day - env.now)
            self.monitor.snapshot(i, self.waited_so_far())

    def waited_so_far(self) -> np.ndarray:
        now = self.env.now
        return np.array([now - c.joined for wl in self.waitlists for c in wl.waiting()])

    # ------------------------------------------------------------ run

    def run(self) -> Monitor:
        self.initial_state()
        env = self.env
        env.process(self.snapshots())
        env.process(self.contingent_releases())
        for provider, spec in zip(self.providers, self.sc.providers.values()):
            if spec.schedule:
                env.process(self.capacity_schedule(provider, spec.schedule))
        env.process(self.arrivals(self.arrival_times()))
        env.run(until=self.calendar.horizon)
        self.monitor.snapshot(len(self.calendar.dates) - 1, self.waited_so_far())
        return self.monitor
