-- The event store: the columns sqlite-es writes, plus a global position.
-- SQLite has one writer at a time, so commit order is insertion order and
-- the position is stamped from the rowid by a trigger (a stored column, so
-- it never changes even if the rowid would).
CREATE TABLE events (
    aggregate_type  text    NOT NULL,
    aggregate_id    text    NOT NULL,
    sequence        integer NOT NULL CHECK (sequence >= 0),
    event_type      text    NOT NULL,
    event_version   text    NOT NULL,
    payload         text    NOT NULL,
    metadata        text    NOT NULL,
    global_position integer,
    recorded_at     text    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
) STRICT;

CREATE TRIGGER events_stamp_position AFTER INSERT ON events
BEGIN
    UPDATE events SET global_position = NEW.rowid WHERE rowid = NEW.rowid;
END;

CREATE UNIQUE INDEX events_global_position ON events (global_position);
