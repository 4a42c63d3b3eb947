use super::*;
use crate::whatsapp::{TemplateButtonValue, WhatsappContent, WhatsappRule};
use cqrs_es::test::TestFramework;

type Fixture = TestFramework<WhatsappTemplate>;

const ORG: Uuid = Uuid::from_u128(7);

fn at() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z").unwrap().to_utc()
}

fn order_update() -> TemplateDefinition {
    TemplateDefinition {
        provider_id: "1189".into(),
        name: "order_update".into(),
        language: "en".into(),
        category: "UTILITY".into(),
        status: TemplateStatus::Approved,
        rejected_reason: None,
        header: None,
        body: "Hi {{1}}, your order {{2}} is on its way.".into(),
        footer: None,
        buttons: Vec::new(),
    }
}

fn message(body: &[&str]) -> TemplateMessage {
    TemplateMessage {
        name: "order_update".into(),
        language: "en".into(),
        header: None,
        body: body.iter().map(|v| v.to_string()).collect(),
        buttons: Vec::new(),
    }
}

fn synced(definition: TemplateDefinition) -> WhatsappTemplateEvent {
    WhatsappTemplateEvent::WhatsappTemplateSynced {
        organisation_id: ORG,
        definition: Box::new(definition),
        at: at(),
    }
}

fn sync(definition: TemplateDefinition) -> WhatsappTemplateCommand {
    WhatsappTemplateCommand::Sync {
        organisation_id: ORG,
        definition: Box::new(definition),
        at: at(),
    }
}

#[test]
fn the_id_is_the_organisations_name_and_language_whatever_the_languages_case() {
    let id = whatsapp_template_id(ORG, "order_update", "en_US");
    assert_eq!(id, whatsapp_template_id(ORG, "order_update", "EN_us"));
    assert_ne!(id, whatsapp_template_id(ORG, "order_update", "hi"));
    assert_ne!(id, whatsapp_template_id(ORG, "order_updates", "en_US"));
    assert_ne!(id, whatsapp_template_id(Uuid::from_u128(8), "order_update", "en_US"));
}

#[test]
fn statuses_are_read_in_any_case_and_an_unknown_one_is_other() {
    assert_eq!(TemplateStatus::parse("approved"), TemplateStatus::Approved);
    assert_eq!(TemplateStatus::parse(" PENDING "), TemplateStatus::Pending);
    assert_eq!(TemplateStatus::parse("Rejected"), TemplateStatus::Rejected);
    assert_eq!(TemplateStatus::parse("PAUSED"), TemplateStatus::Paused);
    assert_eq!(TemplateStatus::parse("disabled"), TemplateStatus::Disabled);
    assert_eq!(TemplateStatus::parse("IN_APPEAL"), TemplateStatus::InAppeal);
    assert_eq!(TemplateStatus::parse("LIMIT_EXCEEDED"), TemplateStatus::Other);
}

#[test]
fn variables_count_the_highest_placeholder_however_spaced_or_repeated() {
    assert_eq!(variables("no variables"), 0);
    assert_eq!(variables("Hi {{1}}, order {{2}}"), 2);
    assert_eq!(variables("{{2}} then {{1}} then {{2}}"), 2);
    assert_eq!(variables("{{ 3 }}"), 3);
    assert_eq!(variables("{{name}} {{1}}"), 1);
    assert_eq!(variables("broken {{1"), 0);
}

#[test]
fn a_first_sync_records_the_template() {
    Fixture::with(())
        .given_no_previous_events()
        .when(sync(order_update()))
        .then_expect_events(vec![synced(order_update())]);
}

#[test]
fn the_same_template_synced_again_records_nothing() {
    Fixture::with(())
        .given(vec![synced(order_update())])
        .when(sync(order_update()))
        .then_expect_events(vec![]);
}

#[test]
fn a_status_that_changed_at_the_provider_is_recorded() {
    let paused = TemplateDefinition {
        status: TemplateStatus::Paused,
        rejected_reason: Some("LOW_QUALITY".into()),
        ..order_update()
    };
    Fixture::with(())
        .given(vec![synced(order_update())])
        .when(sync(paused.clone()))
        .then_expect_events(vec![synced(paused)]);
}

