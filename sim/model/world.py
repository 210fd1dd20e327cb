"""The SimPy world of one region: the client journey and the processes around it.

Read :meth:`World.journey` first: it is the pathway, top to bottom —
arrive → (beschermd thuis?) → waitlist (maybe bridging) → placement → stay →
ready to leave → home → exit → ambulant support → maybe relapse. Every client
runs that one generator, entering at its starting stage: a new arrival at
``arrival``, the list on the start date at ``waiting``, the residents on the
start date and converted residents at ``in_care`` (or ``ready_to_leave``).

The world owns each client's state: :meth:`World.set_state` is the only place it
changes, and the monitor only observes the change. Everything random about a
client comes from :mod:`.fates`, keyed by who the client is, so two scenarios run
with the same seed give the same client the same fate (common random numbers).
The policy levers are the scheduled processes at the end (capacity path,
contingent releases, waitlist reviews, conversions). The events run on a SimPy
environment that keeps only the current week in its heap (:class:`WeeklyEnvironment`,
last in this file), in SimPy's own order.

Dated things follow one convention: the record of date D (a stock "on 31 December"
is the record of 1 January) holds what happened *before* D; anything dated D
(a capacity change, a contingent release, a review round) comes after it.
"""

from __future__ import annotations

import heapq
import math
from typing import Callable

import numpy as np
import simpy
from simpy.core import NORMAL

from .calendar import Calendar
from .rng import Streams
from ..config.distributions import residual_after_elapsed
from ..config.scenario import Scenario, value_in_year
from .capacity import divide_places
from .fates import Fate, FateBook, blockwise, equilibrium_residents
from .pools import Contingent, HousingStock, Provider, SlotPool, Waitlist
from .states import FLOW, JOURNEY_PLACED, JOURNEY_WITHDRAWN, LEVEL, STATES

PLACED, WITHDRAWN = "placed", "withdrawn"
INDEPENDENT, INTRAMURAL, DIED_OR_MOVED = 0, 1, 2
_EXIT = {INTRAMURAL: ("exit_intramural", "exits_intramural", "intramural"),
         DIED_OR_MOVED: ("exit_died_or_moved", "exits_died_or_moved", "died_or_moved")}
#: States in which a client holds a place.
IN_A_PLACE = frozenset((LEVEL["in_care"], LEVEL["ready_to_leave"]))
NAN = float("nan")


class Client:
    """A person on the pathway: who it is, its fate, where it is now, and its record."""

    __slots__ = (
        # who
        "id", "family", "index", "start_stage", "profile", "priority", "municipality", "provider",
        # fate (see fates.Fate)
        "stay", "early", "withdraw_clock", "destination", "contingent", "other_route", "ambulant",
        "relapses", "relapse_delay", "thuis_offer", "thuis_home", "thuis_duration",
        "stock_eligible", "stock_tenancy", "stock_relapses",
        # where it is now (owned by the world)
        "state", "gauges", "group", "since", "days", "waitlist", "on_list", "placed_event", "place",
        "bridged", "was_bridged", "bridge_queued", "above_contract", "home", "home_request", "early_at",
        "withdraw_rate", "clock_since", "clock_version", "process",
        "stock_request", "tenancy",  # waiting for a unit of the housing stock; the tenancy in one
        # the record (see states.RECORD_TIMES)
        "arrived", "listed", "bridging_start", "bridging_end", "placed", "ready", "housed",
        "exited", "outcome",
    )


