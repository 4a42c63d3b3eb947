//! Starting and stopping a process's parts: the API, the projectors and the
//! background workers (the relay), each supervised and restarted on error.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use application::feed::EventSource;
use infrastructure::database::EventDb;
use infrastructure::feed::jetstream::JetStreamSource;
use infrastructure::feed::live::LiveFeed;
use infrastructure::feed::tail::{StoreFeed, StoreTail};
use infrastructure::relay::Relay;
use projections::Projector;

use crate::state::{AppState, Nats};

/// Which parts a process runs.
#[derive(Debug, Clone, Copy)]
pub struct Roles {
    pub api: bool,
    pub projectors: bool,
    pub workers: bool,
}

impl Roles {
    pub const ALL: Roles = Roles {
        api: true,
        projectors: true,
        workers: true,
    };
}

/// A started process.
pub struct Running {
    pub addr: Option<SocketAddr>,
    pub state: Arc<AppState>,
    shutdown: CancellationToken,
    tasks: JoinSet<()>,
}

const MAX_BACKOFF: Duration = Duration::from_secs(3);
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Starts the parts `roles` asks for.
pub async fn start(state: Arc<AppState>, roles: Roles, listener: Option<TcpListener>) -> std::io::Result<Running> {
    let shutdown = CancellationToken::new();
    let mut tasks = JoinSet::new();
    if roles.workers {
        start_workers(&state, &shutdown, &mut tasks);
        start_provider_sync(&state, &shutdown, &mut tasks);
        start_mail_pollers(&state, &shutdown, &mut tasks);
        start_call_workers(&state, &shutdown, &mut tasks);
        start_message_workers(&state, &shutdown, &mut tasks);
        start_webhook_workers(&state, &shutdown, &mut tasks);
    }
    let feed = StoreFeed::new(state.db.read.clone(), &state.commits);
    if roles.projectors {
        for projector in projections::all() {
            start_projector(&state, projector, &feed, &shutdown, &mut tasks);
        }
    }
    let mut addr = None;
    if let (true, Some(listener)) = (roles.api, listener) {
        let local = listener.local_addr()?;
        addr = Some(local);
        state.callback_tokens.listening_on(local);
        start_realtime(&state, &feed, &shutdown, &mut tasks);
        let app = crate::app::router(state.clone());
        spawn_server(&mut tasks, listener, app, &state, &shutdown);
        if let Some(metrics_addr) = state.settings.metrics_listen {
            let metrics_listener = TcpListener::bind(metrics_addr).await?;
            let app = crate::routes::system::metrics_router(state.clone());
            spawn_server(&mut tasks, metrics_listener, app, &state, &shutdown);
        }
    }
    Ok(Running {
        addr,
        state,
        shutdown,
        tasks,
    })
}

fn spawn_server(
    tasks: &mut JoinSet<()>,
    listener: TcpListener,
    app: axum::Router,
    state: &AppState,
    shutdown: &CancellationToken,
) {
    let limits = crate::server::ConnectionLimits {
        header_read: Duration::from_secs(state.settings.header_read_timeout_secs.max(1)),
        idle: Duration::from_secs(state.settings.idle_timeout_secs.max(1)),
    };
    tasks.spawn(crate::server::serve(listener, app, limits, shutdown.clone()));
}

impl Running {
    /// Stops every part and waits (a bounded time) for them to finish.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!("some tasks did not stop in time; aborting them");
            self.tasks.abort_all();
        }
    }

    /// Runs until SIGINT or SIGTERM, then stops gracefully.
    pub async fn until_signalled(self) {
        wait_for_signal().await;
        tracing::info!("shutting down");
        self.stop().await;
    }

    /// Stops background work without waiting, as a crash would.
    pub fn abort(mut self) {
        self.tasks.abort_all();
    }
}

fn start_workers(state: &Arc<AppState>, shutdown: &CancellationToken, tasks: &mut JoinSet<()>) {
    let (EventDb::Postgres(pool), Some(nats)) = (&state.db.events, &state.nats) else {
        return;
    };
    if !state.settings.relay_enabled {
        return;
    }
    let relay = Arc::new(
        Relay::new(
            pool.clone(),
            nats.js.clone(),
            nats.events.clone(),
            Duration::from_millis(state.settings.relay_poll_ms),
        )
        .woken_by(state.commits.subscribe()),
    );
    let nats = nats.clone();
    supervise(tasks, "relay", shutdown.clone(), move |stop| {
        let (relay, nats) = (relay.clone(), nats.clone());
        async move {
            infrastructure::nats::ensure_stream(&nats.js, &nats.events)
                .await
                .map_err(|e| e.to_string())?;
            relay.run(stop).await.map_err(|e| e.to_string())
        }
    });
}

fn start_provider_sync(state: &Arc<AppState>, shutdown: &CancellationToken, tasks: &mut JoinSet<()>) {
    let interval = state.settings.phone_sync_interval_secs;
    if interval == 0 {
        return;
    }
    let state = state.clone();
    supervise(tasks, "provider_sync", shutdown.clone(), move |stop| {
        crate::provider_sync::run(state.clone(), Duration::from_secs(interval), stop)
    });
}

