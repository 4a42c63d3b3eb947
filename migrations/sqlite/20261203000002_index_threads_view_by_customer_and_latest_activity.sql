-- A customer's latest thread (where an incoming message or a message sent
-- without a thread goes) is read off this index in order: the customer,
-- then the expression the inbox sorts by.
DROP INDEX threads_view_customer;
CREATE INDEX threads_view_customer ON threads_view (organisation_id, customer_id, (COALESCE(last_item_at, created_at)) DESC, thread_id DESC);
