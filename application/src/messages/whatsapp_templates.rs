//! The organisation's WhatsApp templates, synced from its business account
//! at Exotel: each listed template is kept as the provider lists it (a
//! status Meta changed is recorded), and one the provider no longer lists
//! is removed, so a template whose approval was revoked can no longer be
//! sent. A template message is checked against the kept template.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;
use uuid::Uuid;

use domain::OrganisationId;
use domain::whatsapp::TemplateMessage;
use domain::whatsapp_template::{
    TemplateDefinition, TemplateStatus, WhatsappTemplateCommand, WhatsappTemplateError, whatsapp_template_id,
};

use super::dispatch::whatsapp_account;
use super::{Messages, MessagesError};
use crate::error::{CommandError, StoreError};
use crate::metadata::EventMetadata;

/// Most pages one sync reads (Exotel pages hold up to 100 templates).
pub const MAX_SYNC_PAGES: usize = 100;

/// A kept template as the read model lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct WhatsappTemplateSummary {
    pub template_id: Uuid,
    pub definition: TemplateDefinition,
    pub synced_at: DateTime<Utc>,
}

/// What the templates' read model answers.
#[async_trait]
pub trait WhatsappTemplateDirectory: Send + Sync {
    /// The organisation's kept templates by name and language, of one status when given.
    async fn list(
        &self,
        organisation_id: OrganisationId,
        status: Option<TemplateStatus>,
    ) -> Result<Vec<WhatsappTemplateSummary>, StoreError>;
}

/// What one sync did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TemplateSync {
    /// Templates the provider listed.
    pub listed: usize,
    /// Of those, the ones new or changed since the last sync.
    pub changed: usize,
    /// Kept templates the provider no longer lists.
    pub removed: usize,
    /// Items of the listing that could not be read.
    pub unreadable: usize,
}

impl Messages<'_> {
    /// Reads every template of the organisation's WhatsApp business account
    /// and keeps them. Nothing is removed unless the whole listing was read:
    /// a page that fails ends the sync with its error, and an unreadable
    /// item or a listing longer than [`MAX_SYNC_PAGES`] keeps every template
    /// that was not seen.
    pub async fn sync_whatsapp_templates(
        &self,
        organisation_id: OrganisationId,
        meta: &EventMetadata,
    ) -> Result<TemplateSync, MessagesError> {
        let waba_id = self.waba_id(organisation_id).await?;
        let (_, account) = whatsapp_account(organisation_id, &self.integrations).await?;
        let mut listed: Vec<TemplateDefinition> = Vec::new();
        let mut unreadable = 0;
        let mut after: Option<String> = None;
        let mut complete = false;
        for _ in 0..MAX_SYNC_PAGES {
            let page = self
                .whatsapp
                .whatsapp_templates(&account, &waba_id, after.as_deref())
                .await?;
            listed.extend(page.templates);
            unreadable += page.unreadable;
            match page.after {
                Some(next) if Some(&next) != after.as_ref() => after = Some(next),
                _ => {
                    complete = true;
                    break;
                }
            }
        }
        let mut sync = TemplateSync {
            listed: listed.len(),
            unreadable,
            ..TemplateSync::default()
        };
        let at = self.clock.now();
        let mut seen = BTreeSet::new();
        for definition in listed {
            let id = whatsapp_template_id(organisation_id, &definition.name, &definition.language);
            if !seen.insert(id) {
                continue;
            }
            let before = self.whatsapp_templates.load(&id.to_string()).await?;
            let unchanged = before
                .as_ref()
                .and_then(|l| l.aggregate.of(organisation_id))
                .is_some_and(|kept| *kept == definition);
            let command = WhatsappTemplateCommand::Sync {
                organisation_id,
                definition: Box::new(definition),
                at,
            };
            match self.whatsapp_templates.execute(&id.to_string(), command, meta).await {
                Ok(()) => sync.changed += usize::from(!unchanged),
                // Another organisation's id cannot collide; a rename cannot
                // happen under one id. Either is left as it is.
                Err(CommandError::Rejected(
                    WhatsappTemplateError::OtherOrganisation | WhatsappTemplateError::Renamed,
                )) => {}
                Err(other) => return Err(other.into()),
            }
        }
        if !complete || unreadable > 0 {
            return Ok(sync);
        }
        for kept in self.whatsapp_template_directory.list(organisation_id, None).await? {
            if seen.contains(&kept.template_id) {
                continue;
            }
            let command = WhatsappTemplateCommand::Remove { at };
            self.whatsapp_templates
                .execute(&kept.template_id.to_string(), command, meta)
                .await?;
            sync.removed += 1;
        }
        Ok(sync)
    }

    /// The organisation's kept templates, of one status when given.
    pub async fn whatsapp_templates(
        &self,
        organisation_id: OrganisationId,
        status: Option<TemplateStatus>,
    ) -> Result<Vec<WhatsappTemplateSummary>, MessagesError> {
        Ok(self.whatsapp_template_directory.list(organisation_id, status).await?)
    }

    /// The message against the template it names, as last synced.
    pub(super) async fn check_template(
        &self,
        organisation_id: OrganisationId,
        message: &TemplateMessage,
    ) -> Result<(), MessagesError> {
        let id = whatsapp_template_id(organisation_id, &message.name, &message.language);
        let loaded = self.whatsapp_templates.load(&id.to_string()).await?;
        let kept = loaded.as_ref().and_then(|l| l.aggregate.of(organisation_id));
        let Some(definition) = kept else {
            return Err(MessagesError::UnknownTemplate {
                name: message.name.clone(),
                language: message.language.clone(),
            });
        };
        Ok(definition.check(message)?)
    }

    /// The business account the organisation's WhatsApp integration names.
    async fn waba_id(&self, organisation_id: OrganisationId) -> Result<String, MessagesError> {
        let settings = self.active_whatsapp(organisation_id).await?;
        let settings = settings.ok_or(MessagesError::WhatsappNotConfigured)?;
        settings.waba_id.ok_or_else(|| {
            super::invalid(
                "waba_id",
                "the WhatsApp integration names no business account (waba_id)",
            )
        })
    }
}
