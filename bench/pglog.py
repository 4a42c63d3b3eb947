#!/usr/bin/env python3
"""Statements per command from the PostgreSQL server log (standard library only).

    pglog.py count LOG DB FROM TO SECONDS > window.json   # one window of the log
    pglog.py per-command LOAD.json IDLE.json COMMANDS > statements.json

The bench sets `log_min_duration_statement = 0` on its own database only
(`ALTER DATABASE … SET`, gone with the database), so PostgreSQL logs every
statement of the switchboard processes connected to it, with its duration
and parameters. `count` reads the log between two byte offsets, keeps the
records of database DB, and counts each statement once per *execution*
(`execute …:` of the extended protocol, `statement:` of the simple one);
`parse` and `bind` records are not statements but their time is added to
the statement's server time.

Each statement is given a stage. Statements are grouped into transactions
per backend (BEGIN … COMMIT/ROLLBACK); a transaction that writes a read
model (or names a projector in a checkpoint row) belongs to that projector,
one that appends to `events` is the command's commit, and so on (see
`stage_of`); BEGIN and COMMIT count in the stage of their transaction.
`per-command` subtracts an idle window of the same server (background
polling: the relay's poll, checkpoints) scaled to the load window's length,
and divides by the number of commands.
"""

import json
import re
import sys
from collections import defaultdict

RECORD = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \S+) \[(\d+)\] (\S*)@(\S*) (\w+):  (.*)$")
DURATION = re.compile(r"^duration: ([\d.]+) ms  (parse|bind|execute|statement)( [^:]*)?: (.*)$", re.S)

# Read models and who writes them.
VIEW_TABLES = {
    "api_keys_view": "api_keys", "users_view": "users", "organisations_view": "organisations",
    "phone_numbers_view": "phone_numbers", "email_accounts_view": "email_accounts",
    "email_threads": "email_threads", "email_thread_messages": "email_threads",
    "email_message_threads": "email_threads", "event_hashes": "audit_chain",
    "sealed_hashes": "audit_chain", "calls_view": "calls", "customers_view": "customers",
    "inbound_messages_view": "inbound_messages", "message_windows": "inbound_messages",
    "masked_sessions_view": "masked_sessions", "messages_view": "messages",
    "sms_templates_view": "sms_templates", "threads_view": "threads", "thread_items": "threads",
    "thread_reads": "threads", "webhook_deliveries": "webhook_outbox", "webhook_attempts": "webhook_outbox",
    "webhook_subjects": "webhook_outbox", "webhook_endpoints_view": "webhook_outbox",
    "whatsapp_templates_view": "whatsapp_templates",
}
PROJECTORS = sorted(set(VIEW_TABLES.values()))
SYNC_STAGES = ("auth", "aggregate load", "commit", "idempotency", "request read")


def normalise(sql: str) -> str:
    sql = re.sub(r"\s+", " ", sql).strip()
    # Multi-row statements differ only by how many rows they carry.
    sql = re.sub(r"(\(\$\d+(?:, ?\$\d+)*\))(?:, ?\(\$\d+(?:, ?\$\d+)*\))+", r"\1, …", sql)
    sql = re.sub(r"IN \(\$\d+(?:, ?\$\d+)+\)", "IN ($…)", sql)
    return sql


def records(path: str, start: int, end: int, db: str):
    """Log records of database `db` between two byte offsets, continuation lines joined."""
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read(max(0, end - start)).decode("utf-8", "replace")
    current = None
    for line in data.splitlines():
        m = RECORD.match(line)
        if m:
            if current and current["db"] == db:
                yield current
            current = {"pid": m.group(2), "db": m.group(4), "level": m.group(5), "text": m.group(6)}
        elif current is not None:
            current["text"] += "\n" + line
    if current and current["db"] == db:
        yield current


def executions(path: str, start: int, end: int, db: str):
    """[(pid, sql, ms, params)] in log order: one per executed statement."""
    out, pending = [], {}  # pending: pid -> server time of parse/bind before the execute
    last_by_pid = {}  # pid -> index in out of its execution logged last, while the next record may be its DETAIL
    for rec in records(path, start, end, db):
        if rec["level"] == "DETAIL" and rec["text"].startswith("parameters:"):
            # A bind is logged with its parameters too, before the execute:
            # only a DETAIL right after an execute belongs to it.
            i = last_by_pid.pop(rec["pid"], None)
            if i is not None:
                out[i][3] = rec["text"][len("parameters:"):].strip()
            continue
        last_by_pid.pop(rec["pid"], None)
        if rec["level"] != "LOG":
            continue
        m = DURATION.match(rec["text"])
        if not m:
            continue
        ms, kind, sql = float(m.group(1)), m.group(2), m.group(4)
        if kind in ("parse", "bind"):
            pending[rec["pid"]] = pending.get(rec["pid"], 0.0) + ms
            continue
        ms += pending.pop(rec["pid"], 0.0)
        out.append([rec["pid"], normalise(sql), ms, ""])
        last_by_pid[rec["pid"]] = len(out) - 1
    return out


