//! The Exotel simulator's phone numbers over HTTP: ExoPhones (v2_beta),
//! number metadata and the customer whitelist (v1), and Lead Assist
//! masking, checked against the reference's example payloads.

mod dnd;
mod lookup;
mod masking;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeSet;

use crate::support::sim::{self, KEY, TOKEN, admin_request, connect, kind};
use simulator::RunningSimulator;

const SANDBOX_EXOPHONES: [&str; 2] = ["08047112233", "08047112234"];

/// An Exotel request with the sandbox's credentials (or `token`), a form
/// body when given; answers the status and the body text.
async fn exotel(
    sim: &RunningSimulator,
    method: Method,
    path: &str,
    form: &[(&str, &str)],
    token: &str,
) -> (StatusCode, String) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", sim.base_url()))
        .basic_auth(KEY, Some(token));
    if !form.is_empty() {
        request = request.form(form);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

/// An Exotel request answered in JSON.
async fn exotel_json(sim: &RunningSimulator, method: Method, path: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let (status, text) = exotel(sim, method, path, form, TOKEN).await;
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON: {text}")),
    )
}

/// Same keys, same nesting and same JSON types as the documented example;
/// a documented `null` may be a string once set.
fn assert_conforms(actual: &Value, documented: &Value, path: &str) {
    match (actual, documented) {
        (Value::Object(a), Value::Object(d)) => {
            let (ak, dk): (BTreeSet<_>, BTreeSet<_>) = (a.keys().collect(), d.keys().collect());
            assert_eq!(ak, dk, "keys of {path}");
            for key in dk {
                assert_conforms(&a[key], &d[key], &format!("{path}.{key}"));
            }
        }
        (Value::Array(a), Value::Array(d)) => {
            assert!(!a.is_empty(), "{path} is empty");
            for item in a {
                assert_conforms(item, &d[0], &format!("{path}[]"));
            }
        }
        (Value::Null | Value::String(_), Value::Null) => {}
        (a, d) => assert_eq!(kind(a), kind(d), "type of {path}: {a} against {d}"),
    }
}

const LIST: &str = "/v2_beta/Accounts/sandbox/IncomingPhoneNumbers";

