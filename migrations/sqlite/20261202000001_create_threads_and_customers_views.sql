-- Customers and omnichannel threads, fed by the customer, thread, e-mail,
-- SMS, WhatsApp and call events. Times are RFC 3339 UTC text with
-- microseconds ("…T…Z"), so they sort as text on SQLite too.

-- One row per customer as first seen (one contact point each: the id is
-- derived from it). A customer merged into another keeps its row with
-- `merged_into` set; `canonical_id` is the customer it is now part of (its
-- own id while it stands on its own), so a customer's contact points are
-- the rows whose canonical_id is its id.
CREATE TABLE customers_view (
    customer_id     text PRIMARY KEY,
    organisation_id text NOT NULL,
    canonical_id    text NOT NULL,
    merged_into     text,
    email           text,
    phone           text,
    name            text,
    notes           text,
    created_at      text NOT NULL,
    updated_at      text NOT NULL
);
CREATE INDEX customers_view_canonical ON customers_view (organisation_id, canonical_id);
CREATE INDEX customers_view_email ON customers_view (organisation_id, email);
CREATE INDEX customers_view_phone ON customers_view (organisation_id, phone);

-- One row per thread. `customer_id` is the customer of its first message
-- that named one, as first seen (look it up in customers_view for the
-- customer it is part of now). `status` is open or closed; a list shows an
-- open thread whose last item went out as pending.
CREATE TABLE threads_view (
    thread_id       text   PRIMARY KEY,
    organisation_id text   NOT NULL,
    customer_id     text,
    customer_point  text,            -- that customer's address or number
    subject         text,
    status          text   NOT NULL,
    assignee_id     text,
    channels        text   NOT NULL, -- ",email,sms," : every channel on its timeline
    item_count      bigint NOT NULL,
    last_item_at    text,
    last_direction  text,
    last_channel    text,
    last_preview    text,
    last_inbound_at text,
    created_at      text   NOT NULL,
    closed_at       text,
    updated_at      text   NOT NULL
);
CREATE INDEX threads_view_latest ON threads_view (organisation_id, last_item_at DESC, thread_id DESC);
CREATE INDEX threads_view_customer ON threads_view (organisation_id, customer_id, last_item_at DESC);
CREATE INDEX threads_view_assignee ON threads_view (organisation_id, assignee_id, last_item_at DESC);

-- A thread's timeline: one row per message (either direction, any channel)
-- or call, its latest status kept on the row.
CREATE TABLE thread_items (
    item_id         text   PRIMARY KEY, -- the message's or call's id
    thread_id       text   NOT NULL,
    organisation_id text   NOT NULL,
    channel         text   NOT NULL, -- email, sms, whatsapp or call
    direction       text   NOT NULL, -- inbound or outbound
    status          text   NOT NULL,
    preview         text,
    counterpart     text,            -- the customer's address or number
    detail          text   NOT NULL, -- JSON: what the item shows beyond the columns
    occurred_at     text   NOT NULL,
    position        bigint NOT NULL, -- the event that recorded it: ties in time keep commit order
    status_at       text   NOT NULL
);
CREATE INDEX thread_items_timeline ON thread_items (thread_id, occurred_at, position);

-- How far each user has read each thread.
CREATE TABLE thread_reads (
    thread_id    text NOT NULL,
    user_id      text NOT NULL,
    read_through text NOT NULL,
    PRIMARY KEY (thread_id, user_id)
);
