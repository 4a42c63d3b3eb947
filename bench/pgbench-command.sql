-- The least a cqrs-es command can cost PostgreSQL, without Switchboard: what
-- postgres-es 0.5.0 sends for a command on a new single-event aggregate.
-- It loads the aggregate's stream (its `select_events`, on the pool, outside
-- the transaction), then appends in a transaction of its own (`insert_events`:
-- BEGIN, one INSERT per event, COMMIT). Same table and row as
-- pgbench-insert.sql; the aggregate id is fresh each time (a uuid-shaped text
-- derived from a random 63-bit number), so the SELECT finds nothing, like the
-- load of a new aggregate, and the primary key never conflicts.
\set n random(1, 9223372036854775806)
SELECT aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata
  FROM events
  WHERE aggregate_type = 'api_key' AND aggregate_id = md5(:n::text)::uuid::text
  ORDER BY sequence;
BEGIN;
INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
VALUES (
    'api_key',
    md5(:n::text)::uuid::text,
    1,
    'ApiKeyIssued',
    '1.0',
    '{"ApiKeyIssued": {"key_id": "0b6f3c1e-7a51-4f0e-9d2a-3c8e5b1f4a77", "organisation_id": "5b1c0a2e-7d41-4e3a-9f10-5a4db0c50001", "name": "bench-12345", "role": "agent", "secret_digest": "9f2c7e4b1a8d3f6e0c5b2a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f", "created_by": "7d1e2f3a-4b5c-4d6e-8f90-a1b2c3d4e5f6", "issued_at": "2026-11-21T22:00:00.123456Z"}}'::jsonb,
    '{"organisation_id": "5b1c0a2e-7d41-4e3a-9f10-5a4db0c50001", "actor": "user:7d1e2f3a-4b5c-4d6e-8f90-a1b2c3d4e5f6", "request_id": "3f9a1c2e-5b7d-4e8f-9a0b-1c2d3e4f5a6b", "correlation_id": "3f9a1c2e-5b7d-4e8f-9a0b-1c2d3e4f5a6b", "client_ip": "127.0.0.1", "occurred_at": "2026-11-21T22:00:00.123456Z"}'::jsonb
);
COMMIT;
