//! An organisation's e-mail account: where it sends (SMTP) and receives
//! (IMAP), its signatures and polling, its sealed passwords, and whether
//! repeated login failures need someone's attention.

pub mod settings;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::OrganisationId;
use crate::integration::SealedSecret;
pub use settings::{MailboxInput, MailboxSettings, Server};

/// Consecutive login failures after which the account needs attention.
pub const ATTENTION_AFTER_FAILURES: u32 = 3;

/// Which side of the account a login failure happened on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailSide {
    Smtp,
    Imap,
}

/// Sealed passwords and the data key they are sealed under.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SealedPasswords {
    pub secrets: Vec<SealedSecret>,
    pub data_key_id: Uuid,
    pub master_key_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum EmailAccountCommand {
    Add {
        account_id: Uuid,
        organisation_id: OrganisationId,
        settings: Box<MailboxSettings>,
        passwords: SealedPasswords,
        added_by: Option<Uuid>,
        at: DateTime<Utc>,
    },
    Update {
        organisation_id: OrganisationId,
        settings: Box<MailboxSettings>,
        /// New passwords, when either changed.
        passwords: Option<SealedPasswords>,
        at: DateTime<Utc>,
    },
    Remove {
        organisation_id: OrganisationId,
        at: DateTime<Utc>,
    },
    RecordLoginFailure {
        side: MailSide,
        error: String,
        at: DateTime<Utc>,
    },
    RecordLoginSuccess {
        side: MailSide,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum EmailAccountEvent {
    EmailAccountAdded {
        account_id: Uuid,
        organisation_id: OrganisationId,
        settings: Box<MailboxSettings>,
        passwords: SealedPasswords,
        added_by: Option<Uuid>,
        at: DateTime<Utc>,
    },
    EmailAccountUpdated {
        settings: Box<MailboxSettings>,
        passwords: Option<SealedPasswords>,
        at: DateTime<Utc>,
    },
    EmailAccountRemoved {
        at: DateTime<Utc>,
    },
    MailLoginFailed {
        side: MailSide,
        error: String,
        consecutive: u32,
        needs_attention: bool,
        at: DateTime<Utc>,
    },
    MailLoginRecovered {
        side: MailSide,
        at: DateTime<Utc>,
    },
}

impl DomainEvent for EmailAccountEvent {
    fn event_type(&self) -> String {
        match self {
            Self::EmailAccountAdded { .. } => "EmailAccountAdded",
            Self::EmailAccountUpdated { .. } => "EmailAccountUpdated",
            Self::EmailAccountRemoved { .. } => "EmailAccountRemoved",
            Self::MailLoginFailed { .. } => "MailLoginFailed",
            Self::MailLoginRecovered { .. } => "MailLoginRecovered",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

/// One variant per rule an e-mail account command can break.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailAccountError {
    /// 404: no such account in this organisation (or it was removed).
    #[error("no such e-mail account")]
    NotFound,
    /// 409: the account id is taken.
    #[error("the e-mail account exists already")]
    AlreadyExists,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmailAccount {
    pub id: Option<Uuid>,
    pub organisation_id: Option<OrganisationId>,
    pub settings: Option<Box<MailboxSettings>>,
    pub passwords: Option<SealedPasswords>,
    pub removed: bool,
    pub consecutive_failures: u32,
    pub needs_attention: bool,
    pub last_error: Option<String>,
    pub added_at: Option<DateTime<Utc>>,
}

impl EmailAccount {
    /// Whether the account exists, is not removed and belongs to `organisation_id`.
    pub fn is_live_in(&self, organisation_id: OrganisationId) -> bool {
        self.organisation_id == Some(organisation_id) && !self.removed && self.settings.is_some()
    }

    fn live(&self, organisation_id: OrganisationId) -> Result<(), EmailAccountError> {
        match self.is_live_in(organisation_id) {
            true => Ok(()),
            false => Err(EmailAccountError::NotFound),
        }
    }

    fn decide(&self, command: EmailAccountCommand) -> Result<Vec<EmailAccountEvent>, EmailAccountError> {
        use EmailAccountCommand as C;
        match command {
            C::Add {
                account_id,
                organisation_id,
                settings,
                passwords,
                added_by,
                at,
            } => self.add(account_id, organisation_id, settings, passwords, added_by, at),
            C::Update {
                organisation_id,
                settings,
                passwords,
                at,
            } => self.update(organisation_id, settings, passwords, at),
            C::Remove { organisation_id, at } => self.remove(organisation_id, at),
            C::RecordLoginFailure { side, error, at } => Ok(self.login_failed(side, error, at)),
            C::RecordLoginSuccess { side, at } => Ok(self.login_succeeded(side, at)),
        }
    }

    /// A new account; the id must be free.
    fn add(
        &self,
        account_id: Uuid,
        organisation_id: OrganisationId,
        settings: Box<MailboxSettings>,
        passwords: SealedPasswords,
        added_by: Option<Uuid>,
        at: DateTime<Utc>,
    ) -> Result<Vec<EmailAccountEvent>, EmailAccountError> {
        if self.id.is_some() {
            return Err(EmailAccountError::AlreadyExists);
        }
        Ok(vec![EmailAccountEvent::EmailAccountAdded {
            account_id,
            organisation_id,
            settings,
            passwords,
            added_by,
            at,
        }])
    }

    /// New settings or passwords of a live account; the same again changes nothing.
    fn update(
        &self,
        organisation_id: OrganisationId,
        settings: Box<MailboxSettings>,
        passwords: Option<SealedPasswords>,
        at: DateTime<Utc>,
    ) -> Result<Vec<EmailAccountEvent>, EmailAccountError> {
        self.live(organisation_id)?;
        if self.settings.as_ref() == Some(&settings) && passwords.is_none() {
            return Ok(Vec::new());
        }
        Ok(vec![EmailAccountEvent::EmailAccountUpdated {
            settings,
            passwords,
            at,
        }])
    }

    fn remove(
        &self,
        organisation_id: OrganisationId,
        at: DateTime<Utc>,
    ) -> Result<Vec<EmailAccountEvent>, EmailAccountError> {
        self.live(organisation_id)?;
        Ok(vec![EmailAccountEvent::EmailAccountRemoved { at }])
    }

    /// One more failure in a row; the account needs attention from the
    /// [`ATTENTION_AFTER_FAILURES`]th on. Nothing for an account gone.
    fn login_failed(&self, side: MailSide, error: String, at: DateTime<Utc>) -> Vec<EmailAccountEvent> {
        if self.removed || self.id.is_none() {
            return Vec::new();
        }
        let consecutive = self.consecutive_failures + 1;
        vec![EmailAccountEvent::MailLoginFailed {
            side,
            error,
            consecutive,
            needs_attention: consecutive >= ATTENTION_AFTER_FAILURES,
            at,
        }]
    }

    /// A success after failures recovers the account; otherwise nothing.
    fn login_succeeded(&self, side: MailSide, at: DateTime<Utc>) -> Vec<EmailAccountEvent> {
        match self.consecutive_failures > 0 && !self.removed {
            true => vec![EmailAccountEvent::MailLoginRecovered { side, at }],
            false => Vec::new(),
        }
    }
}

impl Aggregate for EmailAccount {
    const TYPE: &'static str = "email_account";
    type Command = EmailAccountCommand;
    type Event = EmailAccountEvent;
    type Error = EmailAccountError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Result<(), Self::Error> {
        crate::write_all(self, sink, self.decide(command)?).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            EmailAccountEvent::EmailAccountAdded {
                account_id,
                organisation_id,
                settings,
                passwords,
                at,
                ..
            } => {
                self.id = Some(account_id);
                self.organisation_id = Some(organisation_id);
                self.settings = Some(settings);
                self.passwords = Some(passwords);
                self.added_at = Some(at);
            }
            EmailAccountEvent::EmailAccountUpdated {
                settings, passwords, ..
            } => {
                self.settings = Some(settings);
                if let Some(passwords) = passwords {
                    self.passwords = Some(passwords);
                    self.consecutive_failures = 0;
                    self.needs_attention = false;
                }
            }
            EmailAccountEvent::EmailAccountRemoved { .. } => {
                self.removed = true;
                self.passwords = None;
            }
            EmailAccountEvent::MailLoginFailed {
                error,
                consecutive,
                needs_attention,
                ..
            } => {
                self.consecutive_failures = consecutive;
                self.needs_attention = needs_attention;
                self.last_error = Some(error);
            }
            EmailAccountEvent::MailLoginRecovered { .. } => {
                self.consecutive_failures = 0;
                self.needs_attention = false;
                self.last_error = None;
            }
        }
    }
}

#[cfg(test)]
mod tests;
