#!/usr/bin/env python3
"""CPU accounting for one benchmark phase (Linux /proc, standard library only).

    cpustat.py snap SERVER_PID [NATS_PID] > a.json   # before the phase
    cpustat.py snap SERVER_PID [NATS_PID] > b.json   # after it
    cpustat.py diff a.json b.json                     # key=value lines

Reports, in cores (CPU seconds per wall second) over the phase: the
switchboard process, all `postgres` processes, the NATS server (the given
pid, else every `nats-server` process), and the whole machine's busy and
I/O-wait shares.
Processes that exit during the phase take their CPU time with them, so the
figures are lower bounds. Everything else running is summed as "other", with
the busiest few by name (the load generator, `sbload`, is left out: it reports
its own CPU time).
"""

import json
import os
import sys
import time

HZ = os.sysconf("SC_CLK_TCK")


def ticks(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime
    except (OSError, IndexError, ValueError):
        return 0


def processes() -> dict:
    """{pid: [comm, ticks]} of every process."""
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    comm = f.read().strip()
            except OSError:
                continue
            out[entry] = [comm, ticks(int(entry))]
    return out


def machine():
    """(all, idle + iowait, iowait) ticks of the whole machine."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    iowait = values[4] if len(values) > 4 else 0
    return sum(values[:8]), values[3] + iowait, iowait


def snap(server_pid: int, nats_pid):
    total, idle, iowait = machine()
    procs = processes()
    return {
        "t": time.time(),
        "server_pid": str(server_pid),
        "nats_pid": str(nats_pid) if nats_pid else None,
        "procs": procs,
        "machine_total": total,
        "machine_idle": idle,
        "machine_iowait": iowait,
    }


def group(snapshot, pid, comm) -> str:
    if pid == snapshot["server_pid"]:
        return "server"
    if pid == snapshot["nats_pid"] or (snapshot["nats_pid"] is None and comm == "nats-server"):
        return "nats"
    if comm == "postgres":
        return "postgres"
    return comm


def diff(a, b):
    wall = b["t"] - a["t"]
    out = {"wall_s": wall}
    used = {}
    for pid, (comm, t1) in b["procs"].items():
        t0 = a["procs"].get(pid, [comm, 0])[1]  # a process started meanwhile counts from 0
        name = group(b, pid, comm)
        used[name] = used.get(name, 0) + max(t1 - t0, 0)
    cores = {k: v / HZ / wall if wall > 0 else 0.0 for k, v in used.items()}
    for key in ("server", "postgres", "nats"):
        out[f"{key}_cores"] = cores.pop(key, 0.0)
    cores.pop("sbload", None)  # the load generator reports its own CPU time
    others = sorted(((v, k) for k, v in cores.items() if v >= 0.01), reverse=True)[:4]
    out["other_cores"] = sum(cores.values())
    out["other_top"] = " ".join(f"{k}:{v:.2f}" for v, k in others) or "-"
    total = b["machine_total"] - a["machine_total"]
    idle = b["machine_idle"] - a["machine_idle"]
    out["machine_busy_pct"] = 100.0 * (total - idle) / total if total > 0 else 0.0
    iowait = b.get("machine_iowait", 0) - a.get("machine_iowait", 0)
    out["machine_iowait_pct"] = 100.0 * iowait / total if total > 0 else 0.0
    out["machine_cores"] = os.cpu_count() or 0
    return out


def main() -> int:
    if len(sys.argv) >= 3 and sys.argv[1] == "snap":
        nats = int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[3] else None
        print(json.dumps(snap(int(sys.argv[2]), nats)))
        return 0
    if len(sys.argv) == 4 and sys.argv[1] == "diff":
        with open(sys.argv[2]) as fa, open(sys.argv[3]) as fb:
            for k, v in diff(json.load(fa), json.load(fb)).items():
                print(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
