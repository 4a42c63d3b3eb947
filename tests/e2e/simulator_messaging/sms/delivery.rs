//! The life of an SMS after `queued`: details, status callbacks, DND and
//! DLT refusals, and callback faults.

use serde_json::{Value, json};
use std::time::{Duration, Instant};

use super::*;

/// The documented callback fields (§6.5), `CustomField` included when sent.
const CALLBACK_FIELDS: [&str; 8] = [
    "CustomField",
    "DateSent",
    "DetailedStatus",
    "DetailedStatusCode",
    "SmsSid",
    "SmsUnits",
    "Status",
    "To",
];

/// §6.4: the same object once delivered (`SmsUnits` known as in the callback).
fn delivered_example() -> Value {
    let mut example = queued_example();
    let delivered = json!({"Status":"sent","DetailedStatusCode":20005,"DetailedStatus":"DELIVERED_TO_HANDSET",
        "DateSent":"2017-11-12 00:24:35","Price":"0.180000","SmsUnits":1});
    for (key, value) in delivered.as_object().unwrap() {
        example["SMSMessage"][key] = value.clone();
    }
    example
}

#[tokio::test]
async fn a_delivered_sms_calls_back_with_form_fields_and_its_details_read_sent() {
    let sim = sim::fast(1000.0).await;
    let (callback, mut callbacks) = callback_sink().await;
    let sms = send_one(
        &sim,
        &[
            ("From", EXOPHONE),
            ("To", "09876543210"),
            ("Body", "Your OTP is 4821"),
            ("StatusCallback", &callback),
            ("CustomField", "{\"order\":42}"),
            ("DltEntityId", "1101456780000012345"),
            ("DltTemplateId", "1107161234567890123"),
            ("Priority", "high"),
            ("EncodingType", "plain"),
            ("SmsType", "transactional"),
        ],
    )
    .await;
    let (kind, body) = next_callback(&mut callbacks).await;
    assert!(kind.starts_with("application/x-www-form-urlencoded"), "{kind}");
    let fields = form_fields(&body);
    assert_eq!(fields.keys().map(String::as_str).collect::<Vec<_>>(), CALLBACK_FIELDS);
    assert_eq!(fields["SmsSid"], sms["Sid"].as_str().unwrap());
    assert_eq!(
        (
            fields["Status"].as_str(),
            fields["DetailedStatus"].as_str(),
            fields["DetailedStatusCode"].as_str()
        ),
        ("sent", "DELIVERED_TO_HANDSET", "20005")
    );
    assert_eq!(
        (fields["SmsUnits"].as_str(), fields["To"].as_str()),
        ("1", "09876543210")
    );
    assert_eq!(fields["CustomField"], "{\"order\":42}");
    let sent = chrono::NaiveDateTime::parse_from_str(&fields["DateSent"], "%Y-%m-%d %H:%M:%S").unwrap();
    let created =
        chrono::NaiveDateTime::parse_from_str(sms["DateCreated"].as_str().unwrap(), "%Y-%m-%d %H:%M:%S").unwrap();
    assert!((sent - created).num_seconds() >= 5, "sent after the simulated 6 s");

    let sid = sms["Sid"].as_str().unwrap();
    let details: Value = get(&sim, &format!("SMS/Messages/{sid}.json"))
        .await
        .json()
        .await
        .unwrap();
    assert_same_shape(&details, &delivered_example(), "details");
    let sms = &details["SMSMessage"];
    assert_eq!(
        (&sms["Status"], &sms["DetailedStatusCode"]),
        (&json!("sent"), &json!(20005))
    );
    assert_eq!((&sms["Price"], &sms["SmsUnits"]), (&json!("0.180000"), &json!(1)));
    assert_eq!(sms["DateSent"], fields["DateSent"]);
}

