//! `sbload realtime`: the realtime fan-out benchmark's client.
//!
//! Opens `--clients` WebSocket connections to `GET /api/v1/realtime`, split
//! round-robin over the `--ws` URLs (one per API process), each with
//! `Authorization: Bearer --token`, and waits for each one's `ready`. Then
//! posts customers' WhatsApp messages to the `--post` callback URLs (round
//! robin), open loop at `--rate` per second for `--duration` seconds, and
//! for every `thread.message` change every client receives records when it
//! arrived. Two latencies per (client, change) pair:
//!
//! - from the change's `occurred_at` (the server's clock when it began to
//!   handle the callback, before the commit): an upper bound of commit →
//!   client, the primary figure;
//! - from the moment the callback POST that carried the message was
//!   answered (the server answers after the commit): a lower bound.
//!
//! Each message's text is `sb-bench <n>`, so the change's `preview` names
//! the message. The memory of the server processes (`--pid`, in `--ws`
//! order) is sampled from `/proc/<pid>/status` (VmRSS): before the clients
//! connect (after a short priming round: one connection per process and
//! `--prime` messages, closed again), after they are all ready and idle
//! for `--idle` seconds, every second during the load, and after it.
//! After the load it waits (at most `--settle` seconds, or until 5 s pass
//! without an arrival) until every client has every answered message.
//!
//! One JSON object goes to stdout (and `--out`), a summary to stderr.

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

/// The client's WebSocket read buffer (tungstenite's default is 128 KiB).
const CLIENT_READ_BUFFER: usize = 8 * 1024;

struct Config {
    ws: Vec<String>,
    post: Vec<String>,
    token: String,
    clients: usize,
    rate: f64,
    duration: f64,
    customers: u64,
    customer_base: u64,
    to: String,
    post_connections: usize,
    connect_parallel: usize,
    idle: f64,
    settle: f64,
    prime: u64,
    pids: Vec<u32>,
    threads: usize,
    label: String,
    out: Option<String>,
    hook: Option<String>,
}

fn usage(msg: &str) -> ! {
    eprintln!("sbload realtime: {msg}");
    eprintln!(
        "usage: sbload realtime --ws ws://HOST:PORT/api/v1/realtime [--ws …] --post http://HOST:PORT/webhooks/… [--post …] \
         --token TOKEN [--clients 1000] [--rate 200] [--duration 30] [--customers 1000] [--customer-base 0] [--to +918047112233] \
         [--post-connections 32] [--connect-parallel 64] [--idle 5] [--settle 60] [--prime 20] [--pid PID]... \
         [--threads 2] [--label NAME] [--out FILE] [--hook CMD]"
    );
    std::process::exit(2);
}

fn parse_args(args: Vec<String>) -> Config {
    let mut cfg = Config {
        ws: Vec::new(),
        post: Vec::new(),
        token: String::new(),
        clients: 1000,
        rate: 200.0,
        duration: 30.0,
        customers: 1000,
        customer_base: 0,
        to: "+918047112233".into(),
        post_connections: 32,
        connect_parallel: 64,
        idle: 5.0,
        settle: 60.0,
        prime: 20,
        pids: Vec::new(),
        threads: 2,
        label: "realtime".into(),
        out: None,
        hook: None,
    };
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        fn num<T: std::str::FromStr>(v: String, flag: &str) -> T {
            v.parse().unwrap_or_else(|_| usage(&format!("bad {flag}")))
        }
        match flag.as_str() {
            "--ws" => cfg.ws.push(value()),
            "--post" => cfg.post.push(value()),
            "--token" => cfg.token = value(),
            "--clients" => cfg.clients = num(value(), &flag),
            "--rate" => cfg.rate = num(value(), &flag),
            "--duration" => cfg.duration = num(value(), &flag),
            "--customers" => cfg.customers = num(value(), &flag),
            "--customer-base" => cfg.customer_base = num(value(), &flag),
            "--to" => cfg.to = value(),
            "--post-connections" => cfg.post_connections = num(value(), &flag),
            "--connect-parallel" => cfg.connect_parallel = num(value(), &flag),
            "--idle" => cfg.idle = num(value(), &flag),
            "--settle" => cfg.settle = num(value(), &flag),
            "--prime" => cfg.prime = num(value(), &flag),
            "--pid" => cfg.pids.push(num(value(), &flag)),
            "--threads" => cfg.threads = num(value(), &flag),
            "--label" => cfg.label = value(),
            "--out" => cfg.out = Some(value()),
            "--hook" => cfg.hook = Some(value()),
            "-h" | "--help" => usage("help"),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    if cfg.ws.is_empty() || cfg.post.is_empty() || cfg.token.is_empty() {
        usage("--ws, --post and --token are required");
    }
    if cfg.clients == 0 || cfg.rate <= 0.0 || cfg.duration <= 0.0 || cfg.customers == 0 || cfg.post_connections == 0 {
        usage("clients, rate, duration, customers and post-connections must be positive");
    }
    if !cfg.pids.is_empty() && cfg.pids.len() != cfg.ws.len() {
        usage("give one --pid per --ws, in the same order");
    }
    cfg
}

/// The clocks every latency is read from: one monotonic origin and the
/// wall clock at that origin (to compare with the server's `occurred_at`).
#[derive(Clone, Copy)]
struct Clock {
    origin: Instant,
    wall_origin_us: i64,
}

impl Clock {
    fn new() -> Self {
        let origin = Instant::now();
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Self {
            origin,
            wall_origin_us: wall.as_micros() as i64,
        }
    }
    fn mono_us(&self, at: Instant) -> i64 {
        at.saturating_duration_since(self.origin).as_micros() as i64
    }
}

/// `2026-12-02T14:49:14.123456Z` (RFC 3339 UTC, as the server writes it)
/// as microseconds since the epoch.
fn rfc3339_us(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, s) = (n(0..4)?, n(5..7)?, n(8..10)?, n(11..13)?, n(14..16)?, n(17..19)?);
    let mut micros = 0i64;
    let mut rest = &text[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits: String = frac.chars().take_while(|c| c.is_ascii_digit()).collect();
        rest = &frac[digits.len()..];
        let mut padded = digits.clone();
        padded.truncate(6);
        while padded.len() < 6 {
            padded.push('0');
        }
        micros = padded.parse().ok()?;
    }
    if rest != "Z" && rest != "+00:00" {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y, m) = if mo <= 2 { (y - 1, mo + 9) } else { (y, mo - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + h * 3600 + mi * 60 + s) * 1_000_000) + micros)
}

