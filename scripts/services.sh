#!/usr/bin/env bash
# Real PostgreSQL 15, Redis and Kafka (KRaft, one node) for development and tests, all
# private to this checkout: state under <repo>/.local/, ports on 127.0.0.1 only.
#
# Usage: scripts/services.sh start [postgres|redis|kafka]   start all, or one (idempotent)
#        scripts/services.sh stop  [postgres|redis|kafka]   stop all, or one (data is kept)
#        scripts/services.sh clean                          stop all, delete all their data
#        scripts/services.sh status                         what runs, on which port
#        scripts/services.sh env                            print .local/services.env
#
# `start` reuses whatever already runs, keeping its port, so a developer's stack and the
# test fixtures share one set of servers. Ports are picked free on first start and kept in
# .local/ports.env; a remembered port that something else took meanwhile is replaced.
# .local/services.env holds plain KEY=VALUE lines (no quotes, no `export`) so that both
# `set -a; . .local/services.env` and a five-line Python parser read it.
#
# Environment: RA_STATE_DIR (where this server set keeps its state, default <repo>/.local;
#              another directory is another, independent set: its own ports, data and
#              PostgreSQL cluster, as the fault suite's under .local/faults),
#              RA_CACHE_DIR (Kafka jar cache, default ~/.cache/realanalytics),
#              RA_EVENTS_TOPIC / RA_OVERFLOW_TOPIC / RA_CONTROL_TOPIC
#              (default events / <events>-overflow / control).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -n "${RA_STATE_DIR:-}" ]; then STATE=$(realpath -m -- "$RA_STATE_DIR"); else STATE=$ROOT/.local; fi
PORTS_FILE="$STATE/ports.env"
ENV_FILE="$STATE/services.env"

PG_BIN=/usr/lib/postgresql/15/bin
PG_USER=realanalytics      # role, password and database share this name
REDIS_HOME="$STATE/redis"
KAFKA_HOME="$STATE/kafka"
KAFKA_POM="$ROOT/scripts/kafka/pom.xml"
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$KAFKA_POM")
KAFKA_LIBS="${RA_CACHE_DIR:-$HOME/.cache/realanalytics}/kafka-$KAFKA_VERSION/libs"
KAFKA_TOOL="$ROOT/scripts/kafka-tool.sh"
EVENTS_TOPIC=${RA_EVENTS_TOPIC:-events}
OVERFLOW_TOPIC=${RA_OVERFLOW_TOPIC:-$EVENTS_TOPIC-overflow}
CONTROL_TOPIC=${RA_CONTROL_TOPIC:-control}
KAFKA_READY_TIMEOUT=90
SERVICES=(postgres redis kafka)

log() { printf '[services] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- packages -------------------------------------------------------------------------

# One list of packages for the whole project (scripts/system_packages.sh); installing
# is its job, this script only asks for the servers' packages before starting them.
ensure_packages() {
  "$ROOT/scripts/system_packages.sh" servers || die "missing server packages (see above)"
}

# --- ports ----------------------------------------------------------------------------

PG_PORT= REDIS_PORT= KAFKA_PORT= KAFKA_CONTROLLER_PORT=
# shellcheck disable=SC1090
[ -f "$PORTS_FILE" ] && . "$PORTS_FILE"

save_ports() {
  mkdir -p "$STATE"
  cat >"$PORTS_FILE" <<EOF
PG_PORT=$PG_PORT
REDIS_PORT=$REDIS_PORT
KAFKA_PORT=$KAFKA_PORT
KAFKA_CONTROLLER_PORT=$KAFKA_CONTROLLER_PORT
EOF
}

# Binding (with SO_REUSEADDR, as the servers do) is the only test that also catches a
# port held by a listener on 0.0.0.0 or by a socket not yet accepting.
port_free() {
  python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
' "$1"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Below the kernel's ephemeral range (32768+), so outgoing connections never sit on a
# port we mean to reuse at the next start.
pick_port() {
  local p taken=" $PG_PORT $REDIS_PORT $KAFKA_PORT $KAFKA_CONTROLLER_PORT "
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 12000))
    [[ $taken == *" $p "* ]] && continue
    port_free "$p" && { echo "$p"; return; }
  done
  die "no free port found in 20000-31999"
}

