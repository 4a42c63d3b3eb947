#!/usr/bin/env python3
"""Check the Switchboard test mail servers started by tests/mail/up.sh.

    python3 tests/mail/check.py            # servers must already be up
    python3 tests/mail/check.py --cycle    # up.sh, up.sh, down.sh, up.sh first

Exits non-zero when any check fails. Needs root for the doveadm /
dovecot-lda checks (raw delivery, UIDVALIDITY change).
"""

import argparse
import imaplib
import os
import re
import shlex
import smtplib
import socket
import ssl
import subprocess
import sys
import time
import uuid
from email.message import EmailMessage

HERE = os.path.dirname(os.path.abspath(__file__))
RUN = os.environ.get("SWITCHBOARD_MAIL_DIR", "/var/tmp/switchboard-mail")
CONF = os.path.join(RUN, "dovecot.conf")
HOST = "127.0.0.1"
DOMAIN = "switchboard.test"
PASSWORDS = {
    "alice": "alice-password",
    "bob": "bob-password",
    "carol": "carol-password",
    "support": "support-password",
    **{f"load{i}": "load-password" for i in range(1, 9)},
}

failures = []


def addr(user):
    return f"{user}@{DOMAIN}"


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def check(name):
    """Decorator: run a check, record and print its outcome."""

    def wrap(fn):
        def run(*args, **kwargs):
            started = time.monotonic()
            try:
                detail = fn(*args, **kwargs)
            except Exception as e:  # noqa: BLE001 - report anything
                failures.append(name)
                print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
                return None
            took = time.monotonic() - started
            extra = f" ({detail})" if detail else ""
            print(f"ok   {name}{extra} [{took:.2f}s]", flush=True)
            return detail

        return run

    return wrap


def message(sender, to, subject, body="hello from check.py\n"):
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{uuid.uuid4()}@check.{DOMAIN}>"
    msg.set_content(body)
    return msg


def token(label):
    return f"{label}-{uuid.uuid4().hex[:12]}"


# ---------------------------------------------------------------- IMAP helpers


def imap_connect(user, port=143, password=None):
    if port == 993:
        imap = imaplib.IMAP4_SSL(HOST, 993, ssl_context=tls_context(), timeout=10)
    else:
        imap = imaplib.IMAP4(HOST, port, timeout=10)
        imap.starttls(ssl_context=tls_context())
    imap.login(addr(user), password or PASSWORDS[user])
    return imap


def wait_for_subject(user, subject, port=143, timeout=10.0):
    """Poll the user's INBOX until a message with this subject is there."""
    imap = imap_connect(user, port)
    try:
        deadline = time.monotonic() + timeout
        while True:
            imap.select("INBOX", readonly=True)
            typ, data = imap.search(None, "SUBJECT", f'"{subject}"')
            if typ == "OK" and data[0].split():
                return len(data[0].split())
            if time.monotonic() > deadline:
                raise AssertionError(f"{subject!r} not in {addr(user)}'s INBOX after {timeout}s (port {port})")
            time.sleep(0.2)
    finally:
        imap.logout()


def uidvalidity(user, mailbox="INBOX"):
    imap = imap_connect(user)
    try:
        typ, data = imap.status(mailbox, "(UIDVALIDITY MESSAGES UIDNEXT)")
        assert typ == "OK", data
        m = re.search(rb"UIDVALIDITY (\d+)", data[0])
        return int(m.group(1))
    finally:
        imap.logout()


# ---------------------------------------------------------------- the checks


@check("ports answer (25 587 465 143 993)")
def ports():
    for port in (25, 587, 465, 143, 993):
        with socket.create_connection((HOST, port), timeout=5):
            pass


@check("587: AUTH only after STARTTLS, PLAIN and LOGIN offered")
def submission_ehlo():
    with smtplib.SMTP(HOST, 587, timeout=10) as s:
        s.ehlo("check.switchboard.test")
        assert s.has_extn("starttls"), "STARTTLS not offered"
        assert not s.has_extn("auth"), "AUTH offered before STARTTLS"
        s.starttls(context=tls_context())
        s.ehlo("check.switchboard.test")
        mechs = s.esmtp_features.get("auth", "").upper().split()
        assert "PLAIN" in mechs and "LOGIN" in mechs, f"AUTH mechanisms: {mechs}"
        return "AUTH " + " ".join(mechs)


