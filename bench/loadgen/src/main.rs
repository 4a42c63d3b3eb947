//! `sbload`: a minimal HTTP/1.1 load generator for the Switchboard benchmark.
//!
//! Two modes:
//! - closed loop (no `--rate`): `--concurrency` connections, each sending its
//!   next request as soon as the previous one answered (maximum throughput);
//! - open loop (`--rate R`): requests are *scheduled* at a fixed rate of R per
//!   second, spread over up to `--concurrency` connections. Latency is measured
//!   from the scheduled start, so a stalled server is charged for the requests
//!   that queued behind it (no coordinated omission, as in wrk2). The latency
//!   from the actual send ("service" latency) is reported as well.
//!
//! Every latency is kept (no histogram buckets): the percentiles are exact
//! (nearest rank). The result is printed as one JSON object on stdout (and
//! written to `--out` if given), a human summary goes to stderr.
//!
//! Usage:
//!   sbload --url http://127.0.0.1:18090/api/v1/api-keys \
//!          --header 'authorization: Bearer TOKEN' \
//!          --body '{"name":"bench-{n}","role":"agent"}' \
//!          --concurrency 16 --duration 20 [--warmup 2] [--rate 1000] \
//!          [--method POST] [--threads 1] [--label NAME] [--out FILE] [--requests N]
//!
//! `--requests N` (closed loop only) stops after N requests (or at the end of
//! `--duration`, whichever comes first); the rate is then N over the time
//! they took, without warm-up.
//!
//! `{n}` in the body is replaced by the request's sequence number, `{n:012}`
//! by the same padded to twelve digits (the tail of a uuid). With
//! `--values FILE`, `{v}` is replaced by line n of FILE (modulo its number of
//! non-empty lines): ids the server made, one per request.
//!
//! The body is sent as `application/json` unless a `--header 'content-type: …'`
//! says otherwise (e.g. `application/x-www-form-urlencoded`).
//!
//! `sbload realtime …` is the realtime fan-out client instead (WebSocket
//! clients and an open-loop WhatsApp callback load): see `realtime.rs`.

#![recursion_limit = "256"] // serde_json::json! for the realtime report

mod realtime;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

struct Config {
    host: String,
    port: u16,
    path: String,
    authority: String,
    method: Method,
    headers: Vec<(String, String)>,
    body: String,
    values: Vec<String>,
    concurrency: usize,
    duration: Duration,
    warmup: Duration,
    rate: Option<f64>,
    requests: Option<u64>,
    threads: usize,
    label: String,
    out: Option<String>,
}

fn usage(msg: &str) -> ! {
    eprintln!("sbload: {msg}");
    eprintln!(
        "usage: sbload --url http://HOST:PORT/PATH [--method POST] [--header 'k: v']... [--body TEXT] \
         [--concurrency N] [--duration SECS] [--warmup SECS] [--rate PER_SEC] [--threads N] [--label NAME] [--out FILE] [--requests N] [--values FILE]"
    );
    std::process::exit(2);
}

fn parse_args() -> Config {
    let mut args = std::env::args().skip(1);
    let mut url = None;
    let mut method = Method::POST;
    let mut headers = Vec::new();
    let mut body = String::new();
    let mut concurrency = 16usize;
    let mut duration = 20.0f64;
    let mut warmup = 0.0f64;
    let mut rate = None;
    let mut requests = None;
    let mut threads = 1usize;
    let mut label = String::from("run");
    let mut out = None;
    let mut values = Vec::new();
    while let Some(flag) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        match flag.as_str() {
            "--url" => url = Some(value()),
            "--method" => method = value().parse().unwrap_or_else(|_| usage("bad --method")),
            "--header" => {
                let v = value();
                let (k, val) = v
                    .split_once(':')
                    .unwrap_or_else(|| usage("--header wants 'name: value'"));
                headers.push((k.trim().to_string(), val.trim().to_string()));
            }
            "--body" => body = value(),
            "--concurrency" => concurrency = value().parse().unwrap_or_else(|_| usage("bad --concurrency")),
            "--duration" => duration = value().parse().unwrap_or_else(|_| usage("bad --duration")),
            "--warmup" => warmup = value().parse().unwrap_or_else(|_| usage("bad --warmup")),
            "--rate" => rate = Some(value().parse::<f64>().unwrap_or_else(|_| usage("bad --rate"))),
            "--requests" => requests = Some(value().parse::<u64>().unwrap_or_else(|_| usage("bad --requests"))),
            "--threads" => threads = value().parse().unwrap_or_else(|_| usage("bad --threads")),
            "--label" => label = value(),
            "--out" => out = Some(value()),
            "--values" => {
                let path = value();
                let text = std::fs::read_to_string(&path).unwrap_or_else(|e| usage(&format!("--values {path}: {e}")));
                values = text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(String::from)
                    .collect();
                if values.is_empty() {
                    usage(&format!("--values {path} has no values"));
                }
            }
            "-h" | "--help" => usage("help"),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    let url = url.unwrap_or_else(|| usage("--url is required"));
    let rest = url
        .strip_prefix("http://")
        .unwrap_or_else(|| usage("only http:// URLs are supported"));
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.parse().unwrap_or_else(|_| usage("bad port in --url"))),
        None => (authority.to_string(), 80),
    };
    if concurrency == 0 || threads == 0 || duration <= 0.0 || rate.is_some_and(|r| r <= 0.0) {
        usage("concurrency, threads, duration and rate must be positive");
    }
    if requests.is_some() && (rate.is_some() || warmup > 0.0) {
        usage("--requests is for the closed loop without warm-up");
    }
    Config {
        host,
        port,
        path: path.to_string(),
        authority: authority.to_string(),
        method,
        headers,
        body,
        values,
        concurrency,
        duration: Duration::from_secs_f64(duration),
        warmup: Duration::from_secs_f64(warmup),
        rate,
        requests,
        threads,
        label,
        out,
    }
}

