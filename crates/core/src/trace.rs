//! Trace context: the AWS X-Ray trace header and W3C Trace Context (`traceparent`), converted
//! both ways, and the CloudEvents Distributed Tracing extension that carries it. Pure: no I/O,
//! no clock, no random numbers (a new root takes its time and random bits as arguments).
//!
//! # The mapping
//!
//! | X-Ray (`AWSTraceHeader`, `X-Amzn-Trace-Id`)     | W3C `traceparent`                      |
//! |-------------------------------------------------|----------------------------------------|
//! | `Root=1-5759e988-bd862e3fe1be46a994272793`       | trace-id `5759e988bd862e3fe1be46a994272793` (the 8 + 24 hex digits, joined) |
//! | `Parent=53995c3f42cd8ad8`                        | parent-id `53995c3f42cd8ad8`           |
//! | `Sampled=1`                                      | trace-flags `01`                       |
//! | `Sampled=0`, `Sampled=?`, no `Sampled`           | trace-flags `00`                       |
//! | no `Parent`                                      | parent-id derived from the trace id (below) |
//!
//! So `Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1` is
//! `00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01`, and back.
//!
//! - **Version.** X-Ray's root must start with `1-`; W3C's version must be `00` (the only one
//!   defined). Anything else is refused, as are all-zero ids (W3C forbids them), wrong lengths
//!   and non-hex digits. X-Ray hex is read in either case and written in lower case.
//! - **No `Parent`.** X-Ray accepts a header whose parent segment is not known yet; W3C requires
//!   a non-zero parent-id. The conversion then uses a parent-id derived from the trace id (FNV-1a
//!   of its 16 bytes), so the same header always gives the same `traceparent` and the trace id,
//!   which is what joins the spans of one trace, is kept.
//! - **`Sampled=?`** (the decision is deferred to the next service) is not sampled in W3C, which
//!   has only the one bit; converting back gives `Sampled=0`.
//! - **Other X-Ray keys** (`Self`, `Lineage`, custom `key=value` pairs) are dropped, and
//!   `tracestate` is left empty by the conversion: `Lineage` is a loop-detection counter that
//!   Lambda, SQS and SNS maintain themselves, and X-Ray keys are not valid `tracestate` keys
//!   (upper case). A `tracestate` that an event already carries is kept as it is.
//! - **W3C to X-Ray** splits the trace id 8 + 24; the first 8 hex digits are an epoch time only
//!   when the trace was started by X-Ray or by [`TraceContext::new_root`], which writes the time
//!   there so its ids are valid X-Ray ids too.

use cloudevents::Event;

/// The CloudEvents Distributed Tracing extension attribute for the W3C `traceparent`.
pub const EXT_TRACEPARENT: &str = "traceparent";
/// The CloudEvents Distributed Tracing extension attribute for the W3C `tracestate`.
pub const EXT_TRACESTATE: &str = "tracestate";

/// A trace header that cannot be converted, with what would be right.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TraceError {
    /// An X-Ray header that breaks the format.
    #[error(
        "X-Ray trace header {header:?} is invalid: {reason}; expected e.g. \
         \"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1\""
    )]
    XRay {
        header: String,
        reason: &'static str,
    },
    /// A `traceparent` that breaks the W3C format.
    #[error(
        "traceparent {value:?} is invalid: {reason}; expected version-traceid-parentid-flags, \
         e.g. \"00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01\""
    )]
    TraceParent { value: String, reason: &'static str },
}

/// One trace context: the trace id, the id of the caller's span, and the sampling decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceContext {
    trace_id: u128,
    parent_id: u64,
    sampled: bool,
}

impl TraceContext {
    /// A new sampled root: the trace id starts with `epoch_secs` (as X-Ray ids do) followed by 96
    /// random bits; the span id is the other 64 random bits (made non-zero).
    pub fn new_root(epoch_secs: u32, random: [u8; 20]) -> Self {
        let mut trace = [0u8; 16];
        trace[..4].copy_from_slice(&epoch_secs.to_be_bytes());
        trace[4..].copy_from_slice(&random[..12]);
        let mut span = [0u8; 8];
        span.copy_from_slice(&random[12..]);
        Self {
            trace_id: u128::from_be_bytes(trace).max(1),
            parent_id: u64::from_be_bytes(span).max(1),
            sampled: true,
        }
    }

