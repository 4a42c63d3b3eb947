//! WhatsApp auto-replies on a controlled clock, with customers' messages
//! posted by the simulator: a welcome once per new contact, the away
//! message outside business hours and on a holiday, keyword rules by
//! priority, nothing to our own number, and no loop with a customer whose
//! own automation answers every message.

use chrono::{DateTime, Duration as Span, TimeZone, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

use api::runtime::Roles;
use application::clock::ManualClock;
use simulator::RunningSimulator;

use super::{NUMBER, configure_with, customer_writes};
use crate::support::{TestApp, eventually, launch_with_clock, sim};

/// Tuesday 2026-12-01, 12:00 IST: inside business hours.
fn noon() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 6, 30, 0).unwrap()
}

fn rules() -> Value {
    json!({
        "auto_reply_enabled": true,
        "welcome_message": "Welcome to Acme Foods!",
        "auto_reply_message": "We are closed now; we answer from 9 am.",
        "business_hours": {"enabled": true, "timezone": "Asia/Kolkata",
            "monday": {"start": "09:00", "end": "18:00"}, "tuesday": {"start": "09:00", "end": "18:00"},
            "wednesday": {"start": "09:00", "end": "18:00"}, "thursday": {"start": "09:00", "end": "18:00"},
            "friday": {"start": "09:00", "end": "18:00"}},
        "keyword_rules": [
            {"keyword": "order", "match_type": "contains", "reply": "Track it at acme.in/track", "priority": 2},
            {"keyword": "^refund\\b", "match_type": "regex", "reply": "Refunds take 5 days.", "priority": 1}
        ],
        "auto_reply_cooldown_minutes": 30
    })
}

async fn start(at: DateTime<Utc>) -> (TestApp, RunningSimulator, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(at));
    let (mut settings, dir) = crate::support::embedded();
    crate::sms::quick(&mut settings);
    let running = launch_with_clock(&settings, clock.clone(), Roles::ALL).await;
    let app = TestApp::started(running, settings, Some(dir)).await;
    let sim = sim::fast(100.0).await;
    configure_with(&app, &sim, rules()).await;
    (app, sim, clock)
}

fn text(body: &str) -> Value {
    json!({"type": "text", "text": {"body": body}})
}

/// Our messages to `to`, oldest first, as the API lists them in full.
async fn replies_to(app: &TestApp, to: &str) -> Vec<Value> {
    let path = format!("/api/v1/whatsapp/messages?to={}", to.replace('+', "%2B"));
    let body: Value = app.get(&path, Some(&app.admin_token)).await.json().await.unwrap();
    let mut full = Vec::new();
    for item in body["data"].as_array().cloned().unwrap_or_default().into_iter().rev() {
        full.push(super::message(app, item["id"].as_str().unwrap()).await);
    }
    full
}

