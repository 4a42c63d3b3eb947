//! In-memory stores that are their own read models: a [`Listed`] store
//! remembers which aggregates it holds, and answers the directory ports by
//! reading them as they stand. Its projection can be paused, to play a read
//! model that has not yet seen what was written since.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cqrs_es::{Aggregate, AggregateError};
use serde::Serialize;
use std::sync::Mutex;
use uuid::Uuid;

use domain::OrganisationId;
use domain::inbound_message::{InboundContent, InboundMessage};
use domain::outbound_message::{Channel, Dispatch, MessageContent, MessageStatus, OutboundMessage, SmsType};
use domain::sms::dlt;
use domain::sms_template::SmsTemplate;
use domain::whatsapp_template::{TemplateStatus, WhatsappTemplate};

use crate::error::StoreError;
use crate::memory::Memory;
use crate::messages::{
    InboundDirectory, InboundSummary, MessageCursor, MessageDirectory, MessageFilter, MessageSummary,
    SmsTemplateDirectory, SmsTemplateSummary, WhatsappTemplateDirectory, WhatsappTemplateSummary,
};
use crate::metadata::EventMetadata;
use crate::store::{AggregateStore, Loaded};

pub(super) struct Listed<A: Aggregate<Services = ()> + Clone> {
    memory: Memory<A>,
    ids: Mutex<Vec<String>>,
    /// How many of `ids` the read model has seen, when it lags.
    projected: Mutex<Option<usize>>,
}

impl<A: Aggregate<Services = ()> + Clone + 'static> Listed<A>
where
    A::Command: Send + Sync,
{
    pub(super) fn new() -> Self {
        Self {
            memory: Memory::new(),
            ids: Mutex::new(Vec::new()),
            projected: Mutex::new(None),
        }
    }

    /// From now on the read model sees nothing written after this moment.
    pub(super) fn pause_projection(&self) {
        let held = self.ids.lock().unwrap().len();
        *self.projected.lock().unwrap() = Some(held);
    }

    /// How many aggregates were ever written, whether the read model saw them or not.
    pub(super) async fn held(&self) -> usize {
        let ids = self.ids.lock().unwrap().clone();
        let mut held = 0;
        for id in ids {
            held += usize::from(self.memory.load(&id).await.unwrap().is_some());
        }
        held
    }

    /// Every aggregate the read model has seen, as it stands now.
    pub(super) async fn all(&self) -> Vec<(Uuid, A)> {
        let ids = self.ids.lock().unwrap().clone();
        let seen = self.projected.lock().unwrap().unwrap_or(ids.len());
        let mut all = Vec::new();
        for id in ids.into_iter().take(seen) {
            if let Some(loaded) = self.memory.load(&id).await.unwrap() {
                all.push((Uuid::parse_str(&id).unwrap(), loaded.aggregate));
            }
        }
        all
    }
}

#[async_trait]
impl<A: Aggregate<Services = ()> + Clone + 'static> AggregateStore<A> for Listed<A>
where
    A::Command: Send + Sync,
{
    async fn execute_once(
        &self,
        aggregate_id: &str,
        command: A::Command,
        metadata: &EventMetadata,
    ) -> Result<(), AggregateError<A::Error>> {
        {
            let mut ids = self.ids.lock().unwrap();
            if !ids.iter().any(|id| id == aggregate_id) {
                ids.push(aggregate_id.to_string());
            }
        }
        self.memory.execute_once(aggregate_id, command, metadata).await
    }

    async fn load(&self, aggregate_id: &str) -> Result<Option<Loaded<A>>, StoreError> {
        self.memory.load(aggregate_id).await
    }
}

/// The snake-case word a value serialises to (`delivered`, `pending`).
fn word<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value).unwrap().as_str().unwrap().to_string()
}

fn channel_word(channel: Channel) -> String {
    word(&channel)
}

fn summary(id: Uuid, message: &OutboundMessage) -> Option<MessageSummary> {
    let request = message.request.as_deref()?;
    let sms = match &request.content {
        MessageContent::Sms(sms) => Some(sms),
        MessageContent::Whatsapp(_) => None,
    };
    Some(MessageSummary {
        message_id: id,
        channel: channel_word(request.content.channel()),
        to: request.to.clone(),
        status: word(&message.status.unwrap_or(MessageStatus::Requested)),
        dispatch: word(&message.dispatch),
        provider_sid: message.provider_sid.clone(),
        sender_id: sms.map(|s| s.sender_id.clone()),
        sms_type: sms.map(|s| word(&s.sms_type)),
        segments: sms.map(|s| i64::from(s.segments)),
        requested_by: request.requested_by,
        requested_at: message.requested_at?,
        not_before: request.not_before,
        delivered_at: message.delivered_at,
        failure_code: message.failure.as_ref().and_then(|f| f.code),
        batch_id: request.batch_id,
    })
}

