-- Mailbox pollers. One lease per e-mail account: the process whose poller
-- holds it renews it before it lapses; another takes it over once it has.
-- Times are Unix milliseconds so the same SQL runs on SQLite.
CREATE TABLE mail_leases (
    account_id text   PRIMARY KEY,
    holder     text   NOT NULL, -- "<pid>:<uuid>" of one poller
    expires_at bigint NOT NULL
);

-- How far each watched folder was read: new mail is every UID above
-- last_uid while the folder keeps this UIDVALIDITY.
CREATE TABLE mail_cursors (
    account_id  text   NOT NULL,
    folder      text   NOT NULL,
    uidvalidity bigint NOT NULL,
    last_uid    bigint NOT NULL,
    updated_at  text   NOT NULL,
    PRIMARY KEY (account_id, folder)
);
