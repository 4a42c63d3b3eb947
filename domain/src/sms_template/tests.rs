use super::*;
use chrono::TimeZone;
use cqrs_es::test::TestFramework;

type Given = TestFramework<SmsTemplate>;

const ORG: Uuid = Uuid::from_u128(1);

fn at(second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, second).unwrap()
}

fn spec() -> SmsTemplateSpec {
    SmsTemplateSpec {
        dlt_template_id: "1107160000000000001".into(),
        name: "Order shipped".into(),
        body: "Your order {#var#} is on its way. -Switchboard".into(),
        sender_id: "SWTCHB".into(),
        sms_type: SmsType::ServiceImplicit,
    }
}

fn registered() -> SmsTemplateEvent {
    SmsTemplateEvent::SmsTemplateRegistered {
        organisation_id: ORG,
        spec: spec(),
        at: at(0),
    }
}

fn register(spec: SmsTemplateSpec) -> SmsTemplateCommand {
    SmsTemplateCommand::Register {
        organisation_id: ORG,
        spec,
        at: at(0),
    }
}

#[test]
fn a_template_is_registered_with_its_header_in_capitals() {
    let lower = SmsTemplateSpec {
        sender_id: "swtchb".into(),
        ..spec()
    };
    Given::with(())
        .given_no_previous_events()
        .when(register(lower))
        .then_expect_events(vec![registered()]);
}

#[test]
fn the_same_template_again_changes_nothing_and_other_content_is_refused() {
    Given::with(())
        .given(vec![registered()])
        .when(register(spec()))
        .then_expect_events(vec![]);
    Given::with(())
        .given(vec![registered()])
        .when(register(SmsTemplateSpec {
            body: "Other {#var#}".into(),
            ..spec()
        }))
        .then_expect_error(SmsTemplateError::Exists);
}

#[test]
fn a_removed_template_can_be_registered_again_with_new_content() {
    let new = SmsTemplateSpec {
        body: "Other {#var#}".into(),
        ..spec()
    };
    Given::with(())
        .given(vec![registered(), SmsTemplateEvent::SmsTemplateRemoved { at: at(1) }])
        .when(register(new.clone()))
        .then_expect_events(vec![SmsTemplateEvent::SmsTemplateRegistered {
            organisation_id: ORG,
            spec: new,
            at: at(0),
        }]);
}

#[test]
fn a_template_id_is_digits_only_and_thirty_at_most() {
    for bad in ["", "12a4", "1107 16", &"1".repeat(MAX_TEMPLATE_ID_DIGITS + 1)] {
        Given::with(())
            .given_no_previous_events()
            .when(register(SmsTemplateSpec {
                dlt_template_id: bad.to_string(),
                ..spec()
            }))
            .then_expect_error(SmsTemplateError::TemplateId);
    }
    let longest = "7".repeat(MAX_TEMPLATE_ID_DIGITS);
    let mut template = SmsTemplate::default();
    let events = template
        .register(
            ORG,
            SmsTemplateSpec {
                dlt_template_id: longest.clone(),
                ..spec()
            },
            at(0),
        )
        .unwrap();
    template.apply(events[0].clone());
    assert_eq!(
        template.of(ORG).map(|s| s.dlt_template_id.as_str()),
        Some(longest.as_str())
    );
}

#[test]
fn a_name_is_one_to_a_hundred_printable_characters_without_outer_spaces() {
    for bad in [
        String::new(),
        " padded".into(),
        "bell\u{7}".into(),
        "n".repeat(MAX_NAME_CHARS + 1),
    ] {
        Given::with(())
            .given_no_previous_events()
            .when(register(SmsTemplateSpec { name: bad, ..spec() }))
            .then_expect_error(SmsTemplateError::Name);
    }
    let longest = "n".repeat(MAX_NAME_CHARS);
    assert!(
        SmsTemplate::default()
            .register(
                ORG,
                SmsTemplateSpec {
                    name: longest,
                    ..spec()
                },
                at(0)
            )
            .is_ok()
    );
}

#[test]
fn an_empty_template_text_is_refused() {
    Given::with(())
        .given_no_previous_events()
        .when(register(SmsTemplateSpec {
            body: "  ".into(),
            ..spec()
        }))
        .then_expect_error(SmsTemplateError::Body(dlt::TemplateTextError::Empty));
}

#[test]
fn a_header_is_six_letters_or_digits() {
    for bad in ["SWTCH", "SWTCHBX", "SW-CHB", "SWTCHé"] {
        Given::with(())
            .given_no_previous_events()
            .when(register(SmsTemplateSpec {
                sender_id: bad.into(),
                ..spec()
            }))
            .then_expect_error(SmsTemplateError::SenderId);
    }
}

#[test]
fn only_a_registered_template_can_be_removed() {
    Given::with(())
        .given(vec![registered()])
        .when(SmsTemplateCommand::Remove { at: at(1) })
        .then_expect_events(vec![SmsTemplateEvent::SmsTemplateRemoved { at: at(1) }]);
    Given::with(())
        .given_no_previous_events()
        .when(SmsTemplateCommand::Remove { at: at(1) })
        .then_expect_error(SmsTemplateError::NotFound);
    Given::with(())
        .given(vec![registered(), SmsTemplateEvent::SmsTemplateRemoved { at: at(1) }])
        .when(SmsTemplateCommand::Remove { at: at(2) })
        .then_expect_error(SmsTemplateError::NotFound);
}

#[test]
fn a_template_is_its_organisations_only_and_gone_once_removed() {
    let mut template = SmsTemplate::default();
    template.apply(registered());
    assert_eq!(template.of(ORG), Some(&spec()));
    assert_eq!(template.of(Uuid::from_u128(2)), None);
    assert_eq!(template.registered_at, Some(at(0)));
    template.apply(SmsTemplateEvent::SmsTemplateRemoved { at: at(1) });
    assert_eq!(template.of(ORG), None);
    assert_eq!(template.registered_at, None);
}

#[test]
fn template_ids_differ_by_organisation_and_dlt_id() {
    let a = sms_template_id(ORG, "1");
    assert_eq!(a, sms_template_id(ORG, "1"));
    assert_ne!(a, sms_template_id(ORG, "2"));
    assert_ne!(a, sms_template_id(Uuid::from_u128(2), "1"));
}

#[test]
fn every_event_type_name_is_pinned() {
    let removed = SmsTemplateEvent::SmsTemplateRemoved { at: at(1) };
    assert_eq!(registered().event_type(), "SmsTemplateRegistered");
    assert_eq!(removed.event_type(), "SmsTemplateRemoved");
    assert_eq!(removed.event_version(), "1.0");
}
