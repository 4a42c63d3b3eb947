use super::*;
use chrono::TimeZone;
use cqrs_es::test::TestFramework;

type Given = TestFramework<OutboundMessage>;

const ORG: Uuid = Uuid::from_u128(1);

fn at(second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, second).unwrap()
}

fn sms(body: &str) -> SmsContent {
    SmsContent {
        body: body.into(),
        sms_type: SmsType::Transactional,
        sender_id: "SWTCHB".into(),
        dlt_entity_id: Some("1101234567890123456".into()),
        dlt_template_id: Some("1107160000000000001".into()),
        encoding: SmsEncoding::Gsm7,
        segments: 1,
    }
}

fn request_of(body: &str, not_before: Option<DateTime<Utc>>) -> Box<MessageRequest> {
    Box::new(MessageRequest {
        organisation_id: ORG,
        requested_by: Some(Uuid::from_u128(2)),
        to: "+919800000002".into(),
        customer_id: None,
        content: MessageContent::Sms(sms(body)),
        custom_data: None,
        not_before,
        batch_id: None,
        auto_reply: None,
        thread_id: None,
    })
}

fn request() -> Box<MessageRequest> {
    request_of("Your order 42 is on its way", None)
}

fn requested() -> MessageEvent {
    MessageEvent::MessageRequested {
        request: request(),
        at: at(0),
    }
}

fn started() -> MessageEvent {
    MessageEvent::MessageDispatchStarted { attempt: 1, at: at(1) }
}

fn submitted() -> MessageEvent {
    MessageEvent::MessageSubmitted {
        provider_sid: "sid-1".into(),
        at: at(2),
    }
}

fn progressed(status: MessageStatus, second: u32) -> MessageEvent {
    MessageEvent::MessageProgressed {
        status,
        failure: None,
        at: at(second),
    }
}

fn report(id: &str, sid: Option<&str>, status: &str, code: Option<i64>) -> Box<MessageReport> {
    Box::new(MessageReport {
        report_id: id.into(),
        source: ReportSource::Callback,
        provider_sid: sid.map(Into::into),
        provider_status: Some(status.into()),
        status: MessageStatus::from_sms(status, code),
        detailed_code: code,
        detailed_status: code.map(|c| format!("CODE_{c}")),
        units: Some(1),
        price_paise: Some(18),
        received_at: at(9),
    })
}

/// The message `given` builds, with what `command` decides applied.
fn on_record(given: Vec<MessageEvent>, command: MessageCommand) -> OutboundMessage {
    let mut message = OutboundMessage::default();
    for event in given {
        message.apply(event);
    }
    for event in decide(message.clone(), command) {
        message.apply(event);
    }
    message
}

/// The events `command` decides on `message`.
fn decide(message: OutboundMessage, command: MessageCommand) -> Vec<MessageEvent> {
    let decided = match command {
        MessageCommand::RecordReport { report } => message.report(report),
        MessageCommand::RecordSubmitted { provider_sid, at } => message.submitted(provider_sid, at),
        _ => unreachable!("only reports and submissions are folded here"),
    };
    decided.unwrap()
}

#[test]
fn a_requested_message_is_recorded_as_asked() {
    Given::with(())
        .given_no_previous_events()
        .when(MessageCommand::Request {
            request: request(),
            at: at(0),
        })
        .then_expect_events(vec![requested()]);
}

#[test]
fn the_same_request_again_changes_nothing_and_a_different_one_is_refused() {
    Given::with(())
        .given(vec![requested()])
        .when(MessageCommand::Request {
            request: request(),
            at: at(5),
        })
        .then_expect_events(vec![]);
    Given::with(())
        .given(vec![requested()])
        .when(MessageCommand::Request {
            request: request_of("something else", None),
            at: at(5),
        })
        .then_expect_error(MessageError::MessageIdReused);
}

