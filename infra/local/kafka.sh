#!/usr/bin/env bash
# Apache Kafka 3.9 (KRaft, each node a combined broker + controller) from the broker jars on
# Maven Central: the classpath comes from infra/kafka/pom.xml via maven-dependency-plugin, then
# kafka.tools.StorageTool formats each node's data dir once and kafka.Kafka runs it.
# One node by default (small machines); ES_KAFKA_NODES=3 runs a three-node cluster (a quorum of
# three controllers; topics with three copies, two in sync), node n on client port
# ES_KAFKA_PORT + 2(n-1) and controller port ES_KAFKA_CONTROLLER_PORT + 2(n-1). A stack keeps the
# size it was formatted with; another size needs `stack.sh reset` (its events would be lost).

KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$STACK_ROOT/infra/kafka/pom.xml")"
KAFKA_JARS="$ES_CACHE_DIR/kafka-$KAFKA_VERSION/libs"
KAFKA_DIR="$ES_STACK_DIR/kafka"
KAFKA_HEAP="${ES_KAFKA_HEAP:--Xms512m -Xmx1g}"
# Authentication (docs/security.md, Kafka): `admin`, the nodes' own super user (SASL/PLAIN), and
# one SASL/SCRAM-SHA-256 principal per service plus `es-tools` (tests, benchmarks, the fault
# harness), the principals of infra/kafka/access.json. Their passwords are generated into the
# credentials file (`user:password` lines, mode 0600; KAFKA_PASSFILE) and reach Java and Node
# through files, never as arguments.
KAFKA_CREDENTIALS="$KAFKA_DIR/credentials"
KAFKA_USERS=(order-service inventory-service payment-service saga-orchestrator projection-service es-tools)

kafka_install() {
  [ -f "$KAFKA_JARS/.complete" ] && return
  log "fetching Kafka $KAFKA_VERSION broker jars from Maven Central (first run only)"
  local tmp="$KAFKA_JARS.tmp.$$"
  maven_fetch "$tmp" "the Kafka jars" -f "$STACK_ROOT/infra/kafka/pom.xml" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp"
  ls "$tmp"/kafka_2.13-"$KAFKA_VERSION".jar >/dev/null 2>&1 || die "kafka_2.13-$KAFKA_VERSION.jar missing after mvn"
  touch "$tmp/.complete"
  rm -rf "$KAFKA_JARS"; mv "$tmp" "$KAFKA_JARS"
  log "Kafka jars: $(find "$KAFKA_JARS" -name '*.jar' | wc -l) in $KAFKA_JARS"
}

# How many nodes: ES_KAFKA_NODES, else the size this stack was formatted with, else 1.
kafka_nodes() {
  local n="${ES_KAFKA_NODES:-}"
  [ -n "$n" ] || n="$(cat "$KAFKA_DIR/nodes" 2>/dev/null || echo 1)"
  case "$n" in 1|3) echo "$n" ;; *) die "ES_KAFKA_NODES must be 1 or 3, got '$n'" ;; esac
}
kafka_port() { echo $((ES_KAFKA_PORT + 2 * ($1 - 1))); }
kafka_controller_port() { echo $((ES_KAFKA_CONTROLLER_PORT + 2 * ($1 - 1))); }
kafka_name() { if [ "$1" = 1 ]; then echo kafka; else echo "kafka-$1"; fi; }
kafka_dir() { if [ "$1" = 1 ]; then echo "$KAFKA_DIR"; else echo "$KAFKA_DIR-$1"; fi; }

# The client addresses of every node, comma-separated (KAFKA_BROKERS).
kafka_brokers() {
  local n i out=""
  n="$(kafka_nodes)"
  for ((i = 1; i <= n; i++)); do out="${out:+$out,}$ES_BIND_HOST:$(kafka_port "$i")"; done
  echo "$out"
}

kafka_render() { # template, output, node, nodes
  local node="$3" nodes="$4" voters="" i rf=1 min_isr=1
  for ((i = 1; i <= nodes; i++)); do voters="${voters:+$voters,}$i@$ES_BIND_HOST:$(kafka_controller_port "$i")"; done
  if [ "$nodes" -ge 3 ]; then rf=3; min_isr=2; fi
  sed -e "s#@HOST@#$ES_BIND_HOST#g" -e "s#@PORT@#$(kafka_port "$node")#g" \
      -e "s#@CONTROLLER_PORT@#$(kafka_controller_port "$node")#g" \
      -e "s#@DATA_DIR@#$(kafka_dir "$node")/data#g" -e "s#@NODE_ID@#$node#g" -e "s#@VOTERS@#$voters#g" \
      -e "s#@RF@#$rf#g" -e "s#@MIN_ISR@#$min_isr#g" \
      -e "s#@LOG_FILE@#$LOG_DIR/$(kafka_name "$node")-server.log#g" "$1" >"$2"
}

