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

use crate::support::child::{self, child_login, free_port, seed, spawn_server_logging};
use crate::support::{DEFAULT_NATS, TestApp, assert_problem, create_organisation, data, distributed, eventually, sim};

const API_KEY: &str = "AKEY-RECOGNISABLE-7731";
const API_TOKEN: &str = "TOKEN-RECOGNISABLE-9942";
const SMTP_PASSWORD: &str = "SMTP-PASS-RECOGNISABLE-5518";
const IMAP_PASSWORD: &str = "IMAP-PASS-RECOGNISABLE-6604";

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

async fn text(response: reqwest::Response) -> String {
    response.text().await.unwrap()
}

/// Secrets of the integrations the leak test configures against the
/// simulator: characters that JSON, URL and base64 encoding each change.
const SIM_KEY: &str = "AKEY-RECOGNISABLE+7731/x";
const SIM_TOKEN: &str = "TOKEN RECOGNISABLE&9942=\"q\"\\z";
const WRONG_TOKEN: &str = "WRONG-TOKEN RECOGNISABLE&3318";
const MAIL_SMTP: &str = "SMTP PASS&RECOGNISABLE=\"5518\"";
const MAIL_IMAP: &str = "IMAP/PASS+RECOGNISABLE\\6604";

/// Every form of every secret the leak test hands the server, the
/// `key:token` pairs of HTTP Basic among them.
fn leak_forms() -> Vec<String> {
    let secrets = [
        SIM_KEY.to_string(),
        SIM_TOKEN.to_string(),
        WRONG_TOKEN.to_string(),
        MAIL_SMTP.to_string(),
        MAIL_IMAP.to_string(),
        format!("{SIM_KEY}:{SIM_TOKEN}"),
        format!("{SIM_KEY}:{WRONG_TOKEN}"),
    ];
    secrets.iter().flat_map(|s| child::secret_forms(s)).collect()
}

fn sim_phone(sim: &simulator::RunningSimulator, token: &str) -> Value {
    json!({
        "account_sid": "acme1", "api_key": SIM_KEY, "api_token": token, "api_host": sim.base_url(),
        "virtual_number": "01141169368", "caller_id": "01141169368", "display_name": "Main Phone Line"
    })
}

