//! A client that reconnects with the last id it received gets exactly
//! what it missed, then the live changes: measured against a client that
//! never disconnected.

use std::time::Duration;

use super::{EventStream, Socket, app, callback_url, customer_writes, new_customer};

/// The id of the change a message made, as the reference client saw it.
async fn committed(reference: &mut Socket, callback: &str, text: &str) -> String {
    customer_writes(callback, &new_customer(), text).await;
    reference.change().await["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_socket_reconnecting_with_last_event_id_receives_exactly_the_changes_it_missed() {
    let (app, _sim) = app(true).await;
    let callback = callback_url(&app.base, &app.state, app.organisation_id);
    let mut reference = Socket::connect(&app.base, &app.admin_token, "").await;
    reference.ready().await;
    let mut client = Socket::connect(&app.base, &app.admin_token, "").await;
    client.ready().await;
    let first = committed(&mut reference, &callback, "one").await;
    assert_eq!(client.change().await["id"], first.as_str());
    client.close().await;
    let missed = vec![
        committed(&mut reference, &callback, "two").await,
        committed(&mut reference, &callback, "three").await,
    ];
    let mut client = Socket::connect(&app.base, &app.admin_token, &format!("?last_event_id={first}")).await;
    let (replayed, ready) = client.replayed().await;
    let replayed: Vec<&str> = replayed.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(replayed, missed, "none twice, none lost");
    let resume = ready["last_event_id"].as_str().unwrap().to_string();
    let mut again = Socket::connect(&app.base, &app.admin_token, &format!("?last_event_id={resume}")).await;
    again.ready().await;
    let live = committed(&mut reference, &callback, "four").await;
    assert_eq!(client.change().await["id"], live.as_str(), "then the live ones");
    assert_eq!(
        again.change().await["id"],
        live.as_str(),
        "ready's id resumes with nothing missed"
    );
    assert!(
        client.next_within(Duration::from_millis(300)).await.is_none(),
        "and nothing again"
    );
}

#[tokio::test]
async fn an_event_stream_reconnecting_with_last_event_id_receives_exactly_the_changes_it_missed() {
    let (app, _sim) = app(false).await;
    let callback = callback_url(&app.base, &app.state, app.organisation_id);
    let mut reference = Socket::connect(&app.base, &app.admin_token, "").await;
    reference.ready().await;
    let mut client = EventStream::connect(&app.base, &app.admin_token, "", None).await;
    assert_eq!(client.next_event().await.event, "ready");
    let first = committed(&mut reference, &callback, "one").await;
    assert_eq!(client.next_event().await.id.as_deref(), Some(first.as_str()));
    drop(client);
    let missed = vec![
        committed(&mut reference, &callback, "two").await,
        committed(&mut reference, &callback, "three").await,
    ];
    // As EventSource reconnects: the URL it had, and Last-Event-ID.
    let mut client = EventStream::connect(&app.base, &app.admin_token, "?last_event_id=0", Some(&first)).await;
    let (replayed, ready) = client.replayed().await;
    let replayed: Vec<&str> = replayed.iter().map(|e| e.id.as_deref().unwrap()).collect();
    assert_eq!(replayed, missed, "none twice, none lost");
    let resume = ready.data["last_event_id"].as_str().unwrap().to_string();
    assert!(
        resume.parse::<i64>().unwrap() >= missed[1].parse::<i64>().unwrap(),
        "{resume}"
    );
    let live = committed(&mut reference, &callback, "four").await;
    assert_eq!(client.next_event().await.id.as_deref(), Some(live.as_str()));
    assert!(client.next_within(Duration::from_millis(300)).await.is_none());
}

#[tokio::test]
async fn a_reconnection_from_the_beginning_replays_every_change_in_the_order_they_were_pushed() {
    let (app, _sim) = app(true).await;
    let callback = callback_url(&app.base, &app.state, app.organisation_id);
    let mut reference = Socket::connect(&app.base, &app.admin_token, "").await;
    reference.ready().await;
    let mut pushed = Vec::new();
    for text in ["a", "b", "c"] {
        pushed.push(committed(&mut reference, &callback, text).await);
    }
    let mut client = Socket::connect(&app.base, &app.admin_token, "?last_event_id=0").await;
    let (replayed, _) = client.replayed().await;
    let replayed: Vec<String> = replayed.iter().map(|c| c["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(replayed, pushed);
}
