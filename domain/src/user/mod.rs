//! A person who signs in to Switchboard: an admin, a manager or an agent of
//! one organisation.
//!
//! The aggregate id is derived from the organisation and the e-mail address
//! ([`user_id_for`]), so one address may have a user in several
//! organisations. Users registered before that keep the id derived from the
//! address alone ([`legacy_user_id`]). The [`address`] aggregate lists the
//! users of one address, so a login finds them in the event store, never in
//! a lagging read model (ADR 0010).

pub mod address;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{EmailAddress, OrganisationId, Role};

/// Longest display name accepted.
pub const MAX_DISPLAY_NAME_LEN: usize = 200;

const LEGACY_USER_ID_NAMESPACE: Uuid = Uuid::from_u128(0x5b1c_0a2e_7d41_4e3a_9f10_8c3e_2a9d_0001);
const USER_ID_NAMESPACE: Uuid = Uuid::from_u128(0x5b1c_0a2e_7d41_4e3a_9f10_8c3e_2a9d_0002);

/// The id of a user registered before identities were per organisation:
/// derived from the e-mail address alone. Such users still load and log in.
pub fn legacy_user_id(email: &EmailAddress) -> Uuid {
    Uuid::new_v5(&LEGACY_USER_ID_NAMESPACE, email.as_str().as_bytes())
}

/// The id of the user an e-mail address has in an organisation.
pub fn user_id_for(organisation_id: OrganisationId, email: &EmailAddress) -> Uuid {
    let mut name = organisation_id.as_bytes().to_vec();
    name.extend_from_slice(email.as_str().as_bytes());
    Uuid::new_v5(&USER_ID_NAMESPACE, &name)
}

