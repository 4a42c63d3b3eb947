//! A thread's timeline order: by the message's time, then by its arrival
//! in the mailbox (UID), then by id — the same every time, whatever order
//! the ids happen to sort in.

use chrono::{DateTime, Utc};
use std::time::Duration;
use uuid::Uuid;

use application::{AggregateStore, EventMetadata};
use domain::email_thread::new_thread_id;
use domain::inbound_email::{
    Bodies, InboundEmailCommand, MailAddress, MailPosition, MessageKey, ReceivedEmail, inbound_email_id,
};

use super::{app_without_pollers, thread};
use crate::support::eventually;

/// Message-IDs whose e-mail ids sort in the opposite order of the list.
fn ids_sorting_backwards(account_id: Uuid, how_many: usize) -> Vec<String> {
    let id_of = |m: &str| inbound_email_id(account_id, MessageKey::MessageId(m));
    let mut found: Vec<String> = Vec::new();
    for n in 0.. {
        let candidate = format!("timeline-{n}@test.example");
        if found.last().is_none_or(|last| id_of(&candidate) < id_of(last)) {
            found.push(candidate);
        }
        if found.len() == how_many {
            break;
        }
    }
    found
}

fn received(account_id: Uuid, organisation_id: Uuid, message_id: &str, uid: u32, thread_id: Uuid) -> ReceivedEmail {
    let at: DateTime<Utc> = "2026-03-03T04:30:00Z".parse().unwrap();
    let email_id = inbound_email_id(account_id, MessageKey::MessageId(message_id));
    ReceivedEmail {
        email_id,
        organisation_id,
        account_id,
        position: MailPosition {
            folder: "INBOX".into(),
            uidvalidity: 1,
            uid,
        },
        message_id: Some(message_id.into()),
        in_reply_to: None,
        references: Vec::new(),
        from: Some(MailAddress {
            name: None,
            address: "asha@example.in".into(),
        }),
        to: Vec::new(),
        cc: Vec::new(),
        subject: Some("Same second".into()),
        date: Some(at),
        received_at: at,
        bodies: Bodies {
            text: Some(format!("uid {uid}")),
            ..Bodies::default()
        },
        attachments: Vec::new(),
        omitted_attachments: 0,
        size: 10,
        sha256: "ab".repeat(32),
        thread_id,
        new_thread: uid == 1,
        customer_id: None,
        unlinked: None,
    }
}

#[tokio::test]
async fn messages_of_the_same_time_are_listed_by_their_arrival_in_the_mailbox_not_by_their_ids() {
    let app = app_without_pollers().await;
    let account_id = Uuid::new_v4();
    let message_ids = ids_sorting_backwards(account_id, 3);
    let first_id = inbound_email_id(account_id, MessageKey::MessageId(&message_ids[0]));
    let thread_id = new_thread_id(first_id);
    let meta = EventMetadata::system("test", Some(app.organisation_id));
    for (uid, message_id) in (1..).zip(&message_ids) {
        let email = received(account_id, app.organisation_id, message_id, uid, thread_id);
        let command = InboundEmailCommand::Receive(Box::new(email.clone()));
        let recorded = app
            .state
            .receiving
            .emails
            .execute(&email.email_id.to_string(), command, &meta)
            .await;
        assert!(recorded.is_ok(), "{recorded:?}");
    }
    let path = format!("/api/v1/communications/threads/{thread_id}");
    eventually(Duration::from_secs(10), "the three messages are projected", || async {
        let response = app.get(&path, Some(&app.admin_token)).await;
        response.status() == reqwest::StatusCode::OK
            && response.json::<serde_json::Value>().await.unwrap()["data"]["message_count"] == 3
    })
    .await;
    let timeline = thread(&app, &thread_id.to_string()).await;
    let bodies: Vec<&str> = timeline["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body_text"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["uid 1", "uid 2", "uid 3"]);
}
