use super::*;
use chrono::Duration;
use cqrs_es::test::TestFramework;

type Given = TestFramework<User>;

fn at(minute: i64) -> DateTime<Utc> {
    DateTime::UNIX_EPOCH + Duration::minutes(minute)
}

fn asha() -> EmailAddress {
    EmailAddress::parse("asha@example.com").unwrap()
}

fn org() -> Uuid {
    Uuid::from_u128(1)
}

fn asha_id() -> Uuid {
    user_id_for(org(), &asha())
}

fn registered() -> UserEvent {
    UserEvent::UserRegistered {
        user_id: asha_id(),
        organisation_id: org(),
        email: asha(),
        display_name: "Asha".into(),
        password_hash: "$argon2id$stub".into(),
        role: Role::Agent,
        registered_at: at(0),
    }
}

fn register(display_name: &str, role: Role, registered_by: Option<Role>) -> UserCommand {
    UserCommand::Register {
        user_id: asha_id(),
        organisation_id: org(),
        email: asha(),
        display_name: display_name.into(),
        password_hash: "$argon2id$stub".into(),
        role,
        registered_by,
        at: at(0),
    }
}

fn change_role(acting_user_id: Option<Uuid>, acting_role: Role, role: Role) -> UserCommand {
    UserCommand::ChangeRole {
        organisation_id: org(),
        acting_user_id,
        acting_role,
        role,
    }
}

fn deactivate(acting_user_id: Option<Uuid>) -> UserCommand {
    UserCommand::Deactivate {
        organisation_id: org(),
        acting_user_id,
    }
}

fn reactivate(acting_user_id: Option<Uuid>) -> UserCommand {
    UserCommand::Reactivate {
        organisation_id: org(),
        acting_user_id,
    }
}

fn someone_else() -> Option<Uuid> {
    Some(Uuid::from_u128(99))
}

#[tokio::test]
async fn it_registers_a_user_with_a_trimmed_display_name() {
    Given::with(())
        .given_no_previous_events()
        .when_async(register("  Asha ", Role::Agent, Some(Role::Admin)))
        .await
        .then_expect_events(vec![registered()]);
}

#[tokio::test]
async fn it_should_not_register_the_same_address_twice_in_one_organisation() {
    Given::with(())
        .given(vec![registered()])
        .when_async(register("Asha again", Role::Admin, None))
        .await
        .then_expect_error(UserError::AlreadyRegistered);
}

#[tokio::test]
async fn nobody_registers_a_user_above_their_own_role() {
    Given::with(())
        .given_no_previous_events()
        .when_async(register("Asha", Role::Admin, Some(Role::Manager)))
        .await
        .then_expect_error(UserError::RoleAboveYours);
}

#[tokio::test]
async fn a_manager_may_register_an_agent() {
    Given::with(())
        .given_no_previous_events()
        .when_async(register("Asha", Role::Agent, Some(Role::Manager)))
        .await
        .then_expect_events(vec![registered()]);
}

#[tokio::test]
async fn an_address_mail_cannot_be_sent_to_is_refused() {
    let command = UserCommand::Register {
        user_id: asha_id(),
        organisation_id: org(),
        email: EmailAddress::parse("āsha@example.com").unwrap(),
        display_name: "Asha".into(),
        password_hash: "h".into(),
        role: Role::Agent,
        registered_by: None,
        at: at(0),
    };
    Given::with(())
        .given_no_previous_events()
        .when_async(command)
        .await
        .then_expect_error(UserError::InvalidEmail);
}

#[tokio::test]
async fn a_display_name_must_be_plain_text_within_the_limit() {
    let long = "a".repeat(MAX_DISPLAY_NAME_LEN + 1);
    let refused = [
        " ",
        long.as_str(),
        "Asha\u{0}",
        "Asha\u{202E}gnp.exe",
        "\u{202A}Asha",
        "Asha\u{2066}",
        "Asha\u{2069}",
        "Asha\u{200F}",
        "Asha\u{1b}[31m",
        "Asha\u{7f}",
    ];
    for name in refused {
        Given::with(())
            .given_no_previous_events()
            .when_async(register(name, Role::Agent, None))
            .await
            .then_expect_error(UserError::InvalidDisplayName);
    }
}

