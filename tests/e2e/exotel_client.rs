//! The Exotel client against the simulator over HTTP: both agree on every
//! endpoint, in JSON and XML, and each scripted outcome and fault reaches
//! the caller as the right typed result.

use reqwest::Method;
use serde_json::json;
use std::time::{Duration, Instant};

use application::exotel::{
    CallTarget, ConnectCall, ExotelAccount, ExotelError, ExotelMasking, ExotelNumbers, ExotelSms, ExotelVoice,
    ExotelWhatsapp, MaskingRequest, SendSms, SendWhatsapp, WhatsappMessage, WhatsappOutcome,
};
use infrastructure::exotel::{ExotelClient, ExotelConfig, Limits, V1Format};
use simulator::RunningSimulator;

use crate::support::eventually;
use crate::support::sim::{self, EXOPHONE, KEY, TOKEN, admin, admin_request, script};

const AGENT: &str = "+919876543210";
const CUSTOMER: &str = "+919812345678";

async fn simulator() -> RunningSimulator {
    sim::fast(600.0).await
}

fn account(sim: &RunningSimulator) -> ExotelAccount {
    ExotelAccount {
        base_url: sim.base_url(),
        account_sid: "sandbox".into(),
        api_key: KEY.to_string().into(),
        api_token: TOKEN.to_string().into(),
    }
}

/// A client allowed to reach the simulator on loopback.
fn client(config: ExotelConfig) -> ExotelClient {
    ExotelClient::new(ExotelConfig {
        outbound: infrastructure::outbound::OutboundRule::allowing_private(),
        ..config
    })
    .unwrap()
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
    let log = sim::requests(sim).await;
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
    assert!(
        matches!(unauthorized, ExotelError::Unauthorized { .. }),
        "{unauthorized:?}"
    );

    let not_ours = ConnectCall::between(AGENT, CUSTOMER, "08000000000");
    match exotel.connect(&account(&sim), &not_ours).await.unwrap_err() {
        ExotelError::Refused {
            status: 400, message, ..
        } => assert!(message.contains("CallerId"), "{message}"),
        other => panic!("{other:?}"),
    }

    script(&sim, CUSTOMER, json!({"dnd": true})).await;
    let dnd = exotel.connect(&account(&sim), &call).await.unwrap_err();
    assert_eq!(dnd.status_code(), Some(403));
    assert!(dnd.exotel_message().contains("TRAI NDNC"), "{dnd:?}");
    assert!(!dnd.is_retryable() && !unauthorized.is_retryable());

    let missing = exotel
        .call_details(&account(&sim), "0123456789abcdef0123456789abcdef")
        .await;
    assert!(
        matches!(missing, Err(ExotelError::Refused { status: 404, .. })),
        "{missing:?}"
    );
}

