//! Adapters: configuration, the event store on PostgreSQL or SQLite, the
//! relay to NATS JetStream and the event sources projectors read.

pub mod cipher;
pub mod config;
pub mod connection_test;
pub mod data_keys;
pub mod database;
pub mod error;
pub mod event_store;
pub mod exotel;
pub mod feed;
pub mod files;
pub mod idempotency;
pub mod mail;
pub mod media;
pub mod media_probe;
pub mod nats;
pub mod outbound;
pub mod recordings;
pub mod relay;
pub mod verified_calls;
pub mod webhooks;

pub use config::Settings;
pub use error::InfraError;