def stage_of(statements) -> str:
    """The stage of one transaction (or of one statement outside any)."""
    texts = [s for s, _ in statements]
    params = " ".join(p for _, p in statements)
    writes = [t for t in texts if re.match(r"^(INSERT|UPDATE|DELETE|TRUNCATE)\b", t)]
    for t in writes:
        for table, projector in VIEW_TABLES.items():
            if re.search(rf"\b(INTO|UPDATE|FROM|TRUNCATE) {table}\b", t):
                return f"projector {projector}"
    if any("projection_checkpoints" in t or "projection_sequences" in t for t in writes):
        for projector in PROJECTORS:
            if f"'{projector}'" in params:
                return f"projector {projector}"
        return "projector (unnamed)"
    if any(re.search(r"relay_checkpoints|pg_try_advisory_lock|pg_snapshot_xmin", t) for t in texts):
        if any(t.startswith("SELECT count(*) FROM events") for t in texts):
            return "probe (/ready)"
        return "relay"
    if any(t.startswith("INSERT INTO events") for t in texts):
        return "commit"
    if any("idempotency_keys" in t for t in texts):
        return "idempotency"
    # A full replay (`… ORDER BY sequence`), or the events after a remembered
    # version (`… AND sequence > $3 ORDER BY sequence`).
    if any(re.search(r"FROM events WHERE aggregate_type = \$1 AND aggregate_id = \$2 (AND sequence > \$3 )?ORDER BY sequence", t) for t in texts):
        return "auth" if re.match(r"\$1 = 'user'", params) else "aggregate load"
    if any(re.match(r"^(SELECT 1|SELECT projector, position)", t) for t in texts):
        return "probe (/ready)"
    if any(re.search(r"\bFROM (projection_checkpoints|projection_sequences)\b", t) for t in texts):
        return "projector (reads)"
    if any(re.search(r"\bFROM (" + "|".join(VIEW_TABLES) + r")\b", t) for t in texts):
        return "request read"
    return "other"


def count(path: str, db: str, start: int, end: int) -> dict:
    rows = executions(path, start, end, db)
    # Group per backend into transactions.
    open_tx, groups = {}, []
    for pid, sql, ms, params in rows:
        if re.match(r"^(BEGIN|START TRANSACTION)\b", sql, re.I):
            open_tx[pid] = [(sql, ms, params)]
        elif pid in open_tx:
            open_tx[pid].append((sql, ms, params))
            if re.match(r"^(COMMIT|ROLLBACK|END)\b", sql, re.I):
                groups.append(open_tx.pop(pid))
        else:
            groups.append([(sql, ms, params)])
    groups += open_tx.values()
    stats = defaultdict(lambda: {"count": 0, "ms": 0.0})
    for group in groups:
        stage = stage_of([(s, p) for s, _, p in group])
        for sql, ms, _ in group:
            entry = stats[(stage, sql)]
            entry["count"] += 1
            entry["ms"] += ms
    return {"statements": [{"stage": k[0], "sql": k[1], **v} for k, v in sorted(stats.items())],
            "transactions": len(groups)}


def per_command(load: dict, idle: dict, commands: int) -> dict:
    scale = load["seconds"] / idle["seconds"] if idle.get("seconds") else 0.0
    base = {(s["stage"], s["sql"]): s for s in idle["statements"]}
    out = []
    for s in load["statements"]:
        b = base.get((s["stage"], s["sql"]), {"count": 0, "ms": 0.0})
        n = max(0.0, s["count"] - b["count"] * scale)
        ms = max(0.0, s["ms"] - b["ms"] * scale)
        out.append({"stage": s["stage"], "sql": s["sql"], "raw_count": s["count"], "idle_count": b["count"],
                    "per_command": n / commands, "server_ms_per_command": ms / commands})
    stages = defaultdict(lambda: {"per_command": 0.0, "server_ms_per_command": 0.0})
    for s in out:
        if s["stage"].startswith("probe"):
            continue
        stages[s["stage"]]["per_command"] += s["per_command"]
        stages[s["stage"]]["server_ms_per_command"] += s["server_ms_per_command"]
    sync = sum(v["per_command"] for k, v in stages.items() if k in SYNC_STAGES)
    total = sum(v["per_command"] for v in stages.values())
    return {"commands": commands, "load_seconds": load["seconds"], "idle_seconds": idle["seconds"],
            "synchronous_per_command": sync, "total_per_command": total,
            "server_ms_per_command": sum(v["server_ms_per_command"] for v in stages.values()),
            "stages": dict(sorted(stages.items(), key=lambda kv: -kv[1]["per_command"])),
            "statements": sorted(out, key=lambda s: (-s["per_command"], s["sql"]))}


def main() -> int:
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "count" and len(sys.argv) == 7:
        _, _, path, db, start, end, seconds = sys.argv
        result = count(path, db, int(start), int(end))
        result["seconds"] = float(seconds)
        print(json.dumps(result))
    elif cmd == "per-command" and len(sys.argv) == 5:
        load, idle = (json.load(open(p)) for p in sys.argv[2:4])
        print(json.dumps(per_command(load, idle, int(sys.argv[4])), indent=1))
    else:
        print("usage: pglog.py count LOG DB FROM TO SECONDS | per-command LOAD IDLE N", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
