-- Each projector's progress, written in the same transaction as its read
-- model. Times are RFC 3339 text so the same SQL runs on SQLite.
CREATE TABLE projection_checkpoints (
    projector          text   PRIMARY KEY,
    position           bigint NOT NULL DEFAULT 0,
    events_applied     bigint NOT NULL DEFAULT 0,
    last_event_at      text,
    applied_at         text
);

-- The last sequence each projector applied per aggregate: a redelivered
-- event (sequence at or below it) is skipped, a gap is retried later.
CREATE TABLE projection_sequences (
    projector      text   NOT NULL,
    aggregate_type text   NOT NULL,
    aggregate_id   text   NOT NULL,
    last_sequence  bigint NOT NULL,
    PRIMARY KEY (projector, aggregate_type, aggregate_id)
);
