//! A local Exotel: the same URLs, Basic auth, form bodies, XML and JSON
//! responses, `RestException` errors, rate limits and status callbacks as
//! Exotel's v1 voice API, with behaviour scripted per phone number through
//! admin routes of its own (under `/_simulator`, never Exotel's).
//!
//! Covered: click-to-call and calls into flows (`Calls/connect`), calls a
//! scripted caller makes to an ExoPhone's flow (`POST
//! /_simulator/incoming-calls`), call details and the bulk call listing,
//! voice status callbacks, flows (Greeting, Gather, Passthru, Connect to a
//! fixed number or to one a URL names) and call recordings; SMS
//! (`Sms/send`, `Sms/bulksend`, SMS details and status callbacks); WhatsApp
//! (v2 `messages`, delivery reports, incoming messages, and v2 message
//! `templates`: listing with filters and cursors, bulk create, edit and
//! delete per WABA, review scripted through `PUT
//! /_simulator/accounts/{sid}/templates/{name}`, and template messages
//! whose receipts fail when the template is missing, not approved or not
//! filled); ExoPhones, number metadata and the customer whitelist; Lead
//! Assist number masking.
//!
//! The sandbox account (`sandbox`, key `sandbox-key`, token
//! `sandbox-token`) has the WABA [`SANDBOX_WABA`] with two approved
//! templates, `order_update` and `delivery_photo`.

mod admin;
mod callbacks;
mod calls;
mod flows;
mod masking;
mod numbers;
mod recordings;
mod request;
mod sms;
mod state;
mod whatsapp;
mod wire;

use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

pub use state::{Account, Scenario, Segment, SimState, Speaker};
pub use whatsapp::SANDBOX_WABA;

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
        .merge(recordings::routes())
        .merge(sms::routes())
        .merge(whatsapp::routes())
        .merge(numbers::routes())
        .merge(masking::routes())
        .merge(admin::routes())
        .merge(flows::routes())
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
