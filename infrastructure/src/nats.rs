//! NATS JetStream: the connection, the event stream and its subjects.

use async_nats::jetstream::{self, stream};
use std::time::Duration;

use crate::error::InfraError;

/// How long JetStream remembers a message id to drop a re-published copy.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// The stream events are relayed to.
#[derive(Debug, Clone)]
pub struct EventStream {
    pub name: String,
    pub subject_prefix: String,
}

impl EventStream {
    /// The subject of one aggregate's events: `prefix.type.id`, with any
    /// character NATS gives meaning to replaced.
    pub fn subject(&self, aggregate_type: &str, aggregate_id: &str) -> String {
        format!(
            "{}.{}.{}",
            self.subject_prefix,
            token(aggregate_type),
            token(aggregate_id)
        )
    }

    /// The subjects of every aggregate of one type.
    pub fn subjects_of_type(&self, aggregate_type: &str) -> String {
        format!("{}.{}.>", self.subject_prefix, token(aggregate_type))
    }
}

impl EventStream {
    /// The aggregate-type token of one of this stream's subjects, as
    /// [`Self::subject`] wrote it; `None` for a subject of another shape.
    pub fn type_token<'s>(&self, subject: &'s str) -> Option<&'s str> {
        let rest = subject.strip_prefix(self.subject_prefix.as_str())?.strip_prefix('.')?;
        rest.split_once('.').map(|(token, _)| token)
    }

    /// The token an aggregate type has in subjects.
    pub fn token_of_type(aggregate_type: &str) -> String {
        token(aggregate_type)
    }
}

fn token(part: &str) -> String {
    part.chars()
        .map(|c| {
            if c == '.' || c == '*' || c == '>' || c.is_whitespace() {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// Connects to NATS, retrying in the background if the server is down.
pub async fn connect(url: &str) -> Result<async_nats::Client, InfraError> {
    async_nats::ConnectOptions::new()
        .name("switchboard")
        .retry_on_initial_connect()
        .connection_timeout(Duration::from_secs(5))
        .connect(url)
        .await
        .map_err(|e| InfraError::Nats(e.to_string()))
}

/// The JetStream context with a bounded request time.
pub fn jetstream(client: async_nats::Client) -> jetstream::Context {
    jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(5))
        .build(client)
}

/// Creates the event stream if it does not exist: file storage, every event
/// kept (projectors can start from the beginning), de-duplication window.
pub async fn ensure_stream(js: &jetstream::Context, events: &EventStream) -> Result<stream::Stream, InfraError> {
    let config = stream::Config {
        name: events.name.clone(),
        subjects: vec![format!("{}.>", events.subject_prefix)],
        retention: stream::RetentionPolicy::Limits,
        storage: stream::StorageType::File,
        duplicate_window: DUPLICATE_WINDOW,
        ..Default::default()
    };
    js.get_or_create_stream(config)
        .await
        .map_err(|e| InfraError::Nats(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_never_contain_wildcards_from_ids() {
        let events = EventStream {
            name: "E".into(),
            subject_prefix: "sb.events".into(),
        };
        assert_eq!(events.subject("user", "a.b*c>d e"), "sb.events.user.a_b_c_d_e");
        assert_eq!(events.subjects_of_type("user"), "sb.events.user.>");
    }

    #[test]
    fn the_type_token_is_read_back_from_a_subject_of_the_stream_only() {
        let events = EventStream {
            name: "E".into(),
            subject_prefix: "sb.events".into(),
        };
        let subject = events.subject("api_key", "a.b");
        assert_eq!(events.type_token(&subject), Some("api_key"));
        assert_eq!(events.type_token("sb.eventsx.api_key.a"), None);
        assert_eq!(events.type_token("other.api_key.a"), None);
        assert_eq!(events.type_token("sb.events.api_key"), None);
    }
}
