//! A client system's endpoint for signed webhooks: where to post, which
//! event types, and the signing secret, sealed (the plaintext is shown once
//! and never recorded). Rotating the secret keeps the previous one valid
//! for an overlap, during which deliveries carry both signatures. An
//! endpoint is disabled by an admin or by delivery itself after failing
//! for the whole retry window, with the reason kept; a deleted endpoint
//! stays deleted.

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::OrganisationId;
use crate::integration::SealedSecret;
use crate::outbound_url;
use crate::user::is_safe_text;

/// Longest endpoint URL accepted.
pub const MAX_URL_LEN: usize = 2_048;
/// Longest description accepted.
pub const MAX_DESCRIPTION_LEN: usize = 200;
/// Longest reason kept for a disabled endpoint.
pub const MAX_REASON_LEN: usize = 500;

/// What a client system can subscribe to. Later channels add theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum WebhookEventType {
    #[serde(rename = "call.requested")]
    CallRequested,
    #[serde(rename = "call.answered")]
    CallAnswered,
    #[serde(rename = "call.completed")]
    CallCompleted,
    #[serde(rename = "call.failed")]
    CallFailed,
    #[serde(rename = "recording.available")]
    RecordingAvailable,
    /// Exotel has the SMS (it answered with its sid).
    #[serde(rename = "sms.submitted")]
    SmsSubmitted,
    #[serde(rename = "sms.delivered")]
    SmsDelivered,
    /// The operator failed it, or Exotel refused it.
    #[serde(rename = "sms.failed")]
    SmsFailed,
    #[serde(rename = "whatsapp.delivered")]
    WhatsappDelivered,
    #[serde(rename = "whatsapp.read")]
    WhatsappRead,
    /// WhatsApp failed it, or Exotel refused it.
    #[serde(rename = "whatsapp.failed")]
    WhatsappFailed,
    /// A customer's WhatsApp message arrived.
    #[serde(rename = "whatsapp.received")]
    WhatsappReceived,
}

impl WebhookEventType {
    pub const ALL: [Self; 12] = [
        Self::CallRequested,
        Self::CallAnswered,
        Self::CallCompleted,
        Self::CallFailed,
        Self::RecordingAvailable,
        Self::SmsSubmitted,
        Self::SmsDelivered,
        Self::SmsFailed,
        Self::WhatsappDelivered,
        Self::WhatsappRead,
        Self::WhatsappFailed,
        Self::WhatsappReceived,
    ];

    /// The name receivers see in the payload's `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CallRequested => "call.requested",
            Self::CallAnswered => "call.answered",
            Self::CallCompleted => "call.completed",
            Self::CallFailed => "call.failed",
            Self::RecordingAvailable => "recording.available",
            Self::SmsSubmitted => "sms.submitted",
            Self::SmsDelivered => "sms.delivered",
            Self::SmsFailed => "sms.failed",
            Self::WhatsappDelivered => "whatsapp.delivered",
            Self::WhatsappRead => "whatsapp.read",
            Self::WhatsappFailed => "whatsapp.failed",
            Self::WhatsappReceived => "whatsapp.received",
        }
    }
}

/// Where and what an endpoint receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointSpec {
    pub url: String,
    /// Sorted, without repeats.
    pub event_types: Vec<WebhookEventType>,
    pub description: String,
}

