#!/usr/bin/env bash
# Run the test suite: ./run_tests.sh [pytest arguments]
# Same bootstrap as run_all.sh; the notebook tests execute every notebook in the smoke profile.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/bootstrap.sh
# one worker per core (pytest-xdist); the tests that read the smoke study share one worker; -n 0: no workers
exec python -m pytest -n auto --dist loadgroup "$@"