/// The text value of `"key":"…"` in a JSON text written without spaces.
fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let start = text.find(key)? + key.len();
    let end = text[start..].find('"')?;
    Some(&text[start..start + end])
}

/// One change received by one client.
#[derive(Clone, Copy)]
struct Sample {
    /// The message's number (from its `preview`).
    n: u32,
    /// Arrival, microseconds after the clock's origin.
    arrival_us: i64,
    /// Arrival minus the change's `occurred_at`, microseconds.
    from_occurred_us: i64,
}

#[derive(Default)]
struct ClientResult {
    process: usize,
    connected: bool,
    ready: bool,
    connect_error: Option<String>,
    ready_after_ms: Option<f64>,
    samples: Vec<Sample>,
    primes: u64,
    heartbeats: u64,
    other_changes: BTreeMap<String, u64>,
    resyncs: Vec<String>,
    /// When each resync arrived, µs after the clock's origin.
    resync_at_us: Vec<i64>,
    closed: Vec<String>,
    ended_early: Option<String>,
    unparsed: u64,
}

type Ws = tokio_tungstenite::WebSocketStream<TcpStream>;

async fn open_socket(url: &str, token: &str) -> Result<Ws, String> {
    let mut request = url.into_client_request().map_err(|e| format!("request: {e}"))?;
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().map_err(|_| "bad token".to_string())?,
    );
    let rest = url.strip_prefix("ws://").ok_or("only ws:// URLs")?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let stream = TcpStream::connect(authority)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = stream.set_nodelay(true);
    // tungstenite zero-fills its whole read buffer (128 KiB by default) at
    // every read; frames here are < 1 KiB, so a small buffer keeps the
    // client's CPU for the server on a shared machine.
    let config = WebSocketConfig::default().read_buffer_size(CLIENT_READ_BUFFER);
    let (ws, response) = tokio_tungstenite::client_async_with_config(request, stream, Some(config))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    if response.status().as_u16() != 101 {
        return Err(format!("handshake answered {}", response.status()));
    }
    Ok(ws)
}

/// Reads the socket until `ready`; the messages before it are counted as
/// replayed (none expected: no `last_event_id`).
async fn until_ready(ws: &mut Ws, result: &mut ClientResult) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let frame = tokio::time::timeout_at(deadline, ws.next())
            .await
            .map_err(|_| "no ready within 60 s".to_string())?;
        match frame {
            Some(Ok(Message::Text(text))) => {
                let text: &str = text.as_str();
                match field(text, "\"type\":\"") {
                    Some("ready") => return Ok(()),
                    Some("heartbeat") => result.heartbeats += 1,
                    Some("resync") => {
                        result
                            .resyncs
                            .push(field(text, "\"reason\":\"").unwrap_or("?").to_string());
                        return Err(format!("resync before ready: {text}"));
                    }
                    Some(other) => *result.other_changes.entry(format!("before_ready:{other}")).or_default() += 1,
                    None => result.unparsed += 1,
                }
            }
            Some(Ok(Message::Close(frame))) => return Err(format!("closed before ready: {frame:?}")),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(format!("read before ready: {e}")),
            None => return Err("ended before ready".into()),
        }
    }
}

