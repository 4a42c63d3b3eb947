//! The one rule for every URL the server requests on a user's behalf (an
//! Exotel `api_host` today): no userinfo tricks, no loopback, link-local or
//! private address unless the configuration allows it — by the URL, by what
//! a name resolves to, or by where a redirect points.

use axum::http::{StatusCode as AxumStatus, Uri, header};
use reqwest::StatusCode;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use simulator::RunningSimulator;

use crate::support::{TestApp, assert_problem, embedded, sim};

/// An app whose outbound rule refuses private addresses, but for `allow`.
async fn strict_app(allow: &str) -> TestApp {
    let (mut settings, dir) = embedded();
    settings.outbound_allow_private = false;
    settings.outbound_allow = allow.to_string();
    TestApp::start(settings, Some(dir)).await
}

async fn configure(app: &TestApp, api_host: &str, save_unverified: bool) -> reqwest::Response {
    let body = json!({"account_sid": "sandbox", "api_key": sim::KEY, "api_token": sim::TOKEN,
        "api_host": api_host, "virtual_number": sim::EXOPHONE, "save_unverified": save_unverified});
    app.post_json(
        "/api/v1/settings/integrations/exotel_phone",
        Some(&app.admin_token),
        body,
    )
    .await
}

async fn requests_received(sim: &RunningSimulator) -> usize {
    sim::requests(sim).await.len()
}

fn port_of(sim: &RunningSimulator) -> u16 {
    sim.base_url().rsplit(':').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn an_api_host_with_userinfo_is_refused_at_configure_time_even_unverified() {
    let app = TestApp::embedded().await;
    let sim = sim::start().await;
    let port = port_of(&sim);
    for host in [
        format!("http://127.0.0.1:{port}@evil.invalid/"),
        format!("http://evil.invalid@127.0.0.1:{port}/"),
        format!("http://user:pass@127.0.0.1:{port}"),
        format!("http://127.0.0.1:{port}/v1?to=evil.invalid"),
        format!("ftp://127.0.0.1:{port}"),
    ] {
        for unverified in [false, true] {
            let body = assert_problem(
                configure(&app, &host, unverified).await,
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
            )
            .await;
            assert_eq!(body["field"], "api_host", "{host}");
        }
    }
    assert_eq!(requests_received(&sim).await, 0, "nothing was requested");
    let recorded = app
        .count("SELECT COUNT(*) FROM events WHERE aggregate_type = 'integration'")
        .await;
    assert_eq!(recorded, 0, "nothing was saved");
}

#[tokio::test]
async fn a_simulator_on_loopback_is_reached_when_the_configuration_allows_private_targets() {
    let app = TestApp::embedded().await;
    assert!(
        app.settings.outbound_allow_private,
        "the tests' settings allow loopback"
    );
    let sim = sim::start().await;
    let saved = configure(&app, &sim.base_url(), false).await;
    assert_eq!(saved.status(), StatusCode::OK);
    assert!(requests_received(&sim).await > 0);
}

#[tokio::test]
async fn a_loopback_address_is_refused_when_private_targets_are_not_allowed() {
    let app = strict_app("").await;
    let sim = sim::start().await;
    let port = port_of(&sim);
    for host in [
        format!("http://127.0.0.1:{port}"),
        format!("http://127.1:{port}"),
        format!("http://2130706433:{port}"),
        format!("http://[::ffff:127.0.0.1]:{port}"),
    ] {
        let body = assert_problem(
            configure(&app, &host, false).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "connection_test_failed",
        )
        .await;
        assert!(
            body["detail"].as_str().unwrap().contains("could not be reached"),
            "{host}: {body}"
        );
    }
    assert_eq!(requests_received(&sim).await, 0, "the simulator was never reached");
}

#[tokio::test]
async fn a_name_that_resolves_to_loopback_is_refused_when_private_targets_are_not_allowed() {
    let app = strict_app("").await;
    let sim = sim::start().await;
    let host = format!("http://localhost:{}", port_of(&sim));
    assert_problem(
        configure(&app, &host, false).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "connection_test_failed",
    )
    .await;
    let saved = configure(&app, &host, true).await;
    assert_eq!(saved.status(), StatusCode::OK, "saved unverified");
    let sync = app
        .post_json(
            "/api/v1/settings/integrations/exotel_phone/sync",
            Some(&app.admin_token),
            json!({}),
        )
        .await;
    assert!(
        !sync.status().is_success(),
        "the sync is refused too: {}",
        sync.status()
    );
    assert_eq!(requests_received(&sim).await, 0, "the simulator was never reached");
}

#[tokio::test]
async fn an_address_on_the_allow_list_is_reached_though_private() {
    let sim = sim::start().await;
    let app = strict_app(&format!("127.0.0.1:{}", port_of(&sim))).await;
    let saved = configure(&app, &sim.base_url(), false).await;
    assert_eq!(saved.status(), StatusCode::OK);
    assert!(requests_received(&sim).await > 0);
}

/// A server that answers every request with a redirect to the same path on
/// `target`; how many requests it got.
async fn redirector(target: String) -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let app = axum::Router::new().fallback(move |uri: Uri| {
        let (target, counted) = (target.clone(), counted.clone());
        async move {
            counted.fetch_add(1, Ordering::SeqCst);
            let location = format!("{target}{}", uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
            (AxumStatus::TEMPORARY_REDIRECT, [(header::LOCATION, location)])
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), hits)
}

#[tokio::test]
async fn a_redirect_from_an_allowed_server_to_a_refused_address_is_not_followed() {
    let sim = sim::start().await;
    let (redirecting, hits) = redirector(sim.base_url()).await;
    let app = strict_app(redirecting.trim_start_matches("http://")).await;
    let body = assert_problem(
        configure(&app, &redirecting, false).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "connection_test_failed",
    )
    .await;
    assert!(hits.load(Ordering::SeqCst) > 0, "the allowed server was asked: {body}");
    assert_eq!(requests_received(&sim).await, 0, "the redirect was not followed");
    let by_name = format!("http://localhost:{}", port_of(&sim));
    let (to_name, _) = redirector(by_name).await;
    let app = strict_app(to_name.trim_start_matches("http://")).await;
    let refused = configure(&app, &to_name, false).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        requests_received(&sim).await,
        0,
        "nor one to a name resolving to loopback"
    );
}
