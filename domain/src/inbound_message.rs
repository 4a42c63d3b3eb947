//! A message a customer sent to one of the organisation's numbers (a
//! WhatsApp message, for now), recorded once as it was received. The id is
//! derived from the organisation and the provider's message id, so the
//! same callback twice, or from two processes, is one message.

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::OrganisationId;
use crate::outbound_message::Channel;

const INBOUND_NAMESPACE: Uuid = Uuid::from_u128(0x5b1c_0a2e_7d41_4e3a_9f10_8c3e_2a9d_0015);

/// The id of the message the provider knows by `provider_sid`.
pub fn inbound_message_id(organisation_id: OrganisationId, channel: Channel, provider_sid: &str) -> Uuid {
    let channel = match channel {
        Channel::Sms => "sms",
        Channel::Whatsapp => "whatsapp",
    };
    Uuid::new_v5(
        &INBOUND_NAMESPACE,
        format!("{organisation_id}/{channel}/{provider_sid}").as_bytes(),
    )
}

/// What the customer sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InboundContent {
    Text {
        body: String,
    },
    /// An image, document, audio, video or sticker, at the provider.
    Media {
        kind: String,
        url: Option<String>,
        caption: Option<String>,
        mime_type: Option<String>,
    },
    Location {
        latitude: f64,
        longitude: f64,
        name: Option<String>,
        address: Option<String>,
    },
    /// A tap on a reply button (or a template's quick reply).
    ButtonReply {
        id: Option<String>,
        title: String,
    },
    /// A row picked from a list.
    ListReply {
        id: Option<String>,
        title: String,
        description: Option<String>,
    },
    /// Anything else, kept by its provider type.
    Other {
        kind: String,
    },
}

impl InboundContent {
    /// The text it shows: a text's body, a caption, a place's name or the
    /// title of the reply chosen.
    pub fn text(&self) -> Option<&str> {
        match self {
            Self::Text { body } => Some(body),
            Self::Media { caption, .. } => caption.as_deref(),
            Self::Location { name, .. } => name.as_deref(),
            Self::ButtonReply { title, .. } | Self::ListReply { title, .. } => Some(title),
            Self::Other { .. } => None,
        }
    }
}

/// A message as received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceivedMessage {
    pub organisation_id: OrganisationId,
    pub channel: Channel,
    pub provider_sid: String,
    /// The customer's number, E.164.
    pub from: String,
    /// The organisation's number it reached, E.164.
    pub to: String,
    /// The customer the number is, when linked.
    #[serde(default)]
    pub customer_id: Option<Uuid>,
    /// The customer's name as their profile shows it.
    pub profile_name: Option<String>,
    pub content: InboundContent,
    /// The provider id of the message this one answers.
    pub context_sid: Option<String>,
    pub received_at: DateTime<Utc>,
    /// The thread it joined, chosen when it was received.
    #[serde(default)]
    pub thread_id: Option<Uuid>,
}

