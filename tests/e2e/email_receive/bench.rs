//! The ingestion benchmark's driver, run by `bench/email_ingest.sh` (which
//! fills the mailbox and measures the raw IMAP limit beside it): a full
//! ingestion of a folder already holding the corpus, then delivery-to-thread
//! latencies with IDLE. Ignored in ordinary test runs.

use serde_json::json;
use std::time::{Duration, Instant};
use uuid::Uuid;

use super::*;
use crate::support::{DEFAULT_NATS, distributed, embedded, launch};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run bench/email_ingest.sh"))
}

async fn count(state: &AppState, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(&state.db.read)
        .await
        .unwrap()
}

/// Seconds from `start` until `sql` counts at least `target`.
async fn until(state: &AppState, sql: &str, target: i64, start: Instant, limit: Duration) -> f64 {
    while count(state, sql).await < target {
        assert!(start.elapsed() < limit, "not done after {limit:?}: {sql}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    start.elapsed().as_secs_f64()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run through bench/email_ingest.sh"]
async fn email_ingest_benchmark() {
    let (user, folder, messages) = (env("BENCH_MAIL_USER"), env("BENCH_MAIL_FOLDER"), env("BENCH_MESSAGES"));
    let messages: i64 = messages.parse().unwrap();
    let samples: usize = env("BENCH_LATENCY_SAMPLES").parse().unwrap();
    let (mut settings, _dir) = match env("BENCH_MODE").as_str() {
        "distributed" => distributed(DEFAULT_NATS).await,
        _ => embedded(),
    };
    settings.mail_ca_file = Some(CA_FILE.into());
    settings.mail_lease_secs = 3;
    let running = launch(&settings).await;
    let state = running.state.clone();
    let organisation_id = create_organisation(&state, "Bench Ltd").await;

    let added = Instant::now();
    add_account(&state, organisation_id, &user, &env("BENCH_MAIL_PASSWORD"), &[&folder]).await;
    let limit = Duration::from_secs(3600);
    // Cheap counts only (index and checkpoint reads), so that measuring
    // does not slow the store down: events through the primary key, the
    // view through its projector's checkpoint.
    let leased = until(&state, "SELECT COUNT(*) FROM mail_leases", 1, added, limit).await;
    let received = "SELECT COUNT(*) FROM events WHERE aggregate_type = 'inbound_email'";
    let recorded = until(&state, received, messages, added, limit).await;
    let applied =
        "SELECT COALESCE(MAX(events_applied), 0) FROM projection_checkpoints WHERE projector = 'email_threads'";
    let visible = until(&state, applied, messages, added, limit).await;
    let threads = count(&state, "SELECT COUNT(*) FROM email_threads").await;
    let timeline = count(&state, "SELECT COUNT(*) FROM email_thread_messages").await;
    assert_eq!(timeline, messages, "every message is in a thread");
    let rejected = count(&state, "SELECT COUNT(*) FROM events WHERE event_type = 'EmailRejected'").await;

    let mut latencies = Vec::with_capacity(samples);
    for n in 0..samples {
        tokio::time::sleep(Duration::from_millis(50 + (n as u64 * 37) % 100)).await;
        let id = format!("latency-{n}-{}@bench.example", Uuid::new_v4().simple());
        let raw = message(Some(&id), "late@corpus.example", &format!("Latency {n}"), "", "timing");
        let saved = tokio::task::spawn_blocking({
            let (user, name) = (user.clone(), folder.clone());
            move || {
                doveadm(&["save", "-u", &user, "-m", &name], Some(&raw));
                Instant::now()
            }
        })
        .await
        .unwrap();
        let sql = format!(
            "SELECT COUNT(*) FROM email_message_threads WHERE organisation_id = '{organisation_id}' AND message_id = '{id}'"
        );
        while count(&state, &sql).await == 0 {
            assert!(saved.elapsed() < Duration::from_secs(30), "message {n} never showed");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        latencies.push(saved.elapsed().as_secs_f64() * 1000.0);
    }
    latencies.sort_by(f64::total_cmp);
    let result = json!({
        "mode": env("BENCH_MODE"), "messages": messages, "threads": threads, "rejected": rejected,
        "seconds_to_lease": leased, "seconds_to_recorded": recorded, "seconds_to_visible": visible,
        "messages_per_second": messages as f64 / visible,
        "latency_samples": latencies.len(),
        "latency_ms": {"p50": percentile(&latencies, 50.0), "p99": percentile(&latencies, 99.0),
                       "max": latencies.last().copied().unwrap_or(0.0)},
    });
    std::fs::write(env("BENCH_RESULT"), result.to_string()).unwrap();
    println!("{result}");
    running.stop().await;
}
