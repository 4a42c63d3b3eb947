-- Grows three read models of the bench database from row :from to row :to
-- (psql variables; run with the switchboard server stopped), for the
-- read-latency curve of bench/run.sh:
--
-- * threads_view: every row in the caller's organisation :org (the inbox
--   list, GET /api/v1/communications/threads, reads it joined LEFT with
--   customers_view on customer_id, pages of 100, latest item first). The
--   rows mix the channels and statuses the list shows (open, pending:
--   open with an outbound last item, closed); a tenth are assigned. Each
--   names one of 5,000 customers, whose customers_view rows (one contact
--   point each, standing on their own) are added with the first 5,000
--   threads, so the join finds its row;
-- * phone_numbers_view: the caller's organisation holds the first 100 rows
--   (its list is not paged: it answers every number of the organisation),
--   the others belong to other organisations of 100 numbers each;
-- * events, which the audit routes read directly: copies of one real
--   ApiKeyIssued event of the bench run (:template, a global_position) with
--   fresh aggregate ids, all in :org. So that no projector applies them
--   while the latency is measured, the relay's checkpoint is moved past
--   them (every earlier event was published before the server stopped).
--
-- Ids are derived from the row number, so a fill can be resumed where the
-- previous size stopped. Times are RFC 3339 UTC text with microseconds, as
-- the projector writes them. Statistics are refreshed after each fill.
\set ON_ERROR_STOP on
BEGIN;
INSERT INTO customers_view (customer_id, organisation_id, canonical_id, merged_into, email, phone, name, notes,
                            created_at, updated_at)
SELECT md5('customer:' || (g % 5000))::uuid::text, :'org', md5('customer:' || (g % 5000))::uuid::text, NULL,
       CASE WHEN g % 2 = 0 THEN 'customer' || (g % 5000) || '@example.com' END,
       CASE WHEN g % 2 = 1 THEN '+91' || (9000000000 + g % 5000)::text END,
       'Customer ' || (g % 5000), NULL,
       '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z'
FROM generate_series(:from, LEAST(:to, 5000)) g;

INSERT INTO threads_view (thread_id, organisation_id, customer_id, customer_point, subject, status, assignee_id,
                          channels, item_count, last_item_at, last_direction, last_channel, last_preview,
                          last_inbound_at, created_at, closed_at, updated_at)
SELECT md5('thread:' || g)::uuid::text, :'org', md5('customer:' || (g % 5000))::uuid::text,
       CASE WHEN g % 5000 % 2 = 0 THEN 'customer' || (g % 5000) || '@example.com'
            ELSE '+91' || (9000000000 + g % 5000)::text END,
       CASE WHEN g % 5000 % 2 = 0 THEN 'Order ' || g || ' enquiry' END,
       CASE WHEN g % 5 = 0 THEN 'closed' ELSE 'open' END,
       CASE WHEN g % 10 = 3 THEN md5('agent:' || (g % 7))::uuid::text END,
       CASE g % 4 WHEN 0 THEN ',email,' WHEN 1 THEN ',whatsapp,' WHEN 2 THEN ',sms,whatsapp,' ELSE ',call,email,' END,
       1 + g % 7,
       to_char(timestamp '2026-01-01' + g * interval '7 seconds', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
       CASE WHEN g % 3 = 0 THEN 'outbound' ELSE 'inbound' END,
       CASE g % 4 WHEN 0 THEN 'email' WHEN 1 THEN 'whatsapp' WHEN 2 THEN 'whatsapp' ELSE 'email' END,
       'Hello, about order ' || g,
       to_char(timestamp '2026-01-01' + g * interval '7 seconds' - CASE WHEN g % 3 = 0 THEN interval '1 minute' ELSE interval '0' END,
               'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
       to_char(timestamp '2026-01-01' + g * interval '5 seconds', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
       CASE WHEN g % 5 = 0 THEN to_char(timestamp '2026-01-01' + g * interval '7 seconds' + interval '1 hour',
                                        'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') END,
       to_char(timestamp '2026-01-01' + g * interval '7 seconds', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
FROM generate_series(:from, :to) g;

INSERT INTO phone_numbers_view (number_id, organisation_id, integration_id, phone_number, exotel_sid, display_name,
                                number_type, region, can_call, can_sms, is_active, is_primary, assigned_to_user_id,
                                created_at, updated_at)
SELECT md5('number:' || g)::uuid::text,
       CASE WHEN g <= 100 THEN :'org' ELSE md5('organisation:' || (g / 100))::uuid::text END,
       md5('integration:' || (g / 100))::uuid::text,
       '+91' || (8000000000 + g)::text, 'sid' || g, 'Line ' || g,
       CASE WHEN g % 3 = 0 THEN 'mobile' ELSE 'landline' END, 'KA', 1, g % 2, CASE WHEN g % 10 = 0 THEN 0 ELSE 1 END,
       CASE WHEN g % 100 = 1 THEN 1 ELSE 0 END, NULL,
       '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z'
FROM generate_series(:from, :to) g;

INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
SELECT t.aggregate_type, md5('audit:' || g)::uuid::text, 1, t.event_type, t.event_version, t.payload,
       jsonb_set(t.metadata, '{organisation_id}', to_jsonb(:'org'::text))
FROM (SELECT * FROM events WHERE global_position = :template) t, generate_series(:from, :to) g;
COMMIT;

UPDATE relay_checkpoints c SET last_tx = h.transaction_id, last_pos = h.global_position, updated_at = now()
FROM (SELECT transaction_id, global_position FROM events ORDER BY transaction_id DESC, global_position DESC LIMIT 1) h;

ANALYZE threads_view;
ANALYZE customers_view;
ANALYZE phone_numbers_view;
ANALYZE events;
