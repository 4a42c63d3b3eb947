-- The inbox lists threads by their latest activity: the last item, or the
-- thread's creation while it has none. Index that expression itself, so a
-- page is read off the index in order instead of sorting every thread of
-- the organisation.
DROP INDEX threads_view_latest;
DROP INDEX threads_view_assignee;
CREATE INDEX threads_view_latest ON threads_view (organisation_id, (COALESCE(last_item_at, created_at)) DESC, thread_id DESC);
CREATE INDEX threads_view_assignee ON threads_view (organisation_id, assignee_id, (COALESCE(last_item_at, created_at)) DESC, thread_id DESC);
