#!/usr/bin/env bash
# Stop the Switchboard test mail servers started by tests/mail/up.sh.
# Mail, certificate and logs stay in $RUN; `rm -rf $RUN` after this to wipe them.
set -uo pipefail
export PATH="/usr/sbin:/usr/bin:/sbin:/bin:$PATH"

RUN="${SWITCHBOARD_MAIL_DIR:-/var/tmp/switchboard-mail}"
log() { printf '[mail down] %s\n' "$*"; }
status=0

if command -v postfix >/dev/null && [ -f "$RUN/postfix/main.cf" ]; then
  if postfix -c "$RUN/postfix" status >/dev/null 2>&1; then
    postfix -c "$RUN/postfix" stop >/dev/null 2>&1 || { log "postfix stop failed"; status=1; }
    log "postfix stopped"
  else
    log "postfix was not running"
  fi
fi

if command -v doveadm >/dev/null && [ -f "$RUN/dovecot.conf" ]; then
  pidfile="$RUN/run/dovecot/master.pid"
  pid="$(cat "$pidfile" 2>/dev/null || true)"
  if doveadm -c "$RUN/dovecot.conf" stop >/dev/null 2>&1; then
    # Wait for the master to be gone so the ports are free for a new start.
    for _ in $(seq 1 50); do
      [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      log "dovecot (pid $pid) did not stop"
      status=1
    else
      log "dovecot stopped"
    fi
  else
    log "dovecot was not running"
  fi
fi

exit "$status"
