"""The SimPy world of one region: the client journey and the processes around it.

Read :meth:`World.journey` first: it is the pathway, top to bottom —
arrive → (beschermd thuis?) → waitlist (maybe bridging) → placement → stay →
ready to leave → home → exit → ambulant support → maybe relapse. Everything
random about a client (its stay, its withdrawal clock, where it goes) is drawn
when it arrives, from named streams in arrival order, so that two scenarios run
with the same seed give the same client the same fate (common random numbers).
The policy levers are the scheduled processes at the end (capacity path,
contingent releases, waitlist reviews, conversions).
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
from .capacity import divide_places
from .pools import Contingent, Provider, SlotPool, Waitlist

PLACED, WITHDRAWN = "placed", "withdrawn"
INDEPENDENT, INTRAMURAL, DIED_OR_MOVED = 0, 1, 2
_EXIT_STATE = {INTRAMURAL: L["exit_intramural"], DIED_OR_MOVED: L["exit_died_or_moved"]}
_EXIT_FLOW = {INTRAMURAL: F["exits_intramural"], DIED_OR_MOVED: F["exits_died_or_moved"]}


class Client:
    __slots__ = (
        "id", "profile", "priority", "municipality", "group", "provider", "joined", "state",
        "waitlist", "placed", "place", "bridged", "was_bridged", "bridge_queued",
        "w_unit", "w_rate", "w_since", "w_version",
        "stay", "early", "destination", "contingent", "other_route", "ambulant",
        "relapses", "relapse_delay", "thuis_offer", "thuis_home", "thuis_duration",
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
    thuis_offer: np.ndarray  # uniform: offered beschermd thuis if below the share
    thuis_home: np.ndarray  # uniform: has a home for it if below home_probability
    thuis_duration: np.ndarray  # days of beschermd thuis

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
        by_profile = np.stack([p.stay.sample(stay_rng, n) for p in profiles])
        stay = by_profile[profile, np.arange(n)]
        early_rate = Calendar.per_day(sc.uitstroom.early_exit_per_year)
        unit = rng("early_exit").exponential(1.0, n)
        early = unit / early_rate if early_rate > 0 else np.full(n, np.inf)
        d = sc.uitstroom.destinations
        destination = _choose(rng("destination"), [d.independent, d.intramural, d.died_or_moved], n)
        housing = sc.uitstroom.housing
        thuis = rng("beschermd_thuis")
        return cls(
            profile=profile,
            municipality=municipality,
            provider=provider,
            stay=stay,
            early=early,
            withdraw_unit=rng("withdrawal").exponential(1.0, n),
            destination=destination,
            contingent=rng("housing_route").random(n) < housing.contingent_share,
            other_route=housing.other_route_delay.sample(rng("other_route"), n),
            ambulant=sc.ambulant.duration.sample(rng("ambulant"), n),
            relapses=rng("relapse").random(n) < sc.relapse.probability,
            relapse_delay=sc.relapse.delay.sample(rng("relapse_delay"), n),
            thuis_offer=thuis.random(n),
            thuis_home=thuis.random(n),
            thuis_duration=sc.beschermd_thuis.duration.sample(rng("beschermd_thuis_duration"), n),
        )


def _choose(rng: np.random.Generator, shares: list[float], n: int) -> np.ndarray:
    """Index of a category per client, by inverse CDF on one uniform each."""
    cdf = np.cumsum(shares)
    cdf[-1] = 1.0
    return np.searchsorted(cdf, rng.random(n), side="right").clip(max=len(shares) - 1)


class World:
    def __init__(self, scenario: Scenario, seed: int, replication: int, log_events: bool = False):
        self.sc = sc = scenario
        self.env = simpy.Environment()
        self.calendar = Calendar(sc.start, sc.end)
        self.streams = Streams(seed, replication)
        # costs are attributed per municipality and cohort: group m = in care before the cohort
        # date (the two-track verdeelmodel's existing clients), group M + m = everyone else
        self._n_municipalities = len(sc.inflow.municipalities)
        cohort = sc.attribution.cohort_date
        self._cohort_day = self.calendar.day(cohort) if cohort else -math.inf
        self.monitor = Monitor(self.calendar, self.env, 2 * self._n_municipalities, log_events)
        self._next_id = 0
        self._profiles = list(sc.profiles.values())
        self._withdrawal_rate = Calendar.per_day(sc.waitlist.withdrawal_per_year)

        max_len = sc.waitlist.max_length
        central = Waitlist("central", max_len) if sc.waitlist.policy == "central" else None
        own = {name: central or Waitlist(name, max_len) for name, p in sc.providers.items() if not p.waitlist_of}
        self.providers: list[Provider] = [
            Provider(name, p.places, own[p.waitlist_of or name], p.bridging or sc.bridging.for_everyone)
            for name, p in sc.providers.items()
        ]
        self.by_name = {p.name: p for p in self.providers}
        self.waitlists = [central] if central else list(own.values())
        self.outside = Provider("outside contract", 10**9, Waitlist("none"), False)
        self.outside_used: dict[int, int] = {}
        self._outside_profiles = ({list(sc.profiles).index(name) for name in sc.outside_contract.profiles}
                                  if sc.outside_contract.per_year else set())
        self.bridging = SlotPool(sc.bridging.places)
        self.ambulant = SlotPool(sc.ambulant.places)
        self.thuis = SlotPool(sc.beschermd_thuis.places)
        self.contingent = Contingent(self.env, sc.uitstroom.housing.contingent.carry_over)
        self.monitor.change(L["places"], sum(p.capacity for p in self.providers))

    # ------------------------------------------------------------ the journey

    def journey(self, c: Client):
        """One client's pathway through beschermd wonen."""
        if self.offered_beschermd_thuis(c) and self.thuis.try_acquire():
            yield from self.beschermd_thuis(c)
            return
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
        self.monitor.count(F["became_ready_to_leave"], c)
        yield from self.wait_for_home(c)

    def wait_for_home(self, c: Client):
        """Ready to leave: the client keeps the place until a home comes."""
        if c.contingent:
            self.monitor.change(L["contingent_waiting"], +1, c.group)
            yield self.contingent.request(c)
            self.monitor.change(L["contingent_waiting"], -1, c.group)
            self.monitor.count(F["contingent_housed"], c)
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
        yield from self.at_home(c)

    def at_home(self, c: Client):
        self.monitor.move(c, L["at_home"])
        if c.relapses:
            yield self.env.timeout(c.relapse_delay)
            self.monitor.move(c, L["relapsed"])
            self.monitor.count(F["relapses"], c)
            self.arrive(self._reentry(c))

    # ------------------------------------------------------------ beschermd thuis

    def offered_beschermd_thuis(self, c: Client) -> bool:
        spec = self.sc.beschermd_thuis
        if spec.share == 0 or (spec.start and self.env.now < self.calendar.day(spec.start)):
            return False
        return c.thuis_offer < spec.share and c.thuis_home < spec.home_probability

    def beschermd_thuis(self, c: Client):
        """Support at home instead of a place; the slot is already taken."""
        self.monitor.enter(c, L["beschermd_thuis"])
        self.monitor.count(F["beschermd_thuis_starts"], c)
        yield self.env.timeout(c.thuis_duration)
        self.thuis.release()
        yield from self.at_home(c)

    # ------------------------------------------------------------ waitlist

    def waiting_total(self) -> int:
        return sum(wl.size for wl in self.waitlists)

    def join_waitlist(self, c: Client) -> bool:
        wl = self.waitlists[0] if len(self.waitlists) == 1 else self.providers[c.provider].waitlist
        stop = self.sc.waitlist.intake_stop
        if wl.full() or (stop is not None and self.waiting_total() >= stop):
            self.monitor.enter(c, L["turned_away"])
            self.monitor.count(F["turned_away"], c)
            return False
        c.waitlist = wl
        c.placed = self.env.event()
        self.monitor.enter(c, L["waiting"])
        wl.push(c)
        c.w_rate = self._withdrawal_rate
        c.w_since = self.env.now
        self._schedule_withdrawal(c)
        if self.providers[c.provider].bridging:
            self.monitor.change(L["bridging_waiting"], +1, c.group)
            c.bridge_queued = True
            self.bridging.request(c, self._start_bridging)
        for provider in wl.providers:
            self.fill(provider)
        if c.state == L["waiting"] and c.profile in self._outside_profiles:
            self.place_outside_contract(c)
        return True

    def _schedule_withdrawal(self, c: Client) -> None:
        c.w_version += 1
        if c.w_rate <= 0:
            return
        delay = c.w_unit / c.w_rate
        if self.env.now + delay >= self.calendar.horizon:
            return  # after the end of the run: never happens
        version = c.w_version
        event = self.env.timeout(delay)
        event.callbacks.append(lambda _e: self._withdraw(c, version))

    def _withdraw(self, c: Client, version: int) -> None:
        if c.state == L["waiting"] and version == c.w_version:
            self.leave_waitlist(c, L["withdrawn"], F["withdrawals"])

    def leave_waitlist(self, c: Client, state: int, flow: int) -> None:
        """Off the list without a place (withdrawal, review)."""
        c.waitlist.discard(c)
        self._end_waiting(c)
        self.monitor.left_waitlist(c, JOURNEY_WITHDRAWN)
        self.monitor.move(c, state)
        self.monitor.count(flow, c)
        c.placed.succeed(WITHDRAWN)

    def _start_bridging(self, c: Client) -> bool:
        """Overbruggingszorg starts: the withdrawal clock slows down."""
        if c.state != L["waiting"]:
            return False
        c.bridge_queued = False
        c.bridged = c.was_bridged = True
        self.monitor.change(L["bridging_waiting"], -1, c.group)
        self.monitor.change(L["bridged"], +1, c.group)
        self.monitor.count(F["bridging_starts"], c)
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
            self.monitor.change(L["bridged"], -1, c.group)
            self.bridging.release()
        elif c.bridge_queued:
            c.bridge_queued = False
            self.monitor.change(L["bridging_waiting"], -1, c.group)

    # ------------------------------------------------------------ places

    def fill(self, provider: Provider) -> None:
        """Give free places to the head of the provider's list."""
        while provider.occupied < provider.capacity:
            c = provider.waitlist.pop()
            if c is None:
                return
            self.admit(c, provider)

    def admit(self, c: Client, provider: Provider) -> None:
        provider.occupied += 1
        c.place = provider
        self._end_waiting(c)
        self.monitor.left_waitlist(c, JOURNEY_PLACED)
        if self.env.now < self._cohort_day:
            self.monitor.regroup(c, c.municipality)
        self.monitor.move(c, L["in_care"])
        self.monitor.count(F["admissions"], c)
        c.placed.succeed(PLACED)

    def place_outside_contract(self, c: Client) -> None:
        """An urgent client with no contracted place free: buy one outside contract, within the yearly number."""
        year = self.calendar.date(self.env.now).year
        if self.outside_used.get(year, 0) >= self.sc.outside_contract.per_year:
            return
        self.outside_used[year] = self.outside_used.get(year, 0) + 1
        c.waitlist.discard(c)
        self.monitor.change(L["outside_contract"], +1, c.group)
        self.monitor.count(F["outside_contract_placements"], c)
        self.admit(c, self.outside)

    def leave_place(self, c: Client, state: int, flow: int) -> None:
        provider = c.place
        provider.occupied -= 1
        if provider is self.outside:
            self.monitor.change(L["outside_contract"], -1, c.group)
        self.monitor.move(c, state)
        self.monitor.count(flow, c)
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
        c.group = c.municipality + self._n_municipalities  # the "new" cohort until placed (see place_in)
        c.provider = int(fates.provider[i])
        c.joined = joined
        c.state = -1
        c.place = None
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
        c.thuis_offer = float(fates.thuis_offer[i])
        c.thuis_home = float(fates.thuis_home[i])
        c.thuis_duration = float(fates.thuis_duration[i])
        return c

    def arrive(self, c: Client) -> None:
        self.monitor.count(F["arrivals"], c)
        self.env.process(self.journey(c))

    def _reentry(self, old: Client) -> Client:
        fates = Fates.draw(self.sc, self.streams, "reentry.", 1)
        c = self._new_client(fates, 0, self.env.now)
        c.municipality = old.municipality
        c.group = old.municipality + self._n_municipalities
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
        sc, rng = self.sc, self.streams["initial.elapsed"]
        init = sc.initial
        n_res = sc.initial_residents
        fates = Fates.draw(sc, self.streams, "initial.", n_res + init.waiting)
        residents = [self._new_client(fates, i, 0.0) for i in range(n_res)]
        ready = set(rng.choice(n_res, size=init.ready_to_leave, replace=False).tolist()) if n_res else set()
        remaining = np.empty(n_res)
        for k, profile in enumerate(self._profiles):
            members = [i for i, c in enumerate(residents) if c.profile == k]
            _, remaining[members] = residual_after_elapsed(profile.stay, rng, len(members))
        counts = divide_places(n_res, [p.capacity for p in self.providers], "proportional")
        places = [p for p, count in zip(self.providers, counts) for _ in range(count)]
        for k, (c, provider) in enumerate(zip(residents, places)):
            if k in ready:
                c.destination, c.contingent = INDEPENDENT, True
                self.place_resident(c, provider, L["ready_to_leave"])
                self.env.process(self.wait_for_home(c))
            else:
                self.place_resident(c, provider, L["in_care"])
                self.env.process(self.stay_and_leave(c, float(remaining[k]), c.early))
        waited = init.waited.sample(rng, init.waiting)
        order = np.argsort(-waited, kind="stable")  # longest waiting joins first
        for j in order.tolist():
            self.join_waitlist(self._new_client(fates, n_res + j, -float(waited[j])))

    def place_resident(self, c: Client, provider: Provider, state: int) -> None:
        """A resident who is in a place without having come through the list (start, conversion)."""
        provider.occupied += 1
        c.place = provider
        if self.env.now < self._cohort_day:
            c.group = c.municipality
        self.monitor.enter(c, state)

    # ------------------------------------------------------------ schedules and levers

    def capacity_schedule(self, provider: Provider, changes):
        for change in changes:
            yield self.env.timeout(self.calendar.day(change.date) - self.env.now)
            self.set_places(provider, change.places)

    def capacity_path(self):
        """The region's places from each date, divided over the providers by the shrink rule."""
        path = self.sc.capacity_path
        for change in path.changes:
            yield self.env.timeout(self.calendar.day(change.date) - self.env.now)
            counts = divide_places(change.places, [p.capacity for p in self.providers], path.shrink)
            for provider, places in zip(self.providers, counts):
                self.set_places(provider, places)

    def conversions(self):
        """One-off conversions: places and their residents become BW at a date."""
        for conv in sorted(self.sc.conversions, key=lambda c: c.date):
            yield self.env.timeout(self.calendar.day(conv.date) - self.env.now)
            provider = self.by_name[conv.provider]
            fates = Fates.draw(self.sc, self.streams, f"conversion.{conv.date}.", conv.places)
            for i in range(conv.places):  # the residents come with their places: seat them first
                c = self._new_client(fates, i, self.env.now)
                self.place_resident(c, provider, L["in_care"])
                self.monitor.count(F["conversions"], c)
                self.env.process(self.stay_and_leave(c, c.stay, c.early))
            self.set_places(provider, provider.capacity + conv.places)

    def contingent_releases(self):
        """Contingentwoningen for BW: the yearly number × BW share, plus any extra units,
        released on the first of every month (or quarter)."""
        spec = self.sc.uitstroom.housing.contingent
        rng = self.streams["contingent"]
        cal, env = self.calendar, self.env
        extra_from = cal.day(spec.extra_from) if spec.extra_from else 0.0
        owed = 0.0
        for day, date in zip(cal.days[:-1].tolist(), cal.dates[:-1]):
            yield env.timeout(day - env.now)
            per_year = value_in_year(spec.units_per_year, date.year) * spec.bw_share
            per_year += spec.extra_per_year if day >= extra_from else 0.0
            if spec.release == "poisson":
                units = int(rng.poisson(per_year / 12.0))
            else:
                owed += per_year / 12.0
                if spec.release == "quarterly" and date.month % 3 != 1:
                    continue
                units = math.floor(owed + 1e-9)
                owed -= units
            self.contingent.release(units)

    def waitlist_reviews(self):
        """Review interviews each month: randomly chosen waiting clients, a share of whom leave."""
        spec = self.sc.waitlist.review
        rng = self.streams["review"]
        cal, env = self.calendar, self.env
        lo = cal.day(spec.start) if spec.start else 0.0
        hi = cal.day(spec.end) if spec.end else cal.horizon
        owed = 0.0
        for day in cal.days[:-1].tolist():
            if not lo <= day < hi:
                continue
            yield env.timeout(day - env.now)
            owed += spec.per_year / 12.0
            n = math.floor(owed + 1e-9)
            owed -= n
            waiting = sorted((c for wl in self.waitlists for c in wl.waiting()), key=lambda c: c.id)
            if not waiting or n == 0:
                continue
            chosen = rng.choice(len(waiting), size=min(n, len(waiting)), replace=False)
            removed = rng.random(len(chosen)) < spec.removal_share
            for i in chosen[removed].tolist():
                self.leave_waitlist(waiting[i], L["removed_by_review"], F["review_removals"])

    def snapshots(self):
        cal, env = self.calendar, self.env
        for i, day in enumerate(cal.days[:-1].tolist()):
            yield env.timeout(day - env.now)
            self.monitor.snapshot(i, self.waited_so_far())

    def waited_so_far(self) -> np.ndarray:
        now = self.env.now
        return now - np.concatenate([wl.joined_times() for wl in self.waitlists])

    # ------------------------------------------------------------ run

    def run(self) -> Monitor:
        self.initial_state()
        env, sc = self.env, self.sc
        env.process(self.snapshots())
        env.process(self.contingent_releases())
        for provider, spec in zip(self.providers, sc.providers.values()):
            if spec.schedule:
                env.process(self.capacity_schedule(provider, spec.schedule))
        if sc.capacity_path:
            env.process(self.capacity_path())
        if sc.conversions:
            env.process(self.conversions())
        if sc.waitlist.review.per_year > 0:
            env.process(self.waitlist_reviews())
        env.process(self.arrivals(self.arrival_times()))
        env.run(until=self.calendar.horizon)
        self.monitor.snapshot(len(self.calendar.dates) - 1, self.waited_so_far())
        return self.monitor
