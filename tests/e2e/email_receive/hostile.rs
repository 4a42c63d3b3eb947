//! Mail that is broken, huge or odd is ingested as best understood or
//! recorded as rejected, and the poller goes on.

use serde_json::Value;
use std::time::Duration;

use super::*;
use crate::support::{DEFAULT_NATS, distributed};

fn malformed_mime() -> Vec<u8> {
    b"From: asha@example.in\r\nSubject: Malformed\r\nMessage-ID: <malformed@test>\r\n\
Content-Type: multipart/mixed; boundary=\"declared\"\r\n\r\n--other\r\n\
Content-Type: text/plain\r\n\r\nno such boundary, never closed\r\n--declared\r\nContent-Type: \r\n"
        .to_vec()
}

fn huge_headers() -> Vec<u8> {
    let mut headers = format!("X-Long: {}\r\n", "h".repeat(150_000));
    for n in 0..1000 {
        headers.push_str(&format!("X-Many-{n}: value {n}\r\n"));
    }
    message(
        Some("huge@test"),
        "asha@example.in",
        "Huge headers",
        &headers,
        "small body",
    )
}

fn non_utf8() -> Vec<u8> {
    let mut raw = b"From: asha@example.in\r\nSubject: Latin\r\nMessage-ID: <latin@test>\r\n\
Content-Type: text/plain; charset=iso-8859-1\r\n\r\nCaf\xe9 \xff\xfe cr\xe8me\x00 \x01nul\r\n"
        .to_vec();
    raw.extend_from_slice(b"\r\n");
    raw
}

/// A small and a large attachment, both plain text sent as 7bit lines.
fn with_attachments(big: usize) -> Vec<u8> {
    let large = format!("{}\r\n", "a".repeat(1022)).repeat(big / 1024);
    format!(
        "From: asha@example.in\r\nSubject: Attachments\r\nMessage-ID: <attach@test>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n\
--b\r\nContent-Type: text/plain; name=\"small.txt\"\r\nContent-Disposition: attachment; filename=\"small.txt\"\r\n\r\n\
small attachment\r\n\
--b\r\nContent-Type: application/octet-stream; name=\"big.bin\"\r\nContent-Disposition: attachment; filename=\"big.bin\"\r\n\
Content-Transfer-Encoding: 7bit\r\n\r\n{large}--b--\r\n"
    )
    .into_bytes()
}

fn too_large() -> Vec<u8> {
    let body = format!("{}\r\n", "z".repeat(76)).repeat(4000);
    message(Some("too-large@test"), "asha@example.in", "Too large", "", &body)
}

async fn payload(app: &TestApp, event_type: &str, needle: &str) -> Value {
    let rows = app
        .rows(&format!(
            "SELECT CAST(payload AS TEXT) FROM events WHERE event_type = '{event_type}' AND CAST(payload AS TEXT) LIKE '%{needle}%'"
        ))
        .await;
    assert_eq!(rows.len(), 1, "one {event_type} with {needle}");
    serde_json::from_str(&rows[0]).unwrap()
}

/// On PostgreSQL, the stricter store (its jsonb refuses NUL characters),
/// with events carried over NATS.
#[tokio::test]
async fn hostile_mail_is_ingested_or_recorded_as_rejected_and_the_poller_lives_on() {
    let (settings, dir) = distributed(DEFAULT_NATS).await;
    let app = TestApp::start(mail_settings(settings), Some(dir)).await;
    let (folder, account) = account_on_new_folder(&app, "load1@switchboard.test").await;
    for raw in [
        malformed_mime(),
        huge_headers(),
        non_utf8(),
        with_attachments(100 * 1024),
        too_large(),
    ] {
        folder.save(&raw);
    }
    folder.save(&message(
        Some(&new_id()),
        "asha@example.in",
        "After the storm",
        "",
        "calm",
    ));
    thread_titled(&app, "After the storm", Duration::from_secs(20)).await;

    assert_eq!(inbound_events(&app.state, account, "EmailReceived").await, 5);
    assert_eq!(inbound_events(&app.state, account, "EmailRejected").await, 1);
    let rejected = payload(&app, "EmailRejected", "too-large@test").await["EmailRejected"].clone();
    assert_eq!(rejected["reason"]["reason"], "too_large");
    assert_eq!(rejected["reason"]["limit_bytes"], ATTACHMENT_LIMIT * 4);

    let latin = thread_titled(&app, "Latin", Duration::from_secs(1)).await;
    let text = latin["messages"][0]["body_text"].as_str().unwrap().trim();
    let kept = text.starts_with("Café") && text.contains("crème") && text.ends_with("nul");
    assert!(kept && !text.chars().any(|c| c == '\0' || c == '\u{1}'), "{text}");
    let huge = thread_titled(&app, "Huge headers", Duration::from_secs(1)).await;
    assert_eq!(
        huge["messages"][0]["body_text"].as_str().map(str::trim),
        Some("small body")
    );
    thread_titled(&app, "Malformed", Duration::from_secs(1)).await;

    let received = payload(&app, "EmailReceived", "attach@test").await["EmailReceived"].clone();
    let attachments = received["attachments"].as_array().unwrap();
    let small = attachments.iter().find(|a| a["filename"] == "small.txt").unwrap();
    let big = attachments.iter().find(|a| a["filename"] == "big.bin").unwrap();
    assert_eq!(small["storage"]["status"], "stored");
    assert_eq!(
        big["storage"],
        serde_json::json!({"status": "skipped_over_limit", "limit_bytes": ATTACHMENT_LIMIT})
    );
    assert!(big["size"].as_u64().unwrap() > ATTACHMENT_LIMIT);
    let sha = small["sha256"].as_str().unwrap();
    let stored = app.settings.data_dir.join("attachments").join(&sha[..2]).join(sha);
    assert_eq!(
        String::from_utf8(std::fs::read(stored).unwrap()).unwrap().trim_end(),
        "small attachment"
    );
    let skipped = app
        .settings
        .data_dir
        .join("attachments")
        .join(&big["sha256"].as_str().unwrap()[..2]);
    assert!(!skipped.join(big["sha256"].as_str().unwrap()).exists());
}
