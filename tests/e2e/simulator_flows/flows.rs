//! Calls into flows: Passthru branches and parameters, Gather digits,
//! dynamic Greeting and Gather, Connect, and the flow's step log.

use chrono::NaiveDateTime;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeSet;

use super::{CALLER, ended, next_hit, next_hit_to, place, simulator, sink};
use crate::support::sim::{EXOPHONE, admin_status, connect, get_json, script};
use simulator::RunningSimulator;

const CALLEE: &str = "09123456789";

fn flow_url(app_id: &str) -> String {
    format!("http://my.exotel.com/sandbox/exoml/start_voice/{app_id}")
}

async fn flow_call(sim: &RunningSimulator, app_id: &str, from: &str, custom: &str) -> String {
    let url = flow_url(app_id);
    place(
        sim,
        &[
            ("From", from),
            ("CallerId", EXOPHONE),
            ("Url", &url),
            ("CustomField", custom),
        ],
    )
    .await
}

async fn steps(sim: &RunningSimulator, sid: &str) -> Vec<Value> {
    ended(sim, sid).await;
    get_json(sim, &format!("/_simulator/calls/{sid}/flow"))
        .await
        .as_array()
        .unwrap()
        .clone()
}

fn indices(steps: &[Value]) -> Vec<u64> {
    steps.iter().map(|s| s["index"].as_u64().unwrap()).collect()
}

fn time(text: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap()
}

#[tokio::test]
async fn a_passthru_follows_200_for_one_call_and_302_for_another_with_the_documented_parameters() {
    let sim = simulator().await;
    let (url, mut hits) = sink().await;
    let flow = json!([
        {"type": "passthru", "url": format!("{url}/passthru"), "on_200": 1, "on_302": 3},
        {"type": "greeting", "text": "Connecting you to sales"},
        {"type": "hangup"},
        {"type": "greeting", "text": "Connecting you to support"},
    ]);
    assert_eq!(admin_status(&sim, "flows/4711", flow).await, StatusCode::NO_CONTENT);
    let sales = flow_call(&sim, "4711", CALLER, "200").await;
    let hit = next_hit_to(&mut hits, "passthru").await;
    let names: BTreeSet<&str> = hit.query.iter().map(|(k, _)| k.as_str()).collect();
    let documented: BTreeSet<&str> = [
        "CallSid",
        "CallFrom",
        "CallTo",
        "CallStatus",
        "Direction",
        "ForwardedFrom",
        "Created",
        "DialCallDuration",
        "StartTime",
        "EndTime",
        "CallType",
        "DialWhomNumber",
        "flow_id",
        "tenant_id",
        "From",
        "To",
        "CurrentTime",
        "OutgoingPhoneNumber",
        "CustomField",
    ]
    .into();
    assert_eq!(names, documented);
    for (name, value) in [
        ("CallSid", sales.as_str()),
        ("CallFrom", CALLER),
        ("CallTo", "8047112233"),
        ("CallStatus", "ringing"),
        ("Direction", "outbound-dial"),
        ("ForwardedFrom", ""),
        ("DialCallDuration", "0"),
        ("EndTime", "0000-00-00 00:00:00"),
        ("CallType", "incomplete"),
        ("DialWhomNumber", ""),
        ("flow_id", "4711"),
        ("From", CALLER),
        ("To", EXOPHONE),
        ("OutgoingPhoneNumber", EXOPHONE),
        ("CustomField", "200"),
    ] {
        assert_eq!(hit.param(name), Some(value), "{name}");
    }
    assert!(hit.param("tenant_id").unwrap().parse::<u32>().is_ok());
    let created = NaiveDateTime::parse_from_str(hit.param("Created").unwrap(), "%a, %d %b %Y %H:%M:%S").unwrap();
    let (start, now) = (
        time(hit.param("StartTime").unwrap()),
        time(hit.param("CurrentTime").unwrap()),
    );
    assert_eq!(
        (created, (now - start).num_seconds()),
        (start, 3),
        "the flow starts once From answers"
    );

    let support = flow_call(&sim, "4711", CALLER, "302").await;
    let hit = next_hit_to(&mut hits, "passthru").await;
    assert_eq!(hit.param("CallSid"), Some(support.as_str()));
    let (sales, support) = (steps(&sim, &sales).await, steps(&sim, &support).await);
    assert_eq!((indices(&sales), indices(&support)), (vec![0, 1, 2], vec![0, 3]));
    assert_eq!(
        (sales[0]["http_status"].as_u64(), support[0]["http_status"].as_u64()),
        (Some(200), Some(302))
    );
    assert_eq!(support[1]["text"], "Connecting you to support");
    assert_eq!(
        (sales[0]["query"]["CustomField"].as_str(), sales[2]["next"].as_u64()),
        (Some("200"), None)
    );
}