#[test]
fn an_empty_or_blank_body_is_refused() {
    for body in ["", "   \n"] {
        Given::with(())
            .given_no_previous_events()
            .when(MessageCommand::Request {
                request: request_of(body, None),
                at: at(0),
            })
            .then_expect_error(MessageError::EmptyBody);
    }
}

#[test]
fn a_body_of_two_thousand_characters_is_taken_and_one_more_is_refused() {
    let longest = "é".repeat(MAX_SMS_BODY_CHARS);
    Given::with(())
        .given_no_previous_events()
        .when(MessageCommand::Request {
            request: request_of(&longest, None),
            at: at(0),
        })
        .then_expect_events(vec![MessageEvent::MessageRequested {
            request: request_of(&longest, None),
            at: at(0),
        }]);
    Given::with(())
        .given_no_previous_events()
        .when(MessageCommand::Request {
            request: request_of(&format!("{longest}e"), None),
            at: at(0),
        })
        .then_expect_error(MessageError::BodyTooLong);
}

#[test]
fn an_attempt_is_claimed_once_and_counted() {
    Given::with(())
        .given(vec![requested()])
        .when(MessageCommand::StartDispatch { at: at(1) })
        .then_expect_events(vec![started()]);
    Given::with(())
        .given(vec![requested(), started()])
        .when(MessageCommand::StartDispatch { at: at(1) })
        .then_expect_error(MessageError::DispatchInDoubt);
    Given::with(())
        .given(vec![
            requested(),
            started(),
            MessageEvent::MessageNotSent {
                reason: "429".into(),
                at: at(2),
            },
        ])
        .when(MessageCommand::StartDispatch { at: at(3) })
        .then_expect_events(vec![MessageEvent::MessageDispatchStarted { attempt: 2, at: at(3) }]);
}

#[test]
fn a_message_is_never_handed_over_before_its_time() {
    let due = Some(at(30));
    let given = || {
        vec![MessageEvent::MessageRequested {
            request: request_of("Sale today", due),
            at: at(0),
        }]
    };
    Given::with(())
        .given(given())
        .when(MessageCommand::StartDispatch { at: at(29) })
        .then_expect_error(MessageError::NotDue);
    Given::with(())
        .given(given())
        .when(MessageCommand::StartDispatch { at: at(30) })
        .then_expect_events(vec![MessageEvent::MessageDispatchStarted { attempt: 1, at: at(30) }]);
}

#[test]
fn an_unknown_message_cannot_be_dispatched_or_reported() {
    Given::with(())
        .given_no_previous_events()
        .when(MessageCommand::StartDispatch { at: at(1) })
        .then_expect_error(MessageError::NotFound);
    Given::with(())
        .given_no_previous_events()
        .when(MessageCommand::RecordReport {
            report: report("r", Some("sid-1"), "sent", Some(20005)),
        })
        .then_expect_error(MessageError::NotFound);
    Given::with(())
        .given_no_previous_events()
        .when(MessageCommand::RecordNotSent {
            reason: "x".into(),
            at: at(1),
        })
        .then_expect_error(MessageError::NotFound);
}

#[test]
fn the_providers_answer_submits_the_message() {
    Given::with(())
        .given(vec![requested(), started()])
        .when(MessageCommand::RecordSubmitted {
            provider_sid: "sid-1".into(),
            at: at(2),
        })
        .then_expect_events(vec![submitted(), progressed(MessageStatus::Submitted, 2)]);
}

#[test]
fn a_submission_without_an_attempt_under_way_is_refused() {
    Given::with(())
        .given(vec![requested()])
        .when(MessageCommand::RecordSubmitted {
            provider_sid: "sid-1".into(),
            at: at(2),
        })
        .then_expect_error(MessageError::NotStarted);
    Given::with(())
        .given(vec![requested(), started(), submitted()])
        .when(MessageCommand::RecordSubmitted {
            provider_sid: "sid-1".into(),
            at: at(3),
        })
        .then_expect_events(vec![]);
    Given::with(())
        .given(vec![requested(), started(), submitted()])
        .when(MessageCommand::RecordSubmitted {
            provider_sid: "sid-2".into(),
            at: at(3),
        })
        .then_expect_error(MessageError::SidMismatch);
}