#[test]
fn another_organisations_template_is_not_overwritten() {
    let theirs = WhatsappTemplateEvent::WhatsappTemplateSynced {
        organisation_id: Uuid::from_u128(8),
        definition: Box::new(order_update()),
        at: at(),
    };
    Fixture::with(())
        .given(vec![theirs])
        .when(sync(order_update()))
        .then_expect_error(WhatsappTemplateError::OtherOrganisation);
}

#[test]
fn a_sync_under_another_name_or_language_is_refused() {
    let renamed = TemplateDefinition {
        name: "order_updated".into(),
        ..order_update()
    };
    Fixture::with(())
        .given(vec![synced(order_update())])
        .when(sync(renamed))
        .then_expect_error(WhatsappTemplateError::Renamed);
    let hindi = TemplateDefinition {
        language: "hi".into(),
        ..order_update()
    };
    Fixture::with(())
        .given(vec![synced(order_update())])
        .when(sync(hindi))
        .then_expect_error(WhatsappTemplateError::Renamed);
    let upper = TemplateDefinition {
        language: "EN".into(),
        status: TemplateStatus::Paused,
        ..order_update()
    };
    Fixture::with(())
        .given(vec![synced(order_update())])
        .when(sync(upper.clone()))
        .then_expect_events(vec![synced(upper)]);
}

#[test]
fn a_template_the_provider_no_longer_lists_is_removed_once() {
    Fixture::with(())
        .given(vec![synced(order_update())])
        .when(WhatsappTemplateCommand::Remove { at: at() })
        .then_expect_events(vec![WhatsappTemplateEvent::WhatsappTemplateRemoved { at: at() }]);
    Fixture::with(())
        .given(vec![
            synced(order_update()),
            WhatsappTemplateEvent::WhatsappTemplateRemoved { at: at() },
        ])
        .when(WhatsappTemplateCommand::Remove { at: at() })
        .then_expect_events(vec![]);
}

#[test]
fn a_removed_template_is_no_longer_the_organisations_and_comes_back_when_listed_again() {
    let mut template = WhatsappTemplate::default();
    template.apply(synced(order_update()));
    assert_eq!(template.of(ORG), Some(&order_update()));
    assert_eq!(template.of(Uuid::from_u128(8)), None);
    template.apply(WhatsappTemplateEvent::WhatsappTemplateRemoved { at: at() });
    assert_eq!(template.of(ORG), None);
    Fixture::with(())
        .given(vec![
            synced(order_update()),
            WhatsappTemplateEvent::WhatsappTemplateRemoved { at: at() },
        ])
        .when(sync(order_update()))
        .then_expect_events(vec![synced(order_update())]);
}

#[test]
fn an_approved_template_filled_in_full_passes() {
    assert_eq!(order_update().check(&message(&["Asha", "A-1042"])), Ok(()));
}

#[test]
fn a_template_that_is_not_approved_cannot_be_sent() {
    for status in [
        TemplateStatus::Pending,
        TemplateStatus::Rejected,
        TemplateStatus::Paused,
        TemplateStatus::Disabled,
        TemplateStatus::InAppeal,
        TemplateStatus::Other,
    ] {
        let definition = TemplateDefinition {
            status,
            ..order_update()
        };
        let refused = definition.check(&message(&["Asha", "A-1042"])).unwrap_err();
        assert_eq!(
            refused,
            TemplateRule::NotApproved {
                name: "order_update".into(),
                language: "en".into(),
                status
            }
        );
        assert_eq!(refused.field(), "content.name");
    }
}

#[test]
fn a_wrong_number_of_body_variables_is_refused_naming_both_counts() {
    let refused = order_update().check(&message(&["Asha"])).unwrap_err();
    assert_eq!(
        refused,
        TemplateRule::BodyVariables {
            name: "order_update".into(),
            expected: 2,
            given: 1
        }
    );
    assert_eq!(refused.field(), "content.body");
    assert!(refused.to_string().contains("takes 2 body variables; 1 were given"));
    assert!(order_update().check(&message(&["a", "b", "c"])).is_err());
}

