//! The send use case, step by step: permission, checks, the recorded
//! intent, then one attempt that claims the intent just before `DATA`.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use domain::outbound_email::{
    Content, OutboundEmail, OutboundEmailCommand, OutboundEmailError, OutboundMessage, SendIntent, SendStatus,
    SmtpFailure, SmtpStage, draft,
};
use domain::{OrganisationId, Role};

use super::request::{self, SendRequest, body_digest};
use super::{AttachmentFile, DataOutcome, OutboundEmails, SendEmailError, SmtpSession};
use crate::email_accounts::MailAccess;
use crate::error::CommandError;
use crate::metadata::EventMetadata;
use crate::policy;

impl OutboundEmails<'_> {
    /// Sends the e-mail the request describes, once. Returns the intent as
    /// it stands afterwards: sent, failed (refused by the server), or in
    /// doubt (started by an attempt that never recorded the answer). A
    /// server that cannot be used (connection, TLS, login) is `Smtp`.
    pub async fn send(&self, request: SendRequest, meta: &EventMetadata) -> Result<OutboundEmail, SendEmailError> {
        let prepared = self.prepare(request, meta).await?;
        self.attempt(prepared.email, &prepared.files, meta).await
    }

    /// Everything before the attempt: the permission, the checks and the
    /// recorded intent (or the one recorded by an earlier request).
    pub async fn prepare(&self, request: SendRequest, meta: &EventMetadata) -> Result<Prepared, SendEmailError> {
        let organisation_id = request.organisation_id;
        let existing = self.load(request.intent_id).await?;
        if existing.as_ref().is_some_and(|e| !e.is_in(organisation_id)) {
            return Err(CommandError::Rejected(OutboundEmailError::IntentReused).into());
        }
        self.permit(&request, existing.is_some(), meta).await?;
        let content = request.draft.check()?;
        let files = request::attachments(request.attachments, self.max_attachment_bytes)?;
        let digest = request::request_digest(request.account_id, &content, &files);
        let email = match existing {
            Some(email) if email.intent.as_ref().is_some_and(|i| i.request_digest == digest) => email,
            Some(_) => return Err(CommandError::Rejected(OutboundEmailError::IntentReused).into()),
            None => {
                let account_id = self.account_for(organisation_id, request.account_id).await?;
                let new = NewIntent {
                    intent_id: request.intent_id,
                    organisation_id,
                    account_id,
                    content,
                    digest,
                };
                self.record(new, &files, meta).await?
            }
        };
        Ok(Prepared { email, files })
    }

    /// The intent of this organisation, or `NotFound`.
    pub async fn get(&self, organisation_id: OrganisationId, intent_id: Uuid) -> Result<OutboundEmail, SendEmailError> {
        self.load(intent_id)
            .await?
            .filter(|e| e.is_in(organisation_id))
            .ok_or(SendEmailError::Command(CommandError::Rejected(
                OutboundEmailError::NotFound,
            )))
    }

    async fn load(&self, intent_id: Uuid) -> Result<Option<OutboundEmail>, SendEmailError> {
        let loaded = self.store.load(&intent_id.to_string()).await?;
        Ok(loaded.map(|l| l.aggregate).filter(|e| e.status != SendStatus::None))
    }

    /// Use of the `zoho_mail` integration. A retry of a recorded intent was
    /// counted when it was recorded, so only new intents meet the daily limit.
    async fn permit(&self, request: &SendRequest, retry: bool, meta: &EventMetadata) -> Result<(), SendEmailError> {
        let permission = request.permission;
        let limited = permission.grant.is_some_and(|g| g.daily_limit.is_some());
        let used = match !retry && limited && permission.role != Role::Admin {
            true => {
                let since = start_of_day(Utc::now());
                let directory = self.directory;
                directory
                    .sends_since(request.organisation_id, &meta.actor, since)
                    .await?
            }
            false => 0,
        };
        Ok(policy::may_use(permission.role, permission.grant, used)?)
    }

    /// The account named, or the organisation's default one.
    async fn account_for(&self, organisation_id: OrganisationId, named: Option<Uuid>) -> Result<Uuid, SendEmailError> {
        if let Some(account_id) = named {
            return Ok(account_id);
        }
        let mut defaults = Vec::new();
        for account_id in self.directory.account_ids(organisation_id).await? {
            let loaded = self.accounts.store.load(&account_id.to_string()).await?;
            let account = loaded.map(|l| l.aggregate).filter(|a| a.is_live_in(organisation_id));
            if let Some(account) = account.filter(|a| a.settings.as_ref().is_some_and(|s| s.is_default)) {
                defaults.push((account.added_at, account_id));
            }
        }
        defaults.sort();
        defaults
            .first()
            .map(|(_, id)| *id)
            .ok_or(SendEmailError::NoDefaultAccount)
    }

    async fn sending_access(
        &self,
        organisation_id: OrganisationId,
        account_id: Uuid,
    ) -> Result<MailAccess, SendEmailError> {
        let access = self.accounts.open(organisation_id, account_id).await?;
        match access.settings.smtp_enabled {
            true => Ok(access),
            false => Err(SendEmailError::SmtpDisabled),
        }
    }

    /// Records the intent (checked by composing it first) and returns it as
    /// stored: when a concurrent request recorded it first, that one.
    async fn record(
        &self,
        new: NewIntent,
        files: &[AttachmentFile],
        meta: &EventMetadata,
    ) -> Result<OutboundEmail, SendEmailError> {
        let access = self.sending_access(new.organisation_id, new.account_id).await?;
        let settings = &access.settings;
        let content = new
            .content
            .signed(settings.signature_html.as_deref(), settings.signature_text.as_deref());
        let message = OutboundMessage {
            message_id: draft::message_id(Uuid::new_v4(), &settings.address),
            from: settings.address.clone(),
            from_name: Some(settings.name.clone()).filter(|n| n != settings.address.as_str()),
            attachments: files.iter().map(|f| f.record.clone()).collect(),
            content,
        };
        let at = Utc::now();
        self.sender.compose(&message, files, at)?;
        let intent = SendIntent {
            intent_id: new.intent_id,
            organisation_id: new.organisation_id,
            account_id: new.account_id,
            html: body_digest(message.content.html.as_ref()),
            text: body_digest(message.content.text.as_ref()),
            message,
            request_digest: new.digest,
        };
        let command = OutboundEmailCommand::Request {
            intent: Box::new(intent),
            at,
        };
        self.store.execute(&new.intent_id.to_string(), command, meta).await?;
        self.get(new.organisation_id, new.intent_id).await
    }

    /// One attempt at a recorded intent. A started or finished intent is
    /// returned as it is: nothing is sent again.
    async fn attempt(
        &self,
        email: OutboundEmail,
        files: &[AttachmentFile],
        meta: &EventMetadata,
    ) -> Result<OutboundEmail, SendEmailError> {
        let Some(intent) = email.intent.as_deref().filter(|_| email.status == SendStatus::Pending) else {
            return Ok(email);
        };
        let access = self.sending_access(intent.organisation_id, intent.account_id).await?;
        let at = email.requested_at.unwrap_or_else(Utc::now);
        let bytes = self.sender.compose(&intent.message, files, at)?;
        let recipients = intent.message.recipients();
        let session = match self.sender.open(&access, &intent.message.from, &recipients).await {
            Ok(session) => session,
            Err(failure) => return self.failed_before_data(intent, failure, meta).await,
        };
        let id = intent.intent_id.to_string();
        let start = OutboundEmailCommand::Start { at: Utc::now() };
        match self.store.execute(&id, start, meta).await {
            Ok(()) => {}
            Err(error) => {
                session.abandon().await;
                return match error {
                    CommandError::Rejected(_) => self.get(intent.organisation_id, intent.intent_id).await,
                    other => Err(other.into()),
                };
            }
        }
        self.finish(intent, session, &bytes, meta).await
    }

    async fn finish(
        &self,
        intent: &SendIntent,
        session: Box<dyn SmtpSession>,
        bytes: &[u8],
        meta: &EventMetadata,
    ) -> Result<OutboundEmail, SendEmailError> {
        let at = Utc::now();
        let command = match session.data(bytes).await {
            DataOutcome::Accepted { code, response } => OutboundEmailCommand::RecordAcceptance { code, response, at },
            DataOutcome::Refused(failure) => OutboundEmailCommand::RecordFailure { failure, at },
            DataOutcome::Unknown(reason) => {
                tracing::warn!(intent_id = %intent.intent_id, %reason, "e-mail outcome unknown; left in doubt");
                return self.get(intent.organisation_id, intent.intent_id).await;
            }
        };
        self.store.execute(&intent.intent_id.to_string(), command, meta).await?;
        self.get(intent.organisation_id, intent.intent_id).await
    }

    /// Records a failure before `DATA`. When the server could not be used
    /// at all (connection, TLS, login) the caller gets the error itself.
    async fn failed_before_data(
        &self,
        intent: &SendIntent,
        failure: SmtpFailure,
        meta: &EventMetadata,
    ) -> Result<OutboundEmail, SendEmailError> {
        let command = OutboundEmailCommand::RecordFailure {
            failure: failure.clone(),
            at: Utc::now(),
        };
        match self.store.execute(&intent.intent_id.to_string(), command, meta).await {
            Ok(()) => {}
            Err(CommandError::Rejected(_)) => return self.get(intent.organisation_id, intent.intent_id).await,
            Err(other) => return Err(other.into()),
        }
        match failure.stage {
            SmtpStage::Connect | SmtpStage::Login => Err(SendEmailError::Smtp(failure)),
            SmtpStage::Envelope | SmtpStage::Data => self.get(intent.organisation_id, intent.intent_id).await,
        }
    }
}

/// A recorded intent and the request's checked attachments.
#[derive(Debug)]
pub struct Prepared {
    pub email: OutboundEmail,
    pub files: Vec<AttachmentFile>,
}

struct NewIntent {
    intent_id: Uuid,
    organisation_id: OrganisationId,
    account_id: Uuid,
    content: Content,
    digest: String,
}

fn start_of_day(now: DateTime<Utc>) -> DateTime<Utc> {
    now.date_naive().and_hms_opt(0, 0, 0).map_or(now, |t| t.and_utc())
}
