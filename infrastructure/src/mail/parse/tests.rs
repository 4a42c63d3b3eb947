use super::*;
use domain::inbound_email::AttachmentStorage;

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

/// Built the way Eudora attached files: a PNG uuencoded under a
/// Content-Type of `image/png` (what the file is, not what the part holds).
const UUENCODED: &str = "From: Doug <doug@example.com>\r\n\
Subject: The Hare and the Tortoise\r\n\
Mime-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"=====_716177458==_\"\r\n\
\r\n\
--=====_716177458==_\r\n\
Content-Type: text/plain; charset=\"us-ascii\"\r\n\
\r\n\
Slow but steady wins the race.\r\n\
--=====_716177458==_\r\n\
Content-Type: image/png; name=\"greenball.png\"\r\n\
Content-Transfer-Encoding: x-uuencode\r\n\
Content-Disposition: attachment; filename=\"greenball.png\"\r\n\
\r\n\
\r\n\
begin 600 greenball.png\r\n\
(B5!.1PT*&@H`\r\n\
`\r\n\
end\r\n\
\r\n\
--=====_716177458==_\r\n\
Content-Type: application/octet-stream\r\n\
Content-Transfer-Encoding: x-uuencode\r\n\
Content-Disposition: attachment\r\n\
\r\n\
begin 644 notes\r\n\
#0V%T\r\n\
`\r\n\
end\r\n\
--=====_716177458==_\r\n\
Content-Type: image/png; name=\"broken.png\"\r\n\
Content-Transfer-Encoding: x-uuencode\r\n\
Content-Disposition: attachment; filename=\"broken.png\"\r\n\
\r\n\
this was never uuencoded\r\n\
--=====_716177458==_--\r\n";

#[test]
fn x_uuencoded_attachments_are_stored_decoded_with_a_type_from_their_name_and_never_a_false_one() {
    let (email, _dir, store) = parsed(UUENCODED.as_bytes(), 1024);
    assert_eq!(email.attachments.len(), 3, "{:?}", email.attachments);
    let png = &email.attachments[0];
    let stored = std::fs::read(store.path_of(&png.sha256)).unwrap();
    assert_eq!(stored, b"\x89PNG\r\n\x1a\n", "the file, not its uuencoded text");
    assert_eq!(png.filename.as_deref(), Some("greenball.png"));
    assert_eq!((png.content_type.as_str(), png.size), ("image/png", 8));

    let unnamed = &email.attachments[1];
    assert_eq!(std::fs::read(store.path_of(&unnamed.sha256)).unwrap(), b"Cat");
    assert_eq!(unnamed.filename.as_deref(), Some("notes"), "the name on the begin line");
    assert_eq!(unnamed.content_type, "application/octet-stream");

    let broken = &email.attachments[2];
    let kept = std::fs::read(store.path_of(&broken.sha256)).unwrap();
    assert_eq!(
        kept, b"this was never uuencoded",
        "undecodable content is kept as it came"
    );
    assert_eq!(
        broken.content_type, "application/octet-stream",
        "not image/png: the bytes are no PNG"
    );
}

#[test]
fn a_text_attachment_in_latin1_is_stored_byte_for_byte_with_its_charset() {
    let raw = b"From: a@example.in\r\nSubject: Preisliste\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee attached.\r\n\
--b\r\nContent-Type: text/plain; charset=ISO-8859-1; name=\"preise.txt\"\r\n\
Content-Disposition: attachment; filename=\"preise.txt\"\r\n\r\nK\xe4se \xfcber Gr\xf6\xdfe\r\n\
--b\r\nContent-Type: text/csv; charset=windows-1252\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
Content-Disposition: attachment; filename=\"euro.csv\"\r\n\r\npreis;=80 5=\r\n,00\r\n\
--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\
Content-Transfer-Encoding: base64\r\n\
Content-Disposition: attachment; filename=\"caf.txt\"\r\n\r\nQ2Fm6Q==\r\n\
--b--\r\n";
    let (email, _dir, store) = parsed(raw, 1024);
    assert_eq!(email.bodies.text.as_deref().map(str::trim), Some("See attached."));
    let stored: Vec<(Vec<u8>, Option<&str>)> = email
        .attachments
        .iter()
        .map(|a| (std::fs::read(store.path_of(&a.sha256)).unwrap(), a.charset.as_deref()))
        .collect();
    assert_eq!(
        stored,
        [
            (b"K\xe4se \xfcber Gr\xf6\xdfe".to_vec(), Some("ISO-8859-1")),
            (b"preis;\x80 5,00".to_vec(), Some("windows-1252")),
            (b"Caf\xe9".to_vec(), Some("iso-8859-1")),
        ]
    );
    assert_eq!(email.attachments[0].size, 15);
    assert_eq!(email.attachments[1].content_type, "text/csv");
}

#[test]
fn a_from_without_an_address_is_kept_as_written() {
    let (email, ..) = parsed(b"From: Whomever\r\nSubject: hi\r\n\r\nbody\r\n", 1024);
    let from = email.from.unwrap();
    assert_eq!((from.name, from.address.as_str()), (None, "Whomever"));
    let (email, ..) = parsed(b"From: Moderator-Address <moderator>\r\n\r\nbody\r\n", 1024);
    assert_eq!(email.from.unwrap().address, "moderator");
    let (email, ..) = parsed(b"Subject: no sender\r\n\r\nbody\r\n", 1024);
    assert_eq!(email.from, None);
}

/// A multipart/alternative whose first boundary was left out: its
/// Content-Type is followed straight by the text part's.
const BROKEN_ALTERNATIVE: &str = "From: test <test@example.com>\r\n\
Subject: test multipart, related first, with image\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/related;\r\n boundary=\"------------related\"\r\n\
\r\n\
--------------related\r\n\
Content-Type: multipart/alternative;\r\n boundary=\"------------alternative\"\r\n\
Content-Type: text/plain; charset=UTF-8; format=flowed\r\n\
Content-Transfer-Encoding: 8bit\r\n\
\r\n\
Plain Text\r\n\
\r\n\
--------------alternative\r\n\
Content-Type: text/html; charset=UTF-8\r\n\
Content-Transfer-Encoding: 8bit\r\n\
\r\n\
<html><body>HTML Body<br><img src=\"cid:part1\"></body></html>\r\n\
\r\n\
--------------alternative\r\n\
\r\n\
--------------related\r\n\
Content-Type: image/png\r\n\
Content-Transfer-Encoding: base64\r\n\
Content-ID: <part1>\r\n\
\r\n\
iVBORw0KGgo=\r\n\
\r\n\
--------------related--\r\n";

#[test]
fn a_broken_nested_multipart_gives_its_text_and_html_apart_and_no_html_source_in_the_text() {
    let (email, ..) = parsed(BROKEN_ALTERNATIVE.as_bytes(), 1024);
    let text = email.bodies.text.unwrap();
    assert_eq!(text.trim(), "Plain Text");
    assert!(!text.contains("<html") && !text.contains("Content-Type"), "{text}");
    let html = email.bodies.html.unwrap();
    assert!(html.contains("HTML Body"), "{html}");
    let images: Vec<&str> = email.attachments.iter().map(|a| a.content_type.as_str()).collect();
    assert_eq!(images, ["image/png"]);
}
