#!/usr/bin/env bash
# The calls benchmark: one command, one machine, one run.
#
#   bench/calls.sh
#
# Measures, distributed mode (PostgreSQL + NATS JetStream), the release
# binary, the Exotel simulator (`switchboard sim`) on loopback as Exotel:
#   1. the limit: the least a cqrs-es command costs PostgreSQL (stream read,
#      then BEGIN, INSERT, COMMIT: bench/pgbench-command.sql), pgbench on a
#      scratch database with the store's events table;
#   2. click-to-call acceptance: POST /api/v1/calls, closed loop, request →
#      intent committed → 202, with this process's dispatcher off (the
#      figure is the request's own), as a ratio to the limit;
#   3. callback ingestion: Exotel status callbacks posted open loop at
#      CALLBACK_RATE, each to another of the calls step 2 recorded (each
#      one is recorded and moves its call: three events), rate and p99;
#   4. dispatch latency, on a fresh database with the dispatcher on: calls
#      asked for open loop at DISPATCH_RATE (under Exotel's 200 a minute),
#      from the intent's commit to the attempt's claim just before the
#      request to Exotel, and to the recorded answer, p50/p99 (from the
#      events' own times).
# Results: bench/results/calls-<timestamp>/summary.json and the raw outputs.
#
# Options (environment variables):
#   CONCURRENCY=16 DURATION=10 WARMUP=2     pgbench and the acceptance run
#   PRIME=5             unmeasured seconds of acceptance (other call ids), then ANALYZE, first
#   CALLBACK_RATE=2000 CALLBACK_DURATION=5  callback ingestion (open loop)
#   DISPATCH_RATE=2 DISPATCH_DURATION=30    dispatch latency (open loop)
#   PORT=18190 SIM_PORT=18191               the API and the simulator
#   PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres   BENCH_NATS_URL=nats://127.0.0.1:4222
#   SWITCHBOARD_BIN=target/release/switchboard (or $CARGO_TARGET_DIR/release/switchboard)
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$BENCH_DIR")"
CONCURRENCY="${CONCURRENCY:-16}"
DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-2}"
PRIME="${PRIME:-5}"
CALLBACK_RATE="${CALLBACK_RATE:-2000}"
CALLBACK_DURATION="${CALLBACK_DURATION:-5}"
DISPATCH_RATE="${DISPATCH_RATE:-2}"
DISPATCH_DURATION="${DISPATCH_DURATION:-30}"
PORT="${PORT:-18190}"
SIM_PORT="${SIM_PORT:-18191}"
PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
export PGHOST PGPORT PGUSER
NATS="${BENCH_NATS_URL:-nats://127.0.0.1:4222}"
DEFAULT_SB="$ROOT/target/release/switchboard"
[[ -x "$DEFAULT_SB" ]] || DEFAULT_SB="${CARGO_TARGET_DIR:-/var/tmp/switchboard-target}/release/switchboard"
SB="${SWITCHBOARD_BIN:-$DEFAULT_SB}"
LOADGEN="$BENCH_DIR/loadgen/target/release/sbload"

TS="$(date -u +%Y%m%dT%H%M%SZ)"
ID="${TS,,}"
RESULTS="$BENCH_DIR/results/calls-$TS"
WORK="$(mktemp -d "/tmp/switchboard-bench-calls-$ID.XXXXXX")"
JWT_SECRET="bench-secret-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
MASTER_KEYS="bench=$(head -c 32 /dev/urandom | base64 -w0)"
ADMIN_EMAIL="bench@example.com"
ADMIN_PASSWORD="bench-password-$ID"
BASE="http://127.0.0.1:$PORT"
SIM="http://127.0.0.1:$SIM_PORT"
SERVER_PID="" SIM_PID=""
DBS=() STREAMS=()