fn start_mail_pollers(state: &Arc<AppState>, shutdown: &CancellationToken, tasks: &mut JoinSet<()>) {
    let state = state.clone();
    supervise(tasks, "mail_pollers", shutdown.clone(), move |stop| {
        crate::pollers::run_pollers(state.clone(), stop)
    });
}

fn start_call_workers(state: &Arc<AppState>, shutdown: &CancellationToken, tasks: &mut JoinSet<()>) {
    if !state.settings.call_workers {
        return;
    }
    if !state.callback_tokens.has_public_url() {
        tracing::warn!(
            "SWITCHBOARD_PUBLIC_URL is not set: Exotel on the internet cannot post call status callbacks here, \
             so calls through real Exotel accounts are refused; only a simulator on this network is reachable"
        );
    }
    let dispatcher = state.clone();
    supervise(tasks, "call_dispatcher", shutdown.clone(), move |stop| {
        crate::dispatcher::run_dispatcher(dispatcher.clone(), stop)
    });
    let reconciler = state.clone();
    supervise(tasks, "call_reconciler", shutdown.clone(), move |stop| {
        crate::dispatcher::run_reconciler(reconciler.clone(), stop)
    });
}

fn start_message_workers(state: &Arc<AppState>, shutdown: &CancellationToken, tasks: &mut JoinSet<()>) {
    if !state.settings.message_workers {
        return;
    }
    let dispatcher = state.clone();
    supervise(tasks, "message_dispatcher", shutdown.clone(), move |stop| {
        crate::message_dispatcher::run_dispatcher(dispatcher.clone(), stop)
    });
    let reconciler = state.clone();
    supervise(tasks, "message_reconciler", shutdown.clone(), move |stop| {
        crate::message_dispatcher::run_reconciler(reconciler.clone(), stop)
    });
    let fetcher = state.clone();
    supervise(tasks, "media_fetcher", shutdown.clone(), move |stop| {
        crate::message_dispatcher::run_media_fetcher(fetcher.clone(), stop)
    });
}

fn start_webhook_workers(state: &Arc<AppState>, shutdown: &CancellationToken, tasks: &mut JoinSet<()>) {
    if !state.settings.webhook_workers {
        return;
    }
    let state = state.clone();
    supervise(tasks, "webhook_sender", shutdown.clone(), move |stop| {
        crate::webhook_sender::run(state.clone(), stop)
    });
}

/// The realtime hub: reads the live feed (a JetStream consumer of its own
/// when distributed, the store's tail when embedded) and, at shutdown,
/// ends every realtime connection so none holds the server open.
fn start_realtime(state: &Arc<AppState>, feed: &StoreFeed, shutdown: &CancellationToken, tasks: &mut JoinSet<()>) {
    let types = crate::realtime::hub::THREAD_TYPES;
    let live = match &state.nats {
        Some(Nats { js, events, .. }) => LiveFeed::jetstream(js.clone(), events.clone(), &types),
        None => LiveFeed::embedded(feed.clone(), state.db.clone(), &types),
    };
    let hub = state.realtime.clone();
    supervise(tasks, "realtime_hub", shutdown.clone(), move |stop| {
        let (hub, live) = (hub.clone(), live.clone());
        async move { hub.run(&live, stop).await }
    });
    let (hub, stop) = (state.realtime.clone(), shutdown.clone());
    tasks.spawn(async move {
        stop.cancelled().await;
        hub.close();
    });
}

fn start_projector(
    state: &Arc<AppState>,
    projector: Arc<dyn Projector>,
    feed: &StoreFeed,
    shutdown: &CancellationToken,
    tasks: &mut JoinSet<()>,
) {
    let (state, feed) = (state.clone(), feed.clone());
    supervise(tasks, projector.name(), shutdown.clone(), move |stop| {
        let (state, projector, feed) = (state.clone(), projector.clone(), feed.clone());
        async move {
            let source = source_for(&state, projector.as_ref(), feed).await?;
            projections::runner::run(projector, state.projections.clone(), source, stop)
                .await
                .map_err(|e| e.to_string())
        }
    });
}

async fn source_for(
    state: &AppState,
    projector: &dyn Projector,
    feed: StoreFeed,
) -> Result<Box<dyn EventSource>, String> {
    match &state.nats {
        Some(Nats { js, events, .. }) => {
            infrastructure::nats::ensure_stream(js, events)
                .await
                .map_err(|e| e.to_string())?;
            let durable = format!("projector-{}", projector.name());
            let source = JetStreamSource::bind(js, events, &durable, projector.aggregate_types())
                .await
                .map_err(|e| e.to_string())?;
            Ok(Box::new(source))
        }
        None => {
            let position = state
                .projections
                .position(projector.name())
                .await
                .map_err(|e| e.to_string())?;
            Ok(Box::new(StoreTail::new(feed, position, projector.aggregate_types())))
        }
    }
}

/// Runs a task until shutdown, restarting it with backoff when it fails.
fn supervise<F, Fut>(tasks: &mut JoinSet<()>, name: &'static str, shutdown: CancellationToken, make: F)
where
    F: Fn(CancellationToken) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    tasks.spawn(async move {
        let mut backoff = Duration::from_millis(200);
        while !shutdown.is_cancelled() {
            match make(shutdown.clone()).await {
                Ok(()) => backoff = Duration::from_millis(200),
                Err(error) => tracing::error!(task = name, %error, "background task failed; restarting"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    });
}

async fn wait_for_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
