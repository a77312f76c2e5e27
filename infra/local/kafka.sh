#!/usr/bin/env bash
# Apache Kafka 3.9 (KRaft, combined broker + controller) from the broker jars on Maven Central:
# the classpath comes from infra/kafka/pom.xml via maven-dependency-plugin, then
# kafka.tools.StorageTool formats the data dir once and kafka.Kafka runs the broker.

KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$STACK_ROOT/infra/kafka/pom.xml")"
KAFKA_JARS="$ES_CACHE_DIR/kafka-$KAFKA_VERSION/libs"
KAFKA_DIR="$ES_STACK_DIR/kafka"
KAFKA_HEAP="${ES_KAFKA_HEAP:--Xms512m -Xmx1g}"

kafka_install() {
  [ -f "$KAFKA_JARS/.complete" ] && return
  command -v java >/dev/null || apt_install openjdk-17-jre-headless
  command -v mvn >/dev/null || apt_install maven
  log "fetching Kafka $KAFKA_VERSION broker jars from Maven Central (first run only)"
  local tmp="$KAFKA_JARS.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  mvn -q -B -Dstyle.color=never -f "$STACK_ROOT/infra/kafka/pom.xml" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" \
    >"$tmp.log" 2>&1 || { tail -20 "$tmp.log" >&2; die "mvn could not fetch the Kafka jars (log: $tmp.log)"; }
  ls "$tmp"/kafka_2.13-"$KAFKA_VERSION".jar >/dev/null 2>&1 || die "kafka_2.13-$KAFKA_VERSION.jar missing after mvn"
  touch "$tmp/.complete"
  rm -rf "$KAFKA_JARS"; mv "$tmp" "$KAFKA_JARS"; rm -f "$tmp.log"
  log "Kafka jars: $(find "$KAFKA_JARS" -name '*.jar' | wc -l) in $KAFKA_JARS"
}

kafka_render() { # template, output
  sed -e "s#@HOST@#$ES_BIND_HOST#g" -e "s#@PORT@#$ES_KAFKA_PORT#g" \
      -e "s#@CONTROLLER_PORT@#$ES_KAFKA_CONTROLLER_PORT#g" -e "s#@DATA_DIR@#$KAFKA_DIR/data#g" \
      -e "s#@LOG_FILE@#$LOG_DIR/kafka-server.log#g" "$1" >"$2"
}

kafka_java() { # main class and args; in the foreground
  java -Dlog4j.configuration="file:$KAFKA_DIR/log4j.properties" -cp "$KAFKA_JARS/*" "$@"
}

kafka_running() { pid_alive "$RUN_DIR/kafka.pid"; }

kafka_up() {
  kafka_install
  mkdir -p "$KAFKA_DIR" "$LOG_DIR"
  kafka_render "$STACK_ROOT/infra/kafka/server.properties.template" "$KAFKA_DIR/server.properties"
  kafka_render "$STACK_ROOT/infra/kafka/log4j.properties.template" "$KAFKA_DIR/log4j.properties"
  if kafka_running; then return; fi
  require_free_port "$ES_KAFKA_PORT" Kafka
  require_free_port "$ES_KAFKA_CONTROLLER_PORT" "the Kafka controller"
  if [ ! -f "$KAFKA_DIR/data/meta.properties" ]; then
    local cluster_id; cluster_id="$(kafka_java kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)"
    kafka_java kafka.tools.StorageTool format -t "$cluster_id" -c "$KAFKA_DIR/server.properties" \
      >"$LOG_DIR/kafka-format.log" 2>&1 || die "formatting Kafka storage failed (log: $LOG_DIR/kafka-format.log)"
  fi
  local mark; mark="$(wc -l <"$LOG_DIR/kafka-server.log" 2>/dev/null || echo 0)"
  # shellcheck disable=SC2086
  spawn kafka java $KAFKA_HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError \
    -Djava.awt.headless=true -Djava.net.preferIPv4Stack=true -Dlog4j.configuration="file:$KAFKA_DIR/log4j.properties" \
    -cp "$KAFKA_JARS/*" kafka.Kafka "$KAFKA_DIR/server.properties"
  # Ready = the broker logged its start (after this launch) and its client port answers.
  kafka_started() {
    kafka_running || return 2
    tail -n +"$((mark + 1))" "$LOG_DIR/kafka-server.log" 2>/dev/null | grep -q 'Kafka Server started' && port_open "$ES_KAFKA_PORT"
  }
  await_ready Kafka 90 kafka_started kafka_down "$LOG_DIR/kafka-server.log" "$LOG_DIR/kafka.log"
}

kafka_down() { stop_pidfile kafka 60; }

kafka_status() {
  if kafka_running && port_open "$ES_KAFKA_PORT"; then echo "kafka     up    $ES_BIND_HOST:$ES_KAFKA_PORT  (KRaft, $KAFKA_VERSION)"
  else echo "kafka     down"; fi
}
