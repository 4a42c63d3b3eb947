#!/usr/bin/env python3
"""Tiny JetStream API client for the benchmark (standard library only).

Speaks the plain NATS text protocol over a socket and sends one JetStream API
request, printing the JSON reply:

    nats_js.py URL server-version       # the server's version, from its INFO line
    nats_js.py URL info                 # $JS.API.INFO (is JetStream enabled?)
    nats_js.py URL stream-info NAME     # $JS.API.STREAM.INFO.NAME
    nats_js.py URL consumer-info STREAM NAME   # $JS.API.CONSUMER.INFO.STREAM.NAME
    nats_js.py URL delete-stream NAME   # $JS.API.STREAM.DELETE.NAME

Exit status 0 when the reply has no "error" member, 1 otherwise.
"""

import json
import socket
import sys
import uuid
from urllib.parse import urlparse


def request(url: str, subject: str, payload: bytes = b"", timeout: float = 5.0) -> dict:
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 4222
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        reader = sock.makefile("rb")
        info = reader.readline()
        if not info.startswith(b"INFO"):
            raise RuntimeError(f"unexpected greeting from NATS: {info!r}")
        inbox = f"_INBOX.bench.{uuid.uuid4().hex}"
        connect = {"verbose": False, "pedantic": False, "headers": False, "name": "switchboard-bench"}
        sock.sendall(
            f"CONNECT {json.dumps(connect)}\r\nSUB {inbox} 1\r\n".encode()
            + f"PUB {subject} {inbox} {len(payload)}\r\n".encode()
            + payload
            + b"\r\nPING\r\n"
        )
        while True:
            line = reader.readline()
            if not line:
                raise RuntimeError("NATS closed the connection")
            if line.startswith(b"PING"):
                sock.sendall(b"PONG\r\n")
            elif line.startswith(b"-ERR"):
                raise RuntimeError(line.decode().strip())
            elif line.startswith(b"MSG"):
                size = int(line.split()[-1])
                body = reader.read(size + 2)[:size]
                return json.loads(body or b"{}")


def server_version(url: str, timeout: float = 5.0) -> str:
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 4222
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        info = sock.makefile("rb").readline()
    if not info.startswith(b"INFO"):
        raise RuntimeError(f"unexpected greeting from NATS: {info!r}")
    return json.loads(info[4:]).get("version", "unknown")


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    url, command = sys.argv[1], sys.argv[2]
    if command == "server-version":
        print(server_version(url))
        return 0
    subjects = {
        "info": lambda: "$JS.API.INFO",
        "stream-info": lambda: f"$JS.API.STREAM.INFO.{sys.argv[3]}",
        "consumer-info": lambda: f"$JS.API.CONSUMER.INFO.{sys.argv[3]}.{sys.argv[4]}",
        "delete-stream": lambda: f"$JS.API.STREAM.DELETE.{sys.argv[3]}",
    }
    if command not in subjects:
        print(__doc__, file=sys.stderr)
        return 2
    reply = request(url, subjects[command]())
    print(json.dumps(reply))
    return 1 if "error" in reply else 0


if __name__ == "__main__":
    sys.exit(main())