/// Follows the socket until `stop`, recording every change.
async fn follow(
    ws: &mut Ws,
    result: &mut ClientResult,
    clock: Clock,
    mut stop: tokio::sync::watch::Receiver<bool>,
    pairs: Arc<AtomicU64>,
) {
    loop {
        if *stop.borrow() {
            return;
        }
        let frame = tokio::select! {
            _ = stop.changed() => return,
            frame = ws.next() => frame,
        };
        let arrived = Instant::now();
        match frame {
            Some(Ok(Message::Text(text))) => {
                let text: &str = text.as_str();
                match field(text, "\"type\":\"") {
                    Some("thread.message") => {
                        let preview = field(text, "\"preview\":\"").unwrap_or("");
                        if let Some(n) = preview.strip_prefix("sb-bench ").and_then(|n| n.parse::<u32>().ok()) {
                            let arrival_us = clock.mono_us(arrived);
                            let from_occurred_us = field(text, "\"occurred_at\":\"")
                                .and_then(rfc3339_us)
                                .map(|occurred| clock.wall_origin_us + arrival_us - occurred)
                                .unwrap_or(i64::MIN);
                            result.samples.push(Sample {
                                n,
                                arrival_us,
                                from_occurred_us,
                            });
                            pairs.fetch_add(1, Ordering::Relaxed);
                        } else if preview.starts_with("sb-prime ") {
                            result.primes += 1;
                        } else {
                            *result.other_changes.entry("thread.message(other)".into()).or_default() += 1;
                        }
                    }
                    Some("heartbeat") => result.heartbeats += 1,
                    Some("resync") => {
                        result
                            .resyncs
                            .push(field(text, "\"reason\":\"").unwrap_or("?").to_string());
                        result.resync_at_us.push(clock.mono_us(arrived));
                    }
                    Some("closed") => {
                        result
                            .closed
                            .push(field(text, "\"reason\":\"").unwrap_or("?").to_string());
                    }
                    Some(other) => *result.other_changes.entry(other.to_string()).or_default() += 1,
                    None => result.unparsed += 1,
                }
            }
            Some(Ok(Message::Close(frame))) => {
                result.ended_early = Some(format!("close frame: {frame:?}"));
                return;
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                result.ended_early = Some(format!("read: {e}"));
                return;
            }
            None => {
                result.ended_early = Some("stream ended".into());
                return;
            }
        }
    }
}

/// VmRSS of a process, in kB.
fn vm_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn rss_all(pids: &[u32]) -> Vec<Option<u64>> {
    pids.iter().map(|p| vm_rss_kb(*p)).collect()
}

type Sender = http1::SendRequest<Full<Bytes>>;

struct Target {
    authority: String,
    path: String,
}

fn target(url: &str) -> Target {
    let rest = url
        .strip_prefix("http://")
        .unwrap_or_else(|| usage("--post wants http:// URLs"));
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    Target {
        authority: authority.to_string(),
        path: path.to_string(),
    }
}

async fn http_connect(authority: &str) -> Result<Sender, String> {
    let stream = TcpStream::connect(authority)
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

fn callback_body(cfg: &Config, run: &str, n: u64, text: &str) -> String {
    // No `timestamp`: the server takes its own clock as the receipt time,
    // which the change's `occurred_at` then is.
    let from = format!("+9198{:08}", (cfg.customer_base + n % cfg.customers) % 100_000_000);
    json!({"whatsapp": {"messages": [{
        "callback_type": "incoming_message",
        "sid": format!("wamid-{run}-{n}"),
        "from": from,
        "to": cfg.to,
        "profile_name": "Bench customer",
        "content": {"type": "text", "text": {"body": text}},
    }]}})
    .to_string()
}

async fn post(sender: &mut Sender, target: &Target, body: String) -> Result<u16, String> {
    sender.ready().await.map_err(|e| format!("connection: {e}"))?;
    let request = Request::builder()
        .method(Method::POST)
        .uri(target.path.as_str())
        .header("host", target.authority.as_str())
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("request: {e}"))?;
    let response = sender.send_request(request).await.map_err(|e| format!("send: {e}"))?;
    let status = response.status().as_u16();
    response.into_body().collect().await.map_err(|e| format!("body: {e}"))?;
    Ok(status)
}

/// What the open-loop poster recorded.
struct Posted {
    /// Per message: when its POST was answered 2xx (µs after the origin + 1; 0: not).
    answered: Vec<AtomicU64>,
    statuses: Mutex<BTreeMap<u16, u64>>,
    errors: AtomicU64,
    error_sample: Mutex<Option<String>>,
    /// Per message, µs from its scheduled time to its answer.
    latency_us: Mutex<Vec<u64>>,
    /// Per message, µs from its sending to its answer (the server's own time).
    service_us: Mutex<Vec<u64>>,
    last_answer: AtomicU64,
}

