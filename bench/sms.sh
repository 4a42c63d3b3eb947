#!/usr/bin/env bash
# The SMS benchmark: one command, one machine, one run.
#
#   bench/sms.sh
#
# Measures, distributed mode (PostgreSQL + NATS JetStream), the release
# binary, the Exotel simulator (`switchboard sim`) on loopback as Exotel:
#   1. the limit: the least a cqrs-es command costs PostgreSQL (stream read,
#      then BEGIN, INSERT, COMMIT: bench/pgbench-command.sql), pgbench on a
#      scratch database with the store's events table;
#   2. message acceptance: POST /api/v1/sms (one Indian recipient, a DLT
#      template with one variable), closed loop, request → intent committed
#      → 202, with this process's SMS dispatcher off (the figure is the
#      request's own), as a ratio to the limit;
#   3. delivery-report ingestion: Exotel SMS status callbacks (form-encoded,
#      `sent` / DELIVERED_TO_HANDSET) posted open loop at REPORT_RATE, each
#      naming (CustomField) another of the messages step 2 recorded (topped
#      up, unmeasured, to REPORT_RATE × REPORT_DURATION messages; each one
#      records the submission and its status, the report and the delivery:
#      four events),
#      rate and p99, and how many were recorded;
#   4. dispatch pacing, on a fresh database with the dispatcher on: messages
#      asked for open loop at PACING_RATE (3.3/s, just under Exotel's 200 a
#      minute) for PACING_DURATION, and from the events' own times the rate
#      at which dispatch started (the claim just before the request to
#      Exotel) and the spacing between consecutive starts against
#      1/PACING_RATE. Switchboard has no pacing of its own: it sends each
#      message as soon as it is due, so this measures how faithfully sending
#      follows the arrival rate.
# The server's peak RSS (VmHWM) of each run and its CPU breakdown during
# steps 2 and 3 (bench/cpustat.py) are kept too.
# Results: bench/results/sms-<timestamp>/summary.json, machine.txt and the raw outputs.
#
# Options (environment variables):
#   CONCURRENCY=16 DURATION=10 WARMUP=2     pgbench and the acceptance run
#   PRIME=5             unmeasured seconds of acceptance to other customers, then ANALYZE, first
#   STATEMENTS=0        when > 0: that many more requests and reports with every
#                       statement logged (PostgreSQL's log, PG_LOG), counted per request
#   REPORT_RATE=2000 REPORT_DURATION=5      report ingestion (open loop)
#   PACING_RATE=3.3 PACING_DURATION=120     dispatch pacing (open loop; 0 s: none)
#   PORT=18192 SIM_PORT=18193               the API and the simulator
#   PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres   BENCH_NATS_URL=nats://127.0.0.1:4222
#     (when no JetStream answers there, a private nats-server is started)
#   SWITCHBOARD_BIN=target/release/switchboard (or $CARGO_TARGET_DIR/release/switchboard)
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$BENCH_DIR")"
CONCURRENCY="${CONCURRENCY:-16}"
DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-2}"
PRIME="${PRIME:-5}"
STATEMENTS="${STATEMENTS:-0}"
REPORT_RATE="${REPORT_RATE:-2000}"
REPORT_DURATION="${REPORT_DURATION:-5}"
PACING_RATE="${PACING_RATE:-3.3}"
PACING_DURATION="${PACING_DURATION:-120}"
PORT="${PORT:-18192}"
SIM_PORT="${SIM_PORT:-18193}"
PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
export PGHOST PGPORT PGUSER
NATS="${BENCH_NATS_URL:-nats://127.0.0.1:4222}"
DEFAULT_SB="$ROOT/target/release/switchboard"
[[ -x "$DEFAULT_SB" ]] || DEFAULT_SB="${CARGO_TARGET_DIR:-/var/tmp/switchboard-target}/release/switchboard"
SB="${SWITCHBOARD_BIN:-$DEFAULT_SB}"
LOADGEN_TARGET="$BENCH_DIR/loadgen/target"
LOADGEN="$LOADGEN_TARGET/release/sbload"

