//! The Exotel simulator over HTTP: Exotel's URLs, auth, formats, errors,
//! limits and status callbacks for click-to-call.

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;

use crate::support::sim::{
    self, CALL_FIELDS, EXOPHONE, FAULTS, KEY, TIMES_OUT, TOKEN, callback_sink, connect, connect_url, get_json,
    next_callback, nothing_arrives, script,
};
use simulator::RunningSimulator;

type Form<'a> = &'a [(&'a str, &'a str)];

#[tokio::test]
async fn connect_answers_the_documented_call_fields_in_json_and_xml() {
    let sim = sim::start().await;
    let response = connect(
        &sim,
        &[("From", "+919876543210"), ("To", "09123456789"), ("CallerId", EXOPHONE)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let documented: BTreeSet<&str> = CALL_FIELDS.into();
    let fields: BTreeSet<&str> = body["Call"].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(fields, documented);
    let call = &body["Call"];
    assert_eq!(
        (call["Status"].as_str(), call["Direction"].as_str()),
        (Some("in-progress"), Some("outbound-api"))
    );
    assert_eq!(
        (call["From"].as_str(), call["PhoneNumberSid"].as_str()),
        (Some("09876543210"), Some(EXOPHONE))
    );
    assert_eq!(call["Sid"].as_str().unwrap().len(), 32);

    let form = [("From", "09876543210"), ("To", "09123456789"), ("CallerId", EXOPHONE)];
    let xml = reqwest::Client::new()
        .post(connect_url(&sim, false))
        .basic_auth(KEY, Some(TOKEN))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(xml.headers()["content-type"], "application/xml");
    let text = xml.text().await.unwrap();
    assert!(
        text.contains("<TwilioResponse><Call>") && text.contains("<Status>in-progress</Status>"),
        "{text}"
    );
}

#[tokio::test]
async fn bad_credentials_get_401_and_sid_token_also_works() {
    let sim = sim::start().await;
    let form = [("From", "09876543210"), ("To", "09123456789"), ("CallerId", EXOPHONE)];
    let wrong = reqwest::Client::new()
        .post(connect_url(&sim, true))
        .basic_auth(KEY, Some("nope"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.json::<Value>().await.unwrap()["RestException"]["Status"], 401);
    let legacy = reqwest::Client::new()
        .post(connect_url(&sim, true))
        .basic_auth("sandbox", Some(TOKEN))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(legacy.status(), StatusCode::OK);
    let log = sim::requests(&sim).await;
    assert_eq!(log.len(), 2);
    assert!(
        !serde_json::to_string(&log).unwrap().contains(TOKEN),
        "the log never keeps tokens"
    );
}

#[tokio::test]
async fn invalid_requests_get_rest_exceptions() {
    let sim = sim::start().await;
    let cases: [(Form, StatusCode, &str); 4] = [
        (
            &[("To", "09123456789"), ("CallerId", EXOPHONE)],
            StatusCode::BAD_REQUEST,
            "From is a mandatory parameter",
        ),
        (
            &[("From", "09876543210"), ("CallerId", EXOPHONE)],
            StatusCode::BAD_REQUEST,
            "Send exactly one of To and Url",
        ),
        (
            &[
                ("From", "09876543210"),
                ("To", "09123456789"),
                ("CallerId", EXOPHONE),
                ("TimeLimit", "14401"),
            ],
            StatusCode::BAD_REQUEST,
            "TimeLimit",
        ),
        (
            &[
                ("From", "09876543210"),
                ("To", "09123456789"),
                ("CallerId", "08000000000"),
            ],
            StatusCode::BAD_REQUEST,
            "not an ExoPhone",
        ),
    ];
    for (form, status, message) in cases {
        let response = connect(&sim, form).await;
        assert_eq!(response.status(), status);
        let body: Value = response.json().await.unwrap();
        assert!(
            body["RestException"]["Message"].as_str().unwrap().contains(message),
            "{body}"
        );
    }
    let unknown = reqwest::Client::new()
        .get(format!(
            "{}/v1/Accounts/sandbox/Calls/0123456789abcdef0123456789abcdef.json",
            sim.base_url()
        ))
        .basic_auth(KEY, Some(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        unknown.json::<Value>().await.unwrap()["RestException"]["Message"],
        "No matching results"
    );
}

#[tokio::test]
async fn a_dnd_number_is_refused_under_trai_ndnc_rules() {
    let sim = sim::start().await;
    script(&sim, "09123456789", json!({"dnd": true})).await;
    let response = connect(
        &sim,
        &[("From", "09876543210"), ("To", "+919123456789"), ("CallerId", EXOPHONE)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["RestException"]["Message"],
        "Call to [09123456789] cannot be made because of TRAI NDNC regulations"
    );
}

#[tokio::test]
async fn the_201st_voice_request_in_a_minute_gets_429() {
    let sim = sim::start().await;
    let form = [("From", "09876543210"), ("To", "09123456789"), ("CallerId", EXOPHONE)];
    for _ in 0..200 {
        assert_eq!(connect(&sim, &form).await.status(), StatusCode::OK);
    }
    let limited = connect(&sim, &form).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.json::<Value>().await.unwrap()["RestException"]["Status"], 429);
}

#[tokio::test]
async fn a_five_minute_call_completes_fast_and_its_callback_and_details_read_five_minutes() {
    let sim = sim::fast(2000.0).await;
    let (url, mut callbacks) = callback_sink().await;
    script(
        &sim,
        "09123456789",
        json!({"outcome": "answer", "ring_seconds": 5, "talk_seconds": 300}),
    )
    .await;
    let form = [
        ("From", "09876543210"),
        ("To", "09123456789"),
        ("CallerId", EXOPHONE),
        ("StatusCallback", url.as_str()),
        ("StatusCallbackEvents[0]", "terminal"),
        ("StatusCallbackEvents[1]", "answered"),
        ("StatusCallbackContentType", "application/json"),
        ("CustomField", "{\"order\":42}"),
    ];
    let call: Value = connect(&sim, &form).await.json().await.unwrap();
    let sid = call["Call"]["Sid"].as_str().unwrap().to_string();

    let (kind, answered) = next_callback(&mut callbacks).await;
    assert!(kind.starts_with("application/json"));
    let answered: Value = serde_json::from_str(&answered).unwrap();
    assert_eq!(
        (answered["EventType"].as_str(), answered["Status"].as_str()),
        (Some("answered"), Some("in-progress"))
    );
    let (_, terminal) = next_callback(&mut callbacks).await;
    let terminal: Value = serde_json::from_str(&terminal).unwrap();
    assert_eq!(
        (terminal["EventType"].as_str(), terminal["Status"].as_str()),
        (Some("terminal"), Some("completed"))
    );
    assert_eq!(terminal["ConversationDuration"], 300);
    assert_eq!(terminal["Legs"][1]["OnCallDuration"], 300);
    assert_eq!(terminal["CustomField"], "{\"order\":42}");

    let details = get_json(&sim, &format!("/v1/Accounts/sandbox/Calls/{sid}.json?details=true")).await;
    let call = &details["Call"];
    assert_eq!(
        (call["Status"].as_str(), call["Duration"].as_str()),
        (Some("completed"), Some("308"))
    );
    assert_eq!(call["Details"]["ConversationDuration"], 300);
    assert_eq!(call["Details"]["Legs"][1]["Leg"]["Id"], 2);
    let start =
        chrono::NaiveDateTime::parse_from_str(call["StartTime"].as_str().unwrap(), "%Y-%m-%d %H:%M:%S").unwrap();
    let end = chrono::NaiveDateTime::parse_from_str(call["EndTime"].as_str().unwrap(), "%Y-%m-%d %H:%M:%S").unwrap();
    assert_eq!(
        (end - start).num_seconds(),
        308,
        "timestamps read as the simulated length"
    );
}

#[tokio::test]
async fn a_busy_callee_ends_the_call_busy_with_form_encoded_legs() {
    let sim = sim::fast(2000.0).await;
    let (url, mut callbacks) = callback_sink().await;
    script(&sim, "09123456789", json!({"outcome": "busy", "ring_seconds": 4})).await;
    let form = [
        ("From", "09876543210"),
        ("To", "09123456789"),
        ("CallerId", EXOPHONE),
        ("StatusCallback", url.as_str()),
        ("StatusCallbackEvents[0]", "terminal"),
    ];
    assert_eq!(connect(&sim, &form).await.status(), StatusCode::OK);
    let (kind, body) = next_callback(&mut callbacks).await;
    assert!(kind.starts_with("application/x-www-form-urlencoded"));
    let fields: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap();
    let get = |k: &str| fields.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    assert_eq!(get("Status"), Some("busy"));
    assert_eq!(get("Legs[0][Status]"), Some("completed"));
    assert_eq!(get("Legs[1][Status]"), Some("busy"));
}

#[tokio::test]
async fn scripted_faults_answer_as_exotel_would_fail() {
    let sim = sim::start().await;
    sim::script_faults(&sim).await;
    for (number, fault, status) in FAULTS {
        let response = connect(&sim, &[("From", "09876543210"), ("To", number), ("CallerId", EXOPHONE)]).await;
        assert_eq!(response.status(), status, "{fault}");
        assert_eq!(
            response.json::<Value>().await.unwrap()["RestException"]["Status"],
            status.as_u16()
        );
    }
    let slow = reqwest::Client::new()
        .post(connect_url(&sim, true))
        .basic_auth(KEY, Some(TOKEN))
        .timeout(Duration::from_millis(300))
        .form(&[("From", "09876543210"), ("To", TIMES_OUT), ("CallerId", EXOPHONE)])
        .send()
        .await;
    assert!(slow.unwrap_err().is_timeout());
}

async fn call_with_callbacks(sim: &RunningSimulator, callee: &str, url: &str, events: &[&str]) {
    let mut form = vec![
        ("From", "09876543210"),
        ("To", callee),
        ("CallerId", EXOPHONE),
        ("StatusCallback", url),
    ];
    form.push(("StatusCallbackContentType", "application/json"));
    let names = ["StatusCallbackEvents[0]", "StatusCallbackEvents[1]"];
    form.extend(names.iter().zip(events).map(|(name, event)| (*name, *event)));
    assert_eq!(connect(sim, &form).await.status(), StatusCode::OK);
}

fn event_of(body: &str) -> String {
    serde_json::from_str::<Value>(body).unwrap()["EventType"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn callbacks_can_be_duplicated_reordered_or_dropped() {
    let sim = sim::fast(5000.0).await;
    script(
        &sim,
        "09100000001",
        json!({"callbacks": "duplicate", "talk_seconds": 10}),
    )
    .await;
    script(&sim, "09100000002", json!({"callbacks": "reorder", "talk_seconds": 10})).await;
    script(&sim, "09100000003", json!({"callbacks": "drop", "talk_seconds": 10})).await;

    let (url, mut duplicated) = callback_sink().await;
    call_with_callbacks(&sim, "09100000001", &url, &["terminal"]).await;
    let (first, second) = (
        next_callback(&mut duplicated).await.1,
        next_callback(&mut duplicated).await.1,
    );
    assert_eq!(first, second, "the same terminal callback twice");

    let (url, mut reordered) = callback_sink().await;
    call_with_callbacks(&sim, "09100000002", &url, &["terminal", "answered"]).await;
    let order = [
        event_of(&next_callback(&mut reordered).await.1),
        event_of(&next_callback(&mut reordered).await.1),
    ];
    assert_eq!(order, ["terminal", "answered"], "a late answered after terminal");

    let (url, mut dropped) = callback_sink().await;
    call_with_callbacks(&sim, "09100000003", &url, &["terminal"]).await;
    nothing_arrives(&mut dropped, 500).await;
}
