//! A customer's message to one of the organisation's numbers, by
//! WhatsApp or SMS: recorded once (its id derives from the provider's),
//! placed on the customer's thread, and the customer known by number.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use domain::OrganisationId;
use domain::customer::{CustomerCommand, CustomerError, phone_customer_id};
use domain::inbound_message::{InboundContent, InboundMessageCommand, ReceivedMessage, inbound_message_id};
use domain::outbound_message::Channel;

use super::{Messages, MessagesError};
use crate::error::{CommandError, StoreError};
use crate::metadata::EventMetadata;
use crate::threads::Placement;

/// A customer's message as the provider reported it.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    pub channel: Channel,
    pub sid: String,
    /// The customer's number, E.164.
    pub from: String,
    /// The organisation's number, E.164.
    pub to: String,
    pub profile_name: Option<String>,
    pub content: InboundContent,
    pub context_sid: Option<String>,
    /// When the customer sent it, as the provider says.
    pub sent_at: Option<DateTime<Utc>>,
}

/// An SMS a customer sent to one of the organisation's ExoPhones.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingSms {
    pub sid: String,
    /// The customer's number, E.164.
    pub from: String,
    /// The ExoPhone, E.164.
    pub to: String,
    pub body: String,
    pub sent_at: Option<DateTime<Utc>>,
}

impl Messages<'_> {
    /// Records an SMS a customer sent; the same SMS twice is one message.
    /// Returns the message's id.
    pub async fn record_incoming_sms(
        &self,
        organisation_id: OrganisationId,
        sms: IncomingSms,
        meta: &EventMetadata,
    ) -> Result<Uuid, MessagesError> {
        let incoming = Incoming {
            channel: Channel::Sms,
            sid: sms.sid,
            from: sms.from,
            to: sms.to,
            profile_name: None,
            content: InboundContent::Text { body: sms.body },
            context_sid: None,
            sent_at: sms.sent_at,
        };
        Ok(self.receive(organisation_id, incoming, meta).await?.0)
    }

    /// Records a customer's message once, on the thread it joins (the one
    /// chosen the first time, for a repeat), and knows its customer.
    pub(super) async fn receive(
        &self,
        organisation_id: OrganisationId,
        incoming: Incoming,
        meta: &EventMetadata,
    ) -> Result<(Uuid, ReceivedMessage), MessagesError> {
        let id = inbound_message_id(organisation_id, incoming.channel, &incoming.sid);
        // The window runs from when the customer wrote: a callback the
        // provider repeats late opens it no longer (a time ahead of ours is
        // taken as now).
        let now = self.clock.now();
        let received_at = incoming.sent_at.filter(|at| *at <= now).unwrap_or(now);
        let customer_id = phone_customer_id(organisation_id, &incoming.from);
        let recorded = self.inbound.load(&id.to_string()).await?;
        let placement = match recorded.as_ref().and_then(|l| l.aggregate.message.as_deref()) {
            Some(kept) => kept.thread_id.map(|thread_id| Placement {
                thread_id,
                reopens: false,
            }),
            None => Some(self.threads.for_inbound(organisation_id, customer_id, id, now).await?),
        };
        let message = ReceivedMessage {
            thread_id: placement.map(|p| p.thread_id),
            organisation_id,
            channel: incoming.channel,
            provider_sid: incoming.sid,
            customer_id: Some(customer_id),
            from: incoming.from,
            to: incoming.to,
            profile_name: incoming.profile_name,
            content: incoming.content,
            context_sid: incoming.context_sid,
            received_at,
        };
        let command = InboundMessageCommand::Receive {
            message: Box::new(message.clone()),
        };
        self.inbound
            .execute(&id.to_string(), command, meta)
            .await
            .map_err(|e| MessagesError::Store(StoreError(e.to_string())))?;
        self.know_customer(&message, meta).await?;
        if let Some(placement) = placement.filter(|p| p.reopens) {
            self.threads
                .reopen(organisation_id, placement.thread_id, meta)
                .await
                .map_err(|e| MessagesError::Store(StoreError(e.to_string())))?;
        }
        Ok((id, message))
    }

    /// Creates the customer a message came from, the first time the number writes.
    async fn know_customer(&self, message: &ReceivedMessage, meta: &EventMetadata) -> Result<(), MessagesError> {
        let Some(customer_id) = message.customer_id else {
            return Ok(());
        };
        let command = CustomerCommand::CreateForPhone {
            customer_id,
            organisation_id: message.organisation_id,
            phone: message.from.clone(),
            name: message.profile_name.clone(),
            at: message.received_at,
        };
        match self.customers.execute(&customer_id.to_string(), command, meta).await {
            Ok(()) | Err(CommandError::Rejected(CustomerError::AlreadyExists)) => Ok(()),
            Err(other) => Err(MessagesError::Store(StoreError(other.to_string()))),
        }
    }
}
