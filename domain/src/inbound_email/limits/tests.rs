//! Each limit at its boundary: given an e-mail at the limit or one over,
//! when it is capped, then what is kept, cut, marked or counted.

use super::super::{AttachmentStorage, MailPosition, RejectReason};
use super::*;
use chrono::{DateTime, Utc};
use uuid::Uuid;

fn address(name: Option<String>, address: String) -> MailAddress {
    MailAddress { name, address }
}

fn email() -> ReceivedEmail {
    ReceivedEmail {
        email_id: Uuid::from_u128(1),
        organisation_id: Uuid::from_u128(2),
        account_id: Uuid::from_u128(3),
        position: MailPosition {
            folder: "INBOX".into(),
            uidvalidity: 1,
            uid: 1,
        },
        message_id: Some("m@x".into()),
        in_reply_to: None,
        references: Vec::new(),
        from: Some(address(None, "asha@example.in".into())),
        to: Vec::new(),
        cc: Vec::new(),
        subject: Some("Hello".into()),
        date: None,
        received_at: DateTime::<Utc>::UNIX_EPOCH,
        bodies: Bodies::default(),
        attachments: Vec::new(),
        omitted_attachments: 0,
        size: 10,
        sha256: "ab".repeat(32),
        thread_id: Uuid::from_u128(4),
        new_thread: true,
        customer_id: None,
        unlinked: None,
    }
}

fn record(n: usize) -> AttachmentRecord {
    AttachmentRecord {
        filename: Some(format!("file-{n}.pdf")),
        content_type: "application/pdf".into(),
        charset: None,
        size: 1,
        sha256: "cd".repeat(32),
        content_id: None,
        inline: false,
        storage: AttachmentStorage::Stored,
    }
}

#[test]
fn a_line_loses_its_control_characters_and_ends_and_keeps_at_most_max_characters() {
    assert_eq!(line("  a\u{0}b\tc  ", 10), "abc");
    assert_eq!(line("ééé", 2), "éé");
    assert_eq!(line(" abc", 2), "a", "cut first, then trimmed");
    assert_eq!(header_value(&"h".repeat(MAX_HEADER_CHARS + 5)).len(), MAX_HEADER_CHARS);
}

#[test]
fn an_optional_text_that_is_left_empty_is_none() {
    assert_eq!(optional(Some(" \u{7} ".into()), 10), None);
    assert_eq!(optional(Some(" x ".into()), 10), Some("x".into()));
    assert_eq!(optional(None, 10), None);
}

#[test]
fn a_body_keeps_tabs_and_line_breaks_and_loses_other_controls() {
    assert_eq!(body("a\tb\r\nc\u{0}d\u{1b}".into()), "a\tb\r\ncd");
    assert_eq!(body("plain\n".into()), "plain\n");
}

#[test]
fn text_at_the_limit_is_whole_and_one_byte_over_is_cut_on_a_character() {
    assert_eq!(cut("abcd".into(), 4), ("abcd".into(), false));
    assert_eq!(cut("abcde".into(), 4), ("abcd".into(), true));
    assert_eq!(cut("aé".into(), 2), ("a".into(), true), "é takes two bytes");
}

#[test]
fn names_addresses_and_types_are_cut_to_their_limits() {
    let long = address(Some("n".repeat(MAX_NAME_CHARS + 1)), "a".repeat(MAX_ADDRESS_CHARS + 1));
    let capped = long.capped();
    assert_eq!(capped.name.map(|n| n.len()), Some(MAX_NAME_CHARS));
    assert_eq!(capped.address.len(), MAX_ADDRESS_CHARS);
    let attachment = AttachmentRecord {
        filename: Some("f".repeat(MAX_NAME_CHARS + 1)),
        content_type: "t".repeat(MAX_TYPE_CHARS + 1),
        charset: Some("c".repeat(MAX_TYPE_CHARS + 1)),
        content_id: Some("i".repeat(MAX_NAME_CHARS + 1)),
        ..record(0)
    }
    .capped();
    assert_eq!(attachment.filename.map(|f| f.len()), Some(MAX_NAME_CHARS));
    assert_eq!(attachment.content_type.len(), MAX_TYPE_CHARS);
    assert_eq!(attachment.charset.map(|c| c.len()), Some(MAX_TYPE_CHARS));
    assert_eq!(attachment.content_id.map(|c| c.len()), Some(MAX_NAME_CHARS));
}

