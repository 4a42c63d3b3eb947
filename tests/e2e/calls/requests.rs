//! Asking for calls: what is refused with nothing dispatched, the caller
//! id rules, the organisation's calls only, and the list's filters and
//! pages.

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

use domain::Role;

use super::{AGENT, CUSTOMER, app_and_simulator, call_when, connects_for, place, request};
use crate::support::{TestApp, assert_problem, data, eventually, sim};

#[tokio::test]
async fn a_call_without_an_exotel_phone_integration_is_refused_and_nothing_is_recorded() {
    let app = TestApp::embedded().await;
    let body = json!({"agent_phone": AGENT, "customer_phone": CUSTOMER});
    let refused = request(&app, body).await;
    assert_problem(refused, StatusCode::CONFLICT, "exotel_phone_not_configured").await;
    let calls = app
        .count("SELECT COUNT(*) FROM events WHERE aggregate_type = 'call'")
        .await;
    assert_eq!(calls, 0);
}

#[tokio::test]
async fn bad_numbers_limits_and_options_are_refused_naming_the_field_and_nothing_is_dispatched() {
    let (app, sim) = app_and_simulator().await;
    let cases = [
        (
            json!({"agent_phone": AGENT, "customer_phone": "12345"}),
            "invalid_field",
            "customer_phone",
        ),
        (
            json!({"agent_phone": "nope", "customer_phone": CUSTOMER}),
            "invalid_field",
            "agent_phone",
        ),
        (
            json!({"customer_phone": CUSTOMER}),
            "agent_phone_missing",
            "agent_phone",
        ),
        (
            json!({"agent_phone": AGENT, "customer_phone": CUSTOMER, "time_limit": 14401}),
            "invalid_field",
            "time_limit",
        ),
        (
            json!({"agent_phone": AGENT, "customer_phone": CUSTOMER, "time_limit": 0}),
            "invalid_field",
            "time_limit",
        ),
        (
            json!({"agent_phone": AGENT, "customer_phone": AGENT}),
            "same_numbers",
            "customer_phone",
        ),
        (
            json!({"agent_phone": AGENT, "customer_phone": CUSTOMER, "caller_id": "+918047119999"}),
            "unknown_caller_id",
            "caller_id",
        ),
        (
            json!({"agent_phone": AGENT, "customer_phone": CUSTOMER, "verified": true}),
            "verified_calls_unavailable",
            "verified",
        ),
        (
            json!({"agent_phone": AGENT, "customer_phone": CUSTOMER, "custom_data": "x".repeat(2001)}),
            "invalid_field",
            "custom_data",
        ),
        (
            json!({"agent_phone": AGENT, "customer_phone": CUSTOMER, "agent_user_id": uuid::Uuid::new_v4()}),
            "unknown_user",
            "agent_user_id",
        ),
        (
            json!({"agent_phone": AGENT, "customer_phone": CUSTOMER, "recording_channels": "triple"}),
            "invalid_field",
            "recording_channels",
        ),
    ];
    for (body, code, field) in cases {
        let problem = assert_problem(
            request(&app, body.clone()).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
        )
        .await;
        assert_eq!(problem["field"], field, "{body}");
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM events WHERE aggregate_type = 'call'")
            .await,
        0
    );
    assert!(sim::forms_to(&sim, "Calls/connect").await.is_empty());
}

#[tokio::test]
async fn the_caller_id_is_the_agents_assigned_number_or_one_the_organisation_has() {
    let (app, _sim) = app_and_simulator().await;
    let (_, agent_id) = app.add_member(app.organisation_id, Role::Agent).await;
    let list: Value = app
        .get("/api/v1/settings/phone-numbers", Some(&app.admin_token))
        .await
        .json()
        .await
        .unwrap();
    let second = data(&list)
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["phone_number"] == "+918047112234")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let assigned = app
        .post_json(
            &format!("/api/v1/settings/phone-numbers/{second}/assign"),
            Some(&app.admin_token),
            json!({"user_id": agent_id}),
        )
        .await;
    assert_eq!(assigned.status(), StatusCode::OK);

    let body = json!({"agent_user_id": agent_id, "agent_phone": AGENT, "customer_phone": CUSTOMER});
    let response = request(&app, body).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let call: Value = response.json().await.unwrap();
    assert_eq!(data(&call)["caller_id"], "+918047112234");
    assert_eq!(data(&call)["agent_user_id"], agent_id.to_string());

    let chosen = json!({"agent_phone": AGENT, "customer_phone": CUSTOMER, "caller_id": "08047112234"});
    let response = request(&app, chosen).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(
        data(&response.json::<Value>().await.unwrap())["caller_id"],
        "+918047112234"
    );
}

