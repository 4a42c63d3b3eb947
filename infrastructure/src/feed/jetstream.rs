//! The distributed feed: a durable JetStream pull consumer per projector,
//! with explicit acknowledgement after the projector's transaction commits.

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull};
use async_nats::jetstream::{self, AckKind};
use async_trait::async_trait;
use futures::{FutureExt, StreamExt};
use std::time::Duration;

use application::error::StoreError;
use application::feed::{Acknowledge, Delivery, EventSource, StoredEvent};

use crate::error::InfraError;
use crate::nats::EventStream;

/// How long the server waits for an ack before delivering again. With the
/// short pull expiry below, events handed to a process that died are
/// redelivered within about fifteen seconds.
const ACK_WAIT: Duration = Duration::from_secs(10);
/// Delay before an event that could not be applied is delivered again.
const RETRY_DELAY: Duration = Duration::from_millis(200);

pub struct JetStreamSource {
    messages: pull::Stream,
    types: Vec<String>,
    events: EventStream,
    /// The subject tokens of `types`.
    tokens: Vec<String>,
}

impl JetStreamSource {
    /// Binds (creating if needed) the durable consumer `name` to the event
    /// types a projector reads.
    pub async fn bind(
        js: &jetstream::Context,
        events: &EventStream,
        name: &str,
        types: &[&str],
    ) -> Result<Self, InfraError> {
        let stream = js
            .get_stream(&events.name)
            .await
            .map_err(|e| InfraError::Nats(e.to_string()))?;
        let config = pull::Config {
            durable_name: Some(name.to_string()),
            deliver_policy: DeliverPolicy::All,
            ack_policy: AckPolicy::Explicit,
            ack_wait: ACK_WAIT,
            max_ack_pending: 10_000,
            filter_subject: filter_subject(events, types),
            ..Default::default()
        };
        let consumer: PullConsumer = stream
            .get_or_create_consumer(name, config)
            .await
            .map_err(|e| InfraError::Nats(e.to_string()))?;
        let messages = consumer
            .stream()
            .max_messages_per_batch(500)
            .heartbeat(Duration::from_secs(2))
            .expires(Duration::from_secs(5))
            .messages()
            .await
            .map_err(|e| InfraError::Nats(e.to_string()))?;
        Ok(Self {
            messages,
            types: types.iter().map(|t| t.to_string()).collect(),
            events: events.clone(),
            tokens: types.iter().map(|t| EventStream::token_of_type(t)).collect(),
        })
    }

    /// Whether the subject may carry an event this projector reads: the
    /// type is in the subject, so the rest are dropped without decoding.
    fn subject_wanted(&self, subject: &str) -> bool {
        match self.events.type_token(subject) {
            Some(token) => self.tokens.iter().any(|t| t == token),
            None => true,
        }
    }

    /// The delivery of a message, or `None` (and the message acknowledged)
    /// when it carries an aggregate type this projector does not read.
    async fn wanted(&self, message: jetstream::Message) -> Result<Option<Delivery>, StoreError> {
        if !self.subject_wanted(&message.subject) {
            message.ack().await.map_err(|e| StoreError(e.to_string()))?;
            return Ok(None);
        }
        let event: StoredEvent = match serde_json::from_slice(&message.payload) {
            Ok(event) => event,
            Err(error) => return Self::poison(message, error).await,
        };
        if !self.types.contains(&event.aggregate_type) {
            message.ack().await.map_err(|e| StoreError(e.to_string()))?;
            return Ok(None);
        }
        Ok(Some(Delivery {
            event,
            ack: Box::new(JetStreamAck(message)),
        }))
    }

    /// A message that is not an event is never delivered again: it is
    /// terminated and logged, and the store keeps the real event.
    async fn poison(message: jetstream::Message, error: serde_json::Error) -> Result<Option<Delivery>, StoreError> {
        tracing::error!(subject = %message.subject, %error, "undecodable message on the event stream; terminated");
        metrics::counter!("switchboard_feed_poison_messages_total").increment(1);
        message
            .ack_with(AckKind::Term)
            .await
            .map_err(|e| StoreError(e.to_string()))?;
        Ok(None)
    }
}

#[async_trait]
impl EventSource for JetStreamSource {
    async fn next_batch(&mut self, max: usize) -> Result<Vec<Delivery>, StoreError> {
        let first = match tokio::time::timeout(Duration::from_secs(1), self.messages.next()).await {
            Err(_) => return Ok(Vec::new()),
            Ok(None) => return Err(StoreError("the JetStream consumer stream ended".into())),
            Ok(Some(first)) => first.map_err(|e| StoreError(e.to_string()))?,
        };
        let mut batch: Vec<Delivery> = self.wanted(first).await?.into_iter().collect();
        while batch.len() < max {
            match self.messages.next().now_or_never() {
                Some(Some(Ok(message))) => batch.extend(self.wanted(message).await?),
                Some(Some(Err(e))) => return Err(StoreError(e.to_string())),
                _ => break,
            }
        }
        Ok(batch)
    }
}

/// One subject filter: the type's own subjects when the projector reads one
/// aggregate type, otherwise the whole stream, filtered on delivery, so the
/// events of several types keep their relative order (and servers before
/// 2.10, which take a single filter, are served).
fn filter_subject(events: &EventStream, types: &[&str]) -> String {
    match types {
        [only] => events.subjects_of_type(only),
        _ => format!("{}.>", events.subject_prefix),
    }
}

struct JetStreamAck(jetstream::Message);

#[async_trait]
impl Acknowledge for JetStreamAck {
    async fn ack(&self) -> Result<(), StoreError> {
        self.0.ack().await.map_err(|e| StoreError(e.to_string()))
    }

    async fn retry_later(&self) -> Result<(), StoreError> {
        self.0
            .ack_with(AckKind::Nak(Some(RETRY_DELAY)))
            .await
            .map_err(|e| StoreError(e.to_string()))
    }
}
