//! What every event carries besides its payload: who, from where, why, when.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use uuid::Uuid;

/// Who caused an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    User {
        id: Uuid,
    },
    ApiKey {
        id: Uuid,
    },
    /// A process of Switchboard itself (a CLI command, a scheduler, a relay).
    System {
        name: String,
    },
    /// A provider's webhook, such as an Exotel status callback.
    ProviderWebhook {
        provider: String,
    },
}

impl Actor {
    /// `kind:id`, the form stored in event metadata and used in filters.
    pub fn to_key(&self) -> String {
        match self {
            Actor::User { id } => format!("user:{id}"),
            Actor::ApiKey { id } => format!("api_key:{id}"),
            Actor::System { name } => format!("system:{name}"),
            Actor::ProviderWebhook { provider } => format!("webhook:{provider}"),
        }
    }

    /// Reads the `kind:id` form back.
    pub fn from_key(key: &str) -> Option<Actor> {
        let (kind, rest) = key.split_once(':')?;
        match kind {
            "user" => Uuid::parse_str(rest).ok().map(|id| Actor::User { id }),
            "api_key" => Uuid::parse_str(rest).ok().map(|id| Actor::ApiKey { id }),
            "system" => Some(Actor::System { name: rest.to_string() }),
            "webhook" => Some(Actor::ProviderWebhook {
                provider: rest.to_string(),
            }),
            _ => None,
        }
    }
}

/// The metadata attached to every event of one command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventMetadata {
    pub organisation_id: Option<Uuid>,
    pub actor: Actor,
    pub request_id: String,
    pub correlation_id: String,
    pub causation_id: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub occurred_at: DateTime<Utc>,
}

const ORGANISATION: &str = "organisation_id";
const ACTOR: &str = "actor";
const REQUEST: &str = "request_id";
const CORRELATION: &str = "correlation_id";
const CAUSATION: &str = "causation_id";
const CLIENT_IP: &str = "client_ip";
const USER_AGENT: &str = "user_agent";
const OCCURRED_AT: &str = "occurred_at";

impl EventMetadata {
    /// Metadata for work a Switchboard process starts on its own.
    pub fn system(name: &str, organisation_id: Option<Uuid>) -> Self {
        let id = Uuid::new_v4().to_string();
        Self {
            organisation_id,
            actor: Actor::System { name: name.to_string() },
            request_id: id.clone(),
            correlation_id: id,
            causation_id: None,
            client_ip: None,
            user_agent: None,
            occurred_at: Utc::now(),
        }
    }

    /// Metadata for a provider's webhook into an organisation.
    pub fn provider_webhook(provider: &str, organisation_id: Uuid) -> Self {
        Self {
            actor: Actor::ProviderWebhook {
                provider: provider.to_string(),
            },
            ..Self::system(provider, Some(organisation_id))
        }
    }

    /// The same metadata re-stamped with the current time, for a retry.
    pub fn restamped(&self) -> Self {
        Self {
            occurred_at: Utc::now(),
            ..self.clone()
        }
    }

    /// The flat map cqrs-es stores beside each event.
    pub fn to_map(&self) -> HashMap<String, String> {
        let mut map = HashMap::new();
        if let Some(org) = self.organisation_id {
            map.insert(ORGANISATION.into(), org.to_string());
        }
        map.insert(ACTOR.into(), self.actor.to_key());
        map.insert(REQUEST.into(), self.request_id.clone());
        map.insert(CORRELATION.into(), self.correlation_id.clone());
        let optional = [
            (CAUSATION, &self.causation_id),
            (CLIENT_IP, &self.client_ip),
            (USER_AGENT, &self.user_agent),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                map.insert(key.into(), value.clone());
            }
        }
        map.insert(
            OCCURRED_AT.into(),
            self.occurred_at.to_rfc3339_opts(SecondsFormat::Micros, true),
        );
        map
    }

    /// Reads a stored map back; `None` if a required key is missing.
    pub fn from_map(map: &HashMap<String, String>) -> Option<Self> {
        Some(Self {
            organisation_id: map.get(ORGANISATION).and_then(|v| Uuid::parse_str(v).ok()),
            actor: Actor::from_key(map.get(ACTOR)?)?,
            request_id: map.get(REQUEST)?.clone(),
            correlation_id: map.get(CORRELATION)?.clone(),
            causation_id: map.get(CAUSATION).cloned(),
            client_ip: map.get(CLIENT_IP).cloned(),
            user_agent: map.get(USER_AGENT).cloned(),
            occurred_at: DateTime::parse_from_rfc3339(map.get(OCCURRED_AT)?)
                .ok()?
                .with_timezone(&Utc),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_survives_the_round_trip_through_the_stored_map() {
        let meta = EventMetadata {
            organisation_id: Some(Uuid::new_v4()),
            actor: Actor::ApiKey { id: Uuid::new_v4() },
            request_id: "r1".into(),
            correlation_id: "c1".into(),
            causation_id: Some("e1".into()),
            client_ip: Some("203.0.113.9".into()),
            user_agent: Some("curl/8".into()),
            occurred_at: DateTime::parse_from_rfc3339("2026-11-21T10:00:00.123456Z")
                .unwrap()
                .with_timezone(&Utc),
        };
        assert_eq!(EventMetadata::from_map(&meta.to_map()), Some(meta));
    }

    #[test]
    fn every_actor_kind_survives_its_key_form() {
        for actor in [
            Actor::User { id: Uuid::new_v4() },
            Actor::ApiKey { id: Uuid::new_v4() },
            Actor::System { name: "cli".into() },
            Actor::ProviderWebhook {
                provider: "exotel".into(),
            },
        ] {
            assert_eq!(Actor::from_key(&actor.to_key()), Some(actor));
        }
    }
}
