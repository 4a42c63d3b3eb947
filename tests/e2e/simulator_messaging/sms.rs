//! SMS (v1): send, bulk send, details, status callbacks, codes and faults.

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeMap;

use super::*;

mod delivery;

type Form<'a> = &'a [(&'a str, &'a str)];

/// §6.2 of the reference: a real `Sms/send.json` answer.
fn queued_example() -> Value {
    json!({"SMSMessage":{"Sid":"6dbfdc50133d0e51ec8d793356559868","AccountSid":"probe",
     "From":"01139595093/SCRPBX","To":"08884733565","DateCreated":"2017-11-12 00:24:31",
     "DateUpdated":"2017-11-12 00:24:31","DateSent":null,"Body":"test message",
     "Direction":"outbound-api","Uri":"/v1/Accounts/probe/SMS/Messages/6dbfdc50133d0e51ec8d793356559868.json",
     "ApiVersion":null,"Price":null,"Status":"queued","DetailedStatusCode":21010,
     "DetailedStatus":"PENDING_TO_OPERATOR","SmsUnits":null}})
}

fn url(sim: &RunningSimulator, path: &str) -> String {
    format!("{}/v1/Accounts/sandbox/{path}", sim.base_url())
}

async fn post(sim: &RunningSimulator, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    post_owned(
        sim,
        path,
        form.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
    )
    .await
}

async fn post_owned(sim: &RunningSimulator, path: &str, form: Vec<(String, String)>) -> reqwest::Response {
    reqwest::Client::new()
        .post(url(sim, path))
        .basic_auth(KEY, Some(TOKEN))
        .form(&form)
        .send()
        .await
        .unwrap()
}

async fn get(sim: &RunningSimulator, path: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(url(sim, path))
        .basic_auth(KEY, Some(TOKEN))
        .send()
        .await
        .unwrap()
}

/// Sends one SMS (JSON) and returns its `SMSMessage`.
async fn send_one(sim: &RunningSimulator, form: &[(&str, &str)]) -> Value {
    let response = post(sim, "Sms/send.json", form).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json::<Value>().await.unwrap()["SMSMessage"].clone()
}

fn form_fields(body: &str) -> BTreeMap<String, String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(body)
        .unwrap()
        .into_iter()
        .collect()
}

async fn refusal(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    (status, response.json::<Value>().await.unwrap()["RestException"].clone())
}