impl Listed<OutboundMessage> {
    /// The organisation's messages as the read model lists them, oldest first.
    async fn summaries(&self, organisation_id: OrganisationId) -> Vec<MessageSummary> {
        let mut all: Vec<MessageSummary> = self
            .all()
            .await
            .iter()
            .filter(|(_, m)| m.is_in(organisation_id))
            .filter_map(|(id, m)| summary(*id, m))
            .collect();
        all.sort_by_key(|s| (s.requested_at, s.message_id));
        all
    }
}

fn promotional(message: &OutboundMessage) -> bool {
    let request = message.request.as_deref();
    matches!(request.map(|r| &r.content), Some(MessageContent::Sms(sms)) if sms.sms_type == SmsType::Promotional)
}

#[async_trait]
impl MessageDirectory for Listed<OutboundMessage> {
    async fn list(
        &self,
        organisation_id: OrganisationId,
        filter: &MessageFilter,
        after: Option<MessageCursor>,
        limit: u32,
    ) -> Result<Vec<MessageSummary>, StoreError> {
        let mut all = self.summaries(organisation_id).await;
        all.reverse();
        Ok(all
            .into_iter()
            .filter(|s| filter.channel.as_ref().is_none_or(|c| *c == s.channel))
            .filter(|s| filter.status.is_none_or(|st| word(&st) == s.status))
            .filter(|s| filter.to.as_ref().is_none_or(|to| *to == s.to))
            .filter(|s| filter.batch_id.is_none_or(|b| Some(b) == s.batch_id))
            .filter(|s| after.is_none_or(|cursor| (s.requested_at, s.message_id) < cursor))
            .take(limit as usize)
            .collect())
    }

    async fn requested_since(
        &self,
        organisation_id: OrganisationId,
        user_id: Uuid,
        channel: &str,
        since: DateTime<Utc>,
    ) -> Result<u32, StoreError> {
        let all = self.summaries(organisation_id).await;
        let counted = all
            .iter()
            .filter(|s| s.requested_by == Some(user_id) && s.channel == channel && s.requested_at >= since);
        Ok(counted.count() as u32)
    }

    async fn due(
        &self,
        now: DateTime<Utc>,
        promotional_hours: bool,
        limit: u32,
    ) -> Result<Vec<(Uuid, OrganisationId)>, StoreError> {
        let mut due: Vec<(DateTime<Utc>, Uuid, OrganisationId)> = Vec::new();
        for (id, message) in self.all().await {
            let (Some(request), Some(at)) = (message.request.as_deref(), message.requested_at) else {
                continue;
            };
            let time_has_come = request.not_before.is_none_or(|t| t <= now);
            let allowed = promotional_hours || !promotional(&message);
            if message.dispatch == Dispatch::Pending && time_has_come && allowed {
                due.push((at, id, request.organisation_id));
            }
        }
        due.sort();
        Ok(due
            .into_iter()
            .take(limit as usize)
            .map(|(_, id, org)| (id, org))
            .collect())
    }

    async fn in_doubt(&self, before: DateTime<Utc>, limit: u32) -> Result<Vec<Uuid>, StoreError> {
        let all = self.all().await;
        let started = all
            .iter()
            .filter(|(_, m)| m.dispatch == Dispatch::Started && m.dispatch_started_at.is_some_and(|at| at < before));
        Ok(started.map(|(id, _)| *id).take(limit as usize).collect())
    }

    async fn unreported(&self, between: (DateTime<Utc>, DateTime<Utc>), limit: u32) -> Result<Vec<Uuid>, StoreError> {
        let all = self.all().await;
        let waiting = all.iter().filter(|(_, m)| {
            let settled = m.status.is_some_and(|s| s.is_final() || s == MessageStatus::Delivered);
            let submitted = m.submitted_at.is_some_and(|at| between.0 <= at && at < between.1);
            m.dispatch == Dispatch::Submitted && submitted && !settled
        });
        Ok(waiting.map(|(id, _)| *id).take(limit as usize).collect())
    }

    async fn by_sid(&self, organisation_id: OrganisationId, sid: &str) -> Result<Option<Uuid>, StoreError> {
        let all = self.all().await;
        let found = all
            .iter()
            .find(|(_, m)| m.is_in(organisation_id) && m.provider_sid.as_deref() == Some(sid));
        Ok(found.map(|(id, _)| *id))
    }

