//! Lead Assist number masking: "GreenVN" allocations under
//! `/v1/tenants/{tenant_sid}/greenvn` (Exotel serves them from
//! `leadassist.exotel.in`), and calls parties make to an allocated number.
//!
//! An allocation lends one of the tenant's ExoPhones to a connection (its
//! `connection_id`) between A parties and B parties: a call from a party to
//! that number reaches the other side. One ExoPhone serves many
//! connections as long as no party is in two of them (a guess, but the one
//! that lets a call be matched by its caller). `state` goes `active` →
//! `vault` when deleted or when `deallocation_policy.duration` has passed
//! on the simulated clock. Preferences may name the number as `greenvn` or
//! `green_vn`: the documentation uses both. Unknown allocations answer 404
//! with code 1; the documented statuses list no 404, so that is a guess.

mod calls;
mod greenvn;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::state::{SimState, e164, national};

pub use calls::{MaskedCall, dial, dialled};

/// Allocations by `greenvn_id`, and the calls made to allocated numbers.
#[derive(Default)]
pub struct Leases {
    allocations: Mutex<HashMap<String, Allocation>>,
    calls: Mutex<Vec<MaskedCall>>,
}

/// One connection's lease of an ExoPhone.
#[derive(Debug, Clone)]
struct Allocation {
    id: String,
    tenant: String,
    connection_id: String,
    aparty_numbers: Vec<String>,
    bparty_numbers: Vec<String>,
    aparty_pins: Vec<Value>,
    bparty_pins: Vec<Value>,
    usage: String,
    /// 0-prefixed.
    greenvn: String,
    expires: Option<Instant>,
    deallocated: bool,
}

impl Allocation {
    fn active(&self) -> bool {
        !self.deallocated && self.expires.is_none_or(|at| Instant::now() < at)
    }

    fn json(&self) -> Value {
        json!({
            "connection_id": self.connection_id, "aparty_numbers": self.aparty_numbers,
            "bparty_numbers": self.bparty_numbers, "aparty_pins": self.aparty_pins,
            "bparty_pins": self.bparty_pins, "usage": self.usage, "greenvn": e164(&self.greenvn),
            "greenvn_id": self.id, "state": if self.active() { "active" } else { "vault" },
        })
    }

    /// Every A and B party, 0-prefixed.
    fn parties(&self) -> impl Iterator<Item = String> + '_ {
        self.aparty_numbers
            .iter()
            .chain(&self.bparty_numbers)
            .map(|n| national(n))
    }

    /// Whether `other`, active on `greenvn`, shares a party with this one.
    fn clashes(&self, other: &Allocation, greenvn: &str) -> bool {
        other.id != self.id
            && other.active()
            && other.greenvn == greenvn
            && other.parties().any(|p| self.parties().any(|q| p == q))
    }
}

/// Why Lead Assist refused: HTTP status, its error `code`, and a message.
#[derive(Debug)]
struct Failure(StatusCode, u32, String);

impl Failure {
    fn bad(code: u32, message: &str) -> Self {
        Self(StatusCode::BAD_REQUEST, code, message.to_string())
    }

    fn broken() -> Self {
        Self(StatusCode::INTERNAL_SERVER_ERROR, 0, "Internal error".into())
    }
}

/// Lead Assist's envelope: `{success, status, code, message, data}`.
fn answer(result: Result<Value, Failure>) -> Response {
    let (status, code, message, data) = match result {
        Ok(data) => (StatusCode::OK, None, None, data),
        Err(Failure(status, code, message)) => (status, Some(code), Some(message), Value::Null),
    };
    let body = json!({
        "success": status == StatusCode::OK, "status": status.as_u16(), "code": code, "message": message,
        "data": data,
    });
    (status, axum::Json(body)).into_response()
}

/// Lead Assist routes.
pub fn routes() -> Router<Arc<SimState>> {
    Router::new()
        .route("/v1/tenants/{tenant}/greenvn", post(greenvn::allocate))
        .route(
            "/v1/tenants/{tenant}/greenvn/{id}",
            axum::routing::get(greenvn::fetch)
                .put(greenvn::change)
                .delete(greenvn::deallocate),
        )
}
