-- Calls as the dispatcher, the reconciler and the list routes read them.
-- Times are RFC 3339 UTC with microseconds ("…T…Z"), so they sort as text.
-- Booleans are 0/1 (read through sqlx Any).
CREATE TABLE calls_view (
    call_id             text   PRIMARY KEY,
    organisation_id     text   NOT NULL,
    direction           text   NOT NULL,
    status              text   NOT NULL,
    dispatch            text   NOT NULL,
    attempts            bigint NOT NULL DEFAULT 0,
    provider_sid        text,
    requested_by        text,
    agent_user_id       text,
    agent_phone         text   NOT NULL,
    customer_phone      text   NOT NULL,
    caller_id           text   NOT NULL,
    record              bigint NOT NULL,
    requested_at        text   NOT NULL,
    time_limit_ends_at  text   NOT NULL,
    dispatch_started_at text,
    answered_at         text,
    ended_at            text,
    duration_secs       bigint,
    price_paise         bigint,
    has_recording       bigint NOT NULL DEFAULT 0,
    updated_at          text   NOT NULL
);
CREATE INDEX calls_view_listing ON calls_view (organisation_id, requested_at DESC, call_id DESC);
CREATE INDEX calls_view_dispatch ON calls_view (dispatch, requested_at);
CREATE INDEX calls_view_sid ON calls_view (organisation_id, provider_sid);
CREATE INDEX calls_view_ended ON calls_view (ended_at);
CREATE INDEX calls_view_requested_by ON calls_view (organisation_id, requested_by, requested_at);
