#!/usr/bin/env bash
# The project's own processes in the background, for `make run` / `make stop`: each runs
# as `python -m <package>` with the addresses from .local/services.env, logs to
# .local/logs/<name>.log and keeps its pid in .local/pids/<name>.pid.
#
# Usage: scripts/apps.sh start    start every app below that is not running; wait until healthy
#        scripts/apps.sh stop     stop every process with a pid file in .local/pids/
#        scripts/apps.sh status
#
# One of each by default; RA_GATEWAYS, RA_WORKERS, RA_QUERY_APIS and RA_APP_APIS run more
# (docs/operations.md, "Running more than one of each"), e.g.
#        RA_GATEWAYS=3 RA_WORKERS=3 RA_QUERY_APIS=2 make run
# With RA_SHARD_DATABASES set, each further shard gets a worker per lane (docs/scaling.md).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PIDS="$ROOT/.local/pids"
LOGS="$ROOT/.local/logs"
ENV_FILE="$ROOT/.local/services.env"
PYTHON=${PYTHON:-python}
HEALTH_TIMEOUT=30
EVENTS_PARTITIONS=12  # contracts/topics.py: a worker past this many in a group owns none

count() {
  local name=$1 value=${2:-1}
  [[ $value =~ ^[1-9][0-9]*$ ]] || { printf '[apps] error: %s must be a whole number from 1, not "%s"\n' "$name" "$value" >&2; exit 2; }
  echo "$value"
}
GATEWAYS=$(count RA_GATEWAYS "${RA_GATEWAYS:-}")
WORKERS=$(count RA_WORKERS "${RA_WORKERS:-}")
QUERY_APIS=$(count RA_QUERY_APIS "${RA_QUERY_APIS:-}")
APP_APIS=$(count RA_APP_APIS "${RA_APP_APIS:-}")

# The first copy keeps the plain name (as with one of each); the others are NAME-2, NAME-3...
copy_name() { if [ "$2" -eq 1 ]; then echo "$1"; else echo "$1-$2"; fi; }

# One line per app: name | package | extra environment (space-separated KEY=VALUE) |
# health URL. A new service is one more line here. The HTTP services' copies share one
# port (SO_REUSEPORT, the kernel spreading connections over them), so clients keep one
# address; each is healthy when its URL answers and the copy itself listens there. Stream
# workers: each copy of the main lane's has its own instance id (static membership), port
# and data directory, all in one consumer group sharing the topic's partitions; the
# overflow lane's (contracts/lanes.py, a hot project's events) runs once.
APPS=()
for n in $(seq "$GATEWAYS"); do
  APPS+=("$(copy_name ingest_gateway "$n") | ingest_gateway | RA_INGEST_PORT=8080 RA_INGEST_REUSE_PORT=true | http://127.0.0.1:8080/health")
done
for n in $(seq "$WORKERS"); do
  name=$(copy_name stream_workers "$n")
  port=$((n == 1 ? 6066 : 6066 + n))  # 6067 is the overflow lane's
  APPS+=("$name | stream_workers | RA_WORKER_PORT=$port RA_WORKER_INSTANCE_ID=worker-$n RA_WORKER_DATA_DIR=.local/$name | http://127.0.0.1:$port/health")
done
APPS+=("stream_workers_overflow | stream_workers | RA_WORKER_LANE=overflow RA_WORKER_PORT=6067 RA_WORKER_INSTANCE_ID=overflow-1 RA_WORKER_DATA_DIR=.local/stream_workers_overflow | http://127.0.0.1:6067/health")
# Sharded (RA_SHARD_DATABASES="name=url ...", contracts/shards.py): each further shard's
# projects are applied by workers of their own, one per lane, in consumer groups of their own.
port=6100
shards=${RA_SHARD_DATABASES:-}
read -ra shard_items <<<"${shards//,/ }"
for item in "${shard_items[@]}"; do
  shard=${item%%=*}
  for lane in main overflow; do
    name=stream_workers_${shard}_$lane
    APPS+=("$name | stream_workers | RA_WORKER_SHARD=$shard RA_WORKER_LANE=$lane RA_WORKER_PORT=$port RA_WORKER_INSTANCE_ID=$shard-$lane-1 RA_WORKER_DATA_DIR=.local/$name | http://127.0.0.1:$port/health")
    port=$((port + 1))
  done
