#!/usr/bin/env python3
"""Instructions per command, in total and per stage, from two
`callgrind_annotate --inclusive=yes` listings of the same server process
(standard library only).

    callgrind_stages.py LOAD.incl IDLE.incl LOAD.self IDLE.self COMMANDS SECONDS > callgrind.json

LOAD is the window with COMMANDS commands, IDLE a window of the same length
with none (see bench/callgrind.sh); `.incl` are the listings of
`callgrind_annotate --inclusive=yes`, `.self` those without it. Total per
command = (LOAD total - IDLE total) / COMMANDS.

A stage's count is the inclusive count of the function that stands for it
(`STAGES`: the first pattern matching a function name; when several
functions match, the one with the largest count, so a stage is not counted
twice through its own callees), minus that function's count in IDLE. Stages
nest (the HTTP request contains the authentication, which contains an
aggregate load), so they do not add up to the total; `share` is of the
total. `gross_per_command` is the load window's count alone, per command:
for a function that works more when idle than under load (the relay polls
every 5 ms when it finds nothing), the net figure understates it and the
gross one is the better reading. The functions behind each stage are
listed in `functions`.

`self` rows sum the self (exclusive) instructions of every function of a
library (serde_json, sqlx, rustls, the allocator, ...), minus the same in
IDLE, per command: what that code costs whoever calls it.
"""

import json
import re
import sys

# (stage, pattern on the demangled function name). Async functions appear
# as their `{{closure}}` (the future's poll), whose inclusive count is all
# the work done while it is polled, awaited callees included.
STAGES = [
    ("HTTP requests, whole: the connection tasks (hyper, axum, middleware, extractors, handler)",
     r"^api::server::serve::\{\{closure\}\}::\{\{closure\}\}$"),
    ("authentication: the Caller extractor", r"^<api::auth::Caller as axum_core::extract::FromRequestParts<.*>>::from_request_parts::\{\{closure\}\}$"),
    ("  of which the JWT check", r"^api::tokens::TokenKeys::check$"),
    ("  of which the user's replay (EsStore::load)", r"^<infrastructure::event_store::EsStore<A> as application::store::AggregateStore<A>>::load::\{\{closure\}\}$"),
    ("command: EsStore::execute_once or execute_new_once (load unless new, decide, commit)",
     r"^<infrastructure::event_store::EsStore<A> as application::store::AggregateStore<A>>::execute(_new)?_once::\{\{closure\}\}$"),
    ("  of which the commit: CachingEventStore::commit (serialise, INSERT, remember)",
     r"^<infrastructure::event_store::cached::CachingEventStore<A> as cqrs_es::store::EventStore<A>>::commit::\{\{closure\}\}$"),
    ("  of which the INSERT: AnyRepo::persist", r"^<infrastructure::event_store::AnyRepo as cqrs_es::persist::event_repository::PersistedEventRepository>::persist::\{\{closure\}\}$"),
    ("aggregate loads, all (CachingEventStore::load_aggregate: recall, events after the remembered version, apply)",
     r"^<infrastructure::event_store::cached::CachingEventStore<A> as cqrs_es::store::EventStore<A>>::load_aggregate::\{\{closure\}\}$"),
    ("background tasks, whole: relay, projectors, upkeep (api::runtime::supervise)", r"^api::runtime::supervise::\{\{closure\}\}$"),
    ("relay: Relay::run (pending events, publish to JetStream, checkpoint)", r"^infrastructure::relay::Relay::(run|relay)::\{\{closure\}\}$"),
    ("projectors, all: JetStream next_batch (receive, decode, drop or deliver)",
     r"^<infrastructure::feed::jetstream::JetStreamSource as application::feed::EventSource>::next_batch::\{\{closure\}\}$"),
    ("  of which decoding every delivery (JetStreamSource::wanted)", r"^infrastructure::feed::jetstream::JetStreamSource::wanted::\{\{closure\}\}$"),
    ("projectors, all: apply_batch (transaction, sequences, checkpoint, the projector's apply)", r"^projections::store::ProjectionStore::apply_batch::\{\{closure\}\}$"),
    ("projector audit_chain: apply_all (hash chain)", r"^<projections::audit_chain::AuditChain as projections::Projector>::apply_all::\{\{closure\}\}$"),
    ("  of which hashing (event_hash: canonical JSON, SHA-256)", r"^application::audit::event_hash$"),
    ("projector api_keys: apply_all", r"^<projections::api_keys::ApiKeysView as projections::Projector>::apply(_all)?::\{\{closure\}\}$"),
    ("TLS to PostgreSQL: sqlx's rustls socket I/O (decrypt, flush, syscalls)", r"^sqlx_core::net::tls::tls_rustls::RustlsSocket<S>::poll_complete_io$"),
    ("TLS to PostgreSQL: rustls plaintext writes (encrypt)", r"^<rustls::conn::connection::Writer as std::io::Write>::write$"),
]