#[test]
fn a_display_name_of_the_longest_length_and_any_script_is_accepted() {
    let longest = "अ".repeat(MAX_DISPLAY_NAME_LEN);
    let events = User::default().decide(register(&longest, Role::Agent, None)).unwrap();
    assert_eq!(events.len(), 1);
    assert!(is_safe_text("Asha Rāo, Ravi & Co — سارة"));
}

#[tokio::test]
async fn another_organisation_sees_no_such_user() {
    let command = UserCommand::Deactivate {
        organisation_id: Uuid::from_u128(2),
        acting_user_id: None,
    };
    Given::with(())
        .given(vec![registered()])
        .when_async(command)
        .await
        .then_expect_error(UserError::NotFound);
}

#[tokio::test]
async fn a_command_for_a_user_never_registered_finds_no_user() {
    Given::with(())
        .given_no_previous_events()
        .when_async(deactivate(None))
        .await
        .then_expect_error(UserError::NotFound);
}

#[tokio::test]
async fn an_admin_cannot_deactivate_themselves() {
    Given::with(())
        .given(vec![registered()])
        .when_async(deactivate(Some(asha_id())))
        .await
        .then_expect_error(UserError::CannotChangeOwnAccess);
}

#[tokio::test]
async fn an_admin_deactivates_another_user() {
    Given::with(())
        .given(vec![registered()])
        .when_async(deactivate(someone_else()))
        .await
        .then_expect_events(vec![UserEvent::UserDeactivated]);
}

#[tokio::test]
async fn it_should_not_deactivate_a_deactivated_user() {
    Given::with(())
        .given(vec![registered(), UserEvent::UserDeactivated])
        .when_async(deactivate(None))
        .await
        .then_expect_error(UserError::AlreadyDeactivated);
}

#[tokio::test]
async fn a_deactivated_user_is_reactivated_by_someone_else() {
    Given::with(())
        .given(vec![registered(), UserEvent::UserDeactivated])
        .when_async(reactivate(someone_else()))
        .await
        .then_expect_events(vec![UserEvent::UserReactivated]);
}

#[tokio::test]
async fn nobody_reactivates_themselves_not_even_through_their_api_key() {
    Given::with(())
        .given(vec![registered(), UserEvent::UserDeactivated])
        .when_async(reactivate(Some(asha_id())))
        .await
        .then_expect_error(UserError::CannotChangeOwnAccess);
}

#[tokio::test]
async fn it_should_not_reactivate_an_active_user() {
    Given::with(())
        .given(vec![registered()])
        .when_async(reactivate(None))
        .await
        .then_expect_error(UserError::AlreadyActive);
}

#[tokio::test]
async fn an_admin_changes_another_users_role() {
    Given::with(())
        .given(vec![registered()])
        .when_async(change_role(someone_else(), Role::Admin, Role::Manager))
        .await
        .then_expect_events(vec![UserEvent::UserRoleChanged { role: Role::Manager }]);
}

#[tokio::test]
async fn giving_the_role_a_user_has_records_nothing() {
    Given::with(())
        .given(vec![registered()])
        .when_async(change_role(Some(asha_id()), Role::Agent, Role::Agent))
        .await
        .then_expect_events(vec![]);
}

#[tokio::test]
async fn nobody_changes_their_own_role() {
    Given::with(())
        .given(vec![registered()])
        .when_async(change_role(Some(asha_id()), Role::Admin, Role::Admin))
        .await
        .then_expect_error(UserError::CannotChangeOwnAccess);
}

#[tokio::test]
async fn nobody_gives_a_role_above_their_own() {
    Given::with(())
        .given(vec![registered()])
        .when_async(change_role(someone_else(), Role::Manager, Role::Admin))
        .await
        .then_expect_error(UserError::RoleAboveYours);
}

