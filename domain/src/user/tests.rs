use super::*;
use chrono::Duration;
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
fn event_type_names_are_pinned() {
    let names: Vec<String> = [
        registered(Uuid::nil()),
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
            "UserRoleChanged",
            "UserRenamed",
            "UserPasswordChanged",
            "UserDeactivated",
            "UserReactivated"
        ]
    );
}
