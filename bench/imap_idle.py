#!/usr/bin/env python3
"""The physical limit of delivery latency: a raw IMAPS client in IDLE on the
folder, a message saved with `doveadm save`, the time from the save's
return to the server's `* N EXISTS`.

    imap_idle.py HOST PORT USER PASSWORD FOLDER CAFILE DOVECOT_CONF SAMPLES

Prints one JSON line: samples and latency_ms p50/p99/max.
"""
import json
import math
import socket
import ssl
import subprocess
import sys
import time


class Client:
    def __init__(self, host, port, cafile):
        context = ssl.create_default_context(cafile=cafile)
        self.sock = context.wrap_socket(socket.create_connection((host, int(port))), server_hostname=host)
        self.file = self.sock.makefile("rb")
        self.tag = 0
        self.line()

    def line(self):
        return self.file.readline().decode(errors="replace").rstrip("\r\n")

    def send(self, text):
        self.sock.sendall(text.encode() + b"\r\n")

    def command(self, text):
        self.tag += 1
        tag = f"a{self.tag}"
        self.send(f"{tag} {text}")
        while True:
            got = self.line()
            if got.startswith(tag + " "):
                if " OK" not in got:
                    sys.exit(f"{text.split()[0]} failed: {got}")
                return


def main():
    host, port, user, password, folder, cafile, conf, samples = sys.argv[1:9]
    client = Client(host, port, cafile)
    client.command(f'LOGIN "{user}" "{password}"')
    client.command(f'SELECT "{folder}"')
    latencies = []
    for n in range(int(samples)):
        client.tag += 1
        tag = f"a{client.tag}"
        client.send(f"{tag} IDLE")
        while not client.line().startswith("+"):
            pass
        raw = f"From: raw@corpus.example\r\nSubject: raw idle {n}\r\nMessage-ID: <raw-idle-{n}-{time.time()}@x>\r\n\r\nx\r\n"
        subprocess.run(["doveadm", "-c", conf, "save", "-u", user, "-m", folder], input=raw.encode(), check=True)
        saved = time.monotonic()
        while "EXISTS" not in client.line():
            pass
        latencies.append((time.monotonic() - saved) * 1000)
        client.send("DONE")
        while not client.line().startswith(tag + " "):
            pass
        time.sleep(0.05)
    latencies.sort()
    rank = lambda p: latencies[max(0, math.ceil(p / 100 * len(latencies)) - 1)]
    print(json.dumps({"samples": len(latencies),
                      "latency_ms": {"p50": round(rank(50), 1), "p99": round(rank(99), 1), "max": round(latencies[-1], 1)}}))


if __name__ == "__main__":
    main()