# Keep the remembered port when it is still free, else take a new one.
claim_port() {
  local var=$1 old=${!1}
  if [ -n "$old" ] && port_free "$old"; then return; fi
  printf -v "$var" '%s' "$(pick_port)"
  [ -z "$old" ] || log "port $old ($var) is taken by another process; using ${!var}"
}

# Every address goes into services.env even before its service first starts, so the
# file is always complete; a port handed out here is re-checked when that service starts.
assign_missing_ports() {
  local var
  for var in PG_PORT REDIS_PORT KAFKA_PORT KAFKA_CONTROLLER_PORT; do
    [ -n "${!var}" ] || printf -v "$var" '%s' "$(pick_port)"
  done
}

write_env() {
  assign_missing_ports
  save_ports
  # Written aside and renamed: services and tests may read it while a start runs.
  cat >"$ENV_FILE.tmp" <<EOF
RA_DATABASE_URL=postgresql://$PG_USER:$PG_USER@127.0.0.1:$PG_PORT/$PG_USER
RA_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0
RA_KAFKA_BOOTSTRAP=127.0.0.1:$KAFKA_PORT
RA_KAFKA_LIBS=$KAFKA_LIBS
RA_PG_BIN=$PG_BIN
EOF
  mv "$ENV_FILE.tmp" "$ENV_FILE"
}

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
# A pid file can outlive a reboot and point at an unrelated process: check its command.
pid_runs() {
  local cmdline
  pid_alive "$1" && cmdline=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) && [[ $cmdline == *"$2"* ]]
}
read_pid() { [ -f "$1" ] && cat "$1" || true; }

# SIGTERM, wait, then SIGKILL: brokers and databases get the chance to close cleanly.
stop_pid() {
  local pid=$1 name=$2 wait_s=$3
  pid_alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq $((wait_s * 5))); do pid_alive "$pid" || return 0; sleep 0.2; done
  log "$name (pid $pid) still up after ${wait_s}s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
  while pid_alive "$pid"; do sleep 0.1; done
}

# --- PostgreSQL ---------------------------------------------------------------------------

