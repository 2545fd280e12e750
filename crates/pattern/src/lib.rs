//! EventBridge event-pattern language: parse, validate (AWS's exact errors), compile, match.
