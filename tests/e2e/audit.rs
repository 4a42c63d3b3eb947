//! The audit log: filters, per-aggregate history, state at a version,
//! tamper evidence, and the auditor role.

use domain::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

use application::AggregateStore;
use infrastructure::database::EventDb;

use crate::support::{TestApp, assert_problem, data, eventually, switchboard_binary};

fn user_id(organisation_id: uuid::Uuid, email: &str) -> String {
    domain::user::user_id_for(organisation_id, &domain::EmailAddress::parse(email).unwrap()).to_string()
}

async fn sealed(app: &TestApp) -> bool {
    let events = app.count("SELECT COUNT(*) FROM events").await;
    app.count("SELECT COUNT(*) FROM event_hashes").await == events
}

async fn verify(app: &TestApp) -> Value {
    let response = app.get("/api/v1/audit/verify", Some(&app.admin_token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    data(&response.json().await.unwrap()).clone()
}

async fn activity(app: &TestApp) -> (String, String) {
    let email = app.add_user(app.organisation_id, Role::Agent).await;
    let id = user_id(app.organisation_id, &email);
    for name in ["Asha", "Asha K", "Asha Kumar"] {
        let patch = app
            .http
            .patch(app.url(&format!("/api/v1/users/{id}")))
            .bearer_auth(&app.admin_token);
        assert_eq!(
            patch
                .json(&json!({"display_name": name}))
                .send()
                .await
                .unwrap()
                .status(),
            StatusCode::OK
        );
    }
    let key = app.create_api_key("crm").await;
    let revoke = app
        .http
        .delete(app.url(&format!("/api/v1/api-keys/{key}")))
        .bearer_auth(&app.admin_token);
    assert_eq!(revoke.send().await.unwrap().status(), StatusCode::NO_CONTENT);
    (id, key)
}

#[tokio::test]
async fn audit_verify_reports_altered_removed_and_swapped_events() {
    let app = TestApp::distributed().await;
    let (user, key) = activity(&app).await;
    eventually(Duration::from_secs(10), "every event sealed", || sealed(&app)).await;
    let clean = verify(&app).await;
    assert_eq!(clean["findings"], json!([]), "{clean}");
    assert!(clean["events_checked"].as_u64().unwrap() >= 8);

    let EventDb::Postgres(pool) = &app.state.db.events else {
        unreachable!()
    };
    sqlx::query("UPDATE events SET payload = jsonb_set(payload, '{UserRenamed,display_name}', '\"Mallory\"') WHERE aggregate_id = $1 AND sequence = 2")
        .bind(&user)
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM events WHERE aggregate_id = $1 AND sequence = 2")
        .bind(&key)
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(
        "UPDATE events e SET payload = o.payload FROM events o WHERE e.aggregate_id = $1 AND o.aggregate_id = $1 \
         AND ((e.sequence = 3 AND o.sequence = 4) OR (e.sequence = 4 AND o.sequence = 3))",
    )
    .bind(&user)
    .execute(pool)
    .await
    .unwrap();

    let report = verify(&app).await;
    let findings = report["findings"].as_array().unwrap();
    let has = |kind: &str, id: &str, sequence: i64| {
        findings
            .iter()
            .any(|f| f["finding"] == kind && f["aggregate_id"] == id && f["sequence"] == sequence)
    };
    assert!(has("altered", &user, 2), "{report}");
    assert!(
        has("altered", &user, 3) && has("altered", &user, 4),
        "a swap alters both: {report}"
    );
    assert!(has("removed", &key, 2), "{report}");

    let output = std::process::Command::new(switchboard_binary())
        .args(["audit", "verify", "--org", &app.organisation_id.to_string()])
        .env_clear()
        .env(
            "DATABASE_URL",
            secrecy::ExposeSecret::expose_secret(app.settings.database_url.as_ref().unwrap()),
        )
        .env("NATS_URL", app.settings.nats_url.as_ref().unwrap())
        .env(
            "SWITCHBOARD_JWT_SECRET",
            secrecy::ExposeSecret::expose_secret(app.settings.jwt_secret.as_ref().unwrap()),
        )
        .env(
            "SWITCHBOARD_MASTER_KEYS",
            secrecy::ExposeSecret::expose_secret(app.settings.master_keys.as_ref().unwrap()),
        )
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    assert!(!output.status.success(), "findings make the command fail");
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        printed.contains("\"finding\":\"removed\"") && printed.contains("\"finding\":\"altered\""),
        "{printed}"
    );
}

#[tokio::test]
async fn state_at_a_version_equals_the_state_the_aggregate_had_then() {
    let app = TestApp::embedded().await;
    let email = app.add_user(app.organisation_id, Role::Agent).await;
    let id = user_id(app.organisation_id, &email);
    let mut states = Vec::new();
    let record = || async {
        let loaded = app.state.users.load(&id).await.unwrap().unwrap();
        let mut state = serde_json::to_value(&loaded.aggregate).unwrap();
        api::routes::audit::redact(&mut state);
        (loaded.version, state)
    };
    states.push(record().await);
    let patch = |body: Value| {
        app.http
            .patch(app.url(&format!("/api/v1/users/{id}")))
            .bearer_auth(&app.admin_token)
            .json(&body)
            .send()
    };
    let renamed = patch(json!({"display_name": "Asha"})).await.unwrap();
    assert_eq!(renamed.status(), StatusCode::OK, "rename");
    states.push(record().await);
    let promoted = patch(json!({"role": "manager"})).await.unwrap();
    assert_eq!(promoted.status(), StatusCode::OK, "role change");
    states.push(record().await);
    let deactivated = app
        .post_json(
            &format!("/api/v1/users/{id}/deactivate"),
            Some(&app.admin_token),
            json!({}),
        )
        .await;
    assert_eq!(deactivated.status(), StatusCode::OK, "deactivation");
    states.push(record().await);

    let versions: Vec<usize> = states.iter().map(|(version, _)| *version).collect();
    assert_eq!(versions, [1, 2, 3, 4], "each command is one new version");
    let facts = |state: &Value| {
        (
            state["display_name"].clone(),
            state["role"].clone(),
            state["active"].clone(),
        )
    };
    let expected = [
        (json!("Test user"), json!("agent"), json!(true)),
        (json!("Asha"), json!("agent"), json!(true)),
        (json!("Asha"), json!("manager"), json!(true)),
        (json!("Asha"), json!("manager"), json!(false)),
    ];
    for (version, loaded) in &states {
        let path = format!("/api/v1/audit/aggregates/user/{id}/state?version={version}");
        let response = app.get(&path, Some(&app.admin_token)).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let body: Value = response.json().await.unwrap();
        let body = data(&body);
        assert_eq!(body["version"], *version as i64);
        assert_eq!(&body["state"], loaded, "version {version}");
        assert_eq!(facts(&body["state"]), expected[version - 1], "version {version}");
        assert_eq!(body["state"]["password_hash"], "[redacted]");
    }
    let beyond = app
        .get(
            &format!("/api/v1/audit/aggregates/user/{id}/state?version=99"),
            Some(&app.admin_token),
        )
        .await;
    assert_problem(beyond, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn audit_events_are_filtered_and_paged_without_gaps_or_repeats() {
    let app = TestApp::embedded().await;
    let (user, _) = activity(&app).await;
    let token = Some(app.admin_token.as_str());
    let total = app.count("SELECT COUNT(*) FROM events").await as usize;

    let mut seen = Vec::new();
    let mut path = "/api/v1/audit/events?limit=3&order=asc".to_string();
    loop {
        let page: Value = app.get(&path, token).await.json().await.unwrap();
        seen.extend(
            data(&page)
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["position"].as_i64().unwrap()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/audit/events?limit=3&order=asc&cursor={cursor}"),
            None => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.dedup();
    assert_eq!((seen.len(), sorted.len()), (total, total), "every event once, in order");
    assert!(seen.windows(2).all(|w| w[0] < w[1]));

    let renames: Value = app
        .get(
            &format!("/api/v1/audit/events?aggregate_id={user}&event_type=UserRenamed"),
            token,
        )
        .await
        .json()
        .await
        .unwrap();
    let renames = data(&renames).as_array().unwrap();
    assert_eq!(renames.len(), 3);
    assert!(
        renames[0]["sequence"].as_i64() > renames[2]["sequence"].as_i64(),
        "newest first by default"
    );
    assert_eq!(renames[0]["payload"]["UserRenamed"]["display_name"], "Asha Kumar");

    let admin = format!("user:{}", user_id(app.organisation_id, &app.admin_email));
    let by_admin: Value = app
        .get(&format!("/api/v1/audit/events?actor={admin}&limit=500"), token)
        .await
        .json()
        .await
        .unwrap();
    let by_admin = data(&by_admin).as_array().unwrap();
    assert!(!by_admin.is_empty() && by_admin.iter().all(|e| e["metadata"]["actor"] == admin.as_str()));
    assert!(
        by_admin
            .iter()
            .all(|e| e["metadata"]["client_ip"] == "127.0.0.1" && e["metadata"]["request_id"].is_string())
    );

    let future: Value = app
        .get("/api/v1/audit/events?from=2100-01-01T00:00:00Z", token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(data(&future), &json!([]));
    assert_problem(
        app.get("/api/v1/audit/events?from=yesterday", token).await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    )
    .await;
}

#[tokio::test]
async fn an_auditor_reads_the_audit_routes_and_nothing_else() {
    let app = TestApp::embedded().await;
    let created: Value = app
        .post_json(
            "/api/v1/api-keys",
            Some(&app.admin_token),
            json!({"name": "external auditor", "role": "auditor"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let auditor = crate::support::data(&created)["key"].as_str().unwrap();
    assert_eq!(
        app.get("/api/v1/audit/events", Some(auditor)).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get("/api/v1/audit/verify", Some(auditor)).await.status(),
        StatusCode::OK
    );
    for path in [
        "/api/v1/users",
        "/api/v1/api-keys",
        "/api/v1/organisation",
        "/api/v1/settings/integrations",
        "/api/v1/settings/configuration-status",
    ] {
        assert_problem(app.get(path, Some(auditor)).await, StatusCode::FORBIDDEN, "forbidden").await;
    }
    let agent = app.login(&app.add_user(app.organisation_id, Role::Agent).await).await;
    assert_problem(
        app.get("/api/v1/audit/events", Some(&agent)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
}

#[tokio::test]
async fn another_organisations_history_answers_404() {
    let app = TestApp::embedded().await;
    let other = crate::support::create_organisation(&app.state, "Other Co").await;
    let stranger = user_id(other, &app.add_user(other, Role::Agent).await);
    let history = app
        .get(
            &format!("/api/v1/audit/aggregates/user/{stranger}/history"),
            Some(&app.admin_token),
        )
        .await;
    assert_problem(history, StatusCode::NOT_FOUND, "not_found").await;
    let events: Value = app
        .get(
            &format!("/api/v1/audit/events?aggregate_id={stranger}"),
            Some(&app.admin_token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(data(&events), &json!([]));
}
