//! Asking for a WhatsApp message: free-form only inside the 24-hour window
//! a customer's message opened, an approved synced template outside it, a
//! media file probed for its type and size; a replay answered as recorded.

use super::*;
use crate::messages::MediaFacts;
use domain::customer::phone_customer_id;
use domain::outbound_message::{MessageContent, MessageError, WhatsappOut};
use domain::whatsapp::{Media, MediaKind, TemplateHeaderValue, TemplateMessage};
use domain::whatsapp_template::{HeaderFormat, TemplateHeader, TemplateRule};

use crate::error::CommandError;

const PICTURE: &str = "https://cdn.example.com/parcel.png";
const MB: u64 = 1024 * 1024;

fn picture(message_id: u128) -> WhatsappInput {
    WhatsappInput {
        content: WhatsappContent::Media(Media {
            kind: MediaKind::Image,
            url: PICTURE.into(),
            caption: Some("Your parcel".into()),
            filename: None,
        }),
        ..text(message_id, CUSTOMER, "")
    }
}

fn shipped(name: &str, values: &[&str]) -> WhatsappInput {
    WhatsappInput {
        content: WhatsappContent::Template(TemplateMessage {
            name: name.into(),
            language: "en".into(),
            header: None,
            body: values.iter().map(|v| v.to_string()).collect(),
            buttons: Vec::new(),
        }),
        ..text(40, CUSTOMER, "")
    }
}

fn facts(content_type: &str, length: u64) -> Result<MediaFacts, String> {
    Ok(MediaFacts {
        content_type: Some(content_type.into()),
        length: Some(length),
    })
}

impl Harness {
    async fn whatsapp(&self, input: WhatsappInput) -> Result<OutboundMessage, MessagesError> {
        self.use_case().request_whatsapp(&admin(), input, &meta()).await
    }
}

/// The reason a 422 on `field` gives.
fn reason_on(field: &str, outcome: Result<OutboundMessage, MessagesError>) -> String {
    match outcome {
        Err(MessagesError::Invalid(e)) if e.field == field => e.reason,
        other => panic!("not a 422 on {field}: {other:?}"),
    }
}

#[tokio::test]
async fn a_free_form_message_to_a_customer_who_has_not_written_is_refused_as_outside_the_window() {
    let h = Harness::new().await;
    let refused = h.whatsapp(text(1, CUSTOMER, "Hello")).await.unwrap_err();
    assert!(
        matches!(&refused, MessagesError::WindowClosed(to) if to == CUSTOMER),
        "{refused:?}"
    );
    assert!(h.stored(Uuid::from_u128(1)).await.is_none());
    h.incoming("wamid-in-1", CUSTOMER_2, "hello").await;
    let other = h.whatsapp(text(1, CUSTOMER, "Hello")).await.unwrap_err();
    assert!(
        matches!(other, MessagesError::WindowClosed(_)),
        "another customer's message opens no window"
    );
}

#[tokio::test]
async fn a_customer_who_wrote_in_the_last_24_hours_may_be_answered_freely_and_not_after() {
    let h = Harness::new().await;
    h.incoming("wamid-in-1", CUSTOMER, "where is my parcel?").await;
    h.clock
        .set(afternoon() + chrono::Duration::hours(24) - chrono::Duration::seconds(1));
    let input = WhatsappInput {
        custom_data: Some("crm:7".into()),
        ..text(1, "09800000002", "It arrives today")
    };
    let message = h.whatsapp(input).await.unwrap();
    let (stored, version) = h.stored(Uuid::from_u128(1)).await.unwrap();
    assert_eq!((&stored, version), (&message, 1));
    let request = message.request.as_deref().unwrap();
    assert_eq!(request.to, CUSTOMER, "the number is kept in E.164");
    assert_eq!(request.customer_id, Some(phone_customer_id(ORG, CUSTOMER)));
    assert_eq!(request.requested_by, Some(ADMIN));
    assert_eq!(request.custom_data.as_deref(), Some("crm:7"));
    assert_eq!(
        (request.not_before, request.batch_id, &request.auto_reply),
        (None, None, &None)
    );
    let expected = WhatsappOut {
        from: OWN_NUMBER.into(),
        content: text(1, CUSTOMER, "It arrives today").content,
    };
    assert_eq!(request.content, MessageContent::Whatsapp(expected));
    h.clock.set(afternoon() + chrono::Duration::hours(24));
    let closed = h.whatsapp(text(2, CUSTOMER, "Still there?")).await.unwrap_err();
    assert!(matches!(closed, MessagesError::WindowClosed(_)), "{closed:?}");
}

