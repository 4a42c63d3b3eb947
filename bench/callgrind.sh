#!/usr/bin/env bash
# Instructions per command of the switchboard server, counted by
# valgrind --tool=callgrind (repeatable on a noisy shared machine: it counts
# instructions executed, not time).
#
#   bench/callgrind.sh                # runs `CALLGRIND=1 CALLGRIND_ONLY=1 bench/run.sh`
#   CALLGRIND=1 bench/run.sh          # the whole bench, then this
#
# What it does (distributed mode: PostgreSQL + NATS JetStream, a fresh
# database and stream of its own): starts the release `switchboard serve`
# under callgrind with instrumentation off (`--instr-atstart=no`), logs in,
# sends one priming command, waits for the projectors, then switches
# instrumentation on (`callgrind_control -i on`), sends 200 unmeasured
# commands at the same concurrency (so every pool connection is open) and
# measures two windows of the same process:
#   load: counters zeroed, CALLGRIND_COMMANDS `POST /api/v1/api-keys`
#         (CALLGRIND_CONCURRENCY connections), then wait until the relay has
#         published them and the api_keys and audit_chain projectors have
#         applied them; dump;
#   idle: counters zeroed, nothing sent for as long as the load window took,
#         with as many /ready polls as the wait above made; dump.
# Instructions per command = (load - idle) / commands: the idle window
# removes what the process does whatever the load (the relay's poll, timers,
# the readiness polls), measured under the same slowdown.
# callgrind_annotate --inclusive=yes then gives each function's inclusive
# count in the load window; bench/callgrind_stages.py maps functions to
# stages (HTTP, authentication, aggregate load, commit, relay, each
# projector, the audit chain) and prints each stage's inclusive instructions
# per command (the idle window's count of the same functions subtracted).
# Only the switchboard process is counted: PostgreSQL's and NATS's work is
# not in these figures (see the statement counts for PostgreSQL).
#
# When sourced by run.sh it only defines run_callgrind and cleanup_callgrind.
# Options: CALLGRIND_COMMANDS (2000), CALLGRIND_CONCURRENCY (4).

# shellcheck disable=SC2034,SC2153  # (variables shared with run.sh, which sources this)
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -euo pipefail
    exec env CALLGRIND=1 CALLGRIND_ONLY=1 "$(cd "$(dirname "$0")" && pwd)/run.sh" "$@"
fi

CG_DB=""

cleanup_callgrind() {
    # The databases and streams are in run.sh's lists; nothing else to do
    # but make sure no callgrind server outlives the run (stop_server does).
    return 0
}

