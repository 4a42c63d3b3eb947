//! Asking for an SMS: permission and daily limit, every recipient and the
//! body checked against India's rules (DLT ids, the registered template,
//! promotional hours, the DND registry), then one message recorded per
//! recipient. Nothing reaches Exotel here, and nothing is recorded unless
//! every recipient passes.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use domain::OrganisationId;
use domain::integration::settings::{ExotelSms as SmsSettings, IntegrationSettings, phone_number};
use domain::integration::{IntegrationKind, IntegrationStatus};
use domain::outbound_message::{MessageCommand, MessageContent, MessageRequest, OutboundMessage, SmsContent, SmsType};
use domain::sms::{dlt, encoding, window};
use domain::sms_template::{SmsTemplateSpec, sms_template_id};

use super::{MAX_CUSTOM_DATA_BYTES, MAX_RECIPIENTS, Messages, MessagesError, invalid};
use crate::metadata::EventMetadata;
use crate::policy;
use crate::store::execute_new_returning;
use crate::users::Acting;

const MESSAGE_NAMESPACE: Uuid = Uuid::from_u128(0x5b1c_0a2e_7d41_4e3a_9f10_8c3e_2a9d_0013);

/// The message id of a recipient of an organisation's request: the same
/// request and recipient again is the same message, and another
/// organisation's batch id never meets it.
pub fn message_id(organisation_id: OrganisationId, batch_id: Uuid, to: &str) -> Uuid {
    Uuid::new_v5(
        &MESSAGE_NAMESPACE,
        format!("{organisation_id}/{batch_id}/{to}").as_bytes(),
    )
}

fn reused() -> MessagesError {
    MessagesError::Command(crate::CommandError::Rejected(
        domain::outbound_message::MessageError::MessageIdReused,
    ))
}

/// An SMS request as the caller gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct SmsInput {
    /// The caller's idempotency: the same id and request again is the same messages.
    pub batch_id: Uuid,
    pub to: Vec<String>,
    /// The text; for an Indian number it must follow the DLT template.
    pub body: Option<String>,
    /// The DLT template id; required for Indian numbers.
    pub template_id: Option<String>,
    /// The template's variables, in order, instead of a body.
    pub variables: Option<Vec<String>>,
    pub sms_type: SmsType,
    /// The DLT header; by default the integration's.
    pub sender_id: Option<String>,
    /// By default the integration's.
    pub dlt_entity_id: Option<String>,
    pub custom_data: Option<String>,
    /// The thread the messages go on (a thread's own route gives it); by
    /// default each recipient's open thread, or a new one.
    pub thread_id: Option<Uuid>,
}

fn is_indian(number: &str) -> bool {
    number.starts_with("+91")
}

