#!/usr/bin/env bash
# Start (or refresh) the Switchboard test mail servers: Postfix (SMTP 25,
# submission 587 STARTTLS, submissions 465) and Dovecot (IMAP 143 STARTTLS,
# IMAPS 993, LMTP), all on 127.0.0.1, for the domain switchboard.test.
#
# Idempotent: installs the Debian packages only when they are missing, keeps
# the certificate once made, and reloads servers that are already running.
# Everything at run time lives in $RUN (default /var/tmp/switchboard-mail);
# the templates and the user list stay in this directory. Must run as root.
set -euo pipefail
export PATH="/usr/sbin:/usr/bin:/sbin:/bin:$PATH"

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RUN="${SWITCHBOARD_MAIL_DIR:-/var/tmp/switchboard-mail}"
PORTS=(25 587 465 143 993)

log() { printf '[mail up] %s\n' "$*"; }
die() {
  printf '[mail up] ERROR: %s\n' "$*" >&2
  for f in "$RUN/log/postfix.log" "$RUN/log/dovecot.log"; do
    if [ -s "$f" ]; then
      printf '[mail up] last lines of %s:\n' "$f" >&2
      tail -n 20 "$f" >&2
    fi
  done
  exit 1
}

[ "$(id -u)" = 0 ] || die "must run as root (installs packages, starts daemons)"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# --- packages ---------------------------------------------------------------
PKGS=(postfix dovecot-core dovecot-imapd dovecot-lmtpd openssl)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  # "No configuration": the package writes no /etc/postfix/main.cf and starts
  # nothing; this instance is configured entirely from $RUN/postfix.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  echo "postfix postfix/mailname string mail.switchboard.test" | debconf-set-selections
  install_pkgs() {
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=300 \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
  }
  if ! install_pkgs >"/tmp/switchboard-mail-apt.log" 2>&1; then
    log "install failed, refreshing the package lists and retrying"
    apt-get update >>"/tmp/switchboard-mail-apt.log" 2>&1 || true
    install_pkgs >>"/tmp/switchboard-mail-apt.log" 2>&1 ||
      { tail -n 30 /tmp/switchboard-mail-apt.log >&2; die "apt-get install ${missing[*]} failed (log: /tmp/switchboard-mail-apt.log)"; }
  fi
  # If the packages started default instances (no policy-rc.d on this
  # machine), stop them: they would hold the ports.
  if [ -f /etc/postfix/main.cf ] && postfix -c /etc/postfix status >/dev/null 2>&1; then
    postfix -c /etc/postfix stop >/dev/null 2>&1 || true
  fi
  if [ -f /etc/dovecot/dovecot.conf ] && doveadm -c /etc/dovecot/dovecot.conf stop >/dev/null 2>&1; then
    sleep 1
  fi
fi
for b in postfix postconf dovecot doveadm openssl; do
  command -v "$b" >/dev/null || die "$b not found after installation"
done

# --- vmail user, directories ------------------------------------------------
if ! getent passwd vmail >/dev/null; then
  log "creating system user vmail"
  getent group vmail >/dev/null || groupadd --system vmail
  useradd --system --gid vmail --home-dir "$RUN/mail" --no-create-home \
    --shell /usr/sbin/nologin --comment "Switchboard test mail" vmail
fi
VMAIL_UID="$(id -u vmail)"
VMAIL_GID="$(id -g vmail)"

mkdir -p "$RUN" "$RUN/log" "$RUN/tls" "$RUN/postfix" "$RUN/spool" "$RUN/run" "$RUN/mail" "$RUN/dovecot-state"
chmod 755 "$RUN" "$RUN/run" "$RUN/spool"
chown vmail:vmail "$RUN/mail"
chmod 770 "$RUN/mail"
touch "$RUN/log/postfix.log" "$RUN/log/dovecot.log"
chown postfix "$RUN/log/postfix.log"
chmod 644 "$RUN/log/postfix.log" "$RUN/log/dovecot.log"

# --- certificate --------------------------------------------------------------
cert_changed=0
# A private CA (ca.pem, the file clients trust) signs the servers'
# certificate: TLS libraries such as rustls refuse a CA certificate used as
# a server's own.
if [ ! -s "$RUN/tls/ca.pem" ] || [ ! -s "$RUN/tls/cert.pem" ] || [ ! -s "$RUN/tls/key.pem" ] ||
  ! openssl x509 -checkend 86400 -noout -in "$RUN/tls/cert.pem" >/dev/null 2>&1; then
  log "generating a test CA and the servers' certificate in $RUN/tls"
  T="$RUN/tls"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Switchboard test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$T/ca-key.pem" -out "$T/ca.pem.new" >/dev/null 2>&1 || die "openssl could not make the test CA"
  openssl req -newkey rsa:2048 -nodes -subj "/CN=mail.switchboard.test" \
    -keyout "$T/key.pem.new" -out "$T/cert.csr" >/dev/null 2>&1 || die "openssl could not make a certificate request"
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth" "subjectAltName=DNS:mail.switchboard.test,DNS:localhost,IP:127.0.0.1" >"$T/cert.ext"
  openssl x509 -req -in "$T/cert.csr" -CA "$T/ca.pem.new" -CAkey "$T/ca-key.pem" -CAcreateserial -days 3650 \
    -extfile "$T/cert.ext" -out "$T/cert.pem.new" >/dev/null 2>&1 || die "openssl could not sign the certificate"
  mv "$T/key.pem.new" "$T/key.pem"
  mv "$T/cert.pem.new" "$T/cert.pem"
  mv "$T/ca.pem.new" "$T/ca.pem"
  rm -f "$T/cert.csr" "$T/cert.ext"
  chmod 600 "$T/ca-key.pem"
  chmod 644 "$T/ca.pem"
  cert_changed=1