#[tokio::test]
async fn a_long_unicode_sms_takes_several_units() {
    let sim = sim::fast(1000.0).await;
    let (callback, mut callbacks) = callback_sink().await;
    let body = "नमस्ते ".repeat(20);
    let form = [
        ("From", "SNDBOX"),
        ("To", "09876543210"),
        ("Body", body.as_str()),
        ("StatusCallback", &callback),
    ];
    send_one(&sim, &form).await;
    let fields = form_fields(&next_callback(&mut callbacks).await.1);
    assert_eq!(fields["SmsUnits"], "3", "140 UTF-16 units in parts of 67");
}

#[tokio::test]
async fn a_failed_sms_calls_back_with_the_scripted_code_as_json_when_asked() {
    let sim = sim::fast(1000.0).await;
    script(
        &sim,
        "09123456789",
        json!({"sms": "failed", "sms_detailed_status_code": 23040}),
    )
    .await;
    let (callback, mut callbacks) = callback_sink().await;
    let form = [
        ("From", "SNDBOX"),
        ("To", "+919123456789"),
        ("Body", "hello"),
        ("StatusCallback", &callback),
        ("StatusCallbackContentType", "application/json"),
    ];
    let sms = send_one(&sim, &form).await;
    let body = next_json(&mut callbacks).await;
    assert_eq!(body["SmsSid"], sms["Sid"]);
    assert_eq!(
        (&body["Status"], &body["DetailedStatus"], &body["DetailedStatusCode"]),
        (&json!("failed"), &json!("FAILED_SUBSCRIBER_UNKNOWN"), &json!(23040))
    );
    assert!(body.get("CustomField").is_none(), "only when one was sent");
    let sid = sms["Sid"].as_str().unwrap();
    let details: Value = get(&sim, &format!("Sms/Messages/{sid}.json"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(details["SMSMessage"]["Status"], "failed");
    assert_eq!(details["SMSMessage"]["Price"], Value::Null);
}

#[tokio::test]
async fn a_dlt_template_mismatch_fails_with_23185() {
    let sim = sim::fast(1000.0).await;
    script(
        &sim,
        "09123456789",
        json!({"sms": "failed", "sms_detailed_status_code": 23185}),
    )
    .await;
    let (callback, mut callbacks) = callback_sink().await;
    let form = [
        ("From", "SNDBOX"),
        ("To", "09123456789"),
        ("Body", "Not the registered text"),
        ("DltEntityId", "1101456780000012345"),
        ("DltTemplateId", "1107161234567890123"),
        ("StatusCallback", &callback),
    ];
    send_one(&sim, &form).await;
    let fields = form_fields(&next_callback(&mut callbacks).await.1);
    assert_eq!(
        (
            fields["Status"].as_str(),
            fields["DetailedStatus"].as_str(),
            fields["DetailedStatusCode"].as_str()
        ),
        ("failed", "DLT_TEMPLATE_DOES_NOT_MATCH", "23185")
    );
}

#[tokio::test]
async fn a_promotional_sms_to_a_dnd_number_is_refused_as_dnd_but_a_transactional_one_is_delivered() {
    let sim = sim::fast(1000.0).await;
    script(&sim, "09123456789", json!({"dnd": true})).await;
    let (callback, mut callbacks) = callback_sink().await;
    let promotional = [
        ("From", "600123"),
        ("To", "09123456789"),
        ("Body", "Diwali sale"),
        ("StatusCallback", &callback),
    ];
    send_one(&sim, &promotional).await;
    let fields = form_fields(&next_callback(&mut callbacks).await.1);
    assert_eq!(
        (
            fields["Status"].as_str(),
            fields["DetailedStatus"].as_str(),
            fields["DetailedStatusCode"].as_str()
        ),
        ("failed_dnd", "FAILED_REJECTED_DND", "23005")
    );
    let transactional = [
        ("From", "SNDBOX"),
        ("To", "09123456789"),
        ("Body", "Your OTP is 1234"),
        ("StatusCallback", &callback),
    ];
    send_one(&sim, &transactional).await;
    assert_eq!(form_fields(&next_callback(&mut callbacks).await.1)["Status"], "sent");
}

#[tokio::test]
async fn a_script_can_refuse_an_sms_as_dnd_whatever_its_type() {
    let sim = sim::fast(1000.0).await;
    script(&sim, "09123456789", json!({"sms": "failed-dnd"})).await;
    let (callback, mut callbacks) = callback_sink().await;
    let form = [
        ("From", "SNDBOX"),
        ("To", "09123456789"),
        ("Body", "x"),
        ("StatusCallback", &callback),
    ];
    send_one(&sim, &form).await;
    assert_eq!(
        form_fields(&next_callback(&mut callbacks).await.1)["DetailedStatusCode"],
        "23005"
    );
}

#[tokio::test]
async fn an_invalid_number_among_valid_ones_fails_alone() {
    let sim = sim::fast(1000.0).await;
    let (callback, mut callbacks) = callback_sink().await;
    let form = [
        ("From", "SNDBOX"),
        ("To[0]", "09876543210"),
        ("To[1]", "0801234"),
        ("Body", "x"),
        ("StatusCallback", &callback),
    ];
    let list: Value = post(&sim, "Sms/send.json", &form).await.json().await.unwrap();
    assert_eq!(list.as_array().map(Vec::len), Some(2));
    let mut outcomes: Vec<(String, String)> = Vec::new();
    for _ in 0..2 {
        let fields = form_fields(&next_callback(&mut callbacks).await.1);
        outcomes.push((fields["To"].clone(), fields["DetailedStatusCode"].clone()));
    }
    outcomes.sort();
    assert_eq!(
        outcomes,
        [
            ("0801234".into(), "23010".into()),
            ("09876543210".into(), "20005".into())
        ]
    );
}

#[tokio::test]
async fn details_follow_the_sms_through_sending_and_submitted() {
    let sim = sim::fast(10.0).await;
    script(&sim, "09876543210", json!({"sms_delay_seconds": 6})).await;
    let sms = send_one(&sim, &[("From", "SNDBOX"), ("To", "09876543210"), ("Body", "x")]).await;
    let path = format!("SMS/Messages/{}.json", sms["Sid"].as_str().unwrap());
    let mut seen = vec!["queued".to_string()];
    let start = Instant::now();
    while seen.last().map(String::as_str) != Some("sent") && start.elapsed() < Duration::from_secs(5) {
        let details: Value = get(&sim, &path).await.json().await.unwrap();
        let status = details["SMSMessage"]["Status"].as_str().unwrap().to_string();
        if seen.last() != Some(&status) {
            seen.push(status);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(seen, ["queued", "sending", "submitted", "sent"]);
}

#[tokio::test]
async fn sms_callbacks_can_be_duplicated_dropped_or_delayed() {
    let sim = sim::fast(1000.0).await;
    for (number, scenario) in [
        ("09100000001", json!({"callbacks": "duplicate"})),
        ("09100000002", json!({"callbacks": "drop"})),
        ("09100000003", json!({"callback_delay_seconds": 1000})),
    ] {
        script(&sim, number, scenario).await;
    }
    let send = |to: &'static str, callback: String| {
        let sim = &sim;
        async move {
            let form = [
                ("From", "SNDBOX"),
                ("To", to),
                ("Body", "x"),
                ("StatusCallback", &callback),
            ];
            send_one(sim, &form).await
        }
    };
    let (callback, mut duplicated) = callback_sink().await;
    send("09100000001", callback).await;
    let (first, second) = (
        next_callback(&mut duplicated).await,
        next_callback(&mut duplicated).await,
    );
    assert_eq!(first, second, "the same callback twice");

    let (callback, mut dropped) = callback_sink().await;
    send("09100000002", callback).await;
    nothing_arrives(&mut dropped, 500).await;

    let (callback, mut delayed) = callback_sink().await;
    send("09100000003", callback).await;
    nothing_arrives(&mut delayed, 500).await;
    let (_, body) = next_callback(&mut delayed).await;
    assert_eq!(form_fields(&body)["Status"], "sent", "arrives a simulated 1000 s later");
}
