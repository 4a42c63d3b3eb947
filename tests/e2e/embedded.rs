//! The embedded default: one command, a SQLite file, a sandbox to log in to.

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::time::Duration;

use api::sandbox::{SANDBOX_ADMIN, SANDBOX_ORGANISATION};
use application::AggregateStore;

use crate::support::{TestApp, data, embedded, eventually, launch, switchboard_binary};

fn sandbox_password(dir: &std::path::Path) -> String {
    let text = std::fs::read_to_string(dir.join("sandbox-admin.txt")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("password: "))
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn the_sandbox_is_created_once_and_its_admin_can_log_in() {
    let (settings, dir) = embedded();
    let running = launch(&settings).await;
    api::sandbox::ensure(&running.state).await.unwrap();
    let password = sandbox_password(dir.path());
    api::sandbox::ensure(&running.state).await.unwrap();
    assert_eq!(
        sandbox_password(dir.path()),
        password,
        "a second start keeps the sandbox as it was"
    );
    let organisation = running
        .state
        .organisations
        .load(&SANDBOX_ORGANISATION.to_string())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(organisation.version, 1);

    let base = format!("http://{}", running.addr.unwrap());
    let http = reqwest::Client::new();
    let login = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": SANDBOX_ADMIN, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let token = crate::support::data(&login.json::<Value>().await.unwrap())["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let org: Value = http
        .get(format!("{base}/api/v1/organisation"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(crate::support::data(&org)["name"], "Sandbox");
    running.stop().await;
}

#[tokio::test]
async fn users_created_through_the_api_appear_in_the_embedded_projection() {
    let app = TestApp::embedded().await;
    let body =
        json!({"email": "asha@example.com", "display_name": "Asha", "password": "long enough pw", "role": "agent"});
    let created = app.post_json("/api/v1/users", Some(&app.admin_token), body).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    eventually(Duration::from_secs(5), "the new user is listed", || async {
        let listed: Value = app
            .get("/api/v1/users", Some(&app.admin_token))
            .await
            .json()
            .await
            .unwrap();
        crate::support::data(&listed)
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["email"] == "asha@example.com" && u["role"] == "agent" && u["active"] == true)
    })
    .await;
}

#[tokio::test]
async fn the_binary_serves_the_embedded_default_with_no_configuration_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(switchboard_binary())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(dir.path())
        .env_clear()
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    eventually(Duration::from_secs(20), "the server answers /health", || async {
        http.get(format!("{base}/health"))
            .send()
            .await
            .is_ok_and(|r| r.status() == StatusCode::OK)
    })
    .await;
    let login = json!({"email": SANDBOX_ADMIN, "password": sandbox_password(dir.path())});
    let response = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&login)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let token = crate::support::data(&response.json::<Value>().await.unwrap())["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    the_sandbox_is_ready_to_call(&http, &base, &token).await;
    the_sandbox_sends_an_sms_from_its_dlt_template(&http, &base, &token).await;
    the_sandbox_sends_a_whatsapp_template_to_anyone(&http, &base, &token).await;
    let ready: Value = http
        .get(format!("{base}/ready"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["ready"], true);
    let docs = http
        .get(format!("{base}/openapi.json"))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert!(docs["paths"]["/api/v1/auth/login"].is_object());

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "graceful shutdown exits 0");
    assert!(String::from_utf8_lossy(&output.stdout).contains("Sandbox ready"));
}

/// `GET url` with the token; the answer's JSON.
async fn get_json(http: &reqwest::Client, url: &str, token: &str) -> Value {
    http.get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// `POST url` with the token and a JSON body.
async fn post_json(http: &reqwest::Client, url: &str, token: &str, body: &Value) -> reqwest::Response {
    http.post(url).bearer_auth(token).json(body).send().await.unwrap()
}

/// A newcomer's sandbox: the three Exotel integrations active and verified
/// against the in-process simulator, and its numbers synced with a primary.
async fn the_sandbox_is_ready_to_call(http: &reqwest::Client, base: &str, token: &str) {
    let integrations: Value = get_json(http, &format!("{base}/api/v1/settings/integrations"), token).await;
    let listed = data(&integrations).as_array().unwrap();
    for kind in ["exotel_phone", "exotel_sms", "exotel_whatsapp"] {
        let found = listed.iter().find(|i| i["type"] == kind).unwrap();
        assert_eq!(
            (found["status"].as_str(), found["verified"].as_bool()),
            (Some("active"), Some(true)),
            "{kind}"
        );
    }
    eventually(Duration::from_secs(10), "the sandbox's numbers are listed", || async {
        let numbers: Value = get_json(http, &format!("{base}/api/v1/settings/phone-numbers"), token).await;
        numbers["count"] == 2
            && numbers["data"][0]["phone_number"] == "+918047112233"
            && numbers["data"][0]["is_primary"] == true
            && numbers["data"][0]["can_call"] == true
    })
    .await;
}

/// The sandbox's DLT entity and template let an SMS to an Indian number go
/// out at once.
async fn the_sandbox_sends_an_sms_from_its_dlt_template(http: &reqwest::Client, base: &str, token: &str) {
    let sms =
        json!({"to": ["+919812300002"], "template_id": api::sandbox::SANDBOX_DLT_TEMPLATE, "variables": ["4711"]});
    let response = post_json(http, &format!("{base}/api/v1/sms"), token, &sms).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let body: Value = response.json().await.unwrap();
    let id = data(&body)["messages"][0]["id"].as_str().unwrap().to_string();
    eventually(Duration::from_secs(30), "the sandbox's SMS is delivered", || async {
        let message: Value = get_json(http, &format!("{base}/api/v1/sms/{id}"), token).await;
        data(&message)["status"] == "delivered"
    })
    .await;
}

/// The sandbox's synced templates reach a customer who never wrote.
async fn the_sandbox_sends_a_whatsapp_template_to_anyone(http: &reqwest::Client, base: &str, token: &str) {
    let templates: Value = get_json(
        http,
        &format!("{base}/api/v1/whatsapp/templates?status=approved"),
        token,
    )
    .await;
    assert_eq!(templates["count"], 2, "{templates}");
    let message = json!({"to": "+919812300003", "content": {"type": "template", "name": "order_update",
        "language": "en", "body": ["Asha", "A-1042"]}});
    let response = post_json(http, &format!("{base}/api/v1/whatsapp/messages"), token, &message).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let body: Value = response.json().await.unwrap();
    let id = data(&body)["id"].as_str().unwrap().to_string();
    eventually(
        Duration::from_secs(30),
        "the sandbox's template is delivered",
        || async {
            let message: Value = get_json(http, &format!("{base}/api/v1/whatsapp/messages/{id}"), token).await;
            ["delivered", "read"].contains(&data(&message)["status"].as_str().unwrap_or_default())
        },
    )
    .await;
}

#[tokio::test]
async fn a_customer_writing_to_the_sandboxs_simulator_reaches_the_sandbox_on_whatsapp() {
    let (settings, _dir) = embedded();
    let running = launch(&settings).await;
    let state = running.state.clone();
    api::sandbox::ensure(&state).await.unwrap();
    let sim = simulator::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    state.exotel.outbound().permit(sim.addr);
    api::sandbox::connect_simulator(&state, &sim.base_url()).await.unwrap();
    api::sandbox::route_whatsapp(&state, &sim).await.unwrap();
    let incoming =
        json!({"from": "+919812300002", "profile_name": "Asha", "content": {"type": "text", "text": {"body": "Hi"}}});
    let (status, body) =
        crate::support::sim::admin_request(&sim, reqwest::Method::POST, "whatsapp/incoming", incoming).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    eventually(
        Duration::from_secs(10),
        "the sandbox has the customer's message",
        || async {
            let inbound = state
                .messages()
                .inbound(SANDBOX_ORGANISATION, Some("+919812300002"), 10, 0)
                .await
                .unwrap();
            inbound.iter().any(|m| m.text.as_deref() == Some("Hi"))
        },
    )
    .await;
}