    async fn last_auto_reply(
        &self,
        organisation_id: OrganisationId,
        to: &str,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let all = self.all().await;
        let replies = all.iter().filter_map(|(_, m)| {
            let request = m.request.as_deref().filter(|r| r.organisation_id == organisation_id)?;
            (request.to == to && request.auto_reply.is_some())
                .then_some(m.requested_at)
                .flatten()
        });
        Ok(replies.max())
    }
}

fn inbound_kind(content: &InboundContent) -> &'static str {
    match content {
        InboundContent::Text { .. } => "text",
        InboundContent::Media { .. } => "media",
        InboundContent::Location { .. } => "location",
        InboundContent::ButtonReply { .. } => "button_reply",
        InboundContent::ListReply { .. } => "list_reply",
        InboundContent::Other { .. } => "other",
    }
}

impl Listed<InboundMessage> {
    /// When `contact` wrote to the organisation on `channel`, oldest first.
    async fn times(&self, organisation_id: OrganisationId, channel: &str, contact: &str) -> Vec<DateTime<Utc>> {
        let all = self.all().await;
        let mut times: Vec<DateTime<Utc>> = all
            .iter()
            .filter_map(|(_, m)| m.of(organisation_id))
            .filter(|m| channel_word(m.channel) == channel && m.from == contact)
            .map(|m| m.received_at)
            .collect();
        times.sort();
        times
    }
}

#[async_trait]
impl InboundDirectory for Listed<InboundMessage> {
    async fn last_inbound(
        &self,
        organisation_id: OrganisationId,
        channel: &str,
        contact: &str,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self.times(organisation_id, channel, contact).await.last().copied())
    }

    async fn first_inbound(
        &self,
        organisation_id: OrganisationId,
        channel: &str,
        contact: &str,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self.times(organisation_id, channel, contact).await.first().copied())
    }

    async fn list(
        &self,
        organisation_id: OrganisationId,
        contact: Option<&str>,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<InboundSummary>, StoreError> {
        let mut all: Vec<InboundSummary> = Vec::new();
        for (id, message) in self.all().await {
            let Some(m) = message.of(organisation_id) else { continue };
            if contact.is_some_and(|c| c != m.from) {
                continue;
            }
            all.push(InboundSummary {
                message_id: id,
                channel: channel_word(m.channel),
                from: m.from.clone(),
                to: m.to.clone(),
                profile_name: m.profile_name.clone(),
                kind: inbound_kind(&m.content).into(),
                text: m.content.text().map(str::to_string),
                context_sid: m.context_sid.clone(),
                received_at: m.received_at,
            });
        }
        all.sort_by_key(|s| std::cmp::Reverse((s.received_at, s.message_id)));
        Ok(all.into_iter().skip(offset as usize).take(limit as usize).collect())
    }
}

#[async_trait]
impl WhatsappTemplateDirectory for Listed<WhatsappTemplate> {
    async fn list(
        &self,
        organisation_id: OrganisationId,
        status: Option<TemplateStatus>,
    ) -> Result<Vec<WhatsappTemplateSummary>, StoreError> {
        let mut kept: Vec<WhatsappTemplateSummary> = Vec::new();
        for (id, template) in self.all().await {
            let (Some(definition), Some(synced_at)) = (template.of(organisation_id), template.synced_at) else {
                continue;
            };
            if status.is_none_or(|s| s == definition.status) {
                kept.push(WhatsappTemplateSummary {
                    template_id: id,
                    definition: definition.clone(),
                    synced_at,
                });
            }
        }
        kept.sort_by(|a, b| {
            (&a.definition.name, &a.definition.language).cmp(&(&b.definition.name, &b.definition.language))
        });
        Ok(kept)
    }
}

#[async_trait]
impl SmsTemplateDirectory for Listed<SmsTemplate> {
    async fn list(&self, organisation_id: OrganisationId) -> Result<Vec<SmsTemplateSummary>, StoreError> {
        let mut kept: Vec<SmsTemplateSummary> = Vec::new();
        for (_, template) in self.all().await {
            let (Some(spec), Some(registered_at)) = (template.of(organisation_id), template.registered_at) else {
                continue;
            };
            kept.push(SmsTemplateSummary {
                dlt_template_id: spec.dlt_template_id.clone(),
                name: spec.name.clone(),
                body: spec.body.clone(),
                sender_id: spec.sender_id.clone(),
                sms_type: spec.sms_type,
                variables: dlt::variables(&spec.body),
                registered_at,
            });
        }
        kept.sort_by(|a, b| a.dlt_template_id.cmp(&b.dlt_template_id));
        Ok(kept)
    }
}
