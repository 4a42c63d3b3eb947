use super::*;
use crate::EmailAddress;
use cqrs_es::test::TestFramework;
use std::collections::BTreeMap;

type Given = TestFramework<OutboundEmail>;

const ORG: Uuid = Uuid::from_u128(1);
const ACCOUNT: Uuid = Uuid::from_u128(2);
const INTENT: Uuid = Uuid::from_u128(3);

fn draft() -> Draft {
    Draft {
        to: vec!["Bob@Switchboard.test".into()],
        subject: "Invoice 42".into(),
        html: Some("<p>Hello</p>".into()),
        text: Some("Hello".into()),
        ..Draft::default()
    }
}

fn intent(digest: &str) -> Box<SendIntent> {
    let from = EmailAddress::parse("support@acme.in").unwrap();
    Box::new(SendIntent {
        intent_id: INTENT,
        organisation_id: ORG,
        account_id: ACCOUNT,
        message: OutboundMessage {
            message_id: draft::message_id(INTENT, &from),
            from,
            from_name: None,
            content: draft().check().unwrap(),
            attachments: Vec::new(),
        },
        html: None,
        text: None,
        request_digest: digest.into(),
    })
}

fn requested() -> OutboundEmailEvent {
    OutboundEmailEvent::EmailSendRequested {
        intent: intent("d1"),
        at: Utc::now(),
    }
}

fn started() -> OutboundEmailEvent {
    OutboundEmailEvent::EmailSendStarted { at: Utc::now() }
}

fn failure(stage: SmtpStage, code: u16) -> SmtpFailure {
    SmtpFailure {
        stage,
        code: Some(code),
        message: format!("{code} refused"),
        permanent: code >= 500,
    }
}

fn fail(stage: SmtpStage, code: u16) -> OutboundEmailCommand {
    OutboundEmailCommand::RecordFailure {
        failure: failure(stage, code),
        at: Utc::now(),
    }
}

fn start() -> OutboundEmailCommand {
    OutboundEmailCommand::Start { at: Utc::now() }
}

#[test]
fn the_same_request_again_records_nothing_new() {
    Given::with(())
        .given(vec![requested()])
        .when(OutboundEmailCommand::Request {
            intent: intent("d1"),
            at: Utc::now(),
        })
        .then_expect_events(vec![]);
}

#[test]
fn an_intent_id_cannot_be_reused_for_a_different_email() {
    Given::with(())
        .given(vec![requested()])
        .when(OutboundEmailCommand::Request {
            intent: intent("d2"),
            at: Utc::now(),
        })
        .then_expect_error(OutboundEmailError::IntentReused);
}

#[test]
fn a_started_intent_is_never_started_again() {
    Given::with(())
        .given(vec![requested(), started()])
        .when(start())
        .then_expect_error(OutboundEmailError::AlreadyStarted);
}

#[test]
fn a_sent_email_is_never_started_again() {
    let accepted = OutboundEmailEvent::EmailAccepted {
        code: 250,
        response: "2.0.0 Ok: queued".into(),
        at: Utc::now(),
    };
    Given::with(())
        .given(vec![requested(), started(), accepted])
        .when(start())
        .then_expect_error(OutboundEmailError::AlreadyFinished);
}

#[test]
fn an_unknown_intent_cannot_be_started() {
    Given::with(())
        .given_no_previous_events()
        .when(start())
        .then_expect_error(OutboundEmailError::NotFound);
}

#[test]
fn a_failure_before_data_leaves_the_intent_free_to_try_again() {
    let events = Given::with(())
        .given(vec![requested()])
        .when(fail(SmtpStage::Login, 535))
        .inspect_result()
        .unwrap();
    let mut email = OutboundEmail::default();
    for event in [requested()].into_iter().chain(events) {
        email.apply(event);
    }
    assert_eq!((email.status, email.failed_attempts), (SendStatus::Pending, 1));
    assert_eq!(email.start(Utc::now()).map(|e| e.len()), Ok(1));
}

