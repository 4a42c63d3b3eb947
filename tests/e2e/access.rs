//! Authentication, roles and tenancy.

use domain::Role;
use jsonwebtoken::{EncodingKey, Header};
use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::support::{TestApp, assert_problem, create_organisation, data};

fn user_id(organisation_id: uuid::Uuid, email: &str) -> String {
    domain::user::user_id_for(organisation_id, &domain::EmailAddress::parse(email).unwrap()).to_string()
}

#[tokio::test]
async fn another_organisations_ids_answer_404_for_reads_and_writes() {
    let app = TestApp::distributed().await;
    let other = create_organisation(&app.state, "Other Co").await;
    let stranger = app.add_user(other, Role::Agent).await;
    let stranger_admin = app.add_user(other, Role::Admin).await;
    let their_token = app.login(&stranger_admin).await;
    let their_key: Value = app
        .post_json(
            "/api/v1/api-keys",
            Some(&their_token),
            json!({"name": "theirs", "role": "agent"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let admin = Some(app.admin_token.as_str());

    assert_problem(
        app.get(&format!("/api/v1/users/{}", user_id(other, &stranger)), admin)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let patch = app
        .http
        .patch(app.url(&format!("/api/v1/users/{}", user_id(other, &stranger))))
        .bearer_auth(&app.admin_token);
    let response = patch.json(&json!({"display_name": "hijacked"})).send().await.unwrap();
    assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    let path = format!("/api/v1/users/{}/deactivate", user_id(other, &stranger));
    assert_problem(
        app.post_json(&path, admin, json!({})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let revoke = app
        .http
        .delete(app.url(&format!(
            "/api/v1/api-keys/{}",
            data(&their_key)["id"].as_str().unwrap()
        )))
        .bearer_auth(&app.admin_token);
    assert_problem(revoke.send().await.unwrap(), StatusCode::NOT_FOUND, "not_found").await;

    let listed: Value = app.get("/api/v1/users", admin).await.json().await.unwrap();
    let listed = data(&listed).as_array().unwrap();
    assert!(!listed.is_empty());
    assert!(
        listed
            .iter()
            .all(|u| u["organisation_id"] == app.organisation_id.to_string())
    );
}

#[tokio::test]
async fn a_role_that_may_not_act_gets_403() {
    let app = TestApp::distributed().await;
    let agent = app.login(&app.add_user(app.organisation_id, Role::Agent).await).await;
    let auditor = app.login(&app.add_user(app.organisation_id, Role::Auditor).await).await;
    let body = json!({"email": "new@example.com", "display_name": "N", "password": "long enough pw", "role": "admin"});
    assert_problem(
        app.post_json("/api/v1/users", Some(&agent), body).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        app.get("/api/v1/api-keys", Some(&agent)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        app.get("/api/v1/users", Some(&auditor)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let rename = app
        .http
        .patch(app.url("/api/v1/organisation"))
        .bearer_auth(&agent)
        .json(&json!({"name": "Mine"}));
    assert_problem(rename.send().await.unwrap(), StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(app.get("/api/v1/users", Some(&agent)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn missing_invalid_expired_and_revoked_credentials_get_401() {
    let app = TestApp::embedded().await;
    assert_problem(
        app.get("/api/v1/users", None).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    assert_problem(
        app.get("/api/v1/users", Some("garbage")).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;

    let now = chrono::Utc::now().timestamp();
    let claims = json!({"sub": uuid::Uuid::new_v4(), "org": app.organisation_id, "role": "admin", "iat": now - 7200, "exp": now - 3600});
    let secret = api::secrets::jwt_secret(&app.settings).unwrap();
    let expired = jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.expose_secret().as_bytes()),
    )
    .unwrap();
    assert_problem(
        app.get("/api/v1/users", Some(&expired)).await,
        StatusCode::UNAUTHORIZED,
        "token_expired",
    )
    .await;

    let forged_claims = json!({"sub": uuid::Uuid::new_v4(), "org": app.organisation_id, "role": "admin", "iat": now, "exp": now + 3600});
    let forged = jsonwebtoken::encode(
        &Header::default(),
        &forged_claims,
        &EncodingKey::from_secret(b"not the server's secret at all!!"),
    )
    .unwrap();
    assert_problem(
        app.get("/api/v1/users", Some(&forged)).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;

    let created: Value = app
        .post_json(
            "/api/v1/api-keys",
            Some(&app.admin_token),
            json!({"name": "crm", "role": "agent"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let created = data(&created).clone();
    let key = created["key"].as_str().unwrap();
    assert_eq!(app.get("/api/v1/users", Some(key)).await.status(), StatusCode::OK);
    let flipped = if key.ends_with('0') { '1' } else { '0' };
    let tampered = format!("{}{flipped}", &key[..key.len() - 1]);
    assert_problem(
        app.get("/api/v1/users", Some(&tampered)).await,
        StatusCode::UNAUTHORIZED,
        "invalid_api_key",
    )
    .await;
    let revoke = app
        .http
        .delete(app.url(&format!("/api/v1/api-keys/{}", created["id"].as_str().unwrap())))
        .bearer_auth(&app.admin_token);
    assert_eq!(revoke.send().await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_problem(
        app.get("/api/v1/users", Some(key)).await,
        StatusCode::UNAUTHORIZED,
        "invalid_api_key",
    )
    .await;
}

#[tokio::test]
async fn a_deactivated_users_token_stops_working_at_once() {
    let app = TestApp::embedded().await;
    let email = app.add_user(app.organisation_id, Role::Manager).await;
    let token = app.login(&email).await;
    assert_eq!(app.get("/api/v1/users", Some(&token)).await.status(), StatusCode::OK);
    let path = format!("/api/v1/users/{}/deactivate", user_id(app.organisation_id, &email));
    assert_eq!(
        app.post_json(&path, Some(&app.admin_token), json!({})).await.status(),
        StatusCode::OK
    );
    assert_problem(
        app.get("/api/v1/users", Some(&token)).await,
        StatusCode::UNAUTHORIZED,
        "user_deactivated",
    )
    .await;
    let login = app
        .post_json(
            "/api/v1/auth/login",
            None,
            json!({"email": email, "password": crate::support::PASSWORD}),
        )
        .await;
    assert_problem(login, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_address_get_the_same_answer() {
    let app = TestApp::embedded().await;
    let email = app.add_user(app.organisation_id, Role::Agent).await;
    let wrong = app
        .post_json(
            "/api/v1/auth/login",
            None,
            json!({"email": email, "password": "not my password"}),
        )
        .await;
    let wrong = assert_problem(wrong, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let unknown = app
        .post_json(
            "/api/v1/auth/login",
            None,
            json!({"email": "nobody@example.com", "password": "whatever it is"}),
        )
        .await;
    let unknown = assert_problem(unknown, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    assert_eq!(wrong["detail"], unknown["detail"]);
}

#[tokio::test]
async fn an_admin_cannot_deactivate_themselves() {
    let app = TestApp::embedded().await;
    let my_id = user_id(app.organisation_id, &app.admin_email);
    let response = app
        .post_json(
            &format!("/api/v1/users/{my_id}/deactivate"),
            Some(&app.admin_token),
            json!({}),
        )
        .await;
    assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "cannot_change_own_access").await;
}

#[tokio::test]
async fn a_user_changes_their_password_only_with_the_current_one() {
    let app = TestApp::embedded().await;
    let email = app.add_user(app.organisation_id, Role::Agent).await;
    let token = app.login(&email).await;
    let me: Value = app.get("/api/v1/me", Some(&token)).await.json().await.unwrap();
    assert_eq!(data(&me)["email"], email.as_str());
    let wrong = json!({"current_password": "not the password", "new_password": "a brand new password"});
    let body = assert_problem(
        app.post_json("/api/v1/me/password", Some(&token), wrong).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
    assert_eq!(body["field"], "current_password");
    let right = json!({"current_password": crate::support::PASSWORD, "new_password": "a brand new password"});
    assert_eq!(
        app.post_json("/api/v1/me/password", Some(&token), right).await.status(),
        StatusCode::NO_CONTENT
    );
    let old = app
        .post_json(
            "/api/v1/auth/login",
            None,
            json!({"email": email, "password": crate::support::PASSWORD}),
        )
        .await;
    assert_problem(old, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let new = app
        .post_json(
            "/api/v1/auth/login",
            None,
            json!({"email": email, "password": "a brand new password"}),
        )
        .await;
    assert_eq!(new.status(), StatusCode::OK);
}
