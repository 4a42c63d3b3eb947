#!/usr/bin/env python3
"""The physical limit of reading a mailbox: one IMAPS connection (the same
TLS trust Switchboard uses), `UID FETCH 1:* (BODY.PEEK[])` of the whole
folder, the bytes counted and thrown away.

    imap_fetch.py HOST PORT USER PASSWORD FOLDER CAFILE

Prints one JSON line: messages, bytes, seconds (login to last byte).
"""
import imaplib
import json
import ssl
import sys
import time


def main():
    host, port, user, password, folder, cafile = sys.argv[1:7]
    context = ssl.create_default_context(cafile=cafile)
    started = time.monotonic()
    imap = imaplib.IMAP4_SSL(host, int(port), ssl_context=context)
    imap.login(user, password)
    status, _ = imap.select(f'"{folder}"', readonly=True)
    if status != "OK":
        sys.exit(f"cannot select {folder}")
    status, data = imap.uid("FETCH", "1:*", "(BODY.PEEK[])")
    seconds = time.monotonic() - started
    if status != "OK":
        sys.exit("FETCH failed")
    parts = [d for d in data if isinstance(d, tuple)]
    print(json.dumps({"messages": len(parts), "bytes": sum(len(p[1]) for p in parts), "seconds": round(seconds, 3)}))
    imap.logout()


if __name__ == "__main__":
    main()
