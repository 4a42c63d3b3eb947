//! Adding, changing, removing and opening e-mail accounts. Passwords are
//! sealed under a data key of the account's own, like integration secrets,
//! and are only ever opened into a [`MailAccess`] for the mail clients.

use chrono::Utc;
use std::fmt;
use uuid::Uuid;
use zeroize::Zeroizing;

use domain::OrganisationId;
use domain::email_account::{
    EmailAccount, EmailAccountCommand, EmailAccountError, MailSide, MailboxInput, MailboxSettings, SealedPasswords,
};
use domain::integration::settings::SettingsError;

use crate::cipher::{CipherError, CredentialCipher, DataKeyStore, WrappedKey};
use crate::error::{CommandError, StoreError};
use crate::metadata::EventMetadata;
use crate::store::AggregateStore;

const SMTP_PASSWORD: &str = "smtp_password";
const IMAP_PASSWORD: &str = "imap_password";

/// An account's settings with its passwords opened: what the SMTP and IMAP
/// clients need, and nothing that may be logged.
#[derive(Clone)]
pub struct MailAccess {
    pub account_id: Uuid,
    pub organisation_id: OrganisationId,
    pub settings: MailboxSettings,
    pub smtp_password: Zeroizing<String>,
    pub imap_password: Zeroizing<String>,
}

impl fmt::Debug for MailAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailAccess")
            .field("account_id", &self.account_id)
            .field("address", &self.settings.address)
            .finish_non_exhaustive()
    }
}

/// Why an e-mail account use case failed.
#[derive(Debug, thiserror::Error)]
pub enum EmailAccountsError {
    #[error(transparent)]
    Invalid(#[from] SettingsError),
    #[error(transparent)]
    Cipher(#[from] CipherError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Command(#[from] CommandError<EmailAccountError>),
}

/// The associated data binding an account's key and passwords to it.
pub(crate) fn binding(account_id: Uuid) -> String {
    format!("email_account:{account_id}")
}

fn password(field: &str, value: Option<String>) -> Result<Option<Zeroizing<String>>, SettingsError> {
    match value {
        None => Ok(None),
        Some(p) if !p.is_empty() && p.len() <= 1024 => Ok(Some(Zeroizing::new(p))),
        Some(_) => Err(SettingsError {
            field: field.into(),
            reason: "must be 1 to 1024 characters".into(),
        }),
    }
}

/// A request body read into settings and passwords; on create both
/// passwords are required.
pub struct AccountInput {
    pub input: MailboxInput,
    pub smtp_password: Option<Zeroizing<String>>,
    pub imap_password: Option<Zeroizing<String>>,
}

impl AccountInput {
    pub fn new(mut input: MailboxInput) -> Result<Self, SettingsError> {
        let smtp_password = password(SMTP_PASSWORD, input.smtp_password.take())?;
        let imap_password = password(IMAP_PASSWORD, input.imap_password.take())?;
        Ok(Self {
            input,
            smtp_password,
            imap_password,
        })
    }

    /// Settings and both passwords of an account not yet saved (a test, or a create).
    pub fn into_access(self, organisation_id: OrganisationId) -> Result<MailAccess, SettingsError> {
        let missing = |field: &str| SettingsError {
            field: field.into(),
            reason: "is required".into(),
        };
        Ok(MailAccess {
            account_id: Uuid::new_v4(),
            organisation_id,
            settings: self.input.create()?,
            smtp_password: self.smtp_password.ok_or_else(|| missing(SMTP_PASSWORD))?,
            imap_password: self.imap_password.ok_or_else(|| missing(IMAP_PASSWORD))?,
        })
    }
}

/// The stores and cipher the e-mail account use cases need.
pub struct EmailAccounts<'a> {
    pub store: &'a dyn AggregateStore<EmailAccount>,
    pub keys: &'a dyn DataKeyStore,
    pub cipher: &'a dyn CredentialCipher,
}

impl EmailAccounts<'_> {
    fn seal(&self, access: &MailAccess) -> Result<(WrappedKey, SealedPasswords), CipherError> {
        let binding = binding(access.account_id);
        let key = self.cipher.new_data_key(Uuid::new_v4(), access.account_id, &binding)?;
        let secrets = vec![
            self.cipher.seal(&key, &binding, SMTP_PASSWORD, &access.smtp_password)?,
            self.cipher.seal(&key, &binding, IMAP_PASSWORD, &access.imap_password)?,
        ];
        let passwords = SealedPasswords {
            secrets,
            data_key_id: key.data_key_id,
            master_key_id: key.master_key_id.clone(),
        };
        Ok((key, passwords))
    }