run_callgrind() {
    local tool token t0 t1 load_s polls i ir_dir
    for tool in valgrind callgrind_control callgrind_annotate; do
        command -v "$tool" >/dev/null || die "$tool is required for CALLGRIND=1 (Debian: apt-get install valgrind)"
    done
    local commands="${CALLGRIND_COMMANDS:-2000}" concurrency="${CALLGRIND_CONCURRENCY:-4}"
    CG_DB="${SB_DB}_cg"
    local stream="${STREAM}_CG" prefix="sbbench.${TS_ID}.cg.events"
    log "callgrind: database $CG_DB, stream $stream, $commands commands over $concurrency connections"
    psql -X -q -d postgres -c "CREATE DATABASE \"$CG_DB\"" >/dev/null
    CREATED_DBS+=("$CG_DB")
    CREATED_STREAMS+=("$stream")
    local cg_env=("${DIST_ENV[@]}" DATABASE_URL="postgres://$PGUSER@$PGHOST:$PGPORT/$CG_DB"
        SWITCHBOARD_NATS_STREAM="$stream" SWITCHBOARD_NATS_SUBJECT_PREFIX="$prefix")
    local org
    env -i "${cg_env[@]}" "$SB" migrate >/dev/null
    org="$(env -i "${cg_env[@]}" "$SB" admin create-org --name "Bench callgrind $TS" | tail -n1)"
    env -i "${cg_env[@]}" "$SB" admin create-user --org "$org" --email "$ADMIN_EMAIL" --password "$ADMIN_PASSWORD" \
        --role admin >/dev/null

    ir_dir="$WORK/callgrind"
    mkdir -p "$ir_dir"
    port_free "$PORT" || die "port $PORT was taken meanwhile"
    env -i "${cg_env[@]}" valgrind --tool=callgrind --instr-atstart=no --dump-instr=no \
        --callgrind-out-file="$ir_dir/callgrind.out" \
        "$SB" serve --listen "127.0.0.1:$PORT" >"$RESULTS/serve-nats-callgrind.log" 2>&1 &
    SERVER_PID=$!
    SERVER_LABEL=""  # the RSS of a process under valgrind is valgrind's, not the server's
    for i in $(seq 1 900); do
        curl -fsS -o /dev/null "$BASE/ready" 2>/dev/null && break
        kill -0 "$SERVER_PID" 2>/dev/null || die "switchboard under callgrind exited, see $RESULTS/serve-nats-callgrind.log"
        (( i < 900 )) || die "switchboard under callgrind not ready after 180 s"
        sleep 0.2
    done
    log "callgrind: server (pid $SERVER_PID) ready"
    token="$(login)" || die "login failed"
    curl -fsS -o /dev/null -X POST "$BASE/api/v1/api-keys" -H "authorization: Bearer $token" \
        -H 'content-type: application/json' -d '{"name":"cg-prime","role":"agent"}' || die "priming command failed"
    wait_caught_up callgrind-prime api_keys audit_chain
    callgrind_control -i on "$SERVER_PID" >/dev/null
    # Warm-up at the same concurrency, so the pools have opened their
    # connections (TLS handshakes) before the counted window.
    "$LOADGEN" --url "$BASE/api/v1/api-keys" --header "authorization: Bearer $token" \
        --body '{"name":"cg-warm-{n}","role":"agent"}' --concurrency "$concurrency" --requests 200 --duration 3600 \
        --label callgrind-warmup >/dev/null
    wait_caught_up callgrind-warmup api_keys audit_chain

    callgrind_control -z "$SERVER_PID" >/dev/null
    t0="$(now)"
    "$LOADGEN" --url "$BASE/api/v1/api-keys" --header "authorization: Bearer $token" \
        --body '{"name":"cg-{n}","role":"agent"}' --concurrency "$concurrency" --requests "$commands" --duration 3600 \
        --label callgrind --out "$RESULTS/callgrind-load.json" >/dev/null
    wait_caught_up callgrind api_keys audit_chain
    polls="$READY_POLLS"
    t1="$(now)"
    callgrind_control --dump=load "$SERVER_PID" >/dev/null
    load_s="$(python3 -c 'import sys; print(float(sys.argv[2]) - float(sys.argv[1]))' "$t0" "$t1")"
    log "callgrind: load window ${load_s}s ($polls /ready polls); idle window of the same length"

    callgrind_control -z "$SERVER_PID" >/dev/null
    local deadline
    deadline="$(python3 -c 'import sys; print(float(sys.argv[1]) + float(sys.argv[2]))' "$(now)" "$load_s")"
    for (( i = 0; i < polls; i++ )); do
        curl -sS -o /dev/null "$BASE/ready" || true
        sleep 0.2
    done
    python3 -c 'import sys, time; time.sleep(max(0.0, float(sys.argv[1]) - time.time()))' "$deadline"
    callgrind_control --dump=idle "$SERVER_PID" >/dev/null
    stop_server

    local load_file idle_file
    load_file="$(grep -l '^desc: Trigger: dump load$' "$ir_dir"/callgrind.out* | head -n1)"
    idle_file="$(grep -l '^desc: Trigger: dump idle$' "$ir_dir"/callgrind.out* | head -n1)"
    [[ -n "$load_file" && -n "$idle_file" ]] || die "callgrind dumps not found in $ir_dir"
    local window
    for window in load idle; do
        local file="$load_file"
        [[ "$window" == idle ]] && file="$idle_file"
        callgrind_annotate --inclusive=yes --threshold=100 "$file" >"$RESULTS/callgrind-$window.inclusive.txt" 2>/dev/null
        callgrind_annotate --threshold=100 "$file" >"$RESULTS/callgrind-$window.self.txt" 2>/dev/null
        gzip -c "$file" >"$RESULTS/callgrind.out.$window.gz"
    done
    python3 "$BENCH_DIR/callgrind_stages.py" "$RESULTS/callgrind-load.inclusive.txt" "$RESULTS/callgrind-idle.inclusive.txt" \
        "$RESULTS/callgrind-load.self.txt" "$RESULTS/callgrind-idle.self.txt" \
        "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ok"])' "$RESULTS/callgrind-load.json")" \
        "$load_s" >"$RESULTS/callgrind.json"
    log "callgrind: $(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("{:,.0f} instructions per command".format(r["instructions_per_command"]))' "$RESULTS/callgrind.json")"
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS \"$CG_DB\" WITH (FORCE)" >/dev/null || true
}