/// A customer's media file, fetched from the provider and kept by content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaFile {
    /// Lower-case hex; where the file is kept.
    pub sha256: String,
    pub content_type: String,
    pub size_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum InboundMessageCommand {
    /// Records the message; once recorded, the same message again changes nothing.
    Receive { message: Box<ReceivedMessage> },
    /// Records the media file fetched for a media message; kept once.
    KeepMedia { file: MediaFile, at: DateTime<Utc> },
    /// Records that the provider no longer has the media (it is not asked again).
    MediaUnavailable { reason: String, at: DateTime<Utc> },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum InboundMessageEvent {
    InboundMessageReceived { message: Box<ReceivedMessage> },
    InboundMediaKept { file: MediaFile, at: DateTime<Utc> },
    InboundMediaUnavailable { reason: String, at: DateTime<Utc> },
}

impl DomainEvent for InboundMessageEvent {
    fn event_type(&self) -> String {
        match self {
            Self::InboundMessageReceived { .. } => "InboundMessageReceived".to_string(),
            Self::InboundMediaKept { .. } => "InboundMediaKept".to_string(),
            Self::InboundMediaUnavailable { .. } => "InboundMediaUnavailable".to_string(),
        }
    }

    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

/// A repeat is a no-op; only media commands can be refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InboundMessageError {
    /// No message was received under this id.
    #[error("no such message")]
    NotFound,
    /// The message carries no media.
    #[error("the message carries no media")]
    NoMedia,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundMessage {
    pub message: Option<Box<ReceivedMessage>>,
    /// Its media file, once fetched and kept.
    #[serde(default)]
    pub media: Option<MediaFile>,
    /// Why the media could not be fetched, once the provider said it is gone.
    #[serde(default)]
    pub media_unavailable: Option<String>,
}

impl InboundMessage {
    /// The provider's URL of the message's media, while it has to be fetched.
    pub fn media_to_fetch(&self) -> Option<&str> {
        match &self.message.as_deref()?.content {
            InboundContent::Media { url: Some(url), .. }
                if self.media.is_none() && self.media_unavailable.is_none() =>
            {
                Some(url)
            }
            _ => None,
        }
    }

    fn decide(&self, command: InboundMessageCommand) -> Result<Vec<InboundMessageEvent>, InboundMessageError> {
        if let InboundMessageCommand::Receive { message } = command {
            return Ok(match self.message {
                Some(_) => Vec::new(),
                None => vec![InboundMessageEvent::InboundMessageReceived { message }],
            });
        }
        let message = self.message.as_deref().ok_or(InboundMessageError::NotFound)?;
        if !matches!(message.content, InboundContent::Media { .. }) {
            return Err(InboundMessageError::NoMedia);
        }
        let settled = self.media.is_some() || self.media_unavailable.is_some();
        Ok(match (command, settled) {
            (_, true) | (InboundMessageCommand::Receive { .. }, _) => Vec::new(),
            (InboundMessageCommand::KeepMedia { file, at }, false) => {
                vec![InboundMessageEvent::InboundMediaKept { file, at }]
            }
            (InboundMessageCommand::MediaUnavailable { reason, at }, false) => {
                vec![InboundMessageEvent::InboundMediaUnavailable { reason, at }]
            }
        })
    }

    /// The organisation's message, if this is one.
    pub fn of(&self, organisation_id: OrganisationId) -> Option<&ReceivedMessage> {
        self.message.as_deref().filter(|m| m.organisation_id == organisation_id)
    }
}

impl Aggregate for InboundMessage {
    const TYPE: &'static str = "inbound_message";
    type Command = InboundMessageCommand;
    type Event = InboundMessageEvent;
    type Error = InboundMessageError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Result<(), Self::Error> {
        let events = self.decide(command)?;
        crate::write_all(self, sink, events).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            InboundMessageEvent::InboundMessageReceived { message } => self.message = Some(message),
            InboundMessageEvent::InboundMediaKept { file, .. } => self.media = Some(file),
            InboundMessageEvent::InboundMediaUnavailable { reason, .. } => self.media_unavailable = Some(reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use cqrs_es::test::TestFramework;

    const ORG: Uuid = Uuid::from_u128(1);

    fn message(body: &str) -> Box<ReceivedMessage> {
        Box::new(ReceivedMessage {
            organisation_id: ORG,
            channel: Channel::Whatsapp,
            provider_sid: "wamid-1".into(),
            from: "+919812300002".into(),
            to: "+918047112233".into(),
            customer_id: None,
            profile_name: Some("Asha".into()),
            content: InboundContent::Text { body: body.into() },
            context_sid: None,
            received_at: Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap(),
            thread_id: None,
        })
    }

    #[test]
    fn a_message_is_recorded_once_however_often_it_arrives() {
        TestFramework::<InboundMessage>::with(())
            .given_no_previous_events()
            .when(InboundMessageCommand::Receive { message: message("Hi") })
            .then_expect_events(vec![InboundMessageEvent::InboundMessageReceived {
                message: message("Hi"),
            }]);
        TestFramework::<InboundMessage>::with(())
            .given(vec![InboundMessageEvent::InboundMessageReceived {
                message: message("Hi"),
            }])
            .when(InboundMessageCommand::Receive {
                message: message("Hi again"),
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_message_belongs_to_its_organisation_and_its_id_to_its_provider_id() {
        let mut inbound = InboundMessage::default();
        assert_eq!(inbound.of(ORG), None);
        inbound.apply(InboundMessageEvent::InboundMessageReceived { message: message("Hi") });
        assert_eq!(inbound.of(ORG).map(|m| m.from.as_str()), Some("+919812300002"));
        assert_eq!(inbound.of(Uuid::from_u128(2)), None);
        let id = inbound_message_id(ORG, Channel::Whatsapp, "wamid-1");
        assert_eq!(id, inbound_message_id(ORG, Channel::Whatsapp, "wamid-1"));
        assert_ne!(id, inbound_message_id(ORG, Channel::Sms, "wamid-1"));
        assert_ne!(id, inbound_message_id(ORG, Channel::Whatsapp, "wamid-2"));
        assert_ne!(id, inbound_message_id(Uuid::from_u128(2), Channel::Whatsapp, "wamid-1"));
        let event = InboundMessageEvent::InboundMessageReceived { message: message("Hi") };
        assert_eq!(
            (event.event_type(), event.event_version()),
            ("InboundMessageReceived".into(), "1.0".into())
        );
    }

    fn photo() -> Box<ReceivedMessage> {
        let mut photo = message("");
        photo.content = InboundContent::Media {
            kind: "image".into(),
            url: Some("https://media.exotel.example/m/1".into()),
            caption: None,
            mime_type: Some("image/jpeg".into()),
        };
        photo
    }

    fn file() -> MediaFile {
        MediaFile {
            sha256: "ab".repeat(32),
            content_type: "image/jpeg".into(),
            size_bytes: 12,
        }
    }

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 5).unwrap()
    }

    fn received(message: Box<ReceivedMessage>) -> InboundMessageEvent {
        InboundMessageEvent::InboundMessageReceived { message }
    }

    #[test]
    fn a_media_message_keeps_its_file_once_and_is_then_no_longer_to_fetch() {
        let keep = || InboundMessageCommand::KeepMedia { file: file(), at: at() };
        TestFramework::<InboundMessage>::with(())
            .given(vec![received(photo())])
            .when(keep())
            .then_expect_events(vec![InboundMessageEvent::InboundMediaKept { file: file(), at: at() }]);
        let kept = InboundMessageEvent::InboundMediaKept { file: file(), at: at() };
        TestFramework::<InboundMessage>::with(())
            .given(vec![received(photo()), kept.clone()])
            .when(keep())
            .then_expect_events(vec![]);
        let mut inbound = InboundMessage::default();
        inbound.apply(received(photo()));
        assert_eq!(inbound.media_to_fetch(), Some("https://media.exotel.example/m/1"));
        inbound.apply(kept);
        assert_eq!(inbound.media, Some(file()));
        assert_eq!(inbound.media_to_fetch(), None);
        assert_eq!(kept_type(), ("InboundMediaKept".into(), "1.0".into()));
    }

    fn kept_type() -> (String, String) {
        let event = InboundMessageEvent::InboundMediaKept { file: file(), at: at() };
        (event.event_type(), event.event_version())
    }

    #[test]
    fn media_the_provider_no_longer_has_is_recorded_once_and_not_fetched_again() {
        let gone = || InboundMessageCommand::MediaUnavailable {
            reason: "404".into(),
            at: at(),
        };
        let unavailable = InboundMessageEvent::InboundMediaUnavailable {
            reason: "404".into(),
            at: at(),
        };
        TestFramework::<InboundMessage>::with(())
            .given(vec![received(photo())])
            .when(gone())
            .then_expect_events(vec![unavailable.clone()]);
        TestFramework::<InboundMessage>::with(())
            .given(vec![received(photo()), unavailable.clone()])
            .when(InboundMessageCommand::KeepMedia { file: file(), at: at() })
            .then_expect_events(vec![]);
        let mut inbound = InboundMessage::default();
        inbound.apply(received(photo()));
        inbound.apply(unavailable.clone());
        assert_eq!(inbound.media_unavailable.as_deref(), Some("404"));
        assert_eq!(inbound.media_to_fetch(), None);
        assert_eq!(unavailable.event_type(), "InboundMediaUnavailable");
    }

    #[test]
    fn only_a_received_media_message_takes_a_file() {
        TestFramework::<InboundMessage>::with(())
            .given_no_previous_events()
            .when(InboundMessageCommand::KeepMedia { file: file(), at: at() })
            .then_expect_error(InboundMessageError::NotFound);
        TestFramework::<InboundMessage>::with(())
            .given(vec![received(message("Hi"))])
            .when(InboundMessageCommand::KeepMedia { file: file(), at: at() })
            .then_expect_error(InboundMessageError::NoMedia);
        let mut text = InboundMessage::default();
        text.apply(received(message("Hi")));
        assert_eq!(text.media_to_fetch(), None);
        let mut linkless = InboundMessage::default();
        let mut photo = photo();
        photo.content = InboundContent::Media {
            kind: "image".into(),
            url: None,
            caption: None,
            mime_type: None,
        };
        linkless.apply(received(photo));
        assert_eq!(linkless.media_to_fetch(), None);
    }

    #[test]
    fn the_text_a_message_shows_is_its_body_caption_place_or_reply_title() {
        let text = InboundContent::Text { body: "Hi".into() };
        assert_eq!(text.text(), Some("Hi"));
        let captioned = InboundContent::Media {
            kind: "image".into(),
            url: None,
            caption: Some("Torn".into()),
            mime_type: None,
        };
        assert_eq!(captioned.text(), Some("Torn"));
        let place = InboundContent::Location {
            latitude: 12.9,
            longitude: 77.6,
            name: Some("Store".into()),
            address: None,
        };
        assert_eq!(place.text(), Some("Store"));
        let button = InboundContent::ButtonReply {
            id: None,
            title: "Yes".into(),
        };
        assert_eq!(button.text(), Some("Yes"));
        let row = InboundContent::ListReply {
            id: None,
            title: "6 pm".into(),
            description: None,
        };
        assert_eq!(row.text(), Some("6 pm"));
        assert_eq!(
            InboundContent::Other {
                kind: "reaction".into()
            }
            .text(),
            None
        );
    }
}
