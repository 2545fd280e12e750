//! The type names of the router's system events (see [`crate::system`] for what each carries).
//! Kept apart from the builders so that subscriptions can check plugin types without depending
//! on invocation results.

pub const EVENT_RECEIVED: &str = "eventferry.event.received";
pub const FUNCTION_INVOKING: &str = "eventferry.function.invoking";
pub const FUNCTION_INVOKED: &str = "eventferry.function.invoked";
pub const FUNCTION_INVOCATION_FAILED: &str = "eventferry.function.invocationFailed";
pub const EVENT_BLOCKED: &str = "eventferry.event.blocked";

/// Every system event type; plugins may subscribe to these only.
pub const SYSTEM_EVENT_TYPES: [&str; 5] = [
    EVENT_RECEIVED,
    FUNCTION_INVOKING,
    FUNCTION_INVOKED,
    FUNCTION_INVOCATION_FAILED,
    EVENT_BLOCKED,
];
