"""A small reference simulator of the BW model, written from the model description only.

It shares no code with ``sim/model``: a plain event list (``heapq``) instead of SimPy,
its own random draws, its own bookkeeping. It reads a validated
:class:`sim.scenario.Scenario` and supports the subset the differential test
(``tests/test_differential.py``) generates:

* one waitlist (one provider), a constant Poisson inflow, profiles with a priority
  and a stay law (``exponential``, ``fixed`` or ``uniform``; initial residents need
  ``exponential`` or ``fixed``, whose stationary residual stays are known);
* withdrawal from the list at a rate, lowered while bridged;
* overbruggingszorg from a pool of slots with a FIFO queue;
* early exit at a rate from placement until the place is left;
* destinations; contingentwoningen released on the 1st of every month (no carry-over
  of unused units, the fraction carried) or a home by another route after a delay;
* the initial stock: residents (some ready to leave) and waiting clients.

Ambulant support and relapse are not modelled: a client who leaves the place is out.

Semantics where the description leaves a choice (the alternatives are options, so that
their effect can be measured; none is detectable at the differential test's 40 replications):

* initial waiters join one by one, longest wait first, each as an arrival would: the
  first ones take the free places (whatever their priority), the rest may be bridged
  (``initial_by_priority=True``: all join first, the free places go by priority, then
  those still waiting ask for bridging, longest wait first);
* initial residents get a profile in the proportions found in care in a stationary
  system, share x mean time in care (until the stay ends or an early exit), or by share
  alone (``resident_mix="share"``), and the residual of its stay (exponential: a fresh
  draw; fixed ``v``: uniform on ``[0, v]``); the early-exit clock starts at 0 for every
  resident, those ready to leave included;
* a contingent release also happens on the start date when it is the 1st of a month
  (``release_at_start``), after the initial stock is set up;
* records (snapshots) are read on the 1st of every month and on the end date, before
  anything else that happens at that moment; the one at t = 0 is read after the set-up.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

DAYS_PER_YEAR = 365.25
UNIT_DAYS = {"days": 1.0, "months": DAYS_PER_YEAR / 12, "years": DAYS_PER_YEAR}

WAITING, IN_CARE, READY, GONE = range(4)
# event kinds; records come first, then releases, then everything else at equal times
SNAP, RELEASE, ARRIVE, WITHDRAW, STAY_END, EARLY, HOME = range(7)
ORDER = {SNAP: 0, RELEASE: 1}
LEVELS = ("waiting", "in_care", "ready_to_leave", "bridged", "bridging_waiting", "contingent_waiting")
FLOWS = ("arrivals", "admissions", "withdrawals", "bridging_starts", "became_ready_to_leave",
         "contingent_housed", "exits_independent", "exits_intramural", "exits_died_or_moved", "exits_early")


def draw(d, rng: np.random.Generator) -> float:
    """One duration in days."""
    scale = UNIT_DAYS[d.unit]
    if d.dist == "exponential":
        return rng.exponential(d.mean) * scale
    if d.dist == "fixed":
        return d.value * scale
    if d.dist == "uniform":
        return rng.uniform(d.low, d.high) * scale
    raise NotImplementedError(f"reference simulator: {d.dist} durations")


def time_in_care(d, early: float) -> float:
    """Mean days from placement to the end of the stay or an earlier early exit (rate per day)."""
    scale = UNIT_DAYS[d.unit]
    if d.dist == "exponential":
        return d.mean * scale / (1 + early * d.mean * scale)
    if d.dist == "fixed":
        v = d.value * scale
        return v if early == 0 else -math.expm1(-early * v) / early
    raise NotImplementedError(f"reference simulator: initial residents with {d.dist} stays")


def residual(d, rng: np.random.Generator) -> float:
    """Remaining stay of a resident found in care at a random moment of a stationary system."""
    if d.dist == "exponential":
        return draw(d, rng)  # memoryless
    if d.dist == "fixed":
        return rng.uniform(0.0, d.value) * UNIT_DAYS[d.unit]
    raise NotImplementedError(f"reference simulator: initial residents with {d.dist} stays")


class Client:
    __slots__ = ("priority", "stay", "joined", "state", "bridged", "slot", "in_bqueue", "in_cqueue",
                 "hazard", "rate", "since", "withdraw_at", "early_at", "home_at")

    def __init__(self, profile, joined: float):
        self.priority, self.stay, self.joined = profile.priority, profile.stay, joined
        self.state = None
        self.bridged = self.slot = self.in_bqueue = self.in_cqueue = False
        self.hazard = self.rate = self.since = 0.0
        self.withdraw_at = self.early_at = self.home_at = math.inf


@dataclass
class Result:
    horizon: float  # days
    flows: dict[str, int]  # totals over the run
    area: dict[str, float]  # time integrals over the run (client-days)
    snapshots: np.ndarray  # (record dates, LEVELS)
    journeys: list[tuple[float, float, bool]] = field(default_factory=list)  # joined, left list, placed

    def mean(self, *levels: str) -> float:
        return sum(self.area[k] for k in levels) / self.horizon

    @property
    def exits(self) -> int:
        return sum(self.flows[k] for k in FLOWS if k.startswith("exits_"))


class Reference:
    def __init__(self, sc, seed: int, release_at_start: bool = True, initial_by_priority: bool = False,
                 resident_mix: str = "stationary"):
        self._check(sc)
        self.initial_by_priority, self.resident_mix = initial_by_priority, resident_mix
        self.sc, self.rng = sc, np.random.default_rng(seed)
        (provider,) = sc.providers.values()
        self.places = provider.places
        self.bridging = provider.bridging or sc.bridging.for_everyone
        self.free_slots = math.inf if sc.bridging.places is None else sc.bridging.places
        self.profiles = list(sc.profiles.values())
        self.shares = np.array([p.share for p in self.profiles])
        self.shares /= self.shares.sum()
        self.withdrawal = sc.waitlist.withdrawal_per_year / DAYS_PER_YEAR
        self.early = sc.uitstroom.early_exit_per_year / DAYS_PER_YEAR
        self.horizon = float((sc.end - sc.start).days)
        self.now, self.seq = 0.0, 0
        self.events: list = []
        self.waitlist: list = []  # heap of (priority, joined, seq, client); lazy removal
        self.bqueue: deque[Client] = deque()  # bridging queue; lazy removal
        self.cqueue: deque[Client] = deque()  # waiting for a contingentwoning; lazy removal
        self.level = dict.fromkeys(LEVELS, 0)
        self.area = dict.fromkeys(LEVELS, 0.0)
        self.flows = dict.fromkeys(FLOWS, 0)
        self.snaps: list[list[int]] = []
        self.journeys: list[tuple[float, float, bool]] = []
        self._calendar(release_at_start)

    @staticmethod
    def _check(sc) -> None:
        assert len(sc.providers) == 1, "reference simulator: one provider (one list) only"
        assert not isinstance(sc.inflow.per_year, dict) and sc.inflow.growth_per_year == 0
        assert sc.waitlist.max_length is None and sc.waitlist.intake_stop is None
        assert sc.waitlist.review.per_year == 0 and sc.capacity_path is None and not sc.conversions
        assert not next(iter(sc.providers.values())).schedule and sc.beschermd_thuis.share == 0
        assert sc.outside_contract.per_year == 0 and sc.relapse.probability == 0
        c = sc.uitstroom.housing.contingent
        assert c.release == "monthly" and not c.carry_over and c.extra_per_year == 0
        assert not isinstance(c.units_per_year, dict)

    def _calendar(self, release_at_start: bool) -> None:
        """Records on every 1st of the month and the end date; releases on every 1st."""
        start, end = self.sc.start, self.sc.end
        self._push(0.0, SNAP)
        self._push(self.horizon, SNAP)
        day, k = start.replace(day=1), 0
        while day < end:
            t = float((day - start).days)
            if t > 0:
                self._push(t, SNAP)
            if t > 0 or (t == 0 and release_at_start):
                self._push(t, RELEASE, k)
                k += 1
            day = day.replace(year=day.year + (day.month == 12), month=day.month % 12 + 1)
        c = self.sc.uitstroom.housing.contingent
        self.per_release = c.units_per_year * c.bw_share / 12

    # -- bookkeeping
    def _push(self, t: float, kind: int, who=None) -> None:
        self.seq += 1
        heapq.heappush(self.events, (t, ORDER.get(kind, 2), self.seq, kind, who))

    def _add(self, level: str, delta: int) -> None:
        self.level[level] += delta

    def _profile(self, p=None):
        return self.profiles[self.rng.choice(len(self.profiles), p=self.shares if p is None else p)]

    # -- the run
    def run(self) -> Result:
        self._initial()
        if self.sc.inflow.per_year > 0:
            self._push(self.rng.exponential(DAYS_PER_YEAR / self.sc.inflow.per_year), ARRIVE)
        while self.events:
            t, _, _, kind, who = heapq.heappop(self.events)
            for k, n in self.level.items():
                self.area[k] += n * (t - self.now)
            self.now = t
            if kind == SNAP:
                self.snaps.append([self.level[k] for k in LEVELS])
                if t >= self.horizon:
                    break
            elif kind == RELEASE:
                self._release(who)
            elif kind == ARRIVE:
                self._push(t + self.rng.exponential(DAYS_PER_YEAR / self.sc.inflow.per_year), ARRIVE)
                self.flows["arrivals"] += 1
                self._join(Client(self._profile(), t))
            elif kind == WITHDRAW and who.state == WAITING and who.withdraw_at == t:
                self._leave_list(who, placed=False)
                who.state = GONE
                self.flows["withdrawals"] += 1
            elif kind == STAY_END and who.state == IN_CARE:
                self._stay_ends(who)
            elif kind == EARLY and who.state in (IN_CARE, READY):
                self._leave_place(who, "exits_early")
            elif kind == HOME and who.state == READY and who.home_at == t:
                self._leave_place(who, "exits_independent")
        return Result(self.horizon, self.flows, self.area, np.array(self.snaps), self.journeys)

    def _initial(self) -> None:
        ini = self.sc.initial
        mix = None
        if self.resident_mix == "stationary":  # profiles as found in care at a random moment
            mix = self.shares * [time_in_care(p.stay, self.early) for p in self.profiles]
            mix = mix / mix.sum()
        for i in range(self.sc.initial_residents):
            c = Client(self._profile(mix), 0.0)
            if i < ini.ready_to_leave:
                c.state = READY
                self._add("ready_to_leave", 1)
                self._wait_for_contingent(c)
            else:
                c.state = IN_CARE
                self._add("in_care", 1)
                self._push(residual(c.stay, self.rng), STAY_END, c)
            self._start_early_exit_clock(c)
        waited = sorted((draw(ini.waited, self.rng) for _ in range(ini.waiting)), reverse=True)
        waiters = [Client(self._profile(), -w) for w in waited]
        if not self.initial_by_priority:
            for c in waiters:
                self._join(c)
            return
        for c in waiters:  # everyone on the list first, then the free places by priority
            self._enlist(c)
        self._fill()
        for c in waiters:
            self._request_bridging(c)

    # -- the waitlist and bridging
    def _join(self, c: Client) -> None:
        """An arrival: on the list, placed at once if a place is free, else asks for bridging."""
        self._enlist(c)
        self._fill()
        self._request_bridging(c)

    def _enlist(self, c: Client) -> None:
        c.state = WAITING
        self._add("waiting", 1)
        self.seq += 1
        heapq.heappush(self.waitlist, (c.priority, c.joined, self.seq, c))
        c.hazard, c.since = self.rng.exponential(), self.now
        self._set_withdrawal_rate(c, self.withdrawal)

    def _request_bridging(self, c: Client) -> None:
        if c.state == WAITING and self.bridging:
            if self.free_slots > 0:
                self.free_slots -= 1
                self._start_bridging(c)
            else:
                c.in_bqueue = True
                self.bqueue.append(c)
                self._add("bridging_waiting", 1)

    def _set_withdrawal_rate(self, c: Client, rate: float) -> None:
        """Change the withdrawal rate; the unit-exponential hazard left carries over (memoryless)."""
        c.hazard -= c.rate * (self.now - c.since)
        c.since, c.rate = self.now, rate
        c.withdraw_at = self.now + c.hazard / rate if rate > 0 else math.inf
        if c.withdraw_at < math.inf:
            self._push(c.withdraw_at, WITHDRAW, c)

    def _start_bridging(self, c: Client) -> None:
        c.slot = c.bridged = True
        self._add("bridged", 1)
        self.flows["bridging_starts"] += 1
        self._set_withdrawal_rate(c, self.withdrawal * self.sc.bridging.withdrawal_factor)

    def _leave_list(self, c: Client, placed: bool) -> None:
        c.state = None
        self._add("waiting", -1)
        self.journeys.append((c.joined, self.now, placed))
        if c.in_bqueue:
            c.in_bqueue = False
            self._add("bridging_waiting", -1)
        if c.slot:
            c.slot = False
            self._add("bridged", -1)
            while self.bqueue:
                nxt = self.bqueue.popleft()
                if nxt.in_bqueue:
                    nxt.in_bqueue = False
                    self._add("bridging_waiting", -1)
                    self._start_bridging(nxt)
                    return
            self.free_slots += 1

    # -- places
    def _fill(self) -> None:
        """Give every free place to the head of the list."""
        while self.level["in_care"] + self.level["ready_to_leave"] < self.places and self.waitlist:
            c = heapq.heappop(self.waitlist)[-1]
            if c.state == WAITING:
                self._place(c)

    def _place(self, c: Client) -> None:
        self._leave_list(c, placed=True)
        c.state = IN_CARE
        self._add("in_care", 1)
        self.flows["admissions"] += 1
        stay = draw(c.stay, self.rng) * (self.sc.bridging.stay_factor if c.bridged else 1.0)
        self._push(self.now + stay, STAY_END, c)
        self._start_early_exit_clock(c)

    def _start_early_exit_clock(self, c: Client) -> None:
        if self.early > 0:
            self._push(self.now + self.rng.exponential(1 / self.early), EARLY, c)

    def _stay_ends(self, c: Client) -> None:
        d = self.sc.uitstroom.destinations
        u = self.rng.random()
        if u >= d.independent:
            self._leave_place(c, "exits_intramural" if u < d.independent + d.intramural else "exits_died_or_moved")
            return
        c.state = READY
        self._add("in_care", -1)
        self._add("ready_to_leave", 1)
        self.flows["became_ready_to_leave"] += 1
        housing = self.sc.uitstroom.housing
        if self.rng.random() < housing.contingent_share:
            self._wait_for_contingent(c)
        else:
            c.home_at = self.now + draw(housing.other_route_delay, self.rng) * housing.other_route_factor
            self._push(c.home_at, HOME, c)

    def _wait_for_contingent(self, c: Client) -> None:
        c.in_cqueue = True
        self.cqueue.append(c)
        self._add("contingent_waiting", 1)

    def _release(self, k: int) -> None:
        """Release k (from 0): the cumulative number released is floor((k + 1) * per_release)."""
        units = math.floor((k + 1) * self.per_release + 1e-9) - math.floor(k * self.per_release + 1e-9)
        while units > 0 and self.cqueue:
            c = self.cqueue.popleft()
            if c.in_cqueue:
                units -= 1
                self.flows["contingent_housed"] += 1
                self._leave_place(c, "exits_independent")
        # units left over go to other groups (no carry-over)

    def _leave_place(self, c: Client, how: str) -> None:
        self._add("in_care" if c.state == IN_CARE else "ready_to_leave", -1)
        if c.in_cqueue:
            c.in_cqueue = False
            self._add("contingent_waiting", -1)
        c.state = GONE
        self.flows[how] += 1
        self._fill()


def simulate(sc, seed: int, **options) -> Result:
    """One replication of the reference simulator."""
    return Reference(sc, seed, **options).run()
