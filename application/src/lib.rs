//! Use cases of Switchboard: what a caller may ask, how it becomes commands
//! on aggregates, and the ports the outside world is reached through.

pub mod access;
pub mod accounts;
pub mod api_keys;
pub mod audit;
pub mod calls;
pub mod cipher;
pub mod clock;
pub mod customers;
pub mod email_accounts;
pub mod error;
pub mod exotel;
pub mod feed;
pub mod inbound_email;
pub mod integrations;
pub mod login;
pub mod mail;
pub mod masked_sessions;
#[cfg(test)]
mod memory;
pub mod messages;
pub mod metadata;
pub mod outbound_email;
pub mod passwords;
pub mod phone_numbers;
pub mod policy;
pub mod realtime;
pub mod receiving;
pub mod store;
pub mod threads;
pub mod users;
pub mod webhooks;

pub use error::CommandError;
pub use metadata::{Actor, EventMetadata};
pub use store::{AggregateStore, Loaded};
