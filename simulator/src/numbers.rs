//! Phone numbers: the account's ExoPhones (v2_beta `IncomingPhoneNumbers`),
//! number metadata (v1 `Numbers`) and the DND customer whitelist (v1
//! `CustomerWhitelist`).

mod exophones;
mod metadata;
mod store;
mod whitelist;

use axum::Router;
use std::sync::Arc;

use crate::state::SimState;

pub use exophones::number_json;
pub use metadata::valid_scenario;
pub use store::{ExoPhone, ExoPhoneChange, Registry, add, forget, owned, release, update};

/// The phone-number routes.
pub fn routes() -> Router<Arc<SimState>> {
    Router::new()
        .merge(exophones::routes())
        .merge(metadata::routes())
        .merge(whitelist::routes())
}