def send_587(sender, recipient, subject, mechanism):
    with smtplib.SMTP(HOST, 587, timeout=10) as s:
        s.starttls(context=tls_context())
        s.ehlo("check.switchboard.test")
        s.user, s.password = addr(sender), PASSWORDS[sender]
        auth_fn = s.auth_plain if mechanism == "PLAIN" else s.auth_login
        code, resp = s.auth(mechanism, auth_fn)
        assert code == 235, (code, resp)
        refused = s.send_message(message(addr(sender), addr(recipient), subject))
        assert not refused, refused


@check("587 STARTTLS + AUTH PLAIN: alice -> bob, seen on IMAP 143")
def send_587_plain():
    subject = token("587-plain")
    send_587("alice", "bob", subject, "PLAIN")
    wait_for_subject("bob", subject, port=143)


@check("587 STARTTLS + AUTH LOGIN: alice -> bob, seen on IMAPS 993")
def send_587_login():
    subject = token("587-login")
    send_587("alice", "bob", subject, "LOGIN")
    wait_for_subject("bob", subject, port=993)


@check("465 implicit TLS + AUTH: alice -> bob, seen on IMAP 143 and IMAPS 993")
def send_465():
    subject = token("465")
    with smtplib.SMTP_SSL(HOST, 465, context=tls_context(), timeout=10) as s:
        s.login(addr("alice"), PASSWORDS["alice"])
        refused = s.send_message(message(addr("alice"), addr("bob"), subject))
        assert not refused, refused
    wait_for_subject("bob", subject, port=143)
    wait_for_subject("bob", subject, port=993)


@check("wrong password on 587 -> 535")
def wrong_password_587():
    with smtplib.SMTP(HOST, 587, timeout=10) as s:
        s.starttls(context=tls_context())
        try:
            s.login(addr("alice"), "not-the-password")
        except smtplib.SMTPAuthenticationError as e:
            assert e.smtp_code == 535, e
            return f"{e.smtp_code} {e.smtp_error.decode()}"
        raise AssertionError("login with a wrong password succeeded")


@check("a failed login does not slow down the next SMTP AUTH (no per-IP penalty)")
def no_auth_penalty():
    for _ in range(3):
        with smtplib.SMTP(HOST, 587, timeout=10) as s:
            s.starttls(context=tls_context())
            s.ehlo("check.switchboard.test")
            s.user, s.password = addr("bob"), "not-the-password"
            try:
                s.auth("PLAIN", s.auth_plain)
            except smtplib.SMTPAuthenticationError:
                pass
    started = time.monotonic()
    with smtplib.SMTP(HOST, 587, timeout=10) as s:
        s.starttls(context=tls_context())
        s.login(addr("bob"), PASSWORDS["bob"])
    took = time.monotonic() - started
    assert took < 1.0, f"a good login took {took:.2f}s after failed ones"
    return f"good login {took:.2f}s"


@check("wrong password on 465 -> 535")
def wrong_password_465():
    with smtplib.SMTP_SSL(HOST, 465, context=tls_context(), timeout=10) as s:
        try:
            s.login(addr("alice"), "not-the-password")
        except smtplib.SMTPAuthenticationError as e:
            assert e.smtp_code == 535, e
            return f"{e.smtp_code}"
        raise AssertionError("login with a wrong password succeeded")


@check("587 without AUTH is refused")
def submission_needs_auth():
    with smtplib.SMTP(HOST, 587, timeout=10) as s:
        s.starttls(context=tls_context())
        s.ehlo("check.switchboard.test")
        try:
            s.sendmail(addr("alice"), [addr("bob")], message(addr("alice"), addr("bob"), "x").as_bytes())
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as e:
            return str(e)[:80]
        raise AssertionError("unauthenticated submission accepted")


@check("587 AUTH: mail to another domain is accepted (and discarded)")
def outbound_discarded():
    with smtplib.SMTP(HOST, 587, timeout=10) as s:
        s.starttls(context=tls_context())
        s.login(addr("alice"), PASSWORDS["alice"])
        refused = s.send_message(message(addr("alice"), "someone@example.com", token("outbound")))
        assert not refused, refused


