//! End-to-end tests against the real PostgreSQL, NATS JetStream and the
//! `switchboard` binary. One test binary; each test has its own database,
//! stream and port, so they run in parallel.

mod access;
mod audit;
mod calls;
mod edge;
mod email_accounts;
mod email_receive;
mod email_send;
mod embedded;
mod exotel_client;
mod feed;
mod group_commit;
mod idempotency;
mod identity;
mod input;
mod integrations;
mod outbound;
mod phone_numbers;
mod projection_batches;
mod realtime;
mod simulator;
mod simulator_flows;
mod simulator_messaging;
mod simulator_numbers;
mod sms;
mod store;
mod support;
mod threads;
mod webhooks;
mod whatsapp;