TS="$(date -u +%Y%m%dT%H%M%SZ)"
ID="${TS,,}"
RESULTS="$BENCH_DIR/results/sms-$TS"
WORK="$(mktemp -d "/tmp/switchboard-bench-sms-$ID.XXXXXX")"
JWT_SECRET="bench-secret-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
MASTER_KEYS="bench=$(head -c 32 /dev/urandom | base64 -w0)"
ADMIN_EMAIL="bench@example.com"
ADMIN_PASSWORD="bench-password-$ID"
BASE="http://127.0.0.1:$PORT"
SIM="http://127.0.0.1:$SIM_PORT"
SERVER_PID="" SIM_PID="" NATS_PID="" SERVER_LABEL=""
DBS=() STREAMS=()

log() { printf '[sms %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

cleanup() {
    set +e # every step runs, whatever the one before came to
    [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    [[ -n "$SIM_PID" ]] && kill "$SIM_PID" 2>/dev/null && wait "$SIM_PID" 2>/dev/null
    for db in "${DBS[@]}"; do psql -X -q -d postgres -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true; done
    if [[ -z "$NATS_PID" ]]; then
        for stream in "${STREAMS[@]}"; do python3 "$BENCH_DIR/nats_js.py" "$NATS" delete-stream "$stream" >/dev/null 2>&1 || true; done
    else
        kill "$NATS_PID" 2>/dev/null && wait "$NATS_PID" 2>/dev/null
    fi
    rm -rf "$WORK"
    return 0
}
trap cleanup EXIT

mkdir -p "$RESULTS"
if [[ ! -x "$SB" ]]; then
    log "building the release binary"
    (cd "$ROOT" && cargo build -p api --release --quiet)
    SB="${CARGO_TARGET_DIR:-$ROOT/target}/release/switchboard"
fi
# Always (it is quick when up to date): this bench needs sbload's --values.
log "building the load generator"
(cd "$BENCH_DIR/loadgen" && CARGO_TARGET_DIR="$LOADGEN_TARGET" cargo build --release --quiet)

if ! python3 "$BENCH_DIR/nats_js.py" "$NATS" info >/dev/null 2>&1; then
    command -v nats-server >/dev/null || die "no JetStream answers at $NATS and there is no nats-server to start"
    log "no JetStream at $NATS: starting a private nats-server on 127.0.0.1:14222"
    mkdir -p "$WORK/nats"
    nats-server -js -a 127.0.0.1 -p 14222 -sd "$WORK/nats" >"$RESULTS/nats-server.log" 2>&1 &
    NATS_PID=$!
    NATS="nats://127.0.0.1:14222"
    for _ in $(seq 1 50); do python3 "$BENCH_DIR/nats_js.py" "$NATS" info >/dev/null 2>&1 && break; sleep 0.2; done
    python3 "$BENCH_DIR/nats_js.py" "$NATS" info >/dev/null 2>&1 || die "the private nats-server does not answer"
fi

env_for() { # env_for DB STREAM: the distributed environment on a database and stream
    echo "PATH=$PATH" "DATABASE_URL=postgres://$PGUSER@$PGHOST:$PGPORT/$1" "NATS_URL=$NATS" \
        "SWITCHBOARD_NATS_STREAM=$2" "SWITCHBOARD_NATS_SUBJECT_PREFIX=sbbench.$2" \
        "SWITCHBOARD_JWT_SECRET=$JWT_SECRET" "SWITCHBOARD_MASTER_KEYS=$MASTER_KEYS" \
        "SWITCHBOARD_OUTBOUND_ALLOW_PRIVATE=true" "SWITCHBOARD_PUBLIC_URL=$BASE" \
        "SWITCHBOARD_PHONE_SYNC_INTERVAL_SECS=0" "SWITCHBOARD_RATE_LIMIT_PER_ACTOR=100000000" \
        "SWITCHBOARD_RATE_LIMIT_PER_ORGANISATION=100000000" "SWITCHBOARD_CALL_WORKERS=false" "RUST_LOG=warn"
}

fresh_db() { psql -X -q -d postgres -c "CREATE DATABASE \"$1\"" >/dev/null; DBS+=("$1"); }

start_server() { # start_server DB STREAM MESSAGE_WORKERS LABEL
    # MESSAGE_WORKERS=false keeps this process's dispatcher off.
    # shellcheck disable=SC2046
    env -i $(env_for "$1" "$2") SWITCHBOARD_MESSAGE_WORKERS="$3" "$SB" serve --listen "127.0.0.1:$PORT" \
        >"$RESULTS/serve-$4.log" 2>&1 &
    SERVER_PID=$! SERVER_LABEL="$4"
    for _ in $(seq 1 300); do
        curl -fsS -o /dev/null "$BASE/ready" 2>/dev/null && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || die "switchboard exited, see $RESULTS/serve-$4.log"
        sleep 0.2
    done
    die "switchboard not ready"
}

# The server's peak resident set (VmHWM) since it started, in rss-<label>.txt.
record_rss() {
    local hwm
    hwm="$(awk '/^VmHWM:/ {print $2}' "/proc/$SERVER_PID/status" 2>/dev/null || true)"
    [[ -n "$hwm" ]] && echo "vmhwm_kb=$hwm" >"$RESULTS/rss-$SERVER_LABEL.txt"
    return 0
}

stop_server() {
    record_rss
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

prepare() { # prepare DB STREAM: an organisation and its admin
    # shellcheck disable=SC2046
    env -i $(env_for "$1" "$2") "$SB" migrate >/dev/null
    STREAMS+=("$2")
    # shellcheck disable=SC2046
    ORG="$(env -i $(env_for "$1" "$2") "$SB" admin create-org --name "Bench SMS" | tail -n1)"
    # shellcheck disable=SC2046
    env -i $(env_for "$1" "$2") "$SB" admin create-user --org "$ORG" --email "$ADMIN_EMAIL" \
        --password "$ADMIN_PASSWORD" --role admin >/dev/null
}

login() {
    curl -fsS -X POST "$BASE/api/v1/auth/login" -H 'content-type: application/json' \
        -d "{\"email\":\"$ADMIN_EMAIL\",\"password\":\"$ADMIN_PASSWORD\"}" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["access_token"])'
}

TEMPLATE_ID="1107160000000000001"
configure() { # configure TOKEN: Exotel SMS on the simulator, one DLT template, one probe message
    curl -fsS -o /dev/null -X POST "$BASE/api/v1/settings/integrations/exotel_sms" -H "authorization: Bearer $1" \
        -H 'content-type: application/json' \
        -d "{\"account_sid\":\"sandbox\",\"api_key\":\"sandbox-key\",\"api_token\":\"sandbox-token\",\"api_host\":\"$SIM\",\"sender_id\":\"SNDBOX\",\"dlt_entity_id\":\"1101234567890123456\"}" \
        || die "configuring exotel_sms failed"
    curl -fsS -o /dev/null -X POST "$BASE/api/v1/sms/templates" -H "authorization: Bearer $1" \
        -H 'content-type: application/json' \
        -d "{\"template_id\":\"$TEMPLATE_ID\",\"name\":\"Order\",\"body\":\"Your order {#var#} is on its way. -Sandbox\",\"sender_id\":\"SNDBOX\",\"sms_type\":\"service_implicit\"}" \
        || die "registering the DLT template failed"
    local status
    status="$(curl -sS -o "$WORK/probe.json" -w '%{http_code}' -X POST "$BASE/api/v1/sms" -H "authorization: Bearer $1" \
        -H 'content-type: application/json' \
        -d "{\"to\":[\"+919812399999\"],\"template_id\":\"$TEMPLATE_ID\",\"variables\":[\"probe\"],\"sms_type\":\"service_implicit\"}")"
    [[ "$status" == 202 ]] || die "the probe SMS answered $status: $(cat "$WORK/probe.json")"
}

# One distinct Indian mobile number per request (sbload's {v}).
python3 -c 'import sys; sys.stdout.write("".join("+91981%07d\n" % i for i in range(200000)))' >"$WORK/recipients.txt"
# Other customers for the priming run, so the measured run still writes to
# customers it has never seen.
python3 -c 'import sys; sys.stdout.write("".join("+91982%07d\n" % i for i in range(200000)))' >"$WORK/primers.txt"
SMS_BODY="{\"to\":[\"{v}\"],\"template_id\":\"$TEMPLATE_ID\",\"variables\":[\"A-{n}\"],\"sms_type\":\"service_implicit\"}"

summary_line() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("%.0f/s, p50 %.1f ms, p99 %.1f ms, %d of %d 2xx" % (r["rate"], r["latency_ms"]["p50"], r["latency_ms"]["p99"], r["ok"], r["requests"]))' "$1"; }

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo ' (work tree differs)')"
    echo "binary: $SB"
    echo "cpu: $(nproc) × $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
    echo "memory: $(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
    echo "kernel: $(uname -r)"
    echo "postgresql: $(psql -X -At -d postgres -c 'SHOW server_version')"
    echo "nats-server: $(python3 "$BENCH_DIR/nats_js.py" "$NATS" server-version 2>/dev/null || echo unknown)"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$RESULTS/machine.txt"

log "the simulator on $SIM"
"$SB" sim --listen "127.0.0.1:$SIM_PORT" >"$RESULTS/sim.log" 2>&1 &
SIM_PID=$!
sleep 1
kill -0 "$SIM_PID" 2>/dev/null || die "the simulator exited, see $RESULTS/sim.log"

# 1. the limit
LIMIT_DB="bench_sms_${ID}_limit"
fresh_db "$LIMIT_DB"
# shellcheck disable=SC2046
env -i $(env_for "$LIMIT_DB" "X") "$SB" migrate >/dev/null
pgbench -n -M prepared -c "$CONCURRENCY" -j 2 -T "$DURATION" -f "$BENCH_DIR/pgbench-command.sql" "$LIMIT_DB" \
    >"$RESULTS/pgbench-command.txt" 2>&1
LIMIT="$(awk '/^tps/ {print $3; exit}' "$RESULTS/pgbench-command.txt")"
log "limit: $LIMIT commands/s"

# 2. acceptance, 3. delivery reports
DB="bench_sms_${ID}"
STREAM="SB_BENCH_SMS_${ID^^}"
fresh_db "$DB"
prepare "$DB" "$STREAM"
start_server "$DB" "$STREAM" false accept-reports
TOKEN="$(login)"
configure "$TOKEN"
# A database in service has statistics. PRIME s of the same load to other
# customers, unmeasured, then ANALYZE, as autovacuum does within a minute
# of a table's growth: without it, every connection keeps the plans it made
# for empty read models for the whole run (PRIME=0 shows that).
if (( PRIME > 0 )); then
    "$LOADGEN" --url "$BASE/api/v1/sms" --method POST --header "authorization: Bearer $TOKEN" \
        --body "$SMS_BODY" --values "$WORK/primers.txt" --concurrency "$CONCURRENCY" --duration "$PRIME" \
        --warmup 0 --label prime --out "$WORK/prime.json" >/dev/null
    psql -X -q -d "$DB" -c ANALYZE
fi
python3 "$BENCH_DIR/cpustat.py" snap "$SERVER_PID" >"$WORK/cpu-accept-0.json"
"$LOADGEN" --url "$BASE/api/v1/sms" --method POST --header "authorization: Bearer $TOKEN" \
    --body "$SMS_BODY" --values "$WORK/recipients.txt" --concurrency "$CONCURRENCY" --duration "$DURATION" \
    --warmup "$WARMUP" --label accept --out "$RESULTS/accept.json" >/dev/null
python3 "$BENCH_DIR/cpustat.py" snap "$SERVER_PID" >"$WORK/cpu-accept-1.json"
python3 "$BENCH_DIR/cpustat.py" diff "$WORK/cpu-accept-0.json" "$WORK/cpu-accept-1.json" >"$RESULTS/accept.server"
ACCEPTED="$(psql -X -At -d "$DB" -c "SELECT COUNT(*) FROM events WHERE event_type = 'MessageRequested'")"
log "acceptance: $(summary_line "$RESULTS/accept.json") ($ACCEPTED messages recorded)"
ACCEPT_RECORDED="$ACCEPTED"
[[ "$(psql -X -At -d "$DB" -c "SELECT COUNT(*) FROM events WHERE event_type = 'MessageDispatchStarted'")" == 0 ]] \
    || die "messages were dispatched during the acceptance run: the dispatcher was not off"

# Enough messages for REPORT_DURATION of reports, one each: the rest
# recorded now, closed loop, unmeasured.
WANT="$(python3 -c "import math; print(math.ceil($REPORT_RATE * $REPORT_DURATION))")"
if (( ACCEPTED < WANT )); then
    log "recording $((WANT - ACCEPTED)) more messages for the reports"
    "$LOADGEN" --url "$BASE/api/v1/sms" --method POST --header "authorization: Bearer $TOKEN" \
        --body "$SMS_BODY" --values "$WORK/recipients.txt" --concurrency "$CONCURRENCY" --duration 300 \
        --requests "$((WANT - ACCEPTED))" --label fill --out "$RESULTS/fill.json" >/dev/null 2>&1
    ACCEPTED="$(psql -X -At -d "$DB" -c "SELECT COUNT(*) FROM events WHERE event_type = 'MessageRequested'")"
fi

# The messages as the view has them (it trails the store by the projection).
for _ in $(seq 1 300); do
    VIEWED="$(psql -X -At -d "$DB" -c "SELECT COUNT(*) FROM messages_view")"
    [[ "$VIEWED" -ge "$ACCEPTED" ]] && break
    sleep 0.2
done
[[ "$VIEWED" -ge "$ACCEPTED" ]] || die "messages_view has $VIEWED of $ACCEPTED messages after 60 s"
# One report per message: CustomField names it, To is its number (form-encoded).
psql -X -At -d "$DB" -c "SELECT 'CustomField=' || message_id || '&To=' || replace(to_number, '+', '%2B')
    FROM messages_view WHERE provider_sid IS NULL ORDER BY requested_at" >"$WORK/reports.txt"
REPORTABLE="$(wc -l <"$WORK/reports.txt")"

# The SMS callback URL, derived as the server does: the integration id is
# UUIDv5(INTEGRATION_NAMESPACE, "<org>/exotel_sms"), the token an HMAC of it
# under a key derived from the JWT secret (api/src/callbacks.rs; generation 0).
INTEGRATION="$(python3 -c 'import sys,uuid; print(uuid.uuid5(uuid.UUID(int=0x5b1c0a2e7d414e3a9f108c3e2a9d0002), sys.argv[1] + "/exotel_sms"))' "$ORG")"
REPORT_TOKEN="$(python3 - "$JWT_SECRET" "$INTEGRATION" <<'PY'
import base64, hashlib, hmac, sys, uuid
key = hmac.new(sys.argv[1].encode(), b"switchboard/exotel-callback-token/v1", hashlib.sha256).digest()
mac = hmac.new(key, uuid.UUID(sys.argv[2]).bytes, hashlib.sha256).digest()
print(base64.urlsafe_b64encode(mac).decode().rstrip("="))
PY
)"
REPORT_URL="$BASE/webhooks/exotel/$INTEGRATION/$REPORT_TOKEN/sms"
PROBE_ANSWER="$(curl -fsS -X POST "$REPORT_URL" -H 'content-type: application/x-www-form-urlencoded' \
    -d 'SmsSid=probe&Status=sent&CustomField=00000000-0000-4000-8000-000000000000')" || die "the report URL was refused"