@check("wrong password on IMAP 143 and 993 -> AUTHENTICATIONFAILED")
def wrong_password_imap():
    for port in (143, 993):
        try:
            imap_connect("alice", port, password="not-the-password")
        except imaplib.IMAP4.error as e:
            assert "AUTHENTICATIONFAILED" in str(e) or "Authentication failed" in str(e), e
            continue
        raise AssertionError(f"IMAP login with a wrong password succeeded on {port}")


@check("IMAP 143 plaintext LOGIN (no STARTTLS) allowed on loopback")
def imap_plaintext():
    imap = imaplib.IMAP4(HOST, 143, timeout=10)
    caps = imap.capabilities
    imap.login(addr("alice"), PASSWORDS["alice"])
    imap.logout()
    assert "STARTTLS" in caps, caps


@check("25: plain SMTP injection to carol, seen on IMAP")
def inject_25():
    subject = token("port25")
    with smtplib.SMTP(HOST, 25, timeout=10) as s:
        refused = s.send_message(message("customer@example.com", addr("carol"), subject))
        assert not refused, refused
    wait_for_subject("carol", subject)


@check("25: relaying to another domain and unknown users are refused")
def port25_refusals():
    out = []
    for rcpt, want in (("someone@example.com", 554), (addr("nobody"), 550)):
        with smtplib.SMTP(HOST, 25, timeout=10) as s:
            try:
                s.sendmail("customer@example.com", [rcpt], b"Subject: x\r\n\r\nx\r\n")
            except smtplib.SMTPRecipientsRefused as e:
                code = e.recipients[rcpt][0]
                assert code == want, (rcpt, e.recipients)
                out.append(f"{rcpt}: {code}")
                continue
            raise AssertionError(f"{rcpt} accepted")
    return ", ".join(out)


@check("IDLE gets EXISTS within 2 s of a delivery (143 and 993)")
def idle():
    results = []
    for port in (143, 993):
        imap = imap_connect("bob", port)
        try:
            assert "IDLE" in imap.capabilities, imap.capabilities
            imap.select("INBOX")
            tag = imap._new_tag().decode()
            imap.send(f"{tag} IDLE\r\n".encode())
            line = imap.readline()
            assert line.startswith(b"+"), line
            with smtplib.SMTP(HOST, 25, timeout=10) as s:
                s.send_message(message("customer@example.com", addr("bob"), token("idle")))
            sent = time.monotonic()
            imap.sock.settimeout(2.0)
            got = None
            while got is None:
                remaining = 2.0 - (time.monotonic() - sent)
                if remaining <= 0:
                    break
                imap.sock.settimeout(remaining)
                try:
                    line = imap.readline()
                except (socket.timeout, TimeoutError):
                    break
                if re.match(rb"\* \d+ EXISTS", line):
                    got = time.monotonic() - sent
            imap.sock.settimeout(10)
            imap.send(b"DONE\r\n")
            while True:
                line = imap.readline()
                if line.startswith(tag.encode()):
                    assert b" OK" in line, line
                    break
            assert got is not None, f"no EXISTS within 2 s on port {port}"
            results.append(f"{port}: {got:.2f}s")
        finally:
            imap.logout()
    return ", ".join(results)


@check("many IMAP connections for one user and IP (20 > default 10)")
def many_connections():
    conns = []
    try:
        for _ in range(20):
            conns.append(imap_connect("load1"))
    finally:
        for c in conns:
            try:
                c.logout()
            except Exception:  # noqa: BLE001
                pass
    return f"{len(conns)} open"


def sh(cmd, stdin=None):
    res = subprocess.run(cmd, shell=True, input=stdin, capture_output=True)
    if res.returncode != 0:
        raise AssertionError(f"`{cmd}` exited {res.returncode}: {res.stderr.decode().strip()}")
    return res.stdout.decode()


