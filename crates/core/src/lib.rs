//! CloudEvent mapping, subscriptions and filters, routing decisions, system events. No AWS I/O.