/// Waits until `to` has had `count` auto-replies, and a moment more for any
/// reply too many; the replies.
async fn expect_replies(app: &TestApp, to: &str, count: usize) -> Vec<Value> {
    eventually(Duration::from_secs(10), "the auto-replies are recorded", || async {
        replies_to(app, to).await.len() >= count
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let replies = replies_to(app, to).await;
    assert_eq!(replies.len(), count, "{replies:?}");
    replies
}

/// The texts the simulator was asked to send to `to`, once all are sent.
async fn sent_to(sim: &RunningSimulator, to: &str, count: usize) -> Vec<String> {
    let digits = to.trim_start_matches('+').to_string();
    let bodies = || async {
        sim::requests(sim)
            .await
            .iter()
            .filter(|r| r["path"].as_str().is_some_and(|p| p.ends_with("/messages")))
            .filter_map(|r| serde_json::from_str::<Value>(r["body"].as_str()?).ok())
            .filter(|b| {
                b["whatsapp"]["messages"][0]["to"]
                    .as_str()
                    .is_some_and(|t| t.contains(&digits))
            })
            .map(|b| {
                b["whatsapp"]["messages"][0]["content"]["text"]["body"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect::<Vec<String>>()
    };
    eventually(
        Duration::from_secs(15),
        "the auto-replies reach the simulator",
        || async { bodies().await.len() >= count },
    )
    .await;
    bodies().await
}

#[tokio::test]
async fn a_new_contact_is_welcomed_once_and_a_keyword_answers_by_priority() {
    let (app, sim, clock) = start(noon()).await;
    let asha = "+919812300081";
    customer_writes(&app, &sim, asha, text("Hello")).await;
    let welcomed = expect_replies(&app, asha, 1).await;
    assert_eq!(welcomed[0]["auto_reply"]["rule"], "welcome");
    assert_eq!(welcomed[0]["content"]["body"], "Welcome to Acme Foods!");
    assert_eq!(welcomed[0]["requested_by"], Value::Null);
    clock.set(noon() + Span::hours(2));
    customer_writes(&app, &sim, asha, text("Hello again")).await;
    expect_replies(&app, asha, 1).await;
    let ravi = "+919812300082";
    customer_writes(&app, &sim, ravi, text("Refund for my order please")).await;
    let answered = expect_replies(&app, ravi, 1).await;
    let rule = &answered[0]["auto_reply"];
    assert_eq!(
        (&rule["rule"], &rule["keyword"], &rule["match_type"], &rule["priority"]),
        (&json!("keyword"), &json!("^refund\\b"), &json!("regex"), &json!(1)),
        "the lower priority number wins over the contains rule and the welcome: {rule}"
    );
    assert_eq!(answered[0]["content"]["body"], "Refunds take 5 days.");
    assert_eq!(sent_to(&sim, asha, 1).await, ["Welcome to Acme Foods!"]);
    assert_eq!(sent_to(&sim, ravi, 1).await, ["Refunds take 5 days."]);
}

#[tokio::test]
async fn outside_business_hours_and_on_a_holiday_the_away_message_answers() {
    // Tuesday 22:00 IST.
    let evening = Utc.with_ymd_and_hms(2026, 12, 1, 16, 30, 0).unwrap();
    let (app, sim, clock) = start(evening).await;
    let holidays = json!({"holidays": [{"date": "2026-12-25", "name": "Christmas"}]});
    let response = app
        .http
        .put(app.url("/api/v1/settings/holidays"))
        .bearer_auth(&app.admin_token)
        .json(&holidays)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let asha = "+919812300083";
    customer_writes(&app, &sim, asha, text("Hi")).await;
    let away = expect_replies(&app, asha, 1).await;
    assert_eq!(
        away[0]["auto_reply"]["rule"], "away",
        "outside hours the away message goes before the welcome"
    );
    assert_eq!(away[0]["auto_reply"]["holiday"], Value::Null);
    // Friday 25 December, 12:00 IST: a working day's hours, but a holiday.
    clock.set(Utc.with_ymd_and_hms(2026, 12, 25, 6, 30, 0).unwrap());
    customer_writes(&app, &sim, asha, text("Are you open?")).await;
    let replies = expect_replies(&app, asha, 2).await;
    assert_eq!(replies[1]["auto_reply"]["rule"], "away");
    assert_eq!(replies[1]["auto_reply"]["holiday"], "Christmas");
    // Monday 28 December, 12:00 IST: open, and Asha is no longer new.
    clock.set(Utc.with_ymd_and_hms(2026, 12, 28, 6, 30, 0).unwrap());
    customer_writes(&app, &sim, asha, text("Hello")).await;
    expect_replies(&app, asha, 2).await;
    let texts = sent_to(&sim, asha, 2).await;
    assert_eq!(texts, vec!["We are closed now; we answer from 9 am."; 2]);
}

#[tokio::test]
async fn a_customer_whose_automation_answers_every_message_gets_one_reply_per_cooldown() {
    let (app, sim, clock) = start(noon()).await;
    let bot = "+919812300084";
    customer_writes(&app, &sim, bot, text("Hello")).await;
    expect_replies(&app, bot, 1).await;
    // The customer's own automation answers our reply, again and again.
    for minute in [1, 2, 3] {
        clock.set(noon() + Span::minutes(minute));
        customer_writes(
            &app,
            &sim,
            bot,
            text("Thanks for your message! We will get back to you."),
        )
        .await;
    }
    expect_replies(&app, bot, 1).await;
    // An echo of our own reply is never answered, even after the cooldown.
    clock.set(noon() + Span::minutes(31));
    customer_writes(&app, &sim, bot, text("Welcome to Acme Foods!")).await;
    expect_replies(&app, bot, 1).await;
    // After the cooldown, an order question is answered once more.
    customer_writes(&app, &sim, bot, text("Where is my order?")).await;
    let replies = expect_replies(&app, bot, 2).await;
    assert_eq!(replies[1]["auto_reply"]["rule"], "keyword");
    assert_eq!(sent_to(&sim, bot, 2).await.len(), 2);
}

#[tokio::test]
async fn our_own_number_writing_in_gets_no_auto_reply() {
    let (app, sim, _clock) = start(noon()).await;
    customer_writes(&app, &sim, NUMBER, text("Refund test")).await;
    let other = "+919812300085";
    customer_writes(&app, &sim, other, text("Hello")).await;
    expect_replies(&app, other, 1).await;
    expect_replies(&app, NUMBER, 0).await;
}
