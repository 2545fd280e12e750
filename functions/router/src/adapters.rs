//! Real implementations of the router's ports: SQS (retry and dead-letter messages with a
//! per-message delay) and EventBridge PutEvents (system events) through `eventferry_aws`,
//! HTTP targets through `eventferry_http`, the HTTP and log system-event sinks, and the log
//! response receiver.
//!
//! The log sink is compact by default (one line per system event from its [`Summary`]: ids,
//! types, target, outcome and duration, no payloads), so the handler builds no whole system
//! event for it; `log+payload` logs whole system events. The PutEvents sink leaves embedded
//! event data over [`MAX_EMBEDDED_DATA`] out ([`system_entries`]).

use aws_config::SdkConfig;
use cloudevents::{AttributesReader, Event};
use eventferry_aws::eventbridge::{refused_entries, EventBridge, EventEntry};
use eventferry_aws::sqs::Sqs;
use eventferry_aws::AwsError;
use eventferry_core::binding::encode_structured;
use eventferry_core::invocation::InvocationResult;
use eventferry_core::json_text;
use eventferry_core::structured::to_structured_json;
use eventferry_core::system::{omit_large_data, Summary, MAX_EMBEDDED_DATA};
use eventferry_core::trace::{event_trace, TraceContext};
use eventferry_http::{HttpAnswer, PostError, Poster};

use crate::ports::{EmitError, HttpPoster, QueueWriter, ResponseReceiver, SinkNeeds, SystemSink};

/// SQS `SendMessage` with `DelaySeconds`, through [`Sqs::send_message`].
#[derive(Debug, Clone)]
pub struct SqsWriter {
    sqs: Sqs,
}

impl SqsWriter {
    pub fn new(config: &SdkConfig) -> Self {
        SqsWriter {
            sqs: Sqs::new(config),
        }
    }
}

impl QueueWriter for SqsWriter {
    async fn send(&self, queue_url: &str, body: String, delay_secs: u32) -> Result<(), AwsError> {
        self.sqs.send_message(queue_url, body, delay_secs).await
    }
}

/// HTTP targets: the project's one [`Poster`] (a timeout per request).
impl HttpPoster for Poster {
    async fn post(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Result<HttpAnswer, PostError> {
        Poster::post(self, url, headers, body).await
    }
}

/// System events as log lines on the `eventferry::system` target. Compact (the default): one
/// line per event and router invocation, message `system events`, with the fields `event`
/// (`<source>#<id>`), `event_type`, `input` and `system_events`: the system events about it in
/// emission order (`invoking` left out: its outcome, in the same line, says the same),
/// separated by `; `, each as logfmt pairs `id=… type=…` and where the type has them `subscription`, `function`, `attempt`, `status`, `status_code`, `duration_ms`,
/// `plugin`, `error`, `retry` (values with spaces, quotes, `;` or `=` in them are quoted);
/// never a payload. With `payload`: one line per system event, message its type, the whole
/// structured system event in `system_event`.
///
/// A compact line is written by the sink itself, shaped as tracing-subscriber's JSON lines of
/// the router's other logs (`{"level":"INFO","fields":{"message":"system events",…},"target":
/// "eventferry::system"}`) and only when that target is enabled at `info` (`RUST_LOG`): going
/// through tracing's JSON formatter copied each field into a map first, about 0.7 µs of the
/// compact sink's 4.7 µs per event at 11 subscribers (950a845).
#[derive(Debug, Clone, Copy)]
pub struct LogSystemSink {
    pub payload: bool,
    /// Where compact lines go: [`write_stdout`] (the default), as tracing-subscriber writes
    /// the router's other lines, and Lambda sends a function's stdout to CloudWatch Logs.
    pub write_line: WriteLine,
}

/// Writes one whole log line (its newline included).
pub type WriteLine = fn(&[u8]) -> std::io::Result<()>;

/// [`WriteLine`] to stdout, the line in one `write_all` under stdout's lock.
pub fn write_stdout(line: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    std::io::stdout().lock().write_all(line)
}

/// The tracing target of system-event log lines.
pub const SYSTEM_LOG_TARGET: &str = "eventferry::system";

impl LogSystemSink {
    /// Compact lines (`payload: false`) or whole system events (`payload: true`), to stdout.
    pub fn new(payload: bool) -> Self {
        LogSystemSink {
            payload,
            write_line: write_stdout,
        }
    }
}

impl Default for LogSystemSink {
    fn default() -> Self {
        LogSystemSink::new(false)
    }
}

impl SystemSink for LogSystemSink {
    fn needs(&self) -> SinkNeeds {
        if self.payload {
            SinkNeeds::Events
        } else {
            SinkNeeds::Summaries
        }
    }

