//! A local Exotel: the same URLs, Basic auth, form bodies, XML and JSON
//! responses, `RestException` errors, rate limits and status callbacks as
//! Exotel's v1 voice API, with behaviour scripted per phone number through
//! admin routes of its own (under `/_simulator`, never Exotel's).
//!
//! It covers click-to-call (`Calls/connect`), call details and voice status
//! callbacks; ExoPhones, number metadata and the customer whitelist; and
//! Lead Assist number masking. SMS, WhatsApp, flows and recordings follow.

mod admin;
mod calls;
mod masking;
mod numbers;
mod request;
mod state;
mod wire;

use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

pub use state::{Account, Scenario, SimState};

/// A simulator serving on a local address.
pub struct RunningSimulator {
    pub addr: SocketAddr,
    pub state: Arc<SimState>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningSimulator {
    /// `http://addr`, to use as the Exotel base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn stop(self) {
        self.task.abort();
    }
}

/// Every route: Exotel's, then the simulator's own.
pub fn router(state: Arc<SimState>) -> Router {
    Router::new()
        .merge(calls::routes())
        .merge(numbers::routes())
        .merge(masking::routes())
        .merge(admin::routes())
        .with_state(state)
}

/// Starts a simulator with the sandbox account on `listen` (port 0 picks one).
pub async fn start(listen: SocketAddr) -> std::io::Result<RunningSimulator> {
    let state = Arc::new(SimState::with_sandbox());
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let app = router(state.clone());
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "simulator stopped");
        }
    });
    Ok(RunningSimulator { addr, state, task })
}
