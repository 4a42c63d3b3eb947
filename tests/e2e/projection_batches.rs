//! Batches written in bulk still apply each event exactly once.

use chrono::Utc;
use domain::Role;
use domain::api_key::ApiKeyEvent;
use std::collections::HashMap;
use uuid::Uuid;

use application::feed::StoredEvent;
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
        organisation_id: organisation.into(),
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
