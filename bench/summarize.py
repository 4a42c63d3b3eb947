#!/usr/bin/env python3
"""Turns one bench/results/<timestamp>/ directory into summary.md and
summary.json, and prints the summary table (standard library only).

    bench/summarize.py bench/results/latest
"""

import json
import re
import sys
from pathlib import Path

TARGET_RATIO = 0.8  # command rate >= 0.8 x the minimal-command limit of the same store
TARGET_RSS_MB = 150
TARGET_LAG_P99 = {"nats": 0.100, "embedded": 0.050}  # seconds
TARGET_REBUILD = 30_000  # events/s


def read(path: Path):
    try:
        return path.read_text()
    except FileNotFoundError:
        return None


def read_json(path: Path):
    text = read(path)
    return json.loads(text) if text else None


def read_kv(path: Path) -> dict:
    text = read(path) or ""
    out = {}
    for line in text.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def prometheus(text: str) -> list:
    """[(name, {labels}, value)] of a Prometheus text exposition."""
    samples = []
    for line in (text or "").splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([A-Za-z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)", line)
        if not m:
            continue
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        try:
            samples.append((m.group(1), labels, float(m.group(4))))
        except ValueError:
            pass
    return samples


def lag_summary(metrics_text: str, projector: str = "api_keys"):
    samples = prometheus(metrics_text)
    name = "switchboard_projection_lag_seconds"
    quantiles, count, total = {}, None, None
    for metric, labels, value in samples:
        if labels.get("projector") != projector:
            continue
        if metric == name and "quantile" in labels:
            quantiles[labels["quantile"]] = value
        elif metric == name + "_count":
            count = value
        elif metric == name + "_sum":
            total = value
    if not quantiles and count is None:
        return None
    return {
        "p50_s": quantiles.get("0.5"),
        "p90_s": quantiles.get("0.9"),
        "p99_s": quantiles.get("0.99"),
        "p999_s": quantiles.get("0.999"),
        "max_s": quantiles.get("1"),
        "count": int(count) if count is not None else None,
        "mean_s": (total / count) if total is not None and count else None,
    }


def rebuild(results: Path, mode: str):
    text = read(results / f"rebuild-{mode}.txt")
    timing = read_kv(results / f"rebuild-{mode}.time")
    if text is None or "wall_s" not in timing:
        return None
    counts = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+): (\d+) events applied", text, re.M)}
    applied = sum(counts.values())
    wall = float(timing["wall_s"])
    in_store = int(timing.get("events_in_store", 0))
    return {
        "applied": counts,
        "events_applied": applied,
        "wall_s": wall,
        "events_per_s": applied / wall if wall > 0 else None,
        "events_in_store": in_store,
        "events_read_per_s": in_store * len(counts) / wall if wall > 0 else None,
        "target_events_per_s": TARGET_REBUILD,
        "ratio_to_target": (applied / wall) / TARGET_REBUILD if wall > 0 else None,
    }


def pgbench(results: Path, name: str):
    text = read(results / f"{name}.txt") or ""
    m = re.search(r"tps = ([\d.]+) \(without initial connection time\)", text)
    tps = float(m.group(1)) if m else None
    m = re.search(r"latency average = ([\d.]+) ms", text)
    return {"tps": tps, "latency_avg_ms": float(m.group(1)) if m else None,
            "cpu": {k: number(v) for k, v in read_kv(results / f"{name}.server").items()}}


def pct(run, key="latency_ms"):
    lat = (run or {}).get(key) or {}
    return lat.get("p50"), lat.get("p99")


def number(text: str):
    try:
        return float(text)
    except ValueError:
        return text


