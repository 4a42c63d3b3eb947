//! Number masking through the ExoPhone's flow: a scripted caller rings the
//! simulator's ExoPhone, its flow asks Switchboard's Passthru and Connect
//! URLs, and each party reaches the other through the virtual number while
//! neither is shown the other's number; nothing connects past the cap,
//! after expiry, once ended, or for a stranger.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;

use super::app_and_simulator;
use crate::support::{TestApp, assert_problem, data, eventually, sim};
use simulator::RunningSimulator;

const RIDER: &str = "+919876500011";
const CUSTOMER: &str = "+919812300012";
const STRANGER: &str = "+919812300099";
const VIRTUAL: &str = "+918047112233";

fn national(e164: &str) -> String {
    format!("0{}", e164.trim_start_matches("+91"))
}

/// The flow URLs Switchboard gives for the integration.
async fn flow_urls(app: &TestApp) -> (String, String) {
    let response = app
        .get(
            "/api/v1/settings/integrations/exotel_phone/flow-urls",
            Some(&app.admin_token),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let urls = data(&body);
    assert!(urls["status_callback_url"].as_str().unwrap().ends_with("/calls"));
    (
        urls["passthru_url"].as_str().unwrap().to_string(),
        urls["connect_url"].as_str().unwrap().to_string(),
    )
}

/// The masking flow on the sandbox ExoPhone: a Passthru that branches to
/// "no longer in service" on 302, else a Connect whose URL says whom to dial.
async fn assign_masking_flow(app: &TestApp, sim: &RunningSimulator) -> String {
    let (passthru, connect) = flow_urls(app).await;
    let flow = json!([
        {"type": "passthru", "url": passthru, "on_200": "next", "on_302": 3},
        {"type": "connect", "url": connect},
        {"type": "hangup"},
        {"type": "greeting", "text": "This number is no longer in service"},
        {"type": "hangup"},
    ]);
    sim::admin(sim, "flows/masking", flow).await;
    let assigned = reqwest::Client::new()
        .put(format!(
            "{}/v2_beta/Accounts/sandbox/IncomingPhoneNumbers/{}",
            sim.base_url(),
            sim::EXOPHONE
        ))
        .basic_auth(sim::KEY, Some(sim::TOKEN))
        .form(&[("VoiceUrl", "http://my.exotel.com/sandbox/exoml/start_voice/masking")])
        .send()
        .await
        .unwrap();
    assert_eq!(assigned.status(), StatusCode::OK, "{}", assigned.text().await.unwrap());
    connect
}

/// Opens a session, which must be accepted, and waits until the flow's
/// questions can find it (the sessions view is a projection).
async fn open(app: &TestApp, body: Value) -> Value {
    let response = app
        .post_json("/api/v1/masked-sessions", Some(&app.admin_token), body)
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let opened = data(&response.json::<Value>().await.unwrap()).clone();
    let id = opened["id"].as_str().unwrap().to_string();
    eventually(Duration::from_secs(10), "the session is listed", || async {
        let list: Value = app
            .get("/api/v1/masked-sessions", Some(&app.admin_token))
            .await
            .json()
            .await
            .unwrap();
        list["data"].as_array().unwrap().iter().any(|s| s["id"] == id.as_str())
    })
    .await;
    opened
}

async fn session(app: &TestApp, id: &str) -> Value {
    let response = app
        .get(&format!("/api/v1/masked-sessions/{id}"), Some(&app.admin_token))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    data(&response.json::<Value>().await.unwrap()).clone()
}

/// Rings the ExoPhone from `from`; the flow's steps once it has ended.
async fn ring(sim: &RunningSimulator, from: &str) -> (String, Vec<Value>) {
    let (status, body) = sim::admin_request(
        sim,
        Method::POST,
        "incoming-calls",
        json!({"from": from, "to": sim::EXOPHONE}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let sid = serde_json::from_str::<Value>(&body).unwrap()["sid"]
        .as_str()
        .unwrap()
        .to_string();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (_, text) = sim::admin_request(sim, Method::GET, &format!("calls/{sid}/flow"), Value::Null).await;
        let steps: Vec<Value> = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v.as_array().cloned().or_else(|| v["steps"].as_array().cloned()))
            .unwrap_or_default();
        if steps.last().is_some_and(|s| s["applet"] == "hangup") {
            return (sid, steps);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the flow of {sid} did not hang up: {text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn applets(steps: &[Value]) -> Vec<&str> {
    steps.iter().map(|s| s["applet"].as_str().unwrap_or_default()).collect()
}

fn dialled(steps: &[Value]) -> Option<&str> {
    steps
        .iter()
        .find(|s| s["applet"] == "connect")
        .and_then(|s| s["dialled"].as_str())
}

/// The caller id the Connect showed the dialled party.
fn shown(steps: &[Value]) -> Option<&str> {
    steps
        .iter()
        .find(|s| s["applet"] == "connect")
        .and_then(|s| s["caller_id"].as_str())
}

#[tokio::test]
async fn each_party_reaches_the_other_through_the_virtual_number_and_neither_is_shown_the_others_number() {
    let (app, sim) = app_and_simulator().await;
    let connect = assign_masking_flow(&app, &sim).await;
    let opened = open(
        &app,
        json!({"party_a": RIDER, "party_b": national(CUSTOMER), "expires_in_secs": 600, "max_calls": 5}),
    )
    .await;
    assert_eq!(opened["virtual_number"], VIRTUAL, "the primary number masks by default");
    assert_eq!(opened["party_b"], CUSTOMER, "numbers are kept in E.164");
    assert_eq!(opened["state"], "active");
    let id = opened["id"].as_str().unwrap().to_string();

    let (rider_sid, steps) = ring(&sim, RIDER).await;
    assert_eq!(applets(&steps)[..2], ["passthru", "connect"], "{steps:?}");
    assert_eq!(steps[0]["http_status"], 200);
    assert_eq!(dialled(&steps), Some(national(CUSTOMER).as_str()), "{steps:?}");
    assert_eq!(
        shown(&steps),
        Some(sim::EXOPHONE),
        "the customer is shown the virtual number"
    );
    let (customer_sid, steps) = ring(&sim, CUSTOMER).await;
    assert_eq!(dialled(&steps), Some(national(RIDER).as_str()), "{steps:?}");
    assert_eq!(
        shown(&steps),
        Some(sim::EXOPHONE),
        "the rider is shown the virtual number"
    );

    // What the flow is told for a call: the other party, shown the virtual
    // number; never the caller's own number back.
    let answer: Value = reqwest::Client::new()
        .get(&connect)
        .query(&[
            ("CallSid", rider_sid.as_str()),
            ("CallFrom", &national(RIDER)),
            ("CallTo", sim::EXOPHONE),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["destination"]["numbers"], json!([CUSTOMER]));
    assert_eq!(answer["outgoing_phone_number"], sim::EXOPHONE);
    assert!(!answer.to_string().contains(&RIDER[3..]), "{answer}");

    let kept = session(&app, &id).await;
    assert_eq!(
        kept["calls_connected"], 2,
        "a flow asking twice about one call counts it once: {kept}"
    );
    let calls = kept["calls"].as_array().unwrap();
    assert_eq!(calls[0]["provider_sid"], rider_sid.as_str());
    assert_eq!(calls[0]["from_party"], "a");
    assert_eq!(calls[1]["provider_sid"], customer_sid.as_str());
    assert_eq!(calls[1]["from_party"], "b");

    let inbound = application::masked_sessions::inbound_call_id(app.organisation_id, &rider_sid);
    let call = super::call(&app, &inbound.to_string()).await;
    assert_eq!(call["direction"], "inbound");
    assert_eq!(call["customer_phone"], RIDER);
    assert_eq!(call["agent_phone"], CUSTOMER);
    assert_eq!(call["caller_id"], VIRTUAL);
    assert_eq!(call["masked_session_id"], id.as_str());
}

#[tokio::test]
async fn nothing_connects_past_the_cap_after_expiry_once_ended_or_for_a_stranger() {
    let (app, sim) = app_and_simulator().await;
    let connect = assign_masking_flow(&app, &sim).await;
    let capped = open(&app, json!({"party_a": RIDER, "party_b": CUSTOMER, "max_calls": 1})).await;
    let id = capped["id"].as_str().unwrap().to_string();
    let (_, first) = ring(&sim, RIDER).await;
    assert_eq!(dialled(&first), Some(national(CUSTOMER).as_str()));

    let (second_sid, second) = ring(&sim, CUSTOMER).await;
    assert_eq!(second[0]["http_status"], 302, "{second:?}");
    assert_eq!(applets(&second), ["passthru", "greeting", "hangup"]);
    assert_eq!(second[1]["text"], "This number is no longer in service");
    let answer: Value = reqwest::Client::new()
        .get(&connect)
        .query(&[
            ("CallSid", second_sid.as_str()),
            ("CallFrom", &national(CUSTOMER)),
            ("CallTo", sim::EXOPHONE),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        answer["destination"]["numbers"],
        json!([]),
        "the Connect URL dials nobody either"
    );
    let kept = session(&app, &id).await;
    assert_eq!(kept["state"], "cap_reached");
    assert_eq!(kept["calls"][1]["refusal"], "cap_reached");

    let (_, stranger) = ring(&sim, STRANGER).await;
    assert_eq!(applets(&stranger), ["passthru", "greeting", "hangup"]);

    let ended = app
        .http
        .delete(app.url(&format!("/api/v1/masked-sessions/{id}")))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), StatusCode::OK);
    let again = app
        .http
        .delete(app.url(&format!("/api/v1/masked-sessions/{id}")))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_problem(again, StatusCode::CONFLICT, "already_ended").await;
    let (_, after_end) = ring(&sim, RIDER).await;
    assert_eq!(applets(&after_end), ["passthru", "greeting", "hangup"]);
    assert_eq!(session(&app, &id).await["calls"][2]["refusal"], "ended");

    let brief = open(
        &app,
        json!({"party_a": "+919876500021", "party_b": "+919812300022", "expires_in_secs": 1}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let (_, late) = ring(&sim, "+919876500021").await;
    assert_eq!(applets(&late), ["passthru", "greeting", "hangup"], "{late:?}");
    let kept = session(&app, brief["id"].as_str().unwrap()).await;
    assert_eq!(kept["state"], "expired");
    assert_eq!(kept["calls"][0]["refusal"], "expired");
}

#[tokio::test]
async fn a_session_is_refused_for_one_party_twice_an_unknown_number_or_a_busy_pair_on_the_number() {
    let (app, _sim) = app_and_simulator().await;
    let same = app
        .post_json(
            "/api/v1/masked-sessions",
            Some(&app.admin_token),
            json!({"party_a": RIDER, "party_b": national(RIDER)}),
        )
        .await;
    assert_eq!(
        assert_problem(same, StatusCode::UNPROCESSABLE_ENTITY, "same_parties").await["field"],
        "party_b"
    );
    let foreign = app
        .post_json(
            "/api/v1/masked-sessions",
            Some(&app.admin_token),
            json!({"party_a": RIDER, "party_b": CUSTOMER, "virtual_number": "+918047119999"}),
        )
        .await;
    let problem = assert_problem(foreign, StatusCode::UNPROCESSABLE_ENTITY, "unknown_virtual_number").await;
    assert_eq!(problem["field"], "virtual_number");
    let not_a_number = app
        .post_json(
            "/api/v1/masked-sessions",
            Some(&app.admin_token),
            json!({"party_a": "rider", "party_b": CUSTOMER}),
        )
        .await;
    assert_eq!(
        assert_problem(not_a_number, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await["field"],
        "party_a"
    );

    let first = open(&app, json!({"party_a": RIDER, "party_b": CUSTOMER})).await;
    eventually(Duration::from_secs(10), "the session is listed", || async {
        let list: Value = app
            .get("/api/v1/masked-sessions?active=true", Some(&app.admin_token))
            .await
            .json()
            .await
            .unwrap();
        list["count"] == 1
    })
    .await;
    let busy = app
        .post_json(
            "/api/v1/masked-sessions",
            Some(&app.admin_token),
            json!({"party_a": STRANGER, "party_b": CUSTOMER}),
        )
        .await;
    assert_problem(busy, StatusCode::CONFLICT, "virtual_number_in_use").await;
    let other_number = open(
        &app,
        json!({"party_a": STRANGER, "party_b": CUSTOMER, "virtual_number": "08047112234"}),
    )
    .await;
    assert_eq!(other_number["virtual_number"], "+918047112234");
    assert_ne!(other_number["id"], first["id"]);
}

#[tokio::test]
async fn the_seed_number_masking_route_opens_the_same_session() {
    let (app, _sim) = app_and_simulator().await;
    let response = app
        .post_json(
            "/api/exotel/number-masking",
            Some(&app.admin_token),
            json!({"partyA": RIDER, "partyB": CUSTOMER, "durationMinutes": 30, "maxCalls": 2}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    let created = data(&body);
    assert_eq!(created["virtualNumber"], VIRTUAL);
    assert_eq!(created["maxCalls"], 2);
    let kept = session(&app, created["sessionId"].as_str().unwrap()).await;
    assert_eq!(kept["party_a"], RIDER);
    assert_eq!(kept["party_b"], CUSTOMER);
    assert_eq!(kept["max_calls"], 2);
    let expires = chrono::DateTime::parse_from_rfc3339(kept["expires_at"].as_str().unwrap()).unwrap();
    let left = expires.with_timezone(&chrono::Utc) - chrono::Utc::now();
    assert!(
        left > chrono::Duration::minutes(29) && left <= chrono::Duration::minutes(30),
        "{left}"
    );
}

#[tokio::test]
async fn an_auditor_reads_no_partys_number_and_an_agent_reads_them() {
    let (app, _sim) = app_and_simulator().await;
    let opened = open(&app, json!({"party_a": RIDER, "party_b": CUSTOMER})).await;
    let id = opened["id"].as_str().unwrap();
    let auditor = app
        .login(&app.add_user(app.organisation_id, domain::Role::Auditor).await)
        .await;
    for path in [
        "/api/v1/masked-sessions".to_string(),
        format!("/api/v1/masked-sessions/{id}"),
    ] {
        let refused = app.get(&path, Some(&auditor)).await;
        let problem = assert_problem(refused, StatusCode::FORBIDDEN, "forbidden").await;
        assert!(!problem.to_string().contains(&RIDER[3..]), "{problem}");
    }
    let agent = app
        .login(&app.add_user(app.organisation_id, domain::Role::Agent).await)
        .await;
    let shown = app.get(&format!("/api/v1/masked-sessions/{id}"), Some(&agent)).await;
    assert_eq!(shown.status(), StatusCode::OK);
}