class World:
    def __init__(self, scenario: Scenario, seed: int, replication: int, recorder: Callable):
        """``recorder(calendar, env, groups)`` makes the observer of this run (sim.record.monitor.Monitor):
        the world tells it every change and never reads a client's state back from it."""
        self.sc = sc = scenario
        self.env = WeeklyEnvironment()
        self.calendar = Calendar(sc.start, sc.end)
        self.streams = Streams(seed, replication)
        self.fates = FateBook(sc, self.streams)
        # costs are attributed per municipality and cohort: group m = in care before the cohort
        # date (the two-track verdeelmodel's existing clients), group M + m = everyone else
        self._n_municipalities = len(sc.inflow.municipalities)
        cohort = sc.attribution.cohort_date
        self._cohort_day = self.calendar.day(cohort) if cohort else -math.inf
        self._existing_when_listed = sc.attribution.existing == "waitlisted"
        self._relapse_existing = sc.attribution.relapse == "existing"
        self.monitor = recorder(self.calendar, self.env, 2 * self._n_municipalities)
        self._next_id = 0
        self._profiles = list(sc.profiles.values())
        self._withdrawal_rate = Calendar.per_day(sc.waitlist.withdrawal_per_year)

        max_len = sc.waitlist.max_length
        central = Waitlist("central", max_len) if sc.waitlist.policy == "central" else None
        own = {name: central or Waitlist(name, max_len) for name, p in sc.providers.items() if not p.waitlist_of}
        self.providers: list[Provider] = [
            Provider(name, p.places, own[p.waitlist_of or name], p.bridging or sc.bridging.for_everyone,
                     pgb=p.financing == "pgb")
            for name, p in sc.providers.items()
        ]
        self.by_name = {p.name: p for p in self.providers}
        self.waitlists = [central] if central else list(own.values())
        self.outside = Provider("outside contract", 10**9, Waitlist("none"), False)
        self.outside_used: dict[int, int] = {}
        self._above_profiles = ({list(sc.profiles).index(name) for name in sc.above_contract.profiles}
                                if sc.above_contract.share else set())
        self._outside_profiles = ({list(sc.profiles).index(name) for name in sc.outside_contract.profiles}
                                  if sc.outside_contract.per_year else set())
        self.bridging = SlotPool(sc.bridging.places)
        self.ambulant = SlotPool(sc.ambulant.places)
        self.thuis = SlotPool(sc.beschermd_thuis.places)
        self.contingent = Contingent(self.env, sc.uitstroom.housing.contingent.carry_over)
        stock = sc.uitstroom.housing.stock
        self.stock = None
        if stock:
            self.stock = HousingStock(self.env, stock.units,
                                      lambda delta: self.monitor.change(LEVEL["stock_occupied"], delta))
            self.monitor.change(LEVEL["stock_units"], stock.units)
        self.monitor.change(LEVEL["places"], sum(p.capacity for p in self.providers))
        self.monitor.change(LEVEL["pgb_places"], sum(p.capacity for p in self.providers if p.pgb))

    # ------------------------------------------------------------ the journey

    def journey(self, c: Client, stage: str):
        """One client's pathway through beschermd wonen, from its starting stage."""
        if stage == "arrival" and self.offered_beschermd_thuis(c) and self.thuis.try_acquire():
            yield from self.beschermd_thuis(c)
            return
        if stage == "arrival" and not self.join_waitlist(c):
            return
        if stage in ("arrival", "waiting"):
            if (yield c.placed_event) is WITHDRAWN:
                return
        if stage != "ready_to_leave":
            if not (yield from self.stay(c)):
                return
        if not (yield from self.wait_for_home(c)):
            return
        yield from self.after_care(c)

    def stay(self, c: Client):
        """In a place until the stay ends (True: ready to leave for a home) or the client
        leaves: early, or to another intramural setting, or died or moved (False)."""
        now = self.env.now
        length = c.stay * (self.sc.bridging.stay_factor if c.was_bridged else 1.0)
        if c.early_at < now + length:
            yield self.env.timeout(c.early_at - now)
            self.leave_place(c, "exit_early", "exits_early", "early")
            return False
        yield self.env.timeout(length)
        if c.destination != INDEPENDENT:
            self.leave_place(c, *_EXIT[c.destination])
            return False
        c.ready = self.env.now
        self.set_state(c, LEVEL["ready_to_leave"])
        self.monitor.count(FLOW["became_ready_to_leave"], c)
        self.ask_for_home(c)
        return True

    def ask_for_home(self, c: Client) -> None:
        """Ready to leave: ask for a contingentwoning, or start the other route; and, if it may,
        ask for a unit of the housing stock as well (whichever home comes first, it takes)."""
        if c.contingent:
            c.home = c.home_request = self.contingent.request(c)
        else:
            c.home = self.env.timeout(c.other_route)
        if self.stock is not None and c.stock_eligible:
            c.stock_request = self.stock.request(c)
        if c.home_request is not None or c.stock_request is not None:
            self.set_state(c)  # now counted as waiting for a contingentwoning or a unit

    def wait_for_home(self, c: Client):
        """Ready to leave: the client keeps the place until a home comes (True), unless it
        leaves early first (False): the early-exit clock keeps running while it waits."""
        home, unit = c.home, c.stock_request
        either = home if unit is None else home | unit
        if c.early_at < self.calendar.horizon:
            yield either | self.env.timeout(max(0.0, c.early_at - self.env.now))
        else:
            yield either
        housed = home.triggered if c.contingent else home.processed  # a Timeout is triggered at once
        by_stock = not housed and unit is not None and unit.triggered  # a contingentwoning wins a tie
        if c.home_request is not None:  # the contingent queue: housed from it, or out of it
            if housed:
                self.monitor.count(FLOW["contingent_housed"], c)
            else:
                self.contingent.cancel(home)
            c.home_request = None
        if unit is not None:  # the stock's queue: moved in, or out of it
            c.stock_request = None
            if by_stock:
                self.move_in(c)
            else:
                self.stock.cancel(unit)  # a unit already offered goes to the next in the stock's queue
        if not housed and not by_stock:  # the early exit came first
            self.leave_place(c, "exit_early", "exits_early", "early")
            return False
        c.housed = self.env.now
        self.leave_place(c, "ambulant_waiting", "exits_independent", "independent")
        return True

    def after_care(self, c: Client):
        """At home: ambulant support (possibly after a wait), then maybe a relapse."""
        started = self.env.event()

        def start(client):
            self.set_state(client, LEVEL["ambulant"])
            started.succeed()
            return True

        self.ambulant.request(c, start)
        yield started
        yield self.env.timeout(c.ambulant)
        self.ambulant.release()
        yield from self.at_home(c)

    def at_home(self, c: Client):
        self.set_state(c, LEVEL["at_home"])
        if c.tenancy is not None:  # a tenant of the housing stock relapses (or not) when it leaves the unit
            if c.stock_relapses:
                yield c.tenancy  # (it may have left the unit during ambulant support: then now)
                self.monitor.count(FLOW["stock_relapses"], c)
                self.come_back(c)
            return
        if c.relapses:
            yield self.env.timeout(c.relapse_delay)
            self.come_back(c)

    def come_back(self, c: Client) -> None:
        self.set_state(c, LEVEL["relapsed"])
        self.monitor.count(FLOW["relapses"], c)
        self.relapse(c)

    # ------------------------------------------------------------ the housing stock

    def move_in(self, c: Client) -> None:
        """Housed through the stock: a tenant of the unit held for it, for its tenancy."""
        self.stock.move_in(c)
        self.monitor.count(FLOW["stock_housed"], c)
        c.tenancy = self.env.timeout(c.stock_tenancy)
        c.tenancy.callbacks.append(lambda _e: self.leave_unit(c, c))

    def leave_unit(self, tenant, client: Client | None = None) -> None:
        """The tenancy ends: the unit goes to the next in the stock's queue."""
        self.stock.vacate(tenant)
        self.monitor.count(FLOW["stock_left"], client)

    def initial_tenancies(self) -> None:
        """The stock's tenancies on the start date (not clients of the run): each holds a unit
        for the rest of a tenancy found in a steady state (length-biased, as residents' stays)."""
        spec = self.sc.uitstroom.housing.stock
        n = spec.units if spec.initial_occupied is None else spec.initial_occupied
        remaining = blockwise(self.streams, "stock.initial_tenancy", n,
                              lambda rng, size: residual_after_elapsed(spec.tenancy, rng, size)[1])
        for k, days in enumerate(remaining.tolist()):
            tenant = ("initial tenancy", k)
            self.stock.occupy_now(tenant)
            self.env.timeout(days).callbacks.append(lambda _e, t=tenant: self.leave_unit(t))

    def stock_schedule(self):
        for change in self.sc.uitstroom.housing.stock.schedule:
            yield self.env.timeout(self.calendar.day(change.date) - self.env.now)
            self.monitor.change(LEVEL["stock_units"], change.units - self.stock.units)
            self.stock.set_units(change.units)

    # ------------------------------------------------------------ state

    def set_state(self, c: Client, state: int | None = None, group: int | None = None) -> None:
        """The one place where a client's state, gauges and attribution group change.

        Gauges (bridged, waiting for bridging, outside contract, waiting for a
        contingentwoning) follow from the client's state and flags; they move with it,
        also when the client changes attribution group. Pass no state to only
        re-read the flags."""
        now = self.env.now
        before = (c.state, c.gauges, c.group) if c.state >= 0 else None
        if state is not None and state != c.state:
            if c.state >= 0:
                c.days[c.state] += now - c.since
            c.since = now
            c.state = state
        if group is not None:
            c.group = group
        c.gauges = self._gauges(c)
        self.monitor.observe(c, before, (c.state, c.gauges, c.group))

    def _gauges(self, c: Client) -> tuple[int, ...]:
        gauges = []
        if c.bridged:
            gauges.append(LEVEL["bridged"])
        if c.bridge_queued:
            gauges.append(LEVEL["bridging_waiting"])
        if c.place is self.outside and c.state in IN_A_PLACE:
            gauges.append(LEVEL["outside_contract"])
        if c.place is not None and c.place.pgb and c.state in IN_A_PLACE:
            gauges.append(LEVEL["pgb_occupied"])
        if c.home_request is not None:
            gauges.append(LEVEL["contingent_waiting"])
        if c.stock_request is not None:
            gauges.append(LEVEL["stock_waiting"])
        if c.above_contract and c.state in IN_A_PLACE:
            gauges.append(LEVEL["above_contract"])
        return tuple(gauges)

    # ------------------------------------------------------------ beschermd thuis

    def offered_beschermd_thuis(self, c: Client) -> bool:
        spec = self.sc.beschermd_thuis
        if spec.share == 0 or (spec.start and self.env.now < self.calendar.day(spec.start)):
            return False
        return c.thuis_offer < spec.share and c.thuis_home < spec.home_probability

    def beschermd_thuis(self, c: Client):
        """Support at home instead of a place; the slot is already taken."""
        c.outcome = "beschermd_thuis"
        self.set_state(c, LEVEL["beschermd_thuis"])
        self.monitor.count(FLOW["beschermd_thuis_starts"], c)
        yield self.env.timeout(c.thuis_duration)
        self.thuis.release()
        yield from self.at_home(c)

    # ------------------------------------------------------------ waitlist

    def waiting_total(self) -> int:
        return sum(wl.size for wl in self.waitlists)

    def join_waitlist(self, c: Client, already_listed: bool = False) -> bool:
        """On the list; placed at once if a place is free, else bought outside contract
        (if allowed), else it waits, with overbruggingszorg if its provider offers it.
        A full list or an intake stop turns new clients away, not those ``already_listed``
        on the start date."""
        wl = self.waitlists[0] if len(self.waitlists) == 1 else self.providers[c.provider].waitlist
        stop = self.sc.waitlist.intake_stop
        if not already_listed and (wl.full() or (stop is not None and self.waiting_total() >= stop)):
            c.outcome, c.exited = "turned_away", self.env.now
            self.set_state(c, LEVEL["turned_away"])
            self.monitor.count(FLOW["turned_away"], c)
            return False
        c.waitlist = wl
        c.placed_event = self.env.event()
        if not already_listed:
            c.listed = self.env.now
        listed_before = self._existing_when_listed and self.env.now < self._cohort_day
        self.set_state(c, LEVEL["waiting"], group=c.municipality if listed_before else None)
        wl.push(c)
        c.withdraw_rate = self._withdrawal_rate
        c.clock_since = self.env.now
        self._schedule_withdrawal(c)
        for provider in wl.providers:
            self.fill(provider)
        if c.on_list and c.profile in self._above_profiles:
            self.fill_above_contract(wl)
        if c.on_list and c.profile in self._outside_profiles:
            self.place_outside_contract(c)
        if c.on_list and self.providers[c.provider].bridging:
            c.bridge_queued = True
            self.set_state(c)
            self.bridging.request(c, self._start_bridging)
        return True

    def _schedule_withdrawal(self, c: Client) -> None:
        c.clock_version += 1
        if c.withdraw_rate <= 0:
            return
        delay = c.withdraw_clock / c.withdraw_rate
        if self.env.now + delay >= self.calendar.horizon:
            return  # after the end of the run: never happens
        version = c.clock_version
        event = self.env.timeout(delay)
        event.callbacks.append(lambda _e: self._withdraw(c, version))

    def _withdraw(self, c: Client, version: int) -> None:
        if c.on_list and version == c.clock_version:
            self.leave_waitlist(c, "withdrawn", "withdrawals")

    def leave_waitlist(self, c: Client, state: str, flow: str) -> None:
        """Off the list without a place (withdrawal, review)."""
        c.waitlist.discard(c)
        self._end_waiting(c)
        self.monitor.left_waitlist(c, JOURNEY_WITHDRAWN)
        c.outcome, c.exited = state, self.env.now
        self.set_state(c, LEVEL[state])
        self.monitor.count(FLOW[flow], c)
        c.placed_event.succeed(WITHDRAWN)

    def _start_bridging(self, c: Client) -> bool:
        """Overbruggingszorg starts: the withdrawal clock slows down."""
        if not c.on_list:
            return False
        now = self.env.now
        c.bridge_queued = False
        c.bridged = c.was_bridged = True
        c.bridging_start = now
        self.set_state(c)
        self.monitor.count(FLOW["bridging_starts"], c)
        c.withdraw_clock -= c.withdraw_rate * (now - c.clock_since)
        c.clock_since = now
        c.withdraw_rate *= self.sc.bridging.withdrawal_factor
        self._schedule_withdrawal(c)
        return True

    def _end_waiting(self, c: Client) -> None:
        """Leaving the list ends bridging (or the wait for it)."""
        if c.bridged:
            c.bridged = False
            c.bridging_end = self.env.now
            self.bridging.release()
        c.bridge_queued = False

    # ------------------------------------------------------------ places

    def fill(self, provider: Provider) -> None:
        """Give free places to the head of the provider's list."""
        while provider.occupied < provider.capacity:
            c = provider.waitlist.pop()
            if c is None:
                return
            self.admit(c, provider)

    def admit(self, c: Client, provider: Provider) -> None:
        """Off the list into a place; clients placed before the cohort date join the existing cohort."""
        now = self.env.now
        provider.occupied += 1
        c.place = provider
        self._end_waiting(c)
        self.monitor.left_waitlist(c, JOURNEY_PLACED)
        c.placed = now
        c.early_at = now + c.early
        self.set_state(c, LEVEL["in_care"], group=c.municipality if now < self._cohort_day else None)
        self.monitor.count(FLOW["admissions"], c)
        c.placed_event.succeed(PLACED)

    def fill_above_contract(self, wl: Waitlist) -> None:
        """Overschrijding: while a full provider of the list is under its limit (``above_contract.share``
        of its places), it places the eligible client first in line above its contracted number."""
        if not self._above_profiles:
            return
        share = self.sc.above_contract.share
        while True:
            provider = next((p for p in wl.providers if p.capacity <= p.occupied
                             < p.capacity + math.ceil(share * p.capacity)), None)
            c = wl.first(lambda c: c.profile in self._above_profiles) if provider is not None else None
            if c is None:
                return
            wl.discard(c)
            c.above_contract = True
            provider.above.append(c)
            self.monitor.count(FLOW["above_contract_placements"], c)
            self.admit(c, provider)

    def _return_to_contract(self, provider: Provider) -> None:
        """A contracted place is free while residents sit above contract: the first of them takes it."""
        while provider.above and provider.occupied - len(provider.above) < provider.capacity:
            c = provider.above.pop(0)
            c.above_contract = False
            self.set_state(c)

    def place_outside_contract(self, c: Client) -> None:
        """A client of an eligible profile (urgent) with no contracted place free on its list:
        buy one outside contract, within the yearly number."""
        year = self.calendar.date(self.env.now).year
        if self.outside_used.get(year, 0) >= self.sc.outside_contract.per_year:
            return
        self.outside_used[year] = self.outside_used.get(year, 0) + 1
        c.waitlist.discard(c)
        self.monitor.count(FLOW["outside_contract_placements"], c)
        self.admit(c, self.outside)

    def leave_place(self, c: Client, state: str, flow: str, outcome: str) -> None:
        provider = c.place
        provider.occupied -= 1
        if c.above_contract:
            provider.above.remove(c)
            c.above_contract = False
        c.outcome, c.exited = outcome, self.env.now
        self.set_state(c, LEVEL[state])
        self.monitor.count(FLOW[flow], c)
        self._return_to_contract(provider)
        self.fill(provider)
        self.fill_above_contract(provider.waitlist)

    def set_places(self, provider: Provider, places: int) -> None:
        self.monitor.change(LEVEL["places"], places - provider.capacity)
        if provider.pgb:
            self.monitor.change(LEVEL["pgb_places"], places - provider.capacity)
        provider.capacity = places
        self._return_to_contract(provider)
        self.fill(provider)
        self.fill_above_contract(provider.waitlist)

    def seat(self, c: Client, provider: Provider, stage: str) -> None:
        """A resident in a place without having come through the list (start, conversion)."""
        provider.occupied += 1
        c.place = provider
        c.early_at = self.env.now + c.early
        self.set_state(c, LEVEL[stage], group=c.municipality if self.env.now < self._cohort_day else None)

    # ------------------------------------------------------------ clients

    def new_client(self, family: str, index: int, fate: Fate | None = None) -> Client:
        """A client named by its family and index; its fate comes from the fate book."""
        f = fate or self.fates.fate(family, index)
        c = Client()
        c.id = self._next_id
        self._next_id += 1
        c.family, c.index = family, index
        c.profile, c.municipality, c.provider = f.profile, f.municipality, f.provider
        c.priority = self._profiles[c.profile].priority
        c.stay, c.early, c.withdraw_clock = f.stay, f.early, f.withdraw_clock
        c.destination, c.contingent, c.other_route = f.destination, f.contingent, f.other_route
        c.ambulant, c.relapses, c.relapse_delay = f.ambulant, f.relapses, f.relapse_delay
        c.thuis_offer, c.thuis_home, c.thuis_duration = f.thuis_offer, f.thuis_home, f.thuis_duration
        c.stock_eligible, c.stock_tenancy, c.stock_relapses = f.stock_eligible, f.stock_tenancy, f.stock_relapses
        c.stock_request = c.tenancy = None
        c.state, c.gauges = -1, ()
        c.group = c.municipality + self._n_municipalities  # the "new" cohort unless placed before the date
        c.since, c.days = self.env.now, [0.0] * len(STATES)
        c.waitlist = c.placed_event = c.place = c.home = c.home_request = c.process = None
        c.on_list = c.bridged = c.was_bridged = c.bridge_queued = c.above_contract = False
        c.early_at = math.inf
        c.withdraw_rate = c.clock_since = 0.0
        c.clock_version = 0
        c.arrived = self.env.now
        c.listed = c.bridging_start = c.bridging_end = c.placed = c.ready = c.housed = c.exited = NAN
        c.outcome = ""
        return c

    def enter(self, c: Client, stage: str = "arrival", place: Provider | None = None) -> None:
        """Start a client's journey at ``stage``; residents are seated in ``place`` and the list
        on the start date is put on the list first, so that they are there at once."""
        c.start_stage = stage
        if stage in ("in_care", "ready_to_leave"):
            self.seat(c, place, stage)
            if stage == "ready_to_leave":
                self.ask_for_home(c)
        elif stage == "waiting":
            self.join_waitlist(c, already_listed=True)
        if stage == "arrival":
            self.monitor.count(FLOW["arrivals"], c)
        c.process = self.env.process(self.journey(c, stage))

    def relapse(self, old: Client) -> None:
        """The person comes back as a new entry, from the same municipality; in the new cohort,
        unless ``attribution.relapse`` keeps an existing client's relapse existing."""
        c = self.new_client("relapse." + old.family, old.index)
        c.municipality = old.municipality
        existing = self._relapse_existing and old.group == old.municipality
        c.group = old.municipality + (0 if existing else self._n_municipalities)
        self.enter(c)

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
        env = self.env
        for i, t in enumerate(times.tolist()):
            yield env.timeout(t - env.now)
            self.enter(self.new_client("", i))

    # ------------------------------------------------------------ the start

    def initial_state(self) -> None:
        """The observed stock on the start date: residents (some ready to leave) and a waitlist.

        Residents are found in a stationary system (see ``fates.equilibrium_residents``);
        the ``ready_to_leave`` ones wait for a contingentwoning. Waiting clients have
        already waited a while and join the list longest-waiting first."""
        sc, init = self.sc, self.sc.initial
        if self.stock is not None:  # first: the residents ready to leave find these units taken
            self.initial_tenancies()
        n_res = sc.initial_residents
        profile, remaining, early = equilibrium_residents(sc, self.streams, n_res)
        ready = set(self.streams["resident.ready"].choice(n_res, size=init.ready_to_leave, replace=False).tolist()
                    ) if n_res else set()
        counts = divide_places(n_res, [p.capacity for p in self.providers], "proportional")
        places = [p for p, count in zip(self.providers, counts) for _ in range(count)]
        for k, provider in enumerate(places):
            fate = self.fates.fate("resident.", k)
            fate.profile, fate.stay, fate.early = int(profile[k]), float(remaining[k]), float(early[k])
            if k in ready:
                fate.destination, fate.contingent = INDEPENDENT, True
            c = self.new_client("resident.", k, fate)
            self.enter(c, "ready_to_leave" if k in ready else "in_care", provider)
        waited = blockwise(self.streams, "waiter.waited", init.waiting, init.waited.sample)
        for j in np.argsort(-waited, kind="stable").tolist():  # longest waiting joins first
            c = self.new_client("waiter.", j)
            c.arrived = c.listed = -float(waited[j])
            self.enter(c, "waiting")

    # ------------------------------------------------------------ schedules and levers

    def capacity_schedule(self, provider: Provider, changes):
        for change in changes:
            yield self.env.timeout(self.calendar.day(change.date) - self.env.now)
            self.set_places(provider, change.places)

    def capacity_path(self):
        """The region's places from each date, divided over the providers by the shrink rule."""
        path = self.sc.capacity_path
        for day, total in capacity_steps(path, self.calendar.day):
            yield self.env.timeout(day - self.env.now)
            counts = divide_places(total, [p.capacity for p in self.providers], path.shrink)
            for provider, places in zip(self.providers, counts):
                self.set_places(provider, places)

    def conversions(self):
        """One-off conversions: places and their residents become BW at a date."""
        for conv in sorted(self.sc.conversions, key=lambda c: c.date):
            yield self.env.timeout(self.calendar.day(conv.date) - self.env.now)
            provider = self.by_name[conv.provider]
            family = f"conversion.{conv.date}."
            for i in range(conv.places):  # the residents come with their places: seat them first
                c = self.new_client(family, i)
                self.enter(c, "in_care", provider)
                self.monitor.count(FLOW["conversions"], c)
            self.set_places(provider, provider.capacity + conv.places)

    def contingent_releases(self):
        """Contingentwoningen for BW: the yearly number × BW share, plus any extra units,
        released on the first of every month (or quarter); a part month gets its part."""
        spec = self.sc.uitstroom.housing.contingent
        rng = self.streams["contingent"]
        cal, env = self.calendar, self.env
        extra_from = cal.day(spec.extra_from) if spec.extra_from else 0.0
        owed = 0.0
        for i, (day, date) in enumerate(zip(cal.days[:-1].tolist(), cal.dates[:-1])):
            yield env.timeout(day - env.now)
            per_year = value_in_year(spec.units_per_year, date.year) * spec.bw_share
            per_year += spec.extra_per_year if day >= extra_from else 0.0
            due = per_year / 12.0 * cal.month_fraction(i)
            if spec.release == "poisson":
                units = int(rng.poisson(due))
            else:
                owed += due
                if spec.release == "quarterly" and date.month % 3 != 1:
                    continue
                units = math.floor(owed + 1e-9)
                owed -= units
            self.contingent.release(units)

    def waitlist_reviews(self):
        """Review interviews each month: randomly chosen waiting clients, a share of whom leave.
        Interviews that find nobody to interview are owed to the next month."""
        spec = self.sc.waitlist.review
        rng = self.streams["review"]
        cal, env = self.calendar, self.env
        lo = cal.day(spec.start) if spec.start else 0.0
        hi = cal.day(spec.end) if spec.end else cal.horizon
        owed = 0.0
        for i, day in enumerate(cal.days[:-1].tolist()):
            if not lo <= day < hi:
                continue
            yield env.timeout(day - env.now)
            owed += spec.per_year / 12.0 * cal.month_fraction(i)
            waiting = sorted((c for wl in self.waitlists for c in wl.waiting()), key=lambda c: c.id)
            n = min(math.floor(owed + 1e-9), len(waiting))
            if n == 0:
                continue
            owed -= n
            chosen = rng.choice(len(waiting), size=n, replace=False)
            removed = rng.random(n) < spec.removal_share
            for k in chosen[removed].tolist():
                self.leave_waitlist(waiting[k], "removed_by_review", "review_removals")

    def waited_so_far(self) -> np.ndarray:
        now = self.env.now
        return now - np.concatenate([wl.joined_times() for wl in self.waitlists])

    # ------------------------------------------------------------ run

    def run(self):
        self.initial_state()
        env, sc = self.env, self.sc
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
        if self.stock is not None and sc.uitstroom.housing.stock.schedule:
            env.process(self.stock_schedule())
        env.process(self.arrivals(self.arrival_times()))
        # each record date's stocks hold what happened before that date: run up to it (events
        # dated that day come after), record, go on
        for i, day in enumerate(self.calendar.days.tolist()):
            if day > env.now:
                env.run(until=day)
            self.monitor.snapshot(i, self.waited_so_far())
        return self.monitor


