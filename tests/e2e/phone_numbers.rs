//! Phone numbers over the API: synced from the simulator's ExoPhones on
//! configure and on demand, listed with one primary, assigned to members.

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

use domain::Role;
use simulator::RunningSimulator;

use crate::support::sim::admin_request;
use crate::support::{TestApp, assert_problem, data, eventually, sim};

const LINE: &str = "+918047112233";
const SECOND: &str = "+918047112234";

async fn configured() -> (TestApp, RunningSimulator) {
    let app = TestApp::embedded().await;
    let sim = sim::start().await;
    let body = json!({"account_sid": "sandbox", "api_key": "sandbox-key", "api_token": "sandbox-token",
        "api_host": sim.base_url(), "virtual_number": "08047112233", "display_name": "Main line"});
    let saved = app
        .post_json(
            "/api/v1/settings/integrations/exotel_phone",
            Some(&app.admin_token),
            body,
        )
        .await;
    assert_eq!(saved.status(), StatusCode::OK);
    (app, sim)
}

async fn numbers(app: &TestApp) -> Value {
    app.get("/api/v1/settings/phone-numbers", Some(&app.admin_token))
        .await
        .json()
        .await
        .unwrap()
}

async fn listed_until(app: &TestApp, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let check = &check;
    eventually(
        Duration::from_secs(10),
        what,
        || async move { check(&numbers(app).await) },
    )
    .await;
    numbers(app).await
}

fn number<'a>(list: &'a Value, e164: &str) -> &'a Value {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["phone_number"] == e164)
        .unwrap_or(&Value::Null)
}

#[tokio::test]
async fn configuring_exotel_phone_syncs_its_numbers_with_the_first_one_primary() {
    let (app, _sim) = configured().await;
    let list = listed_until(&app, "both numbers are listed", |l| l["count"] == 2).await;
    assert_eq!(list["success"], true);
    let line = number(&list, LINE);
    assert_eq!(line["is_primary"], true);
    assert_eq!(
        (line["can_call"].as_bool(), line["can_sms"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(line["is_active"], true);
    assert_eq!(line["assigned_to_user_id"], Value::Null);
    assert_eq!(number(&list, SECOND)["is_primary"], false);

    eventually(Duration::from_secs(10), "every event is in the audit chain", || async {
        app.count("SELECT COUNT(*) FROM event_hashes").await == app.count("SELECT COUNT(*) FROM events").await
    })
    .await;
    let path = format!("/api/v1/audit/aggregates/phone_numbers/{}/state", app.organisation_id);
    let state: Value = app.get(&path, Some(&app.admin_token)).await.json().await.unwrap();
    assert_eq!(
        data(&state)["state"]["numbers"].as_object().map(|n| n.len()),
        Some(2),
        "{state}"
    );
}

#[tokio::test]
async fn a_sync_reports_new_updated_and_released_numbers_and_a_second_sync_finds_nothing() {
    let (app, sim) = configured().await;
    listed_until(&app, "both numbers are listed", |l| l["count"] == 2).await;
    let changes = [
        (
            reqwest::Method::POST,
            "accounts/sandbox/exophones",
            json!({"phone_number": "08047119999", "friendly_name": "Support"}),
        ),
        (
            reqwest::Method::PATCH,
            "accounts/sandbox/exophones/08047112234",
            json!({"friendly_name": "Riders"}),
        ),
        (
            reqwest::Method::DELETE,
            "accounts/sandbox/exophones/08047112233",
            Value::Null,
        ),
    ];
    for (method, path, body) in changes {
        let (status, text) = admin_request(&sim, method, path, body).await;
        assert!(status.is_success(), "{path}: {status} {text}");
    }
    let sync = "/api/v1/settings/integrations/exotel_phone/sync";
    let report: Value = app
        .post_json(sync, Some(&app.admin_token), json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        report,
        json!({"success": true, "data": {"synced_numbers": 2, "new_numbers": 1, "updated_numbers": 1, "released_numbers": 1}})
    );
    let again: Value = app
        .post_json(sync, Some(&app.admin_token), json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        again["data"],
        json!({"synced_numbers": 2, "new_numbers": 0, "updated_numbers": 0, "released_numbers": 0})
    );
    let list = listed_until(&app, "the release is listed", |l| number(l, LINE)["is_active"] == false).await;
    assert_eq!(number(&list, SECOND)["display_name"], "Riders");
    assert_eq!(
        number(&list, SECOND)["is_primary"],
        true,
        "the primary moved off the released number"
    );
    assert_eq!(number(&list, "+918047119999")["display_name"], "Support");
}

#[tokio::test]
async fn a_number_is_assigned_to_an_active_member_and_taken_back() {
    let (app, _sim) = configured().await;
    let list = listed_until(&app, "both numbers are listed", |l| l["count"] == 2).await;
    let id = number(&list, SECOND)["id"].as_str().unwrap().to_string();
    let agent_email = app.add_user(app.organisation_id, Role::Agent).await;
    let email = domain::EmailAddress::parse(&agent_email).unwrap();
    let agent_id = json!(domain::user::user_id_for(app.organisation_id, &email));
    let path = format!("/api/v1/settings/phone-numbers/{id}/assign");
    let assigned = app
        .post_json(
            &path,
            Some(&app.admin_token),
            json!({"user_id": agent_id, "is_primary": true}),
        )
        .await;
    assert_eq!(assigned.status(), StatusCode::OK);
    let list = listed_until(&app, "the assignment and the new primary are listed", |l| {
        number(l, SECOND)["assigned_to_user_id"] == agent_id && number(l, SECOND)["is_primary"] == true
    })
    .await;
    assert_eq!(number(&list, SECOND)["is_primary"], true);
    assert_eq!(number(&list, LINE)["is_primary"], false, "one primary at a time");

    let agent_token = app.login(&agent_email).await;
    let refused = app.post_json(&path, Some(&agent_token), json!({"user_id": null})).await;
    assert_problem(refused, StatusCode::FORBIDDEN, "forbidden").await;
    let stranger = json!({"user_id": uuid::Uuid::new_v4()});
    let unknown = app.post_json(&path, Some(&app.admin_token), stranger).await;
    assert_eq!(
        assert_problem(unknown, StatusCode::UNPROCESSABLE_ENTITY, "unknown_user").await["field"],
        "user_id"
    );
    let missing = format!("/api/v1/settings/phone-numbers/{}/assign", uuid::Uuid::new_v4());
    assert_problem(
        app.post_json(&missing, Some(&app.admin_token), json!({"user_id": null}))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    let back = app
        .post_json(&path, Some(&app.admin_token), json!({"user_id": null}))
        .await;
    assert_eq!(back.status(), StatusCode::OK);
    listed_until(&app, "the number is unassigned", |l| {
        number(l, SECOND)["assigned_to_user_id"].is_null()
    })
    .await;
}

#[tokio::test]
async fn syncing_without_an_exotel_phone_integration_is_a_conflict() {
    let app = TestApp::embedded().await;
    let sync = app
        .post_json(
            "/api/v1/settings/integrations/exotel_phone/sync",
            Some(&app.admin_token),
            json!({}),
        )
        .await;
    assert_problem(sync, StatusCode::CONFLICT, "exotel_phone_not_configured").await;
}