fn with_header(format: HeaderFormat, text: Option<&str>) -> TemplateDefinition {
    TemplateDefinition {
        header: Some(TemplateHeader {
            format,
            text: text.map(str::to_string),
        }),
        ..order_update()
    }
}

fn image() -> TemplateHeaderValue {
    TemplateHeaderValue::Media {
        kind: MediaKind::Image,
        url: "https://cdn.example.com/a.jpg".into(),
        filename: None,
    }
}

#[test]
fn a_media_header_needs_media_of_its_kind() {
    let definition = with_header(HeaderFormat::Image, None);
    let mut filled = message(&["Asha", "A-1042"]);
    let refused = definition.check(&filled).unwrap_err();
    assert_eq!(refused.field(), "content.header");
    assert!(refused.to_string().contains("image"), "{refused}");
    filled.header = Some(image());
    assert_eq!(definition.check(&filled), Ok(()));
    let video = with_header(HeaderFormat::Video, None);
    assert!(video.check(&filled).is_err());
    assert_eq!(HeaderFormat::Document.media(), Some(MediaKind::Document));
    assert_eq!(HeaderFormat::Location.media(), None);
}

#[test]
fn a_text_header_takes_a_value_only_when_it_has_a_variable() {
    let fixed = with_header(HeaderFormat::Text, Some("Your order"));
    let mut filled = message(&["Asha", "A-1042"]);
    assert_eq!(fixed.check(&filled), Ok(()));
    filled.header = Some(TemplateHeaderValue::Text { text: "x".into() });
    let refused = fixed.check(&filled).unwrap_err();
    assert!(refused.to_string().contains("a fixed text"), "{refused}");
    let variable = with_header(HeaderFormat::Text, Some("Order {{1}}"));
    assert_eq!(variable.check(&filled), Ok(()));
    filled.header = None;
    let refused = variable.check(&filled).unwrap_err();
    assert!(refused.to_string().contains("one variable"), "{refused}");
    filled.header = Some(image());
    assert!(variable.check(&filled).is_err());
}

#[test]
fn a_header_the_template_lacks_is_refused_and_a_location_header_needs_none() {
    let mut filled = message(&["Asha", "A-1042"]);
    filled.header = Some(image());
    let refused = order_update().check(&filled).unwrap_err();
    assert!(refused.to_string().contains("absent"), "{refused}");
    let location = with_header(HeaderFormat::Location, None);
    filled.header = None;
    assert_eq!(location.check(&filled), Ok(()));
}

fn with_buttons() -> TemplateDefinition {
    TemplateDefinition {
        buttons: vec![
            TemplateButton {
                kind: ButtonKind::QuickReply,
                text: "Thanks".into(),
                url: None,
            },
            TemplateButton {
                kind: ButtonKind::Url,
                text: "Track".into(),
                url: Some("https://track.example.com/{{1}}".into()),
            },
            TemplateButton {
                kind: ButtonKind::Url,
                text: "Help".into(),
                url: Some("https://help.example.com".into()),
            },
        ],
        ..order_update()
    }
}

fn value(index: usize) -> TemplateButtonValue {
    TemplateButtonValue {
        index,
        text: "A-1042".into(),
    }
}

#[test]
fn a_url_button_with_a_variable_needs_its_value() {
    let definition = with_buttons();
    assert!(!definition.buttons[0].takes_value());
    assert!(definition.buttons[1].takes_value());
    assert!(!definition.buttons[2].takes_value());
    let mut filled = message(&["Asha", "A-1042"]);
    let refused = definition.check(&filled).unwrap_err();
    assert_eq!(
        refused,
        TemplateRule::MissingButton {
            name: "order_update".into(),
            index: 1
        }
    );
    assert_eq!(refused.field(), "content.buttons");
    filled.buttons = vec![value(1)];
    assert_eq!(definition.check(&filled), Ok(()));
}

