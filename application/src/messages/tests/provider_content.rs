//! What Exotel is sent for each kind of WhatsApp content: Meta's Cloud API
//! shapes, pinned field by field.

use serde_json::json;

use super::*;
use crate::exotel::WhatsappOutcome;
use crate::messages::{Attempt, meta_content};
use domain::outbound_message::Dispatch;
use domain::whatsapp::{
    Interactive, ListRow, ListSection, Location, Media, MediaKind, ReplyButton, TemplateButtonValue,
    TemplateHeaderValue, TemplateMessage,
};

fn media(kind: MediaKind, caption: Option<&str>, filename: Option<&str>) -> WhatsappContent {
    WhatsappContent::Media(Media {
        kind,
        url: "https://cdn.example.com/f".into(),
        caption: caption.map(str::to_string),
        filename: filename.map(str::to_string),
    })
}

#[test]
fn text_and_media_go_as_meta_shapes_them_each_kind_under_its_own_word() {
    let text = WhatsappContent::Text {
        body: "Hi".into(),
        preview_url: true,
    };
    let expected = json!({"recipient_type": "individual", "type": "text", "text": {"preview_url": true, "body": "Hi"}});
    assert_eq!(meta_content(&text), expected);
    let image = media(MediaKind::Image, Some("Your parcel"), None);
    let expected = json!({"type": "image", "image": {"link": "https://cdn.example.com/f", "caption": "Your parcel"}});
    assert_eq!(meta_content(&image), expected);
    let document = media(MediaKind::Document, None, Some("invoice.pdf"));
    let expected =
        json!({"type": "document", "document": {"link": "https://cdn.example.com/f", "filename": "invoice.pdf"}});
    assert_eq!(meta_content(&document), expected);
    for (kind, word) in [
        (MediaKind::Audio, "audio"),
        (MediaKind::Video, "video"),
        (MediaKind::Sticker, "sticker"),
    ] {
        let expected = json!({"type": word, word: {"link": "https://cdn.example.com/f"}});
        assert_eq!(meta_content(&media(kind, None, None)), expected);
    }
    let place = WhatsappContent::Location(Location {
        latitude: 12.5,
        longitude: 77.25,
        name: Some("Depot".into()),
        address: None,
    });
    let expected = json!({"type": "location", "location": {"latitude": 12.5, "longitude": 77.25, "name": "Depot", "address": null}});
    assert_eq!(meta_content(&place), expected);
}

#[test]
fn a_template_goes_with_its_language_header_body_and_url_buttons_as_components() {
    let template = |header, body: Vec<&str>| {
        WhatsappContent::Template(TemplateMessage {
            name: "order_shipped".into(),
            language: "en".into(),
            header,
            body: body.into_iter().map(str::to_string).collect(),
            buttons: vec![TemplateButtonValue {
                index: 1,
                text: "A-1".into(),
            }],
        })
    };
    let button =
        json!({"type": "button", "sub_type": "url", "index": "1", "parameters": [{"type": "text", "text": "A-1"}]});
    let text_header = Some(TemplateHeaderValue::Text { text: "Asha".into() });
    let expected = json!({"type": "template", "template": {"name": "order_shipped", "language": {"code": "en"}, "components": [
        {"type": "header", "parameters": [{"type": "text", "text": "Asha"}]},
        {"type": "body", "parameters": [{"type": "text", "text": "Asha"}, {"type": "text", "text": "A-1"}]},
        button,
    ]}});
    assert_eq!(meta_content(&template(text_header, vec!["Asha", "A-1"])), expected);
    let document = Some(TemplateHeaderValue::Media {
        kind: MediaKind::Document,
        url: "https://cdn.example.com/invoice.pdf".into(),
        filename: Some("invoice.pdf".into()),
    });
    let header = json!({"type": "header", "parameters": [{"type": "document",
        "document": {"link": "https://cdn.example.com/invoice.pdf", "filename": "invoice.pdf"}}]});
    let expected = json!({"type": "template", "template": {"name": "order_shipped", "language": {"code": "en"},
        "components": [header, button]}});
    assert_eq!(
        meta_content(&template(document, vec![])),
        expected,
        "no body component without values"
    );
}

#[test]
fn reply_buttons_and_lists_go_as_interactive_messages_with_their_frame() {
    let buttons = WhatsappContent::Interactive(Interactive::Buttons {
        body: "Was it delivered?".into(),
        header: Some("Order A-1".into()),
        footer: Some("Acme".into()),
        buttons: vec![ReplyButton {
            id: "yes".into(),
            title: "Yes".into(),
        }],
    });
    let expected = json!({"type": "interactive", "interactive": {
        "type": "button",
        "body": {"text": "Was it delivered?"},
        "header": {"type": "text", "text": "Order A-1"},
        "footer": {"text": "Acme"},
        "action": {"buttons": [{"type": "reply", "reply": {"id": "yes", "title": "Yes"}}]},
    }});
    assert_eq!(meta_content(&buttons), expected);
    let list = WhatsappContent::Interactive(Interactive::List {
        body: "Pick a slot".into(),
        header: None,
        footer: None,
        button: "Slots".into(),
        sections: vec![ListSection {
            title: Some("Today".into()),
            rows: vec![ListRow {
                id: "am".into(),
                title: "Morning".into(),
                description: Some("9 to 12".into()),
            }],
        }],
    });
    let expected = json!({"type": "interactive", "interactive": {
        "type": "list",
        "body": {"text": "Pick a slot"},
        "action": {"button": "Slots", "sections": [{"title": "Today",
            "rows": [{"id": "am", "title": "Morning", "description": "9 to 12"}]}]},
    }});
    assert_eq!(meta_content(&list), expected);
}

#[tokio::test]
async fn a_whatsapp_message_refused_by_exotel_or_without_an_active_integration_is_refused() {
    let h = Harness::new().await;
    h.incoming("wamid-in-1", CUSTOMER, "hello").await;
    for id in [1, 2] {
        let input = text(id, CUSTOMER, "Your parcel arrives today");
        h.use_case().request_whatsapp(&admin(), input, &meta()).await.unwrap();
    }
    let refusal = WhatsappOutcome::Refused {
        code: Some(1008),
        message: "the recipient is not on WhatsApp".into(),
    };
    h.exotel.answer_whatsapp(Ok(vec![refusal]));
    let attempt = h.use_case().dispatch(Uuid::from_u128(1)).await.unwrap();
    assert_eq!(
        attempt,
        Attempt::Refused {
            message: "the recipient is not on WhatsApp".into()
        }
    );
    let (refused, _) = h.stored(Uuid::from_u128(1)).await.unwrap();
    let kept = refused.refusal.unwrap();
    assert_eq!((kept.http_status, kept.code), (202, Some(1008)));
    h.disable(IntegrationKind::ExotelWhatsapp).await;
    let attempt = h.use_case().dispatch(Uuid::from_u128(2)).await.unwrap();
    let message = MessagesError::WhatsappNotConfigured.to_string();
    assert_eq!(attempt, Attempt::Refused { message });
    assert_eq!(
        h.stored(Uuid::from_u128(2)).await.unwrap().0.dispatch,
        Dispatch::Refused
    );
    assert_eq!(
        h.exotel.whatsapp_sent().len(),
        1,
        "nothing was sent without the integration"
    );
}
