//! The Switchboard model: aggregates, their commands, events and rules.
//!
//! Pure: no I/O. Time, identifiers and the caller's identity are put into
//! commands by the application layer; aggregates only decide.

pub mod api_key;
pub mod customer;
pub mod email;
pub mod email_account;
pub mod email_thread;
pub mod inbound_email;
pub mod integration;
pub mod integration_permission;
pub mod login;
pub mod organisation;
pub mod outbound_email;
pub mod phone_numbers;
pub mod role;
pub mod user;

pub use email::EmailAddress;
pub use role::Role;

/// Identifier of an organisation, the tenant that owns everything else.
pub type OrganisationId = uuid::Uuid;