[[ "$PROBE_ANSWER" == *'"matched":false'* ]] || die "the probe report answered $PROBE_ANSWER"
# Each report names another message: no more reports than messages.
SECONDS_OF_REPORTS="$(python3 -c "print(max(1, min($REPORT_DURATION, int($REPORTABLE / $REPORT_RATE))))")"
[[ "$SECONDS_OF_REPORTS" == "$REPORT_DURATION" ]] \
    || log "only $REPORTABLE messages to report on: $SECONDS_OF_REPORTS s of reports at $REPORT_RATE/s"
REPORT_BODY='SmsSid=bench-sms-{n}&Status=sent&DetailedStatusCode=20005&DetailedStatus=DELIVERED_TO_HANDSET&SmsUnits=1&{v}'
python3 "$BENCH_DIR/cpustat.py" snap "$SERVER_PID" >"$WORK/cpu-reports-0.json"
"$LOADGEN" --url "$REPORT_URL" --method POST --header 'content-type: application/x-www-form-urlencoded' \
    --body "$REPORT_BODY" --values "$WORK/reports.txt" --rate "$REPORT_RATE" \
    --concurrency 64 --duration "$SECONDS_OF_REPORTS" --warmup 0 --label reports \
    --out "$RESULTS/reports.json" >/dev/null
