//! Logs and the metrics recorder.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;
use tracing_subscriber::EnvFilter;

use infrastructure::config::LogFormat;

/// Bucket bounds of the HTTP latency histogram: 1 ms to 30 s.
const SECONDS_BUCKETS: [f64; 16] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Structured logs to standard error; `RUST_LOG` filters them.
pub fn init_logs(format: LogFormat) {
    let filter = without_secrets(
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,async_nats=warn")),
    );
    let _ = match format {
        LogFormat::Json => tracing::subscriber::set_global_default(json_logs(filter, std::io::stderr)).map_err(drop),
        LogFormat::Pretty => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init()
            .map_err(drop),
    };
}

/// The filter with the IMAP library held at `info` whatever `RUST_LOG`
/// asks: its trace writes every command whole, `LOGIN`'s password with it.
fn without_secrets(mut filter: EnvFilter) -> EnvFilter {
    for directive in ["async_imap=info", "async_imap::imap_stream=info"] {
        if let Ok(directive) = directive.parse() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}

/// JSON lines, one per event, its fields at the top level beside `message`.
fn json_logs<W>(filter: EnvFilter, writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .json()
        .flatten_event(true)
        .finish()
}

/// The process-wide Prometheus recorder (installed once). HTTP latency is a
/// histogram (it aggregates across processes); projection lag is a summary
/// over a rolling minute. A background thread runs the recorder's upkeep, so
/// samples are folded in whether or not `/metrics` is scraped.
pub fn metrics() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE.get_or_init(install).clone()
}

fn install() -> Option<PrometheusHandle> {
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("switchboard_http_request_seconds".into()),
            &SECONDS_BUCKETS,
        )
        .ok()?;
    let handle = builder.install_recorder().ok()?;
    let upkeep = handle.clone();
    std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(1));
                upkeep.run_upkeep();
            }
        })
        .ok()?;
    Some(handle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::response::IntoResponse;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failed_request_logs_one_line_with_one_message_key_and_its_detail() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = json_logs(EnvFilter::new("error"), move || writer.clone());
        tracing::subscriber::with_default(subscriber, || {
            let _ = crate::error::ApiError::unavailable("the store is down").into_response();
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "{text}");
        assert_eq!(lines[0].matches("\"message\":").count(), 1, "{}", lines[0]);
        let line: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(line["message"], "request failed");
        assert_eq!(line["detail"], "the store is down");
        assert_eq!(line["code"], "unavailable");
    }
}
