//! Lead Assist "GreenVN" allocations and calls to allocated numbers.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;

use super::{SANDBOX_EXOPHONES, assert_conforms};
use crate::support::sim::{self, KEY, TOKEN, admin_request};
use simulator::RunningSimulator;

const GREENVN: &str = "/v1/tenants/sandbox/greenvn";

/// A Lead Assist request with a JSON body (or a raw one), as the tenant.
async fn lead_assist(sim: &RunningSimulator, method: Method, path: &str, body: Option<&str>) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", sim.base_url()))
        .basic_auth(KEY, Some(TOKEN));
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().await.unwrap();
    (response.status(), response.json().await.unwrap())
}

async fn allocate(sim: &RunningSimulator, body: Value) -> (StatusCode, Value) {
    lead_assist(sim, Method::POST, GREENVN, Some(&body.to_string())).await
}

fn connection(id: &str, aparty: &str, bparty: &str) -> Value {
    json!({"connection_id": id, "aparty_numbers": [aparty], "bparty_numbers": [bparty]})
}

#[tokio::test]
async fn an_allocation_lends_an_exophone_to_a_connection_in_the_documented_shape() {
    let sim = sim::start().await;
    let request = json!({"connection_id":"Sample_Connection","aparty_numbers":["+919170006528"],
        "bparty_numbers":["+918100006620"],"aparty_pins":[1234],"bparty_pins":[2345],"usage":"twoway",
        "strictness":"false","preferences":{"region":"KA","pin_code":"560041","type":"landline"},
        "deallocation_policy":{"duration":"600s"},"flow_id":"44XX8X"});
    let (status, body) = allocate(&sim, request).await;
    assert_eq!(status, StatusCode::OK);
    let documented = json!({"success":true,"status":200,"code":null,"message":null,"data":{"connection_id":"..",
        "aparty_numbers":[".."],"bparty_numbers":[".."],"aparty_pins":[1234],"bparty_pins":[2345],"usage":"twoway",
        "greenvn":"+914048212136","greenvn_id":"xysysue7-4c2c-b671-d1156d0faf5f","state":"active"}});
    assert_conforms(&body, &documented, "allocation");
    assert_eq!((&body["code"], &body["message"]), (&Value::Null, &Value::Null));
    let data = &body["data"];
    assert_eq!(
        (&data["greenvn"], &data["state"]),
        (&json!("+918047112233"), &json!("active"))
    );
    assert_eq!(
        (&data["aparty_numbers"], &data["aparty_pins"]),
        (&json!(["+919170006528"]), &json!([1234]))
    );

    let id = data["greenvn_id"].as_str().unwrap();
    let (status, fetched) = lead_assist(&sim, Method::GET, &format!("{GREENVN}/{id}"), None).await;
    assert_eq!((status, &fetched["data"]), (StatusCode::OK, data));
}

