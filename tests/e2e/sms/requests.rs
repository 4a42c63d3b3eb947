//! Asking for SMS: the DLT rules, checked before anything reaches Exotel,
//! and what one accepted message becomes at Exotel.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::*;
use crate::support::{TestApp, assert_problem, data, sim};

#[tokio::test]
async fn an_order_sms_follows_its_dlt_template_and_reaches_exotel_once_with_its_dlt_fields() {
    let (app, sim) = app_and_simulator().await;
    let id = send_order(&app, CUSTOMER, "A-1042").await;
    let delivered = message_when(&app, &id, 20, "the SMS is delivered", |m| m["status"] == "delivered").await;
    assert_eq!(delivered["body"], "Your order A-1042 is on its way. -Sandbox");
    assert_eq!(delivered["encoding"], "gsm7");
    assert_eq!(delivered["segments"], 1);
    assert_eq!(delivered["dispatch"], "submitted");
    assert_eq!(delivered["attempts"], 1);
    assert_eq!(delivered["units"], 1);
    assert!(delivered["provider_sid"].is_string());
    let sends = sends_for(&sim, &id).await;
    assert_eq!(sends.len(), 1, "one request to Exotel");
    let form = &sends[0];
    assert_eq!(field(form, "From"), Some(HEADER));
    assert_eq!(field(form, "To"), Some(CUSTOMER));
    assert_eq!(field(form, "DltEntityId"), Some(ENTITY));
    assert_eq!(field(form, "DltTemplateId"), Some(TEMPLATE));
    assert_eq!(field(form, "SmsType"), Some("transactional"));
    assert_eq!(field(form, "EncodingType"), Some("plain"));
    assert!(field(form, "StatusCallback").is_some_and(|url| url.ends_with("/sms")));
    let kinds: Vec<&str> = delivered["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["requested", "dispatch_started", "submitted", "report"]);
    // The list reads the view, which follows the aggregate a moment later.
    let delivered_list = || async {
        let listed: Value = app
            .get("/api/v1/sms?status=delivered", Some(&app.admin_token))
            .await
            .json()
            .await
            .unwrap();
        listed
    };
    crate::support::eventually(
        std::time::Duration::from_secs(10),
        "the list shows it delivered",
        || async { delivered_list().await["count"] == 1 },
    )
    .await;
    let listed = delivered_list().await;
    assert_eq!(listed["data"][0]["id"], id.as_str());
    assert_eq!(listed["data"][0]["segments"], 1);
}

#[tokio::test]
async fn a_hindi_template_is_counted_in_ucs2_segments_and_sent_as_unicode() {
    let (app, sim) = app_and_simulator().await;
    let text = "आपका ऑर्डर {#var#} रास्ते में है। कृपया डिलीवरी के समय घर पर रहें। धन्यवाद -सैंडबॉक्स";
    register(&app, "1107160000000000002", text, HEADER, "service_implicit").await;
    let body = json!({"to": [CUSTOMER], "template_id": "1107160000000000002", "variables": ["A-7"],
        "sms_type": "service_implicit"});
    let response = send(&app, body).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let body: Value = response.json().await.unwrap();
    let message = &data(&body)["messages"][0];
    assert_eq!(message["encoding"], "ucs2");
    let units = message["body"].as_str().unwrap().encode_utf16().count();
    assert!(units > 70, "the body needs more than one part: {units} units");
    assert_eq!(message["segments"], units.div_ceil(67));
    let id = message["id"].as_str().unwrap();
    message_when(&app, id, 20, "the SMS is submitted", |m| m["dispatch"] == "submitted").await;
    assert_eq!(field(&sends_for(&sim, id).await[0], "EncodingType"), Some("unicode"));
}

#[tokio::test]
async fn one_request_to_three_numbers_records_three_messages_and_the_same_request_again_none() {
    let (app, sim) = app_and_simulator().await;
    let numbers = ["+919812300011", "09812300012", "+919812300013"];
    let body = json!({"batch_id": "8e7d7c52-2f5a-4f59-9a8a-0c2b8c1d0e01", "to": numbers,
        "template_id": TEMPLATE, "variables": ["B-9"], "sms_type": "service_implicit"});
    let first: Value = send(&app, body.clone()).await.json().await.unwrap();
    let ids: Vec<String> = data(&first)["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 3);
    assert_eq!(data(&first)["messages"][1]["to"], "+919812300012");
    let again = send(&app, body).await;
    assert_eq!(again.status(), StatusCode::ACCEPTED);
    let again: Value = again.json().await.unwrap();
    let again_ids: Vec<&str> = data(&again)["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(again_ids, ids);
    for id in &ids {
        message_when(&app, id, 20, "each SMS is delivered", |m| m["status"] == "delivered").await;
        assert_eq!(sends_for(&sim, id).await.len(), 1);
    }
    assert_eq!(all_sends(&sim).await, 3);
}

async fn refused(app: &TestApp, body: Value, code: &str, field_at_fault: &str) {
    let problem = assert_problem(send(app, body).await, StatusCode::UNPROCESSABLE_ENTITY, code).await;
    assert_eq!(problem["field"], field_at_fault, "{problem}");
}

#[tokio::test]
async fn every_dlt_rule_is_refused_naming_its_field_and_nothing_reaches_exotel() {
    let (app, sim) = app_and_simulator().await;
    let order = |extra: Value| {
        let mut body = json!({"to": [CUSTOMER], "template_id": TEMPLATE, "sms_type": "service_implicit"});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };
    refused(
        &app,
        json!({"to": [CUSTOMER], "body": "Hello"}),
        "invalid_field",
        "template_id",
    )
    .await;
    refused(
        &app,
        order(json!({"template_id": "1107999"})),
        "invalid_field",
        "template_id",
    )
    .await;
    let problem = assert_problem(
        send(&app, order(json!({"body": "Your order A-1 is on the way. -Sandbox"}))).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "dlt_template_mismatch",
    )
    .await;
    assert_eq!(problem["field"], "body");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains(TEMPLATE) && detail.contains("first 21 characters"),
        "{detail}"
    );
    refused(
        &app,
        order(json!({"variables": ["1", "2"]})),
        "invalid_field",
        "variables",
    )
    .await;
    refused(
        &app,
        order(json!({"variables": ["x".repeat(31)]})),
        "invalid_field",
        "variables",
    )
    .await;
    refused(
        &app,
        order(json!({"variables": ["1"], "sender_id": "OTHERS"})),
        "invalid_field",
        "sender_id",
    )
    .await;
    refused(
        &app,
        order(json!({"variables": ["1"], "sms_type": "promotional"})),
        "invalid_field",
        "sms_type",
    )
    .await;
    refused(
        &app,
        order(json!({"variables": ["1"], "body": "x"})),
        "invalid_field",
        "variables",
    )
    .await;
    refused(&app, json!({"to": [], "body": "x"}), "invalid_field", "to").await;
    refused(
        &app,
        json!({"to": [CUSTOMER, CUSTOMER], "body": "x"}),
        "invalid_field",
        "to[1]",
    )
    .await;
    refused(&app, json!({"to": ["12"], "body": "x"}), "invalid_field", "to[0]").await;
    let too_many: Vec<String> = (0..101).map(|i| format!("+9198123{i:05}")).collect();
    refused(&app, json!({"to": too_many, "body": "x"}), "invalid_field", "to").await;
    let long = "a".repeat(2001);
    refused(
        &app,
        json!({"to": ["+14155550100"], "body": long}),
        "invalid_field",
        "body",
    )
    .await;
    assert_eq!(all_sends(&sim).await, 0, "nothing reached Exotel");
    let listed: Value = app
        .get("/api/v1/sms", Some(&app.admin_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["count"], 0, "nothing was recorded");
}

#[tokio::test]
async fn an_indian_number_needs_a_dlt_entity_id_when_the_integration_has_none() {
    let (settings, dir) = crate::support::embedded();
    let app = TestApp::start(settings, Some(dir)).await;
    let sim = sim::start().await;
    configure(&app, &sim, None).await;
    register(&app, TEMPLATE, TEMPLATE_TEXT, HEADER, "service_implicit").await;
    let order = json!({"to": [CUSTOMER], "template_id": TEMPLATE, "variables": ["1"], "sms_type": "service_implicit"});
    refused(&app, order.clone(), "invalid_field", "dlt_entity_id").await;
    let mut with_entity = order;
    with_entity["dlt_entity_id"] = json!(ENTITY);
    assert_eq!(send(&app, with_entity).await.status(), StatusCode::ACCEPTED);
}

#[tokio::test]
async fn without_an_sms_integration_nothing_is_recorded() {
    let app = TestApp::embedded().await;
    let body = json!({"to": ["+14155550100"], "body": "Hello"});
    assert_problem(
        send(&app, body).await,
        StatusCode::CONFLICT,
        "exotel_sms_not_configured",
    )
    .await;
}

#[tokio::test]
async fn templates_are_kept_listed_refused_when_changed_in_place_and_removed() {
    let (app, _sim) = app_and_simulator().await;
    let templates = || async {
        let listed: Value = app
            .get("/api/v1/sms/templates", Some(&app.admin_token))
            .await
            .json()
            .await
            .unwrap();
        listed
    };
    crate::support::eventually(std::time::Duration::from_secs(5), "the list shows it", || async {
        templates().await["count"] == 1
    })
    .await;
    let listed = templates().await;
    assert_eq!(listed["data"][0]["template_id"], TEMPLATE);
    assert_eq!(listed["data"][0]["variables"], 1);
    assert_eq!(listed["data"][0]["sms_type"], "service_implicit");
    assert!(listed["data"][0]["registered_at"].is_string());
    register(&app, TEMPLATE, TEMPLATE_TEXT, HEADER, "service_implicit").await;
    let changed = json!({"template_id": TEMPLATE, "name": "Other", "body": "Other {#var#}",
        "sender_id": HEADER, "sms_type": "service_implicit"});
    let response = app
        .post_json("/api/v1/sms/templates", Some(&app.admin_token), changed)
        .await;
    assert_problem(response, StatusCode::CONFLICT, "sms_template_exists").await;
    let agent = app.add_user(app.organisation_id, domain::Role::Agent).await;
    let agent_token = app.login(&agent).await;
    let by_agent = json!({"template_id": "1107160000000000009", "name": "Mine", "body": "Hi {#var#}",
        "sender_id": HEADER, "sms_type": "transactional"});
    let response = app
        .post_json("/api/v1/sms/templates", Some(&agent_token), by_agent)
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let removed = app
        .http
        .delete(app.url(&format!("/api/v1/sms/templates/{TEMPLATE}")))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    let body = json!({"to": [CUSTOMER], "template_id": TEMPLATE, "variables": ["1"], "sms_type": "service_implicit"});
    refused(&app, body, "invalid_field", "template_id").await;
    crate::support::eventually(std::time::Duration::from_secs(5), "the list forgets it", || async {
        templates().await["count"] == 0
    })
    .await;
}

#[tokio::test]
async fn the_modules_send_route_records_the_same_sms() {
    let (app, sim) = app_and_simulator().await;
    let body =
        json!({"to": "09812300021", "templateId": TEMPLATE, "variables": ["C-3"], "smsType": "service_implicit"});
    let response = app
        .post_json("/api/exotel/sms/send", Some(&app.admin_token), body)
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let body: Value = response.json().await.unwrap();
    let sent = data(&body);
    assert_eq!(sent["to"], "+919812300021");
    assert_eq!(sent["segments"], 1);
    assert!(sent["scheduledFor"].is_null());
    let id = sent["messageId"].as_str().unwrap();
    message_when(&app, id, 20, "the SMS is delivered", |m| m["status"] == "delivered").await;
    assert_eq!(sends_for(&sim, id).await.len(), 1);
}

#[tokio::test]
async fn a_batch_whose_id_holds_other_content_records_nothing_and_a_retry_counts_nothing_again() {
    let (app, sim) = app_and_simulator().await;
    let batch = "4b8c3c8e-51a0-4f4f-9f6e-1d2c3b4a5f01";
    let order = |to: Vec<&str>, variable: &str| json!({"batch_id": batch, "to": to, "template_id": TEMPLATE, "variables": [variable], "sms_type": "service_implicit"});
    let first = send(&app, order(vec!["+919812300071"], "X-1")).await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let changed = send(&app, order(vec!["+919812300072", "+919812300071"], "Y-2")).await;
    assert_problem(changed, StatusCode::UNPROCESSABLE_ENTITY, "message_id_reused").await;
    crate::support::eventually(
        std::time::Duration::from_secs(10),
        "the first SMS is delivered",
        || async {
            let listed: Value = app
                .get("/api/v1/sms", Some(&app.admin_token))
                .await
                .json()
                .await
                .unwrap();
            listed["count"] == 1 && listed["data"][0]["status"] == "delivered"
        },
    )
    .await;
    assert_eq!(all_sends(&sim).await, 1, "the refused batch sent nothing");
    let retried = send(&app, order(vec!["+919812300071"], "X-1")).await;
    assert_eq!(retried.status(), StatusCode::ACCEPTED);
    let body: Value = retried.json().await.unwrap();
    assert_eq!(
        data(&body)["messages"][0]["status"],
        "delivered",
        "a retry answers the message as it stands"
    );
    assert_eq!(all_sends(&sim).await, 1, "and sent nothing again");
}
