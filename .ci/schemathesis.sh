#!/usr/bin/env bash
# The contract fuzzer: starts the embedded server (the debug binary, a
# fresh data directory, the sandbox on), logs in as the sandbox admin, and
# runs schemathesis against /openapi.json with every check on every
# operation. Any finding fails the run. Afterwards the server must still
# answer and the admin must still log in: the fuzzer may do its worst, but
# may not leave the sandbox broken.
#
# The server and the fuzzer run in a network namespace of their own with
# only loopback, so nothing the fuzzer makes the server call (an SMTP host,
# an Exotel api_host) can leave this machine.
#
#   SCHEMATHESIS_EXAMPLES  test cases per operation (default 60)
#   SCHEMATHESIS_ARGS      more arguments for `st run` (e.g. --include-path-regex audit)
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=4.32.5
# Python 3.11's parser is not safe under hypothesis's threads (SystemError:
# AST constructor recursion depth mismatch): take the newest Python there is.
PYTHON=
for candidate in python3.13 python3.12 "$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -V | tail -n1)" python3; do
  if [ -n "$candidate" ] && "$candidate" -c 'import venv' >/dev/null 2>&1; then PYTHON=$candidate; break; fi
done
[ -n "$PYTHON" ] || { echo "no Python 3 with venv" >&2; exit 1; }
VENV=/var/tmp/switchboard-schemathesis-$VERSION-$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
BIN="${SWITCHBOARD_BIN:-${CARGO_TARGET_DIR:-/var/tmp/switchboard-target}/debug/switchboard}"
EXAMPLES="${SCHEMATHESIS_EXAMPLES:-60}"

if [ ! -f "$VENV/installed" ]; then
  echo "installing schemathesis $VERSION into $VENV"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION"
  touch "$VENV/installed"
fi
[ -x "$BIN" ] || { echo "no server binary at $BIN" >&2; exit 1; }

if [ "${SCHEMATHESIS_IN_NAMESPACE:-}" != 1 ]; then
  export SCHEMATHESIS_IN_NAMESPACE=1 SWITCHBOARD_BIN="$BIN"
  exec unshare --net bash "$PWD/.ci/schemathesis.sh" "$@"
fi

ip link set lo up
work=$(mktemp -d /var/tmp/switchboard-schemathesis-run.XXXXXX)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# Limits high enough that the fuzzer's own pace is not what it measures.
SWITCHBOARD_DATA_DIR="$work/data" SWITCHBOARD_LISTEN="127.0.0.1:$port" \
  SWITCHBOARD_RATE_LIMIT_PER_ACTOR=1000000 SWITCHBOARD_RATE_LIMIT_PER_ORGANISATION=1000000 \
  SWITCHBOARD_PHONE_SYNC_INTERVAL_SECS=0 SWITCHBOARD_LOG_FORMAT=json RUST_LOG=warn \
  "$BIN" serve >"$work/server.out" 2>"$work/server.log" &
server_pid=$!

for _ in $(seq 1 120); do
  curl -fsS "$base/health" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; echo "the server stopped" >&2; exit 1; }
  sleep 0.5
done
curl -fsS "$base/ready" >/dev/null

# login [SOURCE_ADDRESS]: the sandbox admin's token, printed.
login() {
  local email password
  email=$(sed -n 's/^email: //p' "$work/data/sandbox-admin.txt")
  password=$(sed -n 's/^password: //p' "$work/data/sandbox-admin.txt")
  local answer headers="$work/login-headers" wait attempt
  # The address's own login limit (per minute, whatever the client) may
  # still be spent by the fuzzer: wait as long as Retry-After says, twice
  # at most. Being held back for that minute is the limit working.
  for attempt in 1 2 3; do
    answer=$(curl -sS -D "$headers" ${1:+--interface "$1"} "$base/api/v1/auth/login" -H 'content-type: application/json' \
      -d "$(jq -n --arg e "$email" --arg p "$password" '{email: $e, password: $p}')")
    jq -er '(.data // .).access_token // empty' <<<"$answer" 2>/dev/null && return 0
    wait=$(tr -d '\r' <"$headers" | sed -n 's/^[Rr]etry-[Aa]fter: *//p' | head -n1)
    [ "$(jq -r '.code // empty' <<<"$answer" 2>/dev/null)" = rate_limited ] && [ -n "$wait" ] && [ "$wait" -le 120 ] && [ "$attempt" -lt 3 ] || break
    sleep "$wait"
  done
  echo "login refused: $answer" >&2
  return 1
}
token=$(login)

status=0
config="$PWD/.ci/schemathesis.toml"
# schemathesis keeps its crash cache in the working directory: not the clone's.
(cd "$work" && "$VENV/bin/st" --no-color --config-file "$config" run "$base/openapi.json" \
  --checks all \
  --max-examples "$EXAMPLES" \
  --header "Authorization: Bearer $token" \
  --request-timeout 20 \
  --seed "${SCHEMATHESIS_SEED:-1}" \
  --generation-database none \
  --workers 1 \
  --report junit --report-dir "$work/report" \
  ${SCHEMATHESIS_ARGS:-}) || status=$?

echo "after the fuzzer: the server answers and the sandbox admin still logs in"
curl -fsS "$base/ready" >/dev/null || { echo "the server is not ready after fuzzing" >&2; status=1; }
# The fuzzer learns the admin's address and fails logins with it from
# 127.0.0.1; a lockout must hold that client back, not the admin: log in
# from another loopback address.
after=$(login 127.0.0.2) || { echo "the sandbox admin cannot log in after fuzzing" >&2; status=1; }
if [ -n "${after:-}" ]; then
  curl -fsS "$base/api/v1/me" -H "Authorization: Bearer $after" >/dev/null ||
    { echo "the sandbox admin's new token is refused after fuzzing" >&2; status=1; }
fi
if grep -q '"level":"ERROR"' "$work/server.log"; then
  echo "the server logged errors while fuzzed:" >&2
  grep '"level":"ERROR"' "$work/server.log" | head -n 20 >&2
fi
exit "$status"
