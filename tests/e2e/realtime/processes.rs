//! Two `switchboard serve` processes on one PostgreSQL and one NATS: a
//! client of one sees what the other committed.

use std::process::Child;
use std::time::Duration;

use api::state::AppState;

use super::{FAN_OUT, Socket, callback_url, configure_whatsapp, customer_writes, new_customer};
use crate::support::child::{self, child_log, child_login, free_port, spawn_server, spawn_server_logging};
use crate::support::{DEFAULT_NATS, sim};

/// Stops the child when the test ends, passed or not.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn a_client_connected_to_process_a_sees_a_message_committed_through_process_b_within_500_ms() {
    let (settings, _dir) = crate::support::distributed(DEFAULT_NATS).await;
    let (organisation_id, email) = child::seed(&settings).await;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (mut settings_a, mut settings_b) = (settings.clone(), settings.clone());
    settings_a.data_dir = dir_a.path().to_path_buf();
    settings_b.data_dir = dir_b.path().to_path_buf();
    let (port_a, port_b) = (free_port(), free_port());
    // A is no relay: what it pushes came through NATS from B's commits.
    let mut a = Running(spawn_server_logging(&settings_a, port_a, false, "debug"));
    let _b = Running(spawn_server(&settings_b, port_b, true));
    let (base_a, base_b) = (
        format!("http://127.0.0.1:{port_a}"),
        format!("http://127.0.0.1:{port_b}"),
    );
    let http = reqwest::Client::new();
    let token_b = child_login(&http, &base_b, &email, &settings_b).await;
    let token_a = child_login(&http, &base_a, &email, &settings_a).await;
    let sim = sim::fast(100.0).await;
    configure_whatsapp(&base_b, &token_b, &sim).await;
    let state = AppState::build(settings.clone(), None).await.unwrap();
    let callback = callback_url(&base_b, &state, organisation_id);

    let mut socket = Socket::connect_with_query_token(&base_a, &token_a, "").await;
    socket.ready().await;
    for text in ["first", "second"] {
        let committed = customer_writes(&callback, &new_customer(), text).await;
        let change = socket.change().await;
        let latency = committed.elapsed();
        assert!(latency < FAN_OUT, "B's commit reached A's client in {latency:?}");
        assert_eq!(change["type"], "thread.message");
    }
    socket.close().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = a.0.kill();
    let _ = a.0.wait();
    let log = child_log(&settings_a);
    assert!(log.contains("/api/v1/realtime"), "A logged the request at debug");
    assert!(!log.contains(&token_a), "the token in the query is in no log line of A");
}
