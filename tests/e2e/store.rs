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
