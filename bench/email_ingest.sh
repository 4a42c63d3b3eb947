#!/usr/bin/env bash
# E-mail ingestion benchmark: one command, one machine, one run.
#
#   bench/email_ingest.sh
#
# 1. writes a reproducible corpus (bench/mail_corpus.py: mixed sizes, 10 %
#    with a 20-400 KB attachment, a quarter of them replies) and imports it
#    into a fresh folder of a test user's mailbox with one `doveadm import`;
# 2. measures the physical limits: one IMAPS connection fetching the whole
#    folder (`UID FETCH 1:* BODY.PEEK[]`, bench/imap_fetch.py), and a raw
#    IMAPS client in IDLE timing `doveadm save` to `* N EXISTS`
#    (bench/imap_idle.py, RAW_IDLE_SAMPLES, in a folder of its own);
# 3. runs the driver (the ignored test email_receive::bench, release build):
#    Switchboard with every part running, an account added for the folder,
#    the time until every message is recorded and visible in the thread view;
#    then LATENCY_SAMPLES single deliveries (`doveadm save`) while the poller
#    IDLEs, each timed from the save's return to its row in the thread view.
#
# Options (environment variables):
#   MESSAGES=10000          messages in the corpus
#   LATENCY_SAMPLES=200     timed single deliveries
#   RAW_IDLE_SAMPLES=50     timed deliveries to the raw IDLE client
#   MODE=embedded           embedded (SQLite) or distributed (PostgreSQL + NATS)
#   MAIL_USER=load8@switchboard.test  MAIL_PASSWORD=load-password
#   CA_FILE=/var/tmp/switchboard-mail/tls/ca.pem   the CA the mail servers' certificate chains to
#   KEEP=0                  1: keep the folder and the corpus
# Needs: the test mail servers (tests/mail/up.sh), root (doveadm), python3, cargo.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$BENCH_DIR")"
MESSAGES="${MESSAGES:-10000}"
LATENCY_SAMPLES="${LATENCY_SAMPLES:-200}"
RAW_IDLE_SAMPLES="${RAW_IDLE_SAMPLES:-50}"
MODE="${MODE:-embedded}"
MAIL_USER="${MAIL_USER:-load8@switchboard.test}"
MAIL_PASSWORD="${MAIL_PASSWORD:-load-password}"
CA_FILE="${CA_FILE:-/var/tmp/switchboard-mail/tls/ca.pem}"
KEEP="${KEEP:-0}"
DOVECOT_CONF="/var/tmp/switchboard-mail/dovecot.conf"

TS="$(date -u +%Y%m%dT%H%M%SZ)"
RESULTS="$BENCH_DIR/results/email-$TS"
WORK="$(mktemp -d "/tmp/switchboard-mailbench-$TS.XXXXXX")"
PARENT="bench${TS,,}"
FOLDER="$PARENT/INBOX"

log() { printf '[email bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
doveadm_() { doveadm -c "$DOVECOT_CONF" "$@"; }

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ "$KEEP" == 1 ]]; then
        log "KEEP=1: kept folder $FOLDER of $MAIL_USER and $WORK"
    else
        doveadm_ mailbox delete -u "$MAIL_USER" -r "$PARENT" >/dev/null 2>&1 || true
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for tool in doveadm python3 cargo; do command -v "$tool" >/dev/null || die "$tool is required"; done
[[ -r "$CA_FILE" ]] || die "no CA file at $CA_FILE: start the mail servers (tests/mail/up.sh)"
(exec 3<>/dev/tcp/127.0.0.1/993) 2>/dev/null || die "no IMAPS on 127.0.0.1:993: start tests/mail/up.sh"
mkdir -p "$RESULTS"
log "results go to $RESULTS"

log "building the driver (release; slow the first time)"
(cd "$ROOT" && cargo test --release -p switchboard-tests --test e2e --no-run) >"$RESULTS/build.log" 2>&1 \
    || die "build failed, see $RESULTS/build.log"