#[test]
fn a_submitted_or_refused_message_is_not_dispatched_again() {
    Given::with(())
        .given(vec![requested(), started(), submitted()])
        .when(MessageCommand::StartDispatch { at: at(5) })
        .then_expect_error(MessageError::AlreadyDispatched);
    let refusal = ProviderRefusal {
        http_status: 400,
        code: Some(40205),
        message: "From".into(),
    };
    Given::with(())
        .given(vec![
            requested(),
            started(),
            MessageEvent::MessageRefused {
                refusal: refusal.clone(),
                at: at(2),
            },
        ])
        .when(MessageCommand::StartDispatch { at: at(5) })
        .then_expect_error(MessageError::AlreadyDispatched);
    Given::with(())
        .given(vec![requested(), started()])
        .when(MessageCommand::RecordRefusal { refusal, at: at(2) })
        .then_expect_events(vec![MessageEvent::MessageRefused {
            refusal: ProviderRefusal {
                http_status: 400,
                code: Some(40205),
                message: "From".into(),
            },
            at: at(2),
        }]);
}

#[test]
fn an_attempt_in_doubt_given_up_is_never_sent_again() {
    Given::with(())
        .given(vec![requested(), started()])
        .when(MessageCommand::RecordOutcomeUnknown { at: at(50) })
        .then_expect_events(vec![MessageEvent::MessageOutcomeUnknown { at: at(50) }]);
    let unknown = || {
        vec![
            requested(),
            started(),
            MessageEvent::MessageOutcomeUnknown { at: at(50) },
        ]
    };
    Given::with(())
        .given(unknown())
        .when(MessageCommand::StartDispatch { at: at(51) })
        .then_expect_error(MessageError::DispatchInDoubt);
    Given::with(())
        .given(unknown())
        .when(MessageCommand::RecordOutcomeUnknown { at: at(52) })
        .then_expect_error(MessageError::NotStarted);
    Given::with(())
        .given(vec![requested()])
        .when(MessageCommand::RecordOutcomeUnknown { at: at(52) })
        .then_expect_error(MessageError::NotStarted);
}

#[test]
fn a_report_naming_the_message_resolves_an_attempt_in_doubt() {
    let late = report("r1", Some("sid-1"), "sent", Some(20005));
    Given::with(())
        .given(vec![
            requested(),
            started(),
            MessageEvent::MessageOutcomeUnknown { at: at(50) },
        ])
        .when(MessageCommand::RecordReport { report: late.clone() })
        .then_expect_events(vec![
            MessageEvent::MessageSubmitted {
                provider_sid: "sid-1".into(),
                at: at(9),
            },
            progressed(MessageStatus::Submitted, 9),
            MessageEvent::MessageReportReceived { report: late },
            progressed(MessageStatus::Delivered, 9),
        ]);
}

#[test]
fn a_delivery_report_moves_the_message_and_is_recorded_once() {
    let delivered = report("r1", Some("sid-1"), "sent", Some(20005));
    Given::with(())
        .given(vec![requested(), started(), submitted()])
        .when(MessageCommand::RecordReport {
            report: delivered.clone(),
        })
        .then_expect_events(vec![
            MessageEvent::MessageReportReceived {
                report: delivered.clone(),
            },
            progressed(MessageStatus::Delivered, 9),
        ]);
    Given::with(())
        .given(vec![
            requested(),
            started(),
            submitted(),
            MessageEvent::MessageReportReceived {
                report: delivered.clone(),
            },
        ])
        .when(MessageCommand::RecordReport { report: delivered })
        .then_expect_events(vec![]);
}