# (row, pattern): the *self* instructions of every function whose name
# matches, summed (code of that library, whoever called it; generic code
# inlined into a caller counts as the caller's).
SELF = [
    ("serde_json (self)", r"^serde_json::|^<serde_json::"),
    ("sqlx (self)", r"^sqlx_core::|^<sqlx_core::|^sqlx_postgres::|^<sqlx_postgres::"),
    ("rustls and its crypto (self)", r"rustls|^ring::|^<ring::|^ring_core|aws_lc|^GFp|gcm|aes_|chacha|sha256_block|sha512_block"),
    ("memory allocation (self)", r"^(malloc|free|realloc|calloc|cfree|_int_malloc|_int_free|_int_realloc|malloc_consolidate|unlink_chunk|__rustc::__rust_(alloc|dealloc|realloc)|__rustc::__rdl_\w+|__libc_(malloc|free|realloc|calloc))$"),
    ("memcpy, memmove, memset, memcmp (self)", r"mem(cpy|move|set|cmp)|__memcpy|__memmove|__memset"),
    ("tokio runtime (self)", r"^tokio::|^<tokio::"),
    ("hyper (self)", r"^hyper::|^<hyper::"),
    ("tracing, logging (self)", r"^tracing|^<tracing"),
    ("kernel entry: syscalls (self, user side)", r"^(syscall|__libc_(send|recv|write|read)|send|recv|write|read|epoll_wait|__GI___\w+)$"),
]

LINE = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(\S+?):(.*?)(?: \[[^\]]*\])?\s*$")
TOTAL = re.compile(r"^\s*([\d,]+)\s+(?:\(\s*[\d.]+%\)\s+)?PROGRAM TOTALS")


def parse(path: str):
    total, functions = None, {}
    with open(path, errors="replace") as f:
        for line in f:
            m = TOTAL.match(line)
            if m:
                total = int(m.group(1).replace(",", ""))
                continue
            m = LINE.match(line)
            if m:
                name = m.group(3).strip()
                name = re.sub(r"::h[0-9a-f]{16}$", "", name)
                functions[name] = max(functions.get(name, 0), int(m.group(1).replace(",", "")))
    if total is None:
        raise SystemExit(f"{path}: no PROGRAM TOTALS line")
    return total, functions


def self_rows(load: dict, idle: dict, commands: int, per_command: float):
    rows = []
    for row, pattern in SELF:
        rx = re.compile(pattern)
        value = sum(v for k, v in load.items() if rx.search(k)) - sum(v for k, v in idle.items() if rx.search(k))
        value = max(0, value) / commands
        rows.append({"stage": row, "per_command": value, "share": value / per_command if per_command else 0.0})
    return rows


def main() -> int:
    if len(sys.argv) != 7:
        print(__doc__, file=sys.stderr)
        return 2
    load_total, load = parse(sys.argv[1])
    idle_total, idle = parse(sys.argv[2])
    _, load_self = parse(sys.argv[3])
    _, idle_self = parse(sys.argv[4])
    commands, seconds = int(sys.argv[5]), float(sys.argv[6])
    per_command = (load_total - idle_total) / commands
    stages = []
    for stage, pattern in STAGES:
        rx = re.compile(pattern)
        matches = {name: ir for name, ir in load.items() if rx.search(name)}
        if not matches:
            stages.append({"stage": stage, "per_command": 0.0, "share": 0.0, "gross_per_command": 0.0,
                           "functions": [], "found": False})
            continue
        top = max(matches, key=matches.get)
        value = max(0, matches[top] - idle.get(top, 0)) / commands
        stages.append({"stage": stage, "per_command": value, "share": value / per_command if per_command else 0.0,
                       "gross_per_command": matches[top] / commands, "function": top, "found": True,
                       "functions": sorted(matches, key=matches.get, reverse=True)[:5]})
    print(json.dumps({"commands": commands, "load_seconds": seconds, "load_ir": load_total, "idle_ir": idle_total,
                      "instructions_per_command": per_command, "stages": stages,
                      "self": self_rows(load_self, idle_self, commands, per_command)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
