//! `POST /_simulator/whatsapp/incoming`: a customer's WhatsApp message,
//! posted to the account's webhook as Exotel's incoming-message callback.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

use super::content;
use crate::callbacks::{Callbacks, Encoding};
use crate::state::{SimState, international};
use crate::wire::iso_time;

/// A message from a customer.
#[derive(Debug, Deserialize)]
pub struct Incoming {
    /// The receiving account (`sandbox` if absent).
    #[serde(default = "sandbox")]
    pub account_sid: String,
    /// The customer's number.
    pub from: String,
    /// The account's WhatsApp number (its first ExoPhone if absent).
    pub to: Option<String>,
    #[serde(default)]
    pub profile_name: String,
    /// Meta-style content: `text`, a medium with `url`, `location`,
    /// `button`, or an `interactive` `button_reply` / `list_reply`; may
    /// carry `context` (the message replied to).
    pub content: Value,
}

fn sandbox() -> String {
    "sandbox".into()
}

/// Posts the message to the account's webhook (bent by the sender's
/// callback script) and answers 202 with its sid; 404 for an unknown
/// account, 409 when it has no webhook, 422 for content Exotel would not
/// deliver.
pub async fn inject(State(state): State<Arc<SimState>>, Json(incoming): Json<Incoming>) -> (StatusCode, Json<Value>) {
    let Some(account) = state.account(&incoming.account_sid) else {
        return refuse(StatusCode::NOT_FOUND, "No such account");
    };
    let Some(webhook) = account.whatsapp_webhook.clone() else {
        return refuse(
            StatusCode::CONFLICT,
            "The account has no WhatsApp webhook: PUT /_simulator/accounts/{sid}/whatsapp-webhook",
        );
    };
    if !(10..=15).contains(&incoming.from.chars().filter(char::is_ascii_digit).count()) {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "from must be the customer's phone number",
        );
    }
    if let Err(reason) = content::incoming(&incoming.content) {
        return refuse(StatusCode::UNPROCESSABLE_ENTITY, &reason);
    }
    let to = incoming.to.clone().or_else(|| account.exophones.first().cloned());
    let Some(to) = to else {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The account has no number to receive on",
        );
    };
    let sid = uuid::Uuid::new_v4().simple().to_string();
    let body = json!({"whatsapp": {"messages": [{
        "callback_type": "incoming_message", "sid": sid,
        "from": format!("+{}", international(&incoming.from)), "to": format!("+{}", international(&to)),
        "profile_name": incoming.profile_name, "timestamp": iso_time(Utc::now()), "content": incoming.content,
    }]}});
    let callbacks = Callbacks::new(Some(webhook), Encoding::Json, &state.scenario(&incoming.from));
    tokio::spawn(async move { callbacks.finish(&state, body).await });
    (StatusCode::ACCEPTED, Json(json!({"sid": sid})))
}

fn refuse(status: StatusCode, message: &str) -> (StatusCode, Json<Value>) {
    (status, Json(json!({"error": message})))
}
