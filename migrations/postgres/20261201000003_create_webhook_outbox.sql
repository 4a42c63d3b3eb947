-- Signed webhooks to client systems. The endpoints and the subjects are
-- read models of the webhook_outbox projector (rebuilt from the log); the
-- deliveries and their attempts are the outbox itself, written once per
-- endpoint and event and never emptied by a rebuild.
-- Times are RFC 3339 UTC with microseconds, so they sort as text.
CREATE TABLE webhook_endpoints_view (
    endpoint_id           text   PRIMARY KEY,
    organisation_id       text   NOT NULL,
    url                   text   NOT NULL,
    -- ",call.requested,call.completed,": each type between commas.
    event_types           text   NOT NULL,
    description           text   NOT NULL,
    enabled               bigint NOT NULL,
    disabled_reason       text,
    disabled_at           text,
    registered_position   bigint NOT NULL,
    created_at            text   NOT NULL,
    updated_at            text   NOT NULL
);
CREATE INDEX webhook_endpoints_view_listing ON webhook_endpoints_view (organisation_id, created_at DESC, endpoint_id DESC);

-- What a payload is rendered from: each subject aggregate's state as the
-- outbox has folded it, in JSON.
CREATE TABLE webhook_subjects (
    aggregate_type  text NOT NULL,
    aggregate_id    text NOT NULL,
    state           text NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id)
);

CREATE TABLE webhook_deliveries (
    delivery_id      text   PRIMARY KEY,
    endpoint_id      text   NOT NULL,
    organisation_id  text   NOT NULL,
    event_type       text   NOT NULL,
    -- The store event it tells of: type:id:sequence.
    source_event     text   NOT NULL,
    body             text   NOT NULL,
    -- When the event happened, and when the delivery was written.
    created_at       text   NOT NULL,
    written_at       text   NOT NULL,
    -- pending | succeeded | failed
    state            text   NOT NULL,
    attempts         bigint NOT NULL DEFAULT 0,
    -- Attempts made before the current window began (a redelivery or an
    -- enabling starts one): retry delays count from there.
    attempts_before_window bigint NOT NULL DEFAULT 0,
    next_attempt_at  text,
    lease_until      text,
    -- Retried until then; NULL: the configured window after written_at.
    window_ends_at   text,
    last_status      bigint,
    last_error       text,
    delivered_at     text,
    updated_at       text   NOT NULL,
    UNIQUE (endpoint_id, source_event)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
CREATE INDEX webhook_deliveries_listing ON webhook_deliveries (endpoint_id, created_at DESC, delivery_id DESC);

CREATE TABLE webhook_attempts (
    delivery_id  text   NOT NULL,
    attempt      bigint NOT NULL,
    started_at   text   NOT NULL,
    duration_ms  bigint NOT NULL,
    status       bigint,
    error        text,
    PRIMARY KEY (delivery_id, attempt)
);
