//! Each rule of an account's settings at its boundary: given a body, when
//! the settings are made (or merged into the current ones), then these
//! settings or this field at fault.

use super::*;
use serde_json::{Value, json};

fn input(body: Value) -> MailboxInput {
    let mut body = body;
    if body.get("email").is_none() {
        body["email"] = json!("desk@acme.in");
    }
    serde_json::from_value(body).unwrap()
}

fn made(body: Value) -> MailboxSettings {
    input(body).create().unwrap()
}

fn field_at_fault(body: Value) -> String {
    input(body).create().unwrap_err().field
}

#[test]
fn a_new_account_sends_and_receives_is_not_the_default_and_is_named_after_its_address() {
    let s = made(json!({}));
    assert_eq!(s.name, "desk@acme.in");
    assert_eq!((s.smtp_enabled, s.imap_enabled, s.is_default), (true, true, false));
    assert_eq!(s.smtp.user, "desk@acme.in");
    assert_eq!((s.signature_html, s.signature_text), (None, None));
    let named = made(
        json!({"name": "  Desk  ", "smtp_enabled": false, "imap_enabled": false, "is_default": true,
        "smtp_user": "smtp-login", "imap_user": "  ", "signature_text": " Regards "}),
    );
    assert_eq!(named.name, "Desk");
    assert_eq!(
        (named.smtp_enabled, named.imap_enabled, named.is_default),
        (false, false, true)
    );
    assert_eq!(
        (named.smtp.user.as_str(), named.imap.user.as_str()),
        ("smtp-login", "desk@acme.in")
    );
    assert_eq!(named.signature_text.as_deref(), Some("Regards"));
}

#[test]
fn an_account_needs_a_valid_address() {
    assert_eq!(field_at_fault(json!({"email": "not-an-address"})), "email");
    let no_email: MailboxInput = serde_json::from_value(json!({})).unwrap();
    assert_eq!(no_email.create().unwrap_err().field, "email");
}

#[test]
fn a_host_is_lower_cased_labels_of_letters_digits_and_dashes_up_to_253_characters() {
    let s = made(json!({"smtp_host": " Mail-1.Acme.IN ", "imap_host": "localhost"}));
    assert_eq!(
        (s.smtp.host.as_str(), s.imap.host.as_str()),
        ("mail-1.acme.in", "localhost")
    );
    let label = "a".repeat(63);
    let longest = [label.as_str(), &label, &label, &"a".repeat(61)].join(".");
    assert_eq!(longest.len(), 253);
    assert_eq!(made(json!({"smtp_host": longest})).smtp.host.len(), 253);
    let too_long = format!("a{longest}");
    for bad in [too_long.as_str(), "", "a..b", ".a", "a.", "a_b.in", "a b.in"] {
        assert_eq!(field_at_fault(json!({"smtp_host": bad})), "smtp_host", "{bad:?}");
        assert_eq!(field_at_fault(json!({"imap_host": bad})), "imap_host", "{bad:?}");
    }
}

#[test]
fn a_name_is_at_most_100_characters_and_a_signature_at_most_10000() {
    assert_eq!(made(json!({"name": "é".repeat(100)})).name.chars().count(), 100);
    assert_eq!(field_at_fault(json!({"name": "é".repeat(101)})), "name");
    let signature = "s".repeat(MAX_SIGNATURE);
    let s = made(json!({"signature_html": signature, "signature_text": signature}));
    assert_eq!(s.signature_html.map(|h| h.len()), Some(MAX_SIGNATURE));
    let over = "s".repeat(MAX_SIGNATURE + 1);
    assert_eq!(field_at_fault(json!({"signature_html": over})), "signature_html");
    assert_eq!(field_at_fault(json!({"signature_text": over})), "signature_text");
}

#[test]
fn security_is_what_is_named_else_the_seeds_flag_else_implicit_tls_on_465_and_993() {
    use MailSecurity::{None as Plain, Starttls, Tls};
    assert_eq!(security(Some(Plain), Some(true), 465, 465), Plain);
    assert_eq!(security(None, Some(true), 587, 465), Tls);
    assert_eq!(security(None, Some(false), 465, 465), Starttls);
    assert_eq!(security(None, None, 465, 465), Tls);
    assert_eq!(security(None, None, 587, 465), Starttls);
    let s = made(json!({"smtp_port": 465, "imap_port": 143}));
    assert_eq!((s.smtp.security, s.imap.security), (Tls, Starttls));
}

#[test]
fn one_to_twenty_folders_each_a_trimmed_printable_name_of_at_most_255() {
    assert_eq!(made(json!({})).folders, ["INBOX"]);
    let twenty: Vec<String> = (0..20).map(|i| format!(" F{i} ")).collect();
    let s = made(json!({"folders": twenty}));
    assert_eq!((s.folders.len(), s.folders[0].as_str()), (20, "F0"));
    assert_eq!(made(json!({"folders": ["f".repeat(255)]})).folders[0].len(), 255);
    let twenty_one: Vec<String> = (0..21).map(|i| format!("F{i}")).collect();
    for bad in [
        json!([]),
        json!(twenty_one),
        json!(["  "]),
        json!(["f".repeat(256)]),
        json!(["a\u{7}b"]),
    ] {
        assert_eq!(field_at_fault(json!({"folders": bad})), "folders", "{bad}");
    }
}

