-- Columns the audit routes filter on, derived from each event's metadata.
ALTER TABLE events ADD COLUMN organisation_id text GENERATED ALWAYS AS (metadata->>'organisation_id') STORED;
ALTER TABLE events ADD COLUMN actor text GENERATED ALWAYS AS (metadata->>'actor') STORED;
ALTER TABLE events ADD COLUMN occurred_at text GENERATED ALWAYS AS (metadata->>'occurred_at') STORED;
CREATE INDEX events_organisation_position ON events (organisation_id, global_position);

-- The hash chain over stored events: each event's hash covers its canonical
-- form and the hash of the aggregate's previous event; each organisation's
-- chain links every event hash in the order they were sealed.
CREATE TABLE event_hashes (
    aggregate_type  text   NOT NULL,
    aggregate_id    text   NOT NULL,
    sequence        bigint NOT NULL,
    organisation_id text   NOT NULL,
    hash            text   NOT NULL,
    chain_index     bigint NOT NULL,
    chain_hash      text   NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);
CREATE UNIQUE INDEX event_hashes_chain ON event_hashes (organisation_id, chain_index);
