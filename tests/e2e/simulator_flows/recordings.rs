//! `Record=true`: a WAV recording behind Basic auth whose audio follows the
//! scripted talk segments; plus the other connect parameters (`TimeOut`,
//! multipart callbacks) and scenario validation.

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::io::Cursor;

use super::{CALLER, Hit, ended, next_hit_to, place, simulator, sink};
use crate::support::sim::{EXOPHONE, KEY, TOKEN, admin_status, connect, get_json, script};
use simulator::RunningSimulator;

const CALLEE: &str = "09123456789";

/// The callee answers, the caller speaks, then both at once: 6.5 s of talk.
fn scripted() -> Value {
    json!({"segments": [
        {"speaker": "callee", "start": 0.0, "end": 2.0},
        {"speaker": "caller", "start": 2.5, "end": 4.5},
        {"speaker": "both", "start": 5.0, "end": 6.5},
    ]})
}

/// A call to CALLEE with `extra` fields whose StatusCallback goes to a
/// fresh sink: its Sid and the first callback.
async fn call_back(sim: &RunningSimulator, extra: &[(&str, &str)]) -> (String, Hit) {
    let (url, mut hits) = sink().await;
    let target = format!("{url}/callback");
    let mut form = vec![
        ("From", CALLER),
        ("To", CALLEE),
        ("CallerId", EXOPHONE),
        ("StatusCallback", target.as_str()),
    ];
    form.extend_from_slice(extra);
    let sid = place(sim, &form).await;
    (sid, next_hit_to(&mut hits, "callback").await)
}

/// A recorded call to CALLEE with a JSON terminal callback: its Sid and the callback body.
async fn recorded_call(sim: &RunningSimulator, channels: Option<&str>) -> (String, Value) {
    let mut extra = vec![
        ("Record", "true"),
        ("StatusCallbackEvents[0]", "terminal"),
        ("StatusCallbackContentType", "application/json"),
    ];
    extra.extend(channels.map(|c| ("RecordingChannels", c)));
    let (sid, callback) = call_back(sim, &extra).await;
    (sid, serde_json::from_str(&callback.body).unwrap())
}

async fn download(url: &str, auth: bool) -> reqwest::Response {
    let request = reqwest::Client::new().get(url);
    let request = if auth {
        request.basic_auth(KEY, Some(TOKEN))
    } else {
        request
    };
    request.send().await.unwrap()
}

/// RMS of each 100 ms window of each channel.
fn energy(wav: &[u8]) -> (hound::WavSpec, u32, Vec<Vec<f64>>) {
    let reader = hound::WavReader::new(Cursor::new(wav)).unwrap();
    let (spec, frames) = (reader.spec(), reader.duration());
    let samples: Vec<i16> = reader.into_samples::<i16>().map(Result::unwrap).collect();
    let channels = usize::from(spec.channels);
    let window = spec.sample_rate as usize / 10;
    let rms = (0..channels)
        .map(|channel| {
            let own: Vec<f64> = samples
                .iter()
                .skip(channel)
                .step_by(channels)
                .map(|s| f64::from(*s))
                .collect();
            own.chunks(window)
                .map(|w| (w.iter().map(|s| s * s).sum::<f64>() / w.len() as f64).sqrt())
                .collect()
        })
        .collect();
    (spec, frames, rms)
}

/// Each window well inside `spans` (±100 ms) carries speech and each well
/// outside them is near-silent.
fn assert_talk(rms: &[f64], spans: &[(f64, f64)], label: &str) {
    let mut checked = 0;
    for (index, value) in rms.iter().enumerate() {
        let (low, high) = (index as f64 * 0.1 - 0.1, index as f64 * 0.1 + 0.2);
        let inside = spans.iter().any(|(s, e)| *s <= low + 1e-9 && high <= e + 1e-9);
        let outside = spans.iter().all(|(s, e)| *e <= low + 1e-9 || high <= s + 1e-9);
        if inside {
            assert!(
                *value > 500.0,
                "{label}: window {index} should carry speech, RMS {value}"
            );
        }
        if outside {
            assert!(*value < 20.0, "{label}: window {index} should be silent, RMS {value}");
        }
        checked += usize::from(inside || outside);
    }
    assert!(checked * 10 >= rms.len() * 6, "{label}: most windows were checked");
}

#[tokio::test]
async fn a_single_channel_recording_mixes_both_parties_exactly_where_they_talk() {
    let sim = simulator().await;
    script(&sim, CALLEE, scripted()).await;
    let (sid, callback) = recorded_call(&sim, None).await;
    let url = callback["RecordingUrl"].as_str().unwrap().to_string();
    assert!(
        url.ends_with(&format!("/v1/Accounts/sandbox/Recordings/{sid}.wav")),
        "{url}"
    );
    let call = ended(&sim, &sid).await;
    assert_eq!(
        (
            call["RecordingUrl"].as_str(),
            call["Details"]["ConversationDuration"].as_u64()
        ),
        (Some(url.as_str()), Some(7))
    );
    let listed = get_json(&sim, "/v1/Accounts/sandbox/Calls.json").await;
    assert_eq!(listed["Calls"][0]["RecordingUrl"], url.as_str());

    let anonymous = download(&url, false).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert!(anonymous.text().await.unwrap().contains("<RestException>"));
    let response = download(&url, true).await;
    assert_eq!(response.headers()["content-type"], "audio/wav");
    let (spec, frames, rms) = energy(&response.bytes().await.unwrap());
    assert_eq!((spec.channels, spec.sample_rate, spec.bits_per_sample), (1, 8_000, 16));
    assert_eq!(frames, 7 * 8_000, "as long as the conversation");
    assert_talk(&rms[0], &[(0.0, 2.0), (2.5, 4.5), (5.0, 6.5)], "mixed");
}

