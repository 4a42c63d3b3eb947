use super::*;
use cqrs_es::test::TestFramework;

type Given = TestFramework<InboundEmail>;

const ORG: Uuid = Uuid::from_u128(1);
const ACCOUNT: Uuid = Uuid::from_u128(2);
const THREAD: Uuid = Uuid::from_u128(3);

fn position(uid: u32) -> MailPosition {
    MailPosition {
        folder: "INBOX".into(),
        uidvalidity: 7,
        uid,
    }
}

fn email(message_id: Option<&str>) -> ReceivedEmail {
    let sha256 = "ab".repeat(32);
    let email_id = inbound_email_id(ACCOUNT, MessageKey::best(message_id, Some(&sha256), &position(1)));
    ReceivedEmail {
        email_id,
        organisation_id: ORG,
        account_id: ACCOUNT,
        position: position(1),
        message_id: message_id.map(str::to_string),
        in_reply_to: None,
        references: Vec::new(),
        from: Some(MailAddress {
            name: Some("Asha".into()),
            address: "asha@example.in".into(),
        }),
        to: Vec::new(),
        cc: Vec::new(),
        subject: Some("Invoice 42".into()),
        date: None,
        received_at: DateTime::<Utc>::UNIX_EPOCH,
        bodies: Bodies {
            text: Some("hello".into()),
            ..Bodies::default()
        },
        attachments: Vec::new(),
        omitted_attachments: 0,
        size: 100,
        sha256,
        thread_id: THREAD,
        new_thread: true,
        customer_id: None,
        unlinked: None,
    }
}

fn rejected(message_id: Option<&str>, sha256: Option<&str>) -> RejectedEmail {
    let email_id = inbound_email_id(ACCOUNT, MessageKey::best(message_id, sha256, &position(9)));
    RejectedEmail {
        email_id,
        organisation_id: ORG,
        account_id: ACCOUNT,
        position: position(9),
        message_id: message_id.map(str::to_string),
        sha256: sha256.map(str::to_string),
        size: 10,
        reason: RejectReason::Unparseable,
        detail: "no headers".into(),
        at: DateTime::<Utc>::UNIX_EPOCH,
    }
}

fn receive(email: ReceivedEmail) -> InboundEmailCommand {
    InboundEmailCommand::Receive(Box::new(email))
}

fn received(email: ReceivedEmail) -> InboundEmailEvent {
    InboundEmailEvent::EmailReceived(Box::new(email))
}

#[test]
fn a_new_message_is_recorded_as_received() {
    Given::with(())
        .given_no_previous_events()
        .when(receive(email(Some("m1@example.in"))))
        .then_expect_events(vec![received(email(Some("m1@example.in")))]);
}

#[test]
fn a_message_seen_twice_is_recorded_once() {
    Given::with(())
        .given(vec![received(email(Some("m1@example.in")))])
        .when(receive(email(Some("m1@example.in"))))
        .then_expect_error(InboundEmailError::AlreadyRecorded);
}

#[test]
fn a_rejected_message_is_not_received_later() {
    Given::with(())
        .given(vec![InboundEmailEvent::EmailRejected(Box::new(rejected(None, None)))])
        .when(InboundEmailCommand::Reject(Box::new(rejected(None, None))))
        .then_expect_error(InboundEmailError::AlreadyRecorded);
}

#[test]
fn the_same_message_id_in_the_same_account_is_the_same_email_wherever_it_sits() {
    let (first, second) = (
        position(1),
        MailPosition {
            uidvalidity: 8,
            ..position(5)
        },
    );
    let id =
        |p: &MailPosition, account| inbound_email_id(account, MessageKey::best(Some("m1@example.in"), Some("x"), p));
    assert_eq!(id(&first, ACCOUNT), id(&second, ACCOUNT));
    assert_ne!(id(&first, ACCOUNT), id(&first, Uuid::from_u128(9)));
}

#[test]
fn without_a_message_id_the_content_identifies_the_email() {
    let (one, two) = (position(1), position(2));
    let id = |sha: &str, p: &MailPosition| inbound_email_id(ACCOUNT, MessageKey::best(None, Some(sha), p));
    assert_eq!(id("aa", &one), id("aa", &two));
    assert_ne!(id("aa", &one), id("bb", &one));
    assert_eq!(MessageKey::best(None, None, &one), MessageKey::Position(&one));
}

#[test]
fn an_id_not_derived_from_the_message_is_refused() {
    let mut forged = email(Some("m1@example.in"));
    forged.email_id = Uuid::from_u128(99);
    Given::with(())
        .given_no_previous_events()
        .when(receive(forged))
        .then_expect_error(InboundEmailError::IdNotDerivedFromMessage);
}

