#!/usr/bin/env bash
# One command on a fresh machine: install, then run the test suite (the same command CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The dashboard's browser tests drive Debian's chromium through its chromedriver.
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    if command -v apt-get >/dev/null; then
        SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver \
            >/dev/null
    else
        echo "test.sh: no apt-get; the dashboard's browser tests will be skipped" >&2
    fi
fi
# The service's PostgreSQL tests run against a real server: Debian's postgresql, started
# privately (own data directory and socket, no TCP) unless OBLIVIATE_TEST_PG_URL is given.
if [ -z "${OBLIVIATE_TEST_PG_URL:-}" ]; then
    if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && command -v apt-get >/dev/null
    then
        SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    fi
    PG_DIR=/tmp/obliviate-pg-$$
    if OBLIVIATE_TEST_PG_URL=$(bash scripts/pg_test_server.sh start "$PG_DIR"); then
        export OBLIVIATE_TEST_PG_URL
        trap 'bash scripts/pg_test_server.sh stop "$PG_DIR"' EXIT
    else
        echo "test.sh: could not start PostgreSQL; its tests will be skipped" >&2
    fi
fi
.venv/bin/ruff check src tests benchmarks
.venv/bin/mypy
.venv/bin/python -m pytest -q "$@"
