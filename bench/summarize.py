#!/usr/bin/env python3
"""Turns one bench/results/<timestamp>/ directory into summary.md and
summary.json, and prints the summary table (standard library only).

    bench/summarize.py bench/results/latest
"""

import json
import re
import sys
from pathlib import Path

TARGET_RATIO = 0.5  # command rate >= 0.5 x pgbench TPS
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


def main() -> int:
    results = Path(sys.argv[1] if len(sys.argv) > 1 else "bench/results/latest").resolve()
    machine = read(results / "machine.txt") or ""
    config = read_kv(results / "config.env")

    pg_text = read(results / "pgbench.txt") or ""
    m = re.search(r"tps = ([\d.]+) \(without initial connection time\)", pg_text)
    pg_tps = float(m.group(1)) if m else None
    m = re.search(r"latency average = ([\d.]+) ms", pg_text)
    pg_latency = float(m.group(1)) if m else None

    summary = {
        "results_dir": str(results),
        "machine": dict(line.split(": ", 1) for line in machine.splitlines() if ": " in line),
        "config": config,
        "pgbench": {"tps": pg_tps, "latency_avg_ms": pg_latency, "clients": int(config.get("CONCURRENCY", 0) or 0)},
        "command": {},
        "lag": {},
        "rebuild": {},
    }
    for mode in ("nats", "embedded"):
        cmd = load_run(results, f"command-{mode}")
        if cmd:
            cmd["ratio_to_pgbench"] = cmd["rate"] / pg_tps if pg_tps else None
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
    rows.append(("pgbench single-row INSERT TPS", f"{fmt(pg_tps)} TPS", f"avg {fmt(pg_latency, '.2f', ' ms')}", "reference", ""))
    details.append(f"- pgbench: {pg_detail}")
    for mode, title in (("nats", "distributed"), ("embedded", "embedded (extra)")):
        cmd = summary["command"].get(mode)
        if cmd:
            lat = cmd.get("latency_ms") or {}
            ratio = cmd.get("ratio_to_pgbench")
            verdict = f"{fmt(ratio, '.2f')} x pgbench" + (("  meets" if ratio >= TARGET_RATIO else "  misses") if mode == "nats" and ratio else "")
            rows.append((f"command rate, {title}", f"{fmt(cmd['rate'])} req/s",
                         f"p50 {fmt(lat.get('p50'), '.1f')} / p99 {fmt(lat.get('p99'), '.1f')} ms",
                         f">= {TARGET_RATIO} x pgbench" if mode == "nats" else "-", verdict))
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

    header = ("figure", "value", "latency", "target", "result")
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(5)]
    def line(r):
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"
    table = "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in rows])

    md = ["# Switchboard benchmark " + summary["machine"].get("date_utc", ""), "", "```", machine.rstrip(), "```", "", table, ""]
    if details:
        md += details + [""]
    md.append("Raw files: " + str(results))
    text = "\n".join(md) + "\n"
    (results / "summary.md").write_text(text)
    (results / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
