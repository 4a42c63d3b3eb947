//! The HTTP API and the `switchboard` binary's commands.

pub mod app;
pub mod auth;
pub mod callbacks;
pub mod cli;
pub mod dispatcher;
pub mod envelope;
pub mod error;
pub mod extract;
pub mod guard;
pub mod limits;
pub mod message_dispatcher;
pub mod middleware;
pub mod openapi;
pub mod pollers;
pub mod provider_sync;
pub mod realtime;
pub mod receiving;
pub mod routes;
pub mod runtime;
pub mod sandbox;
pub mod secrets;
pub mod server;
pub mod state;
pub mod telemetry;
pub mod tokens;
pub mod webhook_sender;
