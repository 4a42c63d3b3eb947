//! One DLT content template an organisation registered with India's DLT
//! platform and keeps in Switchboard, so an SMS to an Indian number is
//! checked against it before anything reaches the provider. The id is
//! derived from the organisation and the DLT template id: one template
//! per DLT id, however many processes register it.

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::OrganisationId;
use crate::outbound_message::SmsType;
use crate::sms::dlt;

const SMS_TEMPLATE_NAMESPACE: Uuid = Uuid::from_u128(0x5b1c_0a2e_7d41_4e3a_9f10_8c3e_2a9d_0012);
/// Longest DLT template id, in digits.
pub const MAX_TEMPLATE_ID_DIGITS: usize = 30;
/// Longest name kept.
pub const MAX_NAME_CHARS: usize = 100;

/// The aggregate id of a DLT template of an organisation.
pub fn sms_template_id(organisation_id: OrganisationId, dlt_template_id: &str) -> Uuid {
    Uuid::new_v5(
        &SMS_TEMPLATE_NAMESPACE,
        format!("{organisation_id}/{dlt_template_id}").as_bytes(),
    )
}

/// A template as registered on the DLT platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsTemplateSpec {
    /// The DLT platform's template id (digits).
    pub dlt_template_id: String,
    pub name: String,
    /// The registered text, each variable written `{#var#}`.
    pub body: String,
    /// The DLT header (sender id) the template is linked to.
    pub sender_id: String,
    /// Its DLT category.
    pub sms_type: SmsType,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SmsTemplateCommand {
    /// Keeps the template; the same one again changes nothing.
    Register {
        organisation_id: OrganisationId,
        spec: SmsTemplateSpec,
        at: DateTime<Utc>,
    },
    /// Forgets it: SMS can no longer be sent with it.
    Remove { at: DateTime<Utc> },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SmsTemplateEvent {
    SmsTemplateRegistered {
        organisation_id: OrganisationId,
        spec: SmsTemplateSpec,
        at: DateTime<Utc>,
    },
    SmsTemplateRemoved {
        at: DateTime<Utc>,
    },
}

impl DomainEvent for SmsTemplateEvent {
    fn event_type(&self) -> String {
        match self {
            Self::SmsTemplateRegistered { .. } => "SmsTemplateRegistered",
            Self::SmsTemplateRemoved { .. } => "SmsTemplateRemoved",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

/// One variant per rule a template command can break.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmsTemplateError {
    /// 404.
    #[error("no such SMS template")]
    NotFound,
    /// 422 on `template_id`.
    #[error("a DLT template id is 1 to {MAX_TEMPLATE_ID_DIGITS} digits")]
    TemplateId,
    /// 422 on `name`.
    #[error("a template's name is 1 to {MAX_NAME_CHARS} printable characters")]
    Name,
    /// 422 on `body`.
    #[error("{0}")]
    Body(#[from] dlt::TemplateTextError),
    /// 422 on `sender_id`.
    #[error("a DLT header is six letters or digits")]
    SenderId,
    /// 409: registered already with other content; remove it first.
    #[error("this DLT template id is registered with other content; delete it first")]
    Exists,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct SmsTemplate {
    pub organisation_id: Option<OrganisationId>,
    /// The template while it is registered.
    pub spec: Option<SmsTemplateSpec>,
    pub registered_at: Option<DateTime<Utc>>,
}

impl SmsTemplate {
    /// The organisation's registered template, if this is one.
    pub fn of(&self, organisation_id: OrganisationId) -> Option<&SmsTemplateSpec> {
        self.spec
            .as_ref()
            .filter(|_| self.organisation_id == Some(organisation_id))
    }

    fn register(
        &self,
        organisation_id: OrganisationId,
        spec: SmsTemplateSpec,
        at: DateTime<Utc>,
    ) -> Result<Vec<SmsTemplateEvent>, SmsTemplateError> {
        let spec = checked(spec)?;
        if let Some(mine) = &self.spec {
            return match *mine == spec {
                true => Ok(Vec::new()),
                false => Err(SmsTemplateError::Exists),
            };
        }
        Ok(vec![SmsTemplateEvent::SmsTemplateRegistered {
            organisation_id,
            spec,
            at,
        }])
    }

    fn remove(&self, at: DateTime<Utc>) -> Result<Vec<SmsTemplateEvent>, SmsTemplateError> {
        match self.spec {
            Some(_) => Ok(vec![SmsTemplateEvent::SmsTemplateRemoved { at }]),
            None => Err(SmsTemplateError::NotFound),
        }
    }
}

/// The spec with its header upper-cased, or the first rule it breaks.
fn checked(spec: SmsTemplateSpec) -> Result<SmsTemplateSpec, SmsTemplateError> {
    let id = &spec.dlt_template_id;
    if id.is_empty() || id.len() > MAX_TEMPLATE_ID_DIGITS || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SmsTemplateError::TemplateId);
    }
    let name_length = spec.name.chars().count();
    let name_ok = (1..=MAX_NAME_CHARS).contains(&name_length)
        && spec.name.trim() == spec.name
        && crate::user::is_safe_text(&spec.name);
    if !name_ok {
        return Err(SmsTemplateError::Name);
    }
    dlt::check_template(&spec.body)?;
    let sender = &spec.sender_id;
    if sender.len() != 6 || !sender.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(SmsTemplateError::SenderId);
    }
    Ok(SmsTemplateSpec {
        sender_id: sender.to_ascii_uppercase(),
        ..spec
    })
}

impl Aggregate for SmsTemplate {
    const TYPE: &'static str = "sms_template";
    type Command = SmsTemplateCommand;
    type Event = SmsTemplateEvent;
    type Error = SmsTemplateError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Result<(), Self::Error> {
        let events = match command {
            SmsTemplateCommand::Register {
                organisation_id,
                spec,
                at,
            } => self.register(organisation_id, spec, at)?,
            SmsTemplateCommand::Remove { at } => self.remove(at)?,
        };
        crate::write_all(self, sink, events).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            SmsTemplateEvent::SmsTemplateRegistered {
                organisation_id,
                spec,
                at,
            } => {
                self.organisation_id = Some(organisation_id);
                self.spec = Some(spec);
                self.registered_at = Some(at);
            }
            SmsTemplateEvent::SmsTemplateRemoved { .. } => {
                self.spec = None;
                self.registered_at = None;
            }
        }
    }
}

#[cfg(test)]
mod tests;
