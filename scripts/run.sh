#!/usr/bin/env bash
# `npm start` and `npm test` for a fresh machine: each brings its own Node, pnpm, packages,
# build and engines, and stops what it started when it ends.
#   run.sh start   the whole system in the foreground until Ctrl-C
#   run.sh test    every check and test level; prints "N passed, N failed" last
#   run.sh contract  the long contract run (Schemathesis, many examples, a random seed)
#   run.sh openapi   write the OpenAPI documents and the typed client from the operations
#   run.sh bench   the benchmarks (results in docs/benchmarks.md)
#   run.sh chaos   the fault harness's full profile (results in docs/reliability.md)
#   run.sh token <user>   an access token for a realm user (alice, bob, sam, olga), alone on stdout
#   run.sh es <command>   the operator's CLI (apps/cli; ES_TOKEN=$(pnpm -s token olga))
set -euo pipefail
LOG_TAG=run
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

STACK="$ROOT/infra/local/stack.sh"
stack_started=""

stop_stack_if_ours() {
  if [ -n "$stack_started" ]; then
    log "stopping the engines this run started"
    bash "$STACK" down || true
  fi
}

ensure_stack() {
  if bash "$STACK" status >/dev/null 2>&1; then
    log "engines already running; leaving them running afterwards"
  else
    stack_started=1
    bash "$STACK" up
  fi
  # shellcheck disable=SC1091
  . "${ES_STACK_DIR:-$ROOT/.local/stack}/stack.env"
}

# Returns the command's status. Called as `step ... || status=1`, where bash's `set -e` is off
# inside the function, so the status must be passed on explicitly (it was lost before: a failed
# test level still let `npm test` exit 0).
step() { # name, command...
  local name="$1"; shift
  local t=$SECONDS rc=0
  log "$name"
  "$@" || rc=$?
  if [ "$rc" -eq 0 ]; then log "$name: done in $((SECONDS - t)) s"; else log "$name: FAILED (exit $rc) after $((SECONDS - t)) s"; fi
  return "$rc"
}

build() { nx run-many -t build --outputStyle=static --parallel=2 >"$ROOT/.local/build.log" 2>&1 || { tail -40 "$ROOT/.local/build.log" >&2; die "build failed (log: .local/build.log)"; }; }

# Runs one Jest level, keeping its JSON summary for the closing line.
jest_level() { # level
  jest -c "jest.$1.config.js" --ci --json --outputFile="$ROOT/.local/jest-$1.json"
}

summary() {
  node -e '
    const fs = require("node:fs");
    let passed = 0, failed = 0, skipped = 0;
    for (const level of ["unit", "int", "e2e"]) {
      const file = `.local/jest-${level}.json`;
      if (!fs.existsSync(file)) continue;
      const r = JSON.parse(fs.readFileSync(file, "utf8"));
      passed += r.numPassedTests; failed += r.numFailedTests; skipped += r.numPendingTests + r.numTodoTests;
      console.log(`${level.padEnd(4)}: ${r.numPassedTests} passed, ${r.numFailedTests} failed (${r.numTotalTestSuites} suites)`);
    }
    console.log(`tests: ${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ""));
  '
}

cmd_test() {
  local started=$SECONDS
  rm -f "$ROOT"/.local/jest-*.json
  trap 'stop_stack_if_ours' EXIT
  step "build" build
  step "OpenAPI documents and typed client up to date" node tools/openapi/generate.mts --check
  step "typecheck (sources and tests)" tsc -p tsconfig.json
  step "lint" eslint . --max-warnings 0
  step "format check" prettier --check . --log-level warn
  local status=0
  step "unit tests" jest_level unit || status=1
  step "engines" ensure_stack
  step "integration tests" jest_level int || status=1
  step "end-to-end tests" jest_level e2e || status=1
  summary
  log "all checks and tests in $((SECONDS - started)) s"
  return $status
}

cmd_start() {
  trap 'stop_stack_if_ours' EXIT
  step "build" build
  step "engines" ensure_stack
  # Ctrl-C reaches the launcher and the services (one process group); the launcher waits for
  # every service to finish its graceful shutdown, then the EXIT trap stops the engines.
  node libs/testing/dist/cli/start-system.js
}

# The contract run's long profile: Schemathesis with many more examples per operation than the
# short profile in `npm test` (tools/contract/contract.e2e.spec.ts).
cmd_contract() {
  trap 'stop_stack_if_ours' EXIT
  step "build" build
  step "engines" ensure_stack
  CONTRACT_EXAMPLES="${CONTRACT_EXAMPLES:-300}" CONTRACT_SEED="${CONTRACT_SEED:-$RANDOM}" \
    jest -c jest.e2e.config.js --ci tools/contract
}

# Writes the OpenAPI documents and the typed client from the operations (checked by `npm test`).
cmd_openapi() {
  step "build" build
  node tools/openapi/generate.mts
}

# The fault harness (tools/chaos, docs/reliability.md): the full profile by default, every fault
# under 30 orders/s on a three-node Kafka cluster; its results are written to docs/reliability.md.
# CHAOS_PROFILE=short runs the profile npm test runs.
cmd_chaos() {
  trap 'stop_stack_if_ours' EXIT
  step "build" build
  step "engines" ensure_stack
  CHAOS_PROFILE="${CHAOS_PROFILE:-full}" CHAOS_WRITE_RESULTS="${CHAOS_WRITE_RESULTS:-1}" \
    jest -c jest.e2e.config.js --ci tools/chaos
}

# Benchmarks print their figures and write them to docs/benchmarks.md.
cmd_bench() {
  trap 'stop_stack_if_ours' EXIT
  step "build" build
  step "engines" ensure_stack
  local which="${1:-append}"
  node "bench/$which.mts"
}

bootstrap
case "${1:-}" in
  start) cmd_start ;;
  test) cmd_test ;;
  bench) shift; cmd_bench "$@" ;;
  contract) cmd_contract ;;
  chaos) cmd_chaos ;;
  openapi) cmd_openapi ;;
  token) shift; node --disable-warning=ExperimentalWarning tools/identity/token.mts "$@" ;;
  es) shift
    # The CLI runs from its source, on the generated API client's build.
    [ -f "$ROOT/libs/api-client/dist/index.js" ] || step "build" build
    node --disable-warning=ExperimentalWarning apps/cli/src/es.mts "$@" ;;
  *) die "usage: run.sh start|test|contract|chaos|openapi|token <user>|es <command>|bench [append|relay|saga|saga-vs-temporal|projection|sweep]" ;;
esac