impl Messages<'_> {
    /// Records one message per recipient and returns them as recorded
    /// (for the same request again, as first recorded).
    pub async fn request(
        &self,
        acting: &Acting,
        input: SmsInput,
        meta: &EventMetadata,
    ) -> Result<Vec<(Uuid, OutboundMessage)>, MessagesError> {
        let organisation_id = acting.organisation_id;
        let recipients = recipients(&input.to)?;
        if input
            .custom_data
            .as_ref()
            .is_some_and(|d| d.len() > MAX_CUSTOM_DATA_BYTES)
        {
            return Err(invalid(
                "custom_data",
                format!("custom_data may be at most {MAX_CUSTOM_DATA_BYTES} bytes"),
            ));
        }
        let mut existing = Vec::with_capacity(recipients.len());
        for to in &recipients {
            let id = message_id(organisation_id, input.batch_id, to);
            let found = self.load(id).await?;
            if found.as_ref().is_some_and(|m| !m.is_in(organisation_id)) {
                return Err(reused());
            }
            existing.push(found);
        }
        let fresh: Vec<String> = recipients
            .iter()
            .zip(&existing)
            .filter(|(_, found)| found.is_none())
            .map(|(to, _)| to.clone())
            .collect();
        if !fresh.is_empty() {
            self.permit(acting, fresh.len()).await?;
        }
        let settings = self.settings(organisation_id).await?;
        let now = self.clock.now();
        let content = self.content(organisation_id, &input, &settings, &recipients).await?;
        let not_before = match input.sms_type {
            SmsType::Promotional => {
                self.ensure_promotable(organisation_id, &fresh).await?;
                Some(window::promotional_send_at(now)).filter(|at| *at > now)
            }
            _ => None,
        };
        // Every request is built and compared with what its id already holds
        // before anything is written: a batch is recorded whole or not at all.
        let mut planned = Vec::with_capacity(recipients.len());
        for (to, found) in recipients.into_iter().zip(existing) {
            let id = message_id(organisation_id, input.batch_id, &to);
            let customer_id = domain::customer::phone_customer_id(organisation_id, &to);
            let thread_id = match found.as_ref().and_then(|m| m.request.as_deref()) {
                Some(kept) => kept.thread_id,
                None => Some(
                    self.threads
                        .for_outbound(organisation_id, customer_id, input.thread_id, id)
                        .await?,
                ),
            };
            let mut request = MessageRequest {
                organisation_id,
                requested_by: acting.user_id,
                customer_id: Some(customer_id),
                to,
                content: MessageContent::Sms(content.clone()),
                custom_data: input.custom_data.clone(),
                not_before,
                batch_id: Some(input.batch_id),
                auto_reply: None,
                thread_id,
            };
            if let Some(kept) = found.as_ref().and_then(|m| m.request.as_deref()) {
                // A retry keeps the time the first request was given.
                request.not_before = kept.not_before;
                if *kept != request {
                    return Err(reused());
                }
            }
            planned.push((id, found, request));
        }
        let mut recorded = Vec::with_capacity(planned.len());
        for (id, found, request) in planned {
            if let Some(message) = found {
                recorded.push((id, message));
                continue;
            }
            let command = MessageCommand::Request {
                request: Box::new(request),
                at: now,
            };
            // No message has this id yet (it was looked up above), so the
            // command appends without reading; the answer is the state it
            // committed.
            let committed = execute_new_returning(self.store, &id.to_string(), command, meta).await?;
            recorded.push((id, super::visible(Some(committed.aggregate), organisation_id)?));
        }
        Ok(recorded)
    }

    /// Use of the `exotel_sms` integration for `count` more messages,
    /// within the daily limit.
    async fn permit(&self, acting: &Acting, count: usize) -> Result<(), MessagesError> {
        if acting.role == domain::Role::Admin {
            return Ok(());
        }
        let grant = self.access.grant(acting, IntegrationKind::ExotelSms).await?;
        let limited = grant.is_some_and(|g| g.daily_limit.is_some());
        let used = match (limited, acting.user_id) {
            (true, Some(user_id)) => {
                let since = start_of_day(self.clock.now());
                self.directory
                    .requested_since(acting.organisation_id, user_id, "sms", since)
                    .await?
            }
            _ => 0,
        };
        let before_the_last = used.saturating_add(u32::try_from(count).unwrap_or(u32::MAX) - 1);
        Ok(policy::may_use(acting.role, grant, before_the_last)?)
    }

    /// The organisation's active Exotel SMS settings.
    async fn settings(&self, organisation_id: OrganisationId) -> Result<SmsSettings, MessagesError> {
        let integration = self
            .integrations
            .current(organisation_id, IntegrationKind::ExotelSms)
            .await?
            .filter(|i| i.status == IntegrationStatus::Active);
        match integration.and_then(|i| i.settings).map(|s| *s) {
            Some(IntegrationSettings::ExotelSms(settings)) => Ok(settings),
            _ => Err(MessagesError::NotConfigured),
        }
    }

    /// The content every recipient gets: the body (the template filled in,
    /// or checked against it), its header, DLT ids and encoding.
    async fn content(
        &self,
        organisation_id: OrganisationId,
        input: &SmsInput,
        settings: &SmsSettings,
        recipients: &[String],
    ) -> Result<SmsContent, MessagesError> {
        let sender_id = match &input.sender_id {
            Some(sender) => sender.trim().to_ascii_uppercase(),
            None => settings.sender_id.clone(),
        };
        let dlt_entity_id = input.dlt_entity_id.clone().or_else(|| settings.dlt_entity_id.clone());
        let indian = recipients.iter().any(|to| is_indian(to));
        if input.sms_type == SmsType::Promotional && recipients.iter().any(|to| !is_indian(to)) {
            return Err(invalid("to", "promotional SMS goes to Indian (+91) numbers only"));
        }
        if indian && dlt_entity_id.is_none() {
            return Err(invalid(
                "dlt_entity_id",
                "an SMS to an Indian number needs a DLT entity id (here or in the integration's settings)",
            ));
        }
        let template = match &input.template_id {
            Some(id) => Some(self.template(organisation_id, id).await?),
            None if indian => {
                return Err(invalid(
                    "template_id",
                    "an SMS to an Indian number needs its DLT template id",
                ));
            }
            None => None,
        };
        let body = body(input, template.as_ref())?;
        if let Some(template) = &template {
            if template.sender_id != sender_id {
                return Err(invalid(
                    "sender_id",
                    format!(
                        "DLT template {} is registered for header {}, not {sender_id}",
                        template.dlt_template_id, template.sender_id
                    ),
                ));
            }
            if template.sms_type.exotel() != input.sms_type.exotel() {
                return Err(invalid(
                    "sms_type",
                    format!("DLT template {} is of another category", template.dlt_template_id),
                ));
            }
        }
        let counted = encoding::segments(&body);
        Ok(SmsContent {
            body,
            sms_type: input.sms_type,
            sender_id,
            dlt_entity_id,
            dlt_template_id: template.map(|t| t.dlt_template_id),
            encoding: counted.encoding,
            segments: counted.segments,
        })
    }

    /// The organisation's registered template of a DLT id.
    async fn template(&self, organisation_id: OrganisationId, id: &str) -> Result<SmsTemplateSpec, MessagesError> {
        let id = id.trim();
        let loaded = self
            .templates
            .load(&sms_template_id(organisation_id, id).to_string())
            .await?;
        loaded
            .and_then(|l| l.aggregate.of(organisation_id).cloned())
            .ok_or_else(|| {
                invalid(
                    "template_id",
                    format!("no DLT template {id} is registered; add it under /api/v1/sms/templates"),
                )
            })
    }

    /// No recipient of a promotional SMS is on the DND registry (Exotel's
    /// number metadata, cached).
    async fn ensure_promotable(
        &self,
        organisation_id: OrganisationId,
        recipients: &[String],
    ) -> Result<(), MessagesError> {
        let (_, account) = super::dispatch::sms_account(organisation_id, &self.integrations)
            .await
            .map_err(|_| MessagesError::NotConfigured)?;
        for to in recipients {
            if self
                .dnd
                .on_dnd(self.numbers_api, &account, to, self.clock.now())
                .await?
            {
                return Err(MessagesError::RecipientOnDnd(to.clone()));
            }
        }
        Ok(())
    }
}