#[test]
fn a_failure_before_data_cannot_finish_an_attempt_that_started() {
    Given::with(())
        .given(vec![requested(), started()])
        .when(fail(SmtpStage::Envelope, 550))
        .then_expect_error(OutboundEmailError::AlreadyStarted);
}

#[test]
fn a_refusal_of_data_is_final() {
    let refused = OutboundEmailEvent::EmailSendFailed {
        failure: failure(SmtpStage::Data, 554),
        at: Utc::now(),
    };
    Given::with(())
        .given(vec![requested(), started(), refused])
        .when(start())
        .then_expect_error(OutboundEmailError::AlreadyFinished);
}

#[test]
fn acceptance_needs_a_started_send() {
    Given::with(())
        .given(vec![requested()])
        .when(OutboundEmailCommand::RecordAcceptance {
            code: 250,
            response: "ok".into(),
            at: Utc::now(),
        })
        .then_expect_error(OutboundEmailError::NotStarted);
}

#[test]
fn addresses_are_checked_and_the_field_named() {
    let bad = Draft {
        cc: vec!["not-an-address".into()],
        ..draft()
    };
    assert_eq!(bad.check().unwrap_err().field, "cc");
    let none = Draft { to: vec![], ..draft() };
    assert_eq!(none.check().unwrap_err().field, "to");
}

#[test]
fn a_header_may_not_carry_a_line_break_or_override_a_structural_header() {
    for (name, value, field) in [
        ("X-Campaign", "a\r\nBcc: victim@example.com", "headers.X-Campaign"),
        ("Subject", "other", "headers.Subject"),
        ("Content-Type", "text/plain", "headers.Content-Type"),
        ("X Bad", "v", "headers.X Bad"),
    ] {
        let draft = Draft {
            headers: BTreeMap::from([(name.to_string(), value.to_string())]),
            ..draft()
        };
        assert_eq!(draft.check().unwrap_err().field, field);
    }
}

#[test]
fn a_reply_references_its_parent_last() {
    let reply = Draft {
        in_reply_to: Some("parent@acme.in".into()),
        references: vec!["<root@acme.in>".into()],
        ..draft()
    };
    let content = reply.check().unwrap();
    assert_eq!(content.in_reply_to.as_deref(), Some("<parent@acme.in>"));
    assert_eq!(content.references, ["<root@acme.in>", "<parent@acme.in>"]);
}

#[test]
fn the_signatures_go_to_their_own_parts() {
    let content = draft().check().unwrap().signed(Some("<b>Acme</b>"), Some("Acme Foods"));
    assert!(
        content
            .html
            .unwrap()
            .ends_with("<div class=\"signature\"><b>Acme</b></div>")
    );
    assert_eq!(content.text.unwrap(), "Hello\n\n-- \nAcme Foods\n");
}

#[test]
fn a_message_id_is_in_the_accounts_domain() {
    let from = EmailAddress::parse("support@acme.in").unwrap();
    assert_eq!(
        draft::message_id(Uuid::from_u128(255), &from),
        "<000000000000000000000000000000ff@acme.in>"
    );
}

#[test]
fn event_type_names_are_pinned() {
    let names: Vec<String> = [
        requested(),
        started(),
        OutboundEmailEvent::EmailAccepted {
            code: 250,
            response: String::new(),
            at: Utc::now(),
        },
        OutboundEmailEvent::EmailSendFailed {
            failure: failure(SmtpStage::Login, 535),
            at: Utc::now(),
        },
    ]
    .iter()
    .map(DomainEvent::event_type)
    .collect();
    assert_eq!(
        names,
        [
            "EmailSendRequested",
            "EmailSendStarted",
            "EmailAccepted",
            "EmailSendFailed"
        ]
    );
}

/// The intent as its events leave it.
fn after(events: Vec<OutboundEmailEvent>) -> OutboundEmail {
    let mut email = OutboundEmail::default();
    for event in events {
        email.apply(event);
    }
    email
}

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap()
}

#[test]
fn the_same_request_from_another_organisation_reuses_the_intent_id() {
    let mut foreign = intent("d1");
    foreign.organisation_id = Uuid::from_u128(99);
    Given::with(())
        .given(vec![requested()])
        .when(OutboundEmailCommand::Request {
            intent: foreign,
            at: Utc::now(),
        })
        .then_expect_error(OutboundEmailError::IntentReused);
}

