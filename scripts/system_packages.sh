#!/usr/bin/env bash
# The Debian packages this project needs, in one list, installed when missing.
# Used by `make system` (so `make run`, `make test` and .ci/run share one path) and by
# scripts/services.sh before it starts a server.
#
# Usage: scripts/system_packages.sh [servers|tools|all]   (default: all)
#   servers  PostgreSQL 15 (+ postgresql-hll), Redis, Java 17 and Maven (the Kafka jars)
#   tools    what only tests and checks use: docker-compose (compose.yaml checks),
#            Node.js (the browser SDK's unit tests), Chromium (browser tests),
#            promtool from Prometheus (the alerting rules' checks)
#
# As root (or with passwordless sudo) missing packages are installed and a failed
# install fails the script. Without either, the servers are required (they cannot run
# without their package) while a missing tool only prints a warning: the tests that need
# it skip and say why.
set -euo pipefail

log() { printf '[system] %s\n' "$*" >&2; }

# name | present when this command succeeds | Debian package
SERVERS=(
  "postgresql|test -x /usr/lib/postgresql/15/bin/initdb|postgresql-15"
  "postgresql-hll|test -f /usr/share/postgresql/15/extension/hll.control|postgresql-15-hll"
  "redis|command -v redis-server|redis-server"
  "java|command -v java|openjdk-17-jre-headless"
  "maven|command -v mvn|maven"
)
TOOLS=(
  "docker-compose|command -v docker-compose|docker-compose"
  "node|command -v node|nodejs"
  "chromium|test -x /usr/bin/chromium|chromium"
  "promtool|command -v promtool|prometheus"
)

missing_of() {
  local entry check package
  for entry in "$@"; do
    check=$(cut -d'|' -f2 <<<"$entry")
    package=$(cut -d'|' -f3 <<<"$entry")
    bash -c "$check" >/dev/null 2>&1 || printf '%s\n' "$package"
  done
}

installer() {
  if [ "$(id -u)" = 0 ]; then
    echo ""
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    echo "sudo -n"
  else
    return 1
  fi
}

install_packages() {
  local prefix
  prefix=$(installer) || return 1
  log "apt-get install $*"
  $prefix env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $prefix env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

case "${1:-all}" in
  servers) required=("${SERVERS[@]}") optional=() ;;
  tools) required=() optional=("${TOOLS[@]}") ;;
  all) required=("${SERVERS[@]}") optional=("${TOOLS[@]}") ;;
  *) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac

mapfile -t need < <(missing_of "${required[@]}")
mapfile -t want < <(missing_of "${optional[@]}")
all=("${need[@]}" "${want[@]}")
[ ${#all[@]} -gt 0 ] || exit 0

if installer >/dev/null; then
  install_packages "${all[@]}"
  exit 0
fi
if [ ${#need[@]} -gt 0 ]; then
  log "error: missing ${need[*]}; install them (apt-get install ${need[*]}) or run as root"
  exit 1
fi
log "warning: missing ${want[*]} and not root: the tests that need them will skip"
log "         (apt-get install ${want[*]} as root, or run 'make system' as root)"
