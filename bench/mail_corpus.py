#!/usr/bin/env python3
"""Writes a reproducible corpus of e-mail into a Maildir (new/), for
`doveadm import`: mixed sizes, some with attachments, a quarter of them
replies to earlier ones.

    mail_corpus.py DIR COUNT [SEED]

Prints one JSON line: messages, bytes, and how many of each kind.
"""
import base64
import json
import os
import random
import sys

KINDS = (("small", 70), ("alternative", 20), ("attachment", 10))
WORDS = ("order invoice delivery shipment quote payment samples price update please "
         "kindly confirm tomorrow regards thanks schedule container customs").split()


def text(rng, size):
    out, length = [], 0
    while length < size:
        line = " ".join(rng.choice(WORDS) for _ in range(12))
        out.append(line)
        length += len(line) + 2
    return "\r\n".join(out)


def headers(n, rng, sent, sender):
    subject = f"{rng.choice(WORDS).title()} {rng.choice(WORDS)} #{n}"
    extra = ""
    mine = [m for m in sent[-200:] if m[1] == sender]
    if mine and rng.random() < 0.25:
        parent_id, _, parent_subject = rng.choice(mine)
        subject, extra = f"Re: {parent_subject}", f"In-Reply-To: <{parent_id}>\r\nReferences: <{parent_id}>\r\n"
    message_id = f"bench-{n}@corpus.example"
    sent.append((message_id, sender, subject))
    return (f"From: Customer {sender} <customer{sender}@corpus.example>\r\nTo: load8@switchboard.test\r\n"
            f"Subject: {subject}\r\nMessage-ID: <{message_id}>\r\n{extra}"
            f"Date: Tue, 3 Mar 2026 10:{n % 60:02d}:00 +0530\r\nMIME-Version: 1.0\r\n")


def body(kind, rng):
    if kind == "small":
        return "Content-Type: text/plain; charset=utf-8\r\n\r\n" + text(rng, rng.randint(300, 4000)) + "\r\n"
    plain = text(rng, rng.randint(4000, 20000))
    if kind == "alternative":
        html = "<html><body><p>" + plain.replace("\r\n", "</p><p>") + "</p></body></html>"
        return ('Content-Type: multipart/alternative; boundary="alt"\r\n\r\n'
                f"--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{plain}\r\n"
                f"--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n--alt--\r\n")
    blob = base64.encodebytes(rng.randbytes(rng.randint(20_000, 400_000))).decode().replace("\n", "\r\n")
    return ('Content-Type: multipart/mixed; boundary="mix"\r\n\r\n'
            f"--mix\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{plain[:2000]}\r\n"
            '--mix\r\nContent-Type: application/pdf; name="document.pdf"\r\n'
            'Content-Disposition: attachment; filename="document.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
            f"{blob}--mix--\r\n")


def main():
    directory, count = sys.argv[1], int(sys.argv[2])
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 7)
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(directory, sub), exist_ok=True)
    sent, total, kinds = [], 0, {k: 0 for k, _ in KINDS}
    names, weights = zip(*KINDS)
    for n in range(count):
        kind = rng.choices(names, weights)[0]
        raw = (headers(n, rng, sent, rng.randint(1, 300)) + body(kind, rng)).encode()
        with open(os.path.join(directory, "new", f"{1700000000 + n}.bench{n}.corpus"), "wb") as f:
            f.write(raw)
        total += len(raw)
        kinds[kind] += 1
    print(json.dumps({"messages": count, "bytes": total, "kinds": kinds}))


if __name__ == "__main__":
    main()
