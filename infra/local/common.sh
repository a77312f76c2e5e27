#!/usr/bin/env bash
# Shared helpers for the local engines. Sourced by stack.sh.
# Layout: downloads and builds are cached per user ($ES_CACHE_DIR, shared by every clone);
# data, logs, pids and generated credentials live in the clone ($ES_STACK_DIR, git-ignored).

STACK_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ES_CACHE_DIR="${ES_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/es-cqrs}"
ES_STACK_DIR="${ES_STACK_DIR:-$STACK_ROOT/.local/stack}"
LOG_DIR="$ES_STACK_DIR/logs"
RUN_DIR="$ES_STACK_DIR/run"

# Addresses from docs/architecture.md (Runtime pieces); every engine binds loopback only.
ES_BIND_HOST="${ES_BIND_HOST:-127.0.0.1}"
ES_PG_PORT="${ES_PG_PORT:-55432}"
ES_KAFKA_PORT="${ES_KAFKA_PORT:-9092}"
ES_KAFKA_CONTROLLER_PORT="${ES_KAFKA_CONTROLLER_PORT:-9093}"
ES_MONGO_PORT="${ES_MONGO_PORT:-27017}"
ES_OIDC_PORT="${ES_OIDC_PORT:-4400}"

log()  { printf '\033[1m[stack]\033[0m %s\n' "$*" >&2; }
warn() { printf '\033[33m[stack] warning:\033[0m %s\n' "$*" >&2; }
die()  { printf '\033[31m[stack] error:\033[0m %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }

port_open() { (exec 3<>"/dev/tcp/$ES_BIND_HOST/$1") 2>/dev/null; }

pid_alive() { # $1 = pid file
  [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

# Fail with a clear message when a port we need is held by a process we did not start.
require_free_port() { # $1 = port, $2 = engine name
  if port_open "$1"; then
    local holder; holder="$(ss -ltnpH "sport = :$1" 2>/dev/null | sed -n 's/.*users:((\("[^"]*"\),pid=\([0-9]*\).*/\1 pid \2/p' | head -1)"
    die "port $ES_BIND_HOST:$1 for $2 is already taken${holder:+ by $holder}; stop it, or choose another port (see infra/local/README.md)"
  fi
}

# Polls a command until it succeeds (0); gives up at the timeout (1) or at once when the
# command returns 2 (the process it waits for has died).
wait_until() { # $1 = timeout seconds, $2.. = command
  local timeout="$1"; shift
  local deadline=$((SECONDS + timeout))
  until "$@" 2>/dev/null; do
    [ $? -eq 2 ] && return 2
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep 0.2
  done
}

apt_updated=""
apt_install() { # packages...
  is_root || die "missing Debian packages: $*; run as root or install them: apt-get install -y $*"
  if [ -z "$apt_updated" ]; then
    log "apt-get update"
    apt-get update -qq >/dev/null || die "apt-get update failed"
    apt_updated=1
  fi
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null \
    || die "apt-get install $* failed"
}

# Java and Maven, for what comes from Maven Central (Kafka's jars, Keycloak).
require_java_maven() {
  command -v java >/dev/null || apt_install openjdk-17-jre-headless
  command -v mvn >/dev/null || apt_install maven
}

# Runs Maven quietly into a fresh `tmp` folder; on failure shows its log's end and stops, naming
# `what`. The caller moves the folder into the cache once it holds what it wanted.
maven_fetch() { # tmp, what, mvn arguments...
  local tmp="$1" what="$2"; shift 2
  require_java_maven
  rm -rf "$tmp"; mkdir -p "$tmp"
  mvn -q -B -Dstyle.color=never "$@" >"$tmp.log" 2>&1 \
    || { tail -20 "$tmp.log" >&2; die "mvn could not fetch $what (log: $tmp.log)"; }
  rm -f "$tmp.log"
}

# Runs a command as the given system user when root (the engines refuse to run as root), else as us.
as_user() { # $1 = user, $2.. = command
  local user="$1"; shift
  if is_root; then runuser -u "$user" -- "$@"; else "$@"; fi
}

# Starts a long-running process detached from this shell, with its own log and pid file.
spawn() { # $1 = name, $2.. = command
  local name="$1"; shift
  mkdir -p "$LOG_DIR" "$RUN_DIR"
  setsid "$@" >>"$LOG_DIR/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN_DIR/$name.pid"
}

stop_pidfile() { # $1 = name, $2 = seconds to wait before SIGKILL
  local pidfile="$RUN_DIR/$1.pid"
  pid_alive "$pidfile" || { rm -f "$pidfile"; return 0; }
  local pid; pid="$(cat "$pidfile")"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + ${2:-30}))
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      warn "$1 (pid $pid) did not stop in ${2:-30}s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  rm -f "$pidfile"
}

# Waits for an engine just spawned; on failure shows its logs, stops it and exits naming them.
await_ready() { # $1 = engine name, $2 = timeout s, $3 = ready check, $4 = stop function, $5.. = log files
  local name="$1" timeout="$2" check="$3" stop="$4"; shift 4
  wait_until "$timeout" "$check" && return 0
  tail -20 "$@" >&2 2>/dev/null || true
  "$stop"
  die "$name did not become ready in $timeout s (logs: $*)"
}
