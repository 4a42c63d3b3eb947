use super::*;
use cqrs_es::test::TestFramework;

type Given = TestFramework<User>;

fn at(minute: i64) -> DateTime<Utc> {
    DateTime::UNIX_EPOCH + Duration::minutes(minute)
}

fn registered(org: Uuid) -> UserEvent {
    let email = EmailAddress::parse("asha@example.com").unwrap();
    UserEvent::UserRegistered {
        user_id: user_id_for_email(&email),
        organisation_id: org,
        email,
        display_name: "Asha".into(),
        password_hash: "$argon2id$stub".into(),
        role: Role::Agent,
        registered_at: at(0),
    }
}

fn failures(count: u32, minute: i64) -> Vec<UserEvent> {
    (0..count)
        .map(|_| UserEvent::UserLoginFailed { at: at(minute) })
        .collect()
}

#[tokio::test]
async fn it_should_not_register_the_same_address_twice() {
    let org = Uuid::new_v4();
    let UserEvent::UserRegistered { user_id, email, .. } = registered(org) else {
        unreachable!()
    };
    let command = UserCommand::Register {
        user_id,
        organisation_id: org,
        email,
        display_name: "Asha again".into(),
        password_hash: "h".into(),
        role: Role::Admin,
        at: at(1),
    };
    Given::with(())
        .given(vec![registered(org)])
        .when_async(command)
        .await
        .then_expect_error(UserError::AlreadyRegistered);
}

#[tokio::test]
async fn a_wrong_password_is_recorded_as_a_failed_login() {
    let command = UserCommand::AttemptLogin {
        password_matched: false,
        at: at(1),
    };
    Given::with(())
        .given(vec![registered(Uuid::new_v4())])
        .when_async(command)
        .await
        .then_expect_events(vec![UserEvent::UserLoginFailed { at: at(1) }]);
}

#[tokio::test]
async fn it_should_lock_the_account_after_too_many_failed_logins() {
    let mut history = vec![registered(Uuid::new_v4())];
    history.extend(failures(MAX_FAILED_LOGINS, 2));
    let command = UserCommand::AttemptLogin {
        password_matched: true,
        at: at(3),
    };
    Given::with(())
        .given(history)
        .when_async(command)
        .await
        .then_expect_error(UserError::LockedOut { until: at(2) + LOCKOUT });
}

#[tokio::test]
async fn the_lock_ends_after_the_lockout_period() {
    let mut history = vec![registered(Uuid::new_v4())];
    history.extend(failures(MAX_FAILED_LOGINS, 2));
    let later = at(2) + LOCKOUT + Duration::seconds(1);
    let command = UserCommand::AttemptLogin {
        password_matched: true,
        at: later,
    };
    Given::with(())
        .given(history)
        .when_async(command)
        .await
        .then_expect_events(vec![UserEvent::UserLoginSucceeded { at: later }]);
}

#[tokio::test]
async fn a_deactivated_user_cannot_log_in() {
    let command = UserCommand::AttemptLogin {
        password_matched: true,
        at: at(1),
    };
    Given::with(())
        .given(vec![registered(Uuid::new_v4()), UserEvent::UserDeactivated])
        .when_async(command)
        .await
        .then_expect_error(UserError::Deactivated);
}

#[tokio::test]
async fn an_unknown_user_cannot_log_in() {
    let command = UserCommand::AttemptLogin {
        password_matched: false,
        at: at(1),
    };
    Given::with(())
        .given_no_previous_events()
        .when_async(command)
        .await
        .then_expect_error(UserError::InvalidCredentials);
}

#[tokio::test]
async fn another_organisation_sees_no_such_user() {
    let command = UserCommand::Deactivate {
        organisation_id: Uuid::new_v4(),
        acting_user_id: None,
    };
    Given::with(())
        .given(vec![registered(Uuid::new_v4())])
        .when_async(command)
        .await
        .then_expect_error(UserError::NotFound);
}

#[tokio::test]
async fn an_admin_cannot_deactivate_themselves() {
    let org = Uuid::new_v4();
    let UserEvent::UserRegistered { user_id, .. } = registered(org) else {
        unreachable!()
    };
    let command = UserCommand::Deactivate {
        organisation_id: org,
        acting_user_id: Some(user_id),
    };
    Given::with(())
        .given(vec![registered(org)])
        .when_async(command)
        .await
        .then_expect_error(UserError::CannotChangeOwnAccess);
}

#[tokio::test]
async fn it_should_not_deactivate_a_deactivated_user() {
    let org = Uuid::new_v4();
    let command = UserCommand::Deactivate {
        organisation_id: org,
        acting_user_id: None,
    };
    Given::with(())
        .given(vec![registered(org), UserEvent::UserDeactivated])
        .when_async(command)
        .await
        .then_expect_error(UserError::AlreadyDeactivated);
}

#[test]
fn failed_logins_are_counted_once_per_event() {
    let mut user = User::default();
    user.apply(registered(Uuid::new_v4()));
    for event in failures(3, 1) {
        user.apply(event);
    }
    assert_eq!(user.failed_logins, 3);
}

#[test]
fn event_type_names_are_pinned() {
    let names: Vec<String> = [
        registered(Uuid::nil()),
        UserEvent::UserLoginSucceeded { at: at(0) },
        UserEvent::UserLoginFailed { at: at(0) },
        UserEvent::UserRoleChanged { role: Role::Admin },
        UserEvent::UserRenamed {
            display_name: String::new(),
        },
        UserEvent::UserPasswordChanged {
            password_hash: String::new(),
        },
        UserEvent::UserDeactivated,
        UserEvent::UserReactivated,
    ]
    .iter()
    .map(DomainEvent::event_type)
    .collect();
    assert_eq!(
        names,
        [
            "UserRegistered",
            "UserLoginSucceeded",
            "UserLoginFailed",
            "UserRoleChanged",
            "UserRenamed",
            "UserPasswordChanged",
            "UserDeactivated",
            "UserReactivated"
        ]
    );
}