@check("raw delivery with dovecot-lda (the README command)")
def raw_lda():
    subject = token("lda")
    raw = message("customer@example.com", addr("carol"), subject).as_bytes()
    sh(f"/usr/lib/dovecot/dovecot-lda -c {CONF} -d {addr('carol')} -f customer@example.com", stdin=raw)
    wait_for_subject("carol", subject, timeout=2)


@check("raw delivery with doveadm save (the README command)")
def raw_save():
    subject = token("save")
    raw = message("customer@example.com", addr("carol"), subject).as_bytes()
    sh(f"doveadm -c {CONF} save -u {addr('carol')} -m INBOX", stdin=raw)
    wait_for_subject("carol", subject, timeout=2)


@check("UIDVALIDITY change of INBOX (the README recipe)")
def uidvalidity_change():
    before = uidvalidity("alice")
    sh(
        f"C={CONF}; U={addr('alice')}; "
        "doveadm -c $C expunge -u $U mailbox INBOX all && "
        "old=$(doveadm -c $C -f flow mailbox status -u $U uidvalidity INBOX | sed 's/.*uidvalidity=//') && "
        "doveadm -c $C mailbox update -u $U --uid-validity $((old + 1)) INBOX"
    )
    after = uidvalidity("alice")
    assert after != before, f"UIDVALIDITY still {before}"
    return f"{before} -> {after}"


@check("UIDVALIDITY change of a folder by delete + create")
def folder_recreate():
    user = addr("alice")
    sh(f"doveadm -c {CONF} mailbox create -u {user} Recreated 2>/dev/null || true")
    before = uidvalidity("alice", "Recreated")
    sh(f"doveadm -c {CONF} mailbox delete -u {user} Recreated")
    sh(f"doveadm -c {CONF} mailbox create -u {user} Recreated")
    after = uidvalidity("alice", "Recreated")
    sh(f"doveadm -c {CONF} mailbox delete -u {user} Recreated")
    assert after != before, f"UIDVALIDITY still {before}"
    return f"{before} -> {after}"


@check("every user in tests/mail/users can log in")
def all_users():
    for user, password in PASSWORDS.items():
        imap = imap_connect(user, 143, password)
        imap.logout()
    return f"{len(PASSWORDS)} users"


def run_script(name):
    started = time.monotonic()
    res = subprocess.run(["bash", os.path.join(HERE, name)])
    took = time.monotonic() - started
    print(f"{'ok  ' if res.returncode == 0 else 'FAIL'} {name} exited {res.returncode} [{took:.2f}s]", flush=True)
    if res.returncode != 0:
        failures.append(name)
    return res.returncode == 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycle", action="store_true", help="run up.sh, up.sh, down.sh, up.sh before the checks")
    args = parser.parse_args()

    if args.cycle:
        ok = run_script("up.sh") and run_script("up.sh") and run_script("down.sh")
        if ok:
            for port in (25, 587, 465, 143, 993):
                try:
                    socket.create_connection((HOST, port), timeout=2).close()
                    print(f"FAIL port {port} still answers after down.sh")
                    failures.append("down.sh")
                except OSError:
                    pass
        if not (ok and run_script("up.sh")):
            print(f"\n{len(failures)} failed: {', '.join(failures)}")
            return 1

    try:
        socket.create_connection((HOST, 993), timeout=2).close()
    except OSError:
        print("nothing answers on 127.0.0.1:993 - run tests/mail/up.sh first", file=sys.stderr)
        return 1

    checks = [
        ports, submission_ehlo, send_587_plain, send_587_login, send_465,
        wrong_password_587, no_auth_penalty, wrong_password_465, submission_needs_auth, outbound_discarded,
        wrong_password_imap, imap_plaintext, inject_25, port25_refusals, idle,
        many_connections, all_users,
    ]
    if os.geteuid() == 0:
        checks += [raw_lda, raw_save, uidvalidity_change, folder_recreate]
    else:
        print("FAIL not root: skipping the doveadm / dovecot-lda checks")
        failures.append("root")
    for c in checks:
        c()

    passed = len(checks) - len([f for f in failures if f not in ("root",)])
    print(f"\n{passed} passed, {len(failures)} failed")
    if failures:
        print("failed: " + ", ".join(failures))
        print(f"logs: {RUN}/log/postfix.log {RUN}/log/dovecot.log")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