#[test]
fn a_late_report_of_an_earlier_status_is_kept_but_moves_nothing() {
    let late = report("r2", Some("sid-1"), "submitted", None);
    Given::with(())
        .given(vec![
            requested(),
            started(),
            submitted(),
            progressed(MessageStatus::Delivered, 8),
        ])
        .when(MessageCommand::RecordReport { report: late.clone() })
        .then_expect_events(vec![MessageEvent::MessageReportReceived { report: late }]);
}

#[test]
fn a_failure_is_recorded_with_its_code_and_description_before_delivery_only() {
    let failed = report("r3", Some("sid-1"), "failed_dnd", Some(23005));
    Given::with(())
        .given(vec![
            requested(),
            started(),
            submitted(),
            progressed(MessageStatus::Sent, 5),
        ])
        .when(MessageCommand::RecordReport { report: failed.clone() })
        .then_expect_events(vec![
            MessageEvent::MessageReportReceived { report: failed.clone() },
            MessageEvent::MessageProgressed {
                status: MessageStatus::Failed,
                failure: Some(Failure {
                    code: Some(23005),
                    description: Some("CODE_23005".into()),
                }),
                at: at(9),
            },
        ]);
    Given::with(())
        .given(vec![
            requested(),
            started(),
            submitted(),
            progressed(MessageStatus::Delivered, 5),
        ])
        .when(MessageCommand::RecordReport { report: failed.clone() })
        .then_expect_events(vec![MessageEvent::MessageReportReceived { report: failed }]);
}

#[test]
fn a_report_for_another_provider_message_is_refused() {
    Given::with(())
        .given(vec![requested(), started(), submitted()])
        .when(MessageCommand::RecordReport {
            report: report("r4", Some("sid-9"), "sent", Some(20005)),
        })
        .then_expect_error(MessageError::SidMismatch);
}

#[test]
fn a_report_after_a_refusal_places_nothing() {
    let refusal = ProviderRefusal {
        http_status: 400,
        code: None,
        message: "no".into(),
    };
    let late = report("r5", Some("sid-1"), "sent", Some(20005));
    Given::with(())
        .given(vec![
            requested(),
            started(),
            MessageEvent::MessageRefused { refusal, at: at(2) },
        ])
        .when(MessageCommand::RecordReport { report: late.clone() })
        .then_expect_events(vec![MessageEvent::MessageReportReceived { report: late }]);
}

#[test]
fn reports_in_any_order_end_in_the_furthest_status_with_each_time_kept() {
    let reports = [
        report("a", Some("sid-1"), "sent", Some(20005)),
        report("b", Some("sid-1"), "submitted", None),
        report("c", Some("sid-1"), "queued", Some(21010)),
        report("a", Some("sid-1"), "sent", Some(20005)),
    ];
    let mut message = on_record(
        vec![requested(), started()],
        MessageCommand::RecordSubmitted {
            provider_sid: "sid-1".into(),
            at: at(2),
        },
    );
    for report in reports {
        let events = decide(message.clone(), MessageCommand::RecordReport { report });
        for event in events {
            message.apply(event);
        }
    }
    assert_eq!(message.status, Some(MessageStatus::Delivered));
    assert_eq!(message.reports, vec!["a", "b", "c"]);
    assert_eq!(message.delivered_at, Some(at(9)));
    assert_eq!(message.submitted_at, Some(at(2)));
    assert_eq!(message.sent_at, None);
    assert_eq!((message.units, message.price_paise), (Some(1), Some(18)));
    assert_eq!(message.dispatch, Dispatch::Submitted);
}

