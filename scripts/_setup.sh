# Shared set-up for scripts/*.sh: a virtualenv (.venv) with the package
# (editable) and everything to test, lint, type-check and document it, and
# redis-server for the scrapy-redis tests. Idempotent; needs python3 (3.10+)
# with venv, and PyPI.
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
# uv installs in seconds what pip takes minutes for; pip is the fallback.
if ! .venv/bin/python -m uv --version >/dev/null 2>&1; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check uv \
        || echo "could not install uv; installing with pip (slower)" >&2
fi
if .venv/bin/python -m uv --version >/dev/null 2>&1; then
    .venv/bin/python -m uv pip install --quiet --python .venv/bin/python -e '.[dev]'
else
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
fi
if ! command -v redis-server >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >/dev/null
    else
        echo "redis-server is missing and this is not root: install it (apt-get install redis-server)" >&2
    fi
fi
