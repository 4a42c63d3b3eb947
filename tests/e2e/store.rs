//! The event store: optimistic concurrency and event-sourced loading.

use cqrs_es::persist::{PersistedEventRepository, PersistenceError, SerializedEvent};
use domain::Role;
use domain::user::User;
use reqwest::StatusCode;
use serde_json::json;

use application::AggregateStore;
use infrastructure::event_store::AnyRepo;

use crate::support::TestApp;

fn user_renamed(user_id: &str, sequence: usize, name: &str) -> SerializedEvent {
    SerializedEvent {
        aggregate_id: user_id.to_string(),
        sequence,
        aggregate_type: "user".into(),
        event_type: "UserRenamed".into(),
        event_version: "1.0".into(),
        payload: json!({"UserRenamed": {"display_name": name}}),
        metadata: json!({"actor": "system:test", "request_id": "r", "correlation_id": "c", "occurred_at": "2026-11-21T00:00:00Z"}),
    }
}

async fn two_writers_race(app: &TestApp) {
    let email = app.add_user(app.organisation_id, Role::Agent).await;
    let user_id =
        domain::user::user_id_for(app.organisation_id, &domain::EmailAddress::parse(&email).unwrap()).to_string();
    let (first, second) = (AnyRepo::new(&app.state.db), AnyRepo::new(&app.state.db));
    let (one, two) = (
        [user_renamed(&user_id, 2, "first")],
        [user_renamed(&user_id, 2, "second")],
    );
    let (a, b) = tokio::join!(first.persist::<User>(&one, None), second.persist::<User>(&two, None));
    let outcomes = [a, b];
    assert_eq!(
        outcomes.iter().filter(|o| o.is_ok()).count(),
        1,
        "exactly one writer wins"
    );
    assert!(
        outcomes
            .iter()
            .any(|o| matches!(o, Err(PersistenceError::OptimisticLockError))),
        "the loser sees a conflict"
    );
    let loaded = app.state.users.load(&user_id).await.unwrap().unwrap();
    assert_eq!(loaded.version, 2);
}

#[tokio::test]
async fn two_writers_on_one_aggregate_version_exactly_one_wins_on_postgres() {
    let app = TestApp::distributed().await;
    two_writers_race(&app).await;
}

#[tokio::test]
async fn two_writers_on_one_aggregate_version_exactly_one_wins_on_sqlite() {
    let app = TestApp::embedded().await;
    two_writers_race(&app).await;
}

/// The names of a user's stored renames, in sequence order.
async fn stored_renames(app: &TestApp, user_id: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT payload->'UserRenamed'->>'display_name' FROM events \
         WHERE aggregate_type = 'user' AND aggregate_id = $1 AND event_type = 'UserRenamed' ORDER BY sequence",
    )
    .bind(user_id)
    .fetch_all(&app.state.db.read)
    .await
    .unwrap()
}

#[tokio::test]
async fn concurrent_updates_of_one_user_are_retried_or_answered_409_and_never_lost() {
    let app = TestApp::distributed().await;
    let email = app.add_user(app.organisation_id, Role::Agent).await;
    let user_id =
        domain::user::user_id_for(app.organisation_id, &domain::EmailAddress::parse(&email).unwrap()).to_string();
    let mut acknowledged = Vec::new();
    for round in 0..3 {
        let names: Vec<String> = (0..20).map(|i| format!("round {round} name {i}")).collect();
        let requests = names.iter().map(|name| {
            app.http
                .patch(app.url(&format!("/api/v1/users/{user_id}")))
                .bearer_auth(&app.admin_token)
                .json(&json!({"display_name": name}))
                .send()
        });
        let responses = futures::future::join_all(requests).await;
        let statuses: Vec<StatusCode> = responses.into_iter().map(|r| r.unwrap().status()).collect();
        let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
        let conflicts = statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count();
        assert_eq!(ok + conflicts, names.len(), "only 200 or 409: {statuses:?}");
        assert!(
            ok >= 1,
            "round {round}: some writer of twenty gets through: {statuses:?}"
        );
        let succeeded = names.iter().zip(&statuses).filter(|(_, s)| **s == StatusCode::OK);
        acknowledged.extend(succeeded.map(|(name, _)| name.clone()));
    }

    let stored = stored_renames(&app, &user_id).await;
    let (mut stored_set, mut acknowledged_set) = (stored.clone(), acknowledged.clone());
    stored_set.sort();
    acknowledged_set.sort();
    assert_eq!(
        stored_set, acknowledged_set,
        "every acknowledged rename is stored, and nothing refused is"
    );
    let loaded = app.state.users.load(&user_id).await.unwrap().unwrap();
    assert_eq!(
        loaded.version,
        1 + acknowledged.len(),
        "every acknowledged rename is one stored event"
    );
    assert_eq!(
        Some(&loaded.aggregate.display_name),
        stored.last(),
        "the user carries the last stored rename"
    );
}