    /// Parses an X-Ray trace header, e.g. `Root=1-5759e988-bd862e3fe1be46a994272793;
    /// Parent=53995c3f42cd8ad8;Sampled=1`; see the [module docs](self) for the rules.
    pub fn from_xray(header: &str) -> Result<Self, TraceError> {
        let bad = |reason| TraceError::XRay {
            header: header.to_owned(),
            reason,
        };
        let (mut root, mut parent, mut sampled) = (None, None, false);
        for part in header.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| bad("each part must be key=value"))?;
            let (key, value) = (key.trim(), value.trim());
            if key.eq_ignore_ascii_case("Root") {
                if root.is_some() {
                    return Err(bad("Root appears twice"));
                }
                root = Some(value);
            } else if key.eq_ignore_ascii_case("Parent") {
                if parent.is_some() {
                    return Err(bad("Parent appears twice"));
                }
                parent = Some(value);
            } else if key.eq_ignore_ascii_case("Sampled") {
                sampled = match value {
                    "1" => true,
                    "0" | "?" => false,
                    _ => return Err(bad("Sampled must be 1, 0 or ?")),
                };
            }
        }
        let root = root.ok_or_else(|| bad("Root is missing"))?;
        let ids = root
            .strip_prefix("1-")
            .ok_or_else(|| bad("Root must start with version 1-"))?;
        let (time, random) = ids
            .split_once('-')
            .filter(|(t, r)| t.len() == 8 && r.len() == 24)
            .ok_or_else(|| bad("Root must be 1-<8 hex digits>-<24 hex digits>"))?;
        let trace_id = hex_u128(&format!("{time}{random}"))
            .ok_or_else(|| bad("Root must hold hex digits only"))?;
        if trace_id == 0 {
            return Err(bad("the trace id must not be all zeros"));
        }
        let parent_id = match parent {
            None => derived_parent(trace_id),
            Some(p) => match hex_u64(p) {
                Some(0) => return Err(bad("Parent must not be all zeros")),
                Some(id) => id,
                None => return Err(bad("Parent must be 16 hex digits")),
            },
        };
        Ok(Self {
            trace_id,
            parent_id,
            sampled,
        })
    }

    /// Parses a W3C `traceparent` (version `00`), e.g.
    /// `00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01`.
    pub fn from_traceparent(value: &str) -> Result<Self, TraceError> {
        let bad = |reason| TraceError::TraceParent {
            value: value.to_owned(),
            reason,
        };
        let parts: Vec<&str> = value.split('-').collect();
        let [version, trace, parent, flags] = parts[..] else {
            return Err(bad("it must have four parts separated by -"));
        };
        if version != "00" {
            return Err(bad("the version must be 00"));
        }
        let lower_hex = |s: &str, len| {
            s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        };
        if !lower_hex(trace, 32) {
            return Err(bad("the trace id must be 32 lower-case hex digits"));
        }
        if !lower_hex(parent, 16) {
            return Err(bad("the parent id must be 16 lower-case hex digits"));
        }
        if !lower_hex(flags, 2) {
            return Err(bad("the flags must be 2 lower-case hex digits"));
        }
        let (trace_id, parent_id) = (hex_u128(trace).unwrap_or(0), hex_u64(parent).unwrap_or(0));
        if trace_id == 0 || parent_id == 0 {
            return Err(bad("the trace id and parent id must not be all zeros"));
        }
        let flags = u8::from_str_radix(flags, 16).map_err(|_| bad("the flags must be hex"))?;
        Ok(Self {
            trace_id,
            parent_id,
            sampled: flags & 1 == 1,
        })
    }

    /// The W3C `traceparent`: `00-{trace id}-{parent id}-{01 | 00}`.
    pub fn traceparent(&self) -> String {
        format!(
            "00-{:032x}-{:016x}-{:02x}",
            self.trace_id,
            self.parent_id,
            u8::from(self.sampled)
        )
    }

    /// The X-Ray trace header: `Root=1-{8 hex}-{24 hex};Parent={16 hex};Sampled={1 | 0}`.
    pub fn xray_header(&self) -> String {
        format!(
            "Root={};Parent={:016x};Sampled={}",
            self.xray_trace_id(),
            self.parent_id,
            u8::from(self.sampled)
        )
    }

    /// The trace id in X-Ray form, `1-5759e988-bd862e3fe1be46a994272793`.
    pub fn xray_trace_id(&self) -> String {
        let hex = self.trace_id_hex();
        format!("1-{}-{}", &hex[..8], &hex[8..])
    }

    /// The trace id in W3C form: 32 lower-case hex digits.
    pub fn trace_id_hex(&self) -> String {
        format!("{:032x}", self.trace_id)
    }

    /// Whether the trace is sampled.
    pub fn sampled(&self) -> bool {
        self.sampled
    }

    /// The trace id's 16 bytes (e.g. for an OpenTelemetry `TraceId`).
    pub fn trace_id_bytes(&self) -> [u8; 16] {
        self.trace_id.to_be_bytes()
    }

    /// The parent (span) id's 8 bytes (e.g. for an OpenTelemetry `SpanId`).
    pub fn parent_id_bytes(&self) -> [u8; 8] {
        self.parent_id.to_be_bytes()
    }
}