#[tokio::test]
async fn a_dual_channel_recording_keeps_the_caller_on_one_and_the_callee_on_two() {
    let sim = simulator().await;
    script(&sim, CALLEE, scripted()).await;
    let (_, callback) = recorded_call(&sim, Some("dual")).await;
    let response = download(callback["RecordingUrl"].as_str().unwrap(), true).await;
    let (spec, frames, rms) = energy(&response.bytes().await.unwrap());
    assert_eq!((spec.channels, frames), (2, 7 * 8_000));
    assert_talk(&rms[0], &[(2.5, 4.5), (5.0, 6.5)], "caller");
    assert_talk(&rms[1], &[(0.0, 2.0), (5.0, 6.5)], "callee");
    let overlap = 55;
    assert!(
        rms[0][overlap] > 500.0 && rms[1][overlap] > 500.0,
        "both talk over each other"
    );
}

#[tokio::test]
async fn unscripted_talk_alternates_turns_and_time_limit_cuts_the_recording() {
    let sim = simulator().await;
    script(&sim, CALLEE, json!({"talk_seconds": 12})).await;
    let (_, callback) = recorded_call(&sim, Some("dual")).await;
    let (_, frames, rms) = energy(
        &download(callback["RecordingUrl"].as_str().unwrap(), true)
            .await
            .bytes()
            .await
            .unwrap(),
    );
    assert_eq!(frames, 12 * 8_000);
    assert_talk(&rms[0], &[(5.0, 9.5)], "caller");
    assert_talk(&rms[1], &[(0.0, 4.5), (10.0, 12.0)], "callee");

    script(&sim, CALLEE, scripted()).await;
    let form = [
        ("From", CALLER),
        ("To", CALLEE),
        ("CallerId", EXOPHONE),
        ("Record", "true"),
        ("TimeLimit", "3"),
    ];
    let sid = place(&sim, &form).await;
    let url = ended(&sim, &sid).await["RecordingUrl"].as_str().unwrap().to_string();
    let (_, frames, rms) = energy(&download(&url, true).await.bytes().await.unwrap());
    assert_eq!(frames, 3 * 8_000);
    assert_talk(&rms[0], &[(0.0, 2.0), (2.5, 3.0)], "cut at the limit");
}

#[tokio::test]
async fn an_unrecorded_call_has_no_recording_url() {
    let sim = simulator().await;
    let (sid, callback) = call_back(&sim, &[]).await;
    let fields: Vec<(String, String)> = serde_urlencoded::from_str(&callback.body).unwrap();
    assert!(fields.contains(&("RecordingUrl".into(), String::new())), "{fields:?}");
    assert!(ended(&sim, &sid).await["RecordingUrl"].is_null());
    let missing = download(
        &format!("{}/v1/Accounts/sandbox/Recordings/{sid}.wav", sim.base_url()),
        true,
    )
    .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn time_out_turns_long_ringing_into_no_answer() {
    let sim = simulator().await;
    script(&sim, CALLEE, json!({"ring_seconds": 30})).await;
    let sid = place(
        &sim,
        &[
            ("From", CALLER),
            ("To", CALLEE),
            ("CallerId", EXOPHONE),
            ("TimeOut", "10"),
        ],
    )
    .await;
    let call = ended(&sim, &sid).await;
    assert_eq!(
        (call["Status"].as_str(), call["Duration"].as_str()),
        (Some("no-answer"), Some("13"))
    );
    assert_eq!(call["Details"]["Leg2Status"], "no-answer");
}

#[tokio::test]
async fn callbacks_go_as_multipart_form_data_when_asked() {
    let sim = simulator().await;
    let multipart = [
        ("StatusCallbackEvents[0]", "terminal"),
        ("StatusCallbackContentType", "multipart/form-data"),
    ];
    let (_, callback) = call_back(&sim, &multipart).await;
    assert!(callback.content_type.starts_with("multipart/form-data; boundary="));
    for part in [
        "name=\"Legs[1][Status]\"",
        "name=\"ConversationDuration\"",
        "name=\"RecordingUrl\"",
    ] {
        assert!(callback.body.contains(part), "{part} in {}", callback.body);
    }
}

#[tokio::test]
async fn invalid_scenarios_and_recording_parameters_are_refused() {
    let sim = simulator().await;
    for script in [
        json!({"digits": "12a"}),
        json!({"segments": [{"speaker": "caller", "start": 2.0, "end": 1.0}]}),
        json!({"segments": [{"speaker": "caller", "start": -1.0, "end": 1.0}]}),
        json!({"segments": [{"speaker": "agent", "start": 0.0, "end": 1.0}]}),
    ] {
        let status = admin_status(&sim, &format!("scenarios/{CALLEE}"), script.clone()).await;
        assert!(status.is_client_error(), "{script} got {status}");
    }
    for (name, value) in [
        ("Record", "maybe"),
        ("RecordingChannels", "stereo"),
        ("TimeOut", "soon"),
    ] {
        let form = [("From", CALLER), ("To", CALLEE), ("CallerId", EXOPHONE), (name, value)];
        let response = connect(&sim, &form).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{name}={value}");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["RestException"]["Message"].as_str().unwrap().contains(name),
            "{body}"
        );
    }
}