#[tokio::test]
async fn a_gather_passes_the_scripted_digits_in_quotes_to_the_next_passthru() {
    let sim = simulator().await;
    let (url, mut hits) = sink().await;
    let flow = json!([
        {"type": "gather", "prompt": "Enter", "digits_max": 3},
        {"type": "passthru", "url": format!("{url}/passthru")},
    ]);
    assert_eq!(admin_status(&sim, "flows/77", flow).await, StatusCode::NO_CONTENT);
    for (caller, script, sent, waited) in [
        ("09000000011", json!({"digits": "42#7"}), "\"42\"", 3 + 1 + 2),
        ("09000000012", json!({"digits": "12345"}), "\"123\"", 3 + 1 + 3),
        ("09000000013", json!({}), "\"\"", 3 + 1 + 5),
    ] {
        assert_eq!(
            admin_status(&sim, &format!("scenarios/{caller}"), script).await,
            StatusCode::NO_CONTENT
        );
        let sid = flow_call(&sim, "77", caller, "200").await;
        let hit = next_hit_to(&mut hits, "passthru").await;
        assert_eq!(hit.param("digits"), Some(sent), "{caller}");
        let elapsed = time(hit.param("CurrentTime").unwrap()) - time(hit.param("StartTime").unwrap());
        assert_eq!(
            elapsed.num_seconds(),
            waited,
            "prompt, then a second a key or the input timeout"
        );
        let steps = steps(&sim, &sid).await;
        assert_eq!(steps[0]["digits"], sent.trim_matches('"'));
    }
}

#[tokio::test]
async fn a_dynamic_gather_reads_its_configuration_nested_or_flat_from_a_url() {
    let sim = simulator().await;
    let (url, mut hits) = sink().await;
    let flow = json!([
        {"type": "gather", "url": format!("{url}/gather-nested")},
        {"type": "passthru", "url": format!("{url}/passthru")},
        {"type": "gather", "url": format!("{url}/gather-flat")},
        {"type": "passthru", "url": format!("{url}/passthru")},
    ]);
    assert_eq!(admin_status(&sim, "flows/88", flow).await, StatusCode::NO_CONTENT);
    script(&sim, "09000000021", json!({"digits": "98765#"})).await;
    let sid = flow_call(&sim, "88", "09000000021", "200").await;
    let config = next_hit_to(&mut hits, "gather-nested").await;
    assert_eq!(config.exotel_version.as_deref(), Some("1.0"));
    assert_eq!(config.param("CallSid"), Some(sid.as_str()));
    assert_eq!(next_hit_to(&mut hits, "passthru").await.param("digits"), Some("\"9\""));
    assert_eq!(
        next_hit_to(&mut hits, "gather-flat").await.exotel_version.as_deref(),
        Some("1.0")
    );
    assert_eq!(
        next_hit_to(&mut hits, "passthru").await.param("digits"),
        Some("\"9876\"")
    );
    let steps = steps(&sim, &sid).await;
    assert_eq!(
        (steps[0]["text"].as_str(), steps[2]["text"].as_str()),
        (Some("Press 1"), Some("Enter your PIN"))
    );
}

#[tokio::test]
async fn a_greeting_fetches_its_text_or_audio_and_a_connect_pops_up_and_reports_its_leg_to_the_next_passthru() {
    let sim = simulator().await;
    let (url, mut hits) = sink().await;
    script(&sim, CALLEE, json!({"ring_seconds": 2, "talk_seconds": 20})).await;
    let flow = json!([
        {"type": "greeting", "url": format!("{url}/greeting")},
        {"type": "greeting", "url": format!("{url}/greeting-audio")},
        {"type": "connect", "to": "+919123456789", "popup_url": format!("{url}/popup")},
        {"type": "passthru", "url": format!("{url}/passthru")},
    ]);
    assert_eq!(admin_status(&sim, "flows/99", flow).await, StatusCode::NO_CONTENT);
    let target = format!("{url}/callback");
    let flow_url = "http://my.in.exotel.com/sandbox/exoml/start_voice/99";
    let form = [
        ("From", CALLER),
        ("CallerId", EXOPHONE),
        ("Url", flow_url),
        ("Record", "true"),
        ("StatusCallback", target.as_str()),
        ("StatusCallbackEvents[0]", "terminal"),
        ("StatusCallbackContentType", "application/json"),
    ];
    let sid = place(&sim, &form).await;
    assert_eq!(
        next_hit_to(&mut hits, "greeting").await.param("CallSid"),
        Some(sid.as_str())
    );
    let hit = next_hit_to(&mut hits, "passthru").await;
    for (name, value) in [
        ("CallStatus", "completed"),
        ("CallType", "completed"),
        ("DialCallStatus", "completed"),
        ("DialWhomNumber", CALLEE),
        ("DialCallDuration", "20"),
        ("Legs[0][Number]", CALLEE),
        ("Legs[0][Type]", "single"),
        ("Legs[0][CallerId]", EXOPHONE),
        ("Legs[0][CauseCode]", "NORMAL_CLEARING"),
        ("Legs[0][Cause]", "16"),
        ("Legs[0][OnCallDuration]", "20"),
    ] {
        assert_eq!(hit.param(name), Some(value), "{name}");
    }
    let recording = hit.param("RecordingUrl").unwrap().to_string();
    assert!(
        recording.ends_with(&format!("/v1/Accounts/sandbox/Recordings/{sid}.wav")),
        "{recording}"
    );

    let callback = next_hit_to(&mut hits, "callback").await;
    let body: Value = serde_json::from_str(&callback.body).unwrap();
    let fields: BTreeSet<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        fields,
        ["CallSid", "Status", "RecordingUrl", "DateUpdated"].into(),
        "a flow's simple callback"
    );
    assert_eq!(
        (body["Status"].as_str(), body["RecordingUrl"].as_str()),
        (Some("completed"), Some(recording.as_str()))
    );

    let call = ended(&sim, &sid).await;
    assert_eq!(
        (call["To"].as_str(), call["RecordingUrl"].as_str()),
        (Some(EXOPHONE), Some(recording.as_str()))
    );
    assert_eq!(
        (
            call["Details"]["ConversationDuration"].as_u64(),
            call["Details"]["Leg2Status"].as_str()
        ),
        (Some(20), Some("completed"))
    );
    let steps = steps(&sim, &sid).await;
    assert_eq!(steps[0]["text"], "Hello Asha, your order is on its way");
    assert_eq!(steps[1]["audio_url"], "https://cdn.example.com/greetings/hello.wav");
    assert_eq!(
        (steps[2]["dialled"].as_str(), steps[2]["outcome"].as_str()),
        (Some(CALLEE), Some("completed"))
    );
    assert_eq!(steps[2]["at"], 3 + 3 + 5, "after both greetings");
}

