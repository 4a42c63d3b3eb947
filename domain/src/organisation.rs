//! The organisation: the tenant that owns users, keys, integrations and
//! every conversation.

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::OrganisationId;
pub use crate::auto_reply::Holiday;

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
    /// Replaces the days the business is closed; the same list again changes nothing.
    SetHolidays {
        organisation_id: OrganisationId,
        holidays: Vec<Holiday>,
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
    HolidaysSet {
        holidays: Vec<Holiday>,
    },
}

impl DomainEvent for OrganisationEvent {
    fn event_type(&self) -> String {
        match self {
            Self::OrganisationCreated { .. } => "OrganisationCreated",
            Self::OrganisationRenamed { .. } => "OrganisationRenamed",
            Self::HolidaysSet { .. } => "HolidaysSet",
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
    /// 422: blank, over-long, or holding control or bidirectional characters.
    #[error("the name must be 1 to {MAX_NAME_LEN} characters, without control or bidirectional-override characters")]
    InvalidName,
    /// 422 on `holidays`: too many, a date twice, or a name blank or too long.
    #[error("at most {MAX_HOLIDAYS} holidays, each date once, each named in 1 to {MAX_HOLIDAY_NAME_LEN} characters")]
    InvalidHolidays,
}

/// Most holidays an organisation keeps.
pub const MAX_HOLIDAYS: usize = 366;
/// Longest holiday name.
pub const MAX_HOLIDAY_NAME_LEN: usize = 100;

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Organisation {
    pub id: Option<OrganisationId>,
    pub name: String,
    pub created_at: Option<DateTime<Utc>>,
    /// The days the business is closed, by date.
    #[serde(default)]
    pub holidays: Vec<Holiday>,
}

/// The holidays sorted by date with their names trimmed, or the rule broken.
fn valid_holidays(holidays: Vec<Holiday>) -> Result<Vec<Holiday>, OrganisationError> {
    if holidays.len() > MAX_HOLIDAYS {
        return Err(OrganisationError::InvalidHolidays);
    }
    let mut kept = Vec::with_capacity(holidays.len());
    for holiday in holidays {
        let name = holiday.name.trim().to_string();
        let fits = (1..=MAX_HOLIDAY_NAME_LEN).contains(&name.chars().count()) && crate::user::is_safe_text(&name);
        if !fits {
            return Err(OrganisationError::InvalidHolidays);
        }
        kept.push(Holiday { name, ..holiday });
    }
    kept.sort_by_key(|h| h.date);
    if kept.windows(2).any(|w| w[0].date == w[1].date) {
        return Err(OrganisationError::InvalidHolidays);
    }
    Ok(kept)
}

fn valid_name(name: &str) -> Result<String, OrganisationError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_LEN || !crate::user::is_safe_text(name) {
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

    /// The events a command causes, or the rule it breaks.
    pub fn decide(&self, command: OrganisationCommand) -> Result<Vec<OrganisationEvent>, OrganisationError> {
        match command {
            OrganisationCommand::Create {
                organisation_id,
                name,
                at,
            } => {
                if self.id.is_some() {
                    return Err(OrganisationError::AlreadyExists);
                }
                Ok(vec![OrganisationEvent::OrganisationCreated {
                    organisation_id,
                    name: valid_name(&name)?,
                    created_at: at,
                }])
            }
            OrganisationCommand::Rename { organisation_id, name } => {
                self.ensure_owned_by(organisation_id)?;
                let name = valid_name(&name)?;
                if name == self.name {
                    return Ok(vec![]);
                }
                Ok(vec![OrganisationEvent::OrganisationRenamed { name }])
            }
            OrganisationCommand::SetHolidays {
                organisation_id,
                holidays,
            } => {
                self.ensure_owned_by(organisation_id)?;
                let holidays = valid_holidays(holidays)?;
                if holidays == self.holidays {
                    return Ok(vec![]);
                }
                Ok(vec![OrganisationEvent::HolidaysSet { holidays }])
            }
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
        let events = self.decide(command)?;
        crate::write_all(self, sink, events).await;
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
            OrganisationEvent::HolidaysSet { holidays } => self.holidays = holidays,
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

    fn rename(id: Uuid, name: &str) -> OrganisationCommand {
        OrganisationCommand::Rename {
            organisation_id: id,
            name: name.into(),
        }
    }

    #[tokio::test]
    async fn it_renames_an_organisation_with_a_trimmed_name() {
        let id = Uuid::new_v4();
        Given::with(())
            .given(vec![created(id)])
            .when_async(rename(id, " Acme Fresh "))
            .await
            .then_expect_events(vec![OrganisationEvent::OrganisationRenamed {
                name: "Acme Fresh".into(),
            }]);
    }

    #[tokio::test]
    async fn renaming_to_the_same_name_records_nothing() {
        let id = Uuid::new_v4();
        Given::with(())
            .given(vec![created(id)])
            .when_async(rename(id, "Acme Foods "))
            .await
            .then_expect_events(vec![]);
    }

    #[tokio::test]
    async fn a_name_must_be_plain_text_within_the_limit() {
        let id = Uuid::new_v4();
        let long = "a".repeat(MAX_NAME_LEN + 1);
        for name in [
            long.as_str(),
            "Acme\u{0}",
            "Acme \u{202E}sdooF",
            "Acme\u{2066}",
            "Acme\nFoods",
            " ",
        ] {
            Given::with(())
                .given(vec![created(id)])
                .when_async(rename(id, name))
                .await
                .then_expect_error(OrganisationError::InvalidName);
        }
        let longest = "a".repeat(MAX_NAME_LEN);
        assert_eq!(
            Organisation {
                id: Some(id),
                ..Organisation::default()
            }
            .decide(rename(id, &longest))
            .map(|events| events.len()),
            Ok(1)
        );
    }

    #[test]
    fn applying_the_events_gives_the_current_name() {
        let id = Uuid::new_v4();
        let mut organisation = Organisation::default();
        organisation.apply(created(id));
        assert_eq!(organisation.id, Some(id));
        assert_eq!(organisation.created_at, Some(DateTime::UNIX_EPOCH));
        organisation.apply(OrganisationEvent::OrganisationRenamed { name: "New".into() });
        assert_eq!(organisation.name, "New");
    }

    #[test]
    fn event_types_and_versions_are_pinned() {
        let renamed = OrganisationEvent::OrganisationRenamed { name: String::new() };
        assert_eq!(created(Uuid::nil()).event_type(), "OrganisationCreated");
        assert_eq!(renamed.event_type(), "OrganisationRenamed");
        assert_eq!(created(Uuid::nil()).event_version(), "1.0");
        assert_eq!(renamed.event_version(), "1.0");
    }

    fn holiday(date: &str, name: &str) -> Holiday {
        Holiday {
            date: date.parse().unwrap(),
            name: name.into(),
        }
    }

    fn set(id: Uuid, holidays: Vec<Holiday>) -> OrganisationCommand {
        OrganisationCommand::SetHolidays {
            organisation_id: id,
            holidays,
        }
    }

    #[tokio::test]
    async fn holidays_are_kept_by_date_with_their_names_trimmed() {
        let id = Uuid::new_v4();
        let given = vec![holiday("2026-12-25", " Christmas "), holiday("2026-10-20", "Diwali")];
        let kept = vec![holiday("2026-10-20", "Diwali"), holiday("2026-12-25", "Christmas")];
        Given::with(())
            .given(vec![created(id)])
            .when_async(set(id, given))
            .await
            .then_expect_events(vec![OrganisationEvent::HolidaysSet { holidays: kept.clone() }]);
        let mut organisation = Organisation::default();
        organisation.apply(created(id));
        organisation.apply(OrganisationEvent::HolidaysSet { holidays: kept.clone() });
        assert_eq!(organisation.holidays, kept);
        assert_eq!(
            organisation.decide(set(id, kept.clone())),
            Ok(vec![]),
            "the same list again changes nothing"
        );
        assert_eq!(
            organisation.decide(set(Uuid::new_v4(), kept)),
            Err(OrganisationError::NotFound)
        );
    }

    #[tokio::test]
    async fn holidays_with_a_date_twice_a_blank_name_or_too_many_are_refused() {
        let id = Uuid::new_v4();
        let mut organisation = Organisation::default();
        organisation.apply(created(id));
        let twice = vec![holiday("2026-12-25", "Christmas"), holiday("2026-12-25", "Again")];
        let blank = vec![holiday("2026-12-25", " ")];
        let long = vec![holiday("2026-12-25", &"x".repeat(101))];
        let first = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let many: Vec<Holiday> = (0..367)
            .map(|d| Holiday {
                date: first + chrono::Duration::days(d),
                name: "Day".into(),
            })
            .collect();
        for holidays in [twice, blank, long, many] {
            assert_eq!(
                organisation.decide(set(id, holidays)),
                Err(OrganisationError::InvalidHolidays)
            );
        }
        let most: Vec<Holiday> = (0..366)
            .map(|d| Holiday {
                date: first + chrono::Duration::days(d),
                name: "x".repeat(100),
            })
            .collect();
        assert_eq!(organisation.decide(set(id, most)).map(|e| e.len()), Ok(1));
    }
}