#[tokio::test]
async fn server_faults_are_retryable_and_say_the_outcome_is_unknown() {
    let sim = simulator().await;
    let exotel = client(quick());
    let call = ConnectCall::between(AGENT, CUSTOMER, EXOPHONE);
    for (fault, status) in [("server_error", 500), ("unavailable", 503)] {
        script(&sim, CUSTOMER, json!({"fault": fault})).await;
        let error = exotel.connect(&account(&sim), &call).await.unwrap_err();
        assert_eq!(
            error,
            ExotelError::ServerError {
                status,
                message: error.exotel_message()
            }
        );
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

const FLOW_URL: &str = "http://my.exotel.com/sandbox/exoml/start_voice/1234";

#[tokio::test]
async fn a_call_into_a_flow_is_placed_with_its_url() {
    let sim = simulator().await;
    admin(
        &sim,
        "flows/1234",
        json!([{"type": "greeting", "text": "Hello"}, {"type": "hangup"}]),
    )
    .await;
    let exotel = client(quick());
    let mut call = ConnectCall::between(AGENT, CUSTOMER, EXOPHONE);
    call.target = CallTarget::Flow(FLOW_URL.into());
    let placed = exotel.connect(&account(&sim), &call).await.unwrap();
    assert_eq!(placed.from, AGENT);
    let sent = sim::forms_to(&sim, "Calls/connect").await;
    assert_eq!(sent.len(), 1, "one request placed the call");
    let field = |name: &str| -> Vec<&str> {
        sent[0]
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    assert_eq!(field("Url"), [FLOW_URL], "the flow's URL is sent as it was given");
    assert!(field("To").is_empty(), "a flow call names no number to connect to");
    assert_eq!((field("From"), field("CallerId")), (vec![AGENT], vec![EXOPHONE]));
    let path = format!("/_simulator/calls/{}/flow", placed.sid);
    let applets = || async {
        let steps = reqwest::get(format!("{}{path}", sim.base_url())).await.unwrap();
        assert_eq!(steps.status(), reqwest::StatusCode::OK, "{path}");
        let steps: Vec<serde_json::Value> = steps.json().await.unwrap();
        steps
            .iter()
            .map(|s| s["applet"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    eventually(Duration::from_secs(10), "the flow of that URL ran", || async {
        applets().await.len() == 2
    })
    .await;
    assert_eq!(applets().await, ["greeting", "hangup"], "the simulator ran flow 1234");
}

fn sms_to(numbers: &[&str]) -> SendSms {
    SendSms {
        from: "SNDBOX".into(),
        to: numbers.iter().map(|n| n.to_string()).collect(),
        body: "Your order 42 is out for delivery".into(),
        sms_type: Some("transactional".into()),
        dlt_entity_id: Some("1101234567890123456".into()),
        dlt_template_id: Some("1107123456789012345".into()),
        ..SendSms::default()
    }
}

#[tokio::test]
async fn an_sms_sent_in_json_and_in_xml_reads_the_same_and_its_delivery_shows_in_details() {
    let sim = simulator().await;
    for format in [V1Format::Json, V1Format::Xml] {
        let exotel = client(ExotelConfig {
            v1_format: format,
            ..quick()
        });
        let sent = exotel.send_sms(&account(&sim), &sms_to(&[CUSTOMER])).await.unwrap();
        assert_eq!(sent.len(), 1, "{format:?}");
        assert_eq!(sent[0].status, "queued");
        assert_eq!(sent[0].detailed_status_code, Some(21010));
        assert_eq!(sent[0].detailed_status.as_deref(), Some("PENDING_TO_OPERATOR"));
        assert_eq!(sent[0].to, CUSTOMER);
        assert!(sent[0].from.ends_with("/SNDBOX"), "{}", sent[0].from);
        assert_eq!(sent[0].sent_at, None);
        let (account, exotel, sid) = (account(&sim), &exotel, sent[0].sid.clone());
        eventually(Duration::from_secs(5), "the SMS is delivered", || {
            let (account, sid) = (account.clone(), sid.clone());
            async move { exotel.sms_details(&account, &sid).await.unwrap().status == "sent" }
        })
        .await;
        let delivered = exotel.sms_details(&account, &sid).await.unwrap();
        assert_eq!(delivered.detailed_status_code, Some(20005), "{format:?}");
        assert_eq!(delivered.detailed_status.as_deref(), Some("DELIVERED_TO_HANDSET"));
        assert!(delivered.sent_at.is_some() && delivered.units == Some(1) && delivered.price.is_some());
    }
}

#[tokio::test]
async fn a_bulk_sms_answers_one_message_per_number_and_a_failed_one_reads_failed() {
    let sim = simulator().await;
    script(
        &sim,
        CUSTOMER,
        json!({"sms": "failed", "sms_detailed_status_code": 23185}),
    )
    .await;
    let exotel = client(quick());
    let sent = exotel
        .send_sms(&account(&sim), &sms_to(&[AGENT, CUSTOMER]))
        .await
        .unwrap();
    assert_eq!(
        sent.iter().map(|s| s.to.as_str()).collect::<Vec<_>>(),
        [AGENT, CUSTOMER]
    );
    let (account, exotel) = (account(&sim), &exotel);
    let sid = sent[1].sid.clone();
    eventually(Duration::from_secs(5), "the DLT failure is final", || {
        let (account, sid) = (account.clone(), sid.clone());
        async move { exotel.sms_details(&account, &sid).await.unwrap().status == "failed" }
    })
    .await;
    let failed = exotel.sms_details(&account, &sid).await.unwrap();
    assert_eq!(failed.detailed_status_code, Some(23185));
    let too_many: Vec<String> = (0..101).map(|i| format!("+9198{i:08}")).collect();
    let refs: Vec<&str> = too_many.iter().map(String::as_str).collect();
    let refused = exotel.send_sms(&account, &sms_to(&refs)).await.unwrap_err();
    assert!(matches!(refused, ExotelError::Refused { status: 400, .. }));
    assert_eq!(requests_to(&sim, "Sms/send").await, 1, "the 101-number send never left");
}

#[tokio::test]
async fn an_sms_from_an_unknown_sender_is_refused_with_exotels_code() {
    let sim = simulator().await;
    let mut sms = sms_to(&[CUSTOMER]);
    sms.from = "NOTOUR".into();
    let refused = client(quick()).send_sms(&account(&sim), &sms).await.unwrap_err();
    match refused {
        ExotelError::Refused { status, code, .. } => assert_eq!((status, code), (400, Some(40210))),
        other => panic!("{other:?}"),
    }
}

fn text_message(to: &str, body: &str) -> WhatsappMessage {
    WhatsappMessage {
        from: "+918047112234".into(),
        to: to.into(),
        content: json!({"recipient_type": "individual", "type": "text", "text": {"preview_url": false, "body": body}}),
        custom_data: Some("order-42".into()),
    }
}

#[tokio::test]
async fn whatsapp_messages_are_accepted_one_by_one_and_a_bad_one_is_refused_alone() {
    let sim = simulator().await;
    let exotel = client(quick());
    let mut bad = text_message(CUSTOMER, "x");
    bad.content = json!({"type": "text", "text": {}});
    let send = SendWhatsapp {
        messages: vec![text_message(CUSTOMER, "Hello"), bad],
        status_callback: None,
        custom_data: None,
    };
    let outcomes = exotel.send_whatsapp(&account(&sim), &send).await.unwrap();
    assert!(
        matches!(&outcomes[0], WhatsappOutcome::Accepted { sid } if sid.len() == 32),
        "{outcomes:?}"
    );
    assert!(matches!(&outcomes[1], WhatsappOutcome::Refused { .. }), "{outcomes:?}");

    let all_bad = SendWhatsapp {
        messages: vec![send.messages[1].clone()],
        ..send.clone()
    };
    let refused = exotel.send_whatsapp(&account(&sim), &all_bad).await.unwrap_err();
    assert!(
        matches!(refused, ExotelError::Refused { status: 400, .. }),
        "{refused:?}"
    );

    let mut wrong = account(&sim);
    wrong.api_key = "nobody".to_string().into();
    let unauthorized = exotel.send_whatsapp(&wrong, &send).await.unwrap_err();
    assert!(
        matches!(unauthorized, ExotelError::Unauthorized { .. }),
        "{unauthorized:?}"
    );
}

#[tokio::test]
async fn exophones_are_listed_across_pages_and_changes_show_up() {
    let sim = simulator().await;
    for i in 0..120 {
        let body = json!({"phone_number": format!("0804711{i:04}"), "friendly_name": format!("Line {i}")});
        let (status, _) = admin_request(&sim, Method::POST, "accounts/sandbox/exophones", body).await;
        assert_eq!(status, 201);
    }
    let numbers = client(quick()).exophones(&account(&sim)).await.unwrap();
    assert_eq!(numbers.len(), 122, "two sandbox numbers and 120 more, over two pages");
    let line = numbers.iter().find(|n| n.phone_number == "+918047110007").unwrap();
    assert_eq!(line.friendly_name.as_deref(), Some("Line 7"));
    assert!(line.voice && line.sms);
    assert!(requests_to(&sim, "IncomingPhoneNumbers").await >= 2);
}

#[tokio::test]
async fn number_metadata_reads_dnd_in_json_and_xml() {
    let sim = simulator().await;
    script(&sim, CUSTOMER, json!({"dnd": true})).await;
    for format in [V1Format::Json, V1Format::Xml] {
        let exotel = client(ExotelConfig {
            v1_format: format,
            ..quick()
        });
        let dnd = exotel.number_info(&account(&sim), CUSTOMER).await.unwrap();
        assert!(dnd.dnd, "{format:?}");
        assert_eq!(dnd.phone_number, CUSTOMER);
        assert!(dnd.circle.is_some() && dnd.number_type.is_some());
        assert!(!exotel.number_info(&account(&sim), AGENT).await.unwrap().dnd);
    }
}

#[tokio::test]
async fn a_masked_number_is_allocated_once_per_connection_and_returned_to_the_vault() {
    let sim = simulator().await;
    let exotel = client(quick());
    let request = MaskingRequest {
        connection_id: "order-42".into(),
        aparty_numbers: vec![AGENT.into()],
        bparty_numbers: vec![CUSTOMER.into()],
        usage: "twoway".into(),
        deallocate_after_secs: Some(3600),
    };
    let allocated = exotel.allocate(&account(&sim), &request).await.unwrap();
    assert_eq!(allocated.state, "active");
    assert!(allocated.virtual_number.starts_with("+91"));
    let again = exotel.allocate(&account(&sim), &request).await.unwrap_err();
    match again {
        ExotelError::Refused { status, code, .. } => assert_eq!((status, code), (409, Some(18))),
        other => panic!("{other:?}"),
    }
    let released = exotel.deallocate(&account(&sim), &allocated.greenvn_id).await.unwrap();
    assert_eq!(released.state, "vault");
}

#[tokio::test]
async fn a_whitelisted_customer_reads_whitelisted_in_json_and_xml() {
    let sim = simulator().await;
    let exotel = client(quick());
    assert_eq!(
        exotel
            .whitelist_standing(&account(&sim), CUSTOMER)
            .await
            .unwrap()
            .status,
        "Neutral"
    );
    exotel
        .whitelist(&account(&sim), EXOPHONE, &[CUSTOMER.to_string()])
        .await
        .unwrap();
    for format in [V1Format::Json, V1Format::Xml] {
        let exotel = client(ExotelConfig {
            v1_format: format,
            ..quick()
        });
        let standing = exotel.whitelist_standing(&account(&sim), CUSTOMER).await.unwrap();
        assert_eq!(standing.status, "Whitelist", "{format:?}");
        assert!(standing.expires_in_secs.is_some_and(|s| s > 0));
    }
}

#[tokio::test]
async fn a_recorded_call_s_wav_is_fetched_with_the_account_s_credentials() {
    let sim = simulator().await;
    let exotel = client(quick());
    let mut call = ConnectCall::between(AGENT, CUSTOMER, EXOPHONE);
    call.record = Some(application::exotel::RecordingChannels::Dual);
    let placed = exotel.connect(&account(&sim), &call).await.unwrap();
    let (account, exotel_ref) = (account(&sim), &exotel);
    eventually(Duration::from_secs(5), "the recording is ready", || {
        let (account, sid) = (account.clone(), placed.sid.clone());
        async move {
            exotel_ref
                .call_details(&account, &sid)
                .await
                .unwrap()
                .recording_url
                .is_some()
        }
    })
    .await;
    let url = exotel
        .call_details(&account, &placed.sid)
        .await
        .unwrap()
        .recording_url
        .unwrap();
    let wav = exotel.recording(&account, &url).await.unwrap();
    assert_eq!(&wav[..4], b"RIFF");
    assert_eq!(u16::from_le_bytes([wav[22], wav[23]]), 2, "dual channel");
    let mut stranger = account.clone();
    stranger.api_token = "wrong".to_string().into();
    let refused = exotel.recording(&stranger, &url).await.unwrap_err();
    assert!(matches!(refused, ExotelError::Unauthorized { .. }), "{refused:?}");
}