#[test]
fn bodies_and_headers_are_cut_to_their_limits_and_marked() {
    let mut long = email(Some("m1@example.in"));
    long.bodies.text = Some("é".repeat(MAX_BODY_BYTES));
    long.subject = Some("s".repeat(5000));
    long.to = (0..500)
        .map(|i| MailAddress {
            name: None,
            address: format!("r{i}@example.in"),
        })
        .collect();
    long.references = (0..80).map(|i| format!("r{i}@x")).collect();
    let capped = long.capped();
    let text = capped.bodies.text.unwrap();
    assert!(text.len() <= MAX_BODY_BYTES && text.chars().all(|c| c == 'é'));
    assert!(capped.bodies.text_truncated);
    assert!(!capped.bodies.html_truncated);
    assert_eq!(capped.subject.unwrap().chars().count(), MAX_HEADER_CHARS);
    assert_eq!(capped.to.len(), MAX_ADDRESSES);
    assert_eq!(capped.references.len(), MAX_REFERENCES);
    assert_eq!(capped.references.last().unwrap(), "r79@x");
}

#[test]
fn control_characters_are_removed_but_bodies_keep_their_lines() {
    let mut odd = email(Some("m1@example.in"));
    odd.subject = Some("In\u{0}voice\u{7} 42".into());
    odd.bodies.text = Some("line one\r\n\tline\u{0} two\u{1b}".into());
    odd.from = Some(MailAddress {
        name: Some("As\u{0}ha".into()),
        address: "asha@example.in".into(),
    });
    let capped = odd.capped();
    assert_eq!(capped.subject.as_deref(), Some("Invoice 42"));
    assert_eq!(capped.bodies.text.as_deref(), Some("line one\r\n\tline two"));
    assert_eq!(capped.from.unwrap().name.as_deref(), Some("Asha"));
}

fn attachment(n: usize) -> AttachmentRecord {
    AttachmentRecord {
        filename: Some(format!("{}-{n}.pdf", "\"quoted\"".repeat(40))),
        content_type: "application/pdf".into(),
        charset: None,
        size: 10,
        sha256: "ab".repeat(32),
        content_id: None,
        inline: false,
        storage: AttachmentStorage::Stored,
    }
}

#[test]
fn the_event_always_fits_the_feed_and_what_did_not_fit_is_marked_or_counted() {
    let mut huge = email(Some("m1@example.in"));
    huge.bodies.text = Some("\"\\".repeat(MAX_BODY_BYTES));
    huge.bodies.html = Some("<p>".repeat(MAX_BODY_BYTES));
    huge.attachments = (0..5000).map(attachment).collect();
    let capped = huge.capped();
    assert!(
        capped.serialised_size() <= MAX_EVENT_BYTES,
        "{}",
        capped.serialised_size()
    );
    assert!(capped.bodies.text_truncated && capped.bodies.html_truncated);
    assert!(capped.attachments.len() <= MAX_ATTACHMENTS);
    assert_eq!(capped.attachments.len() as u32 + capped.omitted_attachments, 5000);
}

#[test]
fn an_ordinary_email_is_left_whole() {
    let plain = email(Some("m1@example.in"));
    assert_eq!(plain.clone().capped(), plain);
}

#[test]
fn a_rejection_keeps_why_and_is_recorded_once() {
    let sha = "cd".repeat(32);
    Given::with(())
        .given_no_previous_events()
        .when(InboundEmailCommand::Reject(Box::new(rejected(None, Some(&sha)))))
        .then_expect_events(vec![InboundEmailEvent::EmailRejected(Box::new(rejected(
            None,
            Some(&sha),
        )))]);
}

#[test]
fn event_type_names_are_pinned() {
    let names: Vec<(String, String)> = [
        received(email(None)),
        InboundEmailEvent::EmailRejected(Box::new(rejected(None, None))),
    ]
    .iter()
    .map(|e| (e.event_type(), e.event_version()))
    .collect();
    assert_eq!(
        names,
        [
            ("EmailReceived".to_string(), "1.0".to_string()),
            ("EmailRejected".to_string(), "1.0".to_string())
        ]
    );
}

fn from(address: &str) -> Option<MailAddress> {
    Some(MailAddress {
        name: None,
        address: address.into(),
    })
}