async fn poster(
    cfg: Arc<Config>,
    run: String,
    posted: Arc<Posted>,
    ticket: Arc<AtomicU64>,
    clock: Clock,
    start: Instant,
    total: u64,
) {
    let targets: Vec<Target> = cfg.post.iter().map(|u| target(u)).collect();
    let mut senders: Vec<Option<Sender>> = targets.iter().map(|_| None).collect();
    let mut latencies = Vec::new();
    let mut services = Vec::new();
    loop {
        let n = ticket.fetch_add(1, Ordering::Relaxed);
        if n >= total {
            break;
        }
        let scheduled = start + Duration::from_secs_f64(n as f64 / cfg.rate);
        tokio::time::sleep_until(scheduled.into()).await;
        let which = (n as usize) % targets.len();
        let body = callback_body(&cfg, &run, n, &format!("sb-bench {n}"));
        let sent = Instant::now();
        let mut outcome = Err(String::new());
        for _attempt in 0..2 {
            if senders[which].is_none() {
                match http_connect(&targets[which].authority).await {
                    Ok(s) => senders[which] = Some(s),
                    Err(e) => {
                        outcome = Err(e);
                        continue;
                    }
                }
            }
            outcome = post(
                senders[which].as_mut().expect("connected"),
                &targets[which],
                body.clone(),
            )
            .await;
            if outcome.is_err() {
                senders[which] = None;
                continue;
            }
            break;
        }
        let done = Instant::now();
        match outcome {
            Ok(status) => {
                *posted.statuses.lock().unwrap().entry(status).or_default() += 1;
                if (200..300).contains(&status) {
                    let at = clock.mono_us(done) as u64;
                    posted.answered[n as usize].store(at + 1, Ordering::Relaxed);
                    posted.last_answer.fetch_max(at, Ordering::Relaxed);
                }
                latencies.push((done - scheduled).as_micros() as u64);
                services.push((done - sent).as_micros() as u64);
            }
            Err(e) => {
                posted.errors.fetch_add(1, Ordering::Relaxed);
                posted.error_sample.lock().unwrap().get_or_insert(e);
            }
        }
    }
    posted.latency_us.lock().unwrap().extend(latencies);
    posted.service_us.lock().unwrap().extend(services);
}

/// Nearest-rank percentiles, in ms, of values in µs.
fn quantiles(values: &mut [i64]) -> Value {
    if values.is_empty() {
        return Value::Null;
    }
    values.sort_unstable();
    let n = values.len();
    let at = |p: f64| values[((p * n as f64).ceil() as usize).clamp(1, n) - 1] as f64 / 1000.0;
    let mean = values.iter().map(|v| *v as f64).sum::<f64>() / n as f64 / 1000.0;
    json!({"count": n, "min": values[0] as f64 / 1000.0, "p50": at(0.50), "p90": at(0.90), "p99": at(0.99),
           "p999": at(0.999), "max": values[n - 1] as f64 / 1000.0, "mean": (mean * 1000.0).round() / 1000.0})
}

fn own_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// Runs `--hook` with the phase's name appended (`sh -c 'CMD PHASE'`) and
/// waits for it: `before` (no client yet), `idle` (every client ready and
/// idle), `load-start`, `load-end`.
fn hook(cfg: &Config, phase: &str) {
    if let Some(cmd) = &cfg.hook {
        match std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{cmd} {phase}"))
            .status()
        {
            Ok(status) if status.success() => {}
            other => log(&format!("hook {phase}: {other:?}")),
        }
    }
}

fn log(msg: &str) {
    eprintln!("sbload realtime: {msg}");
}

/// Priming: one connection per process, `--prime` messages through the
/// callbacks, every one of them seen by every priming connection (or 30 s).
async fn prime(cfg: &Config, run: &str) -> Result<Value, String> {
    if cfg.prime == 0 {
        return Ok(Value::Null);
    }
    let mut sockets = Vec::new();
    for url in &cfg.ws {
        let mut ws = open_socket(url, &cfg.token).await?;
        let mut scratch = ClientResult::default();
        until_ready(&mut ws, &mut scratch).await?;
        sockets.push(ws);
    }
    let targets: Vec<Target> = cfg.post.iter().map(|u| target(u)).collect();
    for n in 0..cfg.prime {
        let t = &targets[n as usize % targets.len()];
        let mut sender = http_connect(&t.authority).await?;
        let status = post(
            &mut sender,
            t,
            callback_body(cfg, &format!("{run}-prime"), n, &format!("sb-prime {n}")),
        )
        .await?;
        if !(200..300).contains(&status) {
            return Err(format!("a priming callback answered {status}"));
        }
    }
    let mut seen = Vec::new();
    for ws in &mut sockets {
        let mut got = 0u64;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while got < cfg.prime {
            match tokio::time::timeout_at(deadline, ws.next()).await {
                Ok(Some(Ok(Message::Text(text)))) => {
                    if field(text.as_str(), "\"preview\":\"").is_some_and(|p| p.starts_with("sb-prime ")) {
                        got += 1;
                    }
                }
                Ok(Some(Ok(_))) => {}
                _ => break,
            }
        }
        seen.push(got);
        let _ = ws.close(None).await;
    }
    drop(sockets);
    Ok(json!({"messages": cfg.prime, "seen_per_process": seen}))
}

