#!/usr/bin/env bash
# Sets up everything from nothing and runs every check CI runs (.ci/run):
#   bash scripts/test.sh            the whole suite on the newest releases (tox -e latest),
#                                   the tests marked "min" on the oldest supported
#                                   releases (tox -e min), ruff, mypy and the docs build
#   bash scripts/test.sh --matrix   the whole tox matrix: the above plus whole-suite
#                                   runs on Python 3.10 and 3.13 (tox.ini)
#   bash scripts/test.sh ARGS...    only pytest ARGS, in .venv (e.g. tests/wds -x -q)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_setup.sh
if [ $# -gt 0 ] && [ "$1" != --matrix ]; then
    exec .venv/bin/python -m pytest "$@"
fi

if command -v pyenv >/dev/null 2>&1; then
    # pyenv's shims answer only for its selected versions (and tox passes
    # no PYENV_VERSION on): put every installed python3.X on PATH by name.
    mkdir -p .tox/pythons
    for python in "$(pyenv root)"/versions/3.*/bin/python3.[0-9]*; do
        [[ "$python" =~ python3\.[0-9]+$ ]] && ln -sf "$python" .tox/pythons/
    done
    export PATH="$PWD/.tox/pythons:$PATH"
fi
overrides=()
if ! python3.10 --version >/dev/null 2>&1; then
    # The oldest supported Python is not on this machine: run the oldest
    # supported libraries on the Python there is, and say so.
    echo "NOTE: python3.10 not found; tox -e min runs on $(python3 --version) instead" >&2
    overrides=(--override "testenv:min.base_python=python3")
fi
envs=(-e latest,min,lint,mypy,docs)
[ "${1:-}" = --matrix ] && envs=()  # tox.ini's env_list: all of them
started=$SECONDS
.venv/bin/tox run "${envs[@]}" "${overrides[@]}"
echo "All checks passed in $((SECONDS - started)) s (plus set-up)."
