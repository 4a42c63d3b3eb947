//! Deciding who an e-mail comes from and which thread it joins, before
//! the command: the customer by the sender's address (created if new), the
//! thread by referenced Message-IDs, then by the customer's subject.

use chrono::Utc;
use uuid::Uuid;

use domain::customer::{CustomerCommand, CustomerError, customer_id};
use domain::email_thread::{new_thread_id, subject_key};
use domain::inbound_email::{MailAddress, header_value};
use domain::{EmailAddress, OrganisationId};

use super::{InboundEmails, IngestError, ParsedEmail, recent};
use crate::error::{CommandError, StoreError};
use crate::metadata::EventMetadata;

/// The key a subject is matched by, as the recorded event will keep it.
pub(super) fn key_of(subject: Option<&str>) -> String {
    subject.map(|s| subject_key(&header_value(s))).unwrap_or_default()
}

/// Message-IDs this message refers to, latest first: `In-Reply-To`, then
/// `References` from the end.
fn parents(parsed: &ParsedEmail) -> Vec<String> {
    let replied = parsed.in_reply_to.iter().cloned();
    let references = parsed.references.iter().rev().cloned();
    recent::distinct(replied.chain(references).filter(|id| !id.is_empty()))
}

impl InboundEmails<'_> {
    /// The sender's customer, created if new; none without a readable address.
    pub(super) async fn customer(
        &self,
        organisation_id: OrganisationId,
        from: Option<&MailAddress>,
        meta: &EventMetadata,
    ) -> Result<Option<Uuid>, IngestError> {
        let Some((address, name)) = from.and_then(|f| Some((EmailAddress::parse(&f.address).ok()?, f.name.clone())))
        else {
            return Ok(None);
        };
        let id = customer_id(organisation_id, &address);
        if self.recent.knows_customer(id) || self.customers.load(&id.to_string()).await?.is_some() {
            self.recent.remember_customer(id);
            return Ok(Some(id));
        }
        let command = CustomerCommand::Create {
            customer_id: id,
            organisation_id,
            email: address,
            name,
            at: Utc::now(),
        };
        match self.customers.execute(&id.to_string(), command, meta).await {
            Ok(()) | Err(CommandError::Rejected(CustomerError::AlreadyExists)) => {
                self.recent.remember_customer(id);
                Ok(Some(id))
            }
            Err(error) => Err(error.into()),
        }
    }

    /// The thread the e-mail joins, and whether it starts it. A thread whose
    /// id derives from this e-mail's is its own, however it was found (a
    /// decision remembered from an attempt that was never committed).
    pub(super) async fn thread(
        &self,
        organisation_id: OrganisationId,
        email_id: Uuid,
        customer_id: Option<Uuid>,
        parsed: &ParsedEmail,
    ) -> Result<(Uuid, bool), StoreError> {
        let own = new_thread_id(email_id);
        let found = self.existing_thread(organisation_id, customer_id, parsed).await?;
        let thread = found.unwrap_or(own);
        Ok((thread, thread == own))
    }

    /// The thread of a referenced Message-ID, else of the customer's subject.
    /// The message's own Message-ID counts too, in the read model only: a
    /// copy of an e-mail Switchboard sent belongs with it.
    async fn existing_thread(
        &self,
        organisation_id: OrganisationId,
        customer_id: Option<Uuid>,
        parsed: &ParsedEmail,
    ) -> Result<Option<Uuid>, StoreError> {
        let parents = parents(parsed);
        if let Some(thread) = self.recent.by_message_id(organisation_id, &parents) {
            return Ok(Some(thread));
        }
        let mut ids = parents;
        if let Some(own) = parsed
            .message_id
            .as_ref()
            .filter(|id| !id.is_empty() && !ids.contains(id))
        {
            ids.push(own.clone());
        }
        if !ids.is_empty()
            && let Some(thread) = self.index.thread_of(organisation_id, &ids).await?
        {
            return Ok(Some(thread));
        }
        let key = key_of(parsed.subject.as_deref());
        let Some(customer) = customer_id.filter(|_| !key.is_empty()) else {
            return Ok(None);
        };
        match self.recent.by_subject(organisation_id, customer, &key) {
            Some(thread) => Ok(Some(thread)),
            None => self.index.thread_with_subject(organisation_id, customer, &key).await,
        }
    }
}
