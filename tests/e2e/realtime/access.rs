//! Who receives what: only their organisation, agents only their own and
//! unassigned threads; and credentials that stop being valid end the
//! connection at the next heartbeat.

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

use domain::Role;

use super::{EventStream, Socket, app, callback_url, configure_whatsapp, customer_writes, member, new_customer};
use crate::support::{TestApp, data, eventually};

/// An app whose connections heartbeat (and check credentials) every second.
async fn quick_heartbeat_app() -> TestApp {
    let (mut settings, dir) = crate::support::embedded();
    settings.realtime_heartbeat_secs = 1;
    TestApp::start(settings, Some(dir)).await
}

#[tokio::test]
async fn a_revoked_api_key_ends_its_socket_with_a_last_closed_message() {
    let app = quick_heartbeat_app().await;
    let created = app
        .post_json(
            "/api/v1/api-keys",
            Some(&app.admin_token),
            json!({"name": "wallboard", "role": "agent"}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    let (id, key) = (
        data(&created)["id"].as_str().unwrap(),
        data(&created)["key"].as_str().unwrap(),
    );
    let mut socket = Socket::connect_with_query_token(&app.base, key, "").await;
    socket.ready().await;
    let heartbeat = socket.next_any(Duration::from_secs(3)).await.unwrap();
    assert_eq!(
        heartbeat,
        json!({"type": "heartbeat"}),
        "a heartbeat while the key is valid"
    );
    let revoked = app
        .http
        .delete(app.url(&format!("/api/v1/api-keys/{id}")))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success(), "{}", revoked.status());
    let last = socket.next_within(Duration::from_secs(4)).await.unwrap();
    assert_eq!(last, json!({"type": "closed", "reason": "unauthenticated"}));
    assert!(socket.closed().await);
}

#[tokio::test]
async fn a_deactivated_users_event_stream_ends_with_a_last_closed_message() {
    let app = quick_heartbeat_app().await;
    let (agent_id, agent) = member(&app, Role::Agent).await;
    let mut events = EventStream::connect(&app.base, &agent, "", None).await;
    assert_eq!(events.next_event().await.event, "ready");
    let ended = app
        .post_json(
            &format!("/api/v1/users/{agent_id}/deactivate"),
            Some(&app.admin_token),
            json!({}),
        )
        .await;
    assert!(ended.status().is_success(), "{}", ended.status());
    let last = events.next_within(Duration::from_secs(4)).await.unwrap();
    assert_eq!(last.event, "closed");
    assert_eq!(last.data, json!({"type": "closed", "reason": "unauthenticated"}));
    assert!(events.ended().await);
}

#[tokio::test]
async fn another_organisations_events_never_arrive() {
    let (app, sim) = app(true).await;
    let other = crate::support::create_organisation(&app.state, "Other Foods").await;
    let other_admin = app.login(&app.add_user(other, Role::Admin).await).await;
    configure_whatsapp(&app.base, &other_admin, &sim).await;
    let mut ours = Socket::connect(&app.base, &app.admin_token, "").await;
    let mut theirs = Socket::connect(&app.base, &other_admin, "").await;
    ours.ready().await;
    theirs.ready().await;
    let their_callback = callback_url(&app.base, &app.state, other);
    let our_callback = callback_url(&app.base, &app.state, app.organisation_id);
    customer_writes(&their_callback, &new_customer(), "theirs").await;
    let their_change = theirs.change().await;
    customer_writes(&our_callback, &new_customer(), "ours").await;
    let our_change = ours.change().await;
    assert_ne!(our_change["thread_id"], their_change["thread_id"]);
    assert!(
        our_change["id"].as_str().unwrap().parse::<i64>().unwrap()
            > their_change["id"].as_str().unwrap().parse::<i64>().unwrap(),
        "theirs was committed first and never reached us: the first we see is ours"
    );
    let nothing = theirs.next_within(Duration::from_millis(500)).await;
    assert!(nothing.is_none(), "ours never reaches them: {nothing:?}");
}

#[tokio::test]
async fn an_agent_never_receives_a_thread_assigned_to_someone_else_but_managers_and_admins_do() {
    let (app, _sim) = app(true).await;
    let (_, alice) = member(&app, Role::Agent).await;
    let (bob_id, bob) = member(&app, Role::Agent).await;
    let (_, manager) = member(&app, Role::Manager).await;
    let callback = callback_url(&app.base, &app.state, app.organisation_id);
    let mut sockets = Vec::new();
    for token in [&alice, &bob, &manager, &app.admin_token] {
        let mut socket = Socket::connect(&app.base, token, "").await;
        socket.ready().await;
        sockets.push(socket);
    }
    let customer = new_customer();
    customer_writes(&callback, &customer, "first").await;
    let mut first = Vec::new();
    for socket in &mut sockets {
        first.push(socket.change().await);
    }
    let thread = first[0]["thread_id"].as_str().unwrap().to_string();
    assert!(
        first.iter().all(|c| c["thread_id"] == thread.as_str()),
        "unassigned: everyone sees it"
    );
    let path = format!("/api/v1/communications/threads/{thread}");
    eventually(Duration::from_secs(10), "the thread is listed", || async {
        app.get(&path, Some(&app.admin_token)).await.status() == StatusCode::OK
    })
    .await;
    let assigned = app
        .post_json(
            &format!("/api/v1/communications/threads/{thread}/assign"),
            Some(&app.admin_token),
            json!({"user_id": bob_id}),
        )
        .await;
    assert!(assigned.status().is_success(), "{}", assigned.text().await.unwrap());
    for socket in &mut sockets {
        let change = socket.change().await;
        assert_eq!(
            change["type"], "thread.assigned",
            "alice too: it was taken from everyone"
        );
        assert_eq!(change["data"]["assignee_id"], bob_id.to_string());
    }
    customer_writes(&callback, &customer, "second, on bob's thread").await;
    customer_writes(&callback, &new_customer(), "a new, unassigned thread").await;
    let [alices, bobs, managers, admins] = &mut sockets[..] else {
        unreachable!()
    };
    let next = alices.change().await;
    assert_ne!(next["thread_id"], thread.as_str(), "alice skips bob's thread: {next}");
    for socket in [bobs, managers, admins] {
        let on_bobs = socket.change().await;
        assert_eq!(on_bobs["thread_id"], thread.as_str());
        assert_ne!(socket.change().await["thread_id"], thread.as_str());
    }
    let more = alices.next_within(Duration::from_millis(300)).await;
    assert!(more.is_none(), "nothing else for alice: {more:?}");
}
