#!/usr/bin/env bash
# Runs the whole suite. Starts what the tests need (the libvirt testbed, Redis and, with
# --postgres, a PostgreSQL cluster) and stops what it started, also on failure.
#   scripts/test.sh [--postgres] [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY="$ROOT/.venv/bin/python"
USE_PG=0
if [ "${1:-}" = "--postgres" ]; then USE_PG=1; shift; fi

STATE=$(mktemp -d /tmp/vmpersona-test.XXXXXX)
export VMPERSONA_INSTANCE_DIR="$STATE/instance"
mkdir -p "$VMPERSONA_INSTANCE_DIR"
REDIS_PID=""
PG_STARTED=0
TESTBED_STARTED=0

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$REDIS_PID" ]; then kill "$REDIS_PID" 2>/dev/null || true; wait "$REDIS_PID" 2>/dev/null || true; fi
  if [ "$TESTBED_STARTED" = 1 ] && [ "${VMPERSONA_KEEP_TESTBED:-0}" != 1 ]; then
    bash scripts/testbed.sh down >/dev/null 2>&1 || true
  fi
  if [ "$PG_STARTED" = 1 ]; then pg_ctlcluster 15 main stop >/dev/null 2>&1 || true; fi
  rm -rf "$STATE"
  exit $rc
}
trap cleanup EXIT INT TERM

# Redis on a port of its own, for the channel layer and queue tests.
REDIS_PORT="${VMPERSONA_TEST_REDIS_PORT:-6391}"
if command -v redis-server >/dev/null; then
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir "$STATE" --logfile "$STATE/redis.log" --daemonize no &
  REDIS_PID=$!
  for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  export VMPERSONA_TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
fi

# The two-host libvirt testbed for integration tests (root only).
if [ -f scripts/testbed.sh ] && [ "$(id -u)" -eq 0 ] && [ "${VMPERSONA_SKIP_INTEGRATION:-0}" != 1 ]; then
  # The tiny guest every integration test boots (rebuilt only when its inputs changed).
  bash scripts/build-guest-image.sh || echo "The guest image could not be built; integration tests will fail." >&2
  if bash scripts/testbed.sh up; then
    TESTBED_STARTED=1
  else
    echo "The libvirt testbed did not start; integration tests will fail." >&2
  fi
fi

if [ "$USE_PG" = 1 ]; then
  if ! pg_lsclusters -h | awk '$1=="15" && $2=="main" && $4=="online"' | grep -q .; then
    pg_ctlcluster 15 main start
    PG_STARTED=1
  fi
  PGPORT=$(pg_lsclusters -h | awk '$1=="15" && $2=="main" {print $3}')
  PGPASS=$(openssl rand -hex 16)
  su postgres -c "psql -q -p $PGPORT -v ON_ERROR_STOP=1" <<SQL
DO \$\$BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'vmpersona_test') THEN
    CREATE ROLE vmpersona_test LOGIN CREATEDB;
  END IF;
END\$\$;
ALTER ROLE vmpersona_test PASSWORD '$PGPASS';
SQL
  export DATABASE_URL="postgres://vmpersona_test:$PGPASS@127.0.0.1:$PGPORT/vmpersona_test"
  echo "Running the suite on PostgreSQL (port $PGPORT)"
fi

"$PY" -m pytest "$@"
