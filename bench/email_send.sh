#!/usr/bin/env bash
# E-mail send rate: Switchboard against the physical limit, one machine, one run.
#
#   bench/email_send.sh
#
# 1. the limit: bench/smtp_limit.py sends SENDS messages straight to Postfix's
#    submission port (587, STARTTLS, AUTH), CONCURRENCY threads, one whole
#    SMTP conversation per message — the same work Switchboard does per
#    e-mail — and again with one reused connection per thread (the ceiling of
#    Postfix's acceptance alone);
# 2. Switchboard: SENDS e-mails through POST /api/v1/communications/emails,
#    CONCURRENCY at a time, for each mode in MODES (release build of the e2e
#    test binary, ignored test email_send::bench::send_rate_through_postfix);
# 3. the limit again, so that drift during the run shows.
# The ratio is Switchboard's rate over the mean of the two per-message limits.
# Results go to bench/results/email-<UTC timestamp>/ (summary.txt, machine.txt,
# one JSON line per run).
#
# Options (environment variables):
#   SENDS=500  CONCURRENCY=8  WARMUP=20  MODES="embedded distributed"
#   SWITCHBOARD_MAIL_CA_FILE=/var/tmp/switchboard-mail/tls/ca.pem
#   CARGO_TARGET_DIR        where the release build goes (cargo's default otherwise)
# Needs: the test mail servers (tests/mail/up.sh, run if 587 is closed),
# PostgreSQL and NATS as for the e2e tests (distributed mode), cargo, python3.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$BENCH_DIR")"
SENDS="${SENDS:-500}"
CONCURRENCY="${CONCURRENCY:-8}"
WARMUP="${WARMUP:-20}"
MODES="${MODES:-embedded distributed}"
CA="${SWITCHBOARD_MAIL_CA_FILE:-/var/tmp/switchboard-mail/tls/ca.pem}"
TS="$(date -u +%Y%m%dT%H%M%SZ)"
RESULTS="$BENCH_DIR/results/email-$TS"
mkdir -p "$RESULTS"

log() { printf '[email-bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! port_open 587; then
    log "starting the test mail servers"
    bash "$ROOT/tests/mail/up.sh"
fi
[[ -r "$CA" ]] || { log "no CA file at $CA"; exit 1; }

{
    echo "date_utc: $TS"
    echo "nproc: $(nproc)"
    echo "memory: $(free -h | awk '/^Mem:/ {print $2 " total, " $7 " available"}')"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "kernel: $(uname -sr)"
    echo "postfix: $(postconf -c /var/tmp/switchboard-mail/postfix -h mail_version 2>/dev/null || echo unknown)"
    echo "dovecot: $(dovecot --version 2>/dev/null || echo unknown)"
    echo "python: $(python3 --version 2>&1)"
    echo "git_head: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "loadavg_at_start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "busiest_processes_at_start: $(ps -eo pcpu=,comm= --sort=-pcpu | head -5 | awk '{printf "%s(%s%%) ", $2, $1}')"
} >"$RESULTS/machine.txt"
cat "$RESULTS/machine.txt" >&2

log "building the release test binary (first time: several minutes)"
(cd "$ROOT" && cargo test --release -p switchboard-tests --test e2e --no-run) >"$RESULTS/build.log" 2>&1 \
    || { log "build failed: see $RESULTS/build.log"; exit 1; }

limit() {
    python3 "$BENCH_DIR/smtp_limit.py" --sends "$SENDS" --concurrency "$CONCURRENCY" --warmup "$WARMUP" --ca "$CA" "$@"
}

log "limit: smtplib straight to Postfix, one conversation per message"
limit >"$RESULTS/limit_before.json"
log "limit: smtplib, one reused connection per thread"
limit --reuse >"$RESULTS/limit_reuse.json"
for mode in $MODES; do
    log "switchboard ($mode): $SENDS sends through the API"
    (cd "$ROOT" && BENCH_MODE="$mode" BENCH_SENDS="$SENDS" BENCH_CONCURRENCY="$CONCURRENCY" BENCH_WARMUP="$WARMUP" \
        SWITCHBOARD_MAIL_CA_FILE="$CA" RUST_LOG=warn \
        cargo test --release -q -p switchboard-tests --test e2e -- --ignored --exact --nocapture \
        email_send::bench::send_rate_through_postfix) >"$RESULTS/switchboard_$mode.log" 2>&1 \
        || { log "run failed: see $RESULTS/switchboard_$mode.log"; exit 1; }
    grep -o 'BENCH_RESULT .*' "$RESULTS/switchboard_$mode.log" | cut -d' ' -f2- >"$RESULTS/switchboard_$mode.json"
done
log "limit again"
limit >"$RESULTS/limit_after.json"

python3 - "$RESULTS" $MODES <<'EOF' | tee "$RESULTS/summary.txt"
import json, sys
results, modes = sys.argv[1], sys.argv[2:]
load = lambda name: json.load(open(f"{results}/{name}.json"))
before, after, reuse = load("limit_before"), load("limit_after"), load("limit_reuse")
limit = (before["per_second"] + after["per_second"]) / 2
row = lambda name, r, extra="": print(f"{name:<44} {r['per_second']:8.1f}/s  p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms {extra}")
print(f"{before['sends']} sends, {before['concurrency']} at a time")
row("limit: smtplib, a conversation per message", before, "(before)")
row("", after, "(after)")
row("ceiling: smtplib, reused connections", reuse)
for mode in modes:
    r = load(f"switchboard_{mode}")
    row(f"switchboard API, {mode}", r, f"= {r['per_second'] / limit:.2f} x limit")
EOF
log "results in $RESULTS"