#[test]
fn exotels_sms_words_map_to_statuses() {
    use MessageStatus as S;
    let cases = [
        ("queued", None, Some(S::Submitted)),
        ("sending", Some(21015), Some(S::Submitted)),
        ("submitted", Some(21020), Some(S::Sent)),
        ("sent", Some(20005), Some(S::Delivered)),
        ("sent", None, Some(S::Delivered)),
        ("sent", Some(20006), Some(S::Sent)),
        (" SENT ", Some(20005), Some(S::Delivered)),
        ("failed", Some(23035), Some(S::Failed)),
        ("failed-dnd", Some(23005), Some(S::Failed)),
        ("failed_dnd", Some(23005), Some(S::Failed)),
        ("whatever", None, None),
    ];
    for (word, code, status) in cases {
        assert_eq!(MessageStatus::from_sms(word, code), status, "{word} {code:?}");
    }
}

#[test]
fn statuses_move_forward_only_and_a_failure_never_follows_delivery() {
    use MessageStatus as S;
    assert!(S::Requested.moves_to(S::Submitted));
    assert!(S::Submitted.moves_to(S::Delivered));
    assert!(!S::Delivered.moves_to(S::Sent));
    assert!(!S::Sent.moves_to(S::Sent));
    assert!(S::Delivered.moves_to(S::Read));
    assert!(S::Sent.moves_to(S::Failed));
    assert!(S::Requested.moves_to(S::Failed));
    assert!(!S::Delivered.moves_to(S::Failed));
    assert!(!S::Failed.moves_to(S::Delivered));
    assert!(!S::Read.moves_to(S::Failed));
    assert!(!S::Refused.moves_to(S::Submitted));
    assert!(!S::Requested.moves_to(S::Refused));
    assert!(S::Read.is_final() && S::Failed.is_final() && S::Refused.is_final());
    assert!(!S::Delivered.is_final() && !S::Submitted.is_final());
}

#[test]
fn sms_types_are_sent_as_exotels_three_words() {
    assert_eq!(SmsType::Transactional.exotel(), "transactional");
    assert_eq!(SmsType::ServiceImplicit.exotel(), "transactional");
    assert_eq!(SmsType::TransactionalOptIn.exotel(), "transactional_opt_in");
    assert_eq!(SmsType::ServiceExplicit.exotel(), "transactional_opt_in");
    assert_eq!(SmsType::Promotional.exotel(), "promotional");
}

#[test]
fn a_message_belongs_to_its_organisation_only() {
    let mut message = OutboundMessage::default();
    assert!(!message.is_in(ORG));
    message.apply(requested());
    assert!(message.is_in(ORG));
    assert!(!message.is_in(Uuid::from_u128(9)));
    assert_eq!(MessageContent::Sms(sms("x")).channel(), Channel::Sms);
}

#[test]
fn every_event_type_name_is_pinned() {
    let names: Vec<String> = [
        requested(),
        started(),
        submitted(),
        MessageEvent::MessageRefused {
            refusal: ProviderRefusal {
                http_status: 0,
                code: None,
                message: String::new(),
            },
            at: at(0),
        },
        MessageEvent::MessageNotSent {
            reason: String::new(),
            at: at(0),
        },
        MessageEvent::MessageOutcomeUnknown { at: at(0) },
        MessageEvent::MessageReportReceived {
            report: report("x", None, "sent", None),
        },
        progressed(MessageStatus::Sent, 0),
    ]
    .iter()
    .map(|e| format!("{} {}", e.event_type(), e.event_version()))
    .collect();
    assert_eq!(
        names,
        [
            "MessageRequested 1.0",
            "MessageDispatchStarted 1.0",
            "MessageSubmitted 1.0",
            "MessageRefused 1.0",
            "MessageNotSent 1.0",
            "MessageOutcomeUnknown 1.0",
            "MessageReportReceived 1.0",
            "MessageProgressed 1.0",
        ]
    );
}

