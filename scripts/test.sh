#!/usr/bin/env bash
# Sets up everything from nothing and runs the whole test suite:
#   bash scripts/test.sh            (extra arguments go to pytest)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_setup.sh
exec .venv/bin/python -m pytest "$@"
