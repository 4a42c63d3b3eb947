//! Exactly one call at Exotel whatever fails between the intent and its
//! answer: Exotel timing out after placing the call, the dispatcher gone
//! before it asked, an attempt claimed and never sent, and several
//! dispatchers on one queue. Calls are counted in the simulator's log.

use serde_json::{Value, json};
use std::time::Duration;

use api::runtime::Roles;
use application::AggregateStore;
use domain::call::CallCommand;

use super::{CUSTOMER, call, call_when, configure, connects_for, place, quick, start_with};
use crate::support::{TestApp, sim};

const WORKERS_ONLY: Roles = Roles {
    api: false,
    projectors: false,
    workers: true,
};

/// A distributed app whose own process places no calls (its relay and
/// projectors run), configured on a
/// fast simulator, and its settings for worker processes beside it: they
/// post callbacks to the app's address.
async fn app_without_workers() -> (TestApp, simulator::RunningSimulator, infrastructure::Settings) {
    let (mut settings, dir) = crate::support::distributed(crate::support::DEFAULT_NATS).await;
    quick(&mut settings);
    settings.exotel_timeout_secs = 1;
    let mut workers = settings.clone();
    settings.call_workers = false;
    let running = start_with(&settings, Roles::ALL).await;
    let app = TestApp::started(running, settings, Some(dir)).await;
    let sim = sim::fast(100.0).await;
    configure(&app, &sim).await;
    workers.public_url = Some(app.base.clone());
    (app, sim, workers)
}

fn ended(call: &Value) -> bool {
    call["ended_at"].is_string() && call["duration_secs"].is_number()
}

#[tokio::test]
async fn exotel_timing_out_after_placing_the_call_leaves_one_call_found_by_looking_it_up() {
    let (app, sim, workers) = app_without_workers().await;
    let (slow_agent, silent_customer) = ("09876500061", "09812300062");
    sim::script(&sim, slow_agent, json!({"fault": "timeout_after_accepting"})).await;
    sim::script(&sim, silent_customer, json!({"callbacks": "drop"})).await;
    let body = json!({"agent_phone": slow_agent, "customer_phone": silent_customer, "time_limit": 2});
    let response = super::request(&app, body).await;
    assert_eq!(response.status(), reqwest::StatusCode::ACCEPTED);
    let id = crate::support::data(&response.json::<Value>().await.unwrap())["id"]
        .as_str()
        .unwrap()
        .to_string();
    let _worker = start_with(&workers, WORKERS_ONLY).await;
    let in_doubt = call_when(&app, &id, 20, "the attempt is in doubt", |c| c["dispatch"] == "started").await;
    assert_eq!(in_doubt["provider_sid"], Value::Null, "the answer never came");
    let done = call_when(&app, &id, 60, "the look-up found the call and it ended", ended).await;
    assert_eq!(done["dispatch"], "placed");
    assert_eq!(done["attempts"], 1, "never sent again");
    assert_eq!(done["status"], "completed");
    assert!(
        done["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["source"] == "lookup")
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(connects_for(&sim, &id).await, 1, "one call at Exotel, not two");
}

#[tokio::test]
async fn calls_recorded_while_no_dispatcher_ran_are_placed_once_each_in_request_order_when_one_starts() {
    let (app, sim, workers) = app_without_workers().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(place(&app, &format!("+9198123020{i:02}"), json!({})).await);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        connects_for(&sim, &ids[0]).await,
        0,
        "nothing asks Exotel from the request"
    );
    assert_eq!(call(&app, &ids[0]).await["dispatch"], "pending");
    let _worker = start_with(&workers, WORKERS_ONLY).await;
    for id in &ids {
        let done = call_when(&app, id, 30, "the call ended", ended).await;
        assert_eq!(done["status"], "completed");
        assert_eq!(connects_for(&sim, id).await, 1);
    }
    let order: Vec<String> = sim::forms_to(&sim, "Calls/connect")
        .await
        .iter()
        .filter_map(|form| form.iter().find(|(k, _)| k == "CustomField").map(|(_, v)| v.clone()))
        .collect();
    assert_eq!(order, ids, "placed in the order they were asked for");
}

#[tokio::test]
async fn an_attempt_claimed_and_never_sent_is_sent_again_once_exotel_provably_lacks_the_call() {
    let (app, sim, workers) = app_without_workers().await;
    let id = place(&app, CUSTOMER, json!({"time_limit": 1})).await;
    // A dispatcher that claimed the attempt and died before asking Exotel.
    let meta = application::EventMetadata::system("test", Some(app.organisation_id));
    let claim = CallCommand::StartDispatch { at: chrono::Utc::now() };
    app.state.call_store.execute(&id, claim, &meta).await.unwrap();
    let _worker = start_with(&workers, WORKERS_ONLY).await;
    let done = call_when(&app, &id, 60, "the call was sent again and ended", ended).await;
    assert_eq!(done["attempts"], 2);
    assert_eq!(done["status"], "completed");
    let kinds: Vec<&str> = done["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    let absent = kinds
        .iter()
        .position(|k| *k == "not_found_at_provider")
        .expect("a look-up proved it absent");
    assert_eq!(kinds[absent + 1], "dispatch_started");
    assert_eq!(connects_for(&sim, &id).await, 1, "exactly one call at Exotel");
}

#[tokio::test]
async fn two_dispatchers_on_one_queue_place_every_call_exactly_once() {
    let (app, sim, workers) = app_without_workers().await;
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(place(&app, &format!("+9198123010{i:02}"), json!({})).await);
    }
    let _one = start_with(&workers, WORKERS_ONLY).await;
    let _two = start_with(&workers, WORKERS_ONLY).await;
    for id in &ids {
        call_when(&app, id, 60, "every call is placed", |c| c["dispatch"] == "placed").await;
    }
    for id in &ids {
        assert_eq!(connects_for(&sim, id).await, 1, "{id}");
        assert_eq!(call(&app, id).await["attempts"], 1);
    }
}

#[tokio::test]
async fn a_burst_over_exotels_rate_queues_in_request_order_and_meets_no_429() {
    let (app, sim) = super::app_and_simulator().await;
    let burst = 210;
    let mut ids = Vec::new();
    for i in 0..burst {
        ids.push(place(&app, &format!("+91981240{i:04}"), json!({"time_limit": 1})).await);
    }
    for id in &ids {
        call_when(&app, id, 120, "every call is placed", |c| c["dispatch"] == "placed").await;
    }
    let order: Vec<String> = sim::forms_to(&sim, "Calls/connect")
        .await
        .iter()
        .filter_map(|form| form.iter().find(|(k, _)| k == "CustomField").map(|(_, v)| v.clone()))
        .collect();
    assert_eq!(
        order.len(),
        burst,
        "one request per call: a 429 would have been sent again"
    );
    assert_eq!(order, ids, "placed in the order they were asked for");
    for id in ids.iter().step_by(50) {
        assert_eq!(
            call(&app, id).await["attempts"],
            1,
            "the dispatcher waited instead of trying"
        );
    }
}
