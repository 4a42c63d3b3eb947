-- Masked sessions as the flow's questions and the list route read them.
-- Times are RFC 3339 UTC with microseconds, so they sort as text.
CREATE TABLE masked_sessions_view (
    session_id       text   PRIMARY KEY,
    organisation_id  text   NOT NULL,
    party_a          text   NOT NULL,
    party_b          text   NOT NULL,
    virtual_number   text   NOT NULL,
    expires_at       text   NOT NULL,
    max_calls        bigint,
    calls_connected  bigint NOT NULL DEFAULT 0,
    calls_refused    bigint NOT NULL DEFAULT 0,
    ended_at         text,
    created_at       text   NOT NULL
);
CREATE INDEX masked_sessions_view_listing ON masked_sessions_view (organisation_id, created_at DESC, session_id DESC);
CREATE INDEX masked_sessions_view_party_a ON masked_sessions_view (organisation_id, virtual_number, party_a);
CREATE INDEX masked_sessions_view_party_b ON masked_sessions_view (organisation_id, virtual_number, party_b);
