use super::*;

fn parsed(raw: &[u8], limit: u64) -> (ParsedEmail, tempfile::TempDir, AttachmentStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = AttachmentStore::new(dir.path());
    match parse(raw, &store, limit).unwrap() {
        Fetched::Parsed(email) => (*email, dir, store),
        other => panic!("not parsed: {other:?}"),
    }
}

const MIXED: &str = "From: \"Asha Rao\" <Asha@Example.IN>\r\n\
To: support@acme.in, Ravi <ravi@acme.in>\r\n\
Cc: team@acme.in\r\n\
Subject: Re: Invoice 42\r\n\
Message-ID: <m2@example.in>\r\n\
In-Reply-To: <m1@acme.in>\r\n\
References: <m0@acme.in> <m1@acme.in>\r\n\
Date: Tue, 3 Mar 2026 10:00:00 +0530\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"outer\"\r\n\
\r\n\
--outer\r\n\
Content-Type: multipart/related; boundary=\"rel\"\r\n\
\r\n\
--rel\r\n\
Content-Type: multipart/alternative; boundary=\"alt\"\r\n\
\r\n\
--alt\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Please see the invoice.\r\n\
--alt\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<p>Please see the <img src=\"cid:logo@acme\"> invoice.</p>\r\n\
--alt--\r\n\
--rel\r\n\
Content-Type: image/png\r\n\
Content-ID: <logo@acme>\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
iVBORw0KGgo=\r\n\
--rel--\r\n\
--outer\r\n\
Content-Type: application/pdf; name=\"invoice.pdf\"\r\n\
Content-Disposition: attachment; filename=\"invoice.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
JVBERi0xLjQKJeLjz9MK\r\n\
--outer--\r\n";

#[test]
fn headers_bodies_attachments_and_inline_images_are_read() {
    let (email, _dir, store) = parsed(MIXED.as_bytes(), 1024);
    assert_eq!(email.message_id.as_deref(), Some("m2@example.in"));
    assert_eq!(email.in_reply_to.as_deref(), Some("m1@acme.in"));
    assert_eq!(email.references, ["m0@acme.in", "m1@acme.in"]);
    let from = email.from.unwrap();
    assert_eq!(
        (from.name.as_deref(), from.address.as_str()),
        (Some("Asha Rao"), "asha@example.in")
    );
    let to: Vec<_> = email.to.iter().map(|a| a.address.as_str()).collect();
    assert_eq!(to, ["support@acme.in", "ravi@acme.in"]);
    assert_eq!(email.cc.len(), 1);
    assert_eq!(email.subject.as_deref(), Some("Re: Invoice 42"));
    assert_eq!(email.date.unwrap().to_rfc3339(), "2026-03-03T04:30:00+00:00");
    assert_eq!(
        email.bodies.text.as_deref().map(str::trim),
        Some("Please see the invoice.")
    );
    assert!(email.bodies.html.unwrap().contains("cid:logo@acme"));
    assert_eq!(email.attachments.len(), 2);
    let logo = &email.attachments[0];
    assert_eq!((logo.content_type.as_str(), logo.inline), ("image/png", true));
    assert_eq!(logo.content_id.as_deref(), Some("logo@acme"));
    let pdf = &email.attachments[1];
    assert_eq!(pdf.filename.as_deref(), Some("invoice.pdf"));
    assert_eq!((pdf.content_type.as_str(), pdf.inline), ("application/pdf", false));
    assert_eq!(pdf.storage, AttachmentStorage::Stored);
    let stored = std::fs::read(store.path_of(&pdf.sha256)).unwrap();
    assert!(stored.starts_with(b"%PDF-1.4"));
    assert_eq!(
        (stored.len() as u64, sha256_hex(&stored)),
        (pdf.size, pdf.sha256.clone())
    );
    assert_eq!(email.sha256, sha256_hex(MIXED.as_bytes()));
}

#[test]
fn an_attachment_over_the_limit_is_recorded_as_skipped_and_not_stored() {
    let (email, _dir, store) = parsed(MIXED.as_bytes(), 8);
    let pdf = &email.attachments[1];
    assert_eq!(pdf.storage, AttachmentStorage::SkippedOverLimit { limit_bytes: 8 });
    assert!(pdf.size > 8 && pdf.sha256.len() == 64);
    assert!(!store.path_of(&pdf.sha256).exists());
    assert_eq!(
        email.attachments[0].storage,
        AttachmentStorage::Stored,
        "the 8-byte logo fits"
    );
}

#[test]
fn a_latin1_body_and_invalid_utf8_are_read_as_best_understood() {
    let mut raw = b"From: a@example.in\r\nSubject: caf\xe9\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nCaf\xe9 cr\xe8me\r\n".to_vec();
    let (email, ..) = parsed(&raw, 1024);
    assert_eq!(email.bodies.text.as_deref().map(str::trim), Some("Café crème"));
    raw = b"From: a@example.in\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nbad \xff\xfe bytes\r\n".to_vec();
    let (email, ..) = parsed(&raw, 1024);
    assert!(email.bodies.text.unwrap().starts_with("bad "));
}

#[test]
fn malformed_mime_keeps_what_can_be_read() {
    let raw = "From: a@example.in\r\nSubject: broken\r\nContent-Type: multipart/mixed; boundary=\"never\"\r\n\r\n--wrong\r\nno closing boundary at all\r\n";
    let (email, ..) = parsed(raw.as_bytes(), 1024);
    assert_eq!(email.subject.as_deref(), Some("broken"));
    assert_eq!(email.from.unwrap().address, "a@example.in");
}

#[test]
fn a_huge_header_is_read_without_trouble() {
    let raw = format!(
        "From: a@example.in\r\nX-Padding: {}\r\nSubject: {}\r\n\r\nbody\r\n",
        "x".repeat(2_000_000),
        "s".repeat(100_000)
    );
    let (email, ..) = parsed(raw.as_bytes(), 1024);
    assert_eq!(email.subject.map(|s| s.len()), Some(100_000));
}

#[test]
fn bytes_without_any_header_are_rejected_with_their_checksum() {
    let dir = tempfile::tempdir().unwrap();
    let store = AttachmentStore::new(dir.path());
    match parse(b"", &store, 1024).unwrap() {
        Fetched::Rejected { reason, sha256, .. } => {
            assert_eq!(reason, RejectReason::Unparseable);
            assert_eq!(sha256.unwrap(), sha256_hex(b""));
        }
        other => panic!("not rejected: {other:?}"),
    }
}

#[test]
fn a_message_id_is_read_from_a_header_alone() {
    let header = b"From: a@example.in\r\nMessage-ID:  <big@example.in> \r\n\r\n";
    assert_eq!(header_message_id(header).as_deref(), Some("big@example.in"));
    assert_eq!(header_message_id(b"From: a@example.in\r\n\r\n"), None);
    let with_nul = b"From: a@example.in\r\nMessage-ID: <n\x00ul@example.in>\r\n\r\n";
    assert_eq!(header_message_id(with_nul).as_deref(), Some("nul@example.in"));
}
