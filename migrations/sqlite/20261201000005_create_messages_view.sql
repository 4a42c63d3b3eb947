-- Outbound messages as the dispatcher, the reconciler and the list routes
-- read them, and the organisations' DLT templates. Times are RFC 3339 UTC
-- with microseconds ("…T…Z"), so they sort as text.
CREATE TABLE messages_view (
    message_id          text   PRIMARY KEY,
    organisation_id     text   NOT NULL,
    channel             text   NOT NULL,
    to_number           text   NOT NULL,
    status              text   NOT NULL,
    dispatch            text   NOT NULL,
    attempts            bigint NOT NULL DEFAULT 0,
    provider_sid        text,
    sender_id           text,
    sms_type            text,
    segments            bigint,
    requested_by        text,
    batch_id            text,
    requested_at        text   NOT NULL,
    not_before          text,
    dispatch_started_at text,
    submitted_at        text,
    delivered_at        text,
    failure_code        bigint,
    updated_at          text   NOT NULL
);
CREATE INDEX messages_view_listing ON messages_view (organisation_id, requested_at DESC, message_id DESC);
CREATE INDEX messages_view_dispatch ON messages_view (dispatch, not_before, requested_at);
CREATE INDEX messages_view_sid ON messages_view (organisation_id, provider_sid);
CREATE INDEX messages_view_requested_by ON messages_view (organisation_id, requested_by, channel, requested_at);

CREATE TABLE sms_templates_view (
    organisation_id  text   NOT NULL,
    dlt_template_id  text   NOT NULL,
    template_id      text   NOT NULL,
    name             text   NOT NULL,
    body             text   NOT NULL,
    sender_id        text   NOT NULL,
    sms_type         text   NOT NULL,
    variables        bigint NOT NULL,
    registered_at    text   NOT NULL,
    PRIMARY KEY (organisation_id, dlt_template_id)
);
CREATE INDEX sms_templates_view_template ON sms_templates_view (template_id);

-- Messages customers sent, and when each contact last wrote on a channel
-- (WhatsApp's 24-hour customer-service window).
CREATE TABLE inbound_messages_view (
    message_id       text PRIMARY KEY,
    organisation_id  text NOT NULL,
    channel          text NOT NULL,
    from_number      text NOT NULL,
    to_number        text NOT NULL,
    profile_name     text,
    kind             text NOT NULL,
    text_content     text,
    provider_sid     text NOT NULL,
    context_sid      text,
    received_at      text NOT NULL
);
CREATE INDEX inbound_messages_view_listing ON inbound_messages_view (organisation_id, received_at DESC, message_id);
CREATE INDEX inbound_messages_view_contact ON inbound_messages_view (organisation_id, from_number, received_at DESC);

CREATE TABLE message_windows (
    organisation_id  text NOT NULL,
    channel          text NOT NULL,
    contact          text NOT NULL,
    last_inbound_at  text NOT NULL,
    PRIMARY KEY (organisation_id, channel, contact)
);