    async fn emit(&self, events: &[Event]) -> Result<(), EmitError> {
        for event in events {
            tracing::info!(
                target: SYSTEM_LOG_TARGET,
                system_event = %to_structured_json(event),
                "{}",
                event.ty()
            );
        }
        Ok(())
    }

    async fn emit_summaries(&self, summaries: &[Summary]) -> Result<(), EmitError> {
        if !tracing::enabled!(target: SYSTEM_LOG_TARGET, tracing::Level::INFO) {
            return Ok(());
        }
        let mut line = Vec::with_capacity(256 + 160 * summaries.len());
        for group in by_event(summaries) {
            line.clear();
            compact_json_line(&mut line, &group);
            (self.write_line)(&line).map_err(EmitError::Log)?;
        }
        Ok(())
    }
}

/// The compact log line of one event's summaries, as tracing-subscriber's JSON formatter
/// writes `tracing::info!(target: "eventferry::system", event, event_type, input,
/// system_events, "system events")` (no time, no span): `input` only when set, the newline
/// at the end. A test compares the two byte for byte.
fn compact_json_line(line: &mut Vec<u8>, group: &[&Summary]) {
    let first = group[0];
    line.extend_from_slice(br#"{"level":"INFO","fields":{"message":"system events","event":"#);
    json_text::push_str(line, &first.subject);
    line.extend_from_slice(br#","event_type":"#);
    json_text::push_str(line, &first.event_type);
    if let Some(input) = group.iter().find_map(|s| s.input) {
        line.extend_from_slice(br#","input":"#);
        json_text::push_str(line, input);
    }
    line.extend_from_slice(br#","system_events":""#);
    write_compact(&mut InJsonString(line), group);
    line.extend_from_slice(br#""},"target":""#);
    line.extend_from_slice(SYSTEM_LOG_TARGET.as_bytes());
    line.extend_from_slice(b"\"}\n");
}

/// `summaries` grouped by the event they are about, groups in order of first appearance.
fn by_event(summaries: &[Summary]) -> Vec<Vec<&Summary>> {
    let mut groups: Vec<Vec<&Summary>> = Vec::new();
    for s in summaries {
        // Arc<str>'s == compares the pointers first: summaries of one event share their subject.
        match groups.iter_mut().find(|g| g[0].subject == s.subject) {
            Some(group) => group.push(s),
            None => groups.push(vec![s]),
        }
    }
    groups
}

/// The `system_events` field of a compact line: logfmt pairs per system event, `; ` between
/// them (the text [`write_compact`] writes).
#[cfg(test)]
fn compact_line(group: &[&Summary]) -> String {
    let mut out = String::with_capacity(group.len() * 128);
    write_compact(&mut out, group);
    out
}

/// Where [`write_compact`] writes: a `String`, or the inside of a JSON string ([`InJsonString`]).
trait Text {
    /// Text that is the same in both forms: keys, separators, system event types, numbers.
    fn raw(&mut self, text: &str);
    /// Any text (a value), escaped as the form needs.
    fn text(&mut self, text: &str);
}

impl Text for String {
    fn raw(&mut self, text: &str) {
        self.push_str(text);
    }
    fn text(&mut self, text: &str) {
        self.push_str(text);
    }
}

/// Text written as the contents of a JSON string (between its quotes) at the end of a buffer.
struct InJsonString<'a>(&'a mut Vec<u8>);

impl Text for InJsonString<'_> {
    fn raw(&mut self, text: &str) {
        self.0.extend_from_slice(text.as_bytes());
    }
    fn text(&mut self, text: &str) {
        json_text::push_escaped(self.0, text);
    }
}

/// The logfmt text of `group`'s summaries: per system event `id=… type=…` and where the type
/// has them `subscription`, `function`, `attempt`, `status`, `status_code`, `duration_ms`,
/// `plugin`, `error`, `retry`; `; ` between system events. A value with whitespace, a quote,
/// `;`, `=` or a control character in it (or an empty one) is quoted as Rust's `Debug` quotes.
fn write_compact(out: &mut impl Text, group: &[&Summary]) {
    fn value(out: &mut impl Text, text: &str) {
        if is_plain(text) {
            out.text(text);
        } else {
            out.text(&format!("{text:?}"));
        }
    }
    fn pair(out: &mut impl Text, key: &str, text: &str) {
        out.raw(" ");
        out.raw(key);
        out.raw("=");
        value(out, text);
    }
    fn number(out: &mut impl Text, key: &str, number: impl itoa::Integer) {
        out.raw(" ");
        out.raw(key);
        out.raw("=");
        out.raw(itoa::Buffer::new().format(number));
    }
    for (i, s) in group.iter().enumerate() {
        out.raw(if i == 0 { "id=" } else { "; id=" });
        if is_plain(&s.request) {
            out.text(&s.request);
            out.raw("-");
            out.raw(itoa::Buffer::new().format(s.seq));
        } else {
            value(out, &s.id());
        }
        out.raw(" type=");
        out.raw(s.ty);
        if let Some(v) = &s.subscription {
            pair(out, "subscription", v);
        }
        if let Some(v) = &s.target {
            pair(out, "function", v);
        }
        if let Some(v) = s.attempt {
            number(out, "attempt", v);
        }
        if let Some(v) = s.status {
            out.raw(" status=");
            out.raw(v.as_str());
        }
        if let Some(v) = s.status_code {
            number(out, "status_code", v);
        }
        if let Some(v) = s.duration_ms {
            number(out, "duration_ms", v);
        }
        for (key, v) in [
            ("plugin", &s.plugin),
            ("error", &s.error),
            ("retry", &s.retry),
        ] {
            if let Some(v) = v {
                pair(out, key, v);
            }
        }
    }
}

/// Whether a logfmt value can go unquoted: not empty, and no whitespace, quote, `;`, `=` or
/// control character.
fn is_plain(text: &str) -> bool {
    let special = |c: char| c.is_whitespace() || matches!(c, '"' | ';' | '=') || c.is_control();
    !text.is_empty()
        && if text.is_ascii() {
            !text.bytes().any(|b| special(char::from(b)))
        } else {
            !text.chars().any(special)
        }
}

/// The PutEvents entries of system events on `bus`: `Source` the system event's source,
/// `DetailType` its type, `Detail` the structured CloudEvent with embedded event data over
/// [`MAX_EMBEDDED_DATA`] left out (`dataomitted`, `datasize`: see [`omit_large_data`]), and
/// the event's trace as the X-Ray trace header.
pub fn system_entries(bus: &str, events: &[Event]) -> Vec<EventEntry> {
    events
        .iter()
        .map(|event| {
            let mut detail = to_structured_json(event);
            omit_large_data(&mut detail, MAX_EMBEDDED_DATA);
            EventEntry {
                event_bus: bus.to_owned(),
                source: event.source().to_string(),
                detail_type: event.ty().to_owned(),
                detail: detail.to_string(),
                resources: Vec::new(),
                // The system event's trace (its event's) continues through EventBridge.
                trace_header: event_trace(event)
                    .and_then(|(parent, _)| TraceContext::from_traceparent(&parent).ok())
                    .map(|context| context.xray_header()),
            }
        })
        .collect()
}

/// System events put on an EventBridge bus ([`system_entries`]). [`EventBridge::put_events`]
/// batches by count (10) and by PutEvents' 256 KB limit.
#[derive(Debug, Clone)]
pub struct EventBridgeSystemSink {
    events: EventBridge,
    bus: String,
}

impl EventBridgeSystemSink {
    pub fn new(config: &SdkConfig, bus: &str) -> Self {
        EventBridgeSystemSink {
            events: EventBridge::new(config),
            bus: bus.to_owned(),
        }
    }
}

impl SystemSink for EventBridgeSystemSink {
    async fn emit(&self, events: &[Event]) -> Result<(), EmitError> {
        let entries = system_entries(&self.bus, events);
        let results = self.events.put_events(&entries).await?;
        match refused_entries(&results) {
            None => Ok(()),
            Some(error) => Err(error.into()),
        }
    }
}

/// System events POSTed in structured mode, one request each.
#[derive(Debug, Clone)]
pub struct HttpSystemSink<H> {
    poster: H,
    url: String,
}

impl<H: HttpPoster> HttpSystemSink<H> {
    pub fn new(poster: H, url: &str) -> Self {
        HttpSystemSink {
            poster,
            url: url.to_owned(),
        }
    }
}

impl<H: HttpPoster> SystemSink for HttpSystemSink<H> {
    async fn emit(&self, events: &[Event]) -> Result<(), EmitError> {
        for event in events {
            let request = encode_structured(event);
            let answer = self
                .poster
                .post(&self.url, &request.headers, request.body)
                .await?;
            if !answer.is_success() {
                return Err(EmitError::Status {
                    url: eventferry_http::without_userinfo(&self.url),
                    status: answer.status,
                });
            }
        }
        Ok(())
    }
}

/// The system-event sink `EVENTFERRY_SYSTEM_EVENTS` chose.
#[derive(Debug, Clone)]
pub enum ConfiguredSystemSink {
    Off,
    Log(LogSystemSink),
    EventBridge(EventBridgeSystemSink),
    Http(HttpSystemSink<Poster>),
}

impl SystemSink for ConfiguredSystemSink {
    fn needs(&self) -> SinkNeeds {
        match self {
            ConfiguredSystemSink::Off => SinkNeeds::Nothing,
            ConfiguredSystemSink::Log(s) => s.needs(),
            ConfiguredSystemSink::EventBridge(s) => s.needs(),
            ConfiguredSystemSink::Http(s) => s.needs(),
        }
    }

    async fn emit(&self, events: &[Event]) -> Result<(), EmitError> {
        match self {
            ConfiguredSystemSink::Off => Ok(()),
            ConfiguredSystemSink::Log(s) => s.emit(events).await,
            ConfiguredSystemSink::EventBridge(s) => s.emit(events).await,
            ConfiguredSystemSink::Http(s) => s.emit(events).await,
        }
    }

    async fn emit_summaries(&self, summaries: &[Summary]) -> Result<(), EmitError> {
        match self {
            ConfiguredSystemSink::Log(s) => s.emit_summaries(summaries).await,
            _ => Ok(()),
        }
    }
}

/// The default receiver: one structured log line per result.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogReceiver;

impl ResponseReceiver for LogReceiver {
    fn receive(&self, event: &Event, result: &InvocationResult) {
        let event = eventferry_core::invocation::event_label(event);
        // One line, at info for a success and at warn with the error for a failure.
        macro_rules! result_line {
            ($level:ident) => {
                tracing::$level!(
                    event,
                    subscription = %result.subscription,
                    target = %result.target,
                    attempt = result.attempt,
                    status = result.status.as_str(),
                    status_code = result.status_code,
                    duration_ms = result.duration_ms,
                    error = result.error.as_deref(),
                    "invocation result"
                )
            };
        }
        match result.error {
            None => result_line!(info),
            Some(_) => result_line!(warn),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eventferry_aws::eventbridge::{
        put_events_batches, MAX_PUT_EVENTS_BATCH, MAX_PUT_EVENTS_BYTES,
    };
    use eventferry_core::structured::parse_structured_value;
    use eventferry_core::system::{About, Stamp, SystemEvents};
    use serde_json::{json, Value};

    fn received(id: usize, data_bytes: usize) -> Event {
        let event = parse_structured_value(&json!({
            "specversion": "1.0", "id": format!("e{id}"), "source": "/shop", "type": "t",
            "data": {"blob": "x".repeat(data_bytes)}
        }))
        .unwrap();
        let stamp = Stamp {
            request: "req".into(),
            seq: id as u64,
            time: "2024-05-01T10:00:00Z".parse().unwrap(),
        };
        SystemEvents::default().received(&stamp, &event, "sqs")
    }

    /// System events put with PutEvents go in calls of at most 10 entries and 256 KB (the
    /// batcher of `eventferry_aws`, which `EventBridge::put_events` uses), and embedded data
    /// over 32 KiB is left out, with a field saying so.
    #[test]
    fn system_entries_fit_put_events_limits() {
        // 25 system events: every third embeds 100 KB of data, the others 20 KB.
        let events: Vec<Event> = (0..25)
            .map(|i| received(i, if i % 3 == 0 { 100_000 } else { 20_000 }))
            .collect();
        let entries = system_entries("ops", &events);
        assert_eq!(entries.len(), 25);
        for (i, entry) in entries.iter().enumerate() {
            assert_eq!(entry.event_bus, "ops");
            assert_eq!(entry.detail_type, "eventferry.event.received");
            let detail: Value = serde_json::from_str(&entry.detail).unwrap();
            let embedded = &detail["data"]["event"];
            if i % 3 == 0 {
                assert_eq!(embedded["dataomitted"], true, "{i}");
                assert_eq!(embedded["datasize"], 100_011);
                assert!(embedded.get("data").is_none());
                assert!(entry.size() < 2_000, "{}", entry.size());
            } else {
                assert_eq!(embedded.get("dataomitted"), None);
                assert_eq!(embedded["data"]["blob"].as_str().unwrap().len(), 20_000);
            }
        }
        let batches = put_events_batches(&entries);
        assert_eq!(batches.iter().map(|b| b.len()).sum::<usize>(), 25);
        for batch in &batches {
            assert!(batch.len() <= MAX_PUT_EVENTS_BATCH);
            assert!(batch.iter().map(EventEntry::size).sum::<usize>() <= MAX_PUT_EVENTS_BYTES);
        }
        // With the large data left out, the count limit decides: 10, 10 and 5 entries.
        assert_eq!(
            batches.iter().map(|b| b.len()).collect::<Vec<_>>(),
            [10, 10, 5]
        );
        // 20 events embedding 30 KB each (under the 32 KiB limit, kept): the byte limit
        // decides, 8 entries (about 240 KB) per call.
        let kept: Vec<Event> = (0..20).map(|i| received(i, 30_000)).collect();
        let entries = system_entries("ops", &kept);
        let batches = put_events_batches(&entries);
        assert_eq!(
            batches.iter().map(|b| b.len()).collect::<Vec<_>>(),
            [8, 8, 4]
        );
        for batch in &batches {
            assert!(batch.iter().map(EventEntry::size).sum::<usize>() <= MAX_PUT_EVENTS_BYTES);
        }
    }

    #[test]
    fn compact_lines_group_by_event_and_carry_no_payload() {
        let stamp = |seq: u64| Stamp {
            request: "r".into(),
            seq,
            time: "2024-05-01T10:00:00Z".parse().unwrap(),
        };
        let event = |id: &str| {
            parse_structured_value(&json!({"specversion": "1.0", "id": id, "source": "/s",
                "type": "t", "data": {"secret": "payload"}}))
            .unwrap()
        };
        let (a, b) = (event("a"), event("b"));
        let result = InvocationResult {
            subscription: "sub".into(),
            target: "fn".into(),
            mode: eventferry_core::subscription::Mode::Sync,
            attempt: 1,
            status: eventferry_core::invocation::Status::Failed,
            status_code: Some(500),
            duration_ms: 3,
            error: Some("boom; \"x\"".into()),
            response: None,
        };
        let summaries = [
            Summary::received(stamp(0), &About::new(&a), "sqs"),
            Summary::received(stamp(1), &About::new(&b), "sqs"),
            Summary::invoking(stamp(2), &About::new(&a), "sub", "fn", 1),
            Summary::outcome(stamp(3), &About::new(&a), &result, Some("dead-lettered")),
        ];
        let groups = by_event(&summaries);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].len(), 3);
        assert_eq!(
            compact_line(&groups[0]),
            "id=r-0 type=eventferry.event.received; \
             id=r-2 type=eventferry.function.invoking subscription=sub function=fn attempt=1; \
             id=r-3 type=eventferry.function.invocationFailed subscription=sub function=fn \
             attempt=1 status=failed status_code=500 duration_ms=3 error=\"boom; \\\"x\\\"\" \
             retry=dead-lettered"
        );
        assert_eq!(
            compact_line(&groups[1]),
            "id=r-1 type=eventferry.event.received"
        );
    }

    /// Summaries of two events, one with an input, names and an error that need escaping in
    /// JSON and quoting in logfmt.
    fn tricky_summaries() -> Vec<Summary> {
        let stamp = |seq: u64| Stamp {
            request: "r".into(),
            seq,
            time: chrono::DateTime::UNIX_EPOCH,
        };
        let a = parse_structured_value(&json!({"specversion": "1.0", "id": "a\\\"1", "source":
            "/s ü", "type": "t\u{1}", "data": {"secret": "payload"}}))
        .unwrap();
        let b = parse_structured_value(&json!({"specversion": "1.0", "id": "b", "source": "/s",
            "type": "t"}))
        .unwrap();
        let result = InvocationResult {
            subscription: "sub\\x".into(),
            target: "fn é".into(),
            mode: eventferry_core::subscription::Mode::Sync,
            attempt: 2,
            status: eventferry_core::invocation::Status::Failed,
            status_code: None,
            duration_ms: 1234,
            error: Some("boom \"x\"\n\u{7}".into()),
            response: None,
        };
        vec![
            Summary::received(stamp(0), &About::new(&a), "sqs"),
            Summary::outcome(stamp(1), &About::new(&a), &result, Some("retry")),
            Summary::outcome(stamp(2), &About::new(&b), &result, None),
        ]
    }

    /// A [`std::io::Write`] into a shared buffer, for tracing-subscriber's writer.
    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The router's JSON subscriber (`main.rs`'s `init_logging`) writing into a buffer.
    fn json_subscriber(filter: &str, out: &Shared) -> impl tracing::Subscriber {
        use tracing_subscriber::layer::SubscriberExt;
        let out = out.clone();
        let filter = crate::config::log_filter(Some(filter)).unwrap();
        tracing_subscriber::fmt()
            .json()
            .with_current_span(false)
            .without_time()
            .with_writer(move || out.clone())
            .finish()
            .with(filter)
    }

    #[test]
    fn a_compact_line_is_the_line_tracing_writes_for_the_same_fields() {
        let summaries = tricky_summaries();
        let out = Shared::default();
        tracing::subscriber::with_default(json_subscriber("info", &out), || {
            for group in by_event(&summaries) {
                let first = group[0];
                let input = group.iter().find_map(|s| s.input);
                tracing::info!(
                    target: "eventferry::system",
                    event = &*first.subject,
                    event_type = &*first.event_type,
                    input,
                    system_events = compact_line(&group).as_str(),
                    "system events"
                );
            }
        });
        let mut ours = Vec::new();
        for group in by_event(&summaries) {
            compact_json_line(&mut ours, &group);
        }
        let tracing = out.0.lock().unwrap().clone();
        assert_eq!(
            String::from_utf8(ours).unwrap(),
            String::from_utf8(tracing).unwrap()
        );
    }

    static WRITTEN: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

    fn write_to_static(line: &[u8]) -> std::io::Result<()> {
        WRITTEN.lock().unwrap().extend_from_slice(line);
        Ok(())
    }

    #[test]
    fn the_compact_sink_writes_a_json_line_per_event_only_when_its_target_is_enabled() {
        let sink = LogSystemSink {
            payload: false,
            write_line: write_to_static,
        };
        let summaries = tricky_summaries();
        let emit = |filter: &str| {
            WRITTEN.lock().unwrap().clear();
            let out = Shared::default();
            tracing::subscriber::with_default(json_subscriber(filter, &out), || {
                futures::executor::block_on(sink.emit_summaries(&summaries)).unwrap()
            });
            String::from_utf8(WRITTEN.lock().unwrap().clone()).unwrap()
        };
        let lines = emit("info");
        let lines: Vec<Value> = lines
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(lines[0]["target"], "eventferry::system");
        assert_eq!(lines[0]["fields"]["event"], "/s ü#a\\\"1");
        assert_eq!(lines[0]["fields"]["input"], "sqs");
        assert!(lines[1]["fields"].get("input").is_none());
        assert_eq!(
            lines[1]["fields"]["system_events"],
            "id=r-2 type=eventferry.function.invocationFailed subscription=sub\\x \
             function=\"fn é\" attempt=2 status=failed duration_ms=1234 \
             error=\"boom \\\"x\\\"\\n\\u{7}\""
        );
        assert!(!lines[0].to_string().contains("payload"));
        assert_eq!(emit("eventferry::system=warn"), "", "off below info");
        assert_eq!(emit("off"), "");
    }

    #[test]
    fn the_log_sink_wants_summaries_unless_payloads_are_asked_for() {
        assert_eq!(LogSystemSink::default().needs(), SinkNeeds::Summaries);
        assert_eq!(LogSystemSink::new(true).needs(), SinkNeeds::Events);
        assert_eq!(ConfiguredSystemSink::Off.needs(), SinkNeeds::Nothing);
    }
}