pub fn main(args: Vec<String>) {
    let cfg = Arc::new(parse_args(args));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.threads)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let report = runtime.block_on(run(cfg.clone()));
    let text = serde_json::to_string_pretty(&report).unwrap_or_default();
    if let Some(path) = &cfg.out {
        if let Err(e) = std::fs::write(path, format!("{text}\n")) {
            eprintln!("sbload realtime: writing {path}: {e}");
            std::process::exit(1);
        }
    }
    println!("{text}");
}

async fn run(cfg: Arc<Config>) -> Value {
    let clock = Clock::new();
    let run_id = format!("sbrt-{}-{}", std::process::id(), clock.wall_origin_us);
    let processes = cfg.ws.len();

    // 0. priming, then the memory before any client.
    let priming = match prime(&cfg, &run_id).await {
        Ok(v) => v,
        Err(e) => {
            log(&format!("priming failed: {e}"));
            return json!({"label": cfg.label, "error": format!("priming failed: {e}")});
        }
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_before = rss_all(&cfg.pids);
    hook(&cfg, "before");
    log(&format!(
        "primed ({priming}); VmRSS before the clients: {rss_before:?} kB"
    ));

    // 1. connect every client and wait for each one's ready.
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let pairs = Arc::new(AtomicU64::new(0));
    let settled = Arc::new(AtomicUsize::new(0));
    let ready_count = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Semaphore::new(cfg.connect_parallel.max(1)));
    let capacity = (cfg.rate * cfg.duration).ceil() as usize + 16;
    let connect_start = Instant::now();
    let mut handles = Vec::with_capacity(cfg.clients);
    for i in 0..cfg.clients {
        let (cfg, stop, settled, ready_count, gate, pairs) = (
            cfg.clone(),
            stop.clone(),
            settled.clone(),
            ready_count.clone(),
            gate.clone(),
            pairs.clone(),
        );
        handles.push(tokio::spawn(async move {
            let process = i % cfg.ws.len();
            let mut result = ClientResult {
                process,
                ..Default::default()
            };
            let permit = gate.acquire_owned().await.expect("semaphore");
            let opened = open_socket(&cfg.ws[process], &cfg.token).await;
            let mut ws = match opened {
                Ok(ws) => ws,
                Err(e) => {
                    result.connect_error = Some(e);
                    settled.fetch_add(1, Ordering::Relaxed);
                    return result;
                }
            };
            result.connected = true;
            let ready = until_ready(&mut ws, &mut result).await;
            drop(permit);
            match ready {
                Ok(()) => {
                    result.ready = true;
                    result.ready_after_ms = Some(connect_start.elapsed().as_secs_f64() * 1000.0);
                    ready_count.fetch_add(1, Ordering::Relaxed);
                    result.samples.reserve(capacity);
                }
                Err(e) => {
                    result.connect_error = Some(e);
                    settled.fetch_add(1, Ordering::Relaxed);
                    return result;
                }
            }
            settled.fetch_add(1, Ordering::Relaxed);
            follow(&mut ws, &mut result, clock, stop, pairs).await;
            drop(ws);
            result
        }));
    }
    let connect_deadline = Instant::now() + Duration::from_secs(180);
    while settled.load(Ordering::Relaxed) < cfg.clients && Instant::now() < connect_deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let connect_s = connect_start.elapsed().as_secs_f64();
    let ready = ready_count.load(Ordering::Relaxed);
    log(&format!("{ready} of {} clients ready in {connect_s:.2} s", cfg.clients));

    // 2. idle, then the memory with every client connected.
    tokio::time::sleep(Duration::from_secs_f64(cfg.idle)).await;
    let rss_idle = rss_all(&cfg.pids);
    hook(&cfg, "idle");
    log(&format!("VmRSS with {ready} idle clients: {rss_idle:?} kB"));

    // 3. the load, open loop; the memory every second.
    let total = (cfg.rate * cfg.duration).floor() as u64;
    let posted = Arc::new(Posted {
        answered: (0..total).map(|_| AtomicU64::new(0)).collect(),
        statuses: Mutex::new(BTreeMap::new()),
        errors: AtomicU64::new(0),
        error_sample: Mutex::new(None),
        latency_us: Mutex::new(Vec::with_capacity(total as usize)),
        service_us: Mutex::new(Vec::with_capacity(total as usize)),
        last_answer: AtomicU64::new(0),
    });
    hook(&cfg, "load-start");
    let cpu_before_load = own_cpu_seconds();
    let load_start = Instant::now() + Duration::from_millis(100);
    let ticket = Arc::new(AtomicU64::new(0));
    let mut posters = Vec::new();
    for _ in 0..cfg.post_connections {
        posters.push(tokio::spawn(poster(
            cfg.clone(),
            run_id.clone(),
            posted.clone(),
            ticket.clone(),
            clock,
            load_start,
            total,
        )));
    }
    let sampling = Arc::new(AtomicBool::new(true));
    let rss_samples: Arc<Mutex<Vec<Vec<Option<u64>>>>> = Arc::new(Mutex::new(Vec::new()));
    let sampler = {
        let (pids, sampling, rss_samples) = (cfg.pids.clone(), sampling.clone(), rss_samples.clone());
        tokio::spawn(async move {
            tokio::time::sleep_until((load_start + Duration::from_secs(1)).into()).await;
            while sampling.load(Ordering::Relaxed) {
                rss_samples.lock().unwrap().push(rss_all(&pids));
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    };
    for p in posters {
        let _ = p.await;
    }
    sampling.store(false, Ordering::Relaxed);
    let _ = sampler.await;
    let posted_s = clock.mono_us(Instant::now()) as f64 / 1e6 - clock.mono_us(load_start) as f64 / 1e6;
    let rss_load_end = rss_all(&cfg.pids);
    hook(&cfg, "load-end");
    log(&format!(
        "load done in {posted_s:.2} s; VmRSS at its end: {rss_load_end:?} kB"
    ));

    // 4. stragglers: until every ready client has every answered message,
    // or `--settle` seconds, or 5 s without a new arrival; then stop.
    let answered_now = posted.answered.iter().filter(|a| a.load(Ordering::Relaxed) > 0).count() as u64;
    let expected_pairs = answered_now * ready as u64;
    let settle_start = Instant::now();
    let (mut last_count, mut last_progress) = (pairs.load(Ordering::Relaxed), Instant::now());
    loop {
        let count = pairs.load(Ordering::Relaxed);
        if count >= expected_pairs || settle_start.elapsed().as_secs_f64() >= cfg.settle {
            break;
        }
        if count != last_count {
            (last_count, last_progress) = (count, Instant::now());
        } else if last_progress.elapsed() >= Duration::from_secs(5) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let settle_s = settle_start.elapsed().as_secs_f64();
    log(&format!(
        "settled after {settle_s:.1} s: {} of {expected_pairs} pairs",
        pairs.load(Ordering::Relaxed)
    ));
    let cpu_after_load = own_cpu_seconds();
    let _ = stop_tx.send(true);
    let mut results = Vec::with_capacity(cfg.clients);
    for h in handles {
        match tokio::time::timeout(Duration::from_secs(10), h).await {
            Ok(Ok(r)) => results.push(r),
            _ => results.push(ClientResult {
                ended_early: Some("client task did not stop".into()),
                ..Default::default()
            }),
        }
    }

    // 5. the figures.
    let answered: Vec<i64> = posted
        .answered
        .iter()
        .map(|a| a.load(Ordering::Relaxed) as i64 - 1)
        .collect();
    let ok_messages = answered.iter().filter(|a| **a >= 0).count();
    let mut from_occurred = Vec::new();
    let mut from_answer = Vec::new();
    let mut per_process_occurred: Vec<Vec<i64>> = vec![Vec::new(); processes];
    let mut first_arrival = vec![i64::MAX; total as usize];
    let mut last_arrival = vec![i64::MIN; total as usize];
    let mut first_in = vec![vec![i64::MAX; total as usize]; processes];
    let mut last_in = vec![vec![i64::MIN; total as usize]; processes];
    let mut by_second: BTreeMap<u64, Vec<i64>> = BTreeMap::new();
    let (mut duplicates, mut missing, mut bad_occurred) = (0u64, 0u64, 0u64);
    // The first messages some client missed (their numbers `N` of `sb-bench N`).
    let mut missing_sample: Vec<u64> = Vec::new();
    let mut resyncs: BTreeMap<String, u64> = BTreeMap::new();
    let mut closed: BTreeMap<String, u64> = BTreeMap::new();
    let mut other: BTreeMap<String, u64> = BTreeMap::new();
    let mut ended_early: BTreeMap<String, u64> = BTreeMap::new();
    let mut resync_at: Vec<i64> = Vec::new();
    let mut resyncs_per_process = vec![0u64; processes];
    let mut received_by_resynced = 0u64;
    let mut connect_errors: BTreeMap<String, u64> = BTreeMap::new();
    let (mut heartbeats, mut unparsed, mut primes_late) = (0u64, 0u64, 0u64);
    let mut ready_ms = Vec::new();
    let mut connected_per_process = vec![0usize; processes];
    let mut received_per_client = Vec::new();
    for r in &mut results {
        for reason in &r.resyncs {
            *resyncs.entry(reason.clone()).or_default() += 1;
        }
        let load_origin_us = clock.mono_us(load_start);
        // In ms, so the quantiles (µs → "ms") read as seconds.
        resync_at.extend(r.resync_at_us.iter().map(|at| (at - load_origin_us) / 1000));
        if !r.resyncs.is_empty() {
            resyncs_per_process[r.process] += 1;
            received_by_resynced += r.samples.len() as u64;
        }
        for reason in &r.closed {
            *closed.entry(reason.clone()).or_default() += 1;
        }
        for (k, v) in &r.other_changes {
            *other.entry(k.clone()).or_default() += v;
        }
        if let Some(e) = &r.ended_early {
            let key: String = e.chars().take(80).collect();
            *ended_early.entry(key).or_default() += 1;
        }
        if let Some(e) = &r.connect_error {
            let key: String = e.chars().take(80).collect();
            *connect_errors.entry(key).or_default() += 1;
        }
        heartbeats += r.heartbeats;
        unparsed += r.unparsed;
        primes_late += r.primes;
        if !r.ready {
            continue;
        }
        connected_per_process[r.process] += 1;
        if let Some(ms) = r.ready_after_ms {
            ready_ms.push((ms * 1000.0) as i64);
        }
        let mut seen = vec![false; total as usize];
        let mut distinct = 0u64;
        for s in &r.samples {
            let n = s.n as usize;
            if n >= seen.len() {
                other
                    .entry("thread.message(beyond the run)".into())
                    .and_modify(|v| *v += 1)
                    .or_insert(1);
                continue;
            }
            if seen[n] {
                duplicates += 1;
                continue;
            }
            seen[n] = true;
            distinct += 1;
            if s.from_occurred_us == i64::MIN {
                bad_occurred += 1;
            } else {
                from_occurred.push(s.from_occurred_us);
                per_process_occurred[r.process].push(s.from_occurred_us);
                let sent_second = (n as f64 / cfg.rate) as u64;
                by_second.entry(sent_second).or_default().push(s.from_occurred_us);
            }
            if answered[n] >= 0 {
                from_answer.push(s.arrival_us - answered[n]);
            }
            first_arrival[n] = first_arrival[n].min(s.arrival_us);
            last_arrival[n] = last_arrival[n].max(s.arrival_us);
            first_in[r.process][n] = first_in[r.process][n].min(s.arrival_us);
            last_in[r.process][n] = last_in[r.process][n].max(s.arrival_us);
        }
        let unseen: Vec<usize> = (0..seen.len()).filter(|n| answered[*n] >= 0 && !seen[*n]).collect();
        if missing_sample.len() < 20 {
            missing_sample.extend(unseen.iter().take(20 - missing_sample.len()).map(|n| *n as u64));
        }
        missing += unseen.len() as u64;
        received_per_client.push(distinct as i64);
        r.samples = Vec::new();
    }
    let spread_of = |first: &[i64], last: &[i64]| -> Vec<i64> {
        first
            .iter()
            .zip(last)
            .filter(|(f, l)| **f != i64::MAX && **l != i64::MIN)
            .map(|(f, l)| l - f)
            .collect()
    };
    let mut spread = spread_of(&first_arrival, &last_arrival);
    let negative_from_answer = from_answer.iter().filter(|v| **v < 0).count();
    let mut post_latency: Vec<i64> = posted.latency_us.lock().unwrap().iter().map(|v| *v as i64).collect();
    let mut post_service: Vec<i64> = posted.service_us.lock().unwrap().iter().map(|v| *v as i64).collect();
    let last_answer_s =
        posted.last_answer.load(Ordering::Relaxed) as f64 / 1e6 - clock.mono_us(load_start) as f64 / 1e6;
    let achieved = ok_messages as f64 / last_answer_s.max(cfg.duration);
    let per_second: Vec<Value> = by_second
        .iter_mut()
        .map(|(sec, v)| {
            let q = quantiles(v);
            json!({"second": sec, "pairs": q["count"], "p50_ms": q["p50"], "p99_ms": q["p99"], "max_ms": q["max"]})
        })
        .collect();
    let rss_during = rss_samples.lock().unwrap().clone();
    let rss_during_max: Vec<Option<u64>> = (0..cfg.pids.len())
        .map(|i| rss_during.iter().filter_map(|s| s[i]).max())
        .collect();
    let kb_per_client = |later: &[Option<u64>]| -> Value {
        let growth: Option<i64> = rss_before
            .iter()
            .zip(later)
            .map(|(b, l)| Some(l.as_ref().copied()? as i64 - b.as_ref().copied()? as i64))
            .sum();
        match growth {
            Some(g) if ready > 0 && !rss_before.is_empty() => json!((g as f64 / ready as f64 * 100.0).round() / 100.0),
            _ => Value::Null,
        }
    };
    let per_process: Vec<Value> = (0..processes)
        .map(|i| {
            json!({
                "ws": cfg.ws[i],
                "pid": cfg.pids.get(i),
                "clients_ready": connected_per_process[i],
                "rss_kb": {"before": rss_before.get(i), "idle": rss_idle.get(i), "load_max": rss_during_max.get(i),
                           "load_end": rss_load_end.get(i)},
                "fan_out_from_occurred_ms": quantiles(&mut per_process_occurred[i]),
                "spread_first_to_last_client_ms": quantiles(&mut spread_of(&first_in[i], &last_in[i])),
            })
        })
        .collect();
    let statuses: BTreeMap<String, u64> = posted
        .statuses
        .lock()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    let resync_total: u64 = resyncs.values().sum();
    let report = json!({
        "label": cfg.label,
        "clients": cfg.clients,
        "clients_ready": ready,
        "connect_s": (connect_s * 1000.0).round() / 1000.0,
        "ready_after_ms": quantiles(&mut ready_ms),
        "connect_errors": connect_errors,
        "processes": processes,
        "target_rate": cfg.rate,
        "duration_s": cfg.duration,
        "messages_scheduled": total,
        "messages_answered_2xx": ok_messages,
        "messages_per_s": (achieved * 100.0).round() / 100.0,
        "post_statuses": statuses,
        "post_errors": posted.errors.load(Ordering::Relaxed),
        "post_error_sample": posted.error_sample.lock().unwrap().clone(),
        "post_latency_ms": quantiles(&mut post_latency),
        "post_service_ms": quantiles(&mut post_service),
        "post_connections": cfg.post_connections,
        "pairs_expected": ok_messages as u64 * ready as u64,
        "settle_s": (settle_s * 100.0).round() / 100.0,
        "pairs_received": from_occurred.len() as u64 + bad_occurred,
        "pairs_missing": missing,
        "pairs_missing_sample": missing_sample,
        "pairs_duplicated": duplicates,
        "fan_out_from_occurred_ms": quantiles(&mut from_occurred),
        "fan_out_from_answer_ms": quantiles(&mut from_answer),
        "fan_out_from_answer_negative": negative_from_answer,
        "spread_first_to_last_client_ms": quantiles(&mut spread),
        "received_per_client": {
            "min": received_per_client.iter().min(),
            "max": received_per_client.iter().max(),
        },
        "by_second_sent": per_second,
        "resyncs": resyncs,
        "resync_total": resync_total,
        "resync_after_load_start_s": quantiles(&mut resync_at),
        "resynced_clients_per_process": resyncs_per_process,
        "pairs_received_by_resynced_clients": received_by_resynced,
        "closed": closed,
        "ended_early": ended_early,
        "other_messages": other,
        "heartbeats": heartbeats,
        "unparsed": unparsed,
        "priming": priming,
        "priming_changes_after_ready": primes_late,
        "rss_kb": {"before": rss_before, "idle": rss_idle, "load_max": rss_during_max, "load_end": rss_load_end,
                   "load_samples": rss_during.len()},
        "rss_growth_kb_per_idle_client": kb_per_client(&rss_idle),
        "rss_growth_kb_per_client_under_load": kb_per_client(&rss_during_max),
        "per_process": per_process,
        "loadgen_cpu_s": own_cpu_seconds(),
        "loadgen_cpu_s_load": match (cpu_before_load, cpu_after_load) {
            (Some(a), Some(b)) => json!(((b - a) * 100.0).round() / 100.0),
            _ => Value::Null,
        },
    });
    let q = &report["fan_out_from_occurred_ms"];
    log(&format!(
        "{} clients, {} of {} messages answered ({:.1}/s); fan-out from occurred_at p50 {} / p99 {} / max {} ms over {} pairs ({} missing, {} resyncs); {} KB per idle client",
        ready, ok_messages, total, achieved, q["p50"], q["p99"], q["max"], q["count"], missing, resync_total,
        report["rss_growth_kb_per_idle_client"]
    ));
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_reads_the_servers_stamps() {
        assert_eq!(rfc3339_us("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(rfc3339_us("1970-01-01T00:00:01.5Z"), Some(1_500_000));
        assert_eq!(rfc3339_us("2026-12-02T14:49:14.123456Z"), Some(1_796_222_954_123_456));
        assert_eq!(
            rfc3339_us("2000-03-01T00:00:00.000001+00:00"),
            Some(951_868_800_000_001)
        );
        assert_eq!(rfc3339_us("nonsense"), None);
    }

    #[test]
    fn fields_are_read_from_compact_json() {
        let text = r#"{"id":"42","type":"thread.message","thread_id":"x","occurred_at":"2026-12-02T14:49:14.123456Z","data":{"preview":"sb-bench 17"}}"#;
        assert_eq!(field(text, "\"type\":\""), Some("thread.message"));
        assert_eq!(field(text, "\"preview\":\""), Some("sb-bench 17"));
        assert_eq!(field(text, "\"occurred_at\":\""), Some("2026-12-02T14:49:14.123456Z"));
    }
}
