//! The rules of a draft, each at its boundary: given a request, when it is
//! checked (or signed), then this content or this field at fault.

use super::*;

fn draft() -> Draft {
    Draft {
        to: vec!["bob@example.in".into()],
        subject: "Invoice 42".into(),
        text: Some("Please pay.".into()),
        ..Draft::default()
    }
}

fn refused(draft: Draft) -> (String, String) {
    let error = draft.check().expect_err("the draft breaks a rule");
    (error.field, error.reason)
}

fn field_at_fault(draft: Draft) -> String {
    refused(draft).0
}

fn many(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}@example.in")).collect()
}

#[test]
fn an_ordinary_draft_keeps_its_content_trimmed_and_its_priority_and_thread() {
    let thread = Uuid::from_u128(7);
    let checked = Draft {
        cc: vec!["Carol@Example.IN".into()],
        reply_to: vec!["desk@example.in".into()],
        subject: "  Invoice 42 ".into(),
        html: Some("<p>Pay</p>".into()),
        priority: Priority::High,
        thread_id: Some(thread),
        ..draft()
    }
    .check()
    .unwrap();
    assert_eq!(checked.to, [EmailAddress::parse("bob@example.in").unwrap()]);
    assert_eq!(checked.cc, [EmailAddress::parse("carol@example.in").unwrap()]);
    assert_eq!(checked.reply_to.len(), 1);
    assert_eq!(checked.subject, "Invoice 42");
    assert_eq!(checked.html.as_deref(), Some("<p>Pay</p>"));
    assert_eq!(checked.text.as_deref(), Some("Please pay."));
    assert_eq!((checked.priority, checked.thread_id), (Priority::High, Some(thread)));
}

#[test]
fn each_address_list_names_itself_when_an_address_is_bad_or_not_ascii() {
    assert_eq!(
        field_at_fault(Draft {
            to: vec!["nope".into()],
            ..draft()
        }),
        "to"
    );
    assert_eq!(
        field_at_fault(Draft {
            cc: vec!["nope".into()],
            ..draft()
        }),
        "cc"
    );
    assert_eq!(
        field_at_fault(Draft {
            bcc: vec!["nope".into()],
            ..draft()
        }),
        "bcc"
    );
    assert_eq!(
        field_at_fault(Draft {
            reply_to: vec!["nope".into()],
            ..draft()
        }),
        "reply_to"
    );
    let (field, reason) = refused(Draft {
        to: vec!["jürgen@example.de".into()],
        ..draft()
    });
    assert_eq!((field.as_str(), reason.contains("ASCII")), ("to", true));
}

#[test]
fn a_draft_needs_a_recipient_in_to() {
    let only_cc = Draft {
        to: Vec::new(),
        cc: vec!["carol@example.in".into()],
        ..draft()
    };
    assert_eq!(refused(only_cc), ("to".into(), "name at least one recipient".into()));
}

#[test]
fn a_hundred_recipients_over_to_cc_and_bcc_are_allowed_and_one_more_is_not() {
    let split = |to: usize, cc: usize, bcc: usize| Draft {
        to: many("t", to),
        cc: many("c", cc),
        bcc: many("b", bcc),
        ..draft()
    };
    assert!(split(40, 30, 30).check().is_ok());
    assert!(split(100, 0, 0).check().is_ok());
    for over in [split(41, 30, 30), split(1, 100, 0), split(1, 0, 100), split(101, 0, 0)] {
        assert_eq!(field_at_fault(over), "to");
    }
}

#[test]
fn a_draft_needs_a_body_that_is_not_blank() {
    let blank = Draft {
        text: Some("  \n ".into()),
        html: Some(" ".into()),
        ..draft()
    };
    assert_eq!(field_at_fault(blank), "text");
    let html_only = Draft {
        text: None,
        html: Some("<p>hi</p>".into()),
        ..draft()
    };
    assert_eq!(html_only.check().unwrap().text, None);
    let blank_html = Draft {
        html: Some("   ".into()),
        ..draft()
    };
    assert_eq!(blank_html.check().unwrap().html, None, "a blank part is dropped");
}

#[test]
fn a_subject_is_required_on_one_line_of_at_most_998_characters() {
    let subject = |s: String| Draft { subject: s, ..draft() };
    assert_eq!(refused(subject("   ".into())), ("subject".into(), "is required".into()));
    assert_eq!(subject("é".repeat(998)).check().unwrap().subject.chars().count(), 998);
    assert_eq!(field_at_fault(subject("é".repeat(999))), "subject");
    assert_eq!(field_at_fault(subject("two\nlines".into())), "subject");
}

