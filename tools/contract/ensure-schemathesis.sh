#!/usr/bin/env bash
# Schemathesis (the OpenAPI fuzzer the contract run uses) in a project-local virtualenv, from
# PyPI, at a pinned version; prints the path of its `st`. Idempotent: a venv that already holds
# that version is used as it is. The venv lives in the clone (.local, git-ignored); pip's own
# download cache is shared by every clone.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../../infra/local/common.sh"
VERSION=4.32.5
VENV="$STACK_ROOT/.local/venv-schemathesis"

installed() {
  [ -x "$VENV/bin/st" ] &&
    [ "$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("schemathesis"))' 2>/dev/null)" = "$VERSION" ]
}

if ! installed; then
  command -v python3 >/dev/null || apt_install python3 python3-venv
  rm -rf "$VENV"
  if ! python3 -m venv "$VENV" 2>/dev/null; then
    apt_install python3-venv
    python3 -m venv "$VENV"
  fi
  log "installing schemathesis $VERSION into $VENV"
  mkdir -p "$STACK_ROOT/.local"
  "$VENV/bin/pip" install --disable-pip-version-check -q "schemathesis==$VERSION" \
    >"$STACK_ROOT/.local/schemathesis-install.log" 2>&1 ||
    die "pip install schemathesis==$VERSION failed (log: .local/schemathesis-install.log)"
  installed || die "schemathesis $VERSION is not in $VENV after installing it"
fi
echo "$VENV/bin/st"