{
    echo "date_utc: $TS"
    echo "nproc: $(nproc)"
    echo "memory: $(free -h | awk '/^Mem:/ {print $2 " total, " $7 " available"}')"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "kernel: $(uname -sr)"
    echo "dovecot: $(dovecot --version 2>/dev/null || echo unknown)"
    echo "mode: $MODE"
    echo "git_head: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "loadavg_at_start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$RESULTS/machine.txt"

log "writing $MESSAGES messages"
python3 "$BENCH_DIR/mail_corpus.py" "$WORK/Maildir" "$MESSAGES" >"$RESULTS/corpus.json"
chmod -R a+rwX "$WORK"
started=$(date +%s.%N)
doveadm_ import -u "$MAIL_USER" -s "maildir:$WORK/Maildir" "$PARENT" all
imported=$(doveadm_ -f flow mailbox status -u "$MAIL_USER" messages "$FOLDER" | sed 's/.*messages=//')
[[ "$imported" == "$MESSAGES" ]] || die "imported $imported of $MESSAGES"
log "imported into $FOLDER in $(python3 -c "print(round($(date +%s.%N) - $started, 1))") s: $(cat "$RESULTS/corpus.json")"

log "raw IMAP fetch of the folder (the physical limit)"
python3 "$BENCH_DIR/imap_fetch.py" 127.0.0.1 993 "$MAIL_USER" "$MAIL_PASSWORD" "$FOLDER" "$CA_FILE" \
    >"$RESULTS/raw-fetch.json"
cat "$RESULTS/raw-fetch.json" >&2
doveadm_ mailbox create -u "$MAIL_USER" "$PARENT/idle"
python3 "$BENCH_DIR/imap_idle.py" 127.0.0.1 993 "$MAIL_USER" "$MAIL_PASSWORD" "$PARENT/idle" "$CA_FILE" \
    "$DOVECOT_CONF" "$RAW_IDLE_SAMPLES" >"$RESULTS/raw-idle.json"
cat "$RESULTS/raw-idle.json" >&2

log "switchboard ingestion ($MODE), then $LATENCY_SAMPLES IDLE deliveries"
(cd "$ROOT" && env BENCH_MAIL_USER="$MAIL_USER" BENCH_MAIL_PASSWORD="$MAIL_PASSWORD" BENCH_MAIL_FOLDER="$FOLDER" \
    BENCH_MESSAGES="$MESSAGES" BENCH_LATENCY_SAMPLES="$LATENCY_SAMPLES" BENCH_MODE="$MODE" \
    BENCH_RESULT="$RESULTS/ingest.json" RUST_LOG="${RUST_LOG:-warn}" \
    cargo test --release -p switchboard-tests --test e2e -- --ignored --exact \
    email_receive::bench::email_ingest_benchmark --nocapture) >"$RESULTS/driver.log" 2>&1 \
    || die "the driver failed, see $RESULTS/driver.log"

python3 - "$RESULTS" <<'EOF' | tee "$RESULTS/summary.md"
import json, sys
d = sys.argv[1]
raw, run = json.load(open(f"{d}/raw-fetch.json")), json.load(open(f"{d}/ingest.json"))
idle = json.load(open(f"{d}/raw-idle.json"))
corpus = json.load(open(f"{d}/corpus.json"))
raw_rate = raw["messages"] / raw["seconds"]
rate = run["messages_per_second"]
lat = run["latency_ms"]
print(f"| figure | value | target |")
print(f"| --- | --- | --- |")
print(f"| corpus | {corpus['messages']} messages, {corpus['bytes'] / 1e6:.0f} MB ({corpus['kinds']}) | |")
print(f"| raw IMAP fetch (physical limit) | {raw_rate:,.0f} messages/s ({raw['bytes'] / 1e6 / raw['seconds']:.0f} MB/s, {raw['seconds']} s) | reference |")
print(f"| ingestion, {run['mode']} (account added → all in the thread view) | {rate:,.0f} messages/s ({run['seconds_to_visible']:.1f} s; recorded after {run['seconds_to_recorded']:.1f} s) | ≥ 200/s |")
print(f"| ratio to the raw fetch | {rate / raw_rate:.2f} | |")
print(f"| threads / rejected | {run['threads']} / {run['rejected']} | |")
print(f"| delivery → thread visible, IDLE ({run['latency_samples']} samples) | p50 {lat['p50']:.0f} ms, p99 {lat['p99']:.0f} ms, max {lat['max']:.0f} ms | p99 < 2 s |")
raw_lat = idle["latency_ms"]
print(f"| delivery → `* EXISTS` at a raw IDLE client (physical limit, {idle['samples']} samples) | p50 {raw_lat['p50']:.0f} ms, p99 {raw_lat['p99']:.0f} ms | reference |")
EOF