def capacity_steps(path, day_of) -> list[tuple[float, int]]:
    """(day, region's places) of every change of a capacity path. A step path changes on its
    dates. A linear one steps on its first date, then moves one place at a time between two
    dates: the k-th of n places at ``d0 + k/n (d1 - d0)``, reaching each date's number on it."""
    points = [(day_of(c.date), c.places) for c in path.changes]
    steps = [points[0]]
    for (d0, p0), (d1, p1) in zip(points, points[1:]):
        if path.ramp == "step" or p1 == p0:
            steps.append((d1, p1))
            continue
        n, sign = abs(p1 - p0), 1 if p1 > p0 else -1
        steps += [(d0 + (d1 - d0) * k / n, p0 + sign * k) for k in range(1, n + 1)]
    return steps


class WeeklyEnvironment(simpy.Environment):
    """A SimPy environment whose heap holds only the events of the current week.

    Most events in the model are years ahead (the end of a stay, of ambulant support, a
    relapse). In one heap of every future event, each step sifts through a heap that grows
    with the region and is scattered over memory. Here an event due after the current week
    waits in a list for its week (appending costs nothing) and joins the heap when that week
    comes. Events keep SimPy's key (time, priority, id given when scheduled), and every
    event in the heap is due before every event still waiting in a list, so events happen
    in exactly the same order as in ``simpy.Environment``.
    """

    WEEK = 7.0  # days

    def __init__(self, initial_time: float = 0.0):
        super().__init__(initial_time)
        self._week_end = (initial_time // self.WEEK + 1) * self.WEEK  # the heap holds the events before this
        self._later: dict[float, list] = {}  # week number -> the events due in it, unordered
        self._weeks: list[float] = []  # heap of the week numbers in self._later

    def schedule(self, event, priority=NORMAL, delay=0) -> None:
        at = self._now + delay
        entry = (at, priority, next(self._eid), event)
        if at < self._week_end:
            heapq.heappush(self._queue, entry)
            return
        week = at // self.WEEK if at < math.inf else math.inf
        waiting = self._later.get(week)
        if waiting is None:
            waiting = self._later[week] = []
            heapq.heappush(self._weeks, week)
        waiting.append(entry)

    def _next_week(self) -> None:
        """The heap is empty: the first week with events becomes the current one."""
        week = heapq.heappop(self._weeks)
        self._week_end = (week + 1) * self.WEEK
        self._queue = self._later.pop(week)
        heapq.heapify(self._queue)

    def peek(self) -> float:
        if not self._queue and self._weeks:
            self._next_week()
        return super().peek()

    def step(self) -> None:
        if not self._queue and self._weeks:
            self._next_week()
        super().step()
