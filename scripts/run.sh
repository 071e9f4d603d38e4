#!/usr/bin/env bash
# Starts VM Persona on this machine in the foreground: migrations, demo data, Redis,
# the local hypervisor testbed, the ASGI server (HTTP + websockets) and the workers.
# Ctrl-C stops everything this script started (by pid), nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY="$ROOT/.venv/bin/python"
export VMPERSONA_INSTANCE_DIR="${VMPERSONA_INSTANCE_DIR:-$ROOT/instance}"
HOST="${VMPERSONA_HOST:-127.0.0.1}"
PORT="${VMPERSONA_PORT:-8000}"
REDIS_PORT="${VMPERSONA_REDIS_PORT:-6390}"
STOP_GRACE="${VMPERSONA_STOP_GRACE:-30}"
# The instance folder and what is in it are this user's alone (vmpersona/instance.py).
mkdir -p -m 700 "$VMPERSONA_INSTANCE_DIR" "$VMPERSONA_INSTANCE_DIR/logs" "$VMPERSONA_INSTANCE_DIR/redis"
chmod 700 "$VMPERSONA_INSTANCE_DIR" "$VMPERSONA_INSTANCE_DIR/logs" "$VMPERSONA_INSTANCE_DIR/redis"
# Log files other programs open (Redis, daphne's access log, the workers' output) are
# made 0600 here first; the programs append to them and keep the mode.
for log in redis.log access.log workers.log; do
  (umask 077 && touch "$VMPERSONA_INSTANCE_DIR/logs/$log")
  chmod 600 "$VMPERSONA_INSTANCE_DIR/logs/$log"
done

PIDS=()
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "Stopping VM Persona..."
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  # Up to STOP_GRACE seconds to stop cleanly; then what is left, with its children, is
  # killed (a job a killed worker was running is rolled back by the next reaper pass).
  local waited=0
  while [ "$waited" -lt "$((STOP_GRACE * 10))" ]; do
    local alive=0
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
    waited=$((waited + 1))
  done
  for pid in "${PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      echo "process $pid did not stop within ${STOP_GRACE}s; killing it" >&2
      pkill -KILL -P "$pid" 2>/dev/null || true
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [ -n "${REDIS_PID:-}" ]; then kill "$REDIS_PID" 2>/dev/null || true; fi
  rm -f "$VMPERSONA_INSTANCE_DIR/redis-url"
  echo "Stopped."
}
trap cleanup INT TERM EXIT

# Redis: channel layer and queue broker, unless REDIS_URL points at one already. It
# asks for a password, generated once into the instance folder (0600). redis-server
# reads it from a 0600 config file and redis-cli from REDISCLI_AUTH, so it is never on
# a command line (which every local user sees in ps) and never printed.
if [ -z "${REDIS_URL:-}" ]; then
  REDIS_PASSWORD_FILE="$VMPERSONA_INSTANCE_DIR/redis-password"
  if [ ! -s "$REDIS_PASSWORD_FILE" ]; then
    (umask 077 && "$PY" -c 'import secrets; print(secrets.token_hex(32))' >"$REDIS_PASSWORD_FILE")
  fi
  chmod 600 "$REDIS_PASSWORD_FILE"
  REDIS_PASSWORD=$(<"$REDIS_PASSWORD_FILE")
  REDIS_CONF="$VMPERSONA_INSTANCE_DIR/redis/redis.conf"
  (umask 077 && printf 'requirepass %s\n' "$REDIS_PASSWORD" >"$REDIS_CONF")
  redis-server "$REDIS_CONF" --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$VMPERSONA_INSTANCE_DIR/redis" \
    --save "" --appendonly no --daemonize no --logfile "$VMPERSONA_INSTANCE_DIR/logs/redis.log" &
  REDIS_PID=$!
  # A hex password needs no escaping in a URL.
  export REDIS_URL="redis://:$REDIS_PASSWORD@127.0.0.1:$REDIS_PORT/0"
  for _ in $(seq 50); do
    REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  unset REDIS_PASSWORD
fi
# Commands run from another shell on this instance (manage.py persona clone ...) use
# this Redis too, so the workers started here get their jobs; removed on exit. It holds
# the password, so it is 0600 like the rest of the instance folder.
(umask 077 && echo "$REDIS_URL" >"$VMPERSONA_INSTANCE_DIR/redis-url")
chmod 600 "$VMPERSONA_INSTANCE_DIR/redis-url"

"$PY" manage.py migrate --noinput >/dev/null
"$PY" manage.py collectstatic --noinput >/dev/null
CREDS=$("$PY" manage.py seed_demo)

if "$PY" manage.py help persona >/dev/null 2>&1 && [ "${VMPERSONA_NO_TESTBED:-0}" != "1" ]; then
  if [ "$(id -u)" -eq 0 ]; then
    "$PY" manage.py persona testbed up || echo "warning: the local hypervisor testbed did not start; see above" >&2
  else
    echo "note: not root, so the local libvirt testbed is not started" >&2
  fi
fi

"$PY" -m daphne -b "$HOST" -p "$PORT" --access-log "$VMPERSONA_INSTANCE_DIR/logs/access.log" vmpersona.asgi:application &
PIDS+=($!)
"$PY" manage.py qcluster >>"$VMPERSONA_INSTANCE_DIR/logs/workers.log" 2>&1 &
PIDS+=($!)

for _ in $(seq 100); do
  curl -fsS "http://$HOST:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done

cat <<MSG

VM Persona is running.
  Web UI:     http://$HOST:$PORT/
  API docs:   http://$HOST:$PORT/api/docs/
  Admin:      http://$HOST:$PORT/admin/
$CREDS

Logs: $VMPERSONA_INSTANCE_DIR/logs/   Press Ctrl-C to stop.
MSG
wait -n "${PIDS[@]}"
echo "A process exited; shutting down." >&2
