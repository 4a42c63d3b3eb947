//! The Exotel module's own routes under `/api/exotel`, in its field names,
//! on the same use cases as `/api/v1`.

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

use super::{AGENT, CUSTOMER, app_and_simulator, call_when, quick};
use crate::support::{TestApp, assert_problem, data, eventually, sim};

async fn put(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.http
        .put(app.url(path))
        .bearer_auth(&app.admin_token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_modules_config_sets_the_integration_in_its_own_names_and_never_shows_the_secrets() {
    let (mut settings, dir) = crate::support::embedded();
    quick(&mut settings);
    let app = TestApp::start(settings, Some(dir)).await;
    let sim = sim::fast(100.0).await;
    let health = app.get("/api/exotel/health", Some(&app.admin_token)).await;
    assert_eq!(data(&health.json::<Value>().await.unwrap())["status"], "not_configured");
    let first = json!({"serviceUrl": sim.base_url(), "apiKey": sim::KEY, "apiToken": sim::TOKEN});
    let refused = put(&app, "/api/exotel/config", first.clone()).await;
    let problem = assert_problem(refused, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    assert_eq!(problem["field"], "accountSid");

    let mut complete = first.clone();
    complete["accountSid"] = json!("sandbox");
    complete["virtualNumber"] = json!(sim::EXOPHONE);
    let saved = put(&app, "/api/exotel/config", complete).await;
    assert_eq!(saved.status(), StatusCode::OK);
    let text = saved.text().await.unwrap();
    assert!(!text.contains(sim::TOKEN) && !text.contains(sim::KEY), "{text}");
    let shown: Value = app
        .get("/api/exotel/config", Some(&app.admin_token))
        .await
        .json()
        .await
        .unwrap();
    let shown = data(&shown);
    assert_eq!(shown["serviceUrl"], sim.base_url().as_str());
    assert_eq!(shown["accountSid"], "sandbox");
    assert_eq!(
        (shown["hasApiKey"].as_bool(), shown["hasApiToken"].as_bool()),
        (Some(true), Some(true))
    );
    assert!(!shown.to_string().contains(sim::TOKEN));

    let again = put(&app, "/api/exotel/config", first).await;
    assert_eq!(again.status(), StatusCode::OK, "the account and number are kept");
    let health: Value = app
        .get("/api/exotel/health", Some(&app.admin_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(data(&health)["status"], "ok");
    assert_eq!(data(&health)["verified"], true);
    let v1: Value = app
        .get("/api/v1/settings/integrations/exotel_phone", Some(&app.admin_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(data(&v1)["status"], "active", "the same integration as /api/v1's: {v1}");
}

#[tokio::test]
async fn the_modules_click_to_call_places_the_same_call_as_the_calls_route() {
    let (app, sim) = app_and_simulator().await;
    let seed = app
        .post_json(
            "/api/exotel/click-to-call",
            Some(&app.admin_token),
            json!({"agentPhone": AGENT, "customerPhone": CUSTOMER, "recordCall": true, "timeLimit": 60}),
        )
        .await;
    assert_eq!(seed.status(), StatusCode::ACCEPTED);
    let seed: Value = seed.json().await.unwrap();
    let seed_id = data(&seed)["callId"].as_str().unwrap().to_string();
    assert_eq!(data(&seed)["recordCall"], true);
    assert_eq!(data(&seed)["status"], "requested");
    let v1 = app
        .post_json(
            "/api/v1/calls",
            Some(&app.admin_token),
            json!({"agent_phone": AGENT, "customer_phone": CUSTOMER, "record": true, "time_limit": 60}),
        )
        .await;
    assert_eq!(v1.status(), StatusCode::ACCEPTED);
    let v1_id = data(&v1.json::<Value>().await.unwrap())["id"]
        .as_str()
        .unwrap()
        .to_string();
    for id in [&seed_id, &v1_id] {
        call_when(&app, id, 30, "the call is placed", |c| c["dispatch"] == "placed").await;
    }
    eventually(Duration::from_secs(10), "both calls reached Exotel", || async {
        sim::forms_to(&sim, "Calls/connect").await.len() == 2
    })
    .await;
    let forms: Vec<Vec<(String, String)>> = sim::forms_to(&sim, "Calls/connect")
        .await
        .into_iter()
        .map(|form| form.into_iter().filter(|(k, _)| k != "CustomField").collect())
        .collect();
    assert_eq!(forms[0], forms[1], "the same request to Exotel");
    let unknown = app
        .post_json(
            "/api/exotel/click-to-call",
            Some(&app.admin_token),
            json!({"agentPhone": AGENT, "customerPhone": CUSTOMER, "agent_phone": AGENT}),
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.get("/api/exotel/health", None).await.status(),
        StatusCode::UNAUTHORIZED
    );
}