#[tokio::test]
async fn the_same_call_id_twice_is_one_call_and_another_organisation_can_neither_see_nor_take_it() {
    let (app, sim) = app_and_simulator().await;
    let call_id = uuid::Uuid::new_v4();
    let body = json!({"call_id": call_id, "agent_phone": AGENT, "customer_phone": CUSTOMER});
    let first = place(&app, CUSTOMER, json!({"call_id": call_id})).await;
    assert_eq!(first, call_id.to_string());
    let again = request(&app, body).await;
    assert_eq!(again.status(), StatusCode::ACCEPTED);
    let different = json!({"call_id": call_id, "agent_phone": AGENT, "customer_phone": "+919812399999"});
    assert_problem(
        request(&app, different).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "call_id_reused",
    )
    .await;
    call_when(&app, &first, 30, "the call is placed", |c| c["dispatch"] == "placed").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(connects_for(&sim, &first).await, 1);

    let other = crate::support::create_organisation(&app.state, "Other Co").await;
    let email = app.add_user(other, Role::Admin).await;
    let token = app.login(&email).await;
    let response = app.get(&format!("/api/v1/calls/{first}"), Some(&token)).await;
    assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    let listed: Value = app.get("/api/v1/calls", Some(&token)).await.json().await.unwrap();
    assert_eq!(listed["count"], 0);
    let taken = json!({"call_id": call_id, "agent_phone": AGENT, "customer_phone": CUSTOMER});
    let response = app.post_json("/api/v1/calls", Some(&token), taken).await;
    assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "call_id_reused").await;
}

#[tokio::test]
async fn an_agent_needs_the_use_grant_and_its_daily_limit_counts_their_calls() {
    let (app, _sim) = app_and_simulator().await;
    let (email, agent_id) = app.add_member(app.organisation_id, Role::Agent).await;
    let token = app.login(&email).await;
    let body = json!({"agent_phone": AGENT, "customer_phone": CUSTOMER});
    let refused = app.post_json("/api/v1/calls", Some(&token), body.clone()).await;
    assert_problem(refused, StatusCode::FORBIDDEN, "forbidden").await;
    let grant = json!({"can_use": true, "can_configure": false, "daily_limit": 1});
    let path = format!("/api/v1/settings/integrations/exotel_phone/permissions/{agent_id}");
    let granted = app
        .http
        .put(app.url(&path))
        .bearer_auth(&app.admin_token)
        .json(&grant)
        .send()
        .await
        .unwrap();
    assert_eq!(granted.status(), StatusCode::OK);
    let first = app.post_json("/api/v1/calls", Some(&token), body.clone()).await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let id = data(&first.json::<Value>().await.unwrap())["id"]
        .as_str()
        .unwrap()
        .to_string();
    eventually(Duration::from_secs(10), "the call is listed", || async {
        let listed: Value = app
            .get("/api/v1/calls", Some(&app.admin_token))
            .await
            .json()
            .await
            .unwrap();
        listed["data"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["id"] == id.as_str()))
    })
    .await;
    let second = app.post_json("/api/v1/calls", Some(&token), body).await;
    assert_problem(second, StatusCode::FORBIDDEN, "forbidden").await;
}

