#!/usr/bin/env bash
# Apache Kafka 3.9 in KRaft mode (one broker that is also its own controller), from Maven Central
# jars run with the machine's Java 17. Usage: kafka.sh install|start|stop|status|topics
set -euo pipefail
source "$(dirname "$0")/lib.sh"

POM="$ROOT/deploy/local/kafka/pom.xml"
JARS="$CACHE/kafka-jars-$(sha256sum "$POM" | cut -c1-12)"
DIR="$RUN/kafka"
LOG="$LOGS/kafka.log"
PIDFILE="$DIR/kafka.pid"
PROPS="$DIR/server.properties"
BOOTSTRAP=127.0.0.1:9092
# The broker shares two cores and 24 GiB with Postgres, Redis and the services: a small heap.
HEAP_OPTS="-Xms256m -Xmx768m"

# Topics of the message path, with explicit partition counts (auto-creation is off).
# 12 partitions: the most persistence workers one group can usefully run; rooms hash over them.
TOPICS=("chat.messages:12" "chat.messages.dlq:3")

install() {
  [[ -f $JARS/.complete ]] && return 0
  command -v mvn >/dev/null || fail "mvn is needed to fetch the Kafka jars"
  rm -rf "$JARS"
  mkdir -p "$JARS"
  mvn -B -q -Dstyle.color=never -f "$POM" dependency:copy-dependencies -DoutputDirectory="$JARS" -DincludeScope=runtime ||
    fail "could not fetch the Kafka jars from Maven Central"
  touch "$JARS/.complete"
}

java_cp() { java -cp "$JARS/*" -Dlog4j.configuration="file:$ROOT/deploy/local/kafka/log4j.properties" "$@"; }

configure() {
  mkdir -p "$DIR/data"
  sed "s|@DATA@|$DIR/data|" "$ROOT/deploy/local/kafka/server.properties" >"$PROPS"
  if [[ ! -f $DIR/data/meta.properties ]]; then
    local cluster_id
    cluster_id=$(java_cp kafka.tools.StorageTool random-uuid 2>>"$LOG")
    java_cp kafka.tools.StorageTool format -t "$cluster_id" -c "$PROPS" --ignore-formatted >>"$LOG" 2>&1 ||
      fail "kafka storage format failed; its log is $LOG"
  fi
}

# A metadata request: the broker answers only once it is the active controller and a broker.
answers() { java_cp org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" --list; }

start() {
  install
  if ! pid_alive "$PIDFILE"; then
    configure
    KAFKA_LOG_DIR="$DIR" nohup java $HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
      -Djava.awt.headless=true -Dkafka.logs.dir="$DIR" \
      -cp "$JARS/*" -Dlog4j.configuration="file:$ROOT/deploy/local/kafka/log4j.properties" \
      kafka.Kafka "$PROPS" >>"$LOG" 2>&1 &
    echo $! >"$PIDFILE"
  fi
  wait_until kafka "$LOG" 90 answers
  topics
  say "kafka ready on $BOOTSTRAP (log $LOG)"
}

topics() {
  local existing spec name partitions
  existing=$(answers 2>/dev/null)
  for spec in "${TOPICS[@]}"; do
    name=${spec%%:*}
    partitions=${spec##*:}
    grep -qx "$name" <<<"$existing" && continue
    java_cp org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" --create \
      --if-not-exists --topic "$name" --partitions "$partitions" --replication-factor 1 >>"$LOG" 2>&1 ||
      fail "could not create topic $name; the log is $LOG"
  done
}

stop() { stop_pid kafka "$PIDFILE" 30; }

status() { pid_alive "$PIDFILE" && say "kafka: running" || say "kafka: stopped"; }

"${1:?usage: kafka.sh install|start|stop|status|topics}"
