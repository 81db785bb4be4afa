#!/usr/bin/env bash
# Runs one of Apache Kafka's command-line tools from the jars scripts/services.sh
# resolved, as bin/kafka-*.sh would in a Kafka distribution (which we do not have).
#
# Usage: scripts/kafka-tool.sh <alias|main-class> [tool args...]
#   scripts/kafka-tool.sh topics --bootstrap-server 127.0.0.1:PORT --describe --topic events
#   scripts/kafka-tool.sh consumer-groups --bootstrap-server 127.0.0.1:PORT --describe --group G
#   scripts/kafka-tool.sh console-consumer --bootstrap-server 127.0.0.1:PORT --topic events --from-beginning
# The broker address is in .local/services.env (RA_KAFKA_BOOTSTRAP).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if [ $# -lt 1 ]; then
  sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi

# Same cache path rule as scripts/services.sh (the version comes from the pom);
# RA_KAFKA_LIBS wins so a caller holding services.env needs nothing else.
if [ -z "${RA_KAFKA_LIBS:-}" ]; then
  version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$ROOT/scripts/kafka/pom.xml")
  RA_KAFKA_LIBS="${RA_CACHE_DIR:-$HOME/.cache/realanalytics}/kafka-$version/libs"
fi
if [ ! -f "$RA_KAFKA_LIBS/.resolved" ]; then
  echo "kafka-tool: no Kafka jars in $RA_KAFKA_LIBS; run scripts/services.sh start first" >&2
  exit 1
fi

# Class names checked against the 4.1.1 jars; they are what Kafka's own bin/ scripts run.
# Since Kafka 4.0 most tools live in org.apache.kafka.tools (kafka-tools jar); only the
# storage tool and the config command are still Scala classes in the kafka_2.13 jar.
tool=$1
shift
case "$tool" in
  topics)           main=org.apache.kafka.tools.TopicCommand ;;
  consumer-groups)  main=org.apache.kafka.tools.consumer.group.ConsumerGroupCommand ;;
  console-consumer) main=org.apache.kafka.tools.consumer.ConsoleConsumer ;;
  console-producer) main=org.apache.kafka.tools.ConsoleProducer ;;
  get-offsets)      main=org.apache.kafka.tools.GetOffsetShell ;;
  metadata-quorum)  main=org.apache.kafka.tools.MetadataQuorumCommand ;;
  configs)          main=kafka.admin.ConfigCommand ;;
  storage)          main=kafka.tools.StorageTool ;;
  *.*)              main=$tool ;;
  *) echo "kafka-tool: unknown alias '$tool' (give a main class or one of: topics consumer-groups console-consumer console-producer get-offsets metadata-quorum configs storage)" >&2
     exit 2 ;;
esac

exec java -Xmx256m -Djava.awt.headless=true \
  -Dlog4j2.configurationFile="$ROOT/scripts/kafka/tools-log4j2.properties" \
  -cp "$RA_KAFKA_LIBS/*" "$main" "$@"