# initdb and postgres refuse to run as root, so as root they run as the `postgres` OS
# user the Debian package creates; a developer running as themselves uses their own user.
as_pg() {
  if [ "$(id -u)" = 0 ]; then
    # cd /: the caller's directory may be unreadable to postgres (pg_ctl calls getcwd).
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

# The cluster lives in .local/pg unless the `postgres` user cannot reach that folder (a
# checkout under /root, say) or the socket path would pass the kernel's 107-byte limit;
# then it lives in /var/tmp and .local/pg is a symlink to it, so the layout looks the same.
# All local state still goes with .local/: a cluster outside whose link is gone was left
# by a removed .local/ and is deleted before a new one is made (kept, its old offsets met
# an empty Kafka: issue 16); `clean` deletes it with the rest.
# Named after the checkout for the default state directory, after the state directory for
# any other (RA_STATE_DIR), so two server sets never share a cluster.
pg_outside() {
  local owner=$ROOT
  [ "$STATE" = "$ROOT/.local" ] || owner=$STATE
  echo "/var/tmp/realanalytics-$(printf '%s' "$owner" | cksum | cut -d' ' -f1)/pg"
}

forget_orphaned_cluster() {
  local orphan
  orphan=$(pg_outside)
  if [ -e "$STATE/pg" ] || [ ! -d "$orphan" ]; then return 0; fi
  if pg_running "$orphan/data"; then
    die "postgres still runs from $orphan/data, whose link .local/pg was removed; stop it ($PG_BIN/pg_ctl -D $orphan/data stop) or link it back (ln -s $orphan $STATE/pg)"
  fi
  log "postgres: deleting $orphan, left by a removed .local/ (local state lives in .local/)"
  rm -rf "$orphan"
  rmdir "$(dirname "$orphan")" 2>/dev/null || true
}

pg_home() {
  if [ -e "$STATE/pg" ]; then readlink -f "$STATE/pg"; return; fi
  forget_orphaned_cluster
  mkdir -p "$STATE"
  local home="$STATE/pg"
  if { [ "$(id -u)" = 0 ] && ! as_pg test -x "$STATE"; } || [ ${#home} -gt 80 ]; then
    home=$(pg_outside)
    mkdir -p "$home"
    ln -s "$home" "$STATE/pg"
    log "postgres: cluster kept in $home (linked from .local/pg)"
  else
    mkdir -p "$home"
  fi
  echo "$home"
}

pg_running() {
  local data=$1
  [ -f "$data/postmaster.pid" ] && as_pg "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1
}

pg_psql() {
  PGPASSWORD=$PG_USER "$PG_BIN/psql" -X -q -t -A -v ON_ERROR_STOP=1 \
    -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" "$@"
}

start_postgres() {
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || die "no 'postgres' OS user to run PostgreSQL as (reinstall postgresql-15)"
  fi
  local home data
  home=$(pg_home)
  data="$home/data"

  if pg_running "$data"; then
    PG_PORT=$(sed -n 4p "$data/postmaster.pid")   # the port the running server really uses
    log "postgres: running (pid $(head -1 "$data/postmaster.pid")) on 127.0.0.1:$PG_PORT"
    return
  fi
  claim_port PG_PORT

  if [ ! -f "$data/PG_VERSION" ]; then
    log "postgres: initdb in $data"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$home"
    chmod 700 "$home"
    local pwfile="$home/.pwfile"
    printf '%s\n' "$PG_USER" >"$pwfile"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$pwfile"
    # scram for TCP, so the URL's password is really checked, as in production; trust on
    # the private socket, which only this user can open. C collation keeps sort order
    # identical on every machine.
    as_pg "$PG_BIN/initdb" -D "$data" -U "$PG_USER" --pwfile="$pwfile" \
      --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-locale >"$home/initdb.log" 2>&1 \
      || { rm -f "$pwfile"; cat "$home/initdb.log" >&2; die "initdb failed"; }
    rm -f "$pwfile"
    echo "include_if_exists = 'realanalytics.conf'" | as_pg tee -a "$data/postgresql.conf" >/dev/null
  fi

  # Rewritten at every start because the port may change. fsync and synchronous_commit
  # stay at their durable defaults: `make run` promises that a 200 is never lost.
  as_pg tee "$data/realanalytics.conf" >/dev/null <<EOF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$home'
max_connections = 200
shared_buffers = 256MB
# A batch locks each (month, project) table of the raw store it writes, with its two
# indexes (decision 0016): the default 64 a connection left ~12,800 slots in all, which a
# batch of 4,000+ projects exhausted ("out of shared memory"). 1024 x 200: ~55 MB shared.
max_locks_per_transaction = 1024
EOF

  log "postgres: starting on 127.0.0.1:$PG_PORT"
  if ! as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$home/postgres.log" -w -t 60 -s start 8>&- 9>&-; then
    tail -n 30 "$home/postgres.log" >&2 || true
    die "postgres did not start (log: $home/postgres.log)"
  fi
  if [ -z "$(pg_psql -d postgres -c "select 1 from pg_database where datname = '$PG_USER'")" ]; then
    pg_psql -d postgres -c "create database $PG_USER owner $PG_USER"
  fi
}

stop_postgres() {
  local home data
  [ -e "$STATE/pg" ] || return 0
  home=$(readlink -f "$STATE/pg")
  data="$home/data"
  pg_running "$data" || return 0
  log "postgres: stopping"
  as_pg "$PG_BIN/pg_ctl" -D "$data" -m fast -w -t 60 -s stop
}

status_postgres() {
  local data=
  [ -e "$STATE/pg" ] && data="$(readlink -f "$STATE/pg")/data"
  if [ -n "$data" ] && pg_running "$data"; then
    echo "postgres  running  pid $(head -1 "$data/postmaster.pid")  127.0.0.1:$(sed -n 4p "$data/postmaster.pid")"
  else
    echo "postgres  stopped"
    return 1
  fi
}

# --- Redis ----------------------------------------------------------------------------

redis_pid() {
  local pid
  pid=$(read_pid "$REDIS_HOME/redis.pid")
  pid_runs "$pid" redis-server && echo "$pid" || true
}

start_redis() {
  mkdir -p "$REDIS_HOME"
  local pid
  pid=$(redis_pid)
  if [ -n "$pid" ]; then
    log "redis: running (pid $pid) on 127.0.0.1:$REDIS_PORT"
    return
  fi
  claim_port REDIS_PORT
  # Redis holds the gateways' monthly quota reservations (contracts/usage.py) beside
  # rebuildable state, so it keeps an append-only file (fsync every second): a restart
  # keeps the reservations, and a crash loses at most a second of them.
  cat >"$REDIS_HOME/redis.conf" <<EOF
bind 127.0.0.1
port $REDIS_PORT
daemonize yes
pidfile $REDIS_HOME/redis.pid
logfile $REDIS_HOME/redis.log
dir $REDIS_HOME
save ""
appendonly yes
appendfsync everysec
EOF
  log "redis: starting on 127.0.0.1:$REDIS_PORT"
  redis-server "$REDIS_HOME/redis.conf" 8>&- 9>&-
  for _ in $(seq 100); do
    [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] && return
    sleep 0.1
  done
  tail -n 30 "$REDIS_HOME/redis.log" >&2 || true
  die "redis did not answer PING within 10s (log: $REDIS_HOME/redis.log)"
}

stop_redis() {
  local pid
  pid=$(redis_pid)
  [ -n "$pid" ] || return 0
  log "redis: stopping"
  stop_pid "$pid" redis 10
  rm -f "$REDIS_HOME/redis.pid"
}

status_redis() {
  local pid
  pid=$(redis_pid)
  if [ -n "$pid" ]; then echo "redis     running  pid $pid  127.0.0.1:$REDIS_PORT"
  else echo "redis     stopped"; return 1; fi
}

# --- Kafka ----------------------------------------------------------------------------

# The jars are resolved once per pom and shared by every checkout on the machine; the
# marker holds the pom's hash, so editing the pom resolves again. Resolving into a
# temporary folder and renaming keeps a failed download from looking complete.
ensure_kafka_libs() {
  local want cache
  want=$(sha256sum "$KAFKA_POM" | cut -c1-64)
  [ -f "$KAFKA_LIBS/.resolved" ] && [ "$(cat "$KAFKA_LIBS/.resolved")" = "$want" ] && return
  cache=$(dirname "$KAFKA_LIBS")
  mkdir -p "$cache"
  exec 8>"$cache/.lock"
  flock -w 600 8 || die "timed out waiting for another resolve of $KAFKA_LIBS"
  if [ ! -f "$KAFKA_LIBS/.resolved" ] || [ "$(cat "$KAFKA_LIBS/.resolved")" != "$want" ]; then
    log "kafka: resolving Kafka $KAFKA_VERSION jars from Maven Central into $KAFKA_LIBS"
    local tmp="$KAFKA_LIBS.tmp.$$"
    rm -rf "$tmp"
    # Output kept aside: Maven 3.8 prints stray colour codes even with -q -B.
    mvn -q -B -f "$KAFKA_POM" dependency:copy-dependencies -DoutputDirectory="$tmp" \
      >"$cache/mvn.log" 2>&1 \
      || { rm -rf "$tmp"; cat "$cache/mvn.log" >&2; die "mvn could not resolve $KAFKA_POM"; }
    echo "$want" >"$tmp/.resolved"
    rm -rf "$KAFKA_LIBS"
    mv "$tmp" "$KAFKA_LIBS"
  fi
  exec 8>&-
}

kafka_pid() {
  local pid
  pid=$(read_pid "$KAFKA_HOME/kafka.pid")
  pid_runs "$pid" kafka.Kafka && echo "$pid" || true
}

kafka_tool() { RA_KAFKA_LIBS=$KAFKA_LIBS "$KAFKA_TOOL" "$@"; }

write_kafka_config() {
  # The settings DESIGN.md lists, with a static voter set: KRaft then needs no
  # --standalone/--initial-controllers at format time, and a new controller port at a
  # later start is simply read from here.
  cat >"$KAFKA_HOME/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$KAFKA_HOME/logs
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
num.partitions=1
# Faust creates its changelog and repartition topics itself.
auto.create.topics.enable=true
EOF
}

kafka_fail() {
  log "kafka: $1; last lines of $KAFKA_HOME/server.log:"
  tail -n 40 "$KAFKA_HOME/server.log" >&2 2>/dev/null || true
  tail -n 20 "$KAFKA_HOME/stdout.log" >&2 2>/dev/null || true
  exit 1
}

# Port open is not enough: the broker must answer metadata requests. Listing topics
# with Kafka's own tool proves that, and the list tells which topics to create.
wait_for_kafka() {
  local pid=$1 deadline=$((SECONDS + KAFKA_READY_TIMEOUT)) out
  while [ $SECONDS -lt $deadline ]; do
    pid_alive "$pid" || kafka_fail "the broker exited during start-up"
    if port_open "$KAFKA_PORT" \
       && out=$(timeout 30 "$KAFKA_TOOL" topics --bootstrap-server "127.0.0.1:$KAFKA_PORT" --list 2>/dev/null); then
      printf '%s\n' "$out"
      return
    fi
    sleep 0.5
  done
  kafka_fail "no answer on 127.0.0.1:$KAFKA_PORT within ${KAFKA_READY_TIMEOUT}s"
}

ensure_topics() {
  local existing=$1
  create_topic() {   # name partitions [--config k=v]
    local name=$1 parts=$2
    shift 2
    grep -qxF "$name" <<<"$existing" && return
    log "kafka: creating topic $name ($parts partitions${*:+, $*})"
    kafka_tool topics --bootstrap-server "127.0.0.1:$KAFKA_PORT" --create --if-not-exists \
      --topic "$name" --partitions "$parts" --replication-factor 1 "$@" >/dev/null
  }
  # events: keyed by user, 12 partitions so workers can scale out; its overflow lane (a
  # hot project's events, contracts/lanes.py) the same. Both keep 7 days in segments of
  # one day, so a deleted person's events leave the log within 8 days (docs/privacy.md).
  # control: the latest config per key is all that matters, so compaction keeps it small.
  local events_retention=(--config retention.ms=604800000 --config segment.ms=86400000)
  create_topic "$EVENTS_TOPIC" 12 "${events_retention[@]}"
  create_topic "$OVERFLOW_TOPIC" 12 "${events_retention[@]}"
  create_topic "$CONTROL_TOPIC" 1 --config cleanup.policy=compact
}

start_kafka() {
  ensure_kafka_libs
  export RA_KAFKA_LIBS=$KAFKA_LIBS
  mkdir -p "$KAFKA_HOME"
  local pid topics
  pid=$(kafka_pid)
  if [ -n "$pid" ]; then
    log "kafka: running (pid $pid) on 127.0.0.1:$KAFKA_PORT"
    topics=$(wait_for_kafka "$pid")
    ensure_topics "$topics"
    return
  fi
  claim_port KAFKA_PORT
  claim_port KAFKA_CONTROLLER_PORT
  write_kafka_config

  if [ ! -f "$KAFKA_HOME/logs/meta.properties" ]; then
    [ -f "$KAFKA_HOME/cluster.id" ] || kafka_tool storage random-uuid >"$KAFKA_HOME/cluster.id"
    log "kafka: formatting $KAFKA_HOME/logs (cluster $(cat "$KAFKA_HOME/cluster.id"))"
    kafka_tool storage format -t "$(cat "$KAFKA_HOME/cluster.id")" \
      -c "$KAFKA_HOME/server.properties" >/dev/null
  fi

  log "kafka: starting on 127.0.0.1:$KAFKA_PORT (controller $KAFKA_CONTROLLER_PORT)"
  # setsid: a new session, so Ctrl-C in the terminal that ran pytest or make does not
  # reach the broker, and it outlives the shell that started it. The child writes its
  # own pid (then execs java) so the pid file is right however setsid forks.
  rm -f "$KAFKA_HOME/kafka.pid"
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$KAFKA_HOME/kafka.pid" \
    java -Xms256m -Xmx512m -Djava.awt.headless=true \
    -Dkafka.logs.dir="$KAFKA_HOME" \
    -Dlog4j2.configurationFile="$ROOT/scripts/kafka/log4j2.properties" \
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_HOME/server.properties" \
    >"$KAFKA_HOME/stdout.log" 2>&1 </dev/null 8>&- 9>&- &
  for _ in $(seq 50); do [ -s "$KAFKA_HOME/kafka.pid" ] && break; sleep 0.1; done
  pid=$(read_pid "$KAFKA_HOME/kafka.pid")
  topics=$(wait_for_kafka "$pid")
  ensure_topics "$topics"
}

stop_kafka() {
  local pid
  pid=$(kafka_pid)
  [ -n "$pid" ] || return 0
  log "kafka: stopping (pid $pid)"
  stop_pid "$pid" kafka 30
  rm -f "$KAFKA_HOME/kafka.pid"
}

status_kafka() {
  local pid
  pid=$(kafka_pid)
  if [ -n "$pid" ]; then echo "kafka     running  pid $pid  127.0.0.1:$KAFKA_PORT (controller $KAFKA_CONTROLLER_PORT)"
  else echo "kafka     stopped"; return 1; fi
}

# --- commands -------------------------------------------------------------------------

# One start/stop at a time per checkout: pytest-xdist workers, `make test` and a
# developer may all call `start` at once. Every server is started with fds 8 and 9
# closed: a daemon that inherited the lock would hold it for as long as it runs.
lock_state() {
  mkdir -p "$STATE"
  exec 9>"$STATE/.lock"
  flock -w 600 9 || die "timed out waiting for another services.sh to finish"
}

selected() {   # the services named on the command line, or all of them
  if [ $# -eq 0 ]; then printf '%s\n' "${SERVICES[@]}"; return; fi
  local s
  for s in "$@"; do
    case "$s" in postgres|redis|kafka) echo "$s" ;; *) die "unknown service '$s' (postgres|redis|kafka)" ;; esac
  done
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  start)
    targets=$(selected "$@")
    ensure_packages
    lock_state
    for s in $targets; do "start_$s"; save_ports; done
    write_env
    log "ready; addresses in ${ENV_FILE#"$ROOT/"}"
    ;;
  stop)
    # All of them: a server set kept inside this one (the fault suite's) stops too.
    if [ $# -eq 0 ]; then
      for nested in "$STATE"/*/ports.env; do
        if [ -e "$nested" ]; then RA_STATE_DIR=$(dirname "$nested") "${BASH_SOURCE[0]}" stop; fi
      done
    fi
    # Kafka first: nothing else depends on it, and it takes longest to close.
    targets=$(selected "$@" | tac)
    lock_state
    for s in $targets; do "stop_$s"; done
    ;;
  clean)
    # Every server's data and everything else under .local/ (ports, logs, pids, mail,
    # test logs), PostgreSQL's cluster too where it lives outside. Kept: the Kafka jar
    # cache (RA_CACHE_DIR), shared by every checkout on the machine. A server set kept
    # inside this one (RA_STATE_DIR=.local/faults, say) is cleaned first: its servers
    # stopped and its cluster outside deleted too.
    for nested in "$STATE"/*/ports.env; do
      if [ -e "$nested" ]; then RA_STATE_DIR=$(dirname "$nested") "${BASH_SOURCE[0]}" clean; fi
    done
    lock_state
    for s in kafka redis postgres; do "stop_$s"; done
    if [ -L "$STATE/pg" ] && [ "$(readlink -f "$STATE/pg")" != "$(pg_outside)" ]; then
      log "postgres: .local/pg links to $(readlink -f "$STATE/pg"), not made here: only the link goes"
    fi
    if [ -d "$(pg_outside)" ]; then
      log "postgres: deleting $(pg_outside)"
      rm -rf "$(pg_outside)"
      rmdir "$(dirname "$(pg_outside)")" 2>/dev/null || true
    fi
    log "deleting $STATE"
    rm -rf "$STATE"
    ;;
  status)
    rc=0
    for s in "${SERVICES[@]}"; do "status_$s" || rc=3; done
    exit $rc
    ;;
  env)
    [ -f "$ENV_FILE" ] || die "no $ENV_FILE yet; run scripts/services.sh start"
    cat "$ENV_FILE"
    ;;
  *)
    sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