#[test]
fn a_sender_without_a_domain_is_kept_as_written_and_the_event_says_no_customer_is_linked() {
    let mut bare = email(Some("m1@example.in"));
    bare.from = from("Whomever");
    let recorded = ReceivedEmail {
        unlinked: Some(Unlinked::SenderNotAnAddress),
        ..bare.clone()
    };
    Given::with(())
        .given_no_previous_events()
        .when(receive(bare))
        .then_expect_events(vec![received(recorded)]);
}

#[test]
fn a_message_without_a_sender_says_so() {
    let mut anonymous = email(Some("m1@example.in"));
    anonymous.from = None;
    let recorded = ReceivedEmail {
        unlinked: Some(Unlinked::NoSender),
        ..anonymous.clone()
    };
    Given::with(())
        .given_no_previous_events()
        .when(receive(anonymous))
        .then_expect_events(vec![received(recorded)]);
}

#[test]
fn a_customer_is_never_linked_to_a_sender_without_an_address() {
    let mut forged = email(Some("m1@example.in"));
    forged.from = from("moderator");
    forged.customer_id = Some(Uuid::from_u128(5));
    Given::with(())
        .given_no_previous_events()
        .when(receive(forged))
        .then_expect_error(InboundEmailError::CustomerWithoutAddress);
}

#[test]
fn a_sender_with_an_address_leaves_the_email_linked_as_decided() {
    let mut linked = email(Some("m1@example.in"));
    linked.customer_id = Some(Uuid::from_u128(5));
    linked.unlinked = Some(Unlinked::NoSender);
    let recorded = ReceivedEmail {
        unlinked: None,
        ..linked.clone()
    };
    Given::with(())
        .given_no_previous_events()
        .when(receive(linked))
        .then_expect_events(vec![received(recorded)]);
}

#[test]
fn which_senders_can_be_linked() {
    assert_eq!(Unlinked::of(None), Some(Unlinked::NoSender));
    assert_eq!(Unlinked::of(from("asha").as_ref()), Some(Unlinked::SenderNotAnAddress));
    assert_eq!(
        Unlinked::of(from("asha@localhost").as_ref()),
        Some(Unlinked::SenderNotAnAddress)
    );
    assert_eq!(Unlinked::of(from("asha@example.in").as_ref()), None);
}

#[test]
fn without_a_message_id_or_content_the_position_identifies_the_email() {
    let (one, moved) = (position(1), position(2));
    let key = |p| inbound_email_id(ACCOUNT, MessageKey::Position(p));
    assert_ne!(key(&one), key(&moved));
    let revalidated = MailPosition {
        uidvalidity: 8,
        ..position(1)
    };
    assert_ne!(key(&one), key(&revalidated));
    assert_ne!(key(&one), inbound_email_id(ACCOUNT, MessageKey::Content("x")));
    assert_ne!(
        inbound_email_id(ACCOUNT, MessageKey::Content("m1@example.in")),
        inbound_email_id(ACCOUNT, MessageKey::MessageId("m1@example.in"))
    );
}

#[test]
fn a_rejection_is_known_by_its_message_id_then_its_content_then_its_position() {
    let by_content = rejected(None, Some("cd"));
    assert_eq!(
        by_content.email_id,
        inbound_email_id(ACCOUNT, MessageKey::Content("cd"))
    );
    let mut forged = rejected(Some("m9@example.in"), Some("cd"));
    forged.email_id = by_content.email_id;
    Given::with(())
        .given_no_previous_events()
        .when(InboundEmailCommand::Reject(Box::new(forged)))
        .then_expect_error(InboundEmailError::IdNotDerivedFromMessage);
}

#[test]
fn the_record_remembers_its_thread_or_that_it_was_rejected() {
    let mut received_once = InboundEmail::default();
    received_once.apply(received(email(Some("m1@example.in"))));
    assert_eq!(received_once.thread_id, Some(THREAD));
    assert_eq!(
        (received_once.organisation_id, received_once.rejected),
        (Some(ORG), false)
    );
    let mut refused = InboundEmail::default();
    refused.apply(InboundEmailEvent::EmailRejected(Box::new(rejected(None, None))));
    assert!(refused.rejected && refused.thread_id.is_none());
    assert_eq!(refused.id, Some(rejected(None, None).email_id));
}

#[test]
fn a_received_email_is_recorded_within_its_limits() {
    let mut long = email(Some("m1@example.in"));
    long.subject = Some("s".repeat(MAX_HEADER_CHARS + 1));
    let events = Given::with(())
        .given_no_previous_events()
        .when(receive(long))
        .inspect_result()
        .unwrap();
    let [InboundEmailEvent::EmailReceived(recorded)] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(recorded.subject.as_ref().map(String::len), Some(MAX_HEADER_CHARS));
}
