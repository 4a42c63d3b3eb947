//! Each scripted outcome through the dispatcher and Exotel's callbacks,
//! and callbacks duplicated, reordered, dropped and in every encoding.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{AGENT, CUSTOMER, LINE, app_and_simulator, call, call_when, callback_url, connects_for, place};
use crate::support::{assert_problem, data, sim};

fn ended(call: &Value) -> bool {
    call["ended_at"].is_string() && call["duration_secs"].is_number() && call["price_paise"].is_number()
}

#[tokio::test]
async fn an_answered_click_to_call_ends_completed_with_its_legs_durations_and_price() {
    let (app, sim) = app_and_simulator().await;
    let id = place(&app, CUSTOMER, json!({"time_limit": 600})).await;
    let done = call_when(&app, &id, 30, "the call completed with its price", ended).await;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["dispatch"], "placed");
    assert_eq!(done["attempts"], 1);
    assert_eq!(
        (done["agent_phone"].as_str(), done["customer_phone"].as_str()),
        (Some(AGENT), Some(CUSTOMER))
    );
    assert_eq!(done["caller_id"], LINE, "the organisation's primary number by default");
    assert_eq!(done["conversation_duration_secs"], 30);
    assert_eq!(done["duration_secs"], 36, "3 s ringing each leg and 30 s talking");
    assert_eq!(done["price_paise"], 150);
    assert!(done["answered_at"].is_string());
    let legs: Vec<(&str, u64)> = done["legs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["status"].as_str().unwrap(),
                l["on_call_duration_secs"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(legs, vec![("completed", 33), ("completed", 30)]);
    let kinds: Vec<&str> = done["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(&kinds[..3], &["requested", "dispatch_started", "placed"]);
    let callbacks: Vec<&Value> = done["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["source"] == "callback")
        .collect();
    assert_eq!(callbacks.len(), 2, "answered and terminal: {}", done["timeline"]);
    assert_eq!(callbacks[0]["status"], "answered");
    assert_eq!(callbacks[1]["status"], "completed");

    let forms = sim::forms_to(&sim, "Calls/connect").await;
    assert_eq!(forms.len(), 1);
    let field = |name: &str| forms[0].iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    assert_eq!(field("From"), Some(AGENT));
    assert_eq!(field("To"), Some(CUSTOMER));
    assert_eq!(field("CallerId"), Some(LINE));
    assert_eq!(field("CustomField"), Some(id.as_str()));
    assert_eq!(field("TimeLimit"), Some("600"));
    assert_eq!(field("StatusCallbackContentType"), Some("application/json"));
    assert_eq!(field("StatusCallback"), Some(callback_url(&app).as_str()));
    assert!(!done.to_string().contains("RecordingUrl") && done.get("recording_url").is_none());
}

#[tokio::test]
async fn busy_unanswered_and_failed_customers_and_an_unanswered_agent_end_the_call_so() {
    let (app, sim) = app_and_simulator().await;
    let cases = [
        ("09812300011", "busy", "busy"),
        ("09812300012", "no-answer", "no_answer"),
        ("09812300013", "failed", "failed"),
    ];
    let mut ids = Vec::new();
    for (number, outcome, _) in cases {
        sim::script(&sim, number, json!({"outcome": outcome})).await;
        ids.push(place(&app, number, json!({})).await);
    }
    for ((_, outcome, status), id) in cases.iter().zip(&ids) {
        let done = call_when(&app, id, 30, "the call ended with its price", ended).await;
        assert_eq!(done["status"], *status, "{outcome}");
        assert_eq!(done["answered_at"], Value::Null);
        let legs: Vec<&str> = done["legs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["status"].as_str().unwrap())
            .collect();
        assert_eq!(
            legs,
            vec!["completed", *outcome],
            "the agent answered, the customer did not"
        );
    }

    let unanswered_agent = "09876500021";
    sim::script(&sim, unanswered_agent, json!({"outcome": "no-answer"})).await;
    let body = json!({"agent_phone": unanswered_agent, "customer_phone": CUSTOMER});
    let response = super::request(&app, body).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let id = data(&response.json::<Value>().await.unwrap())["id"]
        .as_str()
        .unwrap()
        .to_string();
    let done = call_when(&app, &id, 30, "the call ended with its price", ended).await;
    assert_eq!(done["status"], "no_answer");
    let legs: Vec<&str> = done["legs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["status"].as_str().unwrap())
        .collect();
    assert_eq!(legs, vec!["no-answer"], "the customer was never dialled");
}

#[tokio::test]
async fn duplicated_and_reordered_callbacks_leave_one_fact_each_and_the_call_completed() {
    let (app, sim) = app_and_simulator().await;
    let (duplicated, reordered) = ("09812300031", "09812300032");
    sim::script(&sim, duplicated, json!({"callbacks": "duplicate"})).await;
    sim::script(&sim, reordered, json!({"callbacks": "reorder"})).await;
    let twice = place(&app, duplicated, json!({})).await;
    let late = place(&app, reordered, json!({})).await;
    for id in [&twice, &late] {
        let done = call_when(&app, id, 30, "the call ended with its price", ended).await;
        assert_eq!(done["status"], "completed", "{}", done["timeline"]);
        let callbacks = done["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["source"] == "callback")
            .count();
        assert_eq!(callbacks, 2, "each callback recorded once: {}", done["timeline"]);
        assert_eq!(connects_for(&sim, id).await, 1);
    }
    let reordered_call = call(&app, &late).await;
    let moved: Vec<&Value> = reordered_call["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["source"] == "callback")
        .map(|e| &e["status"])
        .collect();
    assert_eq!(
        moved,
        vec![&json!("completed"), &Value::Null],
        "the late `answered` moved nothing"
    );
    assert!(
        reordered_call["answered_at"].is_null(),
        "answering is not back-dated by a late callback"
    );
}

#[tokio::test]
async fn a_dropped_terminal_callback_is_reconciled_from_exotels_call_details() {
    let (app, sim) = app_and_simulator().await;
    let silent = "09812300041";
    sim::script(&sim, silent, json!({"callbacks": "drop"})).await;
    let id = place(&app, silent, json!({"time_limit": 2})).await;
    let done = call_when(&app, &id, 40, "the call was reconciled to its end", ended).await;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["duration_secs"], 8, "3 s ringing each leg and the 2 s time limit");
    let sources: Vec<&str> = done["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["source"].as_str())
        .collect();
    assert!(
        sources.iter().all(|s| *s == "lookup") && !sources.is_empty(),
        "{sources:?}"
    );
}

#[tokio::test]
async fn callbacks_in_json_multipart_and_urlencoded_read_alike_and_a_repeat_changes_nothing() {
    let (app, sim) = app_and_simulator().await;
    let silent = "09812300051";
    sim::script(&sim, silent, json!({"callbacks": "drop", "talk_seconds": 100000})).await;
    let id = place(&app, silent, json!({})).await;
    let placed = call_when(&app, &id, 20, "the call is placed", |c| c["provider_sid"].is_string()).await;
    let sid = placed["provider_sid"].as_str().unwrap().to_string();
    let url = callback_url(&app);
    let http = reqwest::Client::new();

    let answered = json!({"CallSid": sid, "Status": "in-progress", "EventType": "answered", "CustomField": id});
    let response = http.post(&url).json(&answered).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let receipt: Value = response.json().await.unwrap();
    assert_eq!(data(&receipt)["matched"], true);
    assert_eq!(data(&receipt)["call_id"], id.as_str());
    call_when(&app, &id, 10, "the JSON callback answered the call", |c| {
        c["status"] == "answered"
    })
    .await;

    let form = [
        ("CallSid", sid.as_str()),
        ("Status", "completed"),
        ("EventType", "terminal"),
        ("ConversationDuration", "12"),
        ("Legs[0][Status]", "completed"),
        ("Legs[0][OnCallDuration]", "15"),
        ("Legs[1][Status]", "completed"),
        ("Legs[1][OnCallDuration]", "12"),
        ("Legs[1][DisconnectedBy]", "customer"),
    ];
    let multipart = form.iter().fold(reqwest::multipart::Form::new(), |f, (k, v)| {
        f.text(k.to_string(), v.to_string())
    });
    let response = http.post(&url).multipart(multipart).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "matched by sid without CustomField");
    let done = call_when(&app, &id, 10, "the multipart callback ended the call", |c| {
        c["status"] == "completed"
    })
    .await;
    assert_eq!(done["conversation_duration_secs"], 12);
    assert_eq!(done["disconnected_by"], "customer");
    let legs: Vec<u64> = done["legs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["on_call_duration_secs"].as_u64().unwrap())
        .collect();
    assert_eq!(legs, vec![15, 12]);

    // Callback facts only: the reconciler may add look-ups meanwhile.
    let query =
        format!("SELECT COUNT(*) FROM events WHERE aggregate_id = '{id}' AND payload LIKE '%\"source\":\"callback\"%'");
    let history = || app.count(&query);
    let before = history().await;
    assert_eq!(before, 2);
    let late = [
        ("CallSid", sid.as_str()),
        ("Status", "ringing"),
        ("Legs[0][Status]", "busy"),
    ];
    let response = http.post(&url).form(&late).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let after_late = history().await;
    assert_eq!(
        after_late,
        before + 1,
        "a late ringing is kept as a fact, and only that"
    );
    let response = http.post(&url).form(&late).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(history().await, after_late, "the same callback again records nothing");
    let still = call(&app, &id).await;
    assert_eq!(still["status"], "completed");
    assert_eq!(still["legs"][0]["status"], "completed", "legs once known are kept");
}

#[tokio::test]
async fn a_callback_with_a_wrong_token_or_an_unreadable_body_is_refused_and_records_nothing() {
    let (app, _sim) = app_and_simulator().await;
    let url = callback_url(&app);
    let http = reqwest::Client::new();
    let body = json!({"CallSid": "abc", "Status": "completed"});
    let events = app.count("SELECT COUNT(*) FROM events").await;

    let wrong = url.replace("/calls", "x/calls");
    assert_problem(
        http.post(&wrong).json(&body).send().await.unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let (integration, token) = {
        let parts: Vec<&str> = url.split('/').collect();
        (parts[parts.len() - 3].to_string(), parts[parts.len() - 2].to_string())
    };
    let another = uuid::Uuid::new_v4();
    let swapped = url.replace(&integration, &another.to_string());
    assert_problem(
        http.post(&swapped).json(&body).send().await.unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert!(!token.is_empty());

    let no_sid = json!({"Status": "completed"});
    assert_problem(
        http.post(&url).json(&no_sid).send().await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_callback",
    )
    .await;
    let text = http
        .post(&url)
        .header("content-type", "text/plain")
        .body("CallSid=1")
        .send()
        .await
        .unwrap();
    assert_problem(text, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;

    let unmatched = http.post(&url).json(&body).send().await.unwrap();
    assert_eq!(unmatched.status(), StatusCode::OK);
    assert_eq!(data(&unmatched.json::<Value>().await.unwrap())["matched"], false);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM events").await,
        events,
        "nothing was recorded"
    );
}

#[tokio::test]
async fn a_rotated_callback_token_refuses_the_old_url_and_new_calls_carry_the_new_one() {
    let (app, sim) = app_and_simulator().await;
    let old = callback_url(&app);
    let body = json!({"CallSid": "nobody", "Status": "completed"});
    let http = reqwest::Client::new();
    assert_eq!(
        http.post(&old).json(&body).send().await.unwrap().status(),
        StatusCode::OK
    );
    let path = "/api/v1/settings/integrations/exotel_phone/callback-token/rotate";
    let rotated = app.post_json(path, Some(&app.admin_token), json!({})).await;
    assert_eq!(rotated.status(), StatusCode::OK);
    let rotated: Value = rotated.json().await.unwrap();
    assert_eq!(data(&rotated)["generation"], 1);
    assert!(!rotated.to_string().contains("webhooks"), "the token is never shown");
    assert_problem(
        http.post(&old).json(&body).send().await.unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    let integration =
        domain::integration::integration_id(app.organisation_id, domain::integration::IntegrationKind::ExotelPhone);
    let token = app.state.callback_tokens.token(integration, 1);
    let new = app.url(&format!("/webhooks/exotel/{integration}/{token}/calls"));
    assert_eq!(
        http.post(&new).json(&body).send().await.unwrap().status(),
        StatusCode::OK
    );
    let id = place(&app, CUSTOMER, json!({})).await;
    let done = call_when(&app, &id, 30, "the call completed through the new URL", |c| {
        c["status"] == "completed"
    })
    .await;
    assert!(
        done["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["source"] == "callback")
    );
    let forms = sim::forms_to(&sim, "Calls/connect").await;
    let callback = forms[0]
        .iter()
        .find(|(k, _)| k == "StatusCallback")
        .map(|(_, v)| v.clone());
    assert_eq!(callback, Some(new));
    let email = app.add_user(app.organisation_id, domain::Role::Manager).await;
    let manager = app.login(&email).await;
    let refused = app.post_json(path, Some(&manager), json!({})).await;
    assert_problem(refused, StatusCode::FORBIDDEN, "forbidden").await;
}