#[tokio::test]
async fn a_second_allocation_for_the_same_connection_is_refused_with_409_and_code_18() {
    let sim = sim::start().await;
    let (status, _) = allocate(&sim, connection("c-1", "09170000001", "09170000002")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = allocate(&sim, connection("c-1", "09170000003", "09170000004")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let documented = json!({"success":false,"status":409,"code":18,"message":"Allocation exists for this connection id.","data":null});
    assert_eq!(body, documented);
}

#[tokio::test]
async fn deleting_an_allocation_moves_it_to_the_vault_and_frees_its_connection() {
    let sim = sim::start().await;
    let (_, body) = allocate(&sim, connection("c-2", "09170000001", "09170000002")).await;
    let path = format!("{GREENVN}/{}", body["data"]["greenvn_id"].as_str().unwrap());
    let (status, deleted) = lead_assist(&sim, Method::DELETE, &path, None).await;
    assert_eq!((status, &deleted["data"]["state"]), (StatusCode::OK, &json!("vault")));
    let (_, fetched) = lead_assist(&sim, Method::GET, &path, None).await;
    assert_eq!(fetched["data"]["state"], json!("vault"));
    let (status, again) = allocate(&sim, connection("c-2", "09170000001", "09170000002")).await;
    assert_eq!((status, &again["data"]["state"]), (StatusCode::OK, &json!("active")));
    assert_ne!(again["data"]["greenvn_id"], body["data"]["greenvn_id"]);
    let (status, updated) = lead_assist(&sim, Method::PUT, &path, Some(r#"{"usage":"oneway"}"#)).await;
    assert_eq!(
        (status, &updated["code"]),
        (StatusCode::BAD_REQUEST, &json!(1)),
        "a vaulted allocation stays put"
    );
}

#[tokio::test]
async fn an_allocation_goes_to_the_vault_once_its_deallocation_duration_has_passed() {
    let sim = sim::fast(2000.0).await;
    let mut request = connection("c-3", "09170000001", "09170000002");
    request["deallocation_policy"] = json!({"duration": "1200s"});
    let (_, body) = allocate(&sim, request).await;
    assert_eq!(body["data"]["state"], json!("active"));
    let path = format!("{GREENVN}/{}", body["data"]["greenvn_id"].as_str().unwrap());
    tokio::time::sleep(Duration::from_millis(900)).await;
    let (_, fetched) = lead_assist(&sim, Method::GET, &path, None).await;
    assert_eq!(
        fetched["data"]["state"],
        json!("vault"),
        "1200 simulated seconds are 0.6 s here"
    );
}

async fn dial(sim: &RunningSimulator, from: &str, to: &str) -> Value {
    let (status, body) = admin_request(sim, Method::POST, "masked-calls", json!({"from": from, "to": to})).await;
    assert_eq!(status, StatusCode::CREATED);
    serde_json::from_str(&body).unwrap()
}

#[tokio::test]
async fn calls_from_either_party_to_the_allocated_number_are_recorded() {
    let sim = sim::start().await;
    let (_, twoway) = allocate(&sim, connection("ride-1", "+919170000001", "+919170000002")).await;
    let mut request = connection("ride-2", "09170000003", "09170000004");
    request["usage"] = json!("oneway");
    let (_, oneway) = allocate(&sim, request).await;
    let number = twoway["data"]["greenvn"].as_str().unwrap();
    assert_eq!(
        oneway["data"]["greenvn"].as_str(),
        Some(number),
        "one number serves both connections"
    );

    let a = dial(&sim, "09170000001", number).await;
    assert_eq!(
        (&a["outcome"], &a["connected_to"]),
        (&json!("connected"), &json!("09170000002"))
    );
    assert_eq!(
        (&a["connection_id"], &a["greenvn_id"]),
        (&json!("ride-1"), &twoway["data"]["greenvn_id"])
    );
    let b = dial(&sim, "+919170000002", number).await;
    assert_eq!(
        (&b["outcome"], &b["connected_to"]),
        (&json!("connected"), &json!("09170000001"))
    );
    let one_way_back = dial(&sim, "09170000004", number).await;
    assert_eq!(
        (&one_way_back["outcome"], &one_way_back["connected_to"]),
        (&json!("rejected"), &Value::Null)
    );
    let stranger = dial(&sim, "09170000009", number).await;
    assert_eq!(stranger["outcome"], json!("rejected"));

    let path = format!("{GREENVN}/{}", twoway["data"]["greenvn_id"].as_str().unwrap());
    lead_assist(&sim, Method::DELETE, &path, None).await;
    assert_eq!(
        dial(&sim, "09170000001", number).await["outcome"],
        json!("rejected"),
        "vaulted"
    );

    let calls: Value = reqwest::get(format!("{}/_simulator/masked-calls", sim.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let outcomes: Vec<&str> = calls
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["connected", "connected", "rejected", "rejected", "rejected"]);
    assert_eq!(calls[0]["from"], json!("09170000001"));
}

#[tokio::test]
async fn allocation_requests_are_checked_with_lead_assist_error_codes() {
    let sim = sim::start().await;
    let with = |change: Value| {
        let mut body = connection("c-4", "09170000001", "09170000002");
        body.as_object_mut()
            .unwrap()
            .extend(change.as_object().unwrap().clone());
        body
    };
    let cases = [
        (json!({"connection_id": null}), 3),
        (json!({"bparty_numbers": []}), 3),
        (json!({"aparty_numbers": ["12345"]}), 16),
        (json!({"bparty_numbers": ["+919170000001"]}), 14),
        (json!({"usage": "sometimes"}), 5),
        (json!({"aparty_pins": ["12a"]}), 5),
        (json!({"deallocation_policy": {"duration": "soon"}}), 5),
        (json!({"preferences": {"greenvn": "+918000000000"}}), 1),
        (json!({"preferences": {"region": "DL"}}), 15),
        (json!({"preferences": {"type": "mobile"}}), 4),
    ];
    for (change, code) in cases {
        let (status, body) = allocate(&sim, with(change.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{change}");
        assert_eq!(
            (&body["success"], &body["code"], &body["data"]),
            (&json!(false), &json!(code), &Value::Null)
        );
        assert!(body["message"].is_string());
    }
    let (status, body) = lead_assist(&sim, Method::POST, GREENVN, Some("{not json")).await;
    assert_eq!((status, &body["code"]), (StatusCode::BAD_REQUEST, &json!(5)));
    let unknown = format!("{GREENVN}/no-such-allocation");
    let (status, body) = lead_assist(&sim, Method::GET, &unknown, None).await;
    assert_eq!((status, &body["code"]), (StatusCode::NOT_FOUND, &json!(1)));
}

#[tokio::test]
async fn a_party_can_be_in_one_connection_per_number_until_the_pool_runs_out() {
    let sim = sim::start().await;
    let (_, first) = allocate(&sim, connection("c-5", "09170000001", "09170000002")).await;
    let (_, second) = allocate(&sim, connection("c-6", "09170000001", "09170000003")).await;
    assert_eq!(first["data"]["greenvn"], json!("+918047112233"));
    assert_eq!(
        second["data"]["greenvn"],
        json!("+918047112234"),
        "the caller must identify the connection"
    );
    let (status, body) = allocate(&sim, connection("c-7", "09170000001", "09170000004")).await;
    assert_eq!((status, &body["code"]), (StatusCode::BAD_REQUEST, &json!(4)));

    let mut preferred = connection("c-8", "09170000002", "09170000005");
    preferred["preferences"] = json!({"green_vn": SANDBOX_EXOPHONES[0]});
    let (status, body) = allocate(&sim, preferred.clone()).await;
    assert_eq!(
        (status, &body["code"]),
        (StatusCode::BAD_REQUEST, &json!(19)),
        "09170000002 is on it already"
    );
    preferred["preferences"] = json!({"green_vn": SANDBOX_EXOPHONES[1]});
    let (_, body) = allocate(&sim, preferred).await;
    assert_eq!(
        body["data"]["greenvn"],
        json!("+918047112234"),
        "green_vn is read like greenvn"
    );
}

#[tokio::test]
async fn updating_an_allocation_changes_its_parties_but_not_its_connection() {
    let sim = sim::start().await;
    let (_, body) = allocate(&sim, connection("c-9", "09170000001", "09170000002")).await;
    let path = format!("{GREENVN}/{}", body["data"]["greenvn_id"].as_str().unwrap());
    let change = r#"{"bparty_numbers":["+919170000007"],"bparty_pins":[4321],"usage":"oneway"}"#;
    let (status, updated) = lead_assist(&sim, Method::PUT, &path, Some(change)).await;
    assert_eq!(status, StatusCode::OK);
    let data = &updated["data"];
    assert_eq!(
        (&data["bparty_numbers"], &data["bparty_pins"]),
        (&json!(["+919170000007"]), &json!([4321]))
    );
    assert_eq!(
        (&data["usage"], &data["aparty_numbers"]),
        (&json!("oneway"), &json!(["09170000001"]))
    );
    let number = data["greenvn"].as_str().unwrap();
    assert_eq!(
        dial(&sim, "09170000001", number).await["connected_to"],
        json!("09170000007")
    );
    let (status, body) = lead_assist(&sim, Method::PUT, &path, Some(r#"{"connection_id":"other"}"#)).await;
    assert_eq!((status, &body["code"]), (StatusCode::BAD_REQUEST, &json!(5)));
}

#[tokio::test]
async fn lead_assist_refuses_bad_credentials_with_401_and_code_7() {
    let sim = sim::start().await;
    let body = connection("c-10", "09170000001", "09170000002").to_string();
    for (method, path) in [
        (Method::POST, GREENVN.to_string()),
        (Method::GET, format!("{GREENVN}/x")),
        (Method::PUT, format!("{GREENVN}/x")),
        (Method::DELETE, format!("{GREENVN}/x")),
    ] {
        let response = reqwest::Client::new()
            .request(method.clone(), format!("{}{path}", sim.base_url()))
            .basic_auth(KEY, Some("wrong"))
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
        let refusal: Value = response.json().await.unwrap();
        assert_eq!(
            (&refusal["success"], &refusal["status"], &refusal["code"]),
            (&json!(false), &json!(401), &json!(7))
        );
    }
}