#[tokio::test]
async fn no_secret_appears_in_events_nats_messages_logs_read_models_or_responses() {
    let sim = sim::start().await;
    sim::add_account(&sim, "acme1", SIM_KEY, SIM_TOKEN, &["01141169368"], &["ACMEIN"]).await;
    let (settings, _dir) = distributed(DEFAULT_NATS).await;
    let database_url = secrecy::ExposeSecret::expose_secret(settings.database_url.as_ref().unwrap()).to_string();
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

    let mail = json!({"email": "support@acme.in", "smtp_password": MAIL_SMTP, "imap_password": MAIL_IMAP, "save_unverified": true});
    let sms = json!({"account_sid": "acme1", "api_key": SIM_KEY, "api_token": SIM_TOKEN, "api_host": sim.base_url(), "sender_id": "ACMEIN"});
    let steps = [
        (
            "/api/v1/settings/integrations/exotel_phone/test",
            sim_phone(&sim, SIM_TOKEN),
            StatusCode::OK,
        ),
        (
            "/api/v1/settings/integrations/exotel_phone",
            sim_phone(&sim, SIM_TOKEN),
            StatusCode::OK,
        ),
        (
            "/api/v1/settings/integrations/exotel_phone/sync",
            json!({}),
            StatusCode::OK,
        ),
        ("/api/v1/settings/integrations/exotel_sms", sms, StatusCode::OK),
        ("/api/v1/settings/integrations/zoho_mail", mail, StatusCode::OK),
        (
            "/api/v1/settings/integrations/exotel_phone",
            sim_phone(&sim, WRONG_TOKEN),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/v1/settings/integrations/exotel_phone/test",
            sim_phone(&sim, WRONG_TOKEN),
            StatusCode::OK,
        ),
    ];
    let mut responses = Vec::new();
    for (path, body, status) in steps {
        let response = post(path, body).await.unwrap();
        assert_eq!(response.status(), status, "{path}");
        responses.push(text(response).await);
    }
    assert_eq!(
        data(&serde_json::from_str(&responses[0]).unwrap())["account_verified"],
        true
    );
    assert!(responses[5].contains("connection_test_failed"), "{}", responses[5]);
    assert!(responses[6].contains("Invalid credentials"), "{}", responses[6]);
    let phone_id = integration_id(org, IntegrationKind::ExotelPhone);
    for path in [
        "/api/v1/settings/integrations".to_string(),
        "/api/v1/settings/integrations/exotel_phone".into(),
        "/api/v1/settings/integrations/exotel_sms".into(),
        "/api/v1/settings/integrations/zoho_mail".into(),
        "/api/v1/settings/configuration-status".into(),
        "/api/v1/settings/phone-numbers".into(),
        "/api/v1/audit/events?limit=500".into(),
        format!("/api/v1/audit/aggregates/integration/{phone_id}/history"),
        format!("/api/v1/audit/aggregates/integration/{phone_id}/state"),
    ] {
        let response = get(&path).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        responses.push(text(response).await);
    }
    assert!(responses[8].contains("secret_fingerprints"), "{}", responses[8]);
    assert!(
        responses[12].contains("+911141169368"),
        "the number was synced: {}",
        responses[12]
    );
    let forms = leak_forms();
    for response in &responses {
        child::assert_none_in("a response", response, &forms);
    }
    let asked = sim::requests(&sim).await;
    let with_key = asked.iter().filter(|r| r["user"] == SIM_KEY).count();
    assert!(with_key >= 5, "the secrets were sent to the simulator: {asked:?}");

    child::all_relayed(&database_url).await;
    let tables = child::every_table(&database_url).await;
    let rows = |name: &str| tables.iter().find(|(t, _)| t == name).map_or(0, |(_, rows)| rows.len());
    for table in ["events", "integration_data_keys", "phone_numbers_view", "event_hashes"] {
        assert!(rows(table) > 0, "{table} was filled");
    }
    let events = tables.iter().find(|(t, _)| t == "events").unwrap().1.join("\n");
    assert!(events.contains("IntegrationConfigured") && events.contains("IntegrationConfigurationRejected"));
    for (table, rows) in &tables {
        child::assert_none_in(&format!("table {table}"), &rows.join("\n"), &forms);
    }

    let messages = child::stream_messages(DEFAULT_NATS, &settings.nats_stream).await;
    assert!(
        messages.iter().any(|m| m.contains("IntegrationConfigured")),
        "the integration events were relayed"
    );
    child::assert_none_in("a NATS message", &messages.join("\n"), &forms);

    child::stop(&mut child);
    let logs = child::child_log(&settings);
    assert!(logs.lines().count() > 20, "trace logging was on");
    assert!(logs.contains("exotel_phone"), "the log covers the integration requests");
    child::assert_none_in("the logs", &logs, &forms);
    let login = child::secret_forms(crate::support::PASSWORD);
    child::assert_none_in("the logs (login password)", &logs, &login);
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
    data(&response.json().await.unwrap()).clone()
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
    // Records that are not integrations keep their secrets under data keys too.
    let account = json!({
        "name": "Support", "email": "support@switchboard.test",
        "smtp_host": "127.0.0.1", "smtp_port": 587, "smtp_security": "starttls", "smtp_password": SMTP_PASSWORD,
        "imap_host": "127.0.0.1", "imap_port": 993, "imap_password": IMAP_PASSWORD, "imap_enabled": false,
    });
    let added = app
        .post_json("/api/v1/settings/email-accounts", Some(&app.admin_token), account)
        .await;
    assert_eq!(added.status(), StatusCode::CREATED);
    let account_id = uuid::Uuid::parse_str(
        crate::support::data(&added.json::<Value>().await.unwrap())["id"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let hook = json!({"url": "https://crm.example.com/hooks", "event_types": ["call.completed"]});
    let registered = app.post_json("/api/v1/webhooks", Some(&app.admin_token), hook).await;
    assert_eq!(registered.status(), StatusCode::CREATED);
    let registered: Value = registered.json().await.unwrap();
    let endpoint_id = uuid::Uuid::parse_str(crate::support::data(&registered)["id"].as_str().unwrap()).unwrap();
    let webhook_secret = crate::support::data(&registered)["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let open_others = |state: std::sync::Arc<api::state::AppState>| {
        let webhook_secret = webhook_secret.clone();
        async move {
            let mail = state.email_accounts().open(org, account_id).await.unwrap();
            assert_eq!(mail.smtp_password.as_str(), SMTP_PASSWORD);
            let webhooks = state.webhooks();
            let endpoint = webhooks.get(org, endpoint_id).await.unwrap();
            let keys = webhooks.signing_keys(&endpoint, chrono::Utc::now()).await.unwrap();
            let expected = application::webhooks::signing::key_of(&webhook_secret).unwrap();
            assert_eq!(
                keys,
                vec![expected],
                "the endpoint still signs with the secret it was given"
            );
        }
    };
    open_others(app.state.clone()).await;
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
    assert_eq!(
        both.integrations().rotate_keys(&meta).await.unwrap(),
        4,
        "two integrations, an e-mail account and a webhook endpoint"
    );
    assert_eq!(open_all(both.clone()).await, expected);

    let only_new = with_keys(k2.clone(), None).await.unwrap();
    open_others(only_new.clone()).await;
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
        .unwrap()["data"]
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

    let history: Value = app
        .get(
            &format!("/api/v1/audit/aggregates/integration/{id}/history"),
            Some(&app.admin_token),
        )
        .await
        .json()
        .await
        .unwrap();
    let history = data(&history).as_array().unwrap();
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
    assert_eq!(data(&status)["status"], "not_configured");
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
    let seen = data(&seen);
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
    let theirs = data(&theirs);
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
    assert_eq!(
        data(&still)["status"],
        "active",
        "another organisation cannot touch ours"
    );
}

/// The phone body pointed at a simulator, with the given token.
#[tokio::test]
async fn an_api_key_holds_its_creators_grants_within_its_own_role() {
    let app = TestApp::distributed().await;
    let creator_email = app.add_user(app.organisation_id, Role::Admin).await;
    let creator = app.login(&creator_email).await;
    let creator_id = domain::user::user_id_for(
        app.organisation_id,
        &domain::EmailAddress::parse(&creator_email).unwrap(),
    );
    let issued = app
        .post_json(
            "/api/v1/api-keys",
            Some(&creator),
            json!({"name": "crm", "role": "manager"}),
        )
        .await;
    assert_eq!(issued.status(), StatusCode::CREATED);
    let key = data(&issued.json::<Value>().await.unwrap())["key"]
        .as_str()
        .unwrap()
        .to_string();
    let path = "/api/v1/settings/integrations/exotel_phone";
    let permission = format!("{path}/permissions/{creator_id}");
    let set = |grant: Value| {
        app.http
            .put(app.url(&permission))
            .bearer_auth(&app.admin_token)
            .json(&grant)
            .send()
    };
    assert_eq!(
        set(json!({"can_use": true, "can_configure": true}))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let demoted = app
        .http
        .patch(app.url(&format!("/api/v1/users/{creator_id}")))
        .bearer_auth(&app.admin_token)
        .json(&json!({"role": "manager"}))
        .send()
        .await
        .unwrap();
    assert_eq!(demoted.status(), StatusCode::OK);

    let configured = app.post_json(path, Some(&key), phone_body()).await;
    assert_eq!(configured.status(), StatusCode::OK, "{}", text(configured).await);

    assert_eq!(
        set(json!({"can_use": true, "can_configure": false}))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_problem(
        app.post_json(path, Some(&key), phone_body()).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let disabled = app.post_json(&format!("{path}/disable"), Some(&key), json!({})).await;
    assert_problem(disabled, StatusCode::FORBIDDEN, "forbidden").await;
}

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
    assert_eq!(data(&events)[0]["event_type"], "IntegrationConfigurationRejected");
    let status: Value = app
        .get("/api/v1/settings/integrations/exotel_phone", Some(&app.admin_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(data(&status)["status"], "not_configured");
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

async fn configuration_status(app: &TestApp) -> Value {
    let response = app
        .get("/api/v1/settings/configuration-status", Some(&app.admin_token))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["success"], true);
    body["data"].clone()
}

/// An e-mail account as the e-mail account routes take it; no server is
/// asked, it is only recorded.
fn email_account(address: &str, is_default: bool) -> Value {
    json!({"name": address, "email": address, "smtp_host": "localhost", "smtp_port": 587, "smtp_password": "smtp-secret",
        "smtp_enabled": false, "imap_host": "localhost", "imap_port": 993, "imap_password": "imap-secret",
        "imap_enabled": false, "is_default": is_default})
}

#[tokio::test]
async fn the_configuration_status_counts_the_active_numbers_and_the_e_mail_accounts_not_the_mail_integration() {
    let app = TestApp::embedded().await;
    let sim = sim::start().await;
    configure(&app, "zoho_mail", mail_body()).await;
    let before = configuration_status(&app).await;
    assert_eq!(
        before["email"],
        json!({"configured": false, "accounts": 0}),
        "a mail integration is not an e-mail account"
    );
    assert_eq!(before["phone"], json!({"configured": false}));

    configure(&app, "exotel_phone", simulated_phone(&sim, "sandbox-token")).await;
    for (address, is_default) in [("sales@acme.in", false), ("support@acme.in", true)] {
        let created = app
            .post_json(
                "/api/v1/settings/email-accounts",
                Some(&app.admin_token),
                email_account(address, is_default),
            )
            .await;
        assert_eq!(created.status(), StatusCode::CREATED, "{address}");
    }
    let expected_email = json!({"configured": true, "accounts": 2, "default_account": "support@acme.in"});
    eventually(Duration::from_secs(10), "both accounts are counted", || async {
        configuration_status(&app).await["email"] == expected_email
    })
    .await;
    let status = configuration_status(&app).await;
    assert_eq!(
        status["phone"],
        json!({"configured": true, "provider": "exotel", "numbers": 2}),
        "the simulator's account has two ExoPhones"
    );
    assert_eq!(status["whatsapp"], json!({"configured": false}));
    assert_eq!(status["sms"], json!({"configured": false}));

    let (released, text) = sim::admin_request(
        &sim,
        reqwest::Method::DELETE,
        "accounts/sandbox/exophones/08047112234",
        Value::Null,
    )
    .await;
    assert!(released.is_success(), "{released} {text}");
    let sync = app
        .post_json(
            "/api/v1/settings/integrations/exotel_phone/sync",
            Some(&app.admin_token),
            json!({}),
        )
        .await;
    assert_eq!(sync.status(), StatusCode::OK);
    assert_eq!(
        configuration_status(&app).await["phone"]["numbers"],
        1,
        "a released number is not counted"
    );
}

#[tokio::test]
async fn an_integration_is_disabled_enabled_and_listed_with_its_status() {
    let app = TestApp::embedded().await;
    configure(&app, "exotel_phone", phone_body()).await;
    configure(&app, "zoho_mail", mail_body()).await;
    let disable = "/api/v1/settings/integrations/zoho_mail/disable";
    let disabled = app.post_json(disable, Some(&app.admin_token), json!({})).await;
    assert_eq!(data(&disabled.json::<Value>().await.unwrap())["status"], "disabled");
    let again = app.post_json(disable, Some(&app.admin_token), json!({})).await;
    assert_problem(again, StatusCode::CONFLICT, "already_disabled").await;
    let enable = "/api/v1/settings/integrations/zoho_mail/enable";
    let enabled = app.post_json(enable, Some(&app.admin_token), json!({})).await;
    assert_eq!(data(&enabled.json::<Value>().await.unwrap())["status"], "active");
    let listed: Value = app
        .get("/api/v1/settings/integrations", Some(&app.admin_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["count"], 4);
    let phone = data(&listed)
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["type"] == "exotel_phone")
        .unwrap();
    assert_eq!(
        (
            phone["status"].as_str(),
            phone["verified"].as_bool(),
            phone["display_name"].as_str()
        ),
        (Some("active"), Some(false), Some("Main Phone Line"))
    );
}

#[tokio::test]
async fn an_unknown_or_a_duplicated_field_in_a_configuration_is_refused_and_nothing_is_saved() {
    let app = TestApp::embedded().await;
    let token = Some(app.admin_token.as_str());
    let mut unknown = phone_body();
    unknown["api_secret"] = json!("typo of api_token");
    let body = assert_problem(
        app.post_json("/api/v1/settings/integrations/exotel_phone", token, unknown)
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
    assert_eq!(body["field"], "api_secret", "{body}");
    let mut nested = json!({"account_sid": "acme1", "api_key": "k", "api_token": "t", "whatsapp_number": "+919876543210",
        "business_hours": {"monday": {"start": "09:00", "end": "18:00", "lunch": "13:00"}}, "save_unverified": true});
    let refused = app
        .post_json("/api/v1/settings/integrations/exotel_whatsapp", token, nested.take())
        .await;
    let body = assert_problem(refused, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    assert_eq!(body["field"], "business_hours.monday.lunch", "{body}");
    let twice = r#"{"account_sid": "acme1", "api_key": "k", "api_token": "t", "api_token": "u",
        "virtual_number": "01141169368", "save_unverified": true}"#;
    let duplicated = app
        .http
        .post(app.url("/api/v1/settings/integrations/exotel_phone"))
        .bearer_auth(&app.admin_token)
        .header("content-type", "application/json")
        .body(twice)
        .send()
        .await
        .unwrap();
    let body = assert_problem(duplicated, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    assert!(body["detail"].as_str().unwrap().contains("duplicate field"), "{body}");
    let tested = app
        .http
        .post(app.url("/api/v1/settings/integrations/exotel_phone/test"))
        .bearer_auth(&app.admin_token)
        .header("content-type", "application/json")
        .body(twice)
        .send()
        .await
        .unwrap();
    assert_problem(tested, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    let stored = app
        .count("SELECT COUNT(*) FROM events WHERE aggregate_type = 'integration'")
        .await;
    assert_eq!(stored, 0);
}
