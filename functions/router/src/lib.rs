//! The eventferry router Lambda: matches CloudEvents against subscriptions and invokes the
//! subscribed functions. Thin: [`input`] recognises the payload, `eventferry_core` decides,
//! [`handler`] calls the [`ports`] ([`adapters`] are the real ones). Layers point one way:
//! `handler` → `ports` ← `adapters`.
//!
//! See `functions/router/README.md` for the subscription format, retries and system events.

pub mod adapters;
pub mod config;
pub mod handler;
pub mod input;
pub mod ports;
pub mod store;

pub use handler::{Answer, EventReport, Handler, HandlerError};
pub use ports::Ports;