#[test]
fn exotels_whatsapp_receipts_map_by_name_then_by_code() {
    use MessageStatus as S;
    let cases = [
        (Some(30001), Some("EX_MESSAGE_SENT"), Some(S::Sent)),
        (Some(30002), Some("EX_MESSAGE_DELIVERED"), Some(S::Delivered)),
        (Some(30003), Some("EX_MESSAGE_SEEN"), Some(S::Read)),
        (None, Some("ex_message_read"), Some(S::Read)),
        (None, Some("EX_MESSAGE_QUEUED"), Some(S::Submitted)),
        (None, Some("EX_MESSAGE_ACCEPTED"), Some(S::Submitted)),
        (Some(30013), Some("EX_INCAPABLE_RECIPIENT"), Some(S::Failed)),
        (None, Some("EX_RESTRICTED_BY_META"), Some(S::Failed)),
        (Some(30002), None, Some(S::Delivered)),
        (Some(30001), None, Some(S::Sent)),
        (Some(30003), None, Some(S::Read)),
        (Some(30004), None, Some(S::Failed)),
        (Some(30099), None, Some(S::Failed)),
        (Some(30100), None, None),
        (Some(29999), None, None),
        (None, Some("delivered"), None),
        (None, None, None),
    ];
    for (code, name, status) in cases {
        assert_eq!(MessageStatus::from_whatsapp(code, name), status, "{code:?} {name:?}");
    }
}

#[test]
fn a_whatsapp_message_breaking_a_limit_is_refused_with_the_rule() {
    use crate::whatsapp::{WhatsappContent, WhatsappRule};
    let whatsapp = |body: &str| {
        Box::new(MessageRequest {
            content: MessageContent::Whatsapp(WhatsappOut {
                from: "+918047112233".into(),
                content: WhatsappContent::Text {
                    body: body.into(),
                    preview_url: false,
                },
            }),
            ..*request()
        })
    };
    Given::with(())
        .given_no_previous_events()
        .when(MessageCommand::Request {
            request: whatsapp(""),
            at: at(0),
        })
        .then_expect_error(MessageError::Whatsapp(WhatsappRule::Text));
    Given::with(())
        .given_no_previous_events()
        .when(MessageCommand::Request {
            request: whatsapp("Hello"),
            at: at(0),
        })
        .then_expect_events(vec![MessageEvent::MessageRequested {
            request: whatsapp("Hello"),
            at: at(0),
        }]);
    assert_eq!(whatsapp("x").content.channel(), Channel::Whatsapp);
}

#[test]
fn a_promotional_sms_that_waited_past_nine_at_night_is_held_until_the_morning() {
    let promotional = |not_before: Option<DateTime<Utc>>| {
        let mut request = request_of("Sale today", not_before);
        if let MessageContent::Sms(sms) = &mut request.content {
            sms.sms_type = SmsType::Promotional;
        }
        vec![MessageEvent::MessageRequested { request, at: at(0) }]
    };
    // 20:59:59 and 21:00 IST; 09:00 IST the next day.
    let evening = Utc.with_ymd_and_hms(2026, 12, 1, 15, 29, 59).unwrap();
    let nine = Utc.with_ymd_and_hms(2026, 12, 1, 15, 30, 0).unwrap();
    let morning = Utc.with_ymd_and_hms(2026, 12, 2, 3, 30, 0).unwrap();
    Given::with(())
        .given(promotional(None))
        .when(MessageCommand::StartDispatch { at: evening })
        .then_expect_events(vec![MessageEvent::MessageDispatchStarted {
            attempt: 1,
            at: evening,
        }]);
    Given::with(())
        .given(promotional(None))
        .when(MessageCommand::StartDispatch { at: nine })
        .then_expect_error(MessageError::NotDue);
    Given::with(())
        .given(promotional(Some(morning)))
        .when(MessageCommand::StartDispatch { at: morning })
        .then_expect_events(vec![MessageEvent::MessageDispatchStarted {
            attempt: 1,
            at: morning,
        }]);
    Given::with(())
        .given(vec![requested()])
        .when(MessageCommand::StartDispatch { at: nine })
        .then_expect_events(vec![MessageEvent::MessageDispatchStarted { attempt: 1, at: nine }]);
}