#[tokio::test]
async fn an_sms_is_queued_with_the_documented_fields_in_json() {
    let sim = sim::start().await;
    let response = post(
        &sim,
        "Sms/send.json",
        &[("From", EXOPHONE), ("To", "+919876543210"), ("Body", "test message")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_same_shape(&body, &queued_example(), "response");
    let sms = &body["SMSMessage"];
    let sid = sms["Sid"].as_str().unwrap();
    assert!(sid.len() == 32 && sid.chars().all(|c| c.is_ascii_hexdigit()), "{sid}");
    assert_eq!(sms["From"], "08047112233/SNDBOX", "ExoPhone/SenderId");
    assert_eq!(sms["To"], "09876543210", "0-prefixed national");
    assert_eq!(
        (&sms["Status"], &sms["DetailedStatusCode"], &sms["DetailedStatus"]),
        (&json!("queued"), &json!(21010), &json!("PENDING_TO_OPERATOR"))
    );
    assert_eq!(sms["Uri"], format!("/v1/Accounts/sandbox/SMS/Messages/{sid}.json"));
    assert_eq!(
        (&sms["AccountSid"], &sms["Direction"]),
        (&json!("sandbox"), &json!("outbound-api"))
    );
}

#[tokio::test]
async fn an_sms_answers_xml_without_json_and_echoes_a_sender_id_alone() {
    let sim = sim::start().await;
    let response = post(
        &sim,
        "Sms/send",
        &[("From", "SNDBOX"), ("To", "07039739099"), ("Body", "Fish & chips")],
    )
    .await;
    assert_eq!(response.headers()["content-type"], "application/xml");
    let xml = response.text().await.unwrap();
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<TwilioResponse><SMSMessage>"));
    for element in [
        "<From>/SNDBOX</From>",
        "<To>07039739099</To>",
        "<DateSent>1970-01-01 05:30:00</DateSent>",
        "<Body>Fish &amp; chips</Body>",
        "<Status>queued</Status>",
        "<DetailedStatusCode>21010</DetailedStatusCode>",
        "<DetailedStatus>PENDING_TO_OPERATOR</DetailedStatus>",
        "<Direction>outbound-api</Direction>",
    ] {
        assert!(xml.contains(element), "{element} in {xml}");
    }
}

#[tokio::test]
async fn both_spellings_of_the_sms_path_are_served() {
    let sim = sim::start().await;
    let form = [("From", "SNDBOX"), ("To", "09876543210"), ("Body", "hi")];
    for send in ["Sms/send.json", "SMS/send.json"] {
        let sms = send_one_at(&sim, send, &form).await;
        let sid = sms["Sid"].as_str().unwrap();
        for details in ["Sms/Messages", "SMS/Messages"] {
            let found: Value = get(&sim, &format!("{details}/{sid}.json")).await.json().await.unwrap();
            assert_eq!(found["SMSMessage"]["Sid"], sid, "{send} then {details}");
        }
    }
}

async fn send_one_at(sim: &RunningSimulator, path: &str, form: &[(&str, &str)]) -> Value {
    let response = post(sim, path, form).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.json::<Value>().await.unwrap()["SMSMessage"].clone()
}

#[tokio::test]
async fn a_static_bulk_send_answers_a_list_in_json_and_xml() {
    let sim = sim::start().await;
    let form = [
        ("From", "SNDBOX"),
        ("To[0]", "09876543210"),
        ("To[1]", "+919123456789"),
        ("Body", "Sale ends today"),
    ];
    let list: Value = post(&sim, "Sms/send.json", &form).await.json().await.unwrap();
    let list = list.as_array().expect("a JSON array");
    assert_eq!(list.len(), 2);
    for (item, to) in list.iter().zip(["09876543210", "09123456789"]) {
        assert_same_shape(item, &queued_example(), "item");
        assert_eq!(item["SMSMessage"]["To"], to);
    }
    let repeated = [
        ("From", "SNDBOX"),
        ("To", "09876543210"),
        ("To", "09123456789"),
        ("Body", "x"),
    ];
    let list: Value = post(&sim, "Sms/send.json", &repeated).await.json().await.unwrap();
    assert_eq!(list.as_array().map(Vec::len), Some(2), "repeated To keys");
    let xml = post(&sim, "Sms/send", &form).await.text().await.unwrap();
    assert_eq!(xml.matches("<SMSMessage>").count(), 2, "{xml}");
    assert!(xml.contains("<TwilioResponse><SMSMessage>") && xml.ends_with("</SMSMessage></TwilioResponse>"));
}

#[tokio::test]
async fn a_dynamic_bulksend_sends_each_message_its_own_body_and_sender() {
    let sim = sim::start().await;
    let form = [
        ("From", "SNDBOX"),
        ("Messages[0][To]", "09876543210"),
        ("Messages[0][Body]", "Your order shipped"),
        ("Messages[1][To]", "09123456789"),
        ("Messages[1][Body]", "Diwali sale"),
        ("Messages[1][From]", "600123"),
        ("Messages[1][SmsType]", "promotional"),
        ("Message[2][To]", "09000000009"),
        ("Message[2][Body]", "alias without the s"),
    ];
    let list: Value = post(&sim, "SMS/bulksend.json", &form).await.json().await.unwrap();
    let list = list.as_array().expect("a JSON array");
    let summary: Vec<(&str, &str, &str)> = list
        .iter()
        .map(|m| {
            let sms = &m["SMSMessage"];
            (
                sms["To"].as_str().unwrap(),
                sms["Body"].as_str().unwrap(),
                sms["From"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("09876543210", "Your order shipped", "/SNDBOX"),
            ("09123456789", "Diwali sale", "/600123"),
            ("09000000009", "alias without the s", "/SNDBOX"),
        ]
    );
}

#[tokio::test]
async fn more_than_100_recipients_or_messages_are_refused() {
    let sim = sim::start().await;
    let mut form = vec![("From".to_string(), "SNDBOX".to_string()), ("Body".into(), "x".into())];
    form.extend((0..101).map(|i| (format!("To[{i}]"), format!("098765{i:05}"))));
    let (status, error) = refusal(post_owned(&sim, "Sms/send.json", form.clone()).await).await;
    assert_eq!((status, &error["Code"]), (StatusCode::BAD_REQUEST, &json!(40406)));
    form.pop();
    assert_eq!(
        post_owned(&sim, "Sms/send.json", form).await.status(),
        StatusCode::OK,
        "100 pass"
    );

    let mut bulk = vec![("From".to_string(), "SNDBOX".to_string())];
    for i in 0..101 {
        bulk.push((format!("Messages[{i}][To]"), "09876543210".into()));
        bulk.push((format!("Messages[{i}][Body]"), format!("message {i}")));
    }
    let (status, error) = refusal(post_owned(&sim, "Sms/bulksend.json", bulk).await).await;
    assert_eq!((status, &error["Code"]), (StatusCode::BAD_REQUEST, &json!(40400)));
}

#[tokio::test]
async fn bad_sms_requests_get_exotels_codes() {
    let sim = sim::start().await;
    let cases: [(&str, Form, u32); 10] = [
        ("Sms/send.json", &[], 40200),
        ("Sms/send.json", &[("To", "09876543210"), ("Body", "x")], 40205),
        (
            "Sms/send.json",
            &[("From", "NOTOURS"), ("To", "09876543210"), ("Body", "x")],
            40210,
        ),
        ("Sms/send.json", &[("From", "SNDBOX"), ("To", "09876543210")], 40200),
        ("Sms/send.json", &[("From", "SNDBOX"), ("Body", "x")], 40203),
        (
            "Sms/send.json",
            &[("From", "SNDBOX"), ("To", "12345"), ("Body", "x")],
            40203,
        ),
        (
            "Sms/send.json",
            &[
                ("From", "SNDBOX"),
                ("To", "09876543210"),
                ("Body", "x"),
                ("EncodingType", "utf8"),
            ],
            40209,
        ),
        (
            "Sms/send.json",
            &[
                ("From", "SNDBOX"),
                ("To", "09876543210"),
                ("Body", "x"),
                ("SmsType", "otp"),
            ],
            40204,
        ),
        (
            "Sms/send.json",
            &[
                ("From", "600123"),
                ("To", "09876543210"),
                ("Body", "x"),
                ("SmsType", "transactional"),
            ],
            40206,
        ),
        ("Sms/bulksend.json", &[("From", "SNDBOX")], 40201),
    ];
    for (path, form, code) in cases {
        let (status, error) = refusal(post(&sim, path, form).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{form:?}");
        assert_eq!(
            (&error["Status"], &error["Code"]),
            (&json!(400), &json!(code)),
            "{form:?}"
        );
        assert!(error["Message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let too_long = "x".repeat(2001);
    let form = [("From", "SNDBOX"), ("To", "09876543210"), ("Body", too_long.as_str())];
    assert_eq!(
        post(&sim, "Sms/send.json", &form).await.status(),
        StatusCode::BAD_REQUEST
    );
    let not_dlt = [
        ("From", "SNDBOX"),
        ("To", "09876543210"),
        ("Body", "x"),
        ("DltTemplateId", "abc"),
    ];
    assert_eq!(
        post(&sim, "Sms/send.json", &not_dlt).await.status(),
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn bad_credentials_get_401_with_code_34010() {
    let sim = sim::start().await;
    let response = reqwest::Client::new()
        .post(url(&sim, "Sms/send.json"))
        .basic_auth(KEY, Some("nope"))
        .form(&[("From", "SNDBOX"), ("To", "09876543210"), ("Body", "x")])
        .send()
        .await
        .unwrap();
    let (status, error) = refusal(response).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!((&error["Status"], &error["Code"]), (&json!(401), &json!(34010)));
    let details = reqwest::get(url(&sim, "SMS/Messages/0123.json")).await.unwrap();
    assert_eq!(details.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn unknown_sms_sids_answer_no_matching_results() {
    let sim = sim::start().await;
    let response = get(&sim, "SMS/Messages/0123456789abcdef0123456789abcdef.json").await;
    let (status, error) = refusal(response).await;
    assert_eq!(status, StatusCode::OK, "Exotel's SMS details answer 200");
    assert_eq!(
        (&error["Status"], &error["Message"]),
        (&json!(404), &json!("No matching results"))
    );
}

#[tokio::test]
async fn the_201st_sms_request_in_a_minute_gets_429_with_code_40402() {
    let sim = sim::start().await;
    let form = [("From", "SNDBOX"), ("To", "09876543210"), ("Body", "x")];
    for _ in 0..200 {
        assert_eq!(post(&sim, "Sms/send.json", &form).await.status(), StatusCode::OK);
    }
    let (status, error) = refusal(post(&sim, "Sms/send.json", &form).await).await;
    assert_eq!((status, &error["Code"]), (StatusCode::TOO_MANY_REQUESTS, &json!(40402)));
}

#[tokio::test]
async fn scripted_faults_refuse_sms_requests() {
    let sim = sim::start().await;
    sim::script_faults(&sim).await;
    let codes = [Value::Null, json!(40405), json!(40402)];
    for ((number, fault, status), code) in FAULTS.into_iter().zip(codes) {
        let form = [
            ("From", "SNDBOX"),
            ("To[0]", "09876543210"),
            ("To[1]", number),
            ("Body", "x"),
        ];
        let (actual, error) = refusal(post(&sim, "Sms/send.json", &form).await).await;
        assert_eq!(actual, status, "{fault}");
        assert_eq!(error["Status"], status.as_u16());
        assert_eq!(error.get("Code").cloned().unwrap_or(Value::Null), code, "{fault}");
    }
}

#[tokio::test]
async fn scripts_with_unknown_or_mismatched_messaging_outcomes_are_refused() {
    let sim = sim::start().await;
    for script in [
        json!({"sms": "delivered"}),
        json!({"sms": "sent", "sms_detailed_status_code": 23185}),
        json!({"sms": "failed", "sms_detailed_status_code": 21010}),
        json!({"whatsapp": "seen"}),
        json!({"whatsapp": "failed", "whatsapp_error_code": 30002}),
    ] {
        let status = admin_status(&sim, "scenarios/09876543210", script.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{script}");
    }
    let status = admin_status(&sim, "scenarios/09876543210", json!({"sms": "failed_dnd"})).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "both DND spellings");
}
