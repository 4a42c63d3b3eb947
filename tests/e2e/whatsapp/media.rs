//! Customers' media files: fetched from the simulator's account-only URL
//! with the integration's credentials as soon as the message arrives, kept
//! by content, served by the API; a file the provider no longer has is
//! recorded as gone and not asked for again.

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

use application::messages::MediaFiles;
use simulator::RunningSimulator;

use super::{app_and_simulator, customer_writes};
use crate::support::{TestApp, assert_problem, eventually, sim};

const ASHA: &str = "+919812300091";

/// The customer's received messages, newest first.
async fn received(app: &TestApp) -> Vec<Value> {
    let path = format!("/api/v1/whatsapp/inbound?from={}", ASHA.replace('+', "%2B"));
    let body: Value = app.get(&path, Some(&app.admin_token)).await.json().await.unwrap();
    body["data"].as_array().cloned().unwrap_or_default()
}

/// The simulator's GETs of a media path, with the account they authenticated as.
async fn fetches(sim: &RunningSimulator, path: &str) -> Vec<Value> {
    sim::requests(sim)
        .await
        .into_iter()
        .filter(|r| r["method"] == "GET" && r["path"].as_str().is_some_and(|p| p == path))
        .collect()
}

fn photo(url: &str) -> Value {
    json!({"type": "image", "image": {"url": url, "mime_type": "image/jpeg", "caption": "The torn packet"}})
}

#[tokio::test]
async fn a_customers_photo_is_fetched_once_with_the_accounts_credentials_and_kept_by_content() {
    let (app, sim) = app_and_simulator().await;
    let bytes: Vec<u8> = (0..4096u32).map(|i| (i % 251) as u8).collect();
    let put = reqwest::Client::new()
        .put(format!("{}/_simulator/accounts/sandbox/media/photo-1", sim.base_url()))
        .header("content-type", "image/jpeg")
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::CREATED);
    let path = put.json::<Value>().await.unwrap()["path"].as_str().unwrap().to_string();
    customer_writes(&app, &sim, ASHA, photo(&format!("{}{path}", sim.base_url()))).await;
    let message = received(&app).await.remove(0);
    assert_eq!(
        (&message["kind"], &message["text"]),
        (&json!("media"), &json!("The torn packet"))
    );
    let id = message["id"].as_str().unwrap().to_string();
    let sha256 = infrastructure::mail::attachments::sha256_hex(&bytes);
    eventually(Duration::from_secs(10), "the fetcher keeps the photo", || async {
        app.state.media_files.find(&sha256).is_some()
    })
    .await;
    let kept = app.state.media_files.find(&sha256).unwrap();
    assert_eq!(std::fs::read(kept).unwrap(), bytes);
    for _ in 0..2 {
        let served = app
            .get(&format!("/api/v1/whatsapp/inbound/{id}/media"), Some(&app.admin_token))
            .await;
        assert_eq!(served.status(), StatusCode::OK);
        assert_eq!(served.headers()["content-type"], "image/jpeg");
        assert_eq!(served.bytes().await.unwrap().to_vec(), bytes);
    }
    let asked = fetches(&sim, &path).await;
    assert_eq!(asked.len(), 1, "fetched once, served from where it is kept: {asked:?}");
    assert_eq!(asked[0]["user"], sim::KEY, "with the integration's credentials");
    let unknown = app
        .get(
            &format!("/api/v1/whatsapp/inbound/{}/media", uuid::Uuid::new_v4()),
            Some(&app.admin_token),
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn media_the_provider_no_longer_has_is_recorded_gone_and_not_asked_for_again() {
    let (app, sim) = app_and_simulator().await;
    let path = "/v2/accounts/sandbox/media/expired";
    customer_writes(&app, &sim, ASHA, photo(&format!("{}{path}", sim.base_url()))).await;
    let id = received(&app).await[0]["id"].as_str().unwrap().to_string();
    eventually(Duration::from_secs(10), "the fetcher asks once", || async {
        fetches(&sim, path).await.len() == 1
    })
    .await;
    let media = format!("/api/v1/whatsapp/inbound/{id}/media");
    eventually(Duration::from_secs(10), "the media is recorded gone", || async {
        app.get(&media, Some(&app.admin_token)).await.status() == StatusCode::NOT_FOUND
    })
    .await;
    let gone = app.get(&media, Some(&app.admin_token)).await;
    assert_problem(gone, StatusCode::NOT_FOUND, "media_unavailable").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(fetches(&sim, path).await.len(), 1, "a lost file is not asked for again");
}

/// A media host that fails its first `failing` requests with a 500, then
/// serves the file; it counts every request.
async fn flaky_host(failing: usize) -> (std::net::SocketAddr, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let hits = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let app = axum::Router::new().route(
        "/m/photo",
        axum::routing::get(move || {
            let counted = counted.clone();
            async move {
                let hit = counted.fetch_add(1, Ordering::SeqCst);
                match hit < failing {
                    true => (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        [("content-type", "text/plain")],
                        b"down".to_vec(),
                    ),
                    false => (StatusCode::OK, [("content-type", "image/png")], b"png bytes".to_vec()),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, hits)
}

#[tokio::test]
async fn a_media_host_that_fails_is_asked_again_later_not_at_every_poll_and_the_file_is_kept_once_it_answers() {
    use std::sync::atomic::Ordering;
    let (app, sim) = app_and_simulator().await;
    let (host, hits) = flaky_host(2).await;
    app.state.exotel.outbound().permit(host);
    customer_writes(&app, &sim, ASHA, photo(&format!("http://{host}/m/photo"))).await;
    eventually(Duration::from_secs(5), "the first attempt fails", || async {
        hits.load(Ordering::SeqCst) >= 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "no second attempt within two seconds of a failure"
    );
    let sha256 = infrastructure::mail::attachments::sha256_hex(b"png bytes");
    eventually(
        Duration::from_secs(15),
        "the file is kept once the host answers",
        || async { app.state.media_files.find(&sha256).is_some() },
    )
    .await;
    assert_eq!(hits.load(Ordering::SeqCst), 3, "two failures, then the file");
}