#[tokio::test]
async fn an_approved_synced_template_goes_outside_the_window_and_an_unknown_or_unapproved_one_does_not() {
    let h = Harness::new().await;
    let paused = definition("promo", TemplateStatus::Paused);
    h.sync(vec![definition("order_shipped", TemplateStatus::Approved), paused])
        .await;
    let unknown = h.whatsapp(shipped("order_update", &["Asha", "A-1"])).await.unwrap_err();
    match unknown {
        MessagesError::UnknownTemplate { name, language } => {
            assert_eq!((name.as_str(), language.as_str()), ("order_update", "en"))
        }
        other => panic!("{other:?}"),
    }
    let not_approved = h.whatsapp(shipped("promo", &["Asha", "A-1"])).await.unwrap_err();
    match not_approved {
        MessagesError::TemplateRule(TemplateRule::NotApproved { name, status, .. }) => {
            assert_eq!((name.as_str(), status), ("promo", TemplateStatus::Paused))
        }
        other => panic!("{other:?}"),
    }
    let short = h.whatsapp(shipped("order_shipped", &["Asha"])).await.unwrap_err();
    match short {
        MessagesError::TemplateRule(TemplateRule::BodyVariables { expected, given, .. }) => {
            assert_eq!((expected, given), (2, 1))
        }
        other => panic!("{other:?}"),
    }
    assert!(h.stored(Uuid::from_u128(40)).await.is_none());
    let sent = h.whatsapp(shipped("order_shipped", &["Asha", "A-1"])).await.unwrap();
    assert!(sent.request.unwrap().content.channel() == domain::outbound_message::Channel::Whatsapp);
    assert!(
        h.probe.asked().is_empty(),
        "a template without media has no file to probe"
    );
}

#[tokio::test]
async fn a_media_file_is_probed_and_refused_by_its_type_its_size_or_an_unreachable_url() {
    let h = Harness::new().await;
    h.incoming("wamid-in-1", CUSTOMER, "send me a picture").await;
    h.probe.answer(PICTURE, facts("image/gif", 10));
    let reason = reason_on("content.url", h.whatsapp(picture(1)).await);
    assert!(reason.ends_with(": the URL answered image/gif of 10 bytes"), "{reason}");
    assert!(
        reason.starts_with("the media's type is not one WhatsApp takes"),
        "{reason}"
    );
    h.probe.answer(PICTURE, facts("image/png", 5 * MB + 1));
    let reason = reason_on("content.url", h.whatsapp(picture(1)).await);
    assert!(
        reason.starts_with("the media is larger than WhatsApp takes"),
        "{reason}"
    );
    assert!(reason.ends_with("image/png of 5242881 bytes"), "{reason}");
    h.probe.answer(
        PICTURE,
        Ok(MediaFacts {
            content_type: None,
            length: None,
        }),
    );
    let reason = reason_on("content.url", h.whatsapp(picture(1)).await);
    assert!(
        reason.ends_with("the URL answered no type of unknown bytes"),
        "{reason}"
    );
    h.probe.answer(PICTURE, Err("connection refused".into()));
    let reason = reason_on("content.url", h.whatsapp(picture(1)).await);
    assert!(
        reason.ends_with("could not be reached to check its type and size: connection refused"),
        "{reason}"
    );
    assert!(h.stored(Uuid::from_u128(1)).await.is_none());
    h.probe.answer(PICTURE, facts("image/png", 5 * MB));
    h.whatsapp(picture(1)).await.unwrap();
    assert_eq!(h.probe.asked(), [PICTURE; 5]);
}

