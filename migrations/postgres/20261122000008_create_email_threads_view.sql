-- E-mail threads per organisation and their timelines, fed by received
-- e-mail (and by sent e-mail once it is recorded). Times are RFC 3339 UTC
-- text with milliseconds, so they sort as text on SQLite too.
CREATE TABLE email_threads (
    thread_id       text   PRIMARY KEY,
    organisation_id text   NOT NULL,
    customer_id     text,
    customer_email  text,
    subject         text,
    subject_key     text   NOT NULL, -- normalised: no Re:/Fwd:/[tags], lower case
    message_count   bigint NOT NULL,
    last_message_at text   NOT NULL,
    created_at      text   NOT NULL
);
CREATE INDEX email_threads_latest ON email_threads (organisation_id, last_message_at);
CREATE INDEX email_threads_subject ON email_threads (organisation_id, customer_id, subject_key);

-- A thread's timeline: one row per message, either direction.
CREATE TABLE email_thread_messages (
    email_id        text   PRIMARY KEY,
    thread_id       text   NOT NULL,
    organisation_id text   NOT NULL,
    direction       text   NOT NULL, -- inbound or outbound
    account_id      text,
    message_id      text,
    from_address    text,
    from_name       text,
    to_addresses    text   NOT NULL, -- JSON array of {name, address}
    cc_addresses    text   NOT NULL, -- JSON array of {name, address}
    subject         text,
    body_text       text,
    body_html       text,
    attachments     text   NOT NULL, -- JSON array of attachment records
    message_at      text   NOT NULL, -- the Date header, never later than receipt
    received_at     text   NOT NULL
);
CREATE INDEX email_thread_messages_timeline ON email_thread_messages (thread_id, message_at);

-- Which thread a Message-ID belongs to, received or sent: replies find
-- their thread through it. The first thread recorded for an id stays.
CREATE TABLE email_message_threads (
    organisation_id text NOT NULL,
    message_id      text NOT NULL,
    thread_id       text NOT NULL,
    PRIMARY KEY (organisation_id, message_id)
);
