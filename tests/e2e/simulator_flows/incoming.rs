//! Calls a caller makes to an ExoPhone (`POST /_simulator/incoming-calls`)
//! run the flow its `VoiceUrl` names; Connect applets that ask a URL whom
//! to dial ("Dial whom" and Programmable Connect, addendum §C).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use axum::http::{HeaderMap, StatusCode as AxumStatus, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDateTime;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;

use super::{CALLER, Hit, ended, next_hit, next_hit_to, simulator};
use crate::support::sim::{EXOPHONE, KEY, TOKEN, add_account, admin_request, admin_status, get_json, script};
use simulator::RunningSimulator;

/// The agent a Connect URL names.
const AGENT: &str = "09123456789";

/// What the customer's server answers on one path: status, content type, body.
type Reply = (u16, &'static str, String);

/// A customer's server on 127.0.0.1 answering each path of `replies` as
/// given (anything else: 200 `ok`), handing every request to the test.
async fn customer(replies: &[(&str, Reply)]) -> (String, mpsc::UnboundedReceiver<Hit>) {
    let replies: Arc<HashMap<String, Reply>> = Arc::new(
        replies
            .iter()
            .map(|(path, reply)| (path.to_string(), reply.clone()))
            .collect(),
    );
    let (sender, receiver) = mpsc::unbounded_channel();
    let handler = move |Path(name): Path<String>, RawQuery(query): RawQuery, headers: HeaderMap, body: Bytes| {
        let (sender, replies) = (sender.clone(), replies.clone());
        async move {
            let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
            let hit = Hit {
                path: name.clone(),
                query: serde_urlencoded::from_str(&query.unwrap_or_default()).unwrap(),
                content_type: header("content-type").unwrap_or_default(),
                exotel_version: header("exotel-version"),
                body: String::from_utf8_lossy(&body).to_string(),
            };
            let _ = sender.send(hit);
            reply(replies.get(&name))
        }
    };
    let app = axum::Router::new().route("/{name}", axum::routing::any(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, receiver)
}

fn reply(reply: Option<&Reply>) -> Response {
    match reply {
        Some((status, kind, body)) => (
            AxumStatus::from_u16(*status).unwrap(),
            [(header::CONTENT_TYPE, *kind)],
            body.clone(),
        )
            .into_response(),
        None => "ok".into_response(),
    }
}

fn flow_url(sid: &str, app_id: &str) -> String {
    format!("http://my.exotel.com/{sid}/exoml/start_voice/{app_id}")
}

/// Registers the flow, which must be accepted.
async fn register(sim: &RunningSimulator, app_id: &str, flow: Value) {
    assert_eq!(
        admin_status(sim, &format!("flows/{app_id}"), flow).await,
        StatusCode::NO_CONTENT
    );
}

/// Assigns a `VoiceUrl` to an ExoPhone the way a client does, through
/// `PUT /v2_beta/Accounts/{sid}/IncomingPhoneNumbers/{number}`.
async fn assign(sim: &RunningSimulator, (sid, key, token): (&str, &str, &str), number: &str, voice_url: &str) {
    let response = reqwest::Client::new()
        .put(format!(
            "{}/v2_beta/Accounts/{sid}/IncomingPhoneNumbers/{number}",
            sim.base_url()
        ))
        .basic_auth(key, Some(token))
        .form(&[("VoiceUrl", voice_url)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let phone: Value = response.json().await.unwrap();
    assert_eq!(phone["voice_url"], voice_url);
}

const SANDBOX: (&str, &str, &str) = ("sandbox", KEY, TOKEN);

/// Points the sandbox's ExoPhone at flow `app_id`.
async fn assign_flow(sim: &RunningSimulator, app_id: &str) {
    assign(sim, SANDBOX, EXOPHONE, &flow_url("sandbox", app_id)).await;
}

/// `POST /_simulator/incoming-calls`; its status and JSON body.
async fn ring(sim: &RunningSimulator, from: &str, to: &str) -> (StatusCode, Value) {
    let (status, body) = admin_request(sim, Method::POST, "incoming-calls", json!({"from": from, "to": to})).await;
    (
        status,
        serde_json::from_str(&body).unwrap_or_else(|_| panic!("JSON: {body}")),
    )
}

/// The caller rings the sandbox's ExoPhone, which must take the call; its Sid.
async fn ring_exophone(sim: &RunningSimulator, app_id: &str) -> String {
    let (status, call) = ring(sim, CALLER, EXOPHONE).await;
    assert_eq!(status, StatusCode::CREATED, "{call}");
    assert_eq!(call["app_id"], app_id);
    call["sid"].as_str().unwrap().to_string()
}

/// The flow's steps once the call has ended.
async fn steps(sim: &RunningSimulator, sid: &str) -> Vec<Value> {
    ended(sim, sid).await;
    let steps = get_json(sim, &format!("/_simulator/calls/{sid}/flow")).await;
    steps.as_array().unwrap().clone()
}

fn time(text: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap()
}

/// The sandbox's calls listed with `Direction`, by Sid.
async fn listed(sim: &RunningSimulator, direction: &str) -> Vec<String> {
    let page = get_json(sim, &format!("/v1/Accounts/sandbox/Calls.json?Direction={direction}")).await;
    let calls = page["Calls"].as_array().unwrap();
    calls.iter().map(|c| c["Sid"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn an_incoming_call_runs_the_exophones_flow_and_its_passthru_sees_the_caller_ring_the_exophone() {
    let sim = simulator().await;
    let (url, mut hits) = customer(&[]).await;
    register(
        &sim,
        "501",
        json!([
            {"type": "passthru", "url": format!("{url}/passthru")},
            {"type": "greeting", "text": "Thank you for calling"},
        ]),
    )
    .await;
    assign_flow(&sim, "501").await;
    let (status, call) = ring(&sim, "+919876543210", "+918047112233").await;
    assert_eq!(status, StatusCode::CREATED, "{call}");
    let sid = call["sid"].as_str().unwrap().to_string();
    assert_eq!(
        call,
        json!({"sid": sid, "account_sid": "sandbox", "from": CALLER, "to": EXOPHONE, "app_id": "501"})
    );

    let hit = next_hit_to(&mut hits, "passthru").await;
    for (name, value) in [
        ("CallSid", sid.as_str()),
        ("Direction", "incoming"),
        ("CallFrom", CALLER),
        ("CallTo", "8047112233"),
        ("From", CALLER),
        ("To", EXOPHONE),
        ("OutgoingPhoneNumber", EXOPHONE),
        ("flow_id", "501"),
        ("CallStatus", "ringing"),
        ("CallType", "incomplete"),
        ("DialWhomNumber", ""),
    ] {
        assert_eq!(hit.param(name), Some(value), "{name}");
    }
    let (start, now) = (
        time(hit.param("StartTime").unwrap()),
        time(hit.param("CurrentTime").unwrap()),
    );
    assert_eq!((now - start).num_seconds(), 0, "the flow starts as the call arrives");

    let steps = steps(&sim, &sid).await;
    let applets: Vec<&str> = steps.iter().map(|s| s["applet"].as_str().unwrap()).collect();
    assert_eq!(applets, ["passthru", "greeting"]);
    assert_eq!(
        (
            steps[0]["http_status"].as_u64(),
            steps[0]["query"]["Direction"].as_str()
        ),
        (Some(200), Some("incoming"))
    );
    let details = ended(&sim, &sid).await;
    for (name, value) in [
        ("Direction", "inbound"),
        ("From", CALLER),
        ("To", EXOPHONE),
        ("PhoneNumberSid", EXOPHONE),
        ("Status", "completed"),
        ("AccountSid", "sandbox"),
    ] {
        assert_eq!(details[name], value, "{name}");
    }
    let spoken = "Thank you for calling".len().div_ceil(15).to_string();
    assert_eq!(
        details["Duration"],
        spoken.as_str(),
        "the greeting, then the flow ran out"
    );
    assert_eq!(
        (
            &details["Details"]["ConversationDuration"],
            &details["Details"]["Leg2Status"]
        ),
        (&json!(0), &Value::Null),
        "nobody was connected"
    );
    assert_eq!(
        (listed(&sim, "inbound").await, listed(&sim, "outbound-api").await),
        (vec![sid], vec![])
    );
}

#[tokio::test]
async fn an_exophone_of_another_account_takes_the_call_into_that_accounts_calls() {
    let sim = simulator().await;
    let (url, mut hits) = customer(&[]).await;
    add_account(&sim, "acme", "acme-key", "acme-token", &["+918040000001"], &[]).await;
    register(
        &sim,
        "602",
        json!([{"type": "passthru", "url": format!("{url}/passthru")}]),
    )
    .await;
    assign(
        &sim,
        ("acme", "acme-key", "acme-token"),
        "08040000001",
        &flow_url("acme", "602"),
    )
    .await;
    let (status, call) = ring(&sim, CALLER, "8040000001").await;
    assert_eq!(status, StatusCode::CREATED, "{call}");
    assert_eq!(
        (&call["account_sid"], &call["to"]),
        (&json!("acme"), &json!("08040000001"))
    );
    let sid = call["sid"].as_str().unwrap();
    let hit = next_hit_to(&mut hits, "passthru").await;
    assert_eq!(
        (hit.param("CallSid"), hit.param("To")),
        (Some(sid), Some("08040000001"))
    );
    let details = reqwest::Client::new()
        .get(format!("{}/v1/Accounts/acme/Calls/{sid}.json", sim.base_url()))
        .basic_auth("acme-key", Some("acme-token"))
        .send()
        .await
        .unwrap();
    assert_eq!(details.status(), StatusCode::OK);
    let details: Value = details.json().await.unwrap();
    assert_eq!(
        (&details["Call"]["Direction"], &details["Call"]["AccountSid"]),
        (&json!("inbound"), &json!("acme"))
    );
    let sandbox = reqwest::Client::new()
        .get(format!("{}/v1/Accounts/sandbox/Calls/{sid}.json", sim.base_url()))
        .basic_auth(KEY, Some(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(sandbox.status(), StatusCode::NOT_FOUND, "not the sandbox's call");
}

/// A flow that asks `/whom` whom to connect, then tells `/after` how it went.
async fn connect_by_url(sim: &RunningSimulator, whom: Reply) -> (String, mpsc::UnboundedReceiver<Hit>) {
    let (url, hits) = customer(&[("whom", whom)]).await;
    script(sim, AGENT, json!({"ring_seconds": 2, "talk_seconds": 20})).await;
    register(
        sim,
        "700",
        json!([
            {"type": "connect", "url": format!("{url}/whom"), "popup_url": format!("{url}/popup")},
            {"type": "passthru", "url": format!("{url}/after")},
        ]),
    )
    .await;
    assign_flow(sim, "700").await;
    (url, hits)
}

/// The URL was asked whom to dial with the call's details and
/// `Exotel-Version: 1.0`, the agent was dialled (popup `Dial`), and the
/// next Passthru heard how that leg went; the `/after` request.
async fn agent_dialled(hits: &mut mpsc::UnboundedReceiver<Hit>, sid: &str) -> Hit {
    let whom = next_hit(hits).await;
    assert_eq!(whom.path, "whom");
    assert_eq!(whom.exotel_version.as_deref(), Some("1.0"));
    for (name, value) in [
        ("CallSid", sid),
        ("Direction", "incoming"),
        ("CallFrom", CALLER),
        ("To", EXOPHONE),
        ("DialWhomNumber", ""),
    ] {
        assert_eq!(whom.param(name), Some(value), "{name}");
    }
    let popup = next_hit(hits).await;
    assert_eq!(
        (
            popup.path.as_str(),
            popup.param("EventType"),
            popup.param("DialWhomNumber")
        ),
        ("popup", Some("Dial"), Some(AGENT))
    );
    assert_eq!(popup.param("Direction"), Some("incoming"));
    let after = next_hit_to(hits, "after").await;
    for (name, value) in [
        ("DialWhomNumber", AGENT),
        ("DialCallStatus", "completed"),
        ("Legs[0][Number]", AGENT),
    ] {
        assert_eq!(after.param(name), Some(value), "{name}");
    }
    after
}

/// The Connect step dialled the agent and the call's details show the
/// two talking for `talk` seconds after two of ringing.
async fn bridged(sim: &RunningSimulator, sid: &str, talk: u64) -> Vec<Value> {
    let steps = steps(sim, sid).await;
    let connect = &steps[0];
    assert_eq!(
        (connect["applet"].as_str(), connect["http_status"].as_u64()),
        (Some("connect"), Some(200))
    );
    assert_eq!(
        (connect["dialled"].as_str(), connect["outcome"].as_str()),
        (Some(AGENT), Some("completed"))
    );
    assert_eq!(connect["query"]["Direction"], "incoming");
    assert!(connect["url"].as_str().unwrap().ends_with("/whom"));
    let details = ended(sim, sid).await;
    assert_eq!(
        (&details["Status"], &details["Direction"]),
        (&json!("completed"), &json!("inbound"))
    );
    let legs = &details["Details"];
    assert_eq!(
        (&legs["ConversationDuration"], &legs["Leg1Status"], &legs["Leg2Status"]),
        (&json!(talk), &json!("completed"), &json!("completed"))
    );
    assert_eq!(legs["Legs"][1]["Leg"]["OnCallDuration"], talk);
    assert_eq!(details["Duration"], (2 + talk).to_string(), "ringing, then talk");
    assert_eq!(legs["Legs"][0]["Leg"]["OnCallDuration"], 2 + talk);
    steps
}

#[tokio::test]
async fn a_connect_whose_url_answers_a_bare_number_dials_that_number() {
    let sim = simulator().await;
    let (_, mut hits) = connect_by_url(&sim, (200, "text/plain", "9123456789\n".into())).await;
    let sid = ring_exophone(&sim, "700").await;
    let after = agent_dialled(&mut hits, &sid).await;
    assert_eq!(after.param("Legs[0][CallerId]"), Some(EXOPHONE));
    let steps = bridged(&sim, &sid, 20).await;
    assert_eq!(steps[0]["caller_id"], EXOPHONE);
}

#[tokio::test]
async fn a_connect_whose_url_answers_a_json_string_dials_that_number() {
    let sim = simulator().await;
    let (_, mut hits) = connect_by_url(&sim, (200, "application/json", "\"+919123456789\"".into())).await;
    let sid = ring_exophone(&sim, "700").await;
    agent_dialled(&mut hits, &sid).await;
    bridged(&sim, &sid, 20).await;
}

#[tokio::test]
async fn a_connect_whose_url_answers_programmable_connect_json_dials_its_first_number_as_it_says() {
    let sim = simulator().await;
    let answer = json!({
        "fetch_after_attempt": false,
        "destination": {"numbers": ["+919123456789", "09000000099"]},
        "outgoing_phone_number": "08047112234", "record": true, "recording_channels": "dual",
        "max_ringing_duration": 45, "max_conversation_duration": 15,
        "music_on_hold": {"type": "operator_tone"},
        "start_call_playback": {"playback_to": "both", "type": "text", "value": "Connecting you"},
        "parallel_ringing": {"activate": false, "max_parallel_attempts": 3},
    });
    let (_, mut hits) = connect_by_url(&sim, (200, "application/json", answer.to_string())).await;
    let sid = ring_exophone(&sim, "700").await;
    let after = agent_dialled(&mut hits, &sid).await;
    assert_eq!(
        after.param("Legs[0][CallerId]"),
        Some("08047112234"),
        "outgoing_phone_number is the caller id"
    );
    assert_eq!(after.param("DialCallDuration"), Some("15"), "max_conversation_duration");
    let recording = after.param("RecordingUrl").unwrap().to_string();
    assert!(recording.ends_with(&format!("/Recordings/{sid}.wav")), "{recording}");
    let steps = bridged(&sim, &sid, 15).await;
    assert_eq!(steps[0]["caller_id"], "08047112234");
    assert_eq!(
        ended(&sim, &sid).await["RecordingUrl"],
        recording.as_str(),
        "record: true"
    );
}

/// No agent was dialled: the next request after `asked` is `/after`
/// (no popup), telling of no leg.
async fn nobody_dialled(hits: &mut mpsc::UnboundedReceiver<Hit>, asked: &[&str]) {
    for path in asked {
        assert_eq!(next_hit(hits).await.path, *path);
    }
    let after = next_hit(hits).await;
    assert_eq!(after.path, "after", "no popup: nobody was dialled");
    assert_eq!(
        (after.param("DialWhomNumber"), after.param("DialCallStatus")),
        (Some(""), None)
    );
}

/// The call ended with no conversation and one leg.
async fn no_conversation(sim: &RunningSimulator, sid: &str) {
    let details = ended(sim, sid).await;
    assert_eq!(details["Status"], "completed");
    assert_eq!(
        (
            &details["Details"]["ConversationDuration"],
            &details["Details"]["Leg2Status"]
        ),
        (&json!(0), &Value::Null)
    );
    assert_eq!(details["Details"]["Legs"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_programmable_connect_answer_with_no_numbers_dials_nobody_and_the_flow_goes_on_to_the_next_applet() {
    let sim = simulator().await;
    let nobody = json!({"destination": {"numbers": []}, "outgoing_phone_number": "08047112233"});
    let (url, mut hits) = customer(&[("whom", (200, "application/json", nobody.to_string()))]).await;
    register(
        &sim,
        "800",
        json!([
            {"type": "connect", "url": format!("{url}/whom"), "popup_url": format!("{url}/popup")},
            {"type": "greeting", "text": "All our agents are busy"},
            {"type": "passthru", "url": format!("{url}/after")},
        ]),
    )
    .await;
    assign_flow(&sim, "800").await;
    let sid = ring_exophone(&sim, "800").await;
    nobody_dialled(&mut hits, &["whom"]).await;
    let steps = steps(&sim, &sid).await;
    let connect = &steps[0];
    assert_eq!(
        (
            connect["outcome"].as_str(),
            connect["http_status"].as_u64(),
            connect["next"].as_u64()
        ),
        (Some("not_dialled"), Some(200), Some(1))
    );
    assert!(connect.get("dialled").is_none(), "{connect}");
    assert_eq!(
        (steps[1]["applet"].as_str(), steps[1]["text"].as_str()),
        (Some("greeting"), Some("All our agents are busy"))
    );
    no_conversation(&sim, &sid).await;
}

#[tokio::test]
async fn a_connect_whose_url_answers_500_or_nothing_readable_or_not_at_all_dials_nobody() {
    let sim = simulator().await;
    let (url, mut hits) = customer(&[
        ("broken", (500, "text/plain", "Internal Server Error".into())),
        ("garbage", (200, "text/html", "<html>agent 7</html>".into())),
    ])
    .await;
    register(
        &sim,
        "900",
        json!([
            {"type": "connect", "url": format!("{url}/broken"), "popup_url": format!("{url}/popup")},
            {"type": "connect", "url": format!("{url}/garbage"), "popup_url": format!("{url}/popup")},
            {"type": "connect", "url": "http://127.0.0.1:9/whom"},
            {"type": "passthru", "url": format!("{url}/after")},
        ]),
    )
    .await;
    assign_flow(&sim, "900").await;
    let sid = ring_exophone(&sim, "900").await;
    nobody_dialled(&mut hits, &["broken", "garbage"]).await;
    let steps = steps(&sim, &sid).await;
    let seen: Vec<(Option<&str>, Option<u64>, bool)> = steps[..3]
        .iter()
        .map(|s| {
            (
                s["outcome"].as_str(),
                s["http_status"].as_u64(),
                s.get("dialled").is_some(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (Some("fetch_failed"), Some(500), false),
            (Some("unreadable"), Some(200), false),
            (Some("fetch_failed"), None, false),
        ]
    );
    assert!(steps[2]["error"].is_string(), "why the URL gave no answer");
    assert_eq!(steps[3]["applet"], "passthru");
    no_conversation(&sim, &sid).await;
}

#[tokio::test]
async fn ringing_a_number_that_is_no_exophone_answers_404() {
    let sim = simulator().await;
    register(&sim, "501", json!([{"type": "hangup"}])).await;
    assign_flow(&sim, "501").await;
    let (status, body) = ring(&sim, CALLER, "09999999999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].as_str().unwrap().contains("09999999999"), "{body}");
    let (status, _) = ring(&sim, CALLER, EXOPHONE).await;
    assert_eq!(status, StatusCode::CREATED, "the ExoPhone itself takes calls");
}

#[tokio::test]
async fn ringing_an_exophone_without_a_flow_answers_409() {
    let sim = simulator().await;
    let refused = |(status, body): (StatusCode, Value)| {
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert!(body["error"].is_string(), "{body}");
    };
    refused(ring(&sim, CALLER, EXOPHONE).await);
    assign(&sim, SANDBOX, EXOPHONE, "https://crm.example/ivr").await;
    refused(ring(&sim, CALLER, EXOPHONE).await);
    assign_flow(&sim, "404").await;
    refused(ring(&sim, CALLER, EXOPHONE).await);
    register(&sim, "404", json!([{"type": "hangup"}])).await;
    assert_eq!(
        ring(&sim, CALLER, EXOPHONE).await.0,
        StatusCode::CREATED,
        "once the flow exists"
    );
}

#[tokio::test]
async fn a_flow_with_a_connect_that_has_neither_a_number_nor_a_url_or_both_is_refused_422() {
    let sim = simulator().await;
    for connect in [
        json!({"type": "connect"}),
        json!({"type": "connect", "popup_url": "http://127.0.0.1:9/popup"}),
        json!({"type": "connect", "to": AGENT, "url": "http://127.0.0.1:9/whom"}),
    ] {
        let status = admin_status(&sim, "flows/bad", json!([connect])).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{connect}");
    }
    for connect in [
        json!({"type": "connect", "to": AGENT}),
        json!({"type": "connect", "url": "http://127.0.0.1:9/whom"}),
    ] {
        let status = admin_status(&sim, "flows/good", json!([connect])).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{connect}");
    }
}
