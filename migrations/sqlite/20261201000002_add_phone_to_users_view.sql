-- A user's own phone (E.164), dialled first when they place a call.
ALTER TABLE users_view ADD COLUMN phone text;