type Sender = http1::SendRequest<Full<Bytes>>;

async fn connect(cfg: &Config) -> Result<Sender, String> {
    let stream = TcpStream::connect((cfg.host.as_str(), cfg.port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

async fn send(sender: &mut Sender, cfg: &Config, n: u64) -> Result<u16, String> {
    sender.ready().await.map_err(|e| format!("connection: {e}"))?;
    let mut body = if cfg.body.contains("{n") {
        cfg.body
            .replace("{n}", &n.to_string())
            .replace("{n:012}", &format!("{n:012}"))
    } else {
        cfg.body.clone()
    };
    if !cfg.values.is_empty() && body.contains("{v}") {
        body = body.replace("{v}", &cfg.values[(n % cfg.values.len() as u64) as usize]);
    }
    let mut req = Request::builder()
        .method(cfg.method.clone())
        .uri(cfg.path.as_str())
        .header("host", cfg.authority.as_str());
    if !body.is_empty() && !cfg.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
        req = req.header("content-type", "application/json");
    }
    for (k, v) in &cfg.headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let req = req
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("request: {e}"))?;
    let resp = sender.send_request(req).await.map_err(|e| format!("send: {e}"))?;
    let status = resp.status().as_u16();
    resp.into_body().collect().await.map_err(|e| format!("body: {e}"))?;
    Ok(status)
}

#[derive(Default)]
struct Stats {
    /// Microseconds from the scheduled start (= actual start in closed loop).
    corrected: Vec<u64>,
    /// Microseconds from the actual send.
    service: Vec<u64>,
    statuses: BTreeMap<u16, u64>,
    errors: u64,
    error_sample: Option<String>,
    last_done: Option<Instant>,
}

impl Stats {
    fn merge(&mut self, other: Stats) {
        self.corrected.extend(other.corrected);
        self.service.extend(other.service);
        for (k, v) in other.statuses {
            *self.statuses.entry(k).or_default() += v;
        }
        self.errors += other.errors;
        if self.error_sample.is_none() {
            self.error_sample = other.error_sample;
        }
        self.last_done = match (self.last_done, other.last_done) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
}

async fn worker(
    cfg: Arc<Config>,
    ticket: Arc<AtomicU64>,
    start: Instant,
    measure_from: Instant,
    end: Instant,
) -> Stats {
    let mut stats = Stats::default();
    let mut sender: Option<Sender> = None;
    if cfg.rate.is_none() {
        // The closed loop starts with the schedule: a request sent before
        // `start` would be neither warm-up nor measured.
        tokio::time::sleep_until(start.into()).await;
    }
    loop {
        let n = ticket.fetch_add(1, Ordering::Relaxed);
        if cfg.requests.is_some_and(|max| n >= max) {
            break;
        }
        let scheduled = match cfg.rate {
            Some(rate) => {
                let at = start + Duration::from_secs_f64(n as f64 / rate);
                if at >= end {
                    break;
                }
                tokio::time::sleep_until(at.into()).await;
                at
            }
            None => {
                let now = Instant::now();
                if now >= end {
                    break;
                }
                now
            }
        };
        if sender.is_none() {
            match connect(&cfg).await {
                Ok(s) => sender = Some(s),
                Err(e) => {
                    if scheduled >= measure_from {
                        stats.errors += 1;
                        stats.error_sample.get_or_insert(e);
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            }
        }
        let sent = Instant::now();
        let result = send(sender.as_mut().expect("connected"), &cfg, n).await;
        let done = Instant::now();
        let measured = scheduled >= measure_from;
        match result {
            Ok(status) if measured => {
                stats.corrected.push((done - scheduled).as_micros() as u64);
                stats.service.push((done - sent).as_micros() as u64);
                *stats.statuses.entry(status).or_default() += 1;
                stats.last_done = Some(done);
            }
            Ok(_) => {}
            Err(e) => {
                sender = None;
                if measured {
                    stats.errors += 1;
                    stats.error_sample.get_or_insert(e);
                }
            }
        }
    }
    stats
}

fn percentiles(mut values: Vec<u64>) -> String {
    if values.is_empty() {
        return "null".into();
    }
    values.sort_unstable();
    let n = values.len();
    let at = |p: f64| {
        let rank = ((p * n as f64).ceil() as usize).clamp(1, n);
        values[rank - 1] as f64 / 1000.0
    };
    let mean = values.iter().map(|v| *v as f64).sum::<f64>() / n as f64 / 1000.0;
    format!(
        "{{\"p50\": {:.3}, \"p90\": {:.3}, \"p99\": {:.3}, \"p999\": {:.3}, \"max\": {:.3}, \"mean\": {:.3}}}",
        at(0.50),
        at(0.90),
        at(0.99),
        at(0.999),
        values[n - 1] as f64 / 1000.0,
        mean
    )
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// CPU seconds this process has used (Linux; USER_HZ is 100 there).
fn own_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

fn main() {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("realtime") {
        realtime::main(args.skip(1).collect());
        return;
    }
    let cfg = Arc::new(parse_args());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.threads)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let report = runtime.block_on(async {
        // Give the connections a moment to open before the schedule starts.
        let start = Instant::now() + Duration::from_millis(50);
        let measure_from = start + cfg.warmup;
        let end = measure_from + cfg.duration;
        let ticket = Arc::new(AtomicU64::new(0));
        let mut handles = Vec::with_capacity(cfg.concurrency);
        for _ in 0..cfg.concurrency {
            handles.push(tokio::spawn(worker(cfg.clone(), ticket.clone(), start, measure_from, end)));
        }
        let mut stats = Stats::default();
        for h in handles {
            stats.merge(h.await.expect("worker panicked"));
        }
        let requests = stats.corrected.len() as u64;
        let elapsed = stats.last_done.map(|d| (d - measure_from).as_secs_f64()).unwrap_or(cfg.duration.as_secs_f64());
        let elapsed = match cfg.requests {
            Some(_) => elapsed,
            None => elapsed.max(cfg.duration.as_secs_f64() * 0.5),
        };
        let ok: u64 = stats.statuses.iter().filter(|(k, _)| (200..300).contains(*k)).map(|(_, v)| *v).sum();
        let statuses = stats.statuses.iter().map(|(k, v)| format!("\"{k}\": {v}")).collect::<Vec<_>>().join(", ");
        eprintln!(
            "sbload [{}] {} in {:.2}s: {} responses ({} 2xx), {} errors, {:.1}/s",
            cfg.label,
            match cfg.rate {
                Some(r) => format!("open loop at {r}/s over {} connections", cfg.concurrency),
                None => format!("closed loop, {} connections", cfg.concurrency),
            },
            elapsed,
            requests,
            ok,
            stats.errors,
            requests as f64 / elapsed
        );
        if let Some(e) = &stats.error_sample {
            eprintln!("sbload [{}] first error: {e}", cfg.label);
        }
        format!(
            "{{\"label\": {}, \"mode\": \"{}\", \"concurrency\": {}, \"target_rate\": {}, \"duration_s\": {:.3}, \
             \"requests\": {}, \"ok\": {}, \"errors\": {}, \"error_sample\": {}, \"rate\": {:.2}, \"statuses\": {{{}}}, \
             \"latency_ms\": {}, \"service_latency_ms\": {}, \"loadgen_cpu_s\": {}}}",
            json_string(&cfg.label),
            if cfg.rate.is_some() { "open" } else { "closed" },
            cfg.concurrency,
            cfg.rate.map(|r| r.to_string()).unwrap_or_else(|| "null".into()),
            elapsed,
            requests,
            ok,
            stats.errors,
            stats.error_sample.as_deref().map(json_string).unwrap_or_else(|| "null".into()),
            requests as f64 / elapsed,
            statuses,
            percentiles(std::mem::take(&mut stats.corrected)),
            percentiles(std::mem::take(&mut stats.service)),
            own_cpu_seconds().map(|c| format!("{c:.2}")).unwrap_or_else(|| "null".into()),
        )
    });
    if let Some(path) = &cfg.out {
        if let Err(e) = std::fs::write(path, format!("{report}\n")) {
            eprintln!("sbload: writing {path}: {e}");
            std::process::exit(1);
        }
    }
    println!("{report}");
}
