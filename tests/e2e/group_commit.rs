//! Group commit: several commands' events written in one statement, each
//! command still all or nothing.

use cqrs_es::persist::{PersistenceError, SerializedEvent};
use secrecy::ExposeSecret;
use serde_json::json;

use infrastructure::database::EventDb;
use infrastructure::event_store::Appender;

use crate::support::TestApp;

/// `count` events of one aggregate, from version `from`.
fn events(aggregate_id: &str, from: usize, count: usize) -> Vec<SerializedEvent> {
    (from..from + count)
        .map(|sequence| SerializedEvent {
            aggregate_id: aggregate_id.to_string(),
            sequence,
            aggregate_type: "group_commit_test".into(),
            event_type: "Noted".into(),
            event_version: "1.0".into(),
            payload: json!({"Noted": {"aggregate": aggregate_id, "sequence": sequence}}),
            metadata: json!({"actor": "system:test", "request_id": "r", "correlation_id": "c", "occurred_at": "2026-12-03T00:00:00Z"}),
        })
        .collect()
}

fn fresh_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `aggregate:sequence` of every stored event of these aggregates, in the
/// order of their global positions.
async fn stored_in_position_order(app: &TestApp, ids: &[&str]) -> Vec<String> {
    let listed = ids.iter().map(|id| format!("'{id}'")).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "SELECT aggregate_id, sequence FROM events WHERE aggregate_type = 'group_commit_test' \
         AND aggregate_id IN ({listed}) ORDER BY global_position"
    );
    let rows: Vec<(String, i64)> = sqlx::query_as(&sql).fetch_all(&app.state.db.read).await.unwrap();
    rows.into_iter()
        .map(|(id, sequence)| format!("{id}:{sequence}"))
        .collect()
}

fn labels(id: &str, sequences: std::ops::RangeInclusive<usize>) -> Vec<String> {
    sequences.map(|s| format!("{id}:{s}")).collect()
}

async fn commands_written_together_are_stored_whole_in_order(app: &TestApp) {
    let (a, b, c) = (fresh_id(), fresh_id(), fresh_id());
    let outcomes = app
        .state
        .db
        .appender
        .append_together(&[events(&a, 1, 2), events(&b, 1, 1), events(&c, 1, 3)])
        .await;
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    let expected: Vec<String> = [labels(&a, 1..=2), labels(&b, 1..=1), labels(&c, 1..=3)].concat();
    assert_eq!(
        stored_in_position_order(app, &[&a, &b, &c]).await,
        expected,
        "every event once, each command's in its order, the commands in theirs"
    );
}

#[tokio::test]
async fn commands_written_together_are_each_stored_whole_and_in_order_on_postgres() {
    let app = TestApp::distributed().await;
    commands_written_together_are_stored_whole_in_order(&app).await;
}

#[tokio::test]
async fn commands_written_together_are_each_stored_whole_and_in_order_on_sqlite() {
    let app = TestApp::embedded().await;
    commands_written_together_are_stored_whole_in_order(&app).await;
}

async fn a_taken_version_fails_only_its_command(app: &TestApp) {
    let (first, taken, last) = (fresh_id(), fresh_id(), fresh_id());
    let appender = &app.state.db.appender;
    appender
        .append(events(&taken, 1, 2))
        .await
        .expect("the taken aggregate's first two versions");

    // The middle command wants versions 2 and 3 of an aggregate that has 2.
    let outcomes = appender
        .append_together(&[events(&first, 1, 2), events(&taken, 2, 2), events(&last, 1, 1)])
        .await;
    assert!(outcomes[0].is_ok(), "{:?}", outcomes[0]);
    assert!(
        matches!(outcomes[1], Err(PersistenceError::OptimisticLockError)),
        "{:?}",
        outcomes[1]
    );
    assert!(outcomes[2].is_ok(), "{:?}", outcomes[2]);
    assert_eq!(
        stored_in_position_order(app, &[&first, &taken, &last]).await,
        [labels(&taken, 1..=2), labels(&first, 1..=2), labels(&last, 1..=1)].concat(),
        "the others stored whole; of the refused command not even its free version 3"
    );
}

#[tokio::test]
async fn a_batch_holding_a_taken_version_refuses_that_command_alone_and_stores_the_others_on_postgres() {
    let app = TestApp::distributed().await;
    a_taken_version_fails_only_its_command(&app).await;
}

#[tokio::test]
async fn a_batch_holding_a_taken_version_refuses_that_command_alone_and_stores_the_others_on_sqlite() {
    let app = TestApp::embedded().await;
    a_taken_version_fails_only_its_command(&app).await;
}

