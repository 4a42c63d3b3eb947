//! A reply to an e-mail Switchboard sent joins the sent e-mail's thread.

use serde_json::json;
use std::time::Duration;

use super::{account_on_new_folder, mail_app, message, new_id, thread};
use crate::support::eventually;

#[tokio::test]
async fn a_reply_to_an_email_switchboard_sent_joins_that_emails_thread() {
    let app = mail_app().await;
    let (folder, account_id) = account_on_new_folder(&app, "load5@switchboard.test").await;
    let subject = format!("Order {} confirmed", &new_id()[..8]);
    let body = json!({"account_id": account_id, "to": ["carol@switchboard.test"], "subject": subject,
        "text": "Your order is confirmed."});
    let sent = app
        .post_json("/api/v1/communications/emails", Some(&app.admin_token), body)
        .await;
    assert_eq!(sent.status(), reqwest::StatusCode::CREATED);
    let sent: serde_json::Value = sent.json().await.unwrap();
    let thread_id = sent["data"]["message_id"].as_str().unwrap().to_string();
    let smtp_message_id = sent["data"]["smtp_message_id"].as_str().unwrap().to_string();

    let in_reply_to = format!("In-Reply-To: {smtp_message_id}\r\nReferences: {smtp_message_id}\r\n");
    let reply = message(
        Some(&new_id()),
        "carol@switchboard.test",
        &format!("Re: {subject}"),
        &in_reply_to,
        "Thanks!",
    );
    folder.save(&reply);
    eventually(
        Duration::from_secs(15),
        "the reply joins the sent e-mail's thread",
        || async {
            let response = app
                .get(
                    &format!("/api/v1/communications/threads/{thread_id}"),
                    Some(&app.admin_token),
                )
                .await;
            response.status() == reqwest::StatusCode::OK
                && response.json::<serde_json::Value>().await.unwrap()["data"]["message_count"] == 2
        },
    )
    .await;
    let joined = thread(&app, &thread_id).await;
    // The reply's Date header is fixed in the past, so the timeline (by date) lists it first.
    let mut directions: Vec<&str> = joined["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["direction"].as_str().unwrap())
        .collect();
    directions.sort_unstable();
    assert_eq!(directions, ["inbound", "outbound"]);
    assert_eq!(joined["subject"], subject.as_str());
}
