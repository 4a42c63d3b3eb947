-- The organisation's e-mail accounts: settings (never passwords), the
-- default flag and whether repeated login failures need attention.
CREATE TABLE email_accounts_view (
    account_id           text   PRIMARY KEY,
    organisation_id      text   NOT NULL,
    name                 text   NOT NULL,
    address              text   NOT NULL,
    settings             text   NOT NULL, -- JSON of the account's settings
    is_default           bigint NOT NULL,
    needs_attention      bigint NOT NULL DEFAULT 0,
    consecutive_failures bigint NOT NULL DEFAULT 0,
    last_error           text,
    added_at             text   NOT NULL,
    updated_at           text   NOT NULL
);
CREATE INDEX email_accounts_view_organisation ON email_accounts_view (organisation_id, address);