    /// Saves a new account; its id is returned.
    pub async fn add(
        &self,
        access: MailAccess,
        added_by: Option<Uuid>,
        meta: &EventMetadata,
    ) -> Result<Uuid, EmailAccountsError> {
        let (key, passwords) = self.seal(&access)?;
        self.keys.put(&key).await?;
        let command = EmailAccountCommand::Add {
            account_id: access.account_id,
            organisation_id: access.organisation_id,
            settings: Box::new(access.settings),
            passwords,
            added_by,
            at: Utc::now(),
        };
        self.store
            .execute(&access.account_id.to_string(), command, meta)
            .await?;
        Ok(access.account_id)
    }

    /// The live account of the organisation, or `NotFound`.
    pub async fn live(
        &self,
        organisation_id: OrganisationId,
        account_id: Uuid,
    ) -> Result<EmailAccount, EmailAccountsError> {
        let loaded = self.store.load(&account_id.to_string()).await?.map(|l| l.aggregate);
        loaded
            .filter(|a| a.is_live_in(organisation_id))
            .ok_or(EmailAccountsError::Command(CommandError::Rejected(
                EmailAccountError::NotFound,
            )))
    }

    /// Changes what the input names; new passwords are sealed under a new
    /// data key and the old key is destroyed.
    pub async fn update(
        &self,
        organisation_id: OrganisationId,
        account_id: Uuid,
        input: AccountInput,
        meta: &EventMetadata,
    ) -> Result<(), EmailAccountsError> {
        let mut access = self.open(organisation_id, account_id).await?;
        access.settings = input.input.update(&access.settings)?;
        let new_passwords = input.smtp_password.is_some() || input.imap_password.is_some();
        access.smtp_password = input.smtp_password.unwrap_or(access.smtp_password);
        access.imap_password = input.imap_password.unwrap_or(access.imap_password);
        let sealed = match new_passwords {
            true => Some(self.seal(&access)?),
            false => None,
        };
        if let Some((key, _)) = &sealed {
            self.keys.put(key).await?;
        }
        let command = EmailAccountCommand::Update {
            organisation_id,
            settings: Box::new(access.settings),
            passwords: sealed.as_ref().map(|(_, p)| p.clone()),
            at: Utc::now(),
        };
        self.store.execute(&account_id.to_string(), command, meta).await?;
        if let Some((key, _)) = sealed {
            self.keys.destroy_for(account_id, Some(key.data_key_id)).await?;
        }
        Ok(())
    }

    /// Removes the account and shreds its passwords.
    pub async fn remove(
        &self,
        organisation_id: OrganisationId,
        account_id: Uuid,
        meta: &EventMetadata,
    ) -> Result<(), EmailAccountsError> {
        let command = EmailAccountCommand::Remove {
            organisation_id,
            at: Utc::now(),
        };
        self.store.execute(&account_id.to_string(), command, meta).await?;
        self.keys.destroy_for(account_id, None).await?;
        Ok(())
    }

    /// The account with its passwords opened.
    pub async fn open(
        &self,
        organisation_id: OrganisationId,
        account_id: Uuid,
    ) -> Result<MailAccess, EmailAccountsError> {
        let account = self.live(organisation_id, account_id).await?;
        let (Some(settings), Some(passwords)) = (account.settings, account.passwords) else {
            return Err(EmailAccountsError::Command(CommandError::Rejected(
                EmailAccountError::NotFound,
            )));
        };
        let key = self
            .keys
            .get(passwords.data_key_id)
            .await?
            .ok_or(CipherError::DataKeyDestroyed)?;
        let opened = |field: &str| -> Result<Zeroizing<String>, CipherError> {
            let sealed = passwords.secrets.iter().find(|s| s.field == field);
            let sealed = sealed.ok_or(CipherError::DataKeyDestroyed)?;
            self.cipher.open(&key, &binding(account_id), sealed)
        };
        Ok(MailAccess {
            account_id,
            organisation_id,
            settings: *settings,
            smtp_password: opened(SMTP_PASSWORD)?,
            imap_password: opened(IMAP_PASSWORD)?,
        })
    }

    /// Records a login failure (the account needs attention after repeated ones).
    pub async fn record_login(
        &self,
        account_id: Uuid,
        side: MailSide,
        outcome: Result<(), String>,
        meta: &EventMetadata,
    ) -> Result<(), EmailAccountsError> {
        let at = Utc::now();
        let command = match outcome {
            Ok(()) => EmailAccountCommand::RecordLoginSuccess { side, at },
            Err(error) => EmailAccountCommand::RecordLoginFailure { side, error, at },
        };
        Ok(self.store.execute(&account_id.to_string(), command, meta).await?)
    }
}
