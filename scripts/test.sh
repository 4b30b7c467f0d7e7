#!/usr/bin/env bash
# Set up .venv with the test extras (first run only), install the system tools
# some tests need where this machine allows it, then run the whole suite (on 2 workers).
#   scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_bootstrap.sh
bootstrap_venv test
echo "test.sh: checking the system tools some tests need (scripts/install_test_tools.sh says what it installs and why)" >&2
scripts/install_test_tools.sh || echo "test.sh: some system test tools could not be installed; their tests will say so" >&2
# Two xdist workers: the real-time tests run one at a time on one of them (tests/conftest.py), the
# rest of the suite on both. Add -n 0 to run in this one process (e.g. to see -s output).
exec .venv/bin/python -m pytest -n 2 --dist loadgroup "$@"