done
for n in $(seq "$QUERY_APIS"); do
  APPS+=("$(copy_name query_api "$n") | query_api | RA_QUERY_PORT=8082 RA_QUERY_REUSE_PORT=true | http://127.0.0.1:8082/health")
done
for n in $(seq "$APP_APIS"); do
  APPS+=("$(copy_name app_api "$n") | app_api | RA_APP_PORT=8081 RA_APP_REUSE_PORT=true | http://127.0.0.1:8081/health")
done

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

# The URL answers 200 and the process PID itself listens on the URL's port: with copies
# sharing a port, another copy may have answered.
healthy() {
  "$PYTHON" -c '
import os, sys, urllib.parse, urllib.request
url, pid = sys.argv[1], sys.argv[2]
try:
    with urllib.request.urlopen(url, timeout=1) as response:
        if response.status != 200:
            sys.exit(1)
except OSError:
    sys.exit(1)
port = urllib.parse.urlsplit(url).port
sockets = set()
try:
    fds = os.listdir(f"/proc/{pid}/fd")
except OSError:  # exited meanwhile
    sys.exit(1)
for fd in fds:
    try:
        sockets.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
    except OSError:
        pass
for table in ("/proc/net/tcp", "/proc/net/tcp6"):
    try:
        rows = open(table).read().splitlines()[1:]
    except FileNotFoundError:
        continue
    for row in rows:
        f = row.split()
        if f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port and f"socket:[{f[9]}]" in sockets:
            sys.exit(0)
sys.exit(1)
' "$1" "$2"
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
  local name=$1 package=$2 url=$3 deadline=$((SECONDS + HEALTH_TIMEOUT)) pid
  until pid=$(app_pid "$name" "$package") && [ -n "$pid" ] && healthy "$url" "$pid"; do
    if [ $SECONDS -ge $deadline ] || [ -z "$(app_pid "$name" "$package")" ]; then
      tail -n 30 "$LOGS/$name.log" >&2 || true
      die "$name did not answer $url within ${HEALTH_TIMEOUT}s"
    fi
    sleep 0.2
  done
  log "$name: healthy at $url"
}

# Apps with a live pid file that the list above does not hold (more copies were started
# with larger RA_* counts than the ones now set).
unlisted() {
  local file name pid app listed
  for file in "$PIDS"/*.pid; do
    [ -e "$file" ] || continue
    name=$(basename "$file" .pid)
    listed=false
    for app in "${APPS[@]}"; do [ "$(field "$app" 1)" = "$name" ] && listed=true; done
    pid=$(cat "$file" 2>/dev/null || true)
    if [ "$listed" = false ] && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then echo "$name"; fi
  done
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
    if [ "$WORKERS" -gt "$EVENTS_PARTITIONS" ]; then
      log "warning: RA_WORKERS=$WORKERS; the events topic has $EVENTS_PARTITIONS partitions, so $((WORKERS - EVENTS_PARTITIONS)) of them will idle"
    fi
    for app in "${APPS[@]}"; do
      start_app "$(field "$app" 1)" "$(field "$app" 2)" "$(field "$app" 3)"
    done
    for app in "${APPS[@]}"; do
      wait_healthy "$(field "$app" 1)" "$(field "$app" 2)" "$(field "$app" 4)"
    done
    for name in $(unlisted); do
      log "$name: running, beyond the copies asked for now (scripts/apps.sh stop stops it)"
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
    for name in $(unlisted); do
      echo "$name  running  pid $(cat "$PIDS/$name.pid")  (beyond the copies asked for now)"
    done
    ;;
  *)
    sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