#[test]
fn a_body_at_the_limit_is_unmarked_and_an_earlier_mark_is_kept() {
    let exact = Bodies {
        text: Some("t".repeat(MAX_BODY_BYTES)),
        html: Some("h".repeat(MAX_BODY_BYTES + 1)),
        ..Bodies::default()
    }
    .capped();
    assert!(!exact.text_truncated && exact.html_truncated);
    assert_eq!(exact.html.map(|h| h.len()), Some(MAX_BODY_BYTES));
    let marked = Bodies {
        text: Some("short".into()),
        html: None,
        text_truncated: true,
        html_truncated: true,
    }
    .capped();
    assert!(
        marked.text_truncated && marked.html_truncated,
        "cut before, still marked"
    );
}

#[test]
fn halving_cuts_the_longer_body_the_text_on_a_tie_and_stops_when_both_are_empty() {
    let mut bodies = Bodies {
        text: Some("tt".into()),
        html: Some("hhhh".into()),
        ..Bodies::default()
    };
    assert!(bodies.halve());
    assert_eq!(
        (bodies.text.as_deref(), bodies.html.as_deref()),
        (Some("tt"), Some("hh"))
    );
    assert!(bodies.html_truncated && !bodies.text_truncated);
    assert!(bodies.halve());
    assert_eq!(
        (bodies.text.as_deref(), bodies.html.as_deref()),
        (Some("t"), Some("hh")),
        "a tie halves the text"
    );
    assert!(bodies.text_truncated);
    let mut empty = Bodies::default();
    assert!(!empty.halve());
    assert_eq!(empty, Bodies::default());
}

#[test]
fn the_latest_references_are_kept_and_empty_ones_dropped() {
    let mut many = email();
    many.references = (0..MAX_REFERENCES).map(|i| format!("r{i}@x")).collect();
    many.references.push(" ".into());
    let capped = many.clone().capped();
    assert_eq!(capped.references.len(), MAX_REFERENCES - 1);
    assert_eq!(capped.references.first().map(String::as_str), Some("r1@x"));
    let mut exact = email();
    exact.references = (0..MAX_REFERENCES).map(|i| format!("r{i}@x")).collect();
    assert_eq!(exact.clone().capped().references, exact.references);
}

#[test]
fn at_most_fifty_addresses_a_field_and_a_hundred_attachments_the_rest_counted() {
    let mut full = email();
    full.to = (0..MAX_ADDRESSES + 1)
        .map(|i| address(None, format!("t{i}@x.in")))
        .collect();
    full.cc = (0..MAX_ADDRESSES)
        .map(|i| address(None, format!("c{i}@x.in")))
        .collect();
    full.attachments = (0..MAX_ATTACHMENTS + 3).map(record).collect();
    full.omitted_attachments = 2;
    let capped = full.capped();
    assert_eq!((capped.to.len(), capped.cc.len()), (MAX_ADDRESSES, MAX_ADDRESSES));
    assert_eq!(capped.attachments.len(), MAX_ATTACHMENTS);
    assert_eq!(capped.omitted_attachments, 5, "two before, three more now");
}

#[test]
fn an_event_over_the_limit_without_bodies_halves_its_attachments_then_addresses_then_references() {
    let mut lists = email();
    lists.attachments = vec![record(0), record(1), record(2)];
    lists.to = (0..3).map(|i| address(None, format!("t{i}@x.in"))).collect();
    lists.cc = vec![address(None, "c@x.in".into())];
    lists.references = vec!["a@x".into(), "b@x".into(), "c@x".into()];
    assert!(lists.halve_lists());
    assert_eq!((lists.attachments.len(), lists.omitted_attachments), (2, 1));
    assert!(lists.halve_lists());
    assert_eq!((lists.attachments.len(), lists.omitted_attachments), (1, 2));
    assert!(lists.halve_lists());
    assert_eq!((lists.to.len(), lists.cc.len()), (2, 1));
    assert!(lists.halve_lists());
    assert_eq!((lists.to.len(), lists.cc.len()), (1, 1));
    assert!(lists.halve_lists());
    assert_eq!(lists.references, ["b@x", "c@x"], "the latest are kept");
    assert!(lists.halve_lists());
    assert_eq!(lists.references, ["c@x"]);
    assert!(!lists.halve_lists(), "nothing left to halve");
}

