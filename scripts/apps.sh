#!/usr/bin/env bash
# The project's own processes in the background, for `make run` / `make stop`: each runs
# as `python -m <package>` with the addresses from .local/services.env, logs to
# .local/logs/<name>.log and keeps its pid in .local/pids/<name>.pid.
#
# Usage: scripts/apps.sh start    start every app below that is not running; wait until healthy
#        scripts/apps.sh stop     stop every process with a pid file in .local/pids/
#        scripts/apps.sh status
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PIDS="$ROOT/.local/pids"
LOGS="$ROOT/.local/logs"
ENV_FILE="$ROOT/.local/services.env"
PYTHON=${PYTHON:-python}
HEALTH_TIMEOUT=30

# One line per app: name | package | extra environment (space-separated KEY=VALUE) |
# health URL. A new service is one more line here. The stream workers run twice: one per
# lane (contracts/lanes.py), the overflow lane's consuming a hot project's events.
APPS=(
  "ingest_gateway | ingest_gateway | RA_INGEST_PORT=8080 | http://127.0.0.1:8080/health"
  "stream_workers | stream_workers | RA_WORKER_PORT=6066 RA_WORKER_INSTANCE_ID=worker-1 | http://127.0.0.1:6066/health"
  "stream_workers_overflow | stream_workers | RA_WORKER_LANE=overflow RA_WORKER_PORT=6067 RA_WORKER_INSTANCE_ID=overflow-1 RA_WORKER_DATA_DIR=.local/stream_workers_overflow | http://127.0.0.1:6067/health"
  "query_api | query_api | RA_QUERY_PORT=8082 | http://127.0.0.1:8082/health"
  "app_api | app_api | RA_APP_PORT=8081 | http://127.0.0.1:8081/health"
)

log() { printf '[apps] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

field() { local v; v=$(cut -d'|' -f"$2" <<<"$1"); v=${v#"${v%%[! ]*}"}; echo "${v%"${v##*[! ]}"}"; }

# Alive and still our app: a pid file left by a crash may name a reused pid.
app_pid() {
  local name=$1 package=$2 pid cmdline
  pid=$(cat "$PIDS/$name.pid" 2>/dev/null || true)
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null \
    && cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) \
    && [[ $cmdline == *"-m $package"* ]] \
    && echo "$pid" || true
}

healthy() {
  "$PYTHON" -c '
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=1) as response:
        sys.exit(0 if response.status == 200 else 1)
except OSError:
    sys.exit(1)
' "$1"
}

start_app() {
  local name=$1 package=$2 extra=$3 pid
  pid=$(app_pid "$name" "$package")
  if [ -n "$pid" ]; then
    log "$name: running (pid $pid)"
    return
  fi
  log "$name: starting (log: ${LOGS#"$ROOT/"}/$name.log)"
  # setsid: a session of its own, so it outlives `make run` and ignores the terminal's
  # Ctrl-C; the child writes its own pid before exec, so the pid file names the app.
  # shellcheck disable=SC2086  # $extra is KEY=VALUE words on purpose
  (
    cd "$ROOT"
    set -a
    . "$ENV_FILE"
    set +a
    exec setsid env $extra bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$PIDS/$name.pid" \
      "$PYTHON" -m "$package" >>"$LOGS/$name.log" 2>&1 </dev/null
  ) &
}

wait_healthy() {
  local name=$1 package=$2 url=$3 deadline=$((SECONDS + HEALTH_TIMEOUT))
  until healthy "$url"; do
    if [ $SECONDS -ge $deadline ] || [ -z "$(app_pid "$name" "$package")" ]; then
      tail -n 30 "$LOGS/$name.log" >&2 || true
      die "$name did not answer $url within ${HEALTH_TIMEOUT}s"
    fi
    sleep 0.2
  done
  log "$name: healthy at $url"
}

stop_pidfile() {
  local file=$1 name pid
  name=$(basename "$file" .pid)
  pid=$(cat "$file" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    log "$name: stopping (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && { log "$name: still up after 10s; killing it"; kill -KILL "$pid"; }
  fi
  rm -f "$file"
}

case "${1:-}" in
  start)
    [ -f "$ENV_FILE" ] || die "no $ENV_FILE; run scripts/services.sh start first"
    mkdir -p "$PIDS" "$LOGS"
    for app in "${APPS[@]}"; do
      start_app "$(field "$app" 1)" "$(field "$app" 2)" "$(field "$app" 3)"
    done
    for app in "${APPS[@]}"; do
      wait_healthy "$(field "$app" 1)" "$(field "$app" 2)" "$(field "$app" 4)"
    done
    ;;
  stop)
    # Every pid file, not just the list above: an app dropped from the list still stops.
    for file in "$PIDS"/*.pid; do if [ -e "$file" ]; then stop_pidfile "$file"; fi; done
    ;;
  status)
    for app in "${APPS[@]}"; do
      name=$(field "$app" 1)
      pid=$(app_pid "$name" "$(field "$app" 2)")
      if [ -n "$pid" ]; then echo "$name  running  pid $pid"; else echo "$name  stopped"; fi
    done
    ;;
  *)
    sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