/// A parent id for an X-Ray header without `Parent`: FNV-1a of the trace id, never zero.
fn derived_parent(trace_id: u128) -> u64 {
    let hash = trace_id
        .to_be_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
        });
    hash.max(1)
}

fn hex_u128(s: &str) -> Option<u128> {
    (s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| u128::from_str_radix(s, 16).ok())
        .flatten()
}

fn hex_u64(s: &str) -> Option<u64> {
    (s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| u64::from_str_radix(s, 16).ok())
        .flatten()
}

/// The event's trace: its `traceparent` extension, when that is a valid W3C `traceparent`, and
/// its `tracestate` extension, when that is a valid header value (printable ASCII) too.
pub fn event_trace(event: &Event) -> Option<(String, Option<String>)> {
    let parent = event.extension(EXT_TRACEPARENT)?.to_string();
    TraceContext::from_traceparent(&parent).ok()?;
    let state = event
        .extension(EXT_TRACESTATE)
        .map(|v| v.to_string())
        .filter(|s| !s.is_empty() && s.bytes().all(|b| (0x20..=0x7e).contains(&b)));
    Some((parent, state))
}

/// The event's trace as an X-Ray trace header (`Root=1-…;Parent=…;Sampled=…`), for the
/// `X-Amzn-Trace-Id` of a Lambda invoke that carries the event: Lambda and X-Ray then join the
/// invoked function to the event's trace. `None` without a valid `traceparent`.
pub fn event_xray_header(event: &Event) -> Option<String> {
    let (parent, _) = event_trace(event)?;
    TraceContext::from_traceparent(&parent)
        .ok()
        .map(|context| context.xray_header())
}

/// Sets the event's `traceparent` to `context`, unless it already has one (a producer's trace
/// wins over the transport's). Returns whether it set it.
pub fn set_trace_if_absent(event: &mut Event, context: &TraceContext) -> bool {
    if event.extension(EXT_TRACEPARENT).is_some() {
        return false;
    }
    event.set_extension(EXT_TRACEPARENT, context.traceparent());
    true
}