/// A change to an endpoint: each field given replaces the kept one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointChange {
    pub url: Option<String>,
    pub event_types: Option<Vec<WebhookEventType>>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum WebhookEndpointCommand {
    Register {
        endpoint_id: Uuid,
        organisation_id: OrganisationId,
        spec: EndpointSpec,
        secret: SealedSecret,
        data_key_id: Uuid,
        created_by: Option<Uuid>,
        at: DateTime<Utc>,
    },
    Change {
        organisation_id: OrganisationId,
        change: EndpointChange,
        at: DateTime<Utc>,
    },
    /// A new secret; the current one stays valid until `previous_valid_until`.
    RotateSecret {
        organisation_id: OrganisationId,
        secret: SealedSecret,
        previous_valid_until: DateTime<Utc>,
        at: DateTime<Utc>,
    },
    /// Stops deliveries. `by` is the admin, or `None` for delivery itself.
    Disable {
        organisation_id: OrganisationId,
        reason: String,
        by: Option<Uuid>,
        at: DateTime<Utc>,
    },
    Enable {
        organisation_id: OrganisationId,
        at: DateTime<Utc>,
    },
    Delete {
        organisation_id: OrganisationId,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum WebhookEndpointEvent {
    WebhookEndpointRegistered {
        endpoint_id: Uuid,
        organisation_id: OrganisationId,
        spec: EndpointSpec,
        secret: SealedSecret,
        data_key_id: Uuid,
        created_by: Option<Uuid>,
        at: DateTime<Utc>,
    },
    WebhookEndpointChanged {
        spec: EndpointSpec,
        at: DateTime<Utc>,
    },
    WebhookSecretRotated {
        secret: SealedSecret,
        previous_valid_until: DateTime<Utc>,
        at: DateTime<Utc>,
    },
    WebhookEndpointDisabled {
        reason: String,
        by: Option<Uuid>,
        at: DateTime<Utc>,
    },
    WebhookEndpointEnabled {
        at: DateTime<Utc>,
    },
    WebhookEndpointDeleted {
        at: DateTime<Utc>,
    },
}

impl DomainEvent for WebhookEndpointEvent {
    fn event_type(&self) -> String {
        match self {
            Self::WebhookEndpointRegistered { .. } => "WebhookEndpointRegistered",
            Self::WebhookEndpointChanged { .. } => "WebhookEndpointChanged",
            Self::WebhookSecretRotated { .. } => "WebhookSecretRotated",
            Self::WebhookEndpointDisabled { .. } => "WebhookEndpointDisabled",
            Self::WebhookEndpointEnabled { .. } => "WebhookEndpointEnabled",
            Self::WebhookEndpointDeleted { .. } => "WebhookEndpointDeleted",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

/// One variant per rule an endpoint command can break.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookEndpointError {
    /// 404: no such endpoint in the caller's organisation, or deleted.
    #[error("no such webhook endpoint")]
    NotFound,
    /// 409: the id is taken.
    #[error("the webhook endpoint already exists")]
    AlreadyRegistered,
    /// 422 on `url`.
    #[error("the URL must be an http or https URL without a user name or password, at most {MAX_URL_LEN} characters")]
    InvalidUrl,
    /// 422 on `event_types`.
    #[error("at least one event type is required")]
    NoEventTypes,
    /// 422 on `description`.
    #[error(
        "the description must be at most {MAX_DESCRIPTION_LEN} characters, without control or bidirectional-override characters"
    )]
    InvalidDescription,
    /// 409: already in the state asked for.
    #[error("the webhook endpoint is already disabled")]
    AlreadyDisabled,
    /// 409: already in the state asked for.
    #[error("the webhook endpoint is already enabled")]
    AlreadyEnabled,
}

/// The previous secret while it is still accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousSecret {
    pub secret: SealedSecret,
    pub valid_until: DateTime<Utc>,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookEndpoint {
    pub id: Option<Uuid>,
    pub organisation_id: Option<OrganisationId>,
    pub spec: Option<EndpointSpec>,
    pub secret: Option<SealedSecret>,
    pub previous_secret: Option<PreviousSecret>,
    pub data_key_id: Option<Uuid>,
    pub created_by: Option<Uuid>,
    pub created_at: Option<DateTime<Utc>>,
    /// Why deliveries stopped, while they are stopped.
    pub disabled: Option<Disabled>,
    pub deleted: bool,
}

/// Why and when an endpoint was disabled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disabled {
    pub reason: String,
    pub by: Option<Uuid>,
    pub at: DateTime<Utc>,
}

/// The event types given, sorted and without repeats; at least one.
pub fn event_types(mut types: Vec<WebhookEventType>) -> Result<Vec<WebhookEventType>, WebhookEndpointError> {
    types.sort_unstable();
    types.dedup();
    match types.is_empty() {
        true => Err(WebhookEndpointError::NoEventTypes),
        false => Ok(types),
    }
}

/// A URL as kept: trimmed, of the outbound shape, not too long.
pub fn checked_url(text: String) -> Result<String, WebhookEndpointError> {
    let text = text.trim().to_string();
    if text.len() > MAX_URL_LEN {
        return Err(WebhookEndpointError::InvalidUrl);
    }
    outbound_url::parse(&text).map_err(|_| WebhookEndpointError::InvalidUrl)?;
    Ok(text)
}

fn description(text: String) -> Result<String, WebhookEndpointError> {
    let text = text.trim().to_string();
    match text.chars().count() <= MAX_DESCRIPTION_LEN && is_safe_text(&text) {
        true => Ok(text),
        false => Err(WebhookEndpointError::InvalidDescription),
    }
}

/// A new endpoint's URL, event types and description as kept.
pub fn checked_spec(spec: EndpointSpec) -> Result<EndpointSpec, WebhookEndpointError> {
    Ok(EndpointSpec {
        url: checked_url(spec.url)?,
        event_types: event_types(spec.event_types)?,
        description: description(spec.description)?,
    })
}

/// A reason cut to what is kept, on a character boundary.
fn kept_reason(reason: String) -> String {
    match reason.char_indices().nth(MAX_REASON_LEN) {
        Some((end, _)) => reason[..end].to_string(),
        None => reason,
    }
}

impl WebhookEndpoint {
    /// Whether the endpoint exists, is not deleted and belongs to `organisation_id`.
    pub fn is_in(&self, organisation_id: OrganisationId) -> bool {
        !self.deleted && self.organisation_id == Some(organisation_id)
    }

    /// Whether deliveries to it may be attempted.
    pub fn is_active(&self) -> bool {
        self.spec.is_some() && !self.deleted && self.disabled.is_none()
    }

    /// The secrets a delivery at `now` is signed with: the current one,
    /// and the previous one during its overlap.
    pub fn signing_secrets(&self, now: DateTime<Utc>) -> Vec<&SealedSecret> {
        let previous = self
            .previous_secret
            .as_ref()
            .filter(|p| p.valid_until > now)
            .map(|p| &p.secret);
        self.secret.iter().chain(previous).collect()
    }

    fn existing(&self, organisation_id: OrganisationId) -> Result<&EndpointSpec, WebhookEndpointError> {
        match (&self.spec, self.is_in(organisation_id)) {
            (Some(spec), true) => Ok(spec),
            _ => Err(WebhookEndpointError::NotFound),
        }
    }

    /// The events a command causes, or the rule it breaks.
    pub fn decide(&self, command: WebhookEndpointCommand) -> Result<Vec<WebhookEndpointEvent>, WebhookEndpointError> {
        use WebhookEndpointCommand as C;
        use WebhookEndpointEvent as E;
        match command {
            C::Register {
                endpoint_id,
                organisation_id,
                spec,
                secret,
                data_key_id,
                created_by,
                at,
            } => {
                if self.id.is_some() {
                    return Err(WebhookEndpointError::AlreadyRegistered);
                }
                Ok(vec![E::WebhookEndpointRegistered {
                    endpoint_id,
                    organisation_id,
                    spec: checked_spec(spec)?,
                    secret,
                    data_key_id,
                    created_by,
                    at,
                }])
            }
            C::Change {
                organisation_id,
                change,
                at,
            } => {
                let kept = self.existing(organisation_id)?;
                let spec = EndpointSpec {
                    url: match change.url {
                        Some(new) => checked_url(new)?,
                        None => kept.url.clone(),
                    },
                    event_types: match change.event_types {
                        Some(new) => event_types(new)?,
                        None => kept.event_types.clone(),
                    },
                    description: match change.description {
                        Some(new) => description(new)?,
                        None => kept.description.clone(),
                    },
                };
                match spec == *kept {
                    true => Ok(Vec::new()),
                    false => Ok(vec![E::WebhookEndpointChanged { spec, at }]),
                }
            }
            C::RotateSecret {
                organisation_id,
                secret,
                previous_valid_until,
                at,
            } => {
                self.existing(organisation_id)?;
                Ok(vec![E::WebhookSecretRotated {
                    secret,
                    previous_valid_until,
                    at,
                }])
            }
            C::Disable {
                organisation_id,
                reason,
                by,
                at,
            } => {
                self.existing(organisation_id)?;
                if self.disabled.is_some() {
                    return Err(WebhookEndpointError::AlreadyDisabled);
                }
                Ok(vec![E::WebhookEndpointDisabled {
                    reason: kept_reason(reason),
                    by,
                    at,
                }])
            }
            C::Enable { organisation_id, at } => {
                self.existing(organisation_id)?;
                if self.disabled.is_none() {
                    return Err(WebhookEndpointError::AlreadyEnabled);
                }
                Ok(vec![E::WebhookEndpointEnabled { at }])
            }
            C::Delete { organisation_id, at } => {
                self.existing(organisation_id)?;
                Ok(vec![E::WebhookEndpointDeleted { at }])
            }
        }
    }
}

impl Aggregate for WebhookEndpoint {
    const TYPE: &'static str = "webhook_endpoint";
    type Command = WebhookEndpointCommand;
    type Event = WebhookEndpointEvent;
    type Error = WebhookEndpointError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Result<(), Self::Error> {
        let events = self.decide(command)?;
        crate::write_all(self, sink, events).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        use WebhookEndpointEvent as E;
        match event {
            E::WebhookEndpointRegistered {
                endpoint_id,
                organisation_id,
                spec,
                secret,
                data_key_id,
                created_by,
                at,
            } => {
                self.id = Some(endpoint_id);
                self.organisation_id = Some(organisation_id);
                self.spec = Some(spec);
                self.secret = Some(secret);
                self.data_key_id = Some(data_key_id);
                self.created_by = created_by;
                self.created_at = Some(at);
            }
            E::WebhookEndpointChanged { spec, .. } => self.spec = Some(spec),
            E::WebhookSecretRotated {
                secret,
                previous_valid_until,
                ..
            } => {
                self.previous_secret = self.secret.take().map(|secret| PreviousSecret {
                    secret,
                    valid_until: previous_valid_until,
                });
                self.secret = Some(secret);
            }
            E::WebhookEndpointDisabled { reason, by, at } => self.disabled = Some(Disabled { reason, by, at }),
            E::WebhookEndpointEnabled { .. } => self.disabled = None,
            E::WebhookEndpointDeleted { .. } => self.deleted = true,
        }
    }
}

#[cfg(test)]
mod tests;
