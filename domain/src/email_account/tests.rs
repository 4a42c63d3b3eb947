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

fn update(
    organisation_id: OrganisationId,
    settings: MailboxSettings,
    passwords: Option<SealedPasswords>,
) -> EmailAccountCommand {
    EmailAccountCommand::Update {
        organisation_id,
        settings: Box::new(settings),
        passwords,
        at: Utc::now(),
    }
}

fn removed() -> EmailAccountEvent {
    EmailAccountEvent::EmailAccountRemoved { at: Utc::now() }
}

/// The account as its events leave it.
fn after(events: Vec<EmailAccountEvent>) -> EmailAccount {
    let mut account = EmailAccount::default();
    for event in events {
        account.apply(event);
    }
    account
}

fn failed(consecutive: u32) -> EmailAccountEvent {
    EmailAccountEvent::MailLoginFailed {
        side: MailSide::Imap,
        error: "AUTHENTICATIONFAILED".into(),
        consecutive,
        needs_attention: consecutive >= ATTENTION_AFTER_FAILURES,
        at: Utc::now(),
    }
}

#[test]
fn the_same_settings_again_without_new_passwords_change_nothing() {
    Given::with(())
        .given(vec![added()])
        .when(update(ORG, settings(), None))
        .then_expect_events(vec![]);
}

#[test]
fn new_passwords_or_new_settings_are_recorded() {
    let events = Given::with(())
        .given(vec![added()])
        .when(update(ORG, settings(), Some(passwords())))
        .inspect_result()
        .unwrap();
    assert!(matches!(
        &events[..],
        [EmailAccountEvent::EmailAccountUpdated { passwords: Some(_), .. }]
    ));
    let mut other = settings();
    other.poll_interval_secs = 60;
    let events = Given::with(())
        .given(vec![added()])
        .when(update(ORG, other.clone(), None))
        .inspect_result()
        .unwrap();
    assert!(
        matches!(&events[..], [EmailAccountEvent::EmailAccountUpdated { settings, passwords: None, .. }] if **settings == other)
    );
}

#[test]
fn a_removed_account_or_another_organisations_cannot_be_changed_or_removed_again() {
    for (history, organisation) in [
        (vec![added(), removed()], ORG),
        (vec![added()], Uuid::from_u128(9)),
        (vec![], ORG),
    ] {
        Given::with(())
            .given(history.clone())
            .when(update(organisation, settings(), None))
            .then_expect_error(EmailAccountError::NotFound);
        Given::with(())
            .given(history)
            .when(EmailAccountCommand::Remove {
                organisation_id: organisation,
                at: Utc::now(),
            })
            .then_expect_error(EmailAccountError::NotFound);
    }
}

#[test]
fn a_live_account_is_one_that_was_added_in_the_organisation_and_not_removed() {
    assert!(after(vec![added()]).is_live_in(ORG));
    assert!(!after(vec![added()]).is_live_in(Uuid::from_u128(9)));
    assert!(!after(vec![added(), removed()]).is_live_in(ORG));
    assert!(!EmailAccount::default().is_live_in(ORG));
}

#[test]
fn logins_of_an_account_never_added_or_removed_record_nothing() {
    let success = EmailAccountCommand::RecordLoginSuccess {
        side: MailSide::Smtp,
        at: Utc::now(),
    };
    for history in [vec![], vec![added(), removed()]] {
        Given::with(())
            .given(history)
            .when(failure())
            .then_expect_events(vec![]);
    }
    Given::with(())
        .given(vec![added(), failed(1), removed()])
        .when(success)
        .then_expect_events(vec![]);
}

#[test]
fn the_record_keeps_failures_until_new_passwords_or_a_success_and_removal_shreds_the_passwords() {
    let failing = after(vec![added(), failed(1), failed(2), failed(3)]);
    assert_eq!((failing.consecutive_failures, failing.needs_attention), (3, true));
    assert_eq!(failing.last_error.as_deref(), Some("AUTHENTICATIONFAILED"));
    let changed = EmailAccountEvent::EmailAccountUpdated {
        settings: Box::new(settings()),
        passwords: None,
        at: Utc::now(),
    };
    let same_passwords = after(vec![added(), failed(1), failed(2), failed(3), changed]);
    assert_eq!(
        (same_passwords.consecutive_failures, same_passwords.needs_attention),
        (3, true)
    );
    let new_passwords = EmailAccountEvent::EmailAccountUpdated {
        settings: Box::new(settings()),
        passwords: Some(SealedPasswords {
            master_key_id: "k2".into(),
            ..passwords()
        }),
        at: Utc::now(),
    };
    let renewed = after(vec![added(), failed(1), failed(2), failed(3), new_passwords]);
    assert_eq!((renewed.consecutive_failures, renewed.needs_attention), (0, false));
    assert_eq!(renewed.passwords.map(|p| p.master_key_id), Some("k2".to_string()));
    let recovered = after(vec![
        added(),
        failed(1),
        EmailAccountEvent::MailLoginRecovered {
            side: MailSide::Imap,
            at: Utc::now(),
        },
    ]);
    assert_eq!(
        (
            recovered.consecutive_failures,
            recovered.needs_attention,
            recovered.last_error
        ),
        (0, false, None)
    );
    let gone = after(vec![added(), removed()]);
    assert!(gone.removed && gone.passwords.is_none());
    let added = after(vec![added()]);
    assert_eq!((added.id, added.organisation_id), (Some(ACCOUNT), Some(ORG)));
    assert!(added.added_at.is_some() && added.passwords.is_some());
}

#[test]
fn event_versions_are_pinned() {
    for event in [added(), removed(), failed(1)] {
        assert_eq!(event.event_version(), "1.0", "{}", event.event_type());
    }
    assert_eq!(failed(1).event_type(), "MailLoginFailed");
}
