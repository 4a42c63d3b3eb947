//! Batches written in bulk still apply each event exactly once, and the
//! embedded feed's shared reader hands every projector each of its events
//! once, in order.

use chrono::Utc;
use domain::Role;
use domain::api_key::ApiKeyEvent;
use std::collections::HashMap;
use std::time::Duration;
use uuid::Uuid;

use application::feed::{EventSource, StoredEvent};
use infrastructure::feed::tail::{StoreFeed, StoreTail};
use projections::Outcome;
use projections::api_keys::ApiKeysView;

use crate::support::TestApp;

fn api_key_event(position: i64, key_id: Uuid, sequence: i64, payload: &ApiKeyEvent, organisation: Uuid) -> StoredEvent {
    let event_type = match payload {
        ApiKeyEvent::ApiKeyIssued { .. } => "ApiKeyIssued",
        ApiKeyEvent::ApiKeyRevoked { .. } => "ApiKeyRevoked",
    };
    StoredEvent {
        position,
        aggregate_type: "api_key".into(),
        aggregate_id: key_id.to_string(),
        sequence,
        event_type: event_type.into(),
        event_version: "1.0".into(),
        payload: serde_json::to_value(payload).unwrap(),
        metadata: HashMap::from([("organisation_id".to_string(), organisation.to_string())]),
    }
}

fn issued(key_id: Uuid, organisation: Uuid, name: &str) -> ApiKeyEvent {
    ApiKeyEvent::ApiKeyIssued {
        key_id,
        organisation_id: organisation,
        name: name.into(),
        role: Role::Agent,
        secret_digest: "digest".into(),
        created_by: None,
        issued_at: Utc::now(),
    }
}

/// Keys the live feed never carries (they are not in the store), written
/// straight through the projection store as one batch, twice.
async fn several_aggregates_and_duplicates_in_one_batch(app: TestApp) {
    let organisation = Uuid::new_v4();
    let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let revoked = ApiKeyEvent::ApiKeyRevoked { revoked_at: Utc::now() };
    let events = [
        api_key_event(1, a, 1, &issued(a, organisation, "a"), organisation),
        api_key_event(2, b, 1, &issued(b, organisation, "b"), organisation),
        api_key_event(3, a, 2, &revoked, organisation),
        api_key_event(2, b, 1, &issued(b, organisation, "b"), organisation),
        api_key_event(4, c, 2, &revoked, organisation),
    ];
    let batch: Vec<&StoredEvent> = events.iter().collect();
    let first = app.state.projections.apply_batch(&ApiKeysView, &batch).await.unwrap();
    use Outcome::{Applied, Duplicate, Gap};
    assert_eq!(first, vec![Applied, Applied, Applied, Duplicate, Gap]);
    let again = app.state.projections.apply_batch(&ApiKeysView, &batch).await.unwrap();
    assert_eq!(again, vec![Duplicate, Duplicate, Duplicate, Duplicate, Gap]);

    let rows = app
        .rows(&format!(
            "SELECT key_id, name, version FROM api_keys_view WHERE organisation_id = '{organisation}'"
        ))
        .await;
    let mut expected = vec![format!("{a}|a|2"), format!("{b}|b|1")];
    expected.sort();
    assert_eq!(
        rows, expected,
        "one row per key at its last version, the gap not applied"
    );
    let sequences = app
        .rows(&format!(
            "SELECT aggregate_id, last_sequence FROM projection_sequences WHERE projector = 'api_keys' AND aggregate_id IN ('{a}', '{b}', '{c}')"
        ))
        .await;
    let mut expected = vec![format!("{a}|2"), format!("{b}|1")];
    expected.sort();
    assert_eq!(sequences, expected, "a at 2, b at 1, c never");
    let revoked = format!("SELECT COUNT(*) FROM api_keys_view WHERE key_id = '{a}' AND revoked_at IS NOT NULL");
    assert_eq!(
        app.count(&revoked).await,
        1,
        "the revocation found the row issued earlier in its batch"
    );
}

#[tokio::test]
async fn a_batch_of_several_aggregates_with_duplicates_is_applied_exactly_once_on_postgres() {
    several_aggregates_and_duplicates_in_one_batch(TestApp::distributed().await).await;
}

#[tokio::test]
async fn a_batch_of_several_aggregates_with_duplicates_is_applied_exactly_once_on_sqlite() {
    several_aggregates_and_duplicates_in_one_batch(TestApp::embedded().await).await;
}

async fn drain(tail: &mut StoreTail) -> Vec<(i64, String)> {
    let mut seen = Vec::new();
    loop {
        let batch = tail.next_batch(3).await.unwrap();
        if batch.is_empty() {
            return seen;
        }
        seen.extend(batch.iter().map(|d| (d.event.position, d.event.aggregate_type.clone())));
    }
}

async fn store_positions(app: &TestApp, aggregate_type: &str) -> Vec<(i64, String)> {
    let sql = format!(
        "SELECT global_position FROM events WHERE aggregate_type = '{aggregate_type}' ORDER BY global_position"
    );
    let positions: Vec<i64> = sqlx::query_scalar(&sql).fetch_all(&app.state.db.read).await.unwrap();
    positions.into_iter().map(|p| (p, aggregate_type.to_string())).collect()
}

#[tokio::test]
async fn an_embedded_tail_started_behind_the_shared_window_catches_up_then_follows_it_without_gaps_or_repeats() {
    let app = TestApp::embedded().await;
    for _ in 0..4 {
        app.add_user(app.organisation_id, Role::Agent).await;
    }
    let feed = StoreFeed::new(app.state.db.read.clone(), &app.state.commits);
    let mut tail = StoreTail::new(feed, 0, &["user"]);
    let caught_up = drain(&mut tail).await;
    assert_eq!(
        caught_up,
        store_positions(&app, "user").await,
        "catch-up by a typed query"
    );

    for _ in 0..3 {
        app.add_user(app.organisation_id, Role::Agent).await;
        app.create_api_key("not for this tail").await;
    }
    let mut followed = caught_up;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while followed != store_positions(&app, "user").await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the tail follows new commits: {followed:?}"
        );
        followed.extend(drain(&mut tail).await);
    }
    assert!(followed.len() >= 8, "the admin and seven users: {followed:?}");
}