log() { printf '[calls %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

cleanup() {
    set +e # every step runs, whatever the one before came to (a stopped process's wait answers 143)
    [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    [[ -n "$SIM_PID" ]] && kill "$SIM_PID" 2>/dev/null && wait "$SIM_PID" 2>/dev/null
    for db in "${DBS[@]}"; do psql -X -q -d postgres -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true; done
    for stream in "${STREAMS[@]}"; do python3 "$BENCH_DIR/nats_js.py" "$NATS" delete-stream "$stream" >/dev/null 2>&1 || true; done
    rm -rf "$WORK"
    return 0
}
trap cleanup EXIT

mkdir -p "$RESULTS"
[[ -x "$SB" ]] || { log "building the release binary"; (cd "$ROOT" && cargo build -p api --release --quiet); SB="$ROOT/target/release/switchboard"; }
[[ -x "$LOADGEN" ]] || { log "building the load generator"; (cd "$BENCH_DIR/loadgen" && CARGO_TARGET_DIR="$BENCH_DIR/loadgen/target" cargo build --release --quiet); }

env_for() { # env_for DB STREAM: the distributed environment on a database and stream
    echo "PATH=$PATH" "DATABASE_URL=postgres://$PGUSER@$PGHOST:$PGPORT/$1" "NATS_URL=$NATS" \
        "SWITCHBOARD_NATS_STREAM=$2" "SWITCHBOARD_NATS_SUBJECT_PREFIX=sbbench.$2" \
        "SWITCHBOARD_JWT_SECRET=$JWT_SECRET" "SWITCHBOARD_MASTER_KEYS=$MASTER_KEYS" \
        "SWITCHBOARD_OUTBOUND_ALLOW_PRIVATE=true" "SWITCHBOARD_PUBLIC_URL=$BASE" \
        "SWITCHBOARD_PHONE_SYNC_INTERVAL_SECS=0" "SWITCHBOARD_RATE_LIMIT_PER_ACTOR=100000000" \
        "SWITCHBOARD_RATE_LIMIT_PER_ORGANISATION=100000000" "RUST_LOG=warn"
}

fresh_db() { psql -X -q -d postgres -c "CREATE DATABASE \"$1\"" >/dev/null; DBS+=("$1"); }

start_server() { # start_server DB STREAM WORKERS LABEL
    # shellcheck disable=SC2046
    env -i $(env_for "$1" "$2") SWITCHBOARD_CALL_WORKERS="$3" "$SB" serve --listen "127.0.0.1:$PORT" \
        >"$RESULTS/serve-$4.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 300); do
        curl -fsS -o /dev/null "$BASE/ready" 2>/dev/null && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || die "switchboard exited, see $RESULTS/serve-$4.log"
        sleep 0.2
    done
    die "switchboard not ready"
}

stop_server() { kill -TERM "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""; }

prepare() { # prepare DB STREAM: an organisation, its admin and Exotel phone on the simulator; prints the token
    # shellcheck disable=SC2046
    env -i $(env_for "$1" "$2") "$SB" migrate >/dev/null
    # shellcheck disable=SC2046
    ORG="$(env -i $(env_for "$1" "$2") "$SB" admin create-org --name "Bench calls" | tail -n1)"
    # shellcheck disable=SC2046
    env -i $(env_for "$1" "$2") "$SB" admin create-user --org "$ORG" --email "$ADMIN_EMAIL" \
        --password "$ADMIN_PASSWORD" --role admin >/dev/null
}

login() {
    curl -fsS -X POST "$BASE/api/v1/auth/login" -H 'content-type: application/json' \
        -d "{\"email\":\"$ADMIN_EMAIL\",\"password\":\"$ADMIN_PASSWORD\"}" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["access_token"])'
}

configure() { # configure TOKEN
    curl -fsS -X POST "$BASE/api/v1/settings/integrations/exotel_phone" -H "authorization: Bearer $1" \
        -H 'content-type: application/json' \
        -d "{\"account_sid\":\"sandbox\",\"api_key\":\"sandbox-key\",\"api_token\":\"sandbox-token\",\"api_host\":\"$SIM\",\"virtual_number\":\"08047112233\"}" \
        >/dev/null
    for _ in $(seq 1 100); do
        [[ "$(curl -fsS "$BASE/api/v1/settings/phone-numbers" -H "authorization: Bearer $1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])')" == 2 ]] && return 0
        sleep 0.1
    done
    die "the ExoPhones were not synced"
}

CALL_BODY='{"call_id":"00000000-0000-4000-8000-{n:012}","agent_phone":"+919876500001","customer_phone":"+919812300002","time_limit":60}'

log "the simulator on $SIM"
"$SB" sim --listen "127.0.0.1:$SIM_PORT" >"$RESULTS/sim.log" 2>&1 &
SIM_PID=$!
sleep 1

# 1. the limit
LIMIT_DB="bench_calls_${ID}_limit"
fresh_db "$LIMIT_DB"
# shellcheck disable=SC2046
env -i $(env_for "$LIMIT_DB" "X") "$SB" migrate >/dev/null
pgbench -n -M prepared -c "$CONCURRENCY" -j 2 -T "$DURATION" -f "$BENCH_DIR/pgbench-command.sql" "$LIMIT_DB" \
    >"$RESULTS/pgbench-command.txt" 2>&1
LIMIT="$(awk '/^tps/ {print $3; exit}' "$RESULTS/pgbench-command.txt")"
log "limit: $LIMIT commands/s"

# 2. acceptance, 3. callbacks
DB="bench_calls_${ID}"
STREAM="SB_BENCH_CALLS_${ID^^}"
STREAMS+=("$STREAM")
fresh_db "$DB"
prepare "$DB" "$STREAM"
start_server "$DB" "$STREAM" false accept
TOKEN="$(login)"
configure "$TOKEN"
# A database in service has statistics. PRIME s of the same load (other call
# ids), unmeasured, then ANALYZE, as autovacuum does within a minute of a
# table's growth: without it, each connection keeps the plans it made for
# empty read models for the whole run (PRIME=0 shows that).
if (( PRIME > 0 )); then
    "$LOADGEN" --url "$BASE/api/v1/calls" --method POST --header "authorization: Bearer $TOKEN" \
        --body "${CALL_BODY/4000-8000/4000-9000}" --concurrency "$CONCURRENCY" --duration "$PRIME" --warmup 0 \
        --label prime --out "$WORK/prime.json" >/dev/null
    psql -X -q -d "$DB" -c ANALYZE
fi
"$LOADGEN" --url "$BASE/api/v1/calls" --method POST --header "authorization: Bearer $TOKEN" \
    --body "$CALL_BODY" --concurrency "$CONCURRENCY" --duration "$DURATION" --warmup "$WARMUP" \
    --label accept --out "$RESULTS/accept.json" >/dev/null
ACCEPTED="$(psql -X -At -d "$DB" -c "SELECT COUNT(*) FROM events WHERE event_type = 'CallRequested' AND aggregate_id LIKE '00000000-0000-4000-8000-%'")"
log "acceptance: $(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("%.0f/s, p99 %.1f ms" % (r["rate"], r["latency_ms"]["p99"]))' "$RESULTS/accept.json") ($ACCEPTED calls recorded)"

INTEGRATION="$(python3 -c 'import sys,uuid; print(uuid.uuid5(uuid.UUID(int=0x5b1c0a2e7d414e3a9f108c3e2a9d0002), sys.argv[1] + "/exotel_phone"))' "$ORG")"
CALLBACK_TOKEN="$(python3 - "$JWT_SECRET" "$INTEGRATION" <<'PY'
import base64, hashlib, hmac, sys, uuid
key = hmac.new(sys.argv[1].encode(), b"switchboard/exotel-callback-token/v1", hashlib.sha256).digest()
mac = hmac.new(key, uuid.UUID(sys.argv[2]).bytes, hashlib.sha256).digest()
print(base64.urlsafe_b64encode(mac).decode().rstrip("="))
PY
)"
CALLBACK_URL="$BASE/webhooks/exotel/$INTEGRATION/$CALLBACK_TOKEN/calls"
curl -fsS -o /dev/null -X POST "$CALLBACK_URL" -H 'content-type: application/json' -d '{"CallSid":"probe","Status":"ringing"}' \
    || die "the callback URL was refused"
SECONDS_OF_CALLBACKS="$(python3 -c "print(max(1, min($CALLBACK_DURATION, int($ACCEPTED / $CALLBACK_RATE))))")"
CALLBACK_BODY='{"CallSid":"bench-{n}","Status":"ringing","CustomField":"00000000-0000-4000-8000-{n:012}"}'
"$LOADGEN" --url "$CALLBACK_URL" --method POST --body "$CALLBACK_BODY" --rate "$CALLBACK_RATE" \
    --concurrency 64 --duration "$SECONDS_OF_CALLBACKS" --warmup 0 --label callbacks \
    --out "$RESULTS/callbacks.json" >/dev/null
REPORTS="$(psql -X -At -d "$DB" -c "SELECT COUNT(*) FROM events WHERE event_type = 'CallReportReceived'")"
log "callbacks: $(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("%.0f/s, p99 %.1f ms" % (r["rate"], r["latency_ms"]["p99"]))' "$RESULTS/callbacks.json") ($REPORTS recorded)"
stop_server

# 4. dispatch latency
DB2="bench_calls_${ID}_dispatch"
STREAM2="SB_BENCH_CALLS_D_${ID^^}"
STREAMS+=("$STREAM2")
fresh_db "$DB2"
prepare "$DB2" "$STREAM2"
start_server "$DB2" "$STREAM2" true dispatch
TOKEN="$(login)"
configure "$TOKEN"
"$LOADGEN" --url "$BASE/api/v1/calls" --method POST --header "authorization: Bearer $TOKEN" \
    --body "$CALL_BODY" --rate "$DISPATCH_RATE" --concurrency 4 --duration "$DISPATCH_DURATION" --warmup 0 \
    --label dispatch --out "$RESULTS/dispatch-requests.json" >/dev/null
sleep 3
psql -X -At -d "$DB2" -F ' ' >"$RESULTS/dispatch.txt" <<'SQL'
WITH times AS (
  SELECT aggregate_id,
         MIN((payload->'CallRequested'->>'at')::timestamptz) AS requested,
         MIN((payload->'CallDispatchStarted'->>'at')::timestamptz) AS claimed,
         MIN((payload->'CallPlaced'->>'at')::timestamptz) AS placed
  FROM events WHERE aggregate_type = 'call' GROUP BY aggregate_id)
SELECT COUNT(*), COUNT(placed),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM claimed - requested) * 1000),
       percentile_cont(0.99) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM claimed - requested) * 1000),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM placed - requested) * 1000),
       percentile_cont(0.99) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM placed - requested) * 1000)
