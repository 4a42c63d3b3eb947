//! Identities: what a key may do for its creator, how logins are throttled
//! and answered, one address in several organisations, sessions ended by a
//! password change, and the text a name may hold.

use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;
use uuid::Uuid;

use application::passwords::argon2_runs;
use domain::Role;

use crate::support::{PASSWORD, TestApp, assert_problem, create_organisation, data};

fn user_id(organisation_id: Uuid, email: &str) -> String {
    domain::user::user_id_for(organisation_id, &domain::EmailAddress::parse(email).unwrap()).to_string()
}

/// A client whose connections come from another loopback address.
fn client_from(last_octet: u8) -> Client {
    Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last_octet)))
        .build()
        .unwrap()
}

async fn log_in(app: &TestApp, http: &Client, body: Value) -> Response {
    http.post(app.url("/api/v1/auth/login"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn create_key(app: &TestApp, token: &str, name: &str, role: &str) -> (String, String) {
    let response = app
        .post_json("/api/v1/api-keys", Some(token), json!({"name": name, "role": role}))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    let created = data(&body);
    (
        created["id"].as_str().unwrap().to_string(),
        created["key"].as_str().unwrap().to_string(),
    )
}

async fn status_of(app: &TestApp, path: &str, token: &str) -> StatusCode {
    app.get(path, Some(token)).await.status()
}

fn without_instance(mut body: Value) -> Value {
    body.as_object_mut().unwrap().remove("instance");
    body
}

#[tokio::test]
async fn deactivating_a_user_stops_every_key_of_theirs_at_once_and_reactivating_revives_no_revoked_one() {
    let app = TestApp::embedded().await;
    let boss = app.add_user(app.organisation_id, Role::Admin).await;
    let boss_id = user_id(app.organisation_id, &boss);
    let boss_token = app.login(&boss).await;
    let (_, key) = create_key(&app, &boss_token, "automation", "admin").await;
    let (_, made_by_key) = create_key(&app, &key, "made by a key", "agent").await;
    let (revoked_id, revoked) = create_key(&app, &boss_token, "old", "agent").await;
    let revoke = app
        .http
        .delete(app.url(&format!("/api/v1/api-keys/{revoked_id}")))
        .bearer_auth(&boss_token);
    assert_eq!(revoke.send().await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(status_of(&app, "/api/v1/users", &key).await, StatusCode::OK);
    assert_eq!(status_of(&app, "/api/v1/users", &made_by_key).await, StatusCode::OK);

    let own = app
        .post_json(&format!("/api/v1/users/{boss_id}/deactivate"), Some(&key), json!({}))
        .await;
    assert_problem(own, StatusCode::UNPROCESSABLE_ENTITY, "cannot_change_own_access").await;

    let deactivate = format!("/api/v1/users/{boss_id}/deactivate");
    let deactivated = app.post_json(&deactivate, Some(&app.admin_token), json!({})).await;
    assert_eq!(deactivated.status(), StatusCode::OK);
    for token in [&key, &made_by_key] {
        assert_problem(
            app.get("/api/v1/users", Some(token)).await,
            StatusCode::UNAUTHORIZED,
            "api_key_suspended",
        )
        .await;
    }
    let reactivate = format!("/api/v1/users/{boss_id}/reactivate");
    assert_problem(
        app.post_json(&reactivate, Some(&key), json!({})).await,
        StatusCode::UNAUTHORIZED,
        "api_key_suspended",
    )
    .await;
    let me: Value = app
        .get(&format!("/api/v1/users/{boss_id}"), Some(&app.admin_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(data(&me)["active"], false, "a key cannot reactivate its creator");

    let reactivated = app.post_json(&reactivate, Some(&app.admin_token), json!({})).await;
    assert_eq!(reactivated.status(), StatusCode::OK);
    assert_eq!(status_of(&app, "/api/v1/users", &key).await, StatusCode::OK);
    assert_problem(
        app.get("/api/v1/users", Some(&revoked)).await,
        StatusCode::UNAUTHORIZED,
        "invalid_api_key",
    )
    .await;
}

#[tokio::test]
async fn a_key_stops_when_its_creator_no_longer_holds_its_role() {
    let app = TestApp::embedded().await;
    let boss = app.add_user(app.organisation_id, Role::Admin).await;
    let (_, key) = create_key(&app, &app.login(&boss).await, "automation", "admin").await;
    assert_eq!(status_of(&app, "/api/v1/api-keys", &key).await, StatusCode::OK);
    let demote = app
        .http
        .patch(app.url(&format!("/api/v1/users/{}", user_id(app.organisation_id, &boss))))
        .bearer_auth(&app.admin_token)
        .json(&json!({"role": "agent"}));
    assert_eq!(demote.send().await.unwrap().status(), StatusCode::OK);
    for path in ["/api/v1/api-keys", "/api/v1/users"] {
        assert_problem(
            app.get(path, Some(&key)).await,
            StatusCode::UNAUTHORIZED,
            "api_key_suspended",
        )
        .await;
    }
}

#[tokio::test]
async fn an_unknown_address_and_a_wrong_password_each_cost_one_argon2_verification() {
    let app = TestApp::embedded().await;
    let email = app.add_user(app.organisation_id, Role::Agent).await;
    let before = argon2_runs();
    let unknown = log_in(
        &app,
        &app.http,
        json!({"email": "nobody@example.com", "password": "whatever it is"}),
    )
    .await;
    let unknown = assert_problem(unknown, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let after_unknown = argon2_runs();
    let wrong = log_in(&app, &app.http, json!({"email": email, "password": "not my password"})).await;
    let wrong = assert_problem(wrong, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    assert_eq!(after_unknown - before, 1, "an unknown address costs one verification");
    assert_eq!(
        argon2_runs() - after_unknown,
        1,
        "a wrong password costs one verification"
    );
    assert_eq!(without_instance(unknown), without_instance(wrong));
}

#[tokio::test]
async fn a_deactivated_account_answers_a_right_and_a_wrong_password_alike() {
    let app = TestApp::embedded().await;
    let email = app.add_user(app.organisation_id, Role::Agent).await;
    let path = format!("/api/v1/users/{}/deactivate", user_id(app.organisation_id, &email));
    assert_eq!(
        app.post_json(&path, Some(&app.admin_token), json!({})).await.status(),
        StatusCode::OK
    );
    let right = log_in(&app, &app.http, json!({"email": email, "password": PASSWORD})).await;
    let right = assert_problem(right, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let wrong = log_in(&app, &app.http, json!({"email": email, "password": "not my password"})).await;
    let wrong = assert_problem(wrong, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    assert_eq!(right, wrong);
}

#[tokio::test]
async fn failures_make_the_address_wait_from_that_client_only_and_an_unknown_address_waits_alike() {
    let app = TestApp::embedded().await;
    let email = app.add_user(app.organisation_id, Role::Agent).await;
    let mut locked = Vec::new();
    for address in [email.as_str(), "nobody@example.com"] {
        for _ in 0..domain::login::FREE_FAILURES {
            let failed = log_in(
                &app,
                &app.http,
                json!({"email": address, "password": "not my password"}),
            )
            .await;
            assert_problem(failed, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
        }
        let before = argon2_runs();
        let waiting = log_in(&app, &app.http, json!({"email": address, "password": PASSWORD})).await;
        assert_eq!(
            argon2_runs(),
            before,
            "a waiting pair is answered without a verification"
        );
        let retry_after = waiting.headers()["retry-after"].to_str().unwrap().to_string();
        let body = assert_problem(waiting, StatusCode::TOO_MANY_REQUESTS, "locked_out").await;
        locked.push((retry_after, body));
    }
    assert_eq!(locked[0], locked[1], "a known and an unknown address wait alike");
    assert_eq!(locked[0].0, domain::login::FIRST_BACKOFF.num_seconds().to_string());

    let elsewhere = log_in(&app, &client_from(2), json!({"email": email, "password": PASSWORD})).await;
    assert_eq!(
        elsewhere.status(),
        StatusCode::OK,
        "nobody else is locked out of the account"
    );
    tokio::time::sleep(domain::login::FIRST_BACKOFF.to_std().unwrap() + Duration::from_millis(100)).await;
    let later = log_in(&app, &app.http, json!({"email": email, "password": PASSWORD})).await;
    assert_eq!(later.status(), StatusCode::OK, "the wait ends");
}

#[tokio::test]
async fn logins_over_the_limit_per_address_and_per_client_get_429_with_retry_after() {
    let (mut settings, dir) = crate::support::embedded();
    settings.login_rate_limit_per_address = 3;
    settings.login_rate_limit_per_client = 6;
    let app = TestApp::start(settings, Some(dir)).await;
    let email = app.add_user(app.organisation_id, Role::Agent).await;
    let http = client_from(3);
    for _ in 0..3 {
        let ok = log_in(&app, &http, json!({"email": email, "password": PASSWORD})).await;
        assert_eq!(ok.status(), StatusCode::OK);
    }
    let limited = log_in(&app, &client_from(4), json!({"email": email, "password": PASSWORD})).await;
    let retry_after: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after));
    assert_problem(limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;

    for n in 0..3 {
        let other = log_in(
            &app,
            &http,
            json!({"email": format!("n{n}@example.com"), "password": "whatever it is"}),
        )
        .await;
        assert_problem(other, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
    let limited = log_in(
        &app,
        &http,
        json!({"email": "n9@example.com", "password": "whatever it is"}),
    )
    .await;
    assert!(limited.headers().contains_key("retry-after"));
    assert_problem(limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[tokio::test]
async fn one_address_belongs_to_two_organisations_and_the_login_names_the_one_it_wants() {
    let app = TestApp::distributed().await;
    let other = create_organisation(&app.state, "Other Co").await;
    let other_admin = app.login(&app.add_user(other, Role::Admin).await).await;
    let new_user = |password: &str| json!({"email": "Asha@Example.com", "display_name": "Asha", "password": password, "role": "agent"});
    let ours = app
        .post_json("/api/v1/users", Some(&app.admin_token), new_user("first password"))
        .await;
    assert_eq!(ours.status(), StatusCode::CREATED);
    let theirs = app
        .post_json("/api/v1/users", Some(&other_admin), new_user("second password"))
        .await;
    assert_eq!(
        theirs.status(),
        StatusCode::CREATED,
        "another organisation's address is not in the way"
    );
    let theirs: Value = theirs.json().await.unwrap();
    assert_eq!(data(&theirs)["id"], user_id(other, "asha@example.com").as_str());
    let again = app
        .post_json("/api/v1/users", Some(&other_admin), new_user("third password"))
        .await;
    assert_problem(again, StatusCode::CONFLICT, "user_exists").await;

    let ambiguous = log_in(
        &app,
        &app.http,
        json!({"email": "asha@example.com", "password": "first password"}),
    )
    .await;
    let body = assert_problem(ambiguous, StatusCode::CONFLICT, "organisation_required").await;
    let text = body.to_string();
    assert!(!text.contains(&app.organisation_id.to_string()) && !text.contains(&other.to_string()));
    let guess = log_in(
        &app,
        &app.http,
        json!({"email": "asha@example.com", "password": "a wrong password"}),
    )
    .await;
    assert_problem(guess, StatusCode::UNAUTHORIZED, "invalid_credentials").await;

    for (organisation, password) in [(app.organisation_id, "first password"), (other, "second password")] {
        let body = json!({"email": "asha@example.com", "password": password, "organisation": organisation});
        let response = log_in(&app, &app.http, body).await;
        assert_eq!(response.status(), StatusCode::OK);
        let answer: Value = response.json().await.unwrap();
        assert_eq!(
            data(&answer)["user"]["organisation_id"],
            organisation.to_string().as_str()
        );
    }
    let crossed =
        json!({"email": "asha@example.com", "password": "second password", "organisation": app.organisation_id});
    assert_problem(
        log_in(&app, &app.http, crossed).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
}

#[tokio::test]
async fn a_user_registered_under_the_address_only_id_still_loads_logs_in_and_keeps_its_address() {
    use application::{AggregateStore, EventMetadata};
    use domain::user::{UserCommand, legacy_user_id};
    let app = TestApp::embedded().await;
    let email = domain::EmailAddress::parse("old.timer@example.com").unwrap();
    let legacy = legacy_user_id(&email);
    let register = UserCommand::Register {
        user_id: legacy,
        organisation_id: app.organisation_id,
        email: email.clone(),
        display_name: "Old Timer".into(),
        password_hash: application::passwords::hash(PASSWORD.into()).await.unwrap(),
        role: Role::Agent,
        registered_by: None,
        at: chrono::Utc::now(),
    };
    let meta = EventMetadata::system("test", Some(app.organisation_id));
    app.state
        .users
        .execute(&legacy.to_string(), register, &meta)
        .await
        .unwrap();

    let token = app.login(email.as_str()).await;
    let me: Value = app.get("/api/v1/me", Some(&token)).await.json().await.unwrap();
    assert_eq!(data(&me)["id"], legacy.to_string().as_str());
    let same = json!({"email": email.as_str(), "display_name": "Twin", "password": "long enough pw", "role": "agent"});
    let twin = app
        .post_json("/api/v1/users", Some(&app.admin_token), same.clone())
        .await;
    assert_problem(twin, StatusCode::CONFLICT, "user_exists").await;

    let other = create_organisation(&app.state, "Other Co").await;
    let other_admin = app.login(&app.add_user(other, Role::Admin).await).await;
    let elsewhere = app.post_json("/api/v1/users", Some(&other_admin), same).await;
    assert_eq!(elsewhere.status(), StatusCode::CREATED);
    let ambiguous = log_in(&app, &app.http, json!({"email": email.as_str(), "password": PASSWORD})).await;
    assert_problem(ambiguous, StatusCode::CONFLICT, "organisation_required").await;
    let named = json!({"email": email.as_str(), "password": PASSWORD, "organisation": app.organisation_id});
    let named: Value = log_in(&app, &app.http, named).await.json().await.unwrap();
    assert_eq!(data(&named)["user"]["id"], legacy.to_string().as_str());
}

#[tokio::test]
async fn a_password_change_a_reset_and_a_deactivation_each_end_every_token_issued_before() {
    let app = TestApp::embedded().await;
    let email = app.add_user(app.organisation_id, Role::Agent).await;
    let id = user_id(app.organisation_id, &email);
    let first = app.login(&email).await;
    let second = app.login(&email).await;
    let change = json!({"current_password": PASSWORD, "new_password": "a brand new password"});
    let changed = app.post_json("/api/v1/me/password", Some(&first), change).await;
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    for token in [&first, &second] {
        assert_problem(
            app.get("/api/v1/me", Some(token)).await,
            StatusCode::UNAUTHORIZED,
            "session_ended",
        )
        .await;
    }

    let fresh = log_in(
        &app,
        &app.http,
        json!({"email": email, "password": "a brand new password"}),
    )
    .await;
    let fresh: Value = fresh.json().await.unwrap();
    let fresh = data(&fresh)["access_token"].as_str().unwrap().to_string();
    assert_eq!(status_of(&app, "/api/v1/me", &fresh).await, StatusCode::OK);
    let reset = app
        .post_json(
            &format!("/api/v1/users/{id}/password"),
            Some(&app.admin_token),
            json!({"new_password": PASSWORD}),
        )
        .await;
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);
    assert_problem(
        app.get("/api/v1/me", Some(&fresh)).await,
        StatusCode::UNAUTHORIZED,
        "session_ended",
    )
    .await;

    let before_deactivation = app.login(&email).await;
    let deactivate = format!("/api/v1/users/{id}/deactivate");
    assert_eq!(
        app.post_json(&deactivate, Some(&app.admin_token), json!({}))
            .await
            .status(),
        StatusCode::OK
    );
    let reactivate = format!("/api/v1/users/{id}/reactivate");
    assert_eq!(
        app.post_json(&reactivate, Some(&app.admin_token), json!({}))
            .await
            .status(),
        StatusCode::OK
    );
    assert_problem(
        app.get("/api/v1/me", Some(&before_deactivation)).await,
        StatusCode::UNAUTHORIZED,
        "session_ended",
    )
    .await;
    assert_eq!(
        status_of(&app, "/api/v1/me", &app.login(&email).await).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn names_holding_nul_control_or_bidirectional_override_characters_are_refused() {
    let app = TestApp::embedded().await;
    let admin = Some(app.admin_token.as_str());
    for name in ["Asha\u{202E}gnp.exe", "Asha\u{0}", "\u{2066}Asha", "Asha\u{1b}[2J"] {
        let body =
            json!({"email": "asha@example.com", "display_name": name, "password": "long enough pw", "role": "agent"});
        let refused = assert_problem(
            app.post_json("/api/v1/users", admin, body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        )
        .await;
        assert_eq!(refused["field"], "display_name");
    }
    let email = app.add_user(app.organisation_id, Role::Agent).await;
    let rename = app
        .http
        .patch(app.url(&format!("/api/v1/users/{}", user_id(app.organisation_id, &email))))
        .bearer_auth(&app.admin_token)
        .json(&json!({"display_name": "Ravi\u{202D}"}));
    assert_problem(
        rename.send().await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
    let organisation = app
        .http
        .patch(app.url("/api/v1/organisation"))
        .bearer_auth(&app.admin_token)
        .json(&json!({"name": "Acme\u{202E}"}));
    assert_problem(
        organisation.send().await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
    let key = app
        .post_json("/api/v1/api-keys", admin, json!({"name": "crm\u{0}", "role": "agent"}))
        .await;
    assert_problem(key, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
}

#[tokio::test]
async fn a_user_address_is_held_to_the_rule_of_the_send_route() {
    let app = TestApp::embedded().await;
    let body =
        json!({"email": "āsha@example.com", "display_name": "Asha", "password": "long enough pw", "role": "agent"});
    let refused = assert_problem(
        app.post_json("/api/v1/users", Some(&app.admin_token), body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
    assert_eq!(refused["field"], "email");
}

#[tokio::test]
async fn an_admin_cannot_reset_their_own_password_without_the_current_one_and_their_sessions_stand() {
    let app = TestApp::embedded().await;
    let admin_id = user_id(app.organisation_id, &app.admin_email);
    let reset = app
        .post_json(
            &format!("/api/v1/users/{admin_id}/password"),
            Some(&app.admin_token),
            json!({"new_password": "taken over without the old one"}),
        )
        .await;
    assert_problem(reset, StatusCode::UNPROCESSABLE_ENTITY, "own_password_needs_current").await;
    assert_eq!(status_of(&app, "/api/v1/me", &app.admin_token).await, StatusCode::OK);
    let again = app.login(&app.admin_email).await;
    assert_eq!(status_of(&app, "/api/v1/me", &again).await, StatusCode::OK);
}
