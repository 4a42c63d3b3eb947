//! The Switchboard model: aggregates, their commands, events and rules.
//!
//! Pure: no I/O. Time, identifiers and the caller's identity are put into
//! commands by the application layer; aggregates only decide.

pub mod api_key;
pub mod auto_reply;
pub mod call;
pub mod customer;
pub mod email;
pub mod email_account;
pub mod email_thread;
#[cfg(test)]
mod event_names;
pub mod inbound_email;
pub mod inbound_message;
pub mod integration;
pub mod integration_permission;
pub mod login;
pub mod masked_session;
pub mod organisation;
pub mod outbound_email;
pub mod outbound_message;
pub mod outbound_url;
pub mod phone_numbers;
pub mod role;
pub mod sms;
pub mod sms_template;
pub mod thread;
pub mod user;
pub mod webhook_endpoint;
pub mod whatsapp;
pub mod whatsapp_template;

pub use email::EmailAddress;
pub use role::Role;

/// Identifier of an organisation, the tenant that owns everything else.
pub type OrganisationId = uuid::Uuid;

/// Writes an aggregate's decided events in order, each applied to it as it
/// is written: the one `handle` of every aggregate that decides first.
pub(crate) async fn write_all<A: cqrs_es::Aggregate>(
    aggregate: &mut A,
    sink: &cqrs_es::event_sink::EventSink<A>,
    events: Vec<A::Event>,
) {
    for event in events {
        sink.write(event, aggregate).await;
    }
}
