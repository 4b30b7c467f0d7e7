#!/usr/bin/env bash
# Set up .venv with the test extras (first run only), install the system tools
# some tests need where this machine allows it, then run the whole suite (on 5 workers).
#   scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_bootstrap.sh
bootstrap_venv test
echo "test.sh: checking the system tools some tests need (scripts/install_test_tools.sh says what it installs and why)" >&2
scripts/install_test_tools.sh || echo "test.sh: some system test tools could not be installed; their tests will say so" >&2
# Five xdist workers on CI's 2 cores (tests/realtime_group.py): the real-time tests one at a time on one,
# the slow scenarios one at a time on another, the rest (niced) on the other three and then on all. The suite
# waits far more than it computes (at 5 workers the 2 cores are ~2/3 busy), so the run is the longer of the
# two timed units and a fifth of all the tests' time (docs/testing.md, twelfth pass). Add -n 0 to run in this
# one process (e.g. to see -s output).
exec .venv/bin/python -m pytest -n 5 --dist loadgroup "$@"