python3 "$BENCH_DIR/cpustat.py" snap "$SERVER_PID" >"$WORK/cpu-reports-1.json"
python3 "$BENCH_DIR/cpustat.py" diff "$WORK/cpu-reports-0.json" "$WORK/cpu-reports-1.json" >"$RESULTS/reports.server"
REPORTED="$(psql -X -At -d "$DB" -c "SELECT COUNT(*) FROM events WHERE event_type = 'MessageReportReceived'")"
DELIVERED="$(psql -X -At -d "$DB" -c "SELECT COUNT(*) FROM events WHERE event_type = 'MessageProgressed' AND payload->'MessageProgressed'->>'status' = 'delivered'")"
log "reports: $(summary_line "$RESULTS/reports.json") ($REPORTED recorded, $DELIVERED delivered)"
stop_server

# Every statement of STATEMENTS more requests of each kind, from PostgreSQL's
# own log (bench/pglog.py): log_min_duration_statement = 0 on this database
# alone, for a server started afterwards (the setting is read at connect),
# reset after. An idle window first gives what the server runs with nothing
# to do; each load window ends when the read models have caught up.
if (( STATEMENTS > 0 )); then
    PG_LOG="${PG_LOG:-$(pg_lsclusters -h 2>/dev/null | awk -v port="$PGPORT" '$3 == port {print $7}' | head -n1)}"
    [[ -r "$PG_LOG" ]] || die "STATEMENTS needs a readable PostgreSQL log (PG_LOG)"
    psql -X -q -d postgres -c "ALTER DATABASE \"$DB\" SET log_min_duration_statement = 0" \
        -c "ALTER DATABASE \"$DB\" SET log_parameter_max_length = 64" >/dev/null
    start_server "$DB" "$STREAM" false statements
    TOKEN="$(login)"
    python3 -c 'import sys; sys.stdout.write("".join("+91983%07d\n" % i for i in range(200000)))' >"$WORK/statement-recipients.txt"
    caught_up() { # caught_up SQL EXPECTED: waits until the query answers at least EXPECTED
        for _ in $(seq 1 300); do
            [[ "$(psql -X -At -d "$DB" -c "$1")" -ge "$2" ]] && return 0
            sleep 0.2
        done
        die "not caught up: $1"
    }
    statement_window() { # statement_window LABEL FROM TO SECONDS REQUESTS
        python3 "$BENCH_DIR/pglog.py" count "$PG_LOG" "$DB" "$2" "$3" "$4" >"$WORK/stmt-$1.json"
    }
    # The idle window starts once the feed and every projector have caught
    # up with what the runs before recorded: nothing left to relay, and no
    # projector's position moved over the last second (a projector's lag
    # counts the events of other types after its last one, so it is not 0
    # for one with nothing to do).
    positions() {
        curl -sS "$BASE/ready" | python3 -c '
import json, sys
r = json.load(sys.stdin)
print(r.get("relay_backlog"), sorted((p["name"], p["position"]) for p in r.get("projectors", [])))'
    }
    settled=""
    for _ in $(seq 1 300); do
        p0="$(positions)"; sleep 1; p1="$(positions)"
        [[ "$p0" == "$p1" && "$p1" == "0 "* ]] && { settled=1; break; }
    done
    [[ -n "$settled" ]] || die "the feed did not settle before the idle window"
    sleep 2
    o0="$(stat -c %s "$PG_LOG")"; sleep 5; o1="$(stat -c %s "$PG_LOG")"
    statement_window idle "$o0" "$o1" 5
    t0="$(date +%s.%N)"
    BEFORE="$(psql -X -At -d "$DB" -c "SELECT COUNT(*) FROM messages_view")"
    THREADS_BEFORE="$(psql -X -At -d "$DB" -c "SELECT COUNT(*) FROM threads_view")"
    "$LOADGEN" --url "$BASE/api/v1/sms" --method POST --header "authorization: Bearer $TOKEN" \
        --body "$SMS_BODY" --values "$WORK/statement-recipients.txt" --concurrency "$CONCURRENCY" \
        --requests "$STATEMENTS" --duration 600 --label statements-accept --out "$RESULTS/statements-accept-load.json" >/dev/null
    caught_up "SELECT COUNT(*) FROM messages_view" "$((BEFORE + STATEMENTS))"
    caught_up "SELECT COUNT(*) FROM threads_view" "$((THREADS_BEFORE + STATEMENTS))"
    sleep 1
    t1="$(date +%s.%N)"; o2="$(stat -c %s "$PG_LOG")"
    statement_window accept "$o1" "$o2" "$(python3 -c "print($t1 - $t0)")"
    psql -X -At -d "$DB" -c "SELECT 'CustomField=' || message_id || '&To=' || replace(to_number, '+', '%2B')
        FROM messages_view WHERE to_number LIKE '+91983%' AND provider_sid IS NULL" >"$WORK/statement-reports.txt"
    REPORTS_BEFORE="$(psql -X -At -d "$DB" -c "SELECT COUNT(*) FROM messages_view WHERE status = 'delivered'")"
    t0="$(date +%s.%N)"
    "$LOADGEN" --url "$REPORT_URL" --method POST --header 'content-type: application/x-www-form-urlencoded' \
        --body "$REPORT_BODY" --values "$WORK/statement-reports.txt" --concurrency "$CONCURRENCY" \
        --requests "$STATEMENTS" --duration 600 --label statements-reports --out "$RESULTS/statements-reports-load.json" >/dev/null
    caught_up "SELECT COUNT(*) FROM messages_view WHERE status = 'delivered'" "$((REPORTS_BEFORE + STATEMENTS))"
    sleep 1
    t1="$(date +%s.%N)"; o3="$(stat -c %s "$PG_LOG")"
    statement_window reports "$o2" "$o3" "$(python3 -c "print($t1 - $t0)")"
    stop_server
    psql -X -q -d postgres -c "ALTER DATABASE \"$DB\" RESET log_min_duration_statement" \
        -c "ALTER DATABASE \"$DB\" RESET log_parameter_max_length" >/dev/null
    for kind in accept reports; do
        python3 "$BENCH_DIR/pglog.py" per-command "$WORK/stmt-$kind.json" "$WORK/stmt-idle.json" "$STATEMENTS" \
            >"$RESULTS/statements-$kind.json"
        log "statements per $kind: $(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("%.2f synchronous, %.2f in total, %.2f ms logged; " % (r["synchronous_per_command"], r["total_per_command"], r["server_ms_per_command"]) + ", ".join("%s %.2f" % (k, v["per_command"]) for k, v in r["stages"].items()))' "$RESULTS/statements-$kind.json")"
    done
