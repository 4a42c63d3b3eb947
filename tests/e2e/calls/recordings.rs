//! Recordings: streamed to the organisation's callers with `Range`, kept
//! after the first fetch, never their Exotel URL; a call without one, and
//! one Exotel no longer serves, answer 404 with their own codes.

use reqwest::StatusCode;
use serde_json::{Value, json};

use domain::Role;

use super::{CUSTOMER, app_and_simulator, call, call_when, place};
use crate::support::{assert_problem, sim};

fn recorded(call: &Value) -> bool {
    call["has_recording"] == true && call["duration_secs"].is_number()
}

#[tokio::test]
async fn a_recording_streams_whole_and_by_range_to_its_organisation_only_and_is_fetched_once() {
    let (app, sim) = app_and_simulator().await;
    let id = place(
        &app,
        CUSTOMER,
        json!({"record": true, "recording_channels": "dual", "time_limit": 4}),
    )
    .await;
    let done = call_when(&app, &id, 30, "the call ended with a recording", recorded).await;
    assert_eq!(done["recording"], Value::Null, "not fetched until asked for");
    let path = format!("/api/v1/calls/{id}/recording");

    let whole = app.get(&path, Some(&app.admin_token)).await;
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(whole.headers()["content-type"], "audio/wav");
    assert_eq!(whole.headers()["accept-ranges"], "bytes");
    let bytes = whole.bytes().await.unwrap();
    let reader = hound::WavReader::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    assert_eq!(reader.spec().channels, 2, "one channel per party");
    assert_eq!(reader.duration() / reader.spec().sample_rate, 4, "the 4 s conversation");

    let part = app
        .http
        .get(app.url(&path))
        .bearer_auth(&app.admin_token)
        .header("range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        part.headers()["content-range"].to_str().unwrap(),
        format!("bytes 100-199/{}", bytes.len())
    );
    assert_eq!(part.bytes().await.unwrap(), bytes.slice(100..200));

    let kept = call(&app, &id).await;
    assert_eq!(kept["recording"]["format"], "wav");
    assert_eq!(kept["recording"]["channels"], 2);
    assert_eq!(kept["recording"]["duration_secs"], 4);
    assert_eq!(kept["recording"]["size_bytes"], bytes.len());
    assert!(
        !kept.to_string().contains("/Recordings/"),
        "Exotel's URL is never shown"
    );
    let fetched = sim::requests(&sim)
        .await
        .iter()
        .filter(|r| r["path"].as_str().is_some_and(|p| p.contains("/Recordings/")))
        .count();
    assert_eq!(fetched, 1, "kept after the first fetch");

    let other = crate::support::create_organisation(&app.state, "Other Co").await;
    let email = app.add_user(other, Role::Admin).await;
    let stranger = app.login(&email).await;
    assert_problem(
        app.get(&path, Some(&stranger)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(app.get(&path, None).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_call_without_a_recording_or_whose_recording_exotel_dropped_answers_404_with_its_code() {
    let (app, sim) = app_and_simulator().await;
    let plain = place(&app, CUSTOMER, json!({"time_limit": 2})).await;
    call_when(&app, &plain, 30, "the call ended", |c| c["duration_secs"].is_number()).await;
    let response = app
        .get(&format!("/api/v1/calls/{plain}/recording"), Some(&app.admin_token))
        .await;
    assert_problem(response, StatusCode::NOT_FOUND, "no_recording").await;

    let id = place(&app, CUSTOMER, json!({"record": true, "time_limit": 2})).await;
    let done = call_when(&app, &id, 30, "the call ended with a recording", recorded).await;
    let sid = done["provider_sid"].as_str().unwrap();
    let (status, _) = sim::admin_request(
        &sim,
        reqwest::Method::DELETE,
        &format!("calls/{sid}/recording"),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let response = app
        .get(&format!("/api/v1/calls/{id}/recording"), Some(&app.admin_token))
        .await;
    assert_problem(response, StatusCode::NOT_FOUND, "recording_gone").await;
}