#[tokio::test]
async fn the_list_filters_by_status_and_number_and_pages_newest_first() {
    let (app, sim) = app_and_simulator().await;
    let busy = "09812300071";
    sim::script(&sim, busy, json!({"outcome": "busy"})).await;
    let mut ids = Vec::new();
    for customer in ["+919812300072", busy, "+919812300073"] {
        ids.push(place(&app, customer, json!({})).await);
    }
    for id in &ids {
        call_when(&app, id, 30, "the call ended", |c| c["ended_at"].is_string()).await;
    }
    let list = |query: &str| {
        let path = format!("/api/v1/calls{query}");
        let app = &app;
        async move {
            let response = app.get(&path, Some(&app.admin_token)).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            response.json::<Value>().await.unwrap()
        }
    };
    eventually(Duration::from_secs(10), "every call has ended in the list", || async {
        list("").await["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["ended_at"].is_string())
    })
    .await;
    let all = list("").await;
    let order: Vec<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        ids.iter().rev().map(String::as_str).collect::<Vec<_>>(),
        "newest first"
    );
    let busy_only = list("?status=busy").await;
    assert_eq!(busy_only["count"], 1);
    assert_eq!(busy_only["data"][0]["id"], ids[1].as_str());
    let by_number = list("?customer_phone=09812300073").await;
    assert_eq!(by_number["data"][0]["id"], ids[2].as_str());
    assert_eq!(list(&format!("?number=%2B{}", &AGENT[1..])).await["count"], 3);

    let first = list("?limit=2").await;
    assert_eq!(first["count"], 2);
    let cursor = first["next_cursor"].as_str().unwrap().to_string();
    let rest = list(&format!("?limit=2&cursor={cursor}")).await;
    assert_eq!(rest["count"], 1);
    assert_eq!(rest["data"][0]["id"], ids[0].as_str());
    assert!(rest.get("next_cursor").is_none());

    assert_eq!(list("?number=12").await["count"], 0, "not a number: nothing matches");
    let empty = list("?customer_phone=&number=").await;
    assert_eq!(empty["count"], 3, "empty filters filter nothing");
    for query in [
        "?status=sideways",
        "?limit=0",
        "?cursor=zzz",
        "?cursor=1_x",
        "?from=yesterday",
    ] {
        let response = app.get(&format!("/api/v1/calls{query}"), Some(&app.admin_token)).await;
        assert_problem(response, StatusCode::BAD_REQUEST, "invalid_query").await;
    }
}

