use super::*;
use cqrs_es::test::TestFramework;
use serde_json::json;

type Given = TestFramework<EmailAccount>;

const ORG: Uuid = Uuid::from_u128(1);
const ACCOUNT: Uuid = Uuid::from_u128(2);

fn settings() -> MailboxSettings {
    let input: MailboxInput = serde_json::from_value(json!({"email": "Support@Acme.in"})).unwrap();
    input.create().unwrap()
}

fn passwords() -> SealedPasswords {
    SealedPasswords {
        secrets: Vec::new(),
        data_key_id: Uuid::nil(),
        master_key_id: "k1".into(),
    }
}

fn added() -> EmailAccountEvent {
    EmailAccountEvent::EmailAccountAdded {
        account_id: ACCOUNT,
        organisation_id: ORG,
        settings: Box::new(settings()),
        passwords: passwords(),
        added_by: None,
        at: Utc::now(),
    }
}

fn failure() -> EmailAccountCommand {
    EmailAccountCommand::RecordLoginFailure {
        side: MailSide::Imap,
        error: "AUTHENTICATIONFAILED".into(),
        at: Utc::now(),
    }
}

#[test]
fn zoho_is_the_default_provider_and_the_address_is_the_login() {
    let s = settings();
    assert_eq!((s.smtp.host.as_str(), s.smtp.port), ("smtp.zoho.com", 587));
    assert_eq!(s.smtp.security, crate::integration::settings::MailSecurity::Starttls);
    assert_eq!((s.imap.host.as_str(), s.imap.port), ("imap.zoho.com", 993));
    assert_eq!(s.imap.security, crate::integration::settings::MailSecurity::Tls);
    assert_eq!(s.imap.user, "support@acme.in");
    assert_eq!(
        (s.folders.clone(), s.poll_interval_secs),
        (vec!["INBOX".to_string()], 30)
    );
}

#[test]
fn the_seeds_spellings_of_polling_and_security_are_understood() {
    let input: MailboxInput = serde_json::from_value(json!({"email": "a@b.in", "smtp_port": 465, "smtp_secure": true,
        "imap_tls": false, "imap_port": 143, "poll_interval_ms": 60000}))
    .unwrap();
    let s = input.create().unwrap();
    assert_eq!(s.smtp.security, crate::integration::settings::MailSecurity::Tls);
    assert_eq!(s.imap.security, crate::integration::settings::MailSecurity::Starttls);
    assert_eq!(s.poll_interval_secs, 60);
}

#[test]
fn a_poll_interval_outside_ten_to_three_hundred_seconds_is_refused() {
    for secs in [9, 301] {
        let input: MailboxInput =
            serde_json::from_value(json!({"email": "a@b.in", "poll_interval_secs": secs})).unwrap();
        assert_eq!(input.create().unwrap_err().field, "poll_interval_secs");
    }
}

#[test]
fn an_update_changes_only_what_it_names() {
    let input: MailboxInput =
        serde_json::from_value(json!({"poll_interval_ms": 120000, "imap_enabled": false})).unwrap();
    let updated = input.update(&settings()).unwrap();
    assert_eq!((updated.poll_interval_secs, updated.imap_enabled), (120, false));
    assert_eq!(updated.smtp, settings().smtp);
}

#[test]
fn an_account_is_added_once() {
    Given::with(())
        .given(vec![added()])
        .when(EmailAccountCommand::Add {
            account_id: ACCOUNT,
            organisation_id: ORG,
            settings: Box::new(settings()),
            passwords: passwords(),
            added_by: None,
            at: Utc::now(),
        })
        .then_expect_error(EmailAccountError::AlreadyExists);
}

#[test]
fn another_organisation_cannot_remove_the_account() {
    Given::with(())
        .given(vec![added()])
        .when(EmailAccountCommand::Remove {
            organisation_id: Uuid::from_u128(9),
            at: Utc::now(),
        })
        .then_expect_error(EmailAccountError::NotFound);
}

#[test]
fn the_third_login_failure_in_a_row_needs_attention_and_a_success_clears_it() {
    let mut history = vec![added()];
    for expected in 1..=3u32 {
        let events = Given::with(())
            .given(history.clone())
            .when(failure())
            .inspect_result()
            .unwrap();
        assert!(
            matches!(&events[..], [EmailAccountEvent::MailLoginFailed { consecutive, needs_attention, .. }]
            if *consecutive == expected && *needs_attention == (expected == 3))
        );
        history.extend(events);
    }
    let success = EmailAccountCommand::RecordLoginSuccess {
        side: MailSide::Imap,
        at: Utc::now(),
    };
    let events = Given::with(())
        .given(history)
        .when(success.clone())
        .inspect_result()
        .unwrap();
    assert_eq!(events[0].event_type(), "MailLoginRecovered");
    Given::with(())
        .given(vec![added()])
        .when(success)
        .then_expect_events(vec![]);
}

#[test]
fn event_type_names_are_pinned() {
    let at = Utc::now();
    let names: Vec<String> = [
        added(),
        EmailAccountEvent::EmailAccountUpdated {
            settings: Box::new(settings()),
            passwords: None,
            at,
        },
        EmailAccountEvent::EmailAccountRemoved { at },
        EmailAccountEvent::MailLoginRecovered {
            side: MailSide::Smtp,
            at,
        },
    ]
    .iter()
    .map(DomainEvent::event_type)
    .collect();
    assert_eq!(
        names,
        [
            "EmailAccountAdded",
            "EmailAccountUpdated",
            "EmailAccountRemoved",
            "MailLoginRecovered"
        ]
    );
}
