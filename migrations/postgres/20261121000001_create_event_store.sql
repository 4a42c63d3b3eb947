-- The event store: the columns postgres-es writes, plus a global position
-- and the writing transaction's id so the relay can tail the table in
-- commit-safe order (a row is read only once every older transaction has
-- finished, so a late commit is never skipped).
CREATE TABLE events (
    aggregate_type  text     NOT NULL,
    aggregate_id    text     NOT NULL,
    sequence        bigint   NOT NULL CHECK (sequence >= 0),
    event_type      text     NOT NULL,
    event_version   text     NOT NULL,
    payload         jsonb    NOT NULL,
    metadata        jsonb    NOT NULL,
    global_position bigserial NOT NULL,
    transaction_id  xid8     NOT NULL DEFAULT pg_current_xact_id(),
    recorded_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);
CREATE UNIQUE INDEX events_global_position ON events (global_position);
CREATE INDEX events_transaction_position ON events (transaction_id, global_position);

-- Where the relay to JetStream has got to: the last published
-- (transaction id, position) pair.
CREATE TABLE relay_checkpoints (
    name       text        PRIMARY KEY,
    last_tx    xid8        NOT NULL,
    last_pos   bigint      NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