fi
chmod 600 "$RUN/tls/key.pem"
chmod 644 "$RUN/tls/cert.pem"

# --- configuration ----------------------------------------------------------
# Files are replaced only when their content changes, and a running server is
# reloaded only when one of its files changed.
postfix_changed=0
dovecot_changed=0
install_new() { # file.new file -> 0 when it changed
  if cmp -s "$1" "$2"; then
    rm -f "$1"
    return 1
  fi
  mv "$1" "$2"
}
render() { # template destination
  sed -e "s|@RUN@|$RUN|g" -e "s|@VMAIL_UID@|$VMAIL_UID|g" -e "s|@VMAIL_GID@|$VMAIL_GID|g" "$1" >"$2.new"
  install_new "$2.new" "$2"
}
render "$HERE/postfix/main.cf.in" "$RUN/postfix/main.cf" && postfix_changed=1
render "$HERE/postfix/master.cf.in" "$RUN/postfix/master.cf" && postfix_changed=1
render "$HERE/dovecot/dovecot.conf.in" "$RUN/dovecot.conf" && dovecot_changed=1
[ "$cert_changed" = 1 ] && postfix_changed=1 && dovecot_changed=1

# Users: Dovecot reads a copy (and re-reads it by itself when it changes);
# Postfix gets the list of addresses so unknown recipients fail at RCPT.
grep -Ev '^[[:space:]]*(#|$)' "$HERE/users" >"$RUN/users.new"
chown root:dovecot "$RUN/users.new"
chmod 640 "$RUN/users.new"
install_new "$RUN/users.new" "$RUN/users" || true
cut -d: -f1 "$RUN/users" | tr 'A-Z' 'a-z' | sed 's/$/ OK/' >"$RUN/postfix/vmailbox.new"
install_new "$RUN/postfix/vmailbox.new" "$RUN/postfix/vmailbox" && postfix_changed=1

doveconf -c "$RUN/dovecot.conf" -n >/dev/null 2>"$RUN/log/doveconf.err" ||
  die "invalid Dovecot configuration: $(cat "$RUN/log/doveconf.err")"

# --- start or reload ----------------------------------------------------------
dovecot_pid="$(cat "$RUN/run/dovecot/master.pid" 2>/dev/null || true)"
if [ -n "$dovecot_pid" ] && [ "$(cat "/proc/$dovecot_pid/comm" 2>/dev/null)" = dovecot ]; then
  if [ "$dovecot_changed" = 1 ]; then
    doveadm -c "$RUN/dovecot.conf" reload </dev/null >/dev/null 2>&1 || die "dovecot reload failed"
    log "dovecot reloaded"
  else
    log "dovecot already running"
  fi
else
  rm -f "$RUN/run/dovecot/master.pid" # stale, from a previous boot
  # The daemons must not keep the caller's stdout/stderr open (a caller
  # reading our output through a pipe would wait forever).
  dovecot -c "$RUN/dovecot.conf" </dev/null >"$RUN/log/dovecot-start.err" 2>&1 ||
    die "dovecot did not start: $(cat "$RUN/log/dovecot-start.err")"
  log "dovecot started"
fi

if postfix -c "$RUN/postfix" status >/dev/null 2>&1; then
  if [ "$postfix_changed" = 1 ]; then
    postfix -c "$RUN/postfix" check 2>"$RUN/log/postfix-check.err" ||
      die "invalid Postfix configuration: $(cat "$RUN/log/postfix-check.err")"
    postfix -c "$RUN/postfix" reload </dev/null >/dev/null 2>&1 || die "postfix reload failed"
    log "postfix reloaded"
  else
    log "postfix already running"
  fi
else
  # `postfix start` checks the configuration and creates the queue first.
  postfix -c "$RUN/postfix" start </dev/null >"$RUN/log/postfix-start.err" 2>&1 ||
    die "postfix did not start: $(cat "$RUN/log/postfix-start.err")"
  log "postfix started"
fi

# --- wait for the ports and sockets -----------------------------------------
deadline=$((SECONDS + 30))
for port in "${PORTS[@]}"; do
  until port_open "$port"; do
    [ "$SECONDS" -lt "$deadline" ] || die "nothing answers on 127.0.0.1:$port"
    sleep 0.2
  done
done
for sock in "$RUN/run/dovecot/lmtp" "$RUN/run/dovecot/auth-postfix"; do
  until [ -S "$sock" ]; do
    [ "$SECONDS" -lt "$deadline" ] || die "socket $sock missing"
    sleep 0.2
  done
done
log "ready: SMTP 25, submission 587 (STARTTLS), submissions 465, IMAP 143, IMAPS 993 on 127.0.0.1; logs in $RUN/log"