/// The body: the template filled with the variables, or the body given,
/// which must follow the template when there is one.
fn body(input: &SmsInput, template: Option<&SmsTemplateSpec>) -> Result<String, MessagesError> {
    match (&input.body, &input.variables, template) {
        (Some(_), Some(_), _) => Err(invalid("variables", "give either body or variables, not both")),
        (None, Some(_), None) => Err(invalid("template_id", "variables fill a DLT template: name it")),
        (None, None, _) => Err(invalid("body", "an SMS needs a body, or a template's variables")),
        (None, Some(values), Some(template)) => {
            dlt::fill(&template.body, values).map_err(|e| invalid("variables", e.to_string()))
        }
        (Some(body), None, Some(template)) => match dlt::matches(&template.body, body) {
            Ok(()) => Ok(body.clone()),
            Err(mismatch) => Err(MessagesError::TemplateMismatch {
                template_id: template.dlt_template_id.clone(),
                position: mismatch.position,
                expected: mismatch.expected,
            }),
        },
        (Some(body), None, None) => Ok(body.clone()),
    }
}

/// The recipients in E.164, each once, 1 to 100 of them.
fn recipients(to: &[String]) -> Result<Vec<String>, MessagesError> {
    if to.is_empty() || to.len() > MAX_RECIPIENTS {
        return Err(invalid("to", format!("an SMS goes to 1 to {MAX_RECIPIENTS} numbers")));
    }
    let mut numbers: Vec<String> = Vec::with_capacity(to.len());
    for (index, number) in to.iter().enumerate() {
        let number = phone_number(&format!("to[{index}]"), number)?;
        if numbers.contains(&number) {
            return Err(invalid(&format!("to[{index}]"), format!("{number} is listed twice")));
        }
        numbers.push(number);
    }
    Ok(numbers)
}

