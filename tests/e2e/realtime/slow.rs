//! A slow client never slows the others: one that stops reading is told
//! to resync and disconnected, while another receives every change; one
//! that reads late, after a burst longer than its queue and the sockets'
//! buffers, still receives it all while the hub's buffer holds it.
//! Changes large enough to fill the sockets' buffers are handed to the
//! hub directly, as its feed would.

use serde_json::json;
use std::time::Duration;
use uuid::Uuid;

use api::realtime::hub::Pushed;
use application::realtime::ThreadChange;
use infrastructure::feed::live::Cursor;

use super::Socket;
use crate::support::TestApp;

const CHANGES: i64 = 3_000;
const BATCH: i64 = 100;
/// The hub's buffer in the first test: far less than the changes sent.
const SMALL_BUFFER: usize = 256;

fn big_change(app: &TestApp, position: i64) -> Pushed {
    let change = ThreadChange {
        position,
        organisation_id: app.organisation_id,
        thread_id: Uuid::new_v4(),
        kind: "message",
        occurred_at: chrono::Utc::now(),
        data: json!({"preview": "x".repeat(16 * 1024)}),
        previous_assignee: None,
    };
    Pushed::new(Cursor { tx: 0, position }, change, None)
}

#[tokio::test]
async fn a_client_that_does_not_read_is_told_to_resync_and_disconnected_while_another_keeps_receiving() {
    let (mut settings, dir) = crate::support::embedded();
    settings.realtime_buffer = SMALL_BUFFER;
    let app = TestApp::start(settings, Some(dir)).await;
    let mut slow = Socket::connect(&app.base, &app.admin_token, "").await;
    let mut fast = Socket::connect(&app.base, &app.admin_token, "").await;
    slow.ready().await;
    fast.ready().await;
    let hub = app.state.realtime.clone();
    let start = 1_000_000_000;
    let mut received = 0;
    for batch in 0..CHANGES / BATCH {
        for i in 0..BATCH {
            hub.broadcast(big_change(&app, start + batch * BATCH + i));
        }
        for _ in 0..BATCH {
            let change = fast.change().await;
            assert_eq!(change["id"], (start + received).to_string(), "in order, none lost");
            received += 1;
        }
    }
    assert_eq!(received, CHANGES, "the reading client received every change");
    let mut read = 0;
    let last = loop {
        let message = slow
            .next_within(Duration::from_secs(5))
            .await
            .expect("closed without a word");
        match message["type"].as_str() {
            Some("thread.message") => read += 1,
            _ => break message,
        }
    };
    assert_eq!(last, json!({"type": "resync", "reason": "fell_behind"}));
    assert!(read < CHANGES, "it was cut off: {read}");
    assert!(slow.closed().await, "and disconnected");
    hub.broadcast(big_change(&app, start + CHANGES));
    assert_eq!(
        fast.change().await["id"],
        (start + CHANGES).to_string(),
        "the other goes on"
    );
}

#[tokio::test]
async fn a_client_that_reads_only_after_a_burst_longer_than_its_queue_and_its_socket_still_receives_every_change() {
    let app = TestApp::embedded().await;
    assert!(
        app.state.settings.realtime_buffer > CHANGES as usize,
        "the default buffer holds the burst"
    );
    let mut late = Socket::connect(&app.base, &app.admin_token, "").await;
    late.ready().await;
    let hub = app.state.realtime.clone();
    let start = 2_000_000_000;
    // 3,000 changes of 16 KiB: far more than the connection's queue (256)
    // and the sockets' buffers hold while nobody reads.
    for i in 0..CHANGES {
        hub.broadcast(big_change(&app, start + i));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    for i in 0..CHANGES {
        let message = late
            .next_within(Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("closed after {i} changes"));
        assert_eq!(
            message["id"],
            (start + i).to_string(),
            "in order, none lost: {}",
            message["type"]
        );
    }
    hub.broadcast(big_change(&app, start + CHANGES));
    assert_eq!(
        late.change().await["id"],
        (start + CHANGES).to_string(),
        "and it stays live"
    );
}