#[test]
fn a_value_for_a_button_that_takes_none_is_refused() {
    let definition = with_buttons();
    for index in [0, 2, 3] {
        let mut filled = message(&["Asha", "A-1042"]);
        filled.buttons = vec![value(1), value(index)];
        assert_eq!(
            definition.check(&filled),
            Err(TemplateRule::UnknownButton {
                name: "order_update".into(),
                index
            })
        );
    }
}

fn content(template: TemplateMessage) -> WhatsappContent {
    WhatsappContent::Template(template)
}

#[test]
fn a_template_message_is_checked_for_wellformed_names_values_headers_and_buttons() {
    assert_eq!(content(message(&["Asha", "A-1042"])).check(), Ok(()));
    let broken = |f: &dyn Fn(&mut TemplateMessage)| {
        let mut m = message(&["Asha", "A-1042"]);
        f(&mut m);
        content(m).check().unwrap_err()
    };
    assert_eq!(broken(&|m| m.name = "Order-Update".into()), WhatsappRule::TemplateName);
    assert_eq!(broken(&|m| m.name = String::new()), WhatsappRule::TemplateName);
    assert_eq!(broken(&|m| m.name = "a".repeat(513)), WhatsappRule::TemplateName);
    assert_eq!(broken(&|m| m.language = "e".into()), WhatsappRule::TemplateLanguage);
    assert_eq!(broken(&|m| m.language = "en US".into()), WhatsappRule::TemplateLanguage);
    assert_eq!(broken(&|m| m.body[0] = " ".into()), WhatsappRule::TemplateValue);
    assert_eq!(
        broken(&|m| m.body[0] = "two\nlines".into()),
        WhatsappRule::TemplateValue
    );
    assert_eq!(broken(&|m| m.body[0] = "x".repeat(1_025)), WhatsappRule::TemplateValue);
    assert_eq!(broken(&|m| m.body = vec!["v".into(); 101]), WhatsappRule::TemplateValue);
    assert_eq!(
        broken(&|m| m.header = Some(TemplateHeaderValue::Text { text: "x".repeat(61) })),
        WhatsappRule::TemplateHeader
    );
    let sticker = TemplateHeaderValue::Media {
        kind: MediaKind::Sticker,
        url: "https://cdn.example.com/a.webp".into(),
        filename: None,
    };
    assert_eq!(
        broken(&|m| m.header = Some(sticker.clone())),
        WhatsappRule::TemplateHeader
    );
    let local = TemplateHeaderValue::Media {
        kind: MediaKind::Image,
        url: "ftp://cdn.example.com/a.jpg".into(),
        filename: None,
    };
    assert_eq!(
        broken(&|m| m.header = Some(local.clone())),
        WhatsappRule::TemplateHeader
    );
    assert_eq!(
        broken(&|m| m.buttons = vec![value(1), value(1)]),
        WhatsappRule::TemplateButton
    );
    let empty = TemplateButtonValue {
        index: 0,
        text: String::new(),
    };
    assert_eq!(
        broken(&|m| m.buttons = vec![empty.clone()]),
        WhatsappRule::TemplateButton
    );
    assert_eq!(WhatsappRule::TemplateName.field(), "content.name");
    assert_eq!(WhatsappRule::TemplateLanguage.field(), "content.language");
    assert_eq!(WhatsappRule::TemplateValue.field(), "content.body");
    assert_eq!(WhatsappRule::TemplateHeader.field(), "content.header");
    assert_eq!(WhatsappRule::TemplateButton.field(), "content.buttons");
    let longest = TemplateMessage {
        name: "a".repeat(512),
        language: "en_US".into(),
        header: Some(TemplateHeaderValue::Text { text: "x".repeat(60) }),
        body: vec!["x".repeat(1_024); 100],
        buttons: vec![value(0), value(1)],
    };
    assert_eq!(content(longest).check(), Ok(()));
}
