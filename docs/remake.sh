#!/usr/bin/env bash
# Make every published number and figure again, with the commands the README gives: the fit, the
# run, compare, sweep and verdeel figures in docs/, the Dutch example page, and the outputs the
# README's tables are read from (in results/docs-*). `make docs` runs it (about 15-30 minutes on
# 2 cores; `make docs DOCS_ARGS=--no-fit` keeps the stored fit). The rolling validation and the
# Morris screen are slower and have their own commands (calibration/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
BWSIM=${BWSIM:-.venv/bin/bwsim}
HAARLEM=scenarios/haarlem
OUT=results
fit=1
for arg in "$@"; do
  case $arg in
    --no-fit) fit=0 ;;
    *) echo "docs/remake.sh: unknown argument $arg (expected --no-fit)" >&2; exit 2 ;;
  esac
done

step() { printf '\n== %s\n' "$*"; }

if [ $fit = 1 ]; then
  step "the fit (calibration/haarlem/results)"
  $BWSIM calibrate calibration/haarlem/calibrate.yaml --out calibration/haarlem/results -w 2
fi

step "make demo's table and the run figures"
$BWSIM run $HAARLEM/baseline.yaml --replications 30 --seed 1 --out $OUT/docs-run
for f in waitlist occupied ready_to_leave bridged flows waiting_time; do cp $OUT/docs-run/$f.png docs/run-$f.png; done

step "the 50% path (README table and compare figures)"
$BWSIM compare $HAARLEM/{baseline,halve-intramural,halve-with-housing,halve-housing-thuis}.yaml -n 30 --seed 1 \
  --out $OUT/docs-compare
cp $OUT/docs-compare/waitlist.png docs/compare-waitlist.png
cp $OUT/docs-compare/blocked_place_years.png docs/compare-blocked.png
cp $OUT/docs-compare/cost.png docs/compare-cost.png

step "sweep"
$BWSIM sweep $HAARLEM/halve-intramural.yaml --param uitstroom.housing.contingent.extra_per_year=0:60:10 \
  --metric ready_to_leave --year 2022 --out $OUT/docs-sweep
cp $OUT/docs-sweep/sweep.png docs/sweep-ready_to_leave.png

step "target: extra homes, and beschermd thuis (README's answers)"
set +e  # exit 3: not reachable in the range, a result
$BWSIM target $HAARLEM/halve-intramural.yaml --param uitstroom.housing.contingent.extra_per_year --low 0 --high 200 \
  --metric waitlist --year 2022 --max 178 --probability 0.8 -n 30
$BWSIM target $HAARLEM/halve-housing-thuis.yaml --param beschermd_thuis.share --no-integer --low 0 --high 1 \
  --tolerance 0.01 --metric waitlist --year 2022 --max 178 --probability 0.8 -n 30
set -e

step "verdeel: the wethouder's question (README analysis and figures)"
$BWSIM verdeel $HAARLEM/halve-with-housing.yaml --set end=2033-01-01 -n 30 --seed 1 --out $OUT/docs-verdeel
for f in overview municipalities existing sensitivity; do cp $OUT/docs-verdeel/$f.png docs/verdeel-$f.png; done
cp $OUT/docs-verdeel/municipality-heemstede.png docs/verdeel-municipality-heemstede.png
$BWSIM verdeel $HAARLEM/halve-with-housing.yaml --set end=2033-01-01 -n 30 --seed 1 \
  --setting macro_budget=scenario_cost --out $OUT/docs-verdeel-neutral
cp $OUT/docs-verdeel-neutral/overview.png docs/verdeel-overview-budget-neutral.png

step "the Dutch example page"
$BWSIM verdeel $HAARLEM/baseline.yaml --set end=2033-01-01 -n 30 --seed 1 --lang nl --out $OUT/docs-nl
cp $OUT/docs-nl/gemeenten/heemstede.html docs/examples/gemeente-heemstede.nl.html
.venv/bin/python - <<'PY' || echo "no browser here: docs/examples/gemeente-heemstede.nl.png not made again"
from pathlib import Path
from tests.browser import browser
page_file = Path("docs/examples/gemeente-heemstede.nl.html").resolve()
with browser() as b:
    page = b.new_page(viewport={"width": 1000, "height": 1200})
    page.goto(page_file.as_uri())
    page.screenshot(path="docs/examples/gemeente-heemstede.nl.png", full_page=True)
PY