#[tokio::test]
async fn a_connect_to_a_busy_number_frees_the_popup_and_reports_it_to_the_next_passthru() {
    let sim = simulator().await;
    let (url, mut hits) = sink().await;
    script(&sim, "09000000031", json!({"outcome": "busy"})).await;
    let flow = json!([
        {"type": "connect", "to": "09000000031", "popup_url": format!("{url}/popup")},
        {"type": "passthru", "url": format!("{url}/passthru")},
    ]);
    assert_eq!(admin_status(&sim, "flows/31", flow).await, StatusCode::NO_CONTENT);
    let sid = flow_call(&sim, "31", CALLER, "200").await;
    let sequence = [next_hit(&mut hits).await, next_hit(&mut hits).await];
    let events: Vec<_> = sequence
        .iter()
        .map(|h| (h.path.as_str(), h.param("EventType")))
        .collect();
    assert_eq!(
        events,
        [("popup", Some("Dial")), ("popup", Some("Terminal"))],
        "no Answered"
    );
    let hit = next_hit(&mut hits).await;
    assert_eq!(
        (hit.param("DialCallStatus"), hit.param("CallType")),
        (Some("busy"), Some("incomplete"))
    );
    assert_eq!(
        (hit.param("Legs[0][CauseCode]"), hit.param("RecordingUrl")),
        (Some("USER_BUSY"), None)
    );
    assert!(ended(&sim, &sid).await["RecordingUrl"].is_null());
}

#[tokio::test]
async fn a_passthru_that_loops_forever_is_hung_up_after_a_hundred_steps() {
    let sim = simulator().await;
    let (url, _hits) = sink().await;
    let flow = json!([{"type": "passthru", "url": format!("{url}/passthru"), "on_200": 0}]);
    assert_eq!(admin_status(&sim, "flows/loop", flow).await, StatusCode::NO_CONTENT);
    let sid = flow_call(&sim, "loop", CALLER, "200").await;
    assert_eq!(steps(&sim, &sid).await.len(), 100);
    assert_eq!(ended(&sim, &sid).await["Status"], "completed");
}

#[tokio::test]
async fn invalid_flows_and_flow_calls_are_refused() {
    let sim = simulator().await;
    for flow in [
        json!([]),
        json!([{"type": "greeting"}]),
        json!([{"type": "greeting", "text": "Hi", "url": "http://x"}]),
        json!([{"type": "passthru", "url": "http://x", "on_302": 5}]),
        json!([{"type": "gather", "finish_on_key": "x"}]),
        json!([{"type": "connect", "to": "nobody"}]),
        json!([{"type": "voicemail"}]),
    ] {
        let status = admin_status(&sim, "flows/bad", flow.clone()).await;
        assert!(status.is_client_error(), "{flow} got {status}");
    }
    for (url, message) in [
        (flow_url("404"), "Flow 404 does not exist"),
        ("http://example.com/ivr".to_string(), "is not a call flow URL"),
    ] {
        let response = connect(&sim, &[("From", CALLER), ("CallerId", EXOPHONE), ("Url", &url)]).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body: Value = response.json().await.unwrap();
        assert!(
            body["RestException"]["Message"].as_str().unwrap().contains(message),
            "{body}"
        );
    }
    let unknown = reqwest::get(format!("{}/_simulator/calls/nope/flow", sim.base_url()))
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}