async fn concurrent_appends_on_one_version(app: &TestApp) {
    let contested = fresh_id();
    let others: Vec<String> = (0..50).map(|_| fresh_id()).collect();
    let appender = &app.state.db.appender;
    let mut appends: Vec<_> = others.iter().map(|id| appender.append(events(id, 1, 1))).collect();
    appends.push(appender.append(events(&contested, 1, 1)));
    appends.push(appender.append(events(&contested, 1, 1)));
    let outcomes = futures::future::join_all(appends).await;
    let (theirs, contest) = outcomes.split_at(others.len());
    assert!(theirs.iter().all(Result::is_ok), "{theirs:?}");
    assert_eq!(contest.iter().filter(|o| o.is_ok()).count(), 1, "{contest:?}");
    assert!(
        contest
            .iter()
            .any(|o| matches!(o, Err(PersistenceError::OptimisticLockError))),
        "{contest:?}"
    );
    let ids: Vec<&str> = others.iter().map(String::as_str).chain([contested.as_str()]).collect();
    let mut stored = stored_in_position_order(app, &ids).await;
    stored.sort();
    let mut expected: Vec<String> = ids.iter().map(|id| format!("{id}:1")).collect();
    expected.sort();
    assert_eq!(stored, expected, "each aggregate's version 1 stored exactly once");
}

#[tokio::test]
async fn of_two_concurrent_appends_of_one_version_one_wins_and_every_other_append_is_stored_on_postgres() {
    let app = TestApp::distributed().await;
    concurrent_appends_on_one_version(&app).await;
}

#[tokio::test]
async fn of_two_concurrent_appends_of_one_version_one_wins_and_every_other_append_is_stored_on_sqlite() {
    let app = TestApp::embedded().await;
    concurrent_appends_on_one_version(&app).await;
}

#[tokio::test]
async fn appends_waiting_together_share_a_transaction_on_postgres() {
    let app = TestApp::distributed().await;
    let ids: Vec<String> = (0..200).map(|_| fresh_id()).collect();
    let appender = &app.state.db.appender;
    // All 200 are queued before a writer runs (this test's runtime has one
    // thread), so the writers find them waiting.
    let outcomes = futures::future::join_all(ids.iter().map(|id| appender.append(events(id, 1, 1)))).await;
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    let listed = ids.iter().map(|id| format!("'{id}'")).collect::<Vec<_>>().join(", ");
    let (stored, transactions): (i64, i64) = sqlx::query_as(&format!(
        "SELECT COUNT(*), COUNT(DISTINCT transaction_id::text) FROM events \
         WHERE aggregate_type = 'group_commit_test' AND aggregate_id IN ({listed})"
    ))
    .fetch_one(&app.state.db.read)
    .await
    .unwrap();
    assert_eq!(stored, 200);
    assert!(
        transactions <= 3,
        "200 waiting appends written in at most one transaction per writer, not {transactions}"
    );
}

#[tokio::test]
async fn a_batch_whose_connection_is_lost_tells_each_command_its_outcome_is_unknown() {
    let app = TestApp::distributed().await;
    let url = app.settings.database_url.as_ref().expect("a PostgreSQL URL");
    let pool = sqlx::PgPool::connect(url.expose_secret()).await.unwrap();
    let appender = Appender::start(EventDb::Postgres(pool.clone()), None);
    pool.close().await;
    let (a, b) = (fresh_id(), fresh_id());
    let outcomes = appender.append_together(&[events(&a, 1, 1), events(&b, 1, 1)]).await;
    assert_eq!(outcomes.len(), 2);
    for outcome in &outcomes {
        match outcome {
            Err(PersistenceError::ConnectionError(e)) => {
                assert!(e.to_string().contains("unknown"), "{e}")
            }
            other => panic!("a lost connection is an unknown outcome, not {other:?}"),
        }
    }
    assert!(
        stored_in_position_order(&app, &[&a, &b]).await.is_empty(),
        "nothing written through a closed pool"
    );
}

async fn stored_count(app: &TestApp, id: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) FROM events WHERE aggregate_type = 'group_commit_test' AND aggregate_id = '{id}'"
    ))
    .await
}

async fn a_long_command_is_all_or_nothing(app: &TestApp) {
    let appender = &app.state.db.appender;
    // 5,000 events are 35,000 values: more than one SQLite statement takes.
    let (whole, refused) = (fresh_id(), fresh_id());
    appender.append(events(&whole, 1, 5_000)).await.expect("stored whole");
    assert_eq!(stored_count(app, &whole).await, 5_000);
    assert_eq!(
        stored_in_position_order(app, &[&whole])
            .await
            .last()
            .map(String::as_str),
        Some(format!("{whole}:5000").as_str()),
        "in order"
    );
    appender
        .append(events(&refused, 5_000, 1))
        .await
        .expect("the last version, taken first");
    let outcome = appender.append(events(&refused, 1, 5_000)).await;
    assert!(
        matches!(outcome, Err(PersistenceError::OptimisticLockError)),
        "{outcome:?}"
    );
    assert_eq!(
        stored_count(app, &refused).await,
        1,
        "none of the 4,999 free versions before the taken one was kept"
    );
}

#[tokio::test]
async fn a_command_longer_than_one_statement_is_stored_whole_or_not_at_all_on_sqlite() {
    let app = TestApp::embedded().await;
    a_long_command_is_all_or_nothing(&app).await;
}

#[tokio::test]
async fn a_command_longer_than_one_statement_is_stored_whole_or_not_at_all_on_postgres() {
    let app = TestApp::distributed().await;
    a_long_command_is_all_or_nothing(&app).await;
}
