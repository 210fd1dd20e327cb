"""Re-introduce each defect of issue "every journey whole" into a copy of the fixed model and
check that the test written for it goes red (run: make defects; nothing here is changed).
"""
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SRC = str(Path(__file__).resolve().parent.parent)
CASES = [
 ("initial waiters never leave", "sim/model/world.py",
  "            if (yield c.placed_event) is WITHDRAWN:\n                return\n",
  "            if (yield c.placed_event) is WITHDRAWN or stage == \"waiting\":\n                return\n",
  "tests/test_journeys.py::test_clients_waiting_at_the_start_are_placed_and_leave"),
 ("initial waiters never leave (liveness)", "sim/model/world.py",
  "            if (yield c.placed_event) is WITHDRAWN:\n                return\n",
  "            if (yield c.placed_event) is WITHDRAWN or stage == \"waiting\":\n                yield self.env.event()\n",
  "tests/test_journeys.py::test_every_client_still_on_the_pathway_has_a_live_journey"),
 ("1 zero-day bridging", "sim/model/world.py",
  "        for provider in wl.providers:\n            self.fill(provider)\n        if c.on_list and c.profile",
  "        if self.providers[c.provider].bridging:\n            c.bridge_queued = True\n            self.set_state(c)\n            self.bridging.request(c, self._start_bridging)\n        for provider in wl.providers:\n            self.fill(provider)\n        if c.on_list and c.profile",
  "tests/test_journeys.py::test_nobody_placed_on_arrival_is_bridged"),
 ("2 outside-contract gauge left in the old cohort", "sim/record/monitor.py",
  "            self.change(state, +1, group)\n            for gauge in gauges:\n                self.change(gauge, +1, group)",
  "            self.change(state, +1, group)\n            for gauge in gauges:\n                self.change(gauge, +1, old_group)",
  "tests/test_journeys.py::test_outside_contract_placements_are_attributed_to_the_clients_cohort"),
 ("3 dated changes inside the year-end stock", "sim/model/world.py",
  "                env.run(until=day)", "                env.run(until=day + 1e-9)",
  "tests/test_levers.py::test_year_end_stocks_hold_only_what_happened_before_1_january"),
 ("4 resident profiles by inflow share", "sim/model/fates.py",
  "    weights = np.array([p.share * p.stay.mean_days() for p in profiles])",
  "    weights = np.array([p.share for p in profiles])",
  "tests/test_journeys.py::test_equilibrium_start_with_two_profiles_and_early_exits"),
 ("4 residual ignores early exits", "sim/model/fates.py",
  "            keep = rng.random(BLOCK) < np.exp(-rate * elapsed)",
  "            keep = rng.random(BLOCK) < 2.0",
  "tests/test_journeys.py::test_equilibrium_start_with_two_profiles_and_early_exits"),
 ("5 fates in blocks of n clients", "sim/model/world.py",
  "            self.enter(self.new_client(\"\", i))",
  "            self.enter(self.new_client(f\"{len(times)}.\", i))",
  "tests/test_journeys.py::test_one_more_arrival_leaves_everyone_elses_fate"),
 ("5 relapse fates in event order", "sim/model/world.py",
  "        c = self.new_client(\"relapse.\" + old.family, old.index)",
  "        c = self.new_client(\"relapse.\", self._next_id)",
  "tests/test_journeys.py::test_a_relapse_gets_its_fate_from_the_person_who_relapses"),
 ("6 no early exit while ready to leave", "sim/model/world.py",
  "        if c.early_at < self.calendar.horizon:\n            yield home |",
  "        if False:\n            yield home |",
  "tests/test_journeys.py::test_residents_waiting_for_a_home_can_still_leave_early"),
 ("7 part months get a whole month", "sim/model/calendar.py",
  "        return (self._bounds[i + 1] - self._bounds[i]) / month_days",
  "        return 1.0",
  "tests/test_journeys.py::test_part_months_get_their_part_of_the_contingent"),
 ("7 reviews dropped on an empty list", "sim/model/world.py",
  "            n = min(math.floor(owed + 1e-9), len(waiting))\n            if n == 0:\n                continue\n            owed -= n",
  "            n = min(math.floor(owed + 1e-9), len(waiting))\n            owed -= math.floor(owed + 1e-9)\n            if n == 0:\n                continue",
  "tests/test_journeys.py::test_reviews_owed_while_the_list_is_empty_are_done_later"),
 ("7 path and schedule both accepted", "sim/config/scenario.py",
  "            if scheduled:", "            if False:",
  "tests/test_journeys.py::test_a_capacity_path_and_a_provider_schedule_together_are_refused"),
 ("stay factor for everyone placed", "sim/model/world.py",
  "        length = c.stay * (self.sc.bridging.stay_factor if c.was_bridged else 1.0)",
  "        length = c.stay * self.sc.bridging.stay_factor",
  "tests/test_journeys.py::test_stay_factor_applies_only_to_clients_bridged_while_waiting"),
]
only = sys.argv[1:]
green = []
for name, path, old, new, test in CASES:
    if only and not any(o in name for o in only):
        continue
    dst = str(Path(tempfile.gettempdir()) / "bwsim-defects")
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(SRC, dst, ignore=shutil.ignore_patterns(".venv", ".git", "results", "work", "__pycache__", ".hypothesis"))
    text = open(f"{dst}/{path}").read()
    assert text.count(old) == 1, (name, "pattern not found once")
    open(f"{dst}/{path}", "w").write(text.replace(old, new))
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", test],
                       cwd=dst, env={"PYTHONPATH": dst, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
    print(f"{'RED  ' if r.returncode else 'GREEN'} {name}: {test.split('::')[1]}", flush=True)
    if not r.returncode:
        green.append(name)
if green:
    sys.exit(f"{len(green)} defect(s) not caught: {', '.join(green)}")
print("every defect put back turns its test red")