fn with_header(name: &str, value: &str) -> Draft {
    Draft {
        headers: BTreeMap::from([(name.to_string(), value.to_string())]),
        ..draft()
    }
}

#[test]
fn a_custom_header_is_kept_with_its_value_trimmed() {
    let checked = with_header("X-Ticket", "  42 \t").check().unwrap();
    assert_eq!(
        checked.headers,
        [CustomHeader {
            name: "X-Ticket".into(),
            value: "42".into()
        }]
    );
    let tab = with_header("X-Tabbed", "a\tb").check().unwrap();
    assert_eq!(tab.headers[0].value, "a\tb", "a tab is no control character here");
}

#[test]
fn a_header_name_is_1_to_76_letters_digits_or_dashes() {
    assert!(with_header(&format!("X-{}", "a".repeat(74)), "v").check().is_ok());
    for bad in [
        format!("X-{}", "a".repeat(75)),
        "X_Under".into(),
        "X Space".into(),
        String::new(),
    ] {
        let field = field_at_fault(with_header(&bad, "v"));
        assert_eq!(field, format!("headers.{bad}"));
    }
}

#[test]
fn structural_and_content_headers_cannot_be_set_in_any_case() {
    for name in [
        "From",
        "MESSAGE-ID",
        "x-priority",
        "DKIM-Signature",
        "Content-Type",
        "content-disposition",
    ] {
        let (field, reason) = refused(with_header(name, "v"));
        assert_eq!(field, format!("headers.{name}"));
        assert!(reason.contains("written by Switchboard"), "{name}: {reason}");
    }
    assert!(
        with_header("X-Content", "v").check().is_ok(),
        "only names starting content-"
    );
}

#[test]
fn a_header_value_is_one_line_of_1_to_998_characters() {
    for bad in ["a\rb", "a\nb", "a\u{0}b", "a\u{1b}b", "   "] {
        assert_eq!(field_at_fault(with_header("X-A", bad)), "headers.X-A", "{bad:?}");
    }
    assert!(with_header("X-A", &"v".repeat(998)).check().is_ok());
    let (_, reason) = refused(with_header("X-A", &"v".repeat(999)));
    assert_eq!(reason, "a header value is 1 to 998 characters");
}

#[test]
fn at_most_fifty_headers() {
    let headers = |n: usize| Draft {
        headers: (0..n).map(|i| (format!("X-H{i}"), "v".to_string())).collect(),
        ..draft()
    };
    assert_eq!(headers(50).check().unwrap().headers.len(), 50);
    assert_eq!(refused(headers(51)), ("headers".into(), "at most 50 headers".into()));
}

#[test]
fn a_message_id_reference_is_bracketed_left_at_right() {
    assert_eq!(message_id_reference("f", "a@b").unwrap(), "<a@b>");
    assert_eq!(message_id_reference("f", " <a@b> ").unwrap(), "<a@b>");
    let longest = format!("{}@b", "a".repeat(993));
    assert_eq!(message_id_reference("f", &longest).unwrap(), format!("<{longest}>"));
    let too_long = format!("{}@b", "a".repeat(994));
    for bad in [
        "ab",
        "@b",
        "a@",
        "a@b@c",
        "a b@c",
        "a<@b",
        "a\u{e9}@b",
        too_long.as_str(),
    ] {
        let error = message_id_reference("in_reply_to", bad).unwrap_err();
        assert_eq!(error.field, "in_reply_to", "{bad}");
    }
}

#[test]
fn a_reply_lists_its_parent_last_in_references_once() {
    let reply = |in_reply_to: Option<&str>, references: &[&str]| {
        Draft {
            in_reply_to: in_reply_to.map(str::to_string),
            references: references.iter().map(|r| r.to_string()).collect(),
            ..draft()
        }
        .check()
        .unwrap()
    };
    let moved = reply(Some("p@x"), &["p@x", "a@x"]);
    assert_eq!(moved.in_reply_to.as_deref(), Some("<p@x>"));
    assert_eq!(moved.references, ["<a@x>", "<p@x>"]);
    assert_eq!(reply(Some("<p@x>"), &["a@x", "p@x"]).references, ["<a@x>", "<p@x>"]);
    assert_eq!(reply(Some("p@x"), &[]).references, ["<p@x>"]);
    let blank = reply(Some("  "), &["a@x"]);
    assert_eq!((blank.in_reply_to, blank.references), (None, vec!["<a@x>".to_string()]));
}

