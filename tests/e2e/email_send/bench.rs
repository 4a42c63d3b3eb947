//! The send-rate benchmark's Switchboard half, run by `bench/email_send.sh`
//! (release build): `BENCH_SENDS` e-mails through `POST
//! /api/v1/communications/emails`, `BENCH_CONCURRENCY` at a time, each a
//! whole SMTP conversation with the real Postfix on 587 (STARTTLS, login,
//! envelope, DATA) and three committed events. Recipients are outside
//! `switchboard.test`, which Postfix accepts after login and discards, so no
//! test mailbox fills up. Prints one JSON line with the figures.

use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

use super::mail::{self, STARTTLS, add_account};
use crate::support::{self, TestApp};

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

async fn app(mode: &str) -> TestApp {
    let (mut settings, dir) = match mode {
        "distributed" => support::distributed(support::DEFAULT_NATS).await,
        _ => support::embedded(),
    };
    settings.rate_limit_per_actor = 1_000_000;
    settings.rate_limit_per_organisation = 1_000_000;
    settings.db_max_connections = 16;
    TestApp::start(mail::with_mail(settings), Some(dir)).await
}

fn body(i: usize) -> Value {
    json!({
        "to": format!("sink{i}@example.com"),
        "subject": format!("Benchmark message {i}"),
        "html": format!("<p>Hello,</p><p>this is message <b>{i}</b> of the send-rate benchmark.</p>{}", "<p>Lorem ipsum dolor sit amet.</p>".repeat(20)),
        "text": format!("Hello,\n\nthis is message {i} of the send-rate benchmark.\n{}", "Lorem ipsum dolor sit amet.\n".repeat(20)),
    })
}

async fn run(app: &TestApp, range: std::ops::Range<usize>, concurrency: usize) -> Vec<Duration> {
    let one = |i: usize| async move {
        let started = Instant::now();
        let response = mail::send(app, &body(i)).await;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or_default();
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        assert_eq!(answer["data"]["status"], "sent", "{answer}");
        started.elapsed()
    };
    futures::stream::iter(range)
        .map(one)
        .buffer_unordered(concurrency)
        .collect()
        .await
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run by bench/email_send.sh"]
async fn send_rate_through_postfix() {
    let sends = setting("BENCH_SENDS", 500);
    let concurrency = setting("BENCH_CONCURRENCY", 8);
    let warmup = setting("BENCH_WARMUP", 20);
    let mode = std::env::var("BENCH_MODE").unwrap_or_else(|_| "embedded".into());
    let app = app(&mode).await;
    add_account(&app, STARTTLS).await;
    run(&app, 0..warmup, concurrency).await;
    let started = Instant::now();
    let mut latencies = run(&app, warmup..warmup + sends, concurrency).await;
    let seconds = started.elapsed().as_secs_f64();
    let accepted = app
        .count("SELECT COUNT(*) FROM events WHERE event_type = 'EmailAccepted'")
        .await;
    assert_eq!(accepted as usize, warmup + sends);
    latencies.sort();
    let figures = json!({
        "mode": mode, "sends": sends, "concurrency": concurrency, "seconds": seconds,
        "per_second": sends as f64 / seconds,
        "p50_ms": percentile(&latencies, 0.5), "p99_ms": percentile(&latencies, 0.99),
    });
    println!("BENCH_RESULT {figures}");
}