#[test]
fn an_event_that_fits_is_not_halved_and_one_that_does_not_is_halved_until_it_fits() {
    let mut fits = email();
    fits.bodies.text = Some("x".repeat(MAX_BODY_BYTES));
    fits.bodies.html = Some("y".repeat(MAX_BODY_BYTES - 1000));
    assert!(fits.serialised_size() < MAX_EVENT_BYTES);
    let kept = fits.clone().capped();
    assert_eq!(kept.bodies, fits.bodies);
    let mut over = email();
    over.bodies.text = Some("x".repeat(MAX_BODY_BYTES - 1));
    over.bodies.html = Some("y".repeat(MAX_BODY_BYTES));
    over.attachments = vec![record(0), record(1), record(2)];
    assert!(over.serialised_size() > MAX_EVENT_BYTES);
    let cut = over.capped();
    assert!(cut.serialised_size() <= MAX_EVENT_BYTES);
    assert!(
        cut.serialised_size() > MAX_EVENT_BYTES / 2,
        "halved only as far as needed"
    );
    assert_eq!(cut.bodies.text.map(|t| t.len()), Some(MAX_BODY_BYTES - 1));
    assert_eq!(cut.bodies.html.map(|h| h.len()), Some(MAX_BODY_BYTES / 2));
    assert!(cut.bodies.html_truncated && !cut.bodies.text_truncated);
    assert_eq!(
        (cut.attachments.len(), cut.omitted_attachments),
        (3, 0),
        "halving the bodies was enough"
    );
}

#[test]
fn an_event_of_exactly_the_limit_is_left_whole() {
    let mut exact = email();
    exact.bodies.text = Some("x".repeat(MAX_BODY_BYTES));
    exact.bodies.html = Some(String::new());
    let rest = MAX_EVENT_BYTES - exact.serialised_size();
    exact.bodies.html = Some("y".repeat(rest));
    assert_eq!(exact.serialised_size(), MAX_EVENT_BYTES);
    assert_eq!(exact.clone().capped(), exact);
}

#[test]
fn the_message_ids_of_a_received_email_are_cut_to_one_line() {
    let mut long = email();
    long.message_id = Some(format!("{}\u{0}", "m".repeat(MAX_HEADER_CHARS + 1)));
    long.in_reply_to = Some(format!("\u{7}{}", "p".repeat(MAX_HEADER_CHARS + 1)));
    long.cc = vec![address(Some("C\u{0}".into()), "c@x.in".into())];
    let capped = long.capped();
    assert_eq!(capped.message_id.map(|m| m.len()), Some(MAX_HEADER_CHARS));
    assert_eq!(capped.in_reply_to.map(|m| m.len()), Some(MAX_HEADER_CHARS));
    assert_eq!(
        capped.cc[0].name.as_deref(),
        Some("C"),
        "cc addresses are capped like to"
    );
}

#[test]
fn the_serialised_size_is_the_length_of_the_events_json() {
    let plain = email();
    assert_eq!(plain.serialised_size(), serde_json::to_vec(&plain).unwrap().len());
}

#[test]
fn a_rejection_keeps_its_reason_on_one_line() {
    let rejected = RejectedEmail {
        email_id: Uuid::from_u128(1),
        organisation_id: Uuid::from_u128(2),
        account_id: Uuid::from_u128(3),
        position: email().position,
        message_id: Some(format!("{}\u{0}", "m".repeat(MAX_HEADER_CHARS + 1))),
        sha256: None,
        size: 5,
        reason: RejectReason::Unparseable,
        detail: format!("bad\r\n{}", "d".repeat(MAX_HEADER_CHARS)),
        at: DateTime::<Utc>::UNIX_EPOCH,
    }
    .capped();
    assert_eq!(rejected.message_id.map(|m| m.len()), Some(MAX_HEADER_CHARS));
    assert!(rejected.detail.starts_with("badd") && rejected.detail.chars().count() == MAX_HEADER_CHARS);
}
