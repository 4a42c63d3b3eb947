//! The template routes driven over HTTP: a simulator with the sandbox
//! account on a free port, asked with reqwest as a client would ask Exotel.

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

use crate::RunningSimulator;

mod changes;
mod sending;

const KEY: &str = "sandbox-key";
const TOKEN: &str = "sandbox-token";
const WABA: &str = "waba-1";

/// A listing's query parameters, and the names it must list in order.
type FilterCase = (&'static [(&'static str, &'static str)], &'static [&'static str]);

async fn sim() -> RunningSimulator {
    crate::start("127.0.0.1:0".parse().unwrap()).await.unwrap()
}

/// `waba_id=…` and the given parameters, URL-encoded.
fn query(pairs: &[(&str, &str)]) -> String {
    let pairs: Vec<(&str, &str)> = std::iter::once(("waba_id", WABA))
        .chain(pairs.iter().copied())
        .collect();
    serde_urlencoded::to_string(pairs).unwrap()
}

/// A request to the sandbox's templates with its credentials: status and JSON body.
async fn call_with(
    sim: &RunningSimulator,
    token: &str,
    method: Method,
    query: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let url = format!("{}/v2/accounts/sandbox/templates?{query}", sim.base_url());
    let mut request = Client::new().request(method, url).basic_auth(KEY, Some(token));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.json().await.unwrap())
}

async fn call(sim: &RunningSimulator, method: Method, query: &str, body: Option<Value>) -> (StatusCode, Value) {
    call_with(sim, TOKEN, method, query, body).await
}

/// `{"whatsapp":{"templates":[{"template":…}…]}}`.
fn wrapped(templates: Vec<Value>) -> Value {
    let items: Vec<Value> = templates.into_iter().map(|t| json!({ "template": t })).collect();
    json!({"whatsapp": {"templates": items}})
}

/// A UTILITY template with one placeholder in its body (lower-case types, as some clients send).
fn order(name: &str, language: &str) -> Value {
    json!({"name": name, "language": language, "category": "utility",
        "components": [{"type": "body", "text": "Hi {{1}}", "example": {"body_text": [["Asha"]]}}]})
}

async fn create(sim: &RunningSimulator, templates: Vec<Value>) -> (StatusCode, Value) {
    call(sim, Method::POST, &query(&[]), Some(wrapped(templates))).await
}

/// `response.whatsapp` of a listing, which must answer 200.
async fn listed(sim: &RunningSimulator, pairs: &[(&str, &str)]) -> Value {
    let (status, body) = call(sim, Method::GET, &query(pairs), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((&body["http_code"], &body["method"]), (&json!(200), &json!("GET")));
    body["response"]["whatsapp"].clone()
}

fn names(whatsapp: &Value) -> Vec<String> {
    let items = whatsapp["templates"].as_array().cloned().unwrap_or_default();
    items
        .iter()
        .map(|i| i["data"]["name"].as_str().unwrap().to_string())
        .collect()
}

/// The per-item wrappers of an answer.
fn items(body: &Value) -> Vec<Value> {
    body["response"]["whatsapp"]["templates"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// `PUT /_simulator/accounts/sandbox/templates/{name}`.
async fn review(sim: &RunningSimulator, name: &str, body: Value) -> (StatusCode, Value) {
    let url = format!("{}/_simulator/accounts/sandbox/templates/{name}", sim.base_url());
    let response = Client::new().put(url).json(&body).send().await.unwrap();
    (response.status(), response.json().await.unwrap())
}

/// A review that must succeed.
async fn set_status(sim: &RunningSimulator, name: &str, body: Value) {
    let (status, answer) = review(sim, name, body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

/// A refusal in the v2 error envelope, with `error_data.description` mentioning `mentions`.
fn assert_refused(status: StatusCode, body: &Value, expected: StatusCode, mentions: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["http_code"], expected.as_u16(), "{body}");
    let response = &body["response"];
    assert_eq!(
        (&response["status"], &response["data"]),
        (&json!("failure"), &Value::Null)
    );
    let description = response["error_data"]["description"].as_str().unwrap();
    assert!(description.contains(mentions), "{description} mentions {mentions}");
}

#[tokio::test]
async fn a_template_created_waits_for_approval_and_is_listed_pending() {
    let sim = sim().await;
    let (status, answer) = create(&sim, vec![order("leave_approved", "en")]).await;
    assert_eq!(
        (status, &answer["http_code"]),
        (StatusCode::OK, &json!(200)),
        "{answer}"
    );
    let item = &items(&answer)[0];
    assert_eq!(
        (&item["code"], &item["status"], &item["error_data"]),
        (&json!(200), &json!("success"), &Value::Null)
    );
    assert_eq!(
        (&item["data"]["status"], &item["data"]["category"]),
        (&json!("PENDING"), &json!("UTILITY"))
    );
    let id = item["data"]["id"].as_str().unwrap().to_string();
    assert!(id.chars().all(|c| c.is_ascii_digit()), "{id}");

    let whatsapp = listed(&sim, &[]).await;
    let entry = &whatsapp["templates"][0];
    assert_eq!((&entry["code"], &entry["status"]), (&json!(200), &json!("success")));
    let data = &entry["data"];
    assert_eq!(
        (&data["id"], &data["name"], &data["language"]),
        (&json!(id), &json!("leave_approved"), &json!("en"))
    );
    assert_eq!(
        (&data["status"], &data["category"]),
        (&json!("PENDING"), &json!("UTILITY"))
    );
    assert_eq!(
        data["components"],
        json!([{"type": "BODY", "text": "Hi {{1}}", "example": {"body_text": [["Asha"]]}}])
    );
    assert_eq!(
        (&data["rejected_reason"], &data["quality_score"]),
        (&json!("NONE"), &json!({"score": "UNKNOWN"}))
    );
    assert!(data["last_updated_time"].as_str().unwrap().contains('T'));
    assert_eq!(whatsapp["paging"], json!({"cursors": {"before": null, "after": null}}));

    set_status(&sim, "leave_approved", json!({"status": "APPROVED"})).await;
    assert_eq!(listed(&sim, &[]).await["templates"][0]["data"]["status"], "APPROVED");
}

#[tokio::test]
async fn listing_pages_with_after_cursors_until_the_last_page() {
    let sim = sim().await;
    let all: Vec<String> = (0..5).map(|i| format!("t{i}")).collect();
    let (status, _) = create(&sim, all.iter().map(|n| order(n, "en")).collect()).await;
    assert_eq!(status, StatusCode::OK);
    let (mut pages, mut befores) = (Vec::new(), Vec::new());
    let mut after: Option<String> = None;
    loop {
        let mut pairs = vec![("limit", "2")];
        pairs.extend(after.as_deref().map(|a| ("after", a)));
        let whatsapp = listed(&sim, &pairs).await;
        pages.push(names(&whatsapp));
        befores.push(whatsapp["paging"]["cursors"]["before"].as_str().map(str::to_string));
        match whatsapp["paging"]["cursors"]["after"].as_str() {
            Some(next) => after = Some(next.to_string()),
            None => break,
        }
        assert!(pages.len() < 5, "the pages end");
    }
    assert_eq!(pages, [vec!["t0", "t1"], vec!["t2", "t3"], vec!["t4"]]);
    assert!(befores[0].is_none(), "nothing comes before the first page");
    let back = |i: usize| [("limit", "2"), ("before", befores[i].as_deref().unwrap())];
    assert_eq!(names(&listed(&sim, &back(2)).await), ["t2", "t3"]);
    assert_eq!(names(&listed(&sim, &back(1)).await), ["t0", "t1"]);
    assert_eq!(names(&listed(&sim, &[("offset", "3"), ("limit", "1")]).await), ["t3"]);
    assert_eq!(names(&listed(&sim, &[("fields", r#"["name","status"]"#)]).await), all);
}

#[tokio::test]
async fn status_filters_accept_a_json_array_or_a_plain_value() {
    let sim = sim().await;
    let (status, _) = create(
        &sim,
        vec![order("a_ok", "en"), order("b_no", "en"), order("c_wait", "en")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    set_status(&sim, "a_ok", json!({"status": "APPROVED"})).await;
    set_status(&sim, "b_no", json!({"status": "REJECTED"})).await;
    let cases: [FilterCase; 5] = [
        (&[("status", r#"["APPROVED","PENDING"]"#)], &["a_ok", "c_wait"]),
        (&[("status", "approved")], &["a_ok"]),
        (&[("status", "APPROVED,REJECTED")], &["a_ok", "b_no"]),
        (
            &[("status[]", "REJECTED"), ("status[]", "PENDING")],
            &["b_no", "c_wait"],
        ),
        (&[("status", r#"["PAUSED"]"#)], &[]),
    ];
    for (pairs, expected) in cases {
        assert_eq!(names(&listed(&sim, pairs).await), expected, "{pairs:?}");
    }
    assert_eq!(names(&listed(&sim, &[]).await).len(), 3);
}

#[tokio::test]
async fn name_language_category_and_quality_filters_narrow_the_listing() {
    let sim = sim().await;
    let mut marketing = order("sale_promo", "hi");
    marketing["category"] = json!("MARKETING");
    let (status, _) = create(
        &sim,
        vec![order("order_update", "en"), marketing, order("order_update", "hi")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    set_status(
        &sim,
        "sale_promo",
        json!({"status": "APPROVED", "quality_score": "green"}),
    )
    .await;
    let cases: [FilterCase; 5] = [
        (&[("name", "ORDER")], &["order_update", "order_update"]),
        (&[("language", r#"["HI"]"#)], &["sale_promo", "order_update"]),
        (&[("category[]", "marketing")], &["sale_promo"]),
        (&[("quality_score", r#"["GREEN"]"#)], &["sale_promo"]),
        (&[("name", "order"), ("language", "en")], &["order_update"]),
    ];
    for (pairs, expected) in cases {
        assert_eq!(names(&listed(&sim, pairs).await), expected, "{pairs:?}");
    }
}

#[tokio::test]
async fn requests_without_waba_id_or_valid_credentials_are_refused_in_the_v2_envelope() {
    let sim = sim().await;
    for method in [Method::GET, Method::POST, Method::PUT, Method::DELETE] {
        let body = (method != Method::GET).then(|| wrapped(vec![order("x", "en")]));
        let (status, answer) = call(&sim, method.clone(), "limit=10", body).await;
        assert_refused(status, &answer, StatusCode::BAD_REQUEST, "waba_id");
        assert_eq!(answer["response"]["error_data"]["code"], 1001, "{method}");
    }
    let (status, answer) = call_with(&sim, "wrong", Method::GET, &query(&[]), None).await;
    assert_refused(status, &answer, StatusCode::UNAUTHORIZED, "do not open");
    assert_eq!(answer["response"]["error_data"]["code"], 1010);
    let (status, answer) = call(&sim, Method::GET, &query(&[("limit", "1001")]), None).await;
    assert_refused(status, &answer, StatusCode::BAD_REQUEST, "limit");
    assert!(listed(&sim, &[("limit", "1000")]).await["templates"].is_array());
}

#[tokio::test]
async fn the_sandbox_waba_lists_its_two_approved_templates() {
    let sim = sim().await;
    let sandbox = format!("waba_id={}", crate::SANDBOX_WABA);
    let (status, body) = call(&sim, Method::GET, &sandbox, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let whatsapp = &body["response"]["whatsapp"];
    assert_eq!(names(whatsapp), ["order_update", "delivery_photo"]);
    let statuses: Vec<Value> = items(&body).iter().map(|i| i["data"]["status"].clone()).collect();
    assert_eq!(statuses, ["APPROVED", "APPROVED"]);
    assert!(names(&listed(&sim, &[]).await).is_empty(), "other WABAs start empty");
}
