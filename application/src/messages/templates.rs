//! The organisation's DLT templates: registered by an admin, listed by
//! anyone who may send, removed by an admin.

use chrono::{DateTime, Utc};

use domain::OrganisationId;
use domain::outbound_message::SmsType;
use domain::sms_template::{SmsTemplateCommand, SmsTemplateSpec, sms_template_id};

use super::{Messages, MessagesError};
use crate::metadata::EventMetadata;

/// A template as an admin registers it.
pub type SmsTemplateInput = SmsTemplateSpec;

/// A registered template as the read model lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct SmsTemplateSummary {
    pub dlt_template_id: String,
    pub name: String,
    pub body: String,
    pub sender_id: String,
    pub sms_type: SmsType,
    pub variables: usize,
    pub registered_at: DateTime<Utc>,
}

impl Messages<'_> {
    /// Keeps a template; the same one again changes nothing.
    pub async fn register_template(
        &self,
        organisation_id: OrganisationId,
        spec: SmsTemplateInput,
        meta: &EventMetadata,
    ) -> Result<(SmsTemplateSpec, DateTime<Utc>), MessagesError> {
        let id = sms_template_id(organisation_id, &spec.dlt_template_id);
        let command = SmsTemplateCommand::Register {
            organisation_id,
            spec: spec.clone(),
            at: self.clock.now(),
        };
        self.templates.execute(&id.to_string(), command, meta).await?;
        let loaded = self.templates.load(&id.to_string()).await?;
        let kept = loaded.map(|l| l.aggregate);
        let registered_at = kept.as_ref().and_then(|t| t.registered_at);
        kept.as_ref()
            .and_then(|t| t.of(organisation_id).cloned())
            .zip(registered_at)
            .ok_or_else(|| MessagesError::Store(crate::error::StoreError("the template was not kept".into())))
    }

    /// Forgets a template: no SMS is sent with it from now on.
    pub async fn remove_template(
        &self,
        organisation_id: OrganisationId,
        dlt_template_id: &str,
        meta: &EventMetadata,
    ) -> Result<(), MessagesError> {
        let id = sms_template_id(organisation_id, dlt_template_id);
        let command = SmsTemplateCommand::Remove { at: self.clock.now() };
        Ok(self.templates.execute(&id.to_string(), command, meta).await?)
    }

    /// Every registered template of the organisation.
    pub async fn templates(&self, organisation_id: OrganisationId) -> Result<Vec<SmsTemplateSummary>, MessagesError> {
        Ok(self.template_directory.list(organisation_id).await?)
    }
}
