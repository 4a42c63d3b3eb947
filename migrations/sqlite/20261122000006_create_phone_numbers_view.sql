-- The organisation's phone numbers as synced from Exotel, with their
-- assignment and the primary flag. Booleans are 0/1 (read through sqlx Any).
CREATE TABLE phone_numbers_view (
    number_id           text   PRIMARY KEY,
    organisation_id     text   NOT NULL,
    integration_id      text   NOT NULL,
    phone_number        text   NOT NULL, -- E.164
    exotel_sid          text   NOT NULL,
    display_name        text,
    number_type         text   NOT NULL,
    region              text,
    can_call            bigint NOT NULL,
    can_sms             bigint NOT NULL,
    is_active           bigint NOT NULL,
    is_primary          bigint NOT NULL DEFAULT 0,
    assigned_to_user_id text,
    created_at          text   NOT NULL,
    updated_at          text   NOT NULL
);
CREATE UNIQUE INDEX phone_numbers_view_number ON phone_numbers_view (organisation_id, phone_number);
