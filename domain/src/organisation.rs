//! The organisation: the tenant that owns users, keys, integrations and
//! every conversation.

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::OrganisationId;

/// Longest organisation name accepted.
pub const MAX_NAME_LEN: usize = 200;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OrganisationCommand {
    Create {
        organisation_id: OrganisationId,
        name: String,
        at: DateTime<Utc>,
    },
    Rename {
        organisation_id: OrganisationId,
        name: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OrganisationEvent {
    OrganisationCreated {
        organisation_id: OrganisationId,
        name: String,
        created_at: DateTime<Utc>,
    },
    OrganisationRenamed {
        name: String,
    },
}

impl DomainEvent for OrganisationEvent {
    fn event_type(&self) -> String {
        match self {
            Self::OrganisationCreated { .. } => "OrganisationCreated",
            Self::OrganisationRenamed { .. } => "OrganisationRenamed",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

/// One variant per rule an organisation command can break.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrganisationError {
    /// 409: the identifier is taken.
    #[error("the organisation already exists")]
    AlreadyExists,
    /// 404: no such organisation for this caller.
    #[error("no such organisation")]
    NotFound,
    /// 422: blank or over-long name.
    #[error("the name must be 1 to {MAX_NAME_LEN} characters")]
    InvalidName,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Organisation {
    pub id: Option<OrganisationId>,
    pub name: String,
    pub created_at: Option<DateTime<Utc>>,
}

fn valid_name(name: &str) -> Result<String, OrganisationError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_LEN {
        return Err(OrganisationError::InvalidName);
    }
    Ok(name.to_string())
}

impl Organisation {
    fn ensure_owned_by(&self, organisation_id: OrganisationId) -> Result<(), OrganisationError> {
        match self.id {
            Some(id) if id == organisation_id => Ok(()),
            _ => Err(OrganisationError::NotFound),
        }
    }
}

impl Aggregate for Organisation {
    const TYPE: &'static str = "organisation";
    type Command = OrganisationCommand;
    type Event = OrganisationEvent;
    type Error = OrganisationError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        match command {
            OrganisationCommand::Create {
                organisation_id,
                name,
                at,
            } => {
                if self.id.is_some() {
                    return Err(OrganisationError::AlreadyExists);
                }
                let name = valid_name(&name)?;
                let event = OrganisationEvent::OrganisationCreated {
                    organisation_id,
                    name,
                    created_at: at,
                };
                sink.write(event, self).await;
            }
            OrganisationCommand::Rename { organisation_id, name } => {
                self.ensure_owned_by(organisation_id)?;
                let name = valid_name(&name)?;
                if name != self.name {
                    sink.write(OrganisationEvent::OrganisationRenamed { name }, self).await;
                }
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            OrganisationEvent::OrganisationCreated {
                organisation_id,
                name,
                created_at,
            } => {
                self.id = Some(organisation_id);
                self.name = name;
                self.created_at = Some(created_at);
            }
            OrganisationEvent::OrganisationRenamed { name } => self.name = name,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;
    use uuid::Uuid;

    type Given = TestFramework<Organisation>;

    fn created(id: Uuid) -> OrganisationEvent {
        OrganisationEvent::OrganisationCreated {
            organisation_id: id,
            name: "Acme Foods".into(),
            created_at: DateTime::UNIX_EPOCH,
        }
    }

    #[tokio::test]
    async fn it_creates_an_organisation_with_a_trimmed_name() {
        let id = Uuid::new_v4();
        let command = OrganisationCommand::Create {
            organisation_id: id,
            name: " Acme Foods ".into(),
            at: DateTime::UNIX_EPOCH,
        };
        Given::with(())
            .given_no_previous_events()
            .when_async(command)
            .await
            .then_expect_events(vec![created(id)]);
    }

    #[tokio::test]
    async fn it_should_not_create_an_organisation_twice() {
        let id = Uuid::new_v4();
        let command = OrganisationCommand::Create {
            organisation_id: id,
            name: "Other".into(),
            at: DateTime::UNIX_EPOCH,
        };
        Given::with(())
            .given(vec![created(id)])
            .when_async(command)
            .await
            .then_expect_error(OrganisationError::AlreadyExists);
    }

    #[tokio::test]
    async fn it_should_not_accept_a_blank_name() {
        let command = OrganisationCommand::Create {
            organisation_id: Uuid::new_v4(),
            name: "  ".into(),
            at: DateTime::UNIX_EPOCH,
        };
        Given::with(())
            .given_no_previous_events()
            .when_async(command)
            .await
            .then_expect_error(OrganisationError::InvalidName);
    }

    #[tokio::test]
    async fn another_organisation_cannot_rename_it() {
        let id = Uuid::new_v4();
        let command = OrganisationCommand::Rename {
            organisation_id: Uuid::new_v4(),
            name: "Mine".into(),
        };
        Given::with(())
            .given(vec![created(id)])
            .when_async(command)
            .await
            .then_expect_error(OrganisationError::NotFound);
    }

    #[test]
    fn event_type_names_are_pinned() {
        assert_eq!(created(Uuid::nil()).event_type(), "OrganisationCreated");
        assert_eq!(
            OrganisationEvent::OrganisationRenamed { name: String::new() }.event_type(),
            "OrganisationRenamed"
        );
    }
}
