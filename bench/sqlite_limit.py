#!/usr/bin/env python3
"""The limits of the embedded store: what SQLite itself can commit, through
one connection, into the real `events` table (standard library only).

    sqlite_limit.py DB_FILE SECONDS > result.json

DB_FILE is a fresh database migrated by `switchboard migrate` (so the table,
its trigger, generated columns and indexes are the store's own). The
connection is set up as infrastructure/src/database.rs sets up the event
store's: WAL, synchronous=NORMAL, busy_timeout 10 s, foreign keys on, and it
is the only writer (the store's pool has one connection). Two loops run for
SECONDS each, one after the other, on that one connection:

- insert: one transaction per event row (BEGIN, INSERT, COMMIT), the row of
  bench/pgbench-insert.sql, fresh aggregate id: the single-insert limit;
- command: what sqlite-es 0.5.0 runs for a command on a new single-event
  aggregate: its `select_events` on the pool (outside the transaction), then
  BEGIN, INSERT, COMMIT: the minimal-command limit.

Prints one JSON object: per loop the transactions, seconds, rate, latency
p50/p99 (ms) and this process's CPU seconds. Python's own overhead per
statement is inside these figures, so the limits are slightly low (the
interpreter, not SQLite, sets part of the pace).
"""

import json
import os
import sqlite3
import sys
import time
import uuid

PAYLOAD = json.dumps({"ApiKeyIssued": {
    "key_id": "0b6f3c1e-7a51-4f0e-9d2a-3c8e5b1f4a77", "organisation_id": "5b1c0a2e-7d41-4e3a-9f10-5a4db0c50001",
    "name": "bench-12345", "role": "agent",
    "secret_digest": "9f2c7e4b1a8d3f6e0c5b2a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f",
    "created_by": "7d1e2f3a-4b5c-4d6e-8f90-a1b2c3d4e5f6", "issued_at": "2026-11-21T22:00:00.123456Z"}})
METADATA = json.dumps({
    "organisation_id": "5b1c0a2e-7d41-4e3a-9f10-5a4db0c50001", "actor": "user:7d1e2f3a-4b5c-4d6e-8f90-a1b2c3d4e5f6",
    "request_id": "3f9a1c2e-5b7d-4e8f-9a0b-1c2d3e4f5a6b", "correlation_id": "3f9a1c2e-5b7d-4e8f-9a0b-1c2d3e4f5a6b",
    "client_ip": "127.0.0.1", "occurred_at": "2026-11-21T22:00:00.123456Z"})
# The statements of sqlite-es 0.5.0 (src/sql_query.rs), table `events`.
SELECT = """
SELECT aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata
  FROM events
  WHERE aggregate_type = ? AND aggregate_id = ?
  ORDER BY sequence"""
INSERT = """
INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
VALUES (?, ?, ?, ?, ?, ?, ?)"""


def connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def cpu() -> float:
    t = os.times()
    return t.user + t.system


def run(conn: sqlite3.Connection, seconds: float, with_select: bool) -> dict:
    latencies = []
    cpu0, t0 = cpu(), time.perf_counter()
    end = t0 + seconds
    now = t0
    while now < end:
        aggregate_id = str(uuid.uuid4())
        if with_select:
            conn.execute(SELECT, ("api_key", aggregate_id)).fetchall()
        conn.execute("BEGIN")
        conn.execute(INSERT, ("api_key", aggregate_id, 1, "ApiKeyIssued", "1.0", PAYLOAD, METADATA))
        conn.execute("COMMIT")
        done = time.perf_counter()
        latencies.append(done - now)
        now = done
    wall, used = now - t0, cpu() - cpu0
    latencies.sort()
    rank = lambda p: latencies[min(len(latencies) - 1, max(0, int(p * len(latencies) + 0.999999) - 1))] * 1000
    return {"transactions": len(latencies), "seconds": round(wall, 3), "rate": round(len(latencies) / wall, 1),
            "p50_ms": round(rank(0.50), 4), "p99_ms": round(rank(0.99), 4), "cpu_s": round(used, 3)}


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    path, seconds = sys.argv[1], float(sys.argv[2])
    conn = connect(path)
    mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    result = {"sqlite_version": sqlite3.sqlite_version, "journal_mode": mode,
              "synchronous": conn.execute("PRAGMA synchronous").fetchone()[0], "writers": 1,
              "insert": run(conn, seconds, with_select=False),
              "command": run(conn, seconds, with_select=True)}
    result["events_in_table"] = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    conn.close()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
