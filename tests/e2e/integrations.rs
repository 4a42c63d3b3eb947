//! Integrations: secrets sealed and never shown, crypto-shredding on
//! delete, key rotation, permissions and tenancy.

use domain::Role;
use domain::integration::{IntegrationKind, integration_id};
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{Value, json};
use std::time::Duration;

use application::AggregateStore;
use application::cipher::{CredentialCipher, DataKeyStore};
use application::integrations::binding;
use infrastructure::cipher::Keyring;

use crate::support::child::{child_login, free_port, seed, spawn_server_logging};
use crate::support::{DEFAULT_NATS, TestApp, assert_problem, create_organisation, distributed, eventually, sim};

const API_KEY: &str = "AKEY-RECOGNISABLE-7731";
const API_TOKEN: &str = "TOKEN-RECOGNISABLE-9942";
const SMTP_PASSWORD: &str = "SMTP-PASS-RECOGNISABLE-5518";
const IMAP_PASSWORD: &str = "IMAP-PASS-RECOGNISABLE-6604";
const SECRETS: [&str; 4] = [API_KEY, API_TOKEN, SMTP_PASSWORD, IMAP_PASSWORD];

fn phone_body() -> Value {
    json!({
        "account_sid": "acme1", "api_key": API_KEY, "api_token": API_TOKEN,
        "virtual_number": "01141169368", "caller_id": "01141169368", "display_name": "Main Phone Line",
        "save_unverified": true
    })
}

fn mail_body() -> Value {
    json!({"email": "support@acme.in", "smtp_password": SMTP_PASSWORD, "imap_password": IMAP_PASSWORD, "save_unverified": true})
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what} contains a secret");
    }
}

async fn text(response: reqwest::Response) -> String {
    response.text().await.unwrap()
}