kafka_java() { # main class and args; in the foreground
  java -Dlog4j.configuration="file:$KAFKA_DIR/log4j.properties" -cp "$KAFKA_JARS/*" "$@"
}

kafka_password() { sed -n "s/^$1://p" "$KAFKA_CREDENTIALS"; }

kafka_credentials() { # generates the passwords missing from the credentials file
  local user
  mkdir -p "$KAFKA_DIR"; chmod 700 "$KAFKA_DIR"
  [ -f "$KAFKA_CREDENTIALS" ] || { (umask 077 && : >"$KAFKA_CREDENTIALS"); }
  chmod 600 "$KAFKA_CREDENTIALS"
  for user in admin "${KAFKA_USERS[@]}"; do
    grep -q "^$user:" "$KAFKA_CREDENTIALS" || printf '%s:%s\n' "$user" "$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" >>"$KAFKA_CREDENTIALS"
  done
}

# The JAAS sections of a node's server.properties: `admin` for the nodes' PLAIN logins, and
# SCRAM (whose credentials the cluster's metadata holds) for the clients.
kafka_jaas() {
  local pw; pw="$(kafka_password admin)"
  local plain="org.apache.kafka.common.security.plain.PlainLoginModule required username=\"admin\" password=\"$pw\" user_admin=\"$pw\";"
  printf '\n# SASL logins (written by infra/local/kafka.sh)\n'
  printf 'listener.name.client.plain.sasl.jaas.config=%s\n' "$plain"
  printf 'listener.name.client.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;\n'
  printf 'listener.name.controller.plain.sasl.jaas.config=%s\n' "$plain"
}

# Java reads its arguments from an argument file (`java @file`): a password in it never shows
# in the process list. The file is removed once the JVM has read it.
kafka_java_secret_args() { # dir, then the arguments after the classpath
  local dir="$1" file; shift
  file="$(umask 077 && mktemp "$dir/args.XXXXXX")"
  printf '%s\n' "$@" >"$file"
  java -Dlog4j.configuration="file:$KAFKA_DIR/log4j.properties" -cp "$KAFKA_JARS/*" "@$file"
  local rc=$?
  rm -f "$file"
  return $rc
}

# SCRAM credentials for every user that cannot log in with the credentials file's password
# (a user added after the cluster was formatted; or all of them, when Kafka lost them: see
# infra/kafka/logins.mts), set as the super user; then the ACLs of infra/kafka/access.json,
# exactly (infra/kafka/provision.mts).
kafka_provision() {
  local user admin_props="$KAFKA_DIR/admin.properties" bootstrap node
  local -a lacking=()
  bootstrap="$ES_BIND_HOST:$(kafka_port 1)"
  node="$(identity_node)"
  (umask 077 && {
    echo "security.protocol=SASL_PLAINTEXT"
    echo "sasl.mechanism=PLAIN"
    printf 'sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="%s";\n' "$(kafka_password admin)"
  } >"$admin_props")
  # Node reads passfile.ts, of a package without "type", as the ES module it is: no warning.
  "$node" --disable-warning=ExperimentalWarning --disable-warning=MODULE_TYPELESS_PACKAGE_JSON \
    "$STACK_ROOT/infra/kafka/logins.mts" "$(kafka_brokers)" "$KAFKA_CREDENTIALS" "${KAFKA_USERS[@]}" \
    >"$KAFKA_DIR/lacking-logins" 2>>"$LOG_DIR/kafka-provision.log" \
    || die "checking the Kafka users' logins failed (log: $LOG_DIR/kafka-provision.log)"
  mapfile -t lacking <"$KAFKA_DIR/lacking-logins"
  for user in "${lacking[@]}"; do
    [ -n "$user" ] || continue
    log "Kafka user $user cannot log in: setting its SCRAM credential"
    kafka_java_secret_args "$KAFKA_DIR" kafka.admin.ConfigCommand --bootstrap-server "$bootstrap" \
      --command-config "$admin_props" --alter --entity-type users --entity-name "$user" \
      --add-config "SCRAM-SHA-256=[iterations=4096,password=$(kafka_password "$user")]" \
      >>"$LOG_DIR/kafka-provision.log" 2>&1 || die "creating Kafka user $user failed (log: $LOG_DIR/kafka-provision.log)"
  done
  "$node" --disable-warning=ExperimentalWarning --disable-warning=MODULE_TYPELESS_PACKAGE_JSON \
    "$STACK_ROOT/infra/kafka/provision.mts" \
    "$(kafka_brokers)" "$KAFKA_CREDENTIALS" >>"$LOG_DIR/kafka-provision.log" 2>&1 \
    || die "applying Kafka ACLs failed (log: $LOG_DIR/kafka-provision.log)"
}

