-- Read models of organisations, users and API keys. No secret or password
-- hash is ever copied here.
CREATE TABLE organisations_view (
    organisation_id text   PRIMARY KEY,
    name            text   NOT NULL,
    created_at      text   NOT NULL,
    user_count      bigint NOT NULL DEFAULT 0
);

CREATE TABLE users_view (
    user_id         text    PRIMARY KEY,
    organisation_id text    NOT NULL,
    email           text    NOT NULL,
    display_name    text    NOT NULL,
    role            text    NOT NULL,
    active          bigint  NOT NULL, -- 1 active, 0 deactivated
    registered_at   text    NOT NULL,
    last_login_at   text,
    version         bigint  NOT NULL
);
CREATE INDEX users_view_organisation ON users_view (organisation_id, email);

CREATE TABLE api_keys_view (
    key_id          text   PRIMARY KEY,
    organisation_id text   NOT NULL,
    name            text   NOT NULL,
    role            text   NOT NULL,
    created_by      text,
    issued_at       text   NOT NULL,
    revoked_at      text,
    version         bigint NOT NULL
);
CREATE INDEX api_keys_view_organisation ON api_keys_view (organisation_id, issued_at);
