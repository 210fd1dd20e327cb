"""Capacity in the model: waitlists, providers' places, slot pools, the contingent.

SimPy's ``Resource`` has a read-only capacity and serves one queue; BW places
need a size that changes on a schedule (places close only as residents leave,
nobody is evicted), lists shared by several providers, and priorities. These
small classes do exactly that and nothing more; the journey in ``world`` drives
them.
"""

from __future__ import annotations

import heapq
from collections import deque
from typing import Callable

import numpy as np

class Waitlist:
    """A priority list, first come first served within a priority.

    The list keeps each client's ``on_list`` flag. Clients who leave it without a
    place (withdrawal) are marked off and stay in the heap until they reach the
    head, where they are skipped: removal is O(1), popping amortised O(log n).
    """

    def __init__(self, name: str, max_length: int | None = None):
        self.name = name
        self.max_length = max_length
        self.providers: list[Provider] = []
        self.size = 0
        self._heap: list = []
        self._seq = 0

    def full(self) -> bool:
        return self.max_length is not None and self.size >= self.max_length

    def push(self, client) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (client.priority, client.listed, self._seq, client))
        client.on_list = True
        self.size += 1

    def pop(self):
        heap = self._heap
        while heap:
            client = heapq.heappop(heap)[3]
            if client.on_list:
                client.on_list = False
                self.size -= 1
                return client
        return None

    def discard(self, client) -> None:
        """The client leaves the list by other means (withdrawal, review, outside contract)."""
        client.on_list = False
        self.size -= 1

    def first(self, eligible: Callable[[object], bool]):
        """The client first in line (priority, then joining order) among those waiting for whom
        ``eligible(client)`` holds, or None; it stays on the list."""
        entries = [e for e in self._heap if e[3].on_list and eligible(e[3])]
        return min(entries, key=lambda e: e[:3])[3] if entries else None

    def waiting(self) -> list:
        return [entry[3] for entry in self._heap if entry[3].on_list]

    def joined_times(self) -> np.ndarray:
        """When each client still waiting joined the list."""
        return np.fromiter((e[1] for e in self._heap if e[3].on_list), float)


class Provider:
    """A provider's BW places. ``capacity`` may drop below ``occupied``: then
    nobody is admitted until enough residents have left."""

    def __init__(self, name: str, capacity: int, waitlist: Waitlist, bridging: bool, pgb: bool = False):
        self.name = name
        self.pgb = pgb  # PGB-funded places (financing: pgb); the rest are zorg in natura
        self.capacity = capacity
        self.occupied = 0
        self.above: list = []  # residents placed above contract (overschrijding), first placed first
        self.waitlist = waitlist
        self.bridging = bridging
        waitlist.providers.append(self)


class SlotPool:
    """A pool of slots (bridging care, ambulant support) with a FIFO queue.

    ``start(client)`` is called when a slot is given; it returns False when the
    client no longer wants it (e.g. was placed while queued), and the slot goes
    to the next in line. ``capacity=None`` means unlimited.
    """

    def __init__(self, capacity: int | None):
        self.capacity = capacity
        self.busy = 0
        self._queue: deque = deque()

    def _has_room(self) -> bool:
        return self.capacity is None or self.busy < self.capacity

    def try_acquire(self) -> bool:
        """Take a slot if one is free now; never queue."""
        if self._has_room():
            self.busy += 1
            return True
        return False

    def request(self, client, start: Callable[[object], bool]) -> bool:
        """Give a slot now (True) or queue the client (False)."""
        if self._has_room():
            self.busy += 1
            start(client)
            return True
        self._queue.append((client, start))
        return False

    def release(self) -> None:
        self.busy -= 1
        while self._queue and self._has_room():
            client, start = self._queue.popleft()
            self.busy += 1
            if not start(client):
                self.busy -= 1


class Contingent:
    """Contingentwoningen for BW residents who are ready to leave, FIFO.

    Units arrive in batches (see ``world``); a unit that finds nobody waiting is
    lost to other groups unless ``carry_over``. A cancelled request stays in the
    queue, marked, and is skipped when it reaches the head (cancelling is O(1)).
    """

    def __init__(self, env, carry_over: bool):
        self.env = env
        self.carry_over = carry_over
        self.stock = 0
        self._queue: deque = deque()
        self._cancelled: set = set()

    def request(self, client):
        """An event that succeeds when the client gets a home."""
        event = self.env.event()
        if self.stock > 0:
            self.stock -= 1
            event.succeed(client)
        else:
            self._queue.append(event)
        return event

    def cancel(self, event) -> None:
        """The client no longer waits (it left care early, or took a unit of the housing stock); a
        home already given stays given."""
        if not event.triggered:
            self._cancelled.add(event)

    def release(self, units: int) -> int:
        """Hand out ``units`` homes; returns how many went to BW residents."""
        given = 0
        while units > 0 and self._queue:
            event = self._queue.popleft()
            if event in self._cancelled:
                self._cancelled.remove(event)
                continue
            event.succeed()
            units -= 1
            given += 1
        if self.carry_over:
            self.stock += units
        return given


class HousingStock:
    """A stock of homes whose units free only when the tenant leaves (omklapwoningen, Housing
    First, Skaeve Huse), with a FIFO queue of residents ready to leave.

    A request is an event that succeeds when a unit is offered; the unit is then held for the
    client. A client who takes another home instead cancels its request: O(1) while it waits (it
    stays in the queue, marked, and is skipped at the head), and a unit already offered goes to
    the next in line. ``units`` may drop below ``occupied``: units close as tenants leave.
    ``tenants`` are those holding a unit; each leaves exactly once (``vacate``).
    """

    def __init__(self, env, units: int, on_occupied: Callable[[int], None]):
        self.env = env
        self.units = units
        self.occupied = 0  # units held: by tenants, or offered to a client not yet moved in
        self.tenants: set = set()
        self._on_occupied = on_occupied
        self._queue: deque = deque()
        self._cancelled: set = set()

    def _hold(self) -> None:
        self.occupied += 1
        self._on_occupied(+1)

    def request(self, client):
        """An event that succeeds, with the day, when a unit is offered to the client."""
        event = self.env.event()
        if self.occupied < self.units:
            self._hold()
            event.succeed(self.env.now)
        else:
            self._queue.append(event)
        return event

    def cancel(self, event) -> None:
        """The client no longer wants a unit; one already offered goes to the next in line."""
        if event.triggered:
            self._free()
        else:
            self._cancelled.add(event)

    def move_in(self, tenant) -> None:
        """A tenant takes the unit held for it (or, on the start date, a unit free now)."""
        self.tenants.add(tenant)

    def occupy_now(self, tenant) -> None:
        """A tenancy running on the start date: a unit taken without a request."""
        self._hold()
        self.move_in(tenant)

    def vacate(self, tenant) -> None:
        """The tenant leaves; the unit goes to the next in line (a KeyError if it has left already)."""
        self.tenants.remove(tenant)
        self._free()

    def set_units(self, units: int) -> None:
        self.units = units
        self._serve()

    def _free(self) -> None:
        self.occupied -= 1
        self._on_occupied(-1)
        self._serve()

    def _serve(self) -> None:
        while self.occupied < self.units and self._queue:
            event = self._queue.popleft()
            if event in self._cancelled:
                self._cancelled.remove(event)
                continue
            self._hold()
            event.succeed(self.env.now)