fn phone_numbers(page: &Value) -> Vec<String> {
    let numbers = page["incoming_phone_numbers"].as_array().unwrap();
    numbers.iter().map(|n| n["sid"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn the_sandbox_exophones_are_listed_in_the_documented_shape() {
    let sim = sim::start().await;
    let flow = "http://my.exotel.com/sandbox/exoml/start_voice/1234";
    let path = format!("{LIST}/{}", SANDBOX_EXOPHONES[0]);
    let (status, _) = exotel_json(&sim, Method::PUT, &path, &[("VoiceUrl", flow)]).await;
    assert_eq!(status, StatusCode::OK);

    let (status, page) = exotel_json(&sim, Method::GET, &format!("{LIST}?Page=0&PageSize=1"), &[]).await;
    assert_eq!(status, StatusCode::OK);
    let documented = json!({"page":0,"page_size":50,
     "uri":"http://twilix.exotel.com/v2_beta/Accounts/Exotel/IncomingPhoneNumbers?Page=0&PageSize=50",
     "first_page_uri":"...Page=0&PageSize=50","next_page_uri":"...Page=1&PageSize=50","previous_page_uri":null,
     "incoming_phone_numbers":[
       {"sid":"011XXXXXXX1","friendly_name":"Sales","phone_number":"+9111XXXXXXX6",
        "capabilities":{"voice":true,"sms":true},"country":"IN","region":"DL",
        "voice_url":"http://my.exotel.com/<sid>/exoml/start_voice/<app>","sms_url":null,
        "number_type":"Landline", "date_created":"...", "date_updated":"...", "uri":"..."}]});
    assert_conforms(&page, &documented, "list");
    let phone = &page["incoming_phone_numbers"][0];
    assert_eq!(
        (&phone["sid"], &phone["phone_number"], &phone["voice_url"]),
        (&json!("08047112233"), &json!("+918047112233"), &json!(flow))
    );
    assert_eq!(
        (&phone["region"], &phone["number_type"]),
        (&json!("KA"), &json!("Landline"))
    );
    assert_eq!((&phone["country"], &phone["sms_url"]), (&json!("IN"), &Value::Null));
    let uri = format!("{}{LIST}?Page=0&PageSize=1", sim.base_url());
    assert_eq!(page["uri"], json!(uri));
    assert_eq!(phone["uri"], json!(format!("{}{LIST}/08047112233", sim.base_url())));
}

#[tokio::test]
async fn listing_pages_through_the_numbers_with_page_and_page_size() {
    let sim = sim::start().await;
    for number in ["+918047110001", "+918047110002", "+918047110003"] {
        let path = "accounts/sandbox/exophones";
        let (status, _) = admin_request(&sim, Method::POST, path, json!({"phone_number": number})).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (_, first) = exotel_json(&sim, Method::GET, &format!("{LIST}?PageSize=2"), &[]).await;
    assert_eq!(phone_numbers(&first), SANDBOX_EXOPHONES);
    assert_eq!((&first["page"], &first["page_size"]), (&json!(0), &json!(2)));
    assert_eq!(first["previous_page_uri"], Value::Null);
    let next = first["next_page_uri"].as_str().unwrap();
    assert!(next.ends_with("?Page=1&PageSize=2"), "{next}");

    let following = |uri: &str| reqwest::Client::new().get(uri).basic_auth(KEY, Some(TOKEN)).send();
    let second: Value = following(next).await.unwrap().json().await.unwrap();
    assert_eq!(phone_numbers(&second), ["08047110001", "08047110002"]);
    assert!(
        second["previous_page_uri"]
            .as_str()
            .unwrap()
            .ends_with("?Page=0&PageSize=2")
    );
    let third: Value = following(second["next_page_uri"].as_str().unwrap())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(phone_numbers(&third), ["08047110003"]);
    assert_eq!(third["next_page_uri"], Value::Null, "the last page has no next page");

    let (_, all) = exotel_json(&sim, Method::GET, LIST, &[]).await;
    assert_eq!((phone_numbers(&all).len(), &all["page_size"]), (5, &json!(50)));
    assert_eq!(all["next_page_uri"], Value::Null);
    let (_, beyond) = exotel_json(&sim, Method::GET, &format!("{LIST}?Page=9&PageSize=2"), &[]).await;
    assert!(phone_numbers(&beyond).is_empty());
    for query in ["PageSize=0", "PageSize=ten", "Page=-1"] {
        let (status, body) = exotel_json(&sim, Method::GET, &format!("{LIST}?{query}"), &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(body["RestException"]["Status"], json!(400));
    }
}

#[tokio::test]
async fn one_exophone_is_found_by_its_sid_or_number_and_a_missing_one_is_404() {
    let sim = sim::start().await;
    for exophone in ["08047112234", "+918047112234"] {
        let (status, phone) = exotel_json(&sim, Method::GET, &format!("{LIST}/{exophone}"), &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(phone["sid"], json!("08047112234"));
    }
    let (status, body) = exotel_json(&sim, Method::GET, &format!("{LIST}/08099999999"), &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        json!({"RestException": {"Status": 404, "Message": "No matching results"}})
    );
}

async fn connect_from(sim: &RunningSimulator, caller_id: &str) -> StatusCode {
    let form = [("From", "09876543210"), ("To", "09123456789"), ("CallerId", caller_id)];
    connect(sim, &form).await.status()
}

#[tokio::test]
async fn a_number_is_bought_given_a_flow_and_released_through_v2_beta() {
    let sim = sim::start().await;
    let bought = [("PhoneNumber", "+918047110000"), ("FriendlyName", "Support")];
    let (status, phone) = exotel_json(&sim, Method::POST, LIST, &bought).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (&phone["sid"], &phone["friendly_name"]),
        (&json!("08047110000"), &json!("Support"))
    );
    assert_eq!(phone["rental_price"], json!("499.000000"));
    assert_eq!(
        connect_from(&sim, "08047110000").await,
        StatusCode::OK,
        "a bought number can be a CallerId"
    );
    let (status, taken) = exotel_json(&sim, Method::POST, LIST, &[("PhoneNumber", "08047112233")]).await;
    assert_eq!(
        (status, &taken["RestException"]["Status"]),
        (StatusCode::CONFLICT, &json!(409))
    );
    let (status, _) = exotel_json(&sim, Method::POST, LIST, &[("FriendlyName", "x")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let path = format!("{LIST}/08047110000");
    let flows = [
        ("VoiceUrl", "http://my.exotel.com/sandbox/exoml/start_voice/77"),
        ("SMSUrl", "http://my.exotel.com/sandbox/exoml/start_sms/78"),
    ];
    let (status, assigned) = exotel_json(&sim, Method::PUT, &path, &flows).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(assigned["voice_url"], json!(flows[0].1));
    assert_eq!(assigned["sms_url"], json!(flows[1].1));
    let (_, cleared) = exotel_json(&sim, Method::PUT, &path, &[("VoiceUrl", "")]).await;
    assert_eq!(
        (&cleared["voice_url"], &cleared["sms_url"]),
        (&Value::Null, &json!(flows[1].1))
    );
    let (status, _) = exotel_json(&sim, Method::PUT, &path, &[("VoiceUrl", "ftp://x")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, released) = exotel_json(&sim, Method::DELETE, &path, &[]).await;
    assert_eq!(
        (status, released),
        (StatusCode::ACCEPTED, json!({"Status": 202, "Message": "Accepted"}))
    );
    let (_, page) = exotel_json(&sim, Method::GET, LIST, &[]).await;
    assert_eq!(phone_numbers(&page), SANDBOX_EXOPHONES);
    assert_eq!(
        connect_from(&sim, "08047110000").await,
        StatusCode::BAD_REQUEST,
        "released"
    );
    for method in [Method::GET, Method::DELETE] {
        assert_eq!(exotel_json(&sim, method, &path, &[]).await.0, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn numbers_appear_change_and_are_released_through_the_admin_routes() {
    let sim = sim::start().await;
    let added = json!({"phone_number": "+911140001234", "friendly_name": "Delhi", "capabilities": {"voice": true, "sms": false}});
    let (status, body) = admin_request(&sim, Method::POST, "accounts/sandbox/exophones", added).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, phone) = exotel_json(&sim, Method::GET, &format!("{LIST}/01140001234"), &[]).await;
    assert_eq!(
        (&phone["region"], &phone["friendly_name"]),
        (&json!("DL"), &json!("Delhi"))
    );
    assert_eq!(phone["capabilities"], json!({"voice": true, "sms": false}));

    let change =
        json!({"friendly_name": "Delhi sales", "voice_url": "http://my.exotel.com/sandbox/exoml/start_voice/9"});
    let (status, _) = admin_request(&sim, Method::PATCH, "accounts/sandbox/exophones/01140001234", change).await;
    assert_eq!(status, StatusCode::OK);
    let (_, changed) = exotel_json(&sim, Method::GET, &format!("{LIST}/01140001234"), &[]).await;
    assert_eq!(changed["friendly_name"], json!("Delhi sales"));
    assert!(changed["voice_url"].as_str().unwrap().ends_with("/start_voice/9"));
    assert!(changed["date_updated"].as_str() >= phone["date_updated"].as_str());
    assert_eq!(
        changed["date_created"], phone["date_created"],
        "a change keeps the creation date"
    );

    let (status, _) = admin_request(
        &sim,
        Method::DELETE,
        "accounts/sandbox/exophones/+911140001234",
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, page) = exotel_json(&sim, Method::GET, LIST, &[]).await;
    assert_eq!(phone_numbers(&page), SANDBOX_EXOPHONES);

    let refusals = [
        (
            Method::DELETE,
            "accounts/sandbox/exophones/01140001234",
            json!({}),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::POST,
            "accounts/nobody/exophones",
            json!({"phone_number": "01140001235"}),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::POST,
            "accounts/sandbox/exophones",
            json!({"phone_number": "08047112233"}),
            StatusCode::CONFLICT,
        ),
        (
            Method::POST,
            "accounts/sandbox/exophones",
            json!({"phone_number": "123"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::PATCH,
            "accounts/sandbox/exophones/08047112233",
            json!({"number_type": "Fax"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Method::PATCH,
            "accounts/sandbox/exophones/08047112233",
            json!({"colour": "red"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (method, path, body, expected) in refusals {
        assert_eq!(admin_request(&sim, method, path, body).await.0, expected, "{path}");
    }
}

#[tokio::test]
async fn an_account_posted_with_exophones_as_strings_seeds_its_numbers_afresh() {
    let sim = sim::start().await;
    let account =
        |numbers: Value| json!({"sid": "acme", "api_key": "acme-key", "api_token": "acme-token", "exophones": numbers});
    let (status, _) = admin_request(
        &sim,
        Method::POST,
        "accounts",
        account(json!(["+911140001111", "02240002222"])),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let list = |sim: &RunningSimulator| {
        reqwest::Client::new()
            .get(format!("{}/v2_beta/Accounts/acme/IncomingPhoneNumbers", sim.base_url()))
            .basic_auth("acme", Some("acme-token"))
            .send()
    };
    let page: Value = list(&sim).await.unwrap().json().await.unwrap();
    assert_eq!(phone_numbers(&page), ["01140001111", "02240002222"]);
    let regions: Vec<&Value> = page["incoming_phone_numbers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| &n["region"])
        .collect();
    assert_eq!(regions, [&json!("DL"), &json!("MU")]);

    admin_request(
        &sim,
        Method::POST,
        "accounts",
        account(json!(["02240002222", "08041234567"])),
    )
    .await;
    let page: Value = list(&sim).await.unwrap().json().await.unwrap();
    assert_eq!(
        phone_numbers(&page),
        ["02240002222", "08041234567"],
        "the replaced list wins"
    );
}

#[tokio::test]
async fn v2_beta_refuses_bad_credentials_with_a_401_rest_exception() {
    let sim = sim::start().await;
    let one = format!("{LIST}/08047112233");
    let requests = [
        (Method::GET, LIST),
        (Method::POST, LIST),
        (Method::GET, one.as_str()),
        (Method::PUT, one.as_str()),
        (Method::DELETE, one.as_str()),
    ];
    for (method, path) in requests {
        let (status, body) = exotel(&sim, method.clone(), path, &[], "wrong").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            body,
            json!({"RestException": {"Status": 401, "Message": "Authentication failed"}})
        );
    }
    let by_sid = reqwest::Client::new()
        .get(format!("{}{LIST}", sim.base_url()))
        .basic_auth("sandbox", Some(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(by_sid.status(), StatusCode::OK, "sid:token works too");
}
