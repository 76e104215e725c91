#!/usr/bin/env bash
# Run the whole study: ./run_all.sh [--profile smoke|quick|paper] [--jobs N]
# Creates and uses .venv (unless a virtual environment is already active), installs the package,
# then executes every notebook with papermill into reports/<profile>/. Reruns reuse finished work.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/bootstrap.sh
exec python -m lat_utils.runner "$@"
