-- One transaction, one event row: what committing a new single-event
-- aggregate costs PostgreSQL, without Switchboard. The row has the shape and
-- size of a real ApiKeyIssued event (payload and metadata as jsonb); the
-- aggregate id is fresh each time, so the primary key never conflicts.
INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
VALUES (
    'api_key',
    gen_random_uuid()::text,
    1,
    'ApiKeyIssued',
    '1.0',
    '{"ApiKeyIssued": {"key_id": "0b6f3c1e-7a51-4f0e-9d2a-3c8e5b1f4a77", "organisation_id": "5b1c0a2e-7d41-4e3a-9f10-5a4db0c50001", "name": "bench-12345", "role": "agent", "secret_digest": "9f2c7e4b1a8d3f6e0c5b2a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f", "created_by": "7d1e2f3a-4b5c-4d6e-8f90-a1b2c3d4e5f6", "issued_at": "2026-11-21T22:00:00.123456Z"}}'::jsonb,
    '{"organisation_id": "5b1c0a2e-7d41-4e3a-9f10-5a4db0c50001", "actor": "user:7d1e2f3a-4b5c-4d6e-8f90-a1b2c3d4e5f6", "request_id": "3f9a1c2e-5b7d-4e8f-9a0b-1c2d3e4f5a6b", "correlation_id": "3f9a1c2e-5b7d-4e8f-9a0b-1c2d3e4f5a6b", "client_ip": "127.0.0.1", "occurred_at": "2026-11-21T22:00:00.123456Z"}'::jsonb
);
