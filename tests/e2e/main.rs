//! End-to-end tests against the real PostgreSQL, NATS JetStream and the
//! `switchboard` binary. One test binary; each test has its own database,
//! stream and port, so they run in parallel.

mod access;
mod embedded;
mod feed;
mod input;
mod integrations;
mod store;
mod support;
