#!/usr/bin/env python3
"""The physical limit for bench/email_send.sh (standard library only).

    smtp_limit.py --sends 500 --concurrency 8 --ca /var/tmp/switchboard-mail/tls/ca.pem [--reuse]

Sends messages straight to Postfix's submission port with smtplib from
CONCURRENCY threads. By default each message is its own conversation, the
same one Switchboard has per e-mail: connect, STARTTLS (verifying the test
CA), AUTH, MAIL FROM, RCPT TO, DATA, QUIT. With --reuse each thread keeps one
logged-in connection for all its messages (no handshake per message): the
ceiling of Postfix's acceptance alone. The message is the same size and shape
as the one Switchboard sends (multipart/alternative, text and HTML), to a
recipient outside switchboard.test, which Postfix accepts and discards.
Prints one JSON line.
"""

import argparse
import json
import smtplib
import ssl
import threading
import time
from email.message import EmailMessage
from email.utils import make_msgid


def message(i: int, sender: str) -> EmailMessage:
    m = EmailMessage()
    m["From"] = f"Acme Support <{sender}>"
    m["To"] = f"sink{i}@example.com"
    m["Subject"] = f"Benchmark message {i}"
    m["Message-ID"] = make_msgid(domain="switchboard.test")
    m.set_content(f"Hello,\n\nthis is message {i} of the send-rate benchmark.\n" + "Lorem ipsum dolor sit amet.\n" * 20)
    m.add_alternative(
        f"<p>Hello,</p><p>this is message <b>{i}</b> of the send-rate benchmark.</p>"
        + "<p>Lorem ipsum dolor sit amet.</p>" * 20,
        subtype="html",
    )
    return m


def connect(args, context):
    smtp = smtplib.SMTP(args.host, args.port, timeout=30)
    smtp.starttls(context=context)
    smtp.login(args.user, args.password)
    return smtp


def worker(args, context, numbers, latencies, errors):
    smtp = connect(args, context) if args.reuse else None
    for i in numbers:
        started = time.perf_counter()
        try:
            if smtp is None:
                with connect(args, context) as one:
                    one.send_message(message(i, args.user))
            else:
                smtp.send_message(message(i, args.user))
            latencies.append(time.perf_counter() - started)
        except Exception as error:  # noqa: BLE001 - counted and reported
            errors.append(repr(error))
    if smtp is not None:
        smtp.quit()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sends", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=587)
    parser.add_argument("--user", default="support@switchboard.test")
    parser.add_argument("--password", default="support-password")
    parser.add_argument("--ca", required=True)
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()
    context = ssl.create_default_context(cafile=args.ca)

    def run(first, count):
        latencies, errors, threads = [], [], []
        for t in range(args.concurrency):
            numbers = range(first + t, first + count, args.concurrency)
            threads.append(threading.Thread(target=worker, args=(args, context, numbers, latencies, errors)))
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.perf_counter() - started, sorted(latencies), errors

    run(0, args.warmup)
    seconds, latencies, errors = run(args.warmup, args.sends)
    if errors or len(latencies) != args.sends:
        raise SystemExit(f"{len(errors)} sends failed, first: {errors[:1]}")
    pick = lambda p: latencies[round((len(latencies) - 1) * p)] * 1000
    print(json.dumps({
        "mode": "smtplib-reuse" if args.reuse else "smtplib",
        "sends": args.sends, "concurrency": args.concurrency, "seconds": seconds,
        "per_second": args.sends / seconds, "p50_ms": pick(0.5), "p99_ms": pick(0.99),
    }))


if __name__ == "__main__":
    main()