#[tokio::test]
async fn a_template_with_a_media_header_has_its_file_probed() {
    let h = Harness::new().await;
    let invoice = TemplateDefinition {
        header: Some(TemplateHeader {
            format: HeaderFormat::Document,
            text: None,
        }),
        ..definition("invoice", TemplateStatus::Approved)
    };
    h.sync(vec![invoice]).await;
    let url = "https://cdn.example.com/invoice.pdf";
    let input = WhatsappInput {
        content: WhatsappContent::Template(TemplateMessage {
            name: "invoice".into(),
            language: "en".into(),
            header: Some(TemplateHeaderValue::Media {
                kind: MediaKind::Document,
                url: url.into(),
                filename: Some("invoice.pdf".into()),
            }),
            body: vec!["Asha".into(), "A-1".into()],
            buttons: Vec::new(),
        }),
        ..text(1, CUSTOMER, "")
    };
    h.probe.answer(url, facts("text/html", 100));
    let reason = reason_on("content.url", h.whatsapp(input.clone()).await);
    assert!(reason.ends_with("text/html of 100 bytes"), "{reason}");
    h.probe.answer(url, facts("application/pdf", 100));
    h.whatsapp(input).await.unwrap();
    assert_eq!(h.probe.asked(), [url; 2]);
}

#[tokio::test]
async fn a_replay_is_answered_as_recorded_without_checking_the_window_or_the_media_again() {
    let h = Harness::new().await;
    h.incoming("wamid-in-1", CUSTOMER, "send me a picture").await;
    h.probe.answer(PICTURE, facts("image/png", 1000));
    let first = h.whatsapp(picture(1)).await.unwrap();
    h.clock.set(afternoon() + chrono::Duration::days(2));
    h.probe.answer(PICTURE, Err("gone".into()));
    let again = h.whatsapp(picture(1)).await.unwrap();
    assert_eq!(again, first);
    assert_eq!(
        h.stored(Uuid::from_u128(1)).await.unwrap().1,
        1,
        "nothing new is recorded"
    );
    assert_eq!(h.probe.asked().len(), 1, "the media is not probed again");
    let changed = h.whatsapp(text(1, CUSTOMER, "something else")).await.unwrap_err();
    assert!(
        matches!(
            changed,
            MessagesError::Command(CommandError::Rejected(MessageError::MessageIdReused))
        ),
        "{changed:?}"
    );
}

#[tokio::test]
async fn a_message_breaking_a_whatsapp_limit_is_refused_naming_its_field() {
    let h = Harness::new().await;
    h.incoming("wamid-in-1", CUSTOMER, "hello").await;
    assert_eq!(
        field_of(h.whatsapp(text(1, CUSTOMER, " ")).await.unwrap_err()),
        "content.body"
    );
    assert_eq!(
        field_of(h.whatsapp(text(1, "not a number", "Hi")).await.unwrap_err()),
        "to"
    );
    let longer = WhatsappInput {
        custom_data: Some("x".repeat(2_001)),
        ..text(1, CUSTOMER, "Hi")
    };
    assert_eq!(field_of(h.whatsapp(longer).await.unwrap_err()), "custom_data");
    assert!(h.stored(Uuid::from_u128(1)).await.is_none());
    let longest = WhatsappInput {
        custom_data: Some("x".repeat(2_000)),
        ..text(1, CUSTOMER, "Hi")
    };
    assert!(h.whatsapp(longest).await.is_ok());
}

#[tokio::test]
async fn without_an_active_whatsapp_integration_nothing_is_recorded() {
    let h = Harness::new().await;
    h.incoming("wamid-in-1", CUSTOMER, "hello").await;
    h.disable(IntegrationKind::ExotelWhatsapp).await;
    let refused = h.whatsapp(text(1, CUSTOMER, "Hi")).await.unwrap_err();
    assert!(matches!(refused, MessagesError::WhatsappNotConfigured), "{refused:?}");
    assert!(h.stored(Uuid::from_u128(1)).await.is_none());
}