def load_run(results: Path, label: str):
    run = read_json(results / f"{label}.json")
    if run is None:
        return None
    server = read_kv(results / f"{label}.server")
    run["server"] = {k: number(v) for k, v in server.items()}
    run["projection_lag"] = lag_summary(read(results / f"metrics-{label}.txt"))
    mode, phase = label.split("-", 1)[1], label.split("-", 1)[0]
    log = read(results / f"serve-{mode}-{phase}.log") or ""
    run["slow_statements"] = log.count("slow statement")
    return run


def fmt(value, spec=",.0f", suffix=""):
    return "n/a" if value is None else f"{value:{spec}}{suffix}"


def ms(seconds):
    return fmt(None if seconds is None else seconds * 1000, ".1f", " ms")


def cpu(run) -> str:
    srv = run.get("server", {})
    parts = [f"switchboard {fmt(srv.get('server_cores'), '.2f')}", f"postgres {fmt(srv.get('postgres_cores'), '.2f')}"]
    if srv.get("nats_cores"):
        parts.append(f"nats {srv['nats_cores']:.2f}")
    if run.get("loadgen_cpu_s") is not None and run.get("duration_s"):
        parts.append(f"loadgen {run['loadgen_cpu_s'] / run['duration_s']:.2f}")
    if srv.get("other_cores") is not None:
        parts.append(f"other {srv['other_cores']:.2f} ({srv.get('other_top', '-')})")
    machine = f"machine {fmt(srv.get('machine_busy_pct'), '.0f')}% of {int(srv.get('machine_cores', 0))} cores busy"
    if srv.get("machine_iowait_pct") is not None:
        machine += f", {srv['machine_iowait_pct']:.0f}% I/O wait"
    if run.get("slow_statements"):
        machine += f"; {run['slow_statements']} statements slower than 1 s in the server log"
    return " cores, ".join(parts) + " cores; " + machine


def statement_table(r: dict) -> str:
    lines = [f"{r['commands']:,} commands; statements per command: {r['synchronous_per_command']:.2f} on the synchronous "
             f"path, {r['total_per_command']:.2f} in total (relay and projectors included); PostgreSQL time "
             f"{r['server_ms_per_command']:.3f} ms per command (as logged)", "",
             "| stage | statements per command | PostgreSQL ms per command |", "| --- | ---: | ---: |"]
    for stage, v in r["stages"].items():
        lines.append(f"| {stage} | {v['per_command']:.2f} | {v['server_ms_per_command']:.3f} |")
    lines += ["", "| stage | per command | statement |", "| --- | ---: | --- |"]
    for s in r["statements"]:
        if s["per_command"] >= 0.005 and not s["stage"].startswith("probe"):
            sql = s["sql"] if len(s["sql"]) <= 120 else s["sql"][:117] + "..."
            lines.append(f"| {s['stage']} | {s['per_command']:.2f} | `{sql.replace('|', '/')}` |")
    return "\n".join(lines)


def callgrind_table(cg: dict) -> str:
    lines = [f"{cg['commands']:,} commands; {cg['instructions_per_command']:,.0f} instructions per command "
             f"(load window {cg['load_ir']:,} minus idle window {cg['idle_ir']:,}, over {cg['commands']:,})", "",
             "| stage (inclusive) | instructions per command, net of idle | share | load window alone |",
             "| --- | ---: | ---: | ---: |"]
    for stage in cg["stages"]:
        lines.append(f"| {stage['stage']} | {stage['per_command']:,.0f} | {stage['share']:.0%} | "
                     f"{stage.get('gross_per_command', 0):,.0f} |")
    lines += ["", "| library (self instructions, all callers) | per command | share |", "| --- | ---: | ---: |"]
    for row in cg.get("self", []):
        lines.append(f"| {row['stage']} | {row['per_command']:,.0f} | {row['share']:.0%} |")
    return "\n".join(lines)


