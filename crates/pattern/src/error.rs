//! Error types. [`PatternError`]'s `Display` is exactly the reason AWS gives after
//! `Event pattern is not valid. Reason: `.

/// The prefix AWS puts before every pattern-validation reason.
pub const AWS_INVALID_PATTERN_PREFIX: &str = "Event pattern is not valid. Reason: ";

/// What AWS answers (`ValidationException`) when the event itself is not acceptable JSON.
pub const AWS_INVALID_EVENT_MESSAGE: &str = "Parameter Event is not valid.";

/// Broad class of a pattern error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The pattern text is not well-formed JSON (Jackson's message).
    Syntax,
    /// Well-formed JSON that is not a valid pattern (structure, operator or operand).
    Invalid,
    /// An operand value out of range or malformed (numbers, CIDR blocks).
    Value,
    /// The pattern is valid but too expensive to match (wildcard complexity, `$or` fan-out).
    TooComplex,
}

/// A pattern that EventBridge would reject.
///
/// `Display` prints exactly the reason text AWS returns after
/// `Event pattern is not valid. Reason: ` (see [`PatternError::aws_message`] for the full text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct PatternError {
    reason: String,
    kind: ErrorKind,
}

impl PatternError {
    pub(crate) fn new(kind: ErrorKind, reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            kind,
        }
    }

    pub(crate) fn invalid(reason: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, reason)
    }

    pub(crate) fn syntax(reason: impl Into<String>) -> Self {
        Self::new(ErrorKind::Syntax, reason)
    }

    pub(crate) fn value(reason: impl Into<String>) -> Self {
        Self::new(ErrorKind::Value, reason)
    }

    /// The reason, word for word as AWS gives it.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The class of error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The full message of AWS's `InvalidEventPatternException`:
    /// `Event pattern is not valid. Reason: <reason>`.
    pub fn aws_message(&self) -> String {
        format!("{AWS_INVALID_PATTERN_PREFIX}{}", self.reason)
    }

    /// True for errors that event-ruler raises as a `JsonParseException` (syntax and structure);
    /// those make event-ruler retry the pattern with its legacy compiler, which treats `$or` as a
    /// plain field name.
    pub(crate) fn is_parse_exception(&self) -> bool {
        matches!(self.kind, ErrorKind::Syntax | ErrorKind::Invalid)
    }
}

/// An event that cannot be matched: not JSON, or not a JSON object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// The bytes are not well-formed JSON.
    #[error("event is not valid JSON (at byte {offset}: {what})")]
    Malformed {
        /// Byte offset of the problem.
        offset: usize,
        /// Short description.
        what: &'static str,
    },
    /// Well-formed JSON whose top level is not an object.
    #[error("event is not a JSON object")]
    NotAnObject,
}