/// Copies `from`'s trace (`traceparent`, and `tracestate` if any) to `to`, e.g. from the event
/// a system event reports on. Does nothing when `from` has no valid trace.
pub fn copy_trace(from: &Event, to: &mut Event) {
    if let Some((parent, state)) = event_trace(from) {
        to.set_extension(EXT_TRACEPARENT, parent);
        if let Some(state) = state {
            to.set_extension(EXT_TRACESTATE, state);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cloudevents::{EventBuilder, EventBuilderV10};

    const XRAY: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    const W3C: &str = "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01";

    #[test]
    fn an_events_trace_becomes_the_xray_header_of_an_invoke() {
        let mut event = cloudevents::EventBuilderV10::new()
            .id("1")
            .source("/s")
            .ty("t")
            .build()
            .unwrap();
        assert_eq!(event_xray_header(&event), None);
        event.set_extension(
            EXT_TRACEPARENT,
            "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01",
        );
        assert_eq!(event_xray_header(&event).as_deref(), Some(XRAY));
        event.set_extension(EXT_TRACEPARENT, "not a traceparent");
        assert_eq!(event_xray_header(&event), None);
    }

    #[test]
    fn xray_to_w3c_and_back() {
        let ctx = TraceContext::from_xray(XRAY).unwrap();
        assert_eq!(ctx.traceparent(), W3C);
        assert_eq!(ctx.xray_header(), XRAY);
        assert_eq!(ctx.xray_trace_id(), "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(ctx.trace_id_hex(), "5759e988bd862e3fe1be46a994272793");
        assert_eq!(ctx.trace_id_bytes()[..4], [0x57, 0x59, 0xe9, 0x88]);
        assert_eq!(
            ctx.parent_id_bytes(),
            0x5399_5c3f_42cd_8ad8_u64.to_be_bytes()
        );
        let back = TraceContext::from_traceparent(W3C).unwrap();
        assert_eq!(back, ctx);
        assert_eq!(back.xray_header(), XRAY);
    }

    #[test]
    fn sampled_values() {
        for (header, sampled, flags) in [
            (
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0",
                false,
                "00",
            ),
            (
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=?",
                false,
                "00",
            ),
            (
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8",
                false,
                "00",
            ),
            (
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
                true,
                "01",
            ),
        ] {
            let ctx = TraceContext::from_xray(header).unwrap();
            assert_eq!(ctx.sampled(), sampled, "{header}");
            assert!(ctx.traceparent().ends_with(flags), "{header}");
        }
        // Other flag bits than "sampled" are read but only that bit is kept.
        let ctx = TraceContext::from_traceparent(
            "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-03",
        )
        .unwrap();
        assert!(ctx.sampled());
        assert!(ctx.xray_header().ends_with("Sampled=1"));
    }

    #[test]
    fn missing_parent_gets_a_deterministic_non_zero_parent() {
        let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1";
        let a = TraceContext::from_xray(header).unwrap().traceparent();
        let b = TraceContext::from_xray(header).unwrap().traceparent();
        assert_eq!(a, b);
        assert!(a.starts_with("00-5759e988bd862e3fe1be46a994272793-"));
        assert!(a.ends_with("-01"));
        assert_ne!(&a[36..52], "0000000000000000");
        assert!(TraceContext::from_traceparent(&a).is_ok());
    }

    #[test]
    fn xray_other_keys_spaces_and_case_are_tolerated() {
        let header = " Root=1-5759E988-BD862E3FE1BE46A994272793 ; Self=1-abc; \
                      Parent=53995C3F42CD8AD8;Sampled=1;Lineage=a87bd80c:1|68fd508a:5;";
        let ctx = TraceContext::from_xray(header).unwrap();
        assert_eq!(ctx.traceparent(), W3C);
    }

    #[test]
    fn malformed_xray_is_refused_with_the_reason() {
        for (header, reason) in [
            ("", "Root is missing"),
            ("Parent=53995c3f42cd8ad8;Sampled=1", "Root is missing"),
            ("Root", "key=value"),
            ("Root=2-5759e988-bd862e3fe1be46a994272793", "version 1-"),
            ("Root=1-5759e988bd862e3fe1be46a994272793", "8 hex digits"),
            ("Root=1-5759e98-8bd862e3fe1be46a994272793", "8 hex digits"),
            (
                "Root=1-5759e98g-bd862e3fe1be46a994272793",
                "hex digits only",
            ),
            ("Root=1-00000000-000000000000000000000000", "all zeros"),
            (
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f",
                "16 hex",
            ),
            (
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=0000000000000000",
                "all zeros",
            ),
            (
                "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=yes",
                "Sampled must",
            ),
            (
                "Root=1-5759e988-bd862e3fe1be46a994272793;Root=1-5759e988-bd862e3fe1be46a994272793",
                "twice",
            ),
            ("Root=1-5759e988-bd862e3fe1be46a994272793é", "8 hex digits"),
            ("Root=1-5759e988-bd862e3fe1be46a9942727é", "hex digits only"),
        ] {
            let err = TraceContext::from_xray(header).unwrap_err().to_string();
            assert!(err.contains(reason), "{header:?}: {err}");
            assert!(err.contains("expected e.g."), "{err}");
        }
    }

    #[test]
    fn malformed_traceparent_is_refused_with_the_reason() {
        for (value, reason) in [
            ("", "four parts"),
            (
                "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8",
                "four parts",
            ),
            (
                "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01-x",
                "four parts",
            ),
            (
                "01-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01",
                "version must be 00",
            ),
            (
                "ff-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01",
                "version must be 00",
            ),
            (
                "00-5759E988BD862E3FE1BE46A994272793-53995c3f42cd8ad8-01",
                "trace id must be",
            ),
            (
                "00-5759e988bd862e3fe1be46a99427279-53995c3f42cd8ad8-01",
                "trace id must be",
            ),
            (
                "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad-01",
                "parent id must be",
            ),
            (
                "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-1",
                "flags must be",
            ),
            (
                "00-00000000000000000000000000000000-53995c3f42cd8ad8-01",
                "all zeros",
            ),
            (
                "00-5759e988bd862e3fe1be46a994272793-0000000000000000-01",
                "all zeros",
            ),
            (
                "00-5759e988bd862e3fe1be46a99427279é-53995c3f42cd8ad8-01",
                "trace id must be",
            ),
        ] {
            let err = TraceContext::from_traceparent(value)
                .unwrap_err()
                .to_string();
            assert!(err.contains(reason), "{value:?}: {err}");
        }
    }

    #[test]
    fn new_root_is_valid_in_both_forms_and_starts_with_the_time() {
        let ctx = TraceContext::new_root(0x5759_e988, [0xab; 20]);
        assert!(ctx.sampled());
        assert_eq!(ctx.xray_trace_id(), "1-5759e988-abababababababababababab");
        assert_eq!(TraceContext::from_xray(&ctx.xray_header()).unwrap(), ctx);
        assert_eq!(
            TraceContext::from_traceparent(&ctx.traceparent()).unwrap(),
            ctx
        );
        // All-zero inputs still give non-zero ids, valid in W3C.
        let zero = TraceContext::new_root(0, [0; 20]);
        assert!(TraceContext::from_traceparent(&zero.traceparent()).is_ok());
    }

    #[test]
    fn event_helpers_keep_an_existing_trace_and_copy_it() {
        let base = EventBuilderV10::new().id("1").ty("t").source("/s");
        let mut event = base.clone().build().unwrap();
        assert_eq!(event_trace(&event), None);
        let ctx = TraceContext::from_xray(XRAY).unwrap();
        assert!(set_trace_if_absent(&mut event, &ctx));
        assert_eq!(event_trace(&event), Some((W3C.to_owned(), None)));
        let other = TraceContext::new_root(1, [7; 20]);
        assert!(!set_trace_if_absent(&mut event, &other));
        assert_eq!(event_trace(&event).unwrap().0, W3C);

        event.set_extension(EXT_TRACESTATE, "congo=t61rcWkgMzE");
        let mut system = base.clone().build().unwrap();
        copy_trace(&event, &mut system);
        assert_eq!(
            event_trace(&system),
            Some((W3C.to_owned(), Some("congo=t61rcWkgMzE".to_owned())))
        );

        // An invalid traceparent is no trace, and is not copied.
        let bad = base
            .clone()
            .extension(EXT_TRACEPARENT, "nope")
            .build()
            .unwrap();
        assert_eq!(event_trace(&bad), None);
        let mut target = base.build().unwrap();
        copy_trace(&bad, &mut target);
        assert_eq!(target.extension(EXT_TRACEPARENT), None);
    }
}