fi

# 4. dispatch pacing (PACING_DURATION=0 leaves it out)
if (( PACING_DURATION > 0 )); then
DB2="bench_sms_${ID}_pacing"
STREAM2="SB_BENCH_SMS_P_${ID^^}"
fresh_db "$DB2"
prepare "$DB2" "$STREAM2"
start_server "$DB2" "$STREAM2" true pacing
TOKEN="$(login)"
configure "$TOKEN"
sleep 2 # the probe message is sent before the measured ones
log "pacing: $PACING_RATE messages/s for $PACING_DURATION s"
"$LOADGEN" --url "$BASE/api/v1/sms" --method POST --header "authorization: Bearer $TOKEN" \
    --body "$SMS_BODY" --values "$WORK/recipients.txt" --rate "$PACING_RATE" --concurrency 4 \
    --duration "$PACING_DURATION" --warmup 0 --label pacing --out "$RESULTS/pacing-requests.json" >/dev/null
sleep 3
# Every message after the probe, with its request and each dispatch start (all attempts).
psql -X -At -d "$DB2" -F ' ' >"$RESULTS/pacing-events.txt" <<'SQL'
WITH probe AS (
  SELECT aggregate_id FROM events WHERE event_type = 'MessageRequested'
  ORDER BY global_position LIMIT 1)
