# Shared set-up for scripts/*.sh: a virtualenv with the package and its test
# dependencies, and redis-server for the scrapy-redis tests. Idempotent.
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
if ! command -v redis-server >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >/dev/null
    else
        echo "redis-server is missing and this is not root: install it (apt-get install redis-server)" >&2
    fi
fi
