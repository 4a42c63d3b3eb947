//! The Exotel client against the simulator over HTTP: both agree on every
//! endpoint, in JSON and XML, and each scripted outcome and fault reaches
//! the caller as the right typed result.

use serde_json::{Value, json};
use std::time::{Duration, Instant};

use application::exotel::{
    CallTarget, ConnectCall, ExotelAccount, ExotelError, ExotelMasking, ExotelNumbers, ExotelSms, ExotelVoice,
    ExotelWhatsapp, MaskingRequest, SendSms, SendWhatsapp, WhatsappMessage, WhatsappOutcome,
};
use infrastructure::exotel::{ExotelClient, ExotelConfig, Limits, V1Format};
use simulator::RunningSimulator;

use crate::support::eventually;

const EXOPHONE: &str = "08047112233";
const AGENT: &str = "+919876543210";
const CUSTOMER: &str = "+919812345678";

async fn simulator() -> RunningSimulator {
    let sim = simulator::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    admin(&sim, "time-scale", json!({"scale": 600.0})).await;
    sim
}

async fn admin(sim: &RunningSimulator, path: &str, body: Value) {
    let response = reqwest::Client::new()
        .put(format!("{}/_simulator/{path}", sim.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{path}: {}", response.status());
}

async fn script(sim: &RunningSimulator, number: &str, scenario: Value) {
    admin(sim, &format!("scenarios/{number}"), scenario).await;
}

fn account(sim: &RunningSimulator) -> ExotelAccount {
    ExotelAccount {
        base_url: sim.base_url(),
        account_sid: "sandbox".into(),
        api_key: "sandbox-key".to_string().into(),
        api_token: "sandbox-token".to_string().into(),
    }
}

fn client(config: ExotelConfig) -> ExotelClient {
    ExotelClient::new(config).unwrap()
}

fn quick() -> ExotelConfig {
    ExotelConfig {
        timeout: Duration::from_secs(2),
        rate_limit_retries: 1,
        max_wait: Duration::from_millis(300),
        ..ExotelConfig::default()
    }
}

async fn requests_to(sim: &RunningSimulator, fragment: &str) -> usize {
    let log: Vec<Value> = reqwest::get(format!("{}/_simulator/requests", sim.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    log.iter()
        .filter(|r| r["path"].as_str().is_some_and(|p| p.contains(fragment)))
        .count()
}

#[tokio::test]
async fn a_call_placed_in_json_and_in_xml_reads_the_same_and_its_details_show_both_legs() {
    let sim = simulator().await;
    for format in [V1Format::Json, V1Format::Xml] {
        let exotel = client(ExotelConfig {
            v1_format: format,
            ..quick()
        });
        let placed = exotel
            .connect(&account(&sim), &ConnectCall::between(AGENT, CUSTOMER, EXOPHONE))
            .await
            .unwrap();
        assert_eq!(placed.sid.len(), 32, "{format:?}");
        assert_eq!(placed.status, "in-progress");
        assert_eq!(placed.from, AGENT);
        assert_eq!(placed.to.as_deref(), Some(CUSTOMER));
        assert_eq!(placed.caller_id.as_deref(), Some("+918047112233"));
        assert_eq!(placed.direction.as_deref(), Some("outbound-api"));
        assert!(placed.started_at.is_some() && placed.ended_at.is_none());
        let account = account(&sim);
        let exotel = &exotel;
        let sid = placed.sid.clone();
        eventually(Duration::from_secs(5), "the call completes", || {
            let (account, sid) = (account.clone(), sid.clone());
            async move {
                let call = exotel.call_details(&account, &sid).await.unwrap();
                call.status == "completed" && call.duration_secs.is_some()
            }
        })
        .await;
        let done = exotel.call_details(&account, &placed.sid).await.unwrap();
        assert_eq!(done.conversation_secs, Some(30), "{format:?}");
        assert_eq!(done.legs.len(), 2);
        assert_eq!(done.legs[1].status.as_deref(), Some("completed"));
        assert_eq!(done.price.as_deref(), Some("1.500"));
        assert!(done.ended_at.unwrap() > done.started_at.unwrap());
    }
}

#[tokio::test]
async fn a_busy_callee_reads_as_a_busy_call_with_an_unanswered_second_leg() {
    let sim = simulator().await;
    script(&sim, CUSTOMER, json!({"outcome": "busy"})).await;
    let exotel = client(quick());
    let placed = exotel
        .connect(&account(&sim), &ConnectCall::between(AGENT, CUSTOMER, EXOPHONE))
        .await
        .unwrap();
    let account = account(&sim);
    let exotel = &exotel;
    eventually(Duration::from_secs(5), "the call ends busy", || {
        let (account, sid) = (account.clone(), placed.sid.clone());
        async move { exotel.call_details(&account, &sid).await.unwrap().status == "busy" }
    })
    .await;
    let call = exotel.call_details(&account, &placed.sid).await.unwrap();
    assert_eq!(call.legs[1].status.as_deref(), Some("busy"));
    assert_eq!(call.conversation_secs, Some(0));
}

#[tokio::test]
async fn refusals_are_typed_and_not_retryable() {
    let sim = simulator().await;
    let exotel = client(quick());
    let mut wrong = account(&sim);
    wrong.api_token = "not-the-token".to_string().into();
    let call = ConnectCall::between(AGENT, CUSTOMER, EXOPHONE);
    let unauthorized = exotel.connect(&wrong, &call).await.unwrap_err();
    assert!(matches!(unauthorized, ExotelError::Unauthorized { .. }), "{unauthorized:?}");

    let not_ours = ConnectCall::between(AGENT, CUSTOMER, "08000000000");
    match exotel.connect(&account(&sim), &not_ours).await.unwrap_err() {
        ExotelError::Refused { status: 400, message, .. } => assert!(message.contains("CallerId"), "{message}"),
        other => panic!("{other:?}"),
    }

    script(&sim, CUSTOMER, json!({"dnd": true})).await;
    let dnd = exotel.connect(&account(&sim), &call).await.unwrap_err();
    assert_eq!(dnd.status_code(), Some(403));
    assert!(dnd.exotel_message().contains("TRAI NDNC"), "{dnd:?}");
    assert!(!dnd.is_retryable() && !unauthorized.is_retryable());

    let missing = exotel.call_details(&account(&sim), "0123456789abcdef0123456789abcdef").await;
    assert!(matches!(missing, Err(ExotelError::Refused { status: 404, .. })), "{missing:?}");
}

#[tokio::test]
async fn server_faults_are_retryable_and_say_the_outcome_is_unknown() {
    let sim = simulator().await;
    let exotel = client(quick());
    let call = ConnectCall::between(AGENT, CUSTOMER, EXOPHONE);
    for (fault, status) in [("server_error", 500), ("unavailable", 503)] {
        script(&sim, CUSTOMER, json!({"fault": fault})).await;
        let error = exotel.connect(&account(&sim), &call).await.unwrap_err();
        assert_eq!(error, ExotelError::ServerError { status, message: error.exotel_message() });
        assert!(error.is_retryable() && error.outcome_unknown());
    }
}

#[tokio::test]
async fn a_request_exotel_never_answers_times_out() {
    let sim = simulator().await;
    script(&sim, CUSTOMER, json!({"fault": "timeout"})).await;
    let exotel = client(ExotelConfig {
        timeout: Duration::from_millis(500),
        ..quick()
    });
    let started = Instant::now();
    let error = exotel
        .connect(&account(&sim), &ConnectCall::between(AGENT, CUSTOMER, EXOPHONE))
        .await
        .unwrap_err();
    assert!(matches!(error, ExotelError::Timeout { .. }), "{error:?}");
    assert!(error.outcome_unknown());
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn an_address_nothing_listens_on_is_unreachable_and_retryable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let account = ExotelAccount {
        base_url,
        account_sid: "sandbox".into(),
        api_key: "k".to_string().into(),
        api_token: "t".to_string().into(),
    };
    let error = client(quick()).exophones(&account).await.unwrap_err();
    assert!(matches!(error, ExotelError::Unreachable(_)), "{error:?}");
    assert!(error.is_retryable() && !error.outcome_unknown());
}

#[tokio::test]
async fn a_429_is_waited_out_and_the_request_repeated() {
    let sim = simulator().await;
    script(&sim, CUSTOMER, json!({"fault": "rate_limited"})).await;
    let exotel = client(ExotelConfig {
        rate_limit_retries: 5,
        max_wait: Duration::from_millis(400),
        ..quick()
    });
    let account = account(&sim);
    let call = ConnectCall::between(AGENT, CUSTOMER, EXOPHONE);
    let placing = exotel.connect(&account, &call);
    let lifting = async {
        tokio::time::sleep(Duration::from_millis(700)).await;
        script(&sim, CUSTOMER, json!({})).await;
    };
    let (placed, ()) = tokio::join!(placing, lifting);
    assert_eq!(placed.unwrap().status, "in-progress");
    assert!(requests_to(&sim, "Calls/connect").await >= 2, "the 429s were retried");

    script(&sim, CUSTOMER, json!({"fault": "rate_limited"})).await;
    let given_up = client(quick()).connect(&account, &call).await.unwrap_err();
    assert!(matches!(given_up, ExotelError::RateLimited { .. }), "{given_up:?}");
}

#[tokio::test]
async fn the_token_bucket_keeps_an_account_under_its_rate_without_asking_exotel() {
    let sim = simulator().await;
    let exotel = client(ExotelConfig {
        limits: Limits {
            voice_per_minute: 2,
            ..Limits::default()
        },
        ..quick()
    });
    let call = ConnectCall::between(AGENT, CUSTOMER, EXOPHONE);
    for _ in 0..2 {
        exotel.connect(&account(&sim), &call).await.unwrap();
    }
    let third = exotel.connect(&account(&sim), &call).await.unwrap_err();
    assert!(matches!(third, ExotelError::RateLimited { .. }), "{third:?}");
    assert_eq!(requests_to(&sim, "Calls/connect").await, 2, "the third never left");
}

#[tokio::test]
async fn a_call_into_a_flow_is_placed_with_its_url() {
    let sim = simulator().await;
    let exotel = client(quick());
    let mut call = ConnectCall::between(AGENT, CUSTOMER, EXOPHONE);
    call.target = CallTarget::Flow("http://my.exotel.com/sandbox/exoml/start_voice/1234".into());
    let placed = exotel.connect(&account(&sim), &call).await.unwrap();
    assert_eq!(placed.from, AGENT);
    assert_eq!(requests_to(&sim, "Calls/connect").await, 1);
}
