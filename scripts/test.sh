#!/usr/bin/env bash
# Sets up everything from nothing and runs every check CI runs (.ci/run):
#   bash scripts/test.sh            the whole suite on the newest releases (tox -e latest),
#                                   the tests marked "min" on the oldest supported
#                                   releases (tox -e min), ruff, mypy and the docs build
#   bash scripts/test.sh ARGS...    only pytest ARGS, in .venv (e.g. tests/wds -x -q)
# The whole tox matrix (adds Python 3.10 and 3.13 runs of the whole suite): .venv/bin/tox
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_setup.sh
if [ $# -gt 0 ]; then
    exec .venv/bin/python -m pytest "$@"
fi

overrides=()
if ! command -v python3.10 >/dev/null 2>&1; then
    # The oldest supported Python is not on this machine: run the oldest
    # supported libraries on the Python there is, and say so.
    echo "NOTE: python3.10 not found; tox -e min runs on $(python3 --version) instead" >&2
    overrides=(--override "testenv:min.base_python=python3")
fi
started=$SECONDS
.venv/bin/tox run -e latest,min,lint,mypy,docs "${overrides[@]}"
echo "All checks passed in $((SECONDS - started)) s (plus set-up)."