def main() -> int:
    results = Path(sys.argv[1] if len(sys.argv) > 1 else "bench/results/latest").resolve()
    machine = read(results / "machine.txt") or ""
    config = read_kv(results / "config.env")

    pg = pgbench(results, "pgbench")
    pg_tps, pg_latency = pg["tps"], pg["latency_avg_ms"]
    pg_cmd = pgbench(results, "pgbench-command")
    sqlite = read_json(results / "sqlite-limit.json")
    limits = {"nats": (pg_tps, pg_cmd["tps"]),
              "embedded": ((sqlite or {}).get("insert", {}).get("rate"), (sqlite or {}).get("command", {}).get("rate"))}

    summary = {
        "results_dir": str(results),
        "machine": dict(line.split(": ", 1) for line in machine.splitlines() if ": " in line),
        "config": config,
        "pgbench": {"tps": pg_tps, "latency_avg_ms": pg_latency, "clients": int(config.get("CONCURRENCY", 0) or 0)},
        "pgbench_command": pg_cmd,
        "sqlite_limit": sqlite,
        "command": {},
        "lag": {},
        "rebuild": {},
    }
    for mode in ("nats", "embedded"):
        cmd = load_run(results, f"command-{mode}")
        if cmd:
            insert_limit, command_limit = limits[mode]
            cmd["ratio_to_insert_limit"] = cmd["rate"] / insert_limit if insert_limit else None
            cmd["ratio_to_command_limit"] = cmd["rate"] / command_limit if command_limit else None
            summary["command"][mode] = cmd
        lag = load_run(results, f"lag-{mode}")
        if lag:
            lag["target_p99_s"] = TARGET_LAG_P99[mode]
            summary["lag"][mode] = lag
        rb = rebuild(results, mode)
        if rb:
            summary["rebuild"][mode] = rb

    pg_cpu = {k: number(v) for k, v in read_kv(results / "pgbench.server").items()}
    summary["pgbench"]["cpu"] = pg_cpu
    pg_detail = f"{config.get('CONCURRENCY', '?')} clients, avg {fmt(pg_latency, '.2f', ' ms')}"
    if pg_cpu:
        pg_detail += (f"; CPU: postgres {pg_cpu.get('postgres_cores', 0):.2f} cores, other {pg_cpu.get('other_cores', 0):.2f} "
                      f"({pg_cpu.get('other_top', '-')}) cores; machine {pg_cpu.get('machine_busy_pct', 0):.0f}% of "
                      f"{int(pg_cpu.get('machine_cores', 0))} cores busy")
    # rows: (figure, value, latency, target, ratio / verdict); details: bullets
    rows, details, extra = [], [], []
    if pg_tps:
        rows.append(("limit: pgbench single-row INSERT", f"{fmt(pg_tps)} TPS", f"avg {fmt(pg_latency, '.2f', ' ms')}", "reference", ""))
        details.append(f"- pgbench (INSERT): {pg_detail}")
    if pg_cmd["tps"]:
        rows.append(("limit: pgbench minimal cqrs-es command", f"{fmt(pg_cmd['tps'])} TPS",
                     f"avg {fmt(pg_cmd['latency_avg_ms'], '.2f', ' ms')}", "reference",
                     f"{fmt(pg_cmd['tps'] / pg_tps if pg_tps else None, '.2f')} x INSERT"))
    if sqlite:
        for key, title in (("insert", "single-row INSERT"), ("command", "minimal command")):
            r = sqlite[key]
            rows.append((f"limit: SQLite {title}, 1 writer", f"{fmt(r['rate'])} TPS",
                         f"p50 {r['p50_ms']:.2f} / p99 {r['p99_ms']:.2f} ms", "reference", ""))
        details.append(f"- SQLite limits: {sqlite['sqlite_version']} (python3 sqlite3), journal {sqlite['journal_mode']}, "
                       f"synchronous={sqlite['synchronous']}, one connection; the loop used "
                       f"{sqlite['command']['cpu_s'] / sqlite['command']['seconds']:.2f} cores of CPU in the command loop")
    for mode, title in (("nats", "distributed"), ("embedded", "embedded")):
        cmd = summary["command"].get(mode)
        if cmd:
            lat = cmd.get("latency_ms") or {}
            ratio = cmd.get("ratio_to_command_limit")
            store = "PostgreSQL" if mode == "nats" else "SQLite"
            verdict = (f"{fmt(ratio, '.2f')} x command limit, {fmt(cmd.get('ratio_to_insert_limit'), '.2f')} x INSERT limit"
                       + (("  meets" if ratio >= TARGET_RATIO else "  misses") if ratio else ""))
            rows.append((f"command rate, {title}", f"{fmt(cmd['rate'])} req/s",
                         f"p50 {fmt(lat.get('p50'), '.1f')} / p99 {fmt(lat.get('p99'), '.1f')} ms",
                         f">= {TARGET_RATIO} x {store} command limit", verdict))
            bad = cmd["requests"] - cmd["ok"] + cmd["errors"]
            details.append(f"- command rate ({mode}): {cmd['ok']:,} commands in {cmd['duration_s']:.1f} s over "
                           f"{cmd['concurrency']} connections, {bad} failed; CPU: {cpu(cmd)}")
            pl = cmd.get("projection_lag")
            if pl:
                details.append(f"- projection lag during that closed-loop run ({mode}, not rate-limited): "
                               f"p50 {ms(pl.get('p50_s'))}, p99 {ms(pl.get('p99_s'))}, mean {ms(pl.get('mean_s'))}, "
                               f"max {ms(pl.get('max_s'))}; the projector caught up {cmd['server'].get('drain_s', 0):.1f} s "
                               f"after the load stopped")
    for mode, title in (("nats", "over NATS"), ("embedded", "embedded")):
        lag = summary["lag"].get(mode)
        if lag:
            pl = lag.get("projection_lag") or {}
            p99 = pl.get("p99_s")
            verdict = "n/a" if p99 is None else (f"{p99 / lag['target_p99_s']:.2f} x target  " + ("meets" if p99 < lag["target_p99_s"] else "misses"))
            rows.append((f"projection lag, {title}", f"at {fmt(lag['rate'])}/s",
                         f"p50 {ms(pl.get('p50_s'))} / p99 {ms(p99)}", f"p99 < {lag['target_p99_s'] * 1000:.0f} ms", verdict))
            lat = lag.get("latency_ms") or {}
            details.append(f"- projection lag ({mode}): open loop scheduled at {lag.get('target_rate')}/s, achieved "
                           f"{fmt(lag['rate'], ',.1f')}/s for {lag['duration_s']:.1f} s; {fmt(pl.get('count'))} events in the summary "
                           f"({lag['ok']:,} commands + 1 priming); lag mean {ms(pl.get('mean_s'))}, p90 {ms(pl.get('p90_s'))}, "
                           f"p99.9 {ms(pl.get('p999_s'))}, max {ms(pl.get('max_s'))}; caught up {lag['server'].get('drain_s', 0):.1f} s "
                           f"after the load; HTTP p50 {fmt(lat.get('p50'), '.1f')} / p99 {fmt(lat.get('p99'), '.1f')} ms; CPU: {cpu(lag)}")
    for mode, title in (("nats", "PostgreSQL"), ("embedded", "SQLite")):
        rb = summary["rebuild"].get(mode)
        if rb:
            ratio = rb["ratio_to_target"]
            rows.append((f"rebuild, {title}", f"{fmt(rb['events_per_s'])} events/s", "-", f">= {TARGET_REBUILD:,}/s",
                         f"{fmt(ratio, '.2f')} x target  " + ("meets" if ratio and ratio >= 1 else "misses")))
            details.append(f"- rebuild ({mode}): {rb['events_applied']:,} events applied ("
                           + ", ".join(f"{k} {v:,}" for k, v in rb["applied"].items())
                           + f") in {rb['wall_s']:.2f} s wall; {rb['events_in_store']:,} events in the store, read once per "
                           f"projection: {fmt(rb['events_read_per_s'])} events read/s")
    for label, run in [(f"command-{m}", summary["command"].get(m)) for m in ("nats", "embedded")] + \
                      [(f"lag-{m}", summary["lag"].get(m)) for m in ("nats", "embedded")]:
        if not run:
            continue
        if run["server"].get("caught_up") == 0:
            extra.append(f"- WARNING ({label}): the api_keys projector had not caught up with the store when /metrics "
                         f"was read (see ready-{label}.json and serve-*.log): its lag figures cover only what it applied")
        if run["errors"] or run["requests"] != run["ok"]:
            extra.append(f"- WARNING ({label}): {run['requests'] - run['ok']} non-2xx responses and {run['errors']} "
                         f"connection errors (statuses {run['statuses']}, first error {run.get('error_sample')})")
        if run.get("target_rate") and run["rate"] < 0.95 * float(run["target_rate"]):
            extra.append(f"- WARNING ({label}): only {run['rate']:.0f}/s of the scheduled {run['target_rate']}/s were achieved: "
                         f"the server stalled or could not keep up, so the requests queued (their latency counts the wait)")
        pl = run.get("projection_lag") or {}
        if pl.get("mean_s") is not None and pl.get("p99_s") is not None and pl["mean_s"] > pl["p99_s"]:
            extra.append(f"- WARNING ({label}): the lag mean over all events ({ms(pl['mean_s'])}, from _sum/_count) exceeds "
                         f"the summary's p99 ({ms(pl['p99_s'])}): the quantiles do not cover every event (see README, Caveats)")
    details += extra

    # Peak RSS of every server process.
    rss = {}
    for f in sorted(results.glob("rss-*.txt")):
        kb = read_kv(f).get("vmhwm_kb")
        if kb:
            rss[f.stem[len("rss-"):]] = int(kb) / 1024
    summary["peak_rss_mb"] = rss
    if rss:
        worst = max(rss, key=rss.get)
        rows.append(("peak RSS (VmHWM), worst server run", f"{rss[worst]:.0f} MB", worst, f"< {TARGET_RSS_MB} MB",
                     f"{rss[worst] / TARGET_RSS_MB:.2f} x target  " + ("meets" if rss[worst] < TARGET_RSS_MB else "misses")))
        details.append("- peak RSS per server run: " + ", ".join(f"{k} {v:.0f} MB" for k, v in rss.items()))

    sections = []
    stmts = read_json(results / "statements-nats.json")
    if stmts:
        summary["statements"] = stmts
        rows.append(("statements per command (PostgreSQL)", f"{stmts['synchronous_per_command']:.1f} sync / "
                     f"{stmts['total_per_command']:.1f} total", f"{stmts['server_ms_per_command']:.3f} ms server time", "-", ""))
        sections.append("## Statements per command (distributed, from the PostgreSQL log)\n")
        sections.append(statement_table(stmts))

    curves = {}
    for mode in ("nats", "embedded"):
        for f in sorted(results.glob(f"aggregate-{mode}-*.json"), key=lambda p: int(p.stem.rsplit("-", 1)[1])):
            size = int(f.stem.rsplit("-", 1)[1])
            run = read_json(f)
            span = read_kv(f.with_suffix(".size"))
            curves.setdefault(size, {})[mode] = {"p50": pct(run)[0], "p99": pct(run)[1], "ok": run["ok"],
                                                 "requests": run["requests"], "events_after": span.get("events_after")}
    if curves:
        summary["aggregate_curve"] = curves
        lines = ["## Command latency against aggregate length (PATCH /api/v1/organisation, one at a time)\n",
                 "| events in the aggregate | distributed p50 / p99 | embedded p50 / p99 |", "| ---: | ---: | ---: |"]
        for size, by_mode in sorted(curves.items()):
            cells = []
            for mode in ("nats", "embedded"):
                c = by_mode.get(mode)
                cells.append("-" if not c else f"{fmt(c['p50'], '.2f')} / {fmt(c['p99'], '.2f')} ms"
                             + ("" if c["ok"] == c["requests"] else f" ({c['requests'] - c['ok']} failed)"))
            upto = max(int(c.get("events_after") or size) for c in by_mode.values())
            lines.append(f"| {size:,} to {upto:,} | {cells[0]} | {cells[1]} |")
        sections.append("\n".join(lines))

    reads = {}
    for f in results.glob("read-*-*.json"):
        route, size = f.stem[len("read-"):].rsplit("-", 1)
        run = read_json(f)
        reads.setdefault(int(size), {})[route] = {"p50": pct(run)[0], "p99": pct(run)[1], "ok": run["ok"],
                                                  "requests": run["requests"]}
    if reads:
        summary["read_curve"] = reads
        routes = ("threads", "phone_numbers", "audit_events")
        lines = ["## Read-model query latency against table size (PostgreSQL, one at a time)\n",
                 "| rows | GET /communications/threads | GET /settings/phone-numbers | GET /audit/events |",
                 "| ---: | ---: | ---: | ---: |"]
        for size, by_route in sorted(reads.items()):
            cells = [("-" if r not in by_route else f"{fmt(by_route[r]['p50'], '.2f')} / {fmt(by_route[r]['p99'], '.2f')} ms"
                      + ("" if by_route[r]["ok"] == by_route[r]["requests"] else " (failures)")) for r in routes]
            lines.append(f"| {size:,} | " + " | ".join(cells) + " |")
        counts = read_kv(results / f"read-{max(reads)}.rows")
        if counts:
            lines.append("\nRows at the largest size: " + ", ".join(f"{k} {int(v):,}" for k, v in counts.items()))
        sections.append("\n".join(lines))

    rt = read_json(results / "realtime" / "summary.json")
    if rt:
        summary["realtime"] = rt
        occ = rt.get("fan_out_from_occurred_ms") or {}
        if occ.get("p99") is not None:
            rows.append((f"realtime fan-out, {rt['clients_ready']:,} clients, {fmt(rt['messages_per_s'])} msg/s",
                         f"p99 {occ['p99']:.0f} ms", f"p50 {occ['p50']:.0f} ms", "p99 < 500 ms",
                         f"{rt['fan_out_p99_ratio_to_target']:.2f} x target  " + ("meets" if occ["p99"] < 500 else "misses")))
        kb = rt.get("rss_growth_kb_per_idle_client")
        if kb is not None:
            rows.append(("realtime RSS growth per idle client", f"{kb:.1f} KB", "A + B", "< 50 KB",
                         f"{rt['rss_growth_ratio_to_target']:.2f} x target  " + ("meets" if kb < 50 else "misses")))
        details.append(f"- realtime: {sum(rt['resyncs'].values())} resyncs, {rt['pairs_missing']:,} pairs missing; "
                       f"see {results / 'realtime' / 'summary.md'}")

    cg = read_json(results / "callgrind.json")
    if cg:
        summary["callgrind"] = cg
        rows.append(("instructions per command (callgrind)", f"{cg['instructions_per_command']:,.0f}", "switchboard process", "-", ""))
        sections.append("## Instructions per command (callgrind, switchboard process)\n")
        sections.append(callgrind_table(cg))

    header = ("figure", "value", "latency", "target", "result")
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(5)]
    def line(r):
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"
    table = "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in rows])

    md = ["# Switchboard benchmark " + summary["machine"].get("date_utc", ""), "", "```", machine.rstrip(), "```", "", table, ""]
    if details:
        md += details + [""]
    for section in sections:
        md += [section, ""]
    md.append("Raw files: " + str(results))
    text = "\n".join(md) + "\n"
    (results / "summary.md").write_text(text)
    (results / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