SELECT aggregate_id, event_type,
       EXTRACT(EPOCH FROM (payload->event_type->>'at')::timestamptz)
FROM events
WHERE aggregate_type = 'outbound_message'
  AND event_type IN ('MessageRequested', 'MessageDispatchStarted', 'MessageSubmitted', 'MessageNotSent', 'MessageRefused')
  AND aggregate_id NOT IN (SELECT aggregate_id FROM probe)
ORDER BY 3;
SQL
python3 - "$RESULTS/pacing-events.txt" "$PACING_RATE" >"$RESULTS/pacing.json" <<'PY'
import json, statistics, sys
rows = [line.split() for line in open(sys.argv[1]) if line.strip()]
rate = float(sys.argv[2])
by_type = {}
requested, first_start = {}, {}
for mid, kind, at in rows:
    at = float(at)
    by_type.setdefault(kind, []).append(at)
    if kind == "MessageRequested":
        requested[mid] = at
    if kind == "MessageDispatchStarted":
        first_start.setdefault(mid, at)
starts = sorted(by_type.get("MessageDispatchStarted", []))
def pct(values, p):
    values = sorted(values)
    return values[max(0, min(len(values) - 1, int(-(-p * len(values) // 1)) - 1))] if values else None
out = {"target_rate": rate, "target_interval_ms": 1000.0 / rate,
       "messages": len(requested), "dispatch_starts": len(starts),
       "submitted": len(by_type.get("MessageSubmitted", [])),
       "not_sent": len(by_type.get("MessageNotSent", [])),
       "refused": len(by_type.get("MessageRefused", []))}
if len(starts) >= 2:
    intervals = [(b - a) * 1000 for a, b in zip(starts, starts[1:])]
    span = starts[-1] - starts[0]
    mean = span * 1000 / (len(starts) - 1)
    out.update({
        "sending_rate": (len(starts) - 1) / span,
        "mean_interval_ms": mean,
        "interval_error_pct": 100.0 * abs(mean - 1000.0 / rate) / (1000.0 / rate),
        "interval_stdev_pct": 100.0 * statistics.pstdev(intervals) / (1000.0 / rate),
        "interval_ms": {"min": min(intervals), "p1": pct(intervals, 0.01), "p50": pct(intervals, 0.5),
                        "p99": pct(intervals, 0.99), "max": max(intervals), "stdev": statistics.pstdev(intervals)},
    })
req = sorted(requested.values())
if len(req) >= 2:
    out["request_rate"] = (len(req) - 1) / (req[-1] - req[0])
lags = [(first_start[m] - requested[m]) * 1000 for m in requested if m in first_start]
if lags:
    out["requested_to_dispatch_ms"] = {"p50": pct(lags, 0.5), "p99": pct(lags, 0.99), "max": max(lags)}
print(json.dumps(out, indent=2))
PY
log "pacing: $(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("%d starts of %d messages, %.3f/s, mean interval %.1f ms vs %.1f ms (error %.2f %%), interval p1 %.1f p99 %.1f ms, %d not sent" % (r["dispatch_starts"], r["messages"], r["sending_rate"], r["mean_interval_ms"], r["target_interval_ms"], r["interval_error_pct"], r["interval_ms"]["p1"], r["interval_ms"]["p99"], r["not_sent"]))' "$RESULTS/pacing.json")"
stop_server
fi

python3 - "$RESULTS" "$LIMIT" "$ACCEPT_RECORDED" "$REPORTED" "$DELIVERED" "$REPORTABLE" <<'PY'
import json, sys, os
results, limit = sys.argv[1], float(sys.argv[2])
accepted, reported, delivered, reportable = (int(v) for v in sys.argv[3:7])
load = lambda name: json.load(open(os.path.join(results, name)))
def kv(name):
    out = {}
    for line in open(os.path.join(results, name)):
        k, _, v = line.strip().partition("=")
        try:
            out[k] = float(v)
        except ValueError:
            out[k] = v
    return out
accept, reports = load("accept.json"), load("reports.json")
rss = {}
for f in sorted(os.listdir(results)):
    if f.startswith("rss-"):
        rss[f[4:-4]] = round(kv(f)["vmhwm_kb"] / 1024, 1)
summary = {
    "limit_command_tps": limit,
    "acceptance": {"rate": accept["rate"], "p50_ms": accept["latency_ms"]["p50"], "p99_ms": accept["latency_ms"]["p99"],
                   "requests": accept["requests"], "ok": accept["ok"], "recorded": accepted,
                   "ratio_to_limit": accept["rate"] / limit, "cpu": kv("accept.server")},
    "reports": {"rate": reports["rate"], "p50_ms": reports["latency_ms"]["p50"], "p99_ms": reports["latency_ms"]["p99"],
                "requests": reports["requests"], "ok": reports["ok"], "target_rate": reports["target_rate"],
                "messages_available": reportable, "recorded": reported, "delivered": delivered,
                "cpu": kv("reports.server")},
    "pacing": load("pacing.json") if os.path.exists(os.path.join(results, "pacing.json")) else None,
    "peak_rss_mb": rss,
}
json.dump(summary, open(os.path.join(results, "summary.json"), "w"), indent=2)
print(json.dumps(summary, indent=2))
PY