/// cqrs-es 0.5.0's snapshot and aggregate-store modes apply each new event
/// twice; failed logins count events, so a double apply shows at once.
#[tokio::test]
async fn an_aggregate_loaded_after_several_commands_has_applied_each_event_once() {
    let app = TestApp::embedded().await;
    let email = app.add_user(app.organisation_id, Role::Agent).await;
    for _ in 0..3 {
        let response = app
            .post_json(
                "/api/v1/auth/login",
                None,
                json!({"email": email, "password": "wrong password!"}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let user_id =
        domain::user::user_id_for(app.organisation_id, &domain::EmailAddress::parse(&email).unwrap()).to_string();
    let logins = app.state.logins.load(&user_id).await.unwrap().unwrap();
    assert_eq!((logins.aggregate.failed_in_a_row, logins.version), (3, 3));
    let token = app.login(&email).await;
    assert!(!token.is_empty());
    let logins = app.state.logins.load(&user_id).await.unwrap().unwrap();
    assert_eq!(logins.aggregate.failed_in_a_row, 0);
    let user = app.state.users.load(&user_id).await.unwrap().unwrap();
    assert_eq!(user.version, 1, "logins never grow the user's own history");
}

/// A store of its own, as another process would have: nothing remembered.
fn cold_users(app: &TestApp) -> infrastructure::event_store::EsStore<User> {
    infrastructure::event_store::EsStore::new(&app.state.db, (), tokio::sync::watch::channel(0).0)
}

async fn renamed_through_the_api(app: &TestApp, user_id: &str, name: &str) {
    let response = app
        .http
        .patch(app.url(&format!("/api/v1/users/{user_id}")))
        .bearer_auth(&app.admin_token)
        .json(&json!({"display_name": name}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "rename to {name}");
}

/// What a store holds for a user, comparable with another store's.
async fn state_of(store: &impl AggregateStore<User>, user_id: &str) -> (usize, serde_json::Value) {
    let loaded = store.load(user_id).await.unwrap().expect("the user exists");
    (loaded.version, serde_json::to_value(&loaded.aggregate).unwrap())
}

async fn remembered_aggregates_follow_other_writers(app: &TestApp) {
    let email = app.add_user(app.organisation_id, Role::Agent).await;
    let user_id =
        domain::user::user_id_for(app.organisation_id, &domain::EmailAddress::parse(&email).unwrap()).to_string();
    assert_eq!(
        state_of(&app.state.users, &user_id).await.0,
        1,
        "remembered at its first event"
    );

    // Another process appends behind this one's back.
    AnyRepo::new(&app.state.db)
        .persist::<User>(&[user_renamed(&user_id, 2, "renamed elsewhere")], None)
        .await
        .unwrap();
    let loaded = app.state.users.load(&user_id).await.unwrap().unwrap();
    assert_eq!(
        (loaded.version, loaded.aggregate.display_name.as_str()),
        (2, "renamed elsewhere"),
        "a load reads the events after the remembered version"
    );

    // This process commits on top of it, then the other process's events again.
    renamed_through_the_api(app, &user_id, "renamed here").await;
    AnyRepo::new(&app.state.db)
        .persist::<User>(&[user_renamed(&user_id, 4, "renamed elsewhere again")], None)
        .await
        .unwrap();
    let remembered = state_of(&app.state.users, &user_id).await;
    assert_eq!(remembered.0, 4);
    assert_eq!(remembered.1["display_name"], "renamed elsewhere again");
    assert_eq!(
        remembered,
        state_of(&cold_users(app), &user_id).await,
        "the remembered state is the state a full replay builds"
    );
    assert_eq!(
        stored_renames(app, &user_id).await,
        ["renamed elsewhere", "renamed here", "renamed elsewhere again"],
        "each rename stored once, in order"
    );
}

#[tokio::test]
async fn a_remembered_aggregate_sees_what_another_writer_committed_since_on_postgres() {
    let app = TestApp::distributed().await;
    remembered_aggregates_follow_other_writers(&app).await;
}

#[tokio::test]
async fn a_remembered_aggregate_sees_what_another_writer_committed_since_on_sqlite() {
    let app = TestApp::embedded().await;
    remembered_aggregates_follow_other_writers(&app).await;
}

/// The double-apply trap of cqrs-es 0.5.0's snapshots: a state carried over
/// from a commit must not apply the committed events a second time.
#[tokio::test]
async fn a_state_remembered_across_many_commands_equals_a_full_replay() {
    let app = TestApp::embedded().await;
    let email = app.add_user(app.organisation_id, Role::Agent).await;
    let user_id =
        domain::user::user_id_for(app.organisation_id, &domain::EmailAddress::parse(&email).unwrap()).to_string();
    for i in 0..12 {
        renamed_through_the_api(&app, &user_id, &format!("name {i}")).await;
    }
    let response = app
        .http
        .patch(app.url(&format!("/api/v1/users/{user_id}")))
        .bearer_auth(&app.admin_token)
        .json(&json!({"role": "manager"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let remembered = state_of(&app.state.users, &user_id).await;
    assert_eq!(remembered.0, 14, "the first event, twelve renames and a role change");
    assert_eq!(remembered.1["display_name"], "name 11");
    assert_eq!(remembered, state_of(&cold_users(&app), &user_id).await);
}

#[tokio::test]
async fn a_store_remembers_at_most_its_capacity_and_still_loads_the_rest() {
    let app = TestApp::embedded().await;
    let store: infrastructure::event_store::CachingEventStore<User> =
        infrastructure::event_store::CachingEventStore::with_capacity(&app.state.db, 2);
    let mut ids = Vec::new();
    for _ in 0..3 {
        let email = app.add_user(app.organisation_id, Role::Agent).await;
        ids.push(
            domain::user::user_id_for(app.organisation_id, &domain::EmailAddress::parse(&email).unwrap()).to_string(),
        );
    }
    for id in ids.iter().chain(ids.iter()) {
        let context = cqrs_es::EventStore::load_aggregate(&store, id).await.unwrap();
        assert_eq!(context.current_sequence, 1, "{id} loaded whole");
        assert_eq!(context.aggregate.organisation_id, Some(app.organisation_id));
    }
    assert_eq!(store.remembered(), 2);
    let nobody = cqrs_es::EventStore::load_aggregate(&store, "no such user")
        .await
        .unwrap();
    assert_eq!(nobody.current_sequence, 0);
    assert_eq!(store.remembered(), 2, "an aggregate without events is not remembered");
}

fn issue_key(key_id: uuid::Uuid, organisation_id: uuid::Uuid, name: &str) -> domain::api_key::ApiKeyCommand {
    domain::api_key::ApiKeyCommand::Issue {
        key_id,
        organisation_id,
        name: name.into(),
        role: Role::Agent,
        secret_digest: "00".repeat(32),
        created_by: None,
        issuer_role: None,
        at: chrono::Utc::now(),
    }
}

async fn a_new_aggregate_whose_id_was_taken_is_decided_against_what_is_stored(app: &TestApp) {
    let key_id = uuid::Uuid::new_v4();
    let meta = application::EventMetadata::system("test", Some(app.organisation_id));
    let first = issue_key(key_id, app.organisation_id, "first");
    application::store::execute_new(&app.state.api_keys, &key_id.to_string(), first, &meta)
        .await
        .expect("a fresh id takes version 1 without a load");
    let loaded = app.state.api_keys.load(&key_id.to_string()).await.unwrap().unwrap();
    assert_eq!((loaded.version, loaded.aggregate.name.as_str()), (1, "first"));

    // Another store, which never saw the key, is told the id is new: the
    // append finds version 1 taken, and the command is run against the key.
    let other: infrastructure::event_store::EsStore<domain::api_key::ApiKey> =
        infrastructure::event_store::EsStore::new(&app.state.db, (), tokio::sync::watch::channel(0).0);
    let again = issue_key(key_id, app.organisation_id, "second");
    let refused = application::store::execute_new(&other, &key_id.to_string(), again, &meta).await;
    assert!(
        matches!(
            refused,
            Err(application::CommandError::Rejected(
                domain::api_key::ApiKeyError::AlreadyIssued
            ))
        ),
        "{refused:?}"
    );
    let stored: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE aggregate_type = 'api_key' AND aggregate_id = $1")
            .bind(key_id.to_string())
            .fetch_one(&app.state.db.read)
            .await
            .unwrap();
    assert_eq!(stored, 1, "nothing appended by the refused command");
}

#[tokio::test]
async fn a_command_on_a_new_aggregate_whose_id_was_taken_is_refused_as_stored_on_postgres() {
    let app = TestApp::distributed().await;
    a_new_aggregate_whose_id_was_taken_is_decided_against_what_is_stored(&app).await;
}

#[tokio::test]
async fn a_command_on_a_new_aggregate_whose_id_was_taken_is_refused_as_stored_on_sqlite() {
    let app = TestApp::embedded().await;
    a_new_aggregate_whose_id_was_taken_is_decided_against_what_is_stored(&app).await;
}
