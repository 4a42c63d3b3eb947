//! Phone numbers: the account's ExoPhones (v2_beta `IncomingPhoneNumbers`),
//! number metadata (v1 `Numbers`) and the DND customer whitelist (v1
//! `CustomerWhitelist`).

mod exophones;
mod metadata;
mod store;
mod whitelist;

use axum::Router;
use axum::http::StatusCode;
use serde_json::Value;
use std::sync::Arc;

use crate::request::{Answer, Received};
use crate::state::{SimState, is_indian};
use crate::wire::{Format, respond, rest_exception};

pub use exophones::number_json;
pub use metadata::valid_scenario;
pub use store::{ExoPhone, ExoPhoneChange, Registry, add, find, forget, owned, release, update};
pub use whitelist::whitelisted;

/// The phone-number routes.
pub fn routes() -> Router<Arc<SimState>> {
    Router::new()
        .merge(exophones::routes())
        .merge(metadata::routes())
        .merge(whitelist::routes())
}

/// A v1 `GET …/{number}[.json]` about one number: the account opened, 400
/// for a malformed number, else `root` holding what `describe` says of it.
fn about_number(
    state: &SimState,
    sid: &str,
    segment: &str,
    request: &Received,
    root: &str,
    describe: impl FnOnce(&str) -> Value,
) -> Answer {
    let (number, format) = Format::split(segment);
    request.v1_account(state, sid, format)?;
    if !is_indian(number) {
        let message = format!("{number} is not a valid phone number");
        return Err(rest_exception(StatusCode::BAD_REQUEST, format, &message).into());
    }
    Ok(respond(StatusCode::OK, format, root, describe(number)))
}