/// Whether a name people will read holds no control character and no
/// character that reorders the text around it (bidirectional overrides,
/// embeddings, isolates and marks).
pub fn is_safe_text(text: &str) -> bool {
    !text.chars().any(|c| c.is_control() || is_bidi_control(c))
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum UserCommand {
    Register {
        user_id: Uuid,
        organisation_id: OrganisationId,
        email: EmailAddress,
        display_name: String,
        password_hash: String,
        role: Role,
        /// The role of whoever registers the user; `None` for Switchboard
        /// itself (the CLI, the sandbox).
        registered_by: Option<Role>,
        at: DateTime<Utc>,
    },
    ChangeRole {
        organisation_id: OrganisationId,
        /// The user acting, or the creator of the API key acting.
        acting_user_id: Option<Uuid>,
        acting_role: Role,
        role: Role,
    },
    Rename {
        organisation_id: OrganisationId,
        display_name: String,
    },
    ChangePassword {
        organisation_id: OrganisationId,
        password_hash: String,
    },
    Deactivate {
        organisation_id: OrganisationId,
        acting_user_id: Option<Uuid>,
    },
    Reactivate {
        organisation_id: OrganisationId,
        acting_user_id: Option<Uuid>,
    },
    /// The user's own phone (E.164 or Exotel's `0`-prefixed form), dialled
    /// first when they place a call; `None` removes it.
    SetPhone {
        organisation_id: OrganisationId,
        phone: Option<String>,
    },
}

impl UserCommand {
    /// Whether this command must find no user yet (true) or an existing one.
    pub fn creates(&self) -> bool {
        matches!(self, UserCommand::Register { .. })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum UserEvent {
    UserRegistered {
        user_id: Uuid,
        organisation_id: OrganisationId,
        email: EmailAddress,
        display_name: String,
        /// An Argon2id PHC string; never a password.
        password_hash: String,
        role: Role,
        registered_at: DateTime<Utc>,
    },
    UserRoleChanged {
        role: Role,
    },
    UserRenamed {
        display_name: String,
    },
    UserPasswordChanged {
        password_hash: String,
    },
    UserDeactivated,
    UserReactivated,
    /// E.164, or `None` once removed.
    UserPhoneSet {
        phone: Option<String>,
    },
}

impl DomainEvent for UserEvent {
    fn event_type(&self) -> String {
        match self {
            Self::UserRegistered { .. } => "UserRegistered",
            Self::UserRoleChanged { .. } => "UserRoleChanged",
            Self::UserRenamed { .. } => "UserRenamed",
            Self::UserPasswordChanged { .. } => "UserPasswordChanged",
            Self::UserDeactivated => "UserDeactivated",
            Self::UserReactivated => "UserReactivated",
            Self::UserPhoneSet { .. } => "UserPhoneSet",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

/// One variant per rule a user command can break.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    /// 409: the e-mail address already has a user in this organisation.
    #[error("a user with this e-mail address already exists")]
    AlreadyRegistered,
    /// 404: no such user in the caller's organisation.
    #[error("no such user")]
    NotFound,
    /// 422: blank, over-long, or holding control or bidirectional characters.
    #[error(
        "the display name must be 1 to {MAX_DISPLAY_NAME_LEN} characters, without control or bidirectional-override characters"
    )]
    InvalidDisplayName,
    /// 422: an address mail cannot be sent to (the send route's rule).
    #[error("the e-mail address must be plain ASCII, as the send route requires")]
    InvalidEmail,
    /// 422: nobody deactivates, reactivates or changes the role of themselves
    /// (nor does an API key of theirs).
    #[error("you cannot change your own access")]
    CannotChangeOwnAccess,
    /// 403: nobody gives a role above their own.
    #[error("you cannot give a role above your own")]
    RoleAboveYours,
    /// 409: the user is already deactivated.
    #[error("the user is already deactivated")]
    AlreadyDeactivated,
    /// 409: the user is already active.
    #[error("the user is already active")]
    AlreadyActive,
    /// 422: not a phone number.
    #[error("the phone must be a phone number: +91XXXXXXXXXX or 0XXXXXXXXXX")]
    InvalidPhone,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: Option<Uuid>,
    pub organisation_id: Option<OrganisationId>,
    pub email: Option<EmailAddress>,
    pub display_name: String,
    pub password_hash: String,
    pub role: Option<Role>,
    pub active: bool,
    pub registered_at: Option<DateTime<Utc>>,
    /// How many times every login token of the user was ended (a password
    /// change or a deactivation); a token carries the count it was issued
    /// under and is refused once it differs.
    #[serde(default)]
    pub sessions_ended: u32,
    /// The user's own phone, E.164.
    #[serde(default)]
    pub phone: Option<String>,
}

fn valid_display_name(name: &str) -> Result<String, UserError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_DISPLAY_NAME_LEN || !is_safe_text(name) {
        return Err(UserError::InvalidDisplayName);
    }
    Ok(name.to_string())
}

fn ensure_may_give(giver: Option<Role>, role: Role) -> Result<(), UserError> {
    match giver {
        Some(giver) if !giver.includes(role) => Err(UserError::RoleAboveYours),
        _ => Ok(()),
    }
}

impl User {
    /// Whether a login token issued under `sessions_ended` still stands.
    pub fn accepts_session(&self, sessions_ended: u32) -> bool {
        self.active && self.sessions_ended == sessions_ended
    }

    fn ensure_in(&self, organisation_id: OrganisationId) -> Result<(), UserError> {
        match self.organisation_id {
            Some(id) if id == organisation_id => Ok(()),
            _ => Err(UserError::NotFound),
        }
    }

    fn ensure_not_self(&self, acting_user_id: Option<Uuid>) -> Result<(), UserError> {
        if acting_user_id.is_some() && acting_user_id == self.id {
            return Err(UserError::CannotChangeOwnAccess);
        }
        Ok(())
    }

    /// The events a command causes, or the rule it breaks.
    pub fn decide(&self, command: UserCommand) -> Result<Vec<UserEvent>, UserError> {
        if self.id.is_none() != command.creates() {
            return Err(match self.id {
                Some(_) => UserError::AlreadyRegistered,
                None => UserError::NotFound,
            });
        }
        match command {
            UserCommand::Register {
                user_id,
                organisation_id,
                email,
                display_name,
                password_hash,
                role,
                registered_by,
                at,
            } => {
                ensure_may_give(registered_by, role)?;
                if !email.is_sendable() {
                    return Err(UserError::InvalidEmail);
                }
                Ok(vec![UserEvent::UserRegistered {
                    user_id,
                    organisation_id,
                    email,
                    display_name: valid_display_name(&display_name)?,
                    password_hash,
                    role,
                    registered_at: at,
                }])
            }
            UserCommand::ChangeRole {
                organisation_id,
                acting_user_id,
                acting_role,
                role,
            } => self.change_role(organisation_id, acting_user_id, acting_role, role),
            UserCommand::Rename {
                organisation_id,
                display_name,
            } => {
                self.ensure_in(organisation_id)?;
                let display_name = valid_display_name(&display_name)?;
                Ok(vec![UserEvent::UserRenamed { display_name }])
            }
            UserCommand::ChangePassword {
                organisation_id,
                password_hash,
            } => {
                self.ensure_in(organisation_id)?;
                Ok(vec![UserEvent::UserPasswordChanged { password_hash }])
            }
            UserCommand::Deactivate {
                organisation_id,
                acting_user_id,
            } => {
                self.ensure_in(organisation_id)?;
                self.ensure_not_self(acting_user_id)?;
                if !self.active {
                    return Err(UserError::AlreadyDeactivated);
                }
                Ok(vec![UserEvent::UserDeactivated])
            }
            UserCommand::Reactivate {
                organisation_id,
                acting_user_id,
            } => {
                self.ensure_in(organisation_id)?;
                self.ensure_not_self(acting_user_id)?;
                if self.active {
                    return Err(UserError::AlreadyActive);
                }
                Ok(vec![UserEvent::UserReactivated])
            }
            UserCommand::SetPhone { organisation_id, phone } => {
                self.ensure_in(organisation_id)?;
                let phone = phone
                    .map(|p| crate::integration::settings::phone_number("phone", &p))
                    .transpose()
                    .map_err(|_| UserError::InvalidPhone)?;
                match phone == self.phone {
                    true => Ok(Vec::new()),
                    false => Ok(vec![UserEvent::UserPhoneSet { phone }]),
                }
            }
        }
    }

    fn change_role(
        &self,
        organisation_id: OrganisationId,
        acting_user_id: Option<Uuid>,
        acting_role: Role,
        role: Role,
    ) -> Result<Vec<UserEvent>, UserError> {
        self.ensure_in(organisation_id)?;
        if self.role == Some(role) {
            return Ok(vec![]);
        }
        self.ensure_not_self(acting_user_id)?;
        ensure_may_give(Some(acting_role), role)?;
        Ok(vec![UserEvent::UserRoleChanged { role }])
    }
}

impl Aggregate for User {
    const TYPE: &'static str = "user";
    type Command = UserCommand;
    type Event = UserEvent;
    type Error = UserError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let events = self.decide(command)?;
        crate::write_all(self, sink, events).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            UserEvent::UserRegistered {
                user_id,
                organisation_id,
                email,
                display_name,
                password_hash,
                role,
                registered_at,
            } => {
                self.id = Some(user_id);
                self.organisation_id = Some(organisation_id);
                self.email = Some(email);
                self.display_name = display_name;
                self.password_hash = password_hash;
                self.role = Some(role);
                self.active = true;
                self.registered_at = Some(registered_at);
            }
            UserEvent::UserRoleChanged { role } => self.role = Some(role),
            UserEvent::UserRenamed { display_name } => self.display_name = display_name,
            UserEvent::UserPasswordChanged { password_hash } => {
                self.password_hash = password_hash;
                self.sessions_ended += 1;
            }
            UserEvent::UserDeactivated => {
                self.active = false;
                self.sessions_ended += 1;
            }
            UserEvent::UserReactivated => self.active = true,
            UserEvent::UserPhoneSet { phone } => self.phone = phone,
        }
    }
}

#[cfg(test)]
mod tests;