#[tokio::test]
async fn another_organisation_cannot_change_the_role() {
    let command = UserCommand::ChangeRole {
        organisation_id: Uuid::from_u128(2),
        acting_user_id: None,
        acting_role: Role::Admin,
        role: Role::Agent,
    };
    Given::with(())
        .given(vec![registered()])
        .when_async(command)
        .await
        .then_expect_error(UserError::NotFound);
}

#[tokio::test]
async fn a_user_is_renamed_with_a_trimmed_name() {
    let command = UserCommand::Rename {
        organisation_id: org(),
        display_name: " Asha R ".into(),
    };
    Given::with(())
        .given(vec![registered()])
        .when_async(command)
        .await
        .then_expect_events(vec![UserEvent::UserRenamed {
            display_name: "Asha R".into(),
        }]);
}

#[tokio::test]
async fn a_rename_to_a_name_with_an_override_is_refused() {
    let command = UserCommand::Rename {
        organisation_id: org(),
        display_name: "Asha\u{202D}".into(),
    };
    Given::with(())
        .given(vec![registered()])
        .when_async(command)
        .await
        .then_expect_error(UserError::InvalidDisplayName);
}

#[tokio::test]
async fn another_organisation_cannot_rename_or_set_a_password() {
    let rename = UserCommand::Rename {
        organisation_id: Uuid::from_u128(2),
        display_name: "x".into(),
    };
    Given::with(())
        .given(vec![registered()])
        .when_async(rename)
        .await
        .then_expect_error(UserError::NotFound);
    let password = UserCommand::ChangePassword {
        organisation_id: Uuid::from_u128(2),
        password_hash: "h".into(),
    };
    Given::with(())
        .given(vec![registered()])
        .when_async(password)
        .await
        .then_expect_error(UserError::NotFound);
}

#[tokio::test]
async fn a_password_change_is_recorded() {
    let command = UserCommand::ChangePassword {
        organisation_id: org(),
        password_hash: "$argon2id$new".into(),
    };
    Given::with(())
        .given(vec![registered()])
        .when_async(command)
        .await
        .then_expect_events(vec![UserEvent::UserPasswordChanged {
            password_hash: "$argon2id$new".into(),
        }]);
}

#[test]
fn a_password_change_and_a_deactivation_each_end_every_session_and_a_reactivation_none() {
    let mut user = User::default();
    user.apply(registered());
    assert!(user.accepts_session(0));
    user.apply(UserEvent::UserPasswordChanged {
        password_hash: "$argon2id$new".into(),
    });
    assert_eq!(user.password_hash, "$argon2id$new");
    assert!(!user.accepts_session(0));
    assert!(user.accepts_session(1));
    user.apply(UserEvent::UserDeactivated);
    assert!(!user.active);
    assert!(!user.accepts_session(2), "a deactivated user has no session");
    user.apply(UserEvent::UserReactivated);
    assert!(user.active);
    assert!(!user.accepts_session(1));
    assert!(user.accepts_session(2));
    assert_eq!(user.sessions_ended, 2);
}

#[test]
fn applying_the_events_gives_the_current_user() {
    let mut user = User::default();
    user.apply(registered());
    assert_eq!(user.id, Some(asha_id()));
    assert_eq!(user.organisation_id, Some(org()));
    assert_eq!(user.email, Some(asha()));
    assert_eq!(user.display_name, "Asha");
    assert_eq!(user.password_hash, "$argon2id$stub");
    assert_eq!(user.role, Some(Role::Agent));
    assert!(user.active);
    assert_eq!(user.registered_at, Some(at(0)));
    user.apply(UserEvent::UserRoleChanged { role: Role::Manager });
    user.apply(UserEvent::UserRenamed {
        display_name: "Asha R".into(),
    });
    assert_eq!((user.role, user.display_name.as_str()), (Some(Role::Manager), "Asha R"));
}