#[tokio::test]
async fn an_agent_with_a_phone_of_their_own_is_dialled_first_without_agent_phone() {
    let (app, sim) = app_and_simulator().await;
    let (_, agent_id) = app.add_member(app.organisation_id, Role::Agent).await;
    let patch = |body: Value| {
        let app = &app;
        async move {
            app.http
                .patch(app.url(&format!("/api/v1/users/{agent_id}")))
                .bearer_auth(&app.admin_token)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let refused = patch(json!({"phone": "12"})).await;
    let problem = assert_problem(refused, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    assert_eq!(problem["field"], "phone");
    let set = patch(json!({"phone": "09876500099"})).await;
    assert_eq!(set.status(), StatusCode::OK);
    assert_eq!(data(&set.json::<Value>().await.unwrap())["phone"], "+919876500099");
    eventually(Duration::from_secs(10), "the list shows the phone", || async {
        let users: Value = app
            .get("/api/v1/users", Some(&app.admin_token))
            .await
            .json()
            .await
            .unwrap();
        users["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["phone"] == "+919876500099")
    })
    .await;

    let body = json!({"agent_user_id": agent_id, "customer_phone": CUSTOMER});
    let response = request(&app, body.clone()).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let id = data(&response.json::<Value>().await.unwrap())["id"]
        .as_str()
        .unwrap()
        .to_string();
    let placed = call_when(&app, &id, 30, "the call is placed", |c| c["dispatch"] == "placed").await;
    assert_eq!(placed["agent_phone"], "+919876500099");
    let forms = sim::forms_to(&sim, "Calls/connect").await;
    assert_eq!(
        forms[0].iter().find(|(k, _)| k == "From").map(|(_, v)| v.as_str()),
        Some("+919876500099")
    );

    let removed = patch(json!({"phone": null})).await;
    assert_eq!(data(&removed.json::<Value>().await.unwrap())["phone"], Value::Null);
    let missing = request(&app, body).await;
    let problem = assert_problem(missing, StatusCode::UNPROCESSABLE_ENTITY, "agent_phone_missing").await;
    assert_eq!(problem["field"], "agent_phone");
}

#[tokio::test]
async fn a_promotional_call_to_a_dnd_customer_is_refused_until_the_account_whitelists_them() {
    let (app, sim) = app_and_simulator().await;
    let dnd = "09812300081";
    sim::script(&sim, dnd, json!({"dnd": true})).await;
    let promo = json!({"agent_phone": AGENT, "customer_phone": dnd, "purpose": "promotional"});
    let problem = assert_problem(
        request(&app, promo.clone()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "customer_on_dnd",
    )
    .await;
    assert_eq!(problem["field"], "customer_phone");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM events WHERE aggregate_type = 'call'")
            .await,
        0
    );
    assert!(
        sim::forms_to(&sim, "Calls/connect").await.is_empty(),
        "nothing was dispatched"
    );

    let plain = json!({"agent_phone": AGENT, "customer_phone": "09812300082", "purpose": "promotional"});
    assert_eq!(
        request(&app, plain).await.status(),
        StatusCode::ACCEPTED,
        "a number off the registry"
    );

    let whitelisted = reqwest::Client::new()
        .post(format!("{}/v1/Accounts/sandbox/CustomerWhitelist.json", sim.base_url()))
        .basic_auth(sim::KEY, Some(sim::TOKEN))
        .form(&[("VirtualNumber", sim::EXOPHONE), ("Number", dnd)])
        .send()
        .await
        .unwrap();
    assert!(whitelisted.status().is_success());
    assert_eq!(
        request(&app, promo).await.status(),
        StatusCode::ACCEPTED,
        "whitelisted by the account"
    );
}

#[tokio::test]
async fn a_verified_call_is_branded_by_its_provider_before_exotel_is_asked_and_says_why() {
    let (mut settings, dir) = crate::support::embedded();
    super::quick(&mut settings);
    settings.verified_calls = "sandbox".into();
    let app = TestApp::start(settings, Some(dir)).await;
    let sim = sim::fast(100.0).await;
    super::configure(&app, &sim).await;

    for (body, field) in [
        (
            json!({"agent_phone": AGENT, "customer_phone": CUSTOMER, "verified": true}),
            "verification_reason",
        ),
        (
            json!({"agent_phone": AGENT, "customer_phone": CUSTOMER, "verification_reason": "Your order"}),
            "verification_reason",
        ),
    ] {
        let refused = request(&app, body).await;
        let problem = assert_problem(refused, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
        assert_eq!(problem["field"], field);
    }

    let id = place(
        &app,
        CUSTOMER,
        json!({"verified": true, "verification_reason": "Your order is on its way"}),
    )
    .await;
    let placed = call_when(&app, &id, 20, "the verified call is placed", |c| {
        c["dispatch"] == "placed"
    })
    .await;
    let verification = &placed["verification"];
    assert_eq!(verification["reason"], "Your order is on its way");
    assert_eq!(verification["provider"], "sandbox");
    assert_eq!(
        verification["caller_name"],
        infrastructure::verified_calls::SANDBOX_BRAND
    );
    assert!(verification["reference"].as_str().unwrap().starts_with("sandbox-"));
    let kinds: Vec<&str> = placed["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    let branded = kinds.iter().position(|k| *k == "verification_arranged").unwrap();
    let started = kinds.iter().position(|k| *k == "dispatch_started").unwrap();
    assert!(branded < started, "branded before Exotel is asked: {kinds:?}");
    assert_eq!(connects_for(&sim, &id).await, 1);

    let plain = place(&app, "+919812300003", json!({})).await;
    let plain = call_when(&app, &plain, 20, "the plain call is placed", |c| {
        c["dispatch"] == "placed"
    })
    .await;
    assert_eq!(plain["verification"], Value::Null);
}