#[tokio::test]
async fn no_secret_appears_in_events_nats_messages_logs_or_responses() {
    let (settings, _dir) = distributed(DEFAULT_NATS).await;
    let (org, email) = seed(&settings).await;
    let port = free_port();
    let mut child = spawn_server_logging(&settings, port, true, "trace");
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let token = child_login(&http, &base, &email, &settings).await;
    let post = |path: &str, body: Value| {
        http.post(format!("{base}{path}"))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let get = |path: &str| http.get(format!("{base}{path}")).bearer_auth(&token).send();

    let mut responses = Vec::new();
    let configured = post("/api/v1/settings/integrations/exotel_phone", phone_body())
        .await
        .unwrap();
    assert_eq!(configured.status(), StatusCode::OK);
    responses.push(text(configured).await);
    responses.push(
        text(
            post("/api/v1/settings/integrations/zoho_mail", mail_body())
                .await
                .unwrap(),
        )
        .await,
    );
    responses.push(
        text(
            post("/api/v1/settings/integrations/exotel_phone/test", phone_body())
                .await
                .unwrap(),
        )
        .await,
    );
    let mut unverified = phone_body();
    unverified["save_unverified"] = json!(false);
    responses.push(
        text(
            post(
                "/api/v1/settings/integrations/exotel_sms",
                json!({"account_sid": "acme1", "api_key": API_KEY, "api_token": API_TOKEN, "sender_id": "ACMEIN"}),
            )
            .await
            .unwrap(),
        )
        .await,
    );
    responses.push(
        text(
            post("/api/v1/settings/integrations/exotel_phone", unverified)
                .await
                .unwrap(),
        )
        .await,
    );
    let phone_id = integration_id(org, IntegrationKind::ExotelPhone);
    for path in [
        "/api/v1/settings/integrations".to_string(),
        "/api/v1/settings/integrations/exotel_phone".into(),
        "/api/v1/settings/integrations/zoho_mail".into(),
        "/api/v1/settings/configuration-status".into(),
        "/api/v1/audit/events?limit=500".into(),
        format!("/api/v1/audit/aggregates/integration/{phone_id}/history"),
        format!("/api/v1/audit/aggregates/integration/{phone_id}/state"),
    ] {
        let response = get(&path).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        responses.push(text(response).await);
    }
    assert!(responses[0].contains("secret_fingerprints"));
    for response in &responses {
        assert_no_secret("a response", response);
    }

    let pool = sqlx::PgPool::connect(secrecy::ExposeSecret::expose_secret(
        settings.database_url.as_ref().unwrap(),
    ))
    .await
    .unwrap();
    let stored: Vec<String> = sqlx::query_scalar("SELECT payload::text || metadata::text FROM events")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert!(stored.iter().any(|e| e.contains("IntegrationConfigured")));
    assert_no_secret("the events table", &stored.join("\n"));

    let nats = async_nats::connect(DEFAULT_NATS).await.unwrap();
    let js = async_nats::jetstream::new(nats);
    let head: i64 = sqlx::query_scalar("SELECT MAX(global_position) FROM events")
        .fetch_one(&pool)
        .await
        .unwrap();
    eventually(Duration::from_secs(15), "every event relayed", || async {
        let published: Option<i64> = sqlx::query_scalar("SELECT last_pos FROM relay_checkpoints")
            .fetch_optional(&pool)
            .await
            .unwrap();
        published == Some(head)
    })
    .await;
    let stream = js.get_stream(&settings.nats_stream).await.unwrap();
    let mut messages = Vec::new();
    for sequence in 1..=head as u64 {
        if let Ok(message) = stream.get_raw_message(sequence).await {
            messages.push(String::from_utf8_lossy(&message.payload).to_string());
        }
    }
    assert!(
        messages.iter().any(|m| m.contains("IntegrationConfigured")),
        "the integration events were relayed"
    );
    assert_no_secret("a NATS message", &messages.join("\n"));

    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
    let logs = std::fs::read_to_string(settings.data_dir.join("child.log")).unwrap();
    assert!(logs.lines().count() > 20, "trace logging was on");
    assert_no_secret("the logs", &logs);
    assert!(
        !logs.contains(crate::support::PASSWORD),
        "no login password in the logs"
    );
}

async fn configure(app: &TestApp, kind: &str, body: Value) -> Value {
    let response = app
        .post_json(
            &format!("/api/v1/settings/integrations/{kind}"),
            Some(&app.admin_token),
            body,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test]
async fn ciphertext_copied_from_one_integration_to_another_fails_to_open() {
    let app = TestApp::distributed().await;
    configure(&app, "exotel_phone", phone_body()).await;
    configure(&app, "exotel_sms", json!({"account_sid": "acme1", "api_key": "other-key", "api_token": "other-token", "sender_id": "ACMEIN", "save_unverified": true})).await;
    let app = &app;
    let load = |kind| async move {
        let id = integration_id(app.organisation_id, kind);
        let integration = app
            .state
            .integrations
            .load(&id.to_string())
            .await
            .unwrap()
            .unwrap()
            .aggregate;
        let key = app
            .state
            .data_keys
            .get(integration.data_key_id.unwrap())
            .await
            .unwrap()
            .unwrap();
        (id, integration, key)
    };
    let (phone_id, phone, phone_key) = load(IntegrationKind::ExotelPhone).await;
    let (sms_id, _, sms_key) = load(IntegrationKind::ExotelSms).await;
    let token = phone.secrets.iter().find(|s| s.field == "api_token").unwrap();
    let own = app
        .state
        .keyring
        .open(&phone_key, &binding(phone_id, IntegrationKind::ExotelPhone), token)
        .unwrap();
    assert_eq!(own.as_str(), API_TOKEN);
    assert!(
        app.state
            .keyring
            .open(&sms_key, &binding(sms_id, IntegrationKind::ExotelSms), token)
            .is_err()
    );
    assert!(
        app.state
            .keyring
            .open(&phone_key, &binding(sms_id, IntegrationKind::ExotelSms), token)
            .is_err()
    );
}

#[tokio::test]
async fn key_rotation_keeps_every_secret_readable_and_the_old_key_can_then_be_removed() {
    let (k1, k2) = (Keyring::generate_entry("k1"), Keyring::generate_entry("k2"));
    let (mut settings, dir) = distributed(DEFAULT_NATS).await;
    settings.master_keys = Some(SecretString::from(k1.clone()));
    let app = TestApp::start(settings.clone(), Some(dir)).await;
    configure(&app, "exotel_phone", phone_body()).await;
    configure(&app, "zoho_mail", mail_body()).await;
    let org = app.organisation_id;
    let open_all = |state: std::sync::Arc<api::state::AppState>| async move {
        let phone = state
            .integrations()
            .open_secrets(org, IntegrationKind::ExotelPhone)
            .await
            .unwrap();
        let mail = state
            .integrations()
            .open_secrets(org, IntegrationKind::ZohoMail)
            .await
            .unwrap();
        (phone["api_token"].to_string(), mail["imap_password"].to_string())
    };
    let expected = (API_TOKEN.to_string(), IMAP_PASSWORD.to_string());
    assert_eq!(open_all(app.state.clone()).await, expected);

    let with_keys = |spec: String, active: Option<&str>| {
        let mut settings = settings.clone();
        settings.master_keys = Some(SecretString::from(spec));
        settings.master_key_id = active.map(str::to_string);
        api::state::AppState::build(settings, None)
    };
    let both = with_keys(format!("{k1},{k2}"), Some("k2")).await.unwrap();
    let meta = application::EventMetadata::system("test", None);
    assert_eq!(both.integrations().rotate_keys(&meta).await.unwrap(), 2);
    assert_eq!(open_all(both.clone()).await, expected);

    let only_new = with_keys(k2.clone(), None).await.unwrap();
    assert_eq!(open_all(only_new).await, expected);
    let only_old = with_keys(k1, None).await.err().unwrap().to_string();
    assert!(only_old.contains("k2"), "a missing key is named: {only_old}");
    let impostor = with_keys(Keyring::generate_entry("k2"), None)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        impostor.contains("k2") && impostor.contains("cannot open"),
        "a wrong key is named: {impostor}"
    );
    let history: Vec<Value> = app
        .get(
            "/api/v1/audit/events?event_type=IntegrationDataKeyRewrapped",
            Some(&app.admin_token),
        )
        .await
        .json::<Value>()
        .await
        .unwrap()["events"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(history.len(), 2, "each re-wrap is an event");
}

#[tokio::test]
async fn after_delete_the_secret_cannot_be_recovered_even_with_the_master_key() {
    let app = TestApp::distributed().await;
    configure(&app, "exotel_phone", phone_body()).await;
    let id = integration_id(app.organisation_id, IntegrationKind::ExotelPhone);
    let before = app
        .state
        .integrations
        .load(&id.to_string())
        .await
        .unwrap()
        .unwrap()
        .aggregate;
    let data_key_id = before.data_key_id.unwrap();
    assert!(app.state.data_keys.get(data_key_id).await.unwrap().is_some());

    let response = app
        .http
        .delete(app.url("/api/v1/settings/integrations/exotel_phone"))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(
        app.state.data_keys.get(data_key_id).await.unwrap().is_none(),
        "the data key is destroyed"
    );
    assert!(
        app.state
            .data_keys
            .all()
            .await
            .unwrap()
            .iter()
            .all(|k| k.integration_id != id)
    );
    let opened = app
        .state
        .integrations()
        .open_secrets(app.organisation_id, IntegrationKind::ExotelPhone)
        .await;
    assert!(opened.is_err());

    let history: Vec<Value> = app
        .get(
            &format!("/api/v1/audit/aggregates/integration/{id}/history"),
            Some(&app.admin_token),
        )
        .await
        .json()
        .await
        .unwrap();
    let configured = &history[0]["payload"]["IntegrationConfigured"];
    assert!(
        configured["secrets"][0]["ciphertext"].is_string(),
        "the sealed secret is still in the history"
    );
    assert_eq!(history.last().unwrap()["event_type"], "IntegrationDeleted");
    let status: Value = app
        .get("/api/v1/settings/integrations/exotel_phone", Some(&app.admin_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], "not_configured");
    let again = app
        .http
        .delete(app.url("/api/v1/settings/integrations/exotel_phone"))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_problem(again, StatusCode::NOT_FOUND, "not_configured").await;
}

#[tokio::test]
async fn only_admins_or_granted_users_configure_and_other_organisations_see_nothing() {
    let app = TestApp::distributed().await;
    let agent_email = app.add_user(app.organisation_id, Role::Agent).await;
    let agent = app.login(&agent_email).await;
    let path = "/api/v1/settings/integrations/exotel_phone";
    assert_problem(
        app.post_json(path, Some(&agent), phone_body()).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_eq!(
        app.get("/api/v1/settings/integrations", Some(&agent)).await.status(),
        StatusCode::OK
    );

    let agent_id = domain::user::user_id_for(app.organisation_id, &domain::EmailAddress::parse(&agent_email).unwrap());
    let grant = app
        .http
        .put(app.url(&format!("{path}/permissions/{agent_id}")))
        .bearer_auth(&app.admin_token)
        .json(&json!({"can_use": true, "can_configure": true, "daily_limit": 100}))
        .send()
        .await
        .unwrap();
    assert_eq!(grant.status(), StatusCode::OK);
    let seen: Value = app
        .get(&format!("{path}/permissions/{agent_id}"), Some(&agent))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            seen["can_configure"].as_bool(),
            seen["daily_limit"].as_u64(),
            seen["explicit"].as_bool()
        ),
        (Some(true), Some(100), Some(true))
    );
    assert_eq!(
        app.post_json(path, Some(&agent), phone_body()).await.status(),
        StatusCode::OK
    );
    let delete = app.http.delete(app.url(path)).bearer_auth(&agent).send().await.unwrap();
    assert_problem(delete, StatusCode::FORBIDDEN, "forbidden").await;

    let other = create_organisation(&app.state, "Other Co").await;
    let other_admin = app.login(&app.add_user(other, Role::Admin).await).await;
    let theirs: Value = app.get(path, Some(&other_admin)).await.json().await.unwrap();
    assert_eq!(theirs["status"], "not_configured");
    assert!(theirs.get("settings").is_none_or(Value::is_null));
    let cross = app
        .get(&format!("{path}/permissions/{agent_id}"), Some(&other_admin))
        .await;
    assert_problem(cross, StatusCode::NOT_FOUND, "not_found").await;
    let cross_put = app
        .http
        .put(app.url(&format!("{path}/permissions/{agent_id}")))
        .bearer_auth(&other_admin)
        .json(&json!({"can_use": true, "can_configure": true}))
        .send()
        .await
        .unwrap();
    assert_problem(cross_put, StatusCode::NOT_FOUND, "not_found").await;
    let ours = integration_id(app.organisation_id, IntegrationKind::ExotelPhone);
    let history = app
        .get(
            &format!("/api/v1/audit/aggregates/integration/{ours}/history"),
            Some(&other_admin),
        )
        .await;
    assert_problem(history, StatusCode::NOT_FOUND, "not_found").await;
    let delete = app
        .http
        .delete(app.url(path))
        .bearer_auth(&other_admin)
        .send()
        .await
        .unwrap();
    assert_problem(delete, StatusCode::NOT_FOUND, "not_configured").await;
    let still: Value = app.get(path, Some(&app.admin_token)).await.json().await.unwrap();
    assert_eq!(still["status"], "active", "another organisation cannot touch ours");
}

/// The phone body pointed at a simulator, with the given token.
fn simulated_phone(sim: &simulator::RunningSimulator, token: &str) -> Value {
    json!({"account_sid": "sandbox", "api_key": "sandbox-key", "api_token": token, "api_host": sim.base_url(),
        "virtual_number": "08047112233", "display_name": "Main Phone Line"})
}

#[tokio::test]
async fn a_connection_test_asks_exotel_and_answers_in_the_documented_shapes() {
    let app = TestApp::embedded().await;
    let sim = sim::start().await;
    let path = "/api/v1/settings/integrations/exotel_phone/test";
    let token = Some(app.admin_token.as_str());
    let passed: Value = app
        .post_json(path, token, simulated_phone(&sim, "sandbox-token"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        passed,
        json!({"success": true, "message": "Connection test successful",
            "data": {"account_verified": true, "voice_enabled": true, "virtual_number_active": true}})
    );
    let refused: Value = app
        .post_json(path, token, simulated_phone(&sim, "wrong-token"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(refused["success"], false);
    assert_eq!(refused["error"], "Invalid credentials");
    assert_eq!(refused["details"]["status_code"], 401);
    assert_eq!(refused["details"]["exotel_error"], "Authentication failed");
    let mut not_ours = simulated_phone(&sim, "sandbox-token");
    not_ours["virtual_number"] = json!("01141169368");
    let missing: Value = app.post_json(path, token, not_ours).await.json().await.unwrap();
    assert_eq!(missing["details"]["status_code"], 422);
    assert_eq!(
        missing["details"]["exotel_error"],
        "Virtual number not found in account"
    );
    let mail = app
        .post_json("/api/v1/settings/integrations/zoho_mail/test", token, mail_body())
        .await;
    assert_problem(mail, StatusCode::SERVICE_UNAVAILABLE, "connection_test_unavailable").await;
}

#[tokio::test]
async fn sms_and_whatsapp_connection_tests_check_the_account_and_its_numbers() {
    let app = TestApp::embedded().await;
    let sim = simulator::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let token = Some(app.admin_token.as_str());
    let account = json!({"account_sid": "sandbox", "api_key": "sandbox-key", "api_token": "sandbox-token", "api_host": sim.base_url()});
    let with = |extra: Value| {
        let mut body = account.clone();
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };
    let sms: Value = app
        .post_json(
            "/api/v1/settings/integrations/exotel_sms/test",
            token,
            with(json!({"sender_id": "SNDBOX"})),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        sms["data"],
        json!({"account_verified": true, "sms_enabled": true, "sender_id": "SNDBOX"})
    );
    let path = "/api/v1/settings/integrations/exotel_whatsapp/test";
    let whatsapp: Value = app
        .post_json(path, token, with(json!({"whatsapp_number": "+918047112234"})))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        whatsapp["data"],
        json!({"account_verified": true, "whatsapp_enabled": true, "business_number_active": true})
    );
    let unknown: Value = app
        .post_json(path, token, with(json!({"whatsapp_number": "+919876543210"})))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        unknown,
        json!({"success": false, "error": "WhatsApp number not verified",
            "details": {"status_code": 422, "exotel_error": "WhatsApp number not found in account"}})
    );
}

#[tokio::test]
async fn a_configuration_exotel_refuses_is_recorded_and_not_saved() {
    let app = TestApp::embedded().await;
    let sim = sim::start().await;
    let refused = app
        .post_json(
            "/api/v1/settings/integrations/exotel_phone",
            Some(&app.admin_token),
            simulated_phone(&sim, "wrong-token"),
        )
        .await;
    assert_problem(refused, StatusCode::UNPROCESSABLE_ENTITY, "connection_test_failed").await;
    let events: Value = app
        .get(
            "/api/v1/audit/events?aggregate_type=integration",
            Some(&app.admin_token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(events["events"][0]["event_type"], "IntegrationConfigurationRejected");
    let status: Value = app
        .get("/api/v1/settings/integrations/exotel_phone", Some(&app.admin_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], "not_configured");
}

#[tokio::test]
async fn invalid_settings_name_the_field_and_save_nothing() {
    let app = TestApp::embedded().await;
    let token = Some(app.admin_token.as_str());
    let mut bad_number = phone_body();
    bad_number["virtual_number"] = json!("12345");
    let body = assert_problem(
        app.post_json("/api/v1/settings/integrations/exotel_phone", token, bad_number)
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
    assert_eq!(body["field"], "virtual_number");
    let mut no_token = phone_body();
    no_token.as_object_mut().unwrap().remove("api_token");
    let body = assert_problem(
        app.post_json("/api/v1/settings/integrations/exotel_phone", token, no_token)
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
    assert_eq!(body["field"], "api_token");
    let hours = json!({"account_sid": "acme1", "api_key": "k", "api_token": "t", "whatsapp_number": "+919876543210",
        "business_hours": {"enabled": true, "timezone": "Mars/Olympus", "monday": {"start": "09:00", "end": "18:00"}}, "save_unverified": true});
    let body = assert_problem(
        app.post_json("/api/v1/settings/integrations/exotel_whatsapp", token, hours)
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
    assert_eq!(body["field"], "business_hours.timezone");
    assert_problem(
        app.post_json("/api/v1/settings/integrations/fax", token, phone_body())
            .await,
        StatusCode::NOT_FOUND,
        "unknown_integration_type",
    )
    .await;
    let stored = app
        .count("SELECT COUNT(*) FROM events WHERE aggregate_type = 'integration'")
        .await;
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn the_configuration_status_summarises_what_is_set_up() {
    let app = TestApp::embedded().await;
    configure(&app, "exotel_phone", phone_body()).await;
    configure(&app, "zoho_mail", mail_body()).await;
    let status: Value = app
        .get("/api/v1/settings/configuration-status", Some(&app.admin_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["success"], true);
    assert_eq!(
        status["data"]["phone"],
        json!({"configured": true, "provider": "exotel", "numbers": 1})
    );
    assert_eq!(
        status["data"]["email"],
        json!({"configured": true, "accounts": 1, "default_account": "support@acme.in"})
    );
    assert_eq!(status["data"]["whatsapp"], json!({"configured": false}));
    assert_eq!(status["data"]["sms"], json!({"configured": false}));
    let disable = "/api/v1/settings/integrations/zoho_mail/disable";
    let disabled = app.post_json(disable, Some(&app.admin_token), json!({})).await;
    assert_eq!(disabled.json::<Value>().await.unwrap()["status"], "disabled");
    let again = app.post_json(disable, Some(&app.admin_token), json!({})).await;
    assert_problem(again, StatusCode::CONFLICT, "already_disabled").await;
    let enable = "/api/v1/settings/integrations/zoho_mail/enable";
    let enabled = app.post_json(enable, Some(&app.admin_token), json!({})).await;
    assert_eq!(enabled.json::<Value>().await.unwrap()["status"], "active");
    let listed: Vec<Value> = app
        .get("/api/v1/settings/integrations", Some(&app.admin_token))
        .await
        .json()
        .await
        .unwrap();
    let phone = listed.iter().find(|i| i["type"] == "exotel_phone").unwrap();
    assert_eq!(
        (
            phone["status"].as_str(),
            phone["verified"].as_bool(),
            phone["display_name"].as_str()
        ),
        (Some("active"), Some(false), Some("Main Phone Line"))
    );
}
