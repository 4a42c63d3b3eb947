//! A person who signs in to Switchboard: an admin, a manager or an agent of
//! one organisation.
//!
//! The aggregate id is derived from the e-mail address (see
//! [`user_id_for_email`]), so an address can belong to one user only and a
//! login can find its user without a read model.

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{EmailAddress, OrganisationId, Role};

/// Longest display name accepted.
pub const MAX_DISPLAY_NAME_LEN: usize = 200;

const USER_ID_NAMESPACE: Uuid = Uuid::from_u128(0x5b1c_0a2e_7d41_4e3a_9f10_8c3e_2a9d_0001);

/// The user id that belongs to an e-mail address.
pub fn user_id_for_email(email: &EmailAddress) -> Uuid {
    Uuid::new_v5(&USER_ID_NAMESPACE, email.as_str().as_bytes())
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
        at: DateTime<Utc>,
    },
    ChangeRole {
        organisation_id: OrganisationId,
        acting_user_id: Option<Uuid>,
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
    /// 409: the e-mail address already has a user.
    #[error("a user with this e-mail address already exists")]
    AlreadyRegistered,
    /// 404: no such user in the caller's organisation.
    #[error("no such user")]
    NotFound,
    /// 422: blank or over-long display name.
    #[error("the display name must be 1 to {MAX_DISPLAY_NAME_LEN} characters")]
    InvalidDisplayName,
    /// 422: an admin may not lock themselves out.
    #[error("you cannot deactivate or demote yourself")]
    CannotChangeOwnAccess,
    /// 409: the user is already deactivated.
    #[error("the user is already deactivated")]
    AlreadyDeactivated,
    /// 409: the user is already active.
    #[error("the user is already active")]
    AlreadyActive,
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
}

fn valid_display_name(name: &str) -> Result<String, UserError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_DISPLAY_NAME_LEN {
        return Err(UserError::InvalidDisplayName);
    }
    Ok(name.to_string())
}

impl User {
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

    async fn handle_existing(&mut self, command: UserCommand, sink: &EventSink<Self>) -> Result<(), UserError> {
        let event = match command {
            UserCommand::Register { .. } => return Err(UserError::AlreadyRegistered),
            UserCommand::ChangeRole {
                organisation_id,
                acting_user_id,
                role,
            } => {
                self.ensure_in(organisation_id)?;
                if self.role == Some(role) {
                    return Ok(());
                }
                if role != Role::Admin {
                    self.ensure_not_self(acting_user_id)?;
                }
                UserEvent::UserRoleChanged { role }
            }
            UserCommand::Rename {
                organisation_id,
                display_name,
            } => {
                self.ensure_in(organisation_id)?;
                UserEvent::UserRenamed {
                    display_name: valid_display_name(&display_name)?,
                }
            }
            UserCommand::ChangePassword {
                organisation_id,
                password_hash,
            } => {
                self.ensure_in(organisation_id)?;
                UserEvent::UserPasswordChanged { password_hash }
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
                UserEvent::UserDeactivated
            }
            UserCommand::Reactivate { organisation_id } => {
                self.ensure_in(organisation_id)?;
                if self.active {
                    return Err(UserError::AlreadyActive);
                }
                UserEvent::UserReactivated
            }
        };
        sink.write(event, self).await;
        Ok(())
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
        let UserCommand::Register {
            user_id,
            organisation_id,
            email,
            display_name,
            password_hash,
            role,
            at,
        } = command
        else {
            return match self.id {
                Some(_) => self.handle_existing(command, sink).await,
                None => Err(UserError::NotFound),
            };
        };
        if self.id.is_some() {
            return Err(UserError::AlreadyRegistered);
        }
        let display_name = valid_display_name(&display_name)?;
        let event = UserEvent::UserRegistered {
            user_id,
            organisation_id,
            email,
            display_name,
            password_hash,
            role,
            registered_at: at,
        };
        sink.write(event, self).await;
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
            UserEvent::UserPasswordChanged { password_hash } => self.password_hash = password_hash,
            UserEvent::UserDeactivated => self.active = false,
            UserEvent::UserReactivated => self.active = true,
        }
    }
}

#[cfg(test)]
mod tests;