#[test]
fn the_poll_interval_is_ten_to_three_hundred_seconds_in_either_spelling() {
    assert_eq!(made(json!({})).poll_interval_secs, DEFAULT_POLL_SECS);
    assert_eq!(made(json!({"poll_interval_secs": 10})).poll_interval_secs, 10);
    assert_eq!(made(json!({"poll_interval_secs": 300})).poll_interval_secs, 300);
    assert_eq!(made(json!({"poll_interval_ms": 10_999})).poll_interval_secs, 10);
    assert_eq!(
        made(json!({"poll_interval_secs": 20, "poll_interval_ms": 60_000})).poll_interval_secs,
        20
    );
    assert_eq!(field_at_fault(json!({"poll_interval_ms": 9_999})), "poll_interval_ms");
    assert_eq!(field_at_fault(json!({"poll_interval_ms": 301_000})), "poll_interval_ms");
}

#[test]
fn a_port_is_not_zero_and_a_login_is_at_most_255_characters() {
    assert_eq!(field_at_fault(json!({"smtp_port": 0})), "smtp_port");
    assert_eq!(field_at_fault(json!({"imap_port": 0})), "imap_port");
    assert_eq!(made(json!({"smtp_user": "u".repeat(255)})).smtp.user.len(), 255);
    assert_eq!(field_at_fault(json!({"smtp_user": "u".repeat(256)})), "smtp_user");
    assert_eq!(field_at_fault(json!({"imap_user": "u".repeat(256)})), "imap_user");
}

fn current() -> MailboxSettings {
    made(
        json!({"name": "Desk", "smtp_host": "smtp.acme.in", "smtp_port": 465, "smtp_user": "s-login",
        "imap_host": "imap.acme.in", "imap_port": 143, "imap_user": "i-login", "folders": ["INBOX", "Sales"],
        "poll_interval_secs": 60, "smtp_enabled": false, "imap_enabled": false, "is_default": true,
        "signature_html": "<b>D</b>", "signature_text": "D"}),
    )
}

#[test]
fn an_empty_update_keeps_every_setting() {
    let empty: MailboxInput = serde_json::from_value(json!({})).unwrap();
    assert_eq!(empty.update(&current()).unwrap(), current());
}

#[test]
fn an_update_changes_each_field_it_names_and_nothing_else() {
    let changes = json!({"name": "Sales", "email": "sales@acme.in", "smtp_host": "out.acme.in", "smtp_port": 2525,
        "smtp_security": "starttls", "smtp_user": "new-s", "imap_host": "in.acme.in", "imap_port": 993,
        "imap_security": "tls", "imap_user": "new-i", "folders": ["Leads"], "poll_interval_secs": 120,
        "smtp_enabled": true, "imap_enabled": true, "is_default": false, "signature_html": "<i>S</i>",
        "signature_text": "S"});
    let changed: MailboxInput = serde_json::from_value(changes).unwrap();
    let s = changed.update(&current()).unwrap();
    assert_eq!((s.name.as_str(), s.address.as_str()), ("Sales", "sales@acme.in"));
    assert_eq!(
        s.smtp,
        Server {
            host: "out.acme.in".into(),
            port: 2525,
            security: MailSecurity::Starttls,
            user: "new-s".into()
        }
    );
    assert_eq!(
        s.imap,
        Server {
            host: "in.acme.in".into(),
            port: 993,
            security: MailSecurity::Tls,
            user: "new-i".into()
        }
    );
    assert_eq!((s.folders, s.poll_interval_secs), (vec!["Leads".to_string()], 120));
    assert_eq!((s.smtp_enabled, s.imap_enabled, s.is_default), (true, true, false));
    assert_eq!(
        (s.signature_html.as_deref(), s.signature_text.as_deref()),
        (Some("<i>S</i>"), Some("S"))
    );
}

#[test]
fn an_update_in_the_seeds_spellings_replaces_the_current_security_and_interval() {
    let seed: MailboxInput =
        serde_json::from_value(json!({"smtp_secure": false, "imap_tls": true, "poll_interval_ms": 30_000})).unwrap();
    let s = seed.update(&current()).unwrap();
    assert_eq!(
        (s.smtp.security, s.imap.security),
        (MailSecurity::Starttls, MailSecurity::Tls)
    );
    assert_eq!(s.poll_interval_secs, 30);
    assert_eq!(s.smtp.port, 465, "the port stays");
}

#[test]
fn an_update_is_checked_like_a_new_account() {
    let bad: MailboxInput = serde_json::from_value(json!({"folders": []})).unwrap();
    assert_eq!(bad.update(&current()).unwrap_err().field, "folders");
}
