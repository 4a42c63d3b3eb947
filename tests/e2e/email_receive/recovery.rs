//! What must not lose or double mail: a poller stopped mid-batch, a folder
//! given a new UIDVALIDITY; and an account whose password is wrong.

use std::time::Duration;

use application::AggregateStore;
use domain::email_account::MailSide;

use super::*;
use crate::support::{embedded, launch};

const BATCH_TEST_MESSAGES: usize = 250;

#[tokio::test]
async fn a_poller_stopped_mid_batch_and_started_again_loses_and_doubles_nothing() {
    let (settings, _dir) = embedded();
    let settings = mail_settings(settings);
    let first = launch(&settings).await;
    let organisation_id = create_organisation(&first.state, "Acme Foods").await;
    let folder = Folder::new("load5@switchboard.test");
    for n in 0..BATCH_TEST_MESSAGES {
        folder.save(&message(
            Some(&new_id()),
            "asha@example.in",
            &format!("Order {n}"),
            "",
            "x",
        ));
    }
    let account = add_account(
        &first.state,
        organisation_id,
        &folder.user,
        LOAD_PASSWORD,
        &[&folder.name],
    )
    .await;
    let state = first.state.clone();
    eventually(Duration::from_secs(30), "some messages recorded", || async {
        inbound_events(&state, account, "EmailReceived").await >= 20
    })
    .await;
    first.abort();
    let recorded = inbound_events(&state, account, "EmailReceived").await;
    let cursor: Option<i64> = sqlx::query_scalar("SELECT last_uid FROM mail_cursors WHERE account_id = $1")
        .bind(account.to_string())
        .fetch_optional(&state.db.read)
        .await
        .unwrap();
    assert!(
        recorded > cursor.unwrap_or(0),
        "stopped mid-batch: {recorded} recorded, cursor at {cursor:?}"
    );
    assert!(recorded < BATCH_TEST_MESSAGES as i64, "stopped before the end");

    let second = launch(&settings).await;
    let total = BATCH_TEST_MESSAGES as i64;
    eventually(Duration::from_secs(60), "every message recorded", || async {
        inbound_events(&second.state, account, "EmailReceived").await >= total
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(inbound_events(&second.state, account, "EmailReceived").await, total);
    let timeline = "SELECT COUNT(*) FROM email_thread_messages";
    eventually(Duration::from_secs(10), "every message in a thread", || async {
        sqlx::query_scalar::<_, i64>(timeline)
            .fetch_one(&second.state.db.read)
            .await
            .unwrap()
            == total
    })
    .await;
    let cursor: i64 = sqlx::query_scalar("SELECT last_uid FROM mail_cursors WHERE account_id = $1")
        .bind(account.to_string())
        .fetch_one(&second.state.db.read)
        .await
        .unwrap();
    assert_eq!(cursor, total, "the cursor reached the last UID");
    second.stop().await;
}

#[tokio::test]
async fn a_new_uidvalidity_reads_the_folder_again_without_duplicates() {
    let app = mail_app().await;
    let (folder, account) = account_on_new_folder(&app, "load6@switchboard.test").await;
    let saved = [
        message(Some(&new_id()), "asha@example.in", "One", "", "1"),
        message(Some(&new_id()), "ravi@example.in", "Two", "", "2"),
        message(None, "meera@example.in", "Three without an id", "", "3"),
    ];
    for raw in &saved {
        folder.save(raw);
    }
    thread_titled(&app, "Three without an id", Duration::from_secs(15)).await;
    let old = folder.uidvalidity();

    folder.recreate();
    for raw in &saved {
        folder.save(raw);
    }
    folder.save(&message(Some(&new_id()), "asha@example.in", "Four", "", "4"));
    assert_ne!(folder.uidvalidity(), old);
    thread_titled(&app, "Four", Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(inbound_events(&app.state, account, "EmailReceived").await, 4);
    assert_eq!(threads(&app).await.len(), 4);
    let uidvalidity: i64 = sqlx::query_scalar("SELECT uidvalidity FROM mail_cursors WHERE account_id = $1")
        .bind(account.to_string())
        .fetch_one(&app.state.db.read)
        .await
        .unwrap();
    assert_eq!(uidvalidity, i64::from(folder.uidvalidity()));
}

#[tokio::test]
async fn a_wrong_password_is_recorded_and_needs_attention_after_three_while_another_account_is_polled() {
    let app = mail_app().await;
    let refused = Folder::new("load5@switchboard.test");
    let bad = add_account(
        &app.state,
        app.organisation_id,
        &refused.user,
        "not-the-password",
        &[&refused.name],
    )
    .await;
    let (good_folder, _) = account_on_new_folder(&app, "load6@switchboard.test").await;

    let store = &app.state.email_accounts;
    eventually(Duration::from_secs(30), "three failed logins", || async {
        let account = store.load(&bad.to_string()).await.unwrap().unwrap().aggregate;
        account.needs_attention && account.consecutive_failures >= 3
    })
    .await;
    let account = store.load(&bad.to_string()).await.unwrap().unwrap().aggregate;
    assert!(account.last_error.unwrap().contains("AUTHENTICATIONFAILED"));
    let failures = app
        .rows(&format!(
            "SELECT event_type FROM events WHERE aggregate_id = '{bad}' AND event_type = 'MailLoginFailed'"
        ))
        .await;
    assert!(failures.len() >= 3);
    let sides = app
        .rows(&format!(
            "SELECT payload FROM events WHERE aggregate_id = '{bad}' AND event_type = 'MailLoginFailed'"
        ))
        .await;
    assert!(
        sides
            .iter()
            .all(|p| p.contains(&format!("{:?}", MailSide::Imap).to_lowercase()))
    );

    good_folder.save(&message(Some(&new_id()), "asha@example.in", "Still polled", "", "ok"));
    thread_titled(&app, "Still polled", Duration::from_secs(5)).await;
}