#[test]
fn at_most_a_hundred_references_and_each_must_be_a_message_id() {
    let references = |n: usize| Draft {
        references: (0..n).map(|i| format!("r{i}@x")).collect(),
        ..draft()
    };
    assert_eq!(references(100).check().unwrap().references.len(), 100);
    assert_eq!(field_at_fault(references(101)), "references");
    let bad = Draft {
        references: vec!["nope".into()],
        ..draft()
    };
    assert_eq!(field_at_fault(bad), "references");
    let bad_parent = Draft {
        in_reply_to: Some("nope".into()),
        ..draft()
    };
    assert_eq!(field_at_fault(bad_parent), "in_reply_to");
}

#[test]
fn recipients_are_every_envelope_address_once_in_order() {
    let content = Draft {
        to: vec!["a@x.in".into(), "b@x.in".into()],
        cc: vec!["b@x.in".into(), "c@x.in".into()],
        bcc: vec!["a@x.in".into(), "d@x.in".into()],
        ..draft()
    }
    .check()
    .unwrap();
    let from = EmailAddress::parse("desk@acme.in").unwrap();
    let message = OutboundMessage {
        message_id: message_id(Uuid::from_u128(1), &from),
        from,
        from_name: None,
        content,
        attachments: Vec::new(),
    };
    let all: Vec<String> = message.recipients().iter().map(ToString::to_string).collect();
    assert_eq!(all, ["a@x.in", "b@x.in", "c@x.in", "d@x.in"]);
    assert_eq!(message.message_id, "<00000000000000000000000000000001@acme.in>");
}

#[test]
fn a_signature_goes_before_the_closing_body_tag_whatever_its_case() {
    let content = Draft {
        html: Some("<html><BODY><p>Hi</p></BODY></html>".into()),
        ..draft()
    }
    .check()
    .unwrap()
    .signed(Some("<b>Acme</b>"), Some("Acme Foods"));
    assert_eq!(
        content.html.as_deref(),
        Some("<html><BODY><p>Hi</p><div class=\"signature\"><b>Acme</b></div></BODY></html>")
    );
    assert_eq!(content.text.as_deref(), Some("Please pay.\n\n-- \nAcme Foods\n"));
    let bare = Draft {
        html: Some("<p>Hi</p>".into()),
        ..draft()
    }
    .check()
    .unwrap()
    .signed(Some("S"), None);
    assert_eq!(
        bare.html.as_deref(),
        Some("<p>Hi</p>\n<div class=\"signature\">S</div>")
    );
    assert_eq!(
        bare.text.as_deref(),
        Some("Please pay."),
        "no text signature, text unchanged"
    );
    let text_only = draft().check().unwrap().signed(Some("S"), Some("T"));
    assert_eq!(text_only.html, None, "a signature adds no part");
}

#[test]
fn an_attachment_name_is_1_to_255_characters_without_slashes_or_controls() {
    assert_eq!(
        attachment(0, " report.pdf ", " Application/PDF ").unwrap(),
        ("report.pdf".to_string(), "application/pdf".to_string())
    );
    assert!(attachment(0, &"é".repeat(255), "text/plain").is_ok());
    for bad in [
        "é".repeat(256),
        "  ".into(),
        "a/b".into(),
        "a\\b".into(),
        "a\u{7}b".into(),
    ] {
        let error = attachment(3, &bad, "text/plain").unwrap_err();
        assert_eq!(error.field, "attachments[3].filename", "{bad:?}");
    }
}

#[test]
fn an_attachment_type_is_an_ascii_mime_type_of_at_most_255_characters() {
    let longest = format!("application/{}", "x".repeat(243));
    assert!(attachment(0, "a", &longest).is_ok());
    let too_long = format!("application/{}", "x".repeat(244));
    for bad in [
        "pdf",
        "/pdf",
        "application/",
        "application/pdf\u{1}",
        "applicatión/pdf",
        too_long.as_str(),
    ] {
        let error = attachment(1, "a", bad).unwrap_err();
        assert_eq!(error.field, "attachments[1].content_type", "{bad:?}");
    }
}

#[test]
fn only_high_and_low_priorities_write_headers() {
    assert_eq!(Priority::High.headers(), Some(("1 (Highest)", "High")));
    assert_eq!(Priority::Normal.headers(), None);
    assert_eq!(Priority::Low.headers(), Some(("5 (Lowest)", "Low")));
}