#[test]
fn only_the_start_of_data_can_have_delivered_anything() {
    assert!(SmtpStage::Connect.before_data());
    assert!(SmtpStage::Login.before_data());
    assert!(SmtpStage::Envelope.before_data());
    assert!(!SmtpStage::Data.before_data());
}

#[test]
fn an_intent_belongs_to_its_organisation_only() {
    assert!(after(vec![requested()]).is_in(ORG));
    assert!(!after(vec![requested()]).is_in(Uuid::from_u128(99)));
    assert!(!OutboundEmail::default().is_in(ORG));
}

#[test]
fn each_state_reads_as_its_outcome() {
    let failed_before_data = OutboundEmailEvent::EmailSendFailed {
        failure: failure(SmtpStage::Login, 535),
        at: at(2),
    };
    let refused = OutboundEmailEvent::EmailSendFailed {
        failure: failure(SmtpStage::Data, 550),
        at: at(3),
    };
    let accepted = OutboundEmailEvent::EmailAccepted {
        code: 250,
        response: "queued".into(),
        at: at(3),
    };
    assert_eq!(OutboundEmail::default().outcome(), None);
    assert_eq!(after(vec![requested()]).outcome(), Some(Outcome::Pending));
    assert_eq!(
        after(vec![requested(), failed_before_data]).outcome(),
        Some(Outcome::Failed)
    );
    assert_eq!(after(vec![requested(), started()]).outcome(), Some(Outcome::InDoubt));
    assert_eq!(
        after(vec![requested(), started(), accepted]).outcome(),
        Some(Outcome::Sent)
    );
    assert_eq!(
        after(vec![requested(), started(), refused]).outcome(),
        Some(Outcome::Failed)
    );
}

#[test]
fn the_record_keeps_when_each_step_happened_and_how_many_attempts_failed_before_data() {
    let failed = |stage, code, seconds| OutboundEmailEvent::EmailSendFailed {
        failure: failure(stage, code),
        at: at(seconds),
    };
    let email = after(vec![
        OutboundEmailEvent::EmailSendRequested {
            intent: intent("d1"),
            at: at(1),
        },
        failed(SmtpStage::Connect, 421, 2),
        failed(SmtpStage::Login, 454, 3),
        OutboundEmailEvent::EmailSendStarted { at: at(4) },
        OutboundEmailEvent::EmailAccepted {
            code: 250,
            response: "2.0.0 queued".into(),
            at: at(5),
        },
    ]);
    assert_eq!(
        (email.requested_at, email.started_at, email.finished_at),
        (Some(at(1)), Some(at(4)), Some(at(5)))
    );
    assert_eq!(email.failed_attempts, 2);
    assert_eq!(email.accepted, Some((250, "2.0.0 queued".to_string())));
    assert_eq!(email.status, SendStatus::Sent);
    assert_eq!(email.last_failure.map(|f| f.code), Some(Some(454)));

    let refused = after(vec![requested(), started(), failed(SmtpStage::Data, 552, 9)]);
    assert_eq!(
        (refused.status, refused.finished_at, refused.failed_attempts),
        (SendStatus::Failed, Some(at(9)), 0)
    );
}

#[test]
fn a_refusal_of_data_needs_a_started_send() {
    Given::with(())
        .given(vec![requested()])
        .when(fail(SmtpStage::Data, 550))
        .then_expect_error(OutboundEmailError::NotStarted);
}

#[test]
fn event_versions_are_pinned() {
    let events = [
        requested(),
        started(),
        OutboundEmailEvent::EmailAccepted {
            code: 250,
            response: "queued".into(),
            at: Utc::now(),
        },
        OutboundEmailEvent::EmailSendFailed {
            failure: failure(SmtpStage::Data, 550),
            at: Utc::now(),
        },
    ];
    for event in events {
        assert_eq!(event.event_version(), "1.0", "{}", event.event_type());
    }
}