FROM times;
SQL
read -r CALLS PLACED CLAIM50 CLAIM99 PLACE50 PLACE99 <"$RESULTS/dispatch.txt"
log "dispatch: $PLACED of $CALLS placed; intent → claim p50 $CLAIM50 ms p99 $CLAIM99 ms; intent → answer recorded p50 $PLACE50 ms p99 $PLACE99 ms"
stop_server

python3 - "$RESULTS" "$LIMIT" "$CALLS" "$PLACED" "$CLAIM50" "$CLAIM99" "$PLACE50" "$PLACE99" <<'PY'
import json, sys, os
results, limit = sys.argv[1], float(sys.argv[2])
accept = json.load(open(os.path.join(results, "accept.json")))
callbacks = json.load(open(os.path.join(results, "callbacks.json")))
calls, placed, c50, c99, p50, p99 = sys.argv[3:9]
summary = {
    "limit_command_tps": limit,
    "acceptance": {"rate": accept["rate"], "p50_ms": accept["latency_ms"]["p50"], "p99_ms": accept["latency_ms"]["p99"],
                   "requests": accept["requests"], "ok": accept["ok"], "ratio_to_limit": accept["rate"] / limit},
    "callbacks": {"rate": callbacks["rate"], "p50_ms": callbacks["latency_ms"]["p50"], "p99_ms": callbacks["latency_ms"]["p99"],
                  "requests": callbacks["requests"], "ok": callbacks["ok"], "target_rate": callbacks["target_rate"]},
    "dispatch": {"calls": int(calls), "placed": int(placed),
                 "intent_to_claim_ms": {"p50": float(c50), "p99": float(c99)},
                 "intent_to_answer_ms": {"p50": float(p50), "p99": float(p99)}},
}
json.dump(summary, open(os.path.join(results, "summary.json"), "w"), indent=2)
print(json.dumps(summary, indent=2))
PY