#[test]
fn a_user_registered_before_the_per_organisation_ids_still_loads() {
    let stored = r#"{"UserRegistered":{"user_id":"8b5b0b8e-0000-5000-8000-000000000000","organisation_id":"00000000-0000-0000-0000-000000000001","email":"asha@example.com","display_name":"Asha","password_hash":"h","role":"agent","registered_at":"1970-01-01T00:00:00Z"}}"#;
    let mut user = User::default();
    user.apply(serde_json::from_str(stored).unwrap());
    user.apply(serde_json::from_str(r#""UserDeactivated""#).unwrap());
    assert_eq!(user.email, Some(asha()));
    assert_eq!(user.sessions_ended, 1);
}

#[test]
fn a_users_id_is_per_organisation_and_the_legacy_id_per_address() {
    let other_org = Uuid::from_u128(2);
    assert_ne!(user_id_for(org(), &asha()), user_id_for(other_org, &asha()));
    assert_eq!(
        user_id_for(org(), &asha()),
        user_id_for(org(), &EmailAddress::parse("ASHA@example.com ").unwrap())
    );
    assert_ne!(user_id_for(org(), &asha()), legacy_user_id(&asha()));
    // The legacy scheme is pinned: stored users keep these ids.
    assert_eq!(
        legacy_user_id(&asha()),
        Uuid::new_v5(
            &Uuid::from_u128(0x5b1c_0a2e_7d41_4e3a_9f10_8c3e_2a9d_0001),
            b"asha@example.com"
        )
    );
}

#[test]
fn only_registration_creates_a_user() {
    assert!(register("Asha", Role::Agent, None).creates());
    assert!(!deactivate(None).creates());
    assert!(!reactivate(None).creates());
}

#[test]
fn event_types_and_versions_are_pinned() {
    let events = [
        registered(),
        UserEvent::UserRoleChanged { role: Role::Admin },
        UserEvent::UserRenamed {
            display_name: String::new(),
        },
        UserEvent::UserPasswordChanged {
            password_hash: String::new(),
        },
        UserEvent::UserDeactivated,
        UserEvent::UserReactivated,
    ];
    let names: Vec<String> = events.iter().map(DomainEvent::event_type).collect();
    assert_eq!(
        names,
        [
            "UserRegistered",
            "UserRoleChanged",
            "UserRenamed",
            "UserPasswordChanged",
            "UserDeactivated",
            "UserReactivated"
        ]
    );
    assert!(events.iter().all(|e| e.event_version() == "1.0"));
}

#[test]
fn a_users_phone_is_kept_in_e164_changed_once_and_removed() {
    let set = |phone: Option<&str>, organisation_id| UserCommand::SetPhone {
        organisation_id,
        phone: phone.map(str::to_string),
    };
    let phone_set = |phone: Option<&str>| UserEvent::UserPhoneSet {
        phone: phone.map(str::to_string),
    };
    Given::with(())
        .given(vec![registered()])
        .when(set(Some("09876500001"), org()))
        .then_expect_events(vec![phone_set(Some("+919876500001"))]);
    Given::with(())
        .given(vec![registered(), phone_set(Some("+919876500001"))])
        .when(set(Some("+91 98765 00001"), org()))
        .then_expect_events(vec![]);
    Given::with(())
        .given(vec![registered(), phone_set(Some("+919876500001"))])
        .when(set(None, org()))
        .then_expect_events(vec![phone_set(None)]);
    Given::with(())
        .given(vec![registered()])
        .when(set(None, org()))
        .then_expect_events(vec![]);
    Given::with(())
        .given(vec![registered()])
        .when(set(Some("12"), org()))
        .then_expect_error(UserError::InvalidPhone);
    Given::with(())
        .given(vec![registered()])
        .when(set(Some("09876500001"), Uuid::from_u128(99)))
        .then_expect_error(UserError::NotFound);
    let mut user = User::default();
    user.apply(registered());
    user.apply(phone_set(Some("+919876500001")));
    assert_eq!(user.phone.as_deref(), Some("+919876500001"));
}