kafka_node_running() { pid_alive "$RUN_DIR/$(kafka_name "$1").pid"; }

kafka_up() {
  kafka_install
  local nodes i dir cluster_id="" user
  nodes="$(kafka_nodes)"
  if [ -f "$KAFKA_DIR/data/meta.properties" ] && [ "$(cat "$KAFKA_DIR/nodes" 2>/dev/null || echo 1)" != "$nodes" ]; then
    die "this stack's Kafka was formatted with $(cat "$KAFKA_DIR/nodes" 2>/dev/null || echo 1) node(s), not $nodes: 'stack.sh reset' first (its topics are deleted), or run it with ES_KAFKA_NODES unset"
  fi
  mkdir -p "$KAFKA_DIR" "$LOG_DIR"
  echo "$nodes" >"$KAFKA_DIR/nodes"
  kafka_credentials
  # Every node of a cluster is formatted with the same cluster id.
  cluster_id="$(sed -n 's/^cluster.id=//p' "$KAFKA_DIR/data/meta.properties" 2>/dev/null || true)"
  [ -n "$cluster_id" ] || cluster_id="$(kafka_java kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)"
  local -a marks=()
  for ((i = 1; i <= nodes; i++)); do
    dir="$(kafka_dir "$i")"; mkdir -p "$dir"
    (umask 077 && kafka_render "$STACK_ROOT/infra/kafka/server.properties.template" "$dir/server.properties" "$i" "$nodes")
    kafka_jaas >>"$dir/server.properties"
    chmod 600 "$dir/server.properties"
    kafka_render "$STACK_ROOT/infra/kafka/log4j.properties.template" "$dir/log4j.properties" "$i" "$nodes"
    marks[i]="$(wc -l 2>/dev/null <"$LOG_DIR/$(kafka_name "$i")-server.log" || echo 0)"
    kafka_node_running "$i" && { marks[i]=running; continue; }
    require_free_port "$(kafka_port "$i")" "Kafka node $i"
    require_free_port "$(kafka_controller_port "$i")" "the Kafka controller of node $i"
    if [ ! -f "$dir/data/meta.properties" ]; then
      # A new cluster starts with its users' SCRAM credentials in its first metadata.
      local -a scram=()
      for user in "${KAFKA_USERS[@]}"; do
        scram+=(--add-scram "SCRAM-SHA-256=[name=$user,iterations=4096,password=$(kafka_password "$user")]")
      done
      kafka_java_secret_args "$dir" kafka.tools.StorageTool format -t "$cluster_id" -c "$dir/server.properties" \
        "${scram[@]}" >"$LOG_DIR/$(kafka_name "$i")-format.log" 2>&1 \
        || die "formatting Kafka storage of node $i failed (log: $LOG_DIR/$(kafka_name "$i")-format.log)"
    fi
    # shellcheck disable=SC2086
    spawn "$(kafka_name "$i")" java $KAFKA_HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError \
      -Djava.awt.headless=true -Djava.net.preferIPv4Stack=true -Dlog4j.configuration="file:$dir/log4j.properties" \
      -cp "$KAFKA_JARS/*" kafka.Kafka "$dir/server.properties"
  done
  # Ready = each node logged its start (after this launch) and its client port answers. The
  # nodes start together: a quorum of three elects its leader only once two are up.
  for ((i = 1; i <= nodes; i++)); do
    [ "${marks[i]}" = running ] && continue # up before this call
    KAFKA_NODE="$i" KAFKA_MARK="${marks[i]}"
    kafka_started() {
      kafka_node_running "$KAFKA_NODE" || return 2
      tail -n +"$((KAFKA_MARK + 1))" "$LOG_DIR/$(kafka_name "$KAFKA_NODE")-server.log" 2>/dev/null \
        | grep -q 'Kafka Server started' && port_open "$(kafka_port "$KAFKA_NODE")"
    }
    await_ready "Kafka node $i" 120 kafka_started kafka_down \
      "$LOG_DIR/$(kafka_name "$i")-server.log" "$LOG_DIR/$(kafka_name "$i").log"
  done
  kafka_provision
}

# The nodes together: stopped one after another, the last two lose their quorum and wait out
# their shutdown timeout.
kafka_down() {
  local i
  for i in 3 2 1; do stop_pidfile "$(kafka_name "$i")" 60 & done
  wait
}

kafka_status() {
  local nodes i up=0
  nodes="$(kafka_nodes)"
  for ((i = 1; i <= nodes; i++)); do
    kafka_node_running "$i" && port_open "$(kafka_port "$i")" && up=$((up + 1))
  done
  if [ "$up" = "$nodes" ]; then echo "kafka     up    $(kafka_brokers)  (KRaft, $KAFKA_VERSION, $nodes node(s))"
  else echo "kafka     down  ($up of $nodes node(s) up)"; fi
}
