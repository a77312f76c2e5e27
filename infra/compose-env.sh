#!/usr/bin/env bash
# Writes .env for docker-compose: every variable of .env.example, with the value .env already
# has, else a fresh random one (16 random bytes, hex; a master key, 32 bytes, base64).
# Idempotent; the file is 0600 and git-ignored. Prints the names it added.
#   bash infra/compose-env.sh [file]      (default: .env beside docker-compose.yml)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
file="${1:-$root/.env}"
[ -f "$file" ] || (umask 077 && : >"$file")
chmod 600 "$file"
while IFS= read -r line; do
  case "$line" in '#'* | '') continue ;; esac
  name="${line%%=*}"
  grep -q "^$name=." "$file" && continue
  sed -i "/^$name=/d" "$file"
  case "$name" in
    *_MASTER_KEYS) value="$(head -c 32 /dev/urandom | base64)" ;;
    *) value="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" ;;
  esac
  printf '%s=%s\n' "$name" "$value" >>"$file"
  echo "$name"
done <"$root/.env.example"
