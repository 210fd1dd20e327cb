"""What a replication records.

Three kinds of record, all kept here and nowhere else in the model:

* **levels** — how many clients are in each state (and a few other gauges such
  as places), each with its time integral, so that averages over any period and
  place-days are exact;
* **flows** — events counted per record interval (a month);
* **journeys** — one row per client leaving the waitlist (joined, left, how), so
  waits of those placed and times on the list can be summarised as registries do.

Levels, their integrals and flows are also kept per attribution group — the
municipality of origin (the woonplaatsbeginsel) and the cohort (in care before the
cohort date or not) — so that every day of care can be attributed. An optional
event log (one row per transition) is kept only when asked for.
"""

from __future__ import annotations

from array import array

import numpy as np

from ..model.calendar import Calendar
from ..model.states import FLOWS, LEVEL, LEVELS, RECORD_TIMES, STATES


class Monitor:
    """The recorder of one replication: the world calls it on every change; it never changes a client."""

    def __init__(self, calendar: Calendar, env, groups: int = 1, log_events: bool = False,
                 keep_clients: bool = True):
        self.calendar = calendar
        self.env = env
        n = len(LEVELS)
        self.level = [0] * n
        self.area = [0.0] * n
        self._since = [0.0] * n
        self.groups = groups
        self.group_level = [[0] * groups for _ in range(n)]
        self.group_area = [[0.0] * groups for _ in range(n)]
        self._group_since = [[0.0] * groups for _ in range(n)]
        self.flows = np.zeros((len(FLOWS), calendar.n_intervals), dtype=np.int64)
        self.group_flows = np.zeros((len(FLOWS), calendar.n_intervals, groups), dtype=np.int64)
        self.snap_levels = np.zeros((len(calendar.dates), n), dtype=np.int64)
        self.snap_area = np.zeros((len(calendar.dates), n))
        self.snap_group_levels = np.zeros((len(calendar.dates), n, groups), dtype=np.int64)
        self.snap_group_area = np.zeros((len(calendar.dates), n, groups))
        self.snap_entries = np.zeros(len(calendar.dates), dtype=np.int64)
        self.snap_waited: list[np.ndarray] = []
        # the flows of clients in (or leaving) a PGB-funded place (its stocks are levels: pgb_places, pgb_occupied)
        self.pgb_flows = np.zeros((len(FLOWS), calendar.n_intervals), dtype=np.int64)
        # one row per client leaving the waitlist, in typed arrays (plain numbers, no Python object each)
        self._j_join = array("d")
        self._j_leave = array("d")
        self._j_how = array("b")
        self._j_profile = array("h")
        self.entries = 0
        # every client, in the order they entered (see client_records); None when not asked for,
        # so that a client who has left is freed and a large region's memory stays that of its stocks
        self.clients: list | None = [] if keep_clients else None
        self.events: list[tuple] | None = [] if log_events else None

    # -- levels
    def change(self, level: int, delta: int, group: int = -1) -> None:
        """Change a level by ``delta``; with an attribution group, the group's level as well."""
        now = self.env.now
        self.area[level] += self.level[level] * (now - self._since[level])
        self._since[level] = now
        self.level[level] += delta
        if group >= 0:
            group_level, since = self.group_level[level], self._group_since[level]
            self.group_area[level][group] += group_level[group] * (now - since[group])
            since[group] = now
            group_level[group] += delta

    def observe(self, client, before: tuple | None, after: tuple) -> None:
        """The model changed a client: ``(state, gauges, group)`` before (None for a new
        client) and after. Levels move here and nowhere else; the monitor never changes a client."""
        now_entering = before is None
        state, gauges, group = after
        if now_entering:
            self.entries += 1
            if self.clients is not None:
                self.clients.append(client)
            old_state, old_gauges, old_group = -1, (), group
        else:
            old_state, old_gauges, old_group = before
        if old_group != group:  # everything the client holds moves to the new group
            if old_state >= 0:
                self.change(old_state, -1, old_group)
            for gauge in old_gauges:
                self.change(gauge, -1, old_group)
            self.change(state, +1, group)
            for gauge in gauges:
                self.change(gauge, +1, group)
        else:  # only what changed
            if state != old_state:
                if old_state >= 0:
                    self.change(old_state, -1, group)
                self.change(state, +1, group)
            if gauges != old_gauges:
                for gauge in old_gauges:
                    if gauge not in gauges:
                        self.change(gauge, -1, group)
                for gauge in gauges:
                    if gauge not in old_gauges:
                        self.change(gauge, +1, group)
        if self.events is not None and (now_entering or old_state != state):
            self.events.append((self.env.now, client.id, client.municipality, LEVELS[state]))

    # -- flows and journeys
    def count(self, flow: int, client=None, n: int = 1) -> None:
        i = self.calendar.interval(self.env.now)
        self.flows[flow, i] += n
        if client is not None:
            self.group_flows[flow, i, client.group] += n
            place = client.place
            if place is not None and place.pgb:
                self.pgb_flows[flow, i] += n

    def left_waitlist(self, client, how: int) -> None:
        self._j_join.append(client.listed)
        self._j_leave.append(self.env.now)
        self._j_how.append(how)
        self._j_profile.append(client.profile)

    def event_log(self) -> dict[str, np.ndarray] | None:
        """One row per state change: day, client, municipality index, the state entered."""
        if self.events is None:
            return None
        day, client, municipality, state = zip(*self.events) if self.events else ((),) * 4
        return {"day": np.asarray(day, float), "client": np.asarray(client, np.int64),
                "municipality": np.asarray(municipality, np.int32), "state": np.asarray(state, object)}

    def journeys(self) -> dict[str, np.ndarray]:
        return {
            "joined": np.array(self._j_join, dtype=float),
            "left": np.array(self._j_leave, dtype=float),
            "how": np.array(self._j_how, dtype=np.int8),
            "profile": np.array(self._j_profile, dtype=np.int16),
        }

    def client_records(self, replication: int = 0) -> dict[str, np.ndarray]:
        """One row per client, as Ciw keeps one per individual: who (replication, id, family,
        municipality, profile, provider), when (see RECORD_TIMES), how it left beschermd wonen
        (destination: independent, intramural, died_or_moved, early, withdrawn,
        removed_by_review, turned_away or beschermd_thuis; empty while still in the list or a
        place at the end of the run), the state at the end, the days
        spent blocked (ready to leave), and the days in each state (``days_<state>``, open
        spells counted up to the end of the run)."""
        if self.clients is None:
            raise ValueError("client records were not kept: make the Monitor with keep_clients=True")
        now = self.env.now
        cs = self.clients
        days = np.array([c.days for c in cs], float).reshape(len(cs), len(STATES))
        if cs:
            days[np.arange(len(cs)), [c.state for c in cs]] += now - np.array([c.since for c in cs])
        out = {
            "replication": np.full(len(cs), replication, np.int64),
            "client": np.array([f"{replication}/{c.family}{c.index}" for c in cs], object),
            "start_stage": np.array([c.start_stage for c in cs], object),
            "municipality": np.array([c.municipality for c in cs], np.int32),
            "profile": np.array([c.profile for c in cs], np.int32),
            "provider": np.array([c.provider for c in cs], np.int32),
        }
        for name in RECORD_TIMES:
            out[name] = np.array([getattr(c, name) for c in cs], float)
        out["state_at_end"] = np.array([STATES[c.state] for c in cs], object)
        out["destination"] = np.array([c.outcome for c in cs], object)
        out["withdrawn"] = np.isin(out["destination"], ("withdrawn", "removed_by_review"))
        out["blocked_days"] = days[:, LEVEL["ready_to_leave"]]
        for i, state in enumerate(STATES):
            out[f"days_{state}"] = days[:, i]
        return out

    # -- snapshots
    def snapshot(self, index: int, waited_days: np.ndarray) -> None:
        now = self.env.now
        for i in range(len(LEVELS)):
            self.change(i, 0)  # bring every integral up to now
            group_level, group_area, since = self.group_level[i], self.group_area[i], self._group_since[i]
            for m in range(self.groups):
                group_area[m] += group_level[m] * (now - since[m])
                since[m] = now
        self.snap_levels[index] = self.level
        self.snap_area[index] = self.area
        self.snap_group_levels[index] = np.array(self.group_level).reshape(len(LEVELS), self.groups)
        self.snap_group_area[index] = np.array(self.group_area).reshape(len(LEVELS), self.groups)
        self.snap_entries[index] = self.entries
        self.snap_waited.append(waited_days)
