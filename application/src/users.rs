//! Changing users: renaming, roles, deactivation, passwords, and checking
//! that a login token still stands.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use domain::user::{User, UserCommand, UserError};
use domain::{OrganisationId, Role};

use crate::accounts::Accounts;
use crate::error::{CommandError, StoreError};
use crate::metadata::EventMetadata;
use crate::passwords::{self, PasswordError};

/// Who is acting: their organisation and role, and the user they act as
/// (the caller, or the creator of the API key calling).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acting {
    pub organisation_id: OrganisationId,
    pub role: Role,
    pub user_id: Option<Uuid>,
}

/// A user as the API shows it.
#[derive(Debug, Clone)]
pub struct UserView {
    pub user: User,
    pub last_login_at: Option<DateTime<Utc>>,
}

/// What a change asks for; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    pub display_name: Option<String>,
    pub role: Option<Role>,
    /// `Some(None)` removes the phone.
    pub phone: Option<Option<String>>,
}

/// Why a user use case failed.
#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    #[error("no such user")]
    NotFound,
    #[error("the current password is wrong")]
    WrongCurrentPassword,
    #[error("change your own password with your current one, at /me/password")]
    OwnPasswordNeedsCurrent,
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Command(#[from] CommandError<UserError>),
}

/// Whether a login token still stands, and with which role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionCheck {
    Valid(Role),
    /// The user is deactivated.
    Deactivated,
    /// A password change or a deactivation since the token was issued ended it.
    Ended,
    /// No such user in the token's organisation.
    Unknown,
}

impl Accounts<'_> {
    /// A user of the caller's organisation, read from its events.
    pub async fn user(&self, organisation_id: OrganisationId, user_id: Uuid) -> Result<UserView, UsersError> {
        let user = self.users.load(&user_id.to_string()).await?.map(|l| l.aggregate);
        let user = user
            .filter(|u| u.organisation_id == Some(organisation_id))
            .ok_or(UsersError::NotFound)?;
        let last_login_at = self.last_login(user_id).await?;
        Ok(UserView { user, last_login_at })
    }

    /// Renames a user, sets their phone, changes their role, or any of these.
    pub async fn change_user(
        &self,
        acting: &Acting,
        user_id: Uuid,
        change: UserChange,
        meta: &EventMetadata,
    ) -> Result<UserView, UsersError> {
        if let Some(display_name) = change.display_name {
            let command = UserCommand::Rename {
                organisation_id: acting.organisation_id,
                display_name,
            };
            self.run(user_id, command, meta).await?;
        }
        if let Some(phone) = change.phone {
            let command = UserCommand::SetPhone {
                organisation_id: acting.organisation_id,
                phone,
            };
            self.run(user_id, command, meta).await?;
        }
        if let Some(role) = change.role {
            let command = UserCommand::ChangeRole {
                organisation_id: acting.organisation_id,
                acting_user_id: acting.user_id,
                acting_role: acting.role,
                role,
            };
            self.run(user_id, command, meta).await?;
        }
        self.user(acting.organisation_id, user_id).await
    }

    /// Deactivates a user (`active` false): their tokens and API keys stop
    /// working at once; or reactivates one: tokens ended by the
    /// deactivation stay ended and revoked keys stay revoked.
    pub async fn set_active(
        &self,
        acting: &Acting,
        user_id: Uuid,
        active: bool,
        meta: &EventMetadata,
    ) -> Result<UserView, UsersError> {
        let organisation_id = acting.organisation_id;
        let acting_user_id = acting.user_id;
        let command = match active {
            true => UserCommand::Reactivate {
                organisation_id,
                acting_user_id,
            },
            false => UserCommand::Deactivate {
                organisation_id,
                acting_user_id,
            },
        };
        self.run(user_id, command, meta).await?;
        self.user(organisation_id, user_id).await
    }

    /// Changes the acting user's own password, given the current one.
    pub async fn change_own_password(
        &self,
        acting: &Acting,
        current: String,
        new: String,
        meta: &EventMetadata,
    ) -> Result<(), UsersError> {
        let user_id = acting.user_id.ok_or(UsersError::NotFound)?;
        let view = self.user(acting.organisation_id, user_id).await?;
        if !passwords::verify(current, view.user.password_hash).await {
            return Err(UsersError::WrongCurrentPassword);
        }
        self.set_password(acting.organisation_id, user_id, new, meta).await
    }

    /// Sets another user's password (an admin's reset).
    pub async fn reset_password(
        &self,
        acting: &Acting,
        user_id: Uuid,
        new: String,
        meta: &EventMetadata,
    ) -> Result<(), UsersError> {
        self.user(acting.organisation_id, user_id).await?;
        if acting.user_id == Some(user_id) {
            return Err(UsersError::OwnPasswordNeedsCurrent);
        }
        self.set_password(acting.organisation_id, user_id, new, meta).await
    }

    async fn set_password(
        &self,
        organisation_id: OrganisationId,
        user_id: Uuid,
        new: String,
        meta: &EventMetadata,
    ) -> Result<(), UsersError> {
        let password_hash = passwords::hash(new).await?;
        let command = UserCommand::ChangePassword {
            organisation_id,
            password_hash,
        };
        self.run(user_id, command, meta).await
    }

    async fn run(&self, user_id: Uuid, command: UserCommand, meta: &EventMetadata) -> Result<(), UsersError> {
        Ok(self.users.execute(&user_id.to_string(), command, meta).await?)
    }

    /// Whether a token issued to a user under `sessions_ended` still stands:
    /// read from the store on every request, so a deactivation, a role
    /// change or a password change counts at once.
    pub async fn check_session(
        &self,
        organisation_id: OrganisationId,
        user_id: Uuid,
        sessions_ended: u32,
    ) -> Result<SessionCheck, StoreError> {
        let user = self.users.load(&user_id.to_string()).await?.map(|l| l.aggregate);
        let Some(user) = user.filter(|u| u.organisation_id == Some(organisation_id)) else {
            return Ok(SessionCheck::Unknown);
        };
        Ok(match (user.active, user.accepts_session(sessions_ended), user.role) {
            (false, _, _) => SessionCheck::Deactivated,
            (true, false, _) => SessionCheck::Ended,
            (true, true, Some(role)) => SessionCheck::Valid(role),
            (true, true, None) => SessionCheck::Unknown,
        })
    }
}