fn start_of_day(now: DateTime<Utc>) -> DateTime<Utc> {
    now.date_naive().and_hms_opt(0, 0, 0).map_or(now, |t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> SmsInput {
        SmsInput {
            batch_id: Uuid::nil(),
            to: vec!["+919800000002".into()],
            body: None,
            template_id: None,
            variables: None,
            sms_type: SmsType::Transactional,
            sender_id: None,
            dlt_entity_id: None,
            custom_data: None,
            thread_id: None,
        }
    }

    fn template() -> SmsTemplateSpec {
        SmsTemplateSpec {
            dlt_template_id: "1107".into(),
            name: "Order".into(),
            body: "Order {#var#} is on its way".into(),
            sender_id: "SWTCHB".into(),
            sms_type: SmsType::Transactional,
        }
    }

    fn field_of(error: MessagesError) -> String {
        match error {
            MessagesError::Invalid(e) => e.field,
            other => panic!("not a field error: {other}"),
        }
    }

    #[test]
    fn recipients_are_normalised_counted_and_listed_once() {
        let to = vec!["09800000002".to_string(), "+919800000003".into()];
        assert_eq!(recipients(&to).unwrap(), ["+919800000002", "+919800000003"]);
        assert_eq!(field_of(recipients(&[]).unwrap_err()), "to");
        let hundred: Vec<String> = (0..100).map(|i| format!("+9198000{i:05}")).collect();
        assert_eq!(recipients(&hundred).unwrap().len(), 100);
        let more: Vec<String> = (0..101).map(|i| format!("+9198000{i:05}")).collect();
        assert_eq!(field_of(recipients(&more).unwrap_err()), "to");
        let twice = vec!["+919800000002".to_string(), "09800000002".into()];
        assert_eq!(field_of(recipients(&twice).unwrap_err()), "to[1]");
        assert_eq!(field_of(recipients(&["nope".into()]).unwrap_err()), "to[0]");
    }

    #[test]
    fn variables_fill_the_template_and_a_body_must_follow_it() {
        let filled = SmsInput {
            variables: Some(vec!["42".into()]),
            ..input()
        };
        assert_eq!(body(&filled, Some(&template())).unwrap(), "Order 42 is on its way");
        let following = SmsInput {
            body: Some("Order 7 is on its way".into()),
            ..input()
        };
        assert_eq!(body(&following, Some(&template())).unwrap(), "Order 7 is on its way");
        let differing = SmsInput {
            body: Some("Order 7 is on the way".into()),
            ..input()
        };
        match body(&differing, Some(&template())) {
            Err(MessagesError::TemplateMismatch { template_id, .. }) => assert_eq!(template_id, "1107"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_body_and_variables_together_or_neither_are_refused() {
        let both = SmsInput {
            body: Some("x".into()),
            variables: Some(vec![]),
            ..input()
        };
        assert_eq!(field_of(body(&both, Some(&template())).unwrap_err()), "variables");
        assert_eq!(field_of(body(&input(), Some(&template())).unwrap_err()), "body");
        let untemplated = SmsInput {
            variables: Some(vec!["1".into()]),
            ..input()
        };
        assert_eq!(field_of(body(&untemplated, None).unwrap_err()), "template_id");
        let wrong_count = SmsInput {
            variables: Some(vec!["1".into(), "2".into()]),
            ..input()
        };
        assert_eq!(
            field_of(body(&wrong_count, Some(&template())).unwrap_err()),
            "variables"
        );
        let free = SmsInput {
            body: Some("Hello".into()),
            ..input()
        };
        assert_eq!(body(&free, None).unwrap(), "Hello");
    }

    #[test]
    fn message_ids_are_the_organisations_the_requests_and_the_recipients() {
        let (org, batch) = (Uuid::from_u128(1), Uuid::from_u128(5));
        let id = message_id(org, batch, "+919800000002");
        assert_eq!(id, message_id(org, batch, "+919800000002"));
        assert_ne!(id, message_id(org, batch, "+919800000003"));
        assert_ne!(id, message_id(org, Uuid::nil(), "+919800000002"));
        assert_ne!(id, message_id(Uuid::from_u128(2), batch, "+919800000002"));
        assert!(is_indian("+919800000002") && !is_indian("+14155550100"));
    }
}
