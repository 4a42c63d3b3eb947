-- Columns the audit routes filter on, derived from each event's metadata.
ALTER TABLE events ADD COLUMN organisation_id text GENERATED ALWAYS AS (json_extract(metadata, '$.organisation_id')) VIRTUAL;
ALTER TABLE events ADD COLUMN actor text GENERATED ALWAYS AS (json_extract(metadata, '$.actor')) VIRTUAL;
ALTER TABLE events ADD COLUMN occurred_at text GENERATED ALWAYS AS (json_extract(metadata, '$.occurred_at')) VIRTUAL;
CREATE INDEX events_organisation_position ON events (organisation_id, global_position);

-- The hash chain over stored events (see the PostgreSQL migration).
CREATE TABLE event_hashes (
    aggregate_type  text    NOT NULL,
    aggregate_id    text    NOT NULL,
    sequence        integer NOT NULL,
    organisation_id text    NOT NULL,
    hash            text    NOT NULL,
    chain_index     integer NOT NULL,
    chain_hash      text    NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);
CREATE UNIQUE INDEX event_hashes_chain ON event_hashes (organisation_id, chain_index);
