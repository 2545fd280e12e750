//! A pull tokenizer for pattern text that behaves like the Jackson streaming parser event-ruler
//! uses: same token stream (duplicate keys kept, nothing read past the last token asked for), same
//! point at which a syntax error surfaces, and Jackson's error messages (without the trailing
//! `at [Source: ...]` location, which AWS's reason text does not include).

use crate::error::PatternError;

/// Maximum nesting depth (Jackson's `StreamReadConstraints` default).
const MAX_DEPTH: usize = 1000;
/// Jackson truncates the source echoed in locations to this many characters.
const MAX_SOURCE_ECHO: usize = 500;
/// Jackson stops collecting an unrecognized token after this many characters.
const MAX_ERROR_TOKEN: usize = 256;

const VALID_VALUES: &str =
    "(JSON String, Number, Array, Object or token 'null', 'true' or 'false')";

/// A Jackson `JsonToken`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok {
    StartObject,
    EndObject,
    StartArray,
    EndArray,
    FieldName,
    Str,
    NumInt,
    NumFloat,
    True,
    False,
    Null,
}

impl Tok {
    pub(crate) fn is_numeric(self) -> bool {
        matches!(self, Tok::NumInt | Tok::NumFloat)
    }
}

#[derive(Debug, Clone, Copy)]
enum CtxKind {
    Root,
    Array,
    Object,
}

#[derive(Debug, Clone, Copy)]
struct Ctx {
    kind: CtxKind,
    /// Number of entries seen so far (Jackson's `getCurrentIndex() + 1`).
    entries: usize,
    /// Char position of the start marker (for messages).
    line: usize,
    col: usize,
}

/// Jackson-compatible pull tokenizer over pattern text.
pub(crate) struct Lexer<'a> {
    src: &'a str,
    b: &'a [u8],
    pos: usize,
    stack: Vec<Ctx>,
    /// A value token already decoded after a FIELD_NAME (Jackson's `_nextToken`).
    next: Option<Tok>,
    /// String value pending decoding (Jackson's `_tokenIncomplete`).
    pending_str: Option<usize>,
    cur: Option<Tok>,
    text: String,
    name: String,
}

fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r')
}

/// Java's `Character.isISOControl` on a UTF-16 unit / code point.
fn is_iso_control(c: u32) -> bool {
    c <= 0x1f || (0x7f..=0x9f).contains(&c)
}

/// Approximation of `Character.isJavaIdentifierPart`.
fn is_java_ident_part(c: char) -> bool {
    c.is_alphanumeric()
        || c == '_'
        || c == '$'
        || matches!(c as u32, 0..=8 | 0x0e..=0x1b | 0x7f..=0x9f)
        || matches!(c, '¢' | '£' | '¤' | '¥' | '€')
}

/// Approximation of `Character.isJavaIdentifierStart`.
fn is_java_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == '$' || matches!(c, '¢' | '£' | '¤' | '¥' | '€')
}

/// Jackson's `_getCharDesc`.
pub(crate) fn char_desc(c: char) -> String {
    let code = c as u32;
    // The Reader-based parser sees UTF-16 units: report the high surrogate for non-BMP chars.
    let unit = if code > 0xffff {
        let mut buf = [0u16; 2];
        c.encode_utf16(&mut buf);
        buf[0] as u32
    } else {
        code
    };
    if is_iso_control(unit) {
        return format!("(CTRL-CHAR, code {unit})");
    }
    if unit > 255 {
        if code > 0xffff {
            // A lone high surrogate cannot be printed; Java prints '?'.
            return format!("'?' (code {unit} / 0x{unit:x})");
        }
        return format!("'{c}' (code {unit} / 0x{unit:x})");
    }
    format!("'{c}' (code {unit})")
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        Self {
            src,
            b: src.as_bytes(),
            pos: 0,
            stack: vec![Ctx {
                kind: CtxKind::Root,
                entries: 0,
                line: 1,
                col: 0,
            }],
            next: None,
            pending_str: None,
            cur: None,
            text: String::new(),
            name: String::new(),
        }
    }

    /// Text of the current token, as Jackson's `getText()` returns it.
    pub(crate) fn text(&mut self) -> Result<&str, PatternError> {
        self.finish_pending_string()?;
        Ok(match self.cur {
            None => "null",
            Some(Tok::StartObject) => "{",
            Some(Tok::EndObject) => "}",
            Some(Tok::StartArray) => "[",
            Some(Tok::EndArray) => "]",
            Some(Tok::FieldName) => &self.name,
            Some(Tok::True) => "true",
            Some(Tok::False) => "false",
            Some(Tok::Null) => "null",
            Some(Tok::Str) | Some(Tok::NumInt) | Some(Tok::NumFloat) => &self.text,
        })
    }

    /// The current field name (valid right after a [`Tok::FieldName`]).
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    fn err(&self, msg: impl Into<String>) -> PatternError {
        PatternError::syntax(msg)
    }

    fn peek_char(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn unexpected_char(&self, c: char, comment: &str) -> PatternError {
        self.err(format!(
            "Unexpected character ({}): {comment}",
            char_desc(c)
        ))
    }

    /// `[Source: (String)"..."; line: L, column: C]`
    fn location(&self, line: usize, col: usize) -> String {
        let total = self.src.chars().count();
        let echo: String = if total > MAX_SOURCE_ECHO {
            let head: String = self.src.chars().take(MAX_SOURCE_ECHO).collect();
            format!("{head}\"[truncated {} chars]", total - MAX_SOURCE_ECHO)
        } else {
            format!("{}\"", self.src)
        };
        format!("[Source: (String)\"{echo}; line: {line}, column: {col}]")
    }

    /// Line and 1-based column of a byte offset (columns count UTF-16 units, like Jackson).
    fn line_col(&self, offset: usize) -> (usize, usize) {
        let before = &self.src[..offset];
        let line = before.bytes().filter(|&c| c == b'\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let col = before[line_start..].encode_utf16().count() + 1;
        (line, col)
    }

    fn top(&self) -> Ctx {
        *self.stack.last().expect("context stack never empty")
    }

    fn type_desc(kind: CtxKind) -> &'static str {
        match kind {
            CtxKind::Root => "root",
            CtxKind::Array => "Array",
            CtxKind::Object => "Object",
        }
    }

    fn push_ctx(&mut self, kind: CtxKind, start: usize) -> Result<(), PatternError> {
        if self.stack.len() > MAX_DEPTH {
            return Err(self.err(format!(
                "Document nesting depth ({}) exceeds the maximum allowed ({MAX_DEPTH}, from `StreamReadConstraints.getMaxNestingDepth()`)",
                self.stack.len()
            )));
        }
        let (line, col) = self.line_col(start);
        self.stack.push(Ctx {
            kind,
            entries: 0,
            line,
            col,
        });
        Ok(())
    }

    /// Skip whitespace; `Ok(None)` at end of input.
    fn skip_ws(&mut self) -> Result<Option<u8>, PatternError> {
        while self.pos < self.b.len() {
            let c = self.b[self.pos];
            if is_ws(c) {
                self.pos += 1;
                continue;
            }
            if c == b'/' {
                return Err(self.unexpected_char(
                    '/',
                    "maybe a (non-standard) comment? (not recognized as one since Feature 'ALLOW_COMMENTS' not enabled for parser)",
                ));
            }
            if c < 0x20 {
                return Err(self.err(format!(
                    "Illegal character ({}): only regular white space (\\r, \\n, \\t) is allowed between tokens",
                    char_desc(c as char)
                )));
            }
            return Ok(Some(c));
        }
        Ok(None)
    }

    fn eof_in_structure(&self) -> PatternError {
        let ctx = self.top();
        let marker = Self::type_desc(ctx.kind);
        self.err(format!(
            "Unexpected end-of-input: expected close marker for {marker} (start marker at {})",
            self.location(ctx.line, ctx.col)
        ))
    }

    fn finish_pending_string(&mut self) -> Result<(), PatternError> {
        if let Some(start) = self.pending_str.take() {
            self.pos = start;
            let s = self.parse_string_body(false)?;
            self.text = s;
        }
        Ok(())
    }

    /// Advance to the next token; `Ok(None)` at the end of input at root level.
    pub(crate) fn next_token(&mut self) -> Result<Option<Tok>, PatternError> {
        // Skip the rest of an unread string value, as Jackson does.
        self.finish_pending_string()?;
        if let Some(t) = self.next.take() {
            self.cur = Some(self.deferred_value(t)?);
            return Ok(self.cur);
        }
        let Some(c) = self.skip_ws()? else {
            if self.stack.len() > 1 {
                return Err(self.eof_in_structure());
            }
            self.cur = None;
            return Ok(None);
        };
        let t = if c == b']' || c == b'}' {
            self.close_marker(c)?
        } else {
            let c = self.entry_separator(c)?;
            if matches!(self.top().kind, CtxKind::Object) {
                self.field_name(c)?
            } else {
                self.value_start(c)?
            }
        };
        self.cur = Some(t);
        Ok(self.cur)
    }

    /// The value token already decoded after a field name (Jackson's `_nextToken`), about to be
    /// made current: a container is opened, a string left to decode lazily.
    fn deferred_value(&mut self, t: Tok) -> Result<Tok, PatternError> {
        match t {
            Tok::StartArray => self.push_ctx(CtxKind::Array, self.pos - 1)?,
            Tok::StartObject => self.push_ctx(CtxKind::Object, self.pos - 1)?,
            Tok::Str => self.pending_str = Some(self.pos),
            _ => {}
        }
        Ok(t)
    }

    /// A close marker `c` (`]` or `}`) at `self.pos`: it must match the innermost container,
    /// which then counts as one entry of its parent.
    fn close_marker(&mut self, c: u8) -> Result<Tok, PatternError> {
        let ctx = self.top();
        let ok = matches!(
            (c, ctx.kind),
            (b']', CtxKind::Array) | (b'}', CtxKind::Object)
        );
        if !ok {
            let expected = if c == b']' { '}' } else { ']' };
            return Err(self.err(format!(
                "Unexpected close marker '{}': expected '{expected}' (for {} starting at {})",
                c as char,
                Self::type_desc(ctx.kind),
                self.location(ctx.line, ctx.col)
            )));
        }
        self.pos += 1;
        self.stack.pop();
        if let Some(parent) = self.stack.last_mut() {
            parent.entries += 1;
        }
        Ok(if c == b']' {
            Tok::EndArray
        } else {
            Tok::EndObject
        })
    }

    /// Before every entry of an array or object but the first comes a comma: given the first
    /// byte `c` of what follows the previous entry, skip the comma and return the byte after it.
    fn entry_separator(&mut self, c: u8) -> Result<u8, PatternError> {
        let ctx = self.top();
        if ctx.entries == 0 || matches!(ctx.kind, CtxKind::Root) {
            return Ok(c);
        }
        if c != b',' {
            let ch = self.peek_char().unwrap_or('\0');
            return Err(self.unexpected_char(
                ch,
                &format!(
                    "was expecting comma to separate {} entries",
                    Self::type_desc(ctx.kind)
                ),
            ));
        }
        self.pos += 1;
        match self.skip_ws()? {
            Some(n) => Ok(n),
            None => Err(self.err(format!(
                "Unexpected end-of-input within/between {} entries",
                Self::type_desc(ctx.kind)
            ))),
        }
    }

    /// A field name starting at `c` (its quote), the colon, and the start of its value, which
    /// is decoded now and handed out by the next call, as Jackson does.
    fn field_name(&mut self, c: u8) -> Result<Tok, PatternError> {
        if c != b'"' {
            let ch = self.peek_char().unwrap_or('\0');
            return Err(self.unexpected_char(ch, "was expecting double-quote to start field name"));
        }
        self.pos += 1;
        self.name = self.parse_string_body(true)?;
        // colon
        match self.skip_ws()? {
            Some(b':') => self.pos += 1,
            Some(_) => {
                let ch = self.peek_char().unwrap_or('\0');
                return Err(self.unexpected_char(
                    ch,
                    "was expecting a colon to separate field name and value",
                ));
            }
            None => {
                return Err(self.err("Unexpected end-of-input within/between Object entries"));
            }
        }
        let v = match self.skip_ws()? {
            Some(v) => v,
            None => return Err(self.err("Unexpected end-of-input within/between Object entries")),
        };
        let t = self.value_token(v)?;
        if let Some(top) = self.stack.last_mut() {
            top.entries += 1;
        }
        self.next = Some(t);
        Ok(Tok::FieldName)
    }

    /// A value starting at `c` in an array or at root level.
    fn value_start(&mut self, c: u8) -> Result<Tok, PatternError> {
        let t = self.value_token(c)?;
        match t {
            // A container is counted in its parent once it closes.
            Tok::StartArray => self.push_ctx(CtxKind::Array, self.pos - 1)?,
            Tok::StartObject => self.push_ctx(CtxKind::Object, self.pos - 1)?,
            Tok::Str => {
                self.pending_str = Some(self.pos);
                if let Some(top) = self.stack.last_mut() {
                    top.entries += 1;
                }
            }
            _ => {
                if let Some(top) = self.stack.last_mut() {
                    top.entries += 1;
                }
            }
        }
        Ok(t)
    }

    /// Decode the start of a value whose first byte is `c` at `self.pos`.
    fn value_token(&mut self, c: u8) -> Result<Tok, PatternError> {
        let root = self.stack.len() == 1;
        match c {
            b'"' => {
                // Jackson decodes the string lazily: the caller remembers where it starts, and it
                // is decoded by `text()` or skipped by the next `next_token()`.
                self.pos += 1;
                Ok(Tok::Str)
            }
            b'[' => {
                self.pos += 1;
                Ok(Tok::StartArray)
            }
            b'{' => {
                self.pos += 1;
                Ok(Tok::StartObject)
            }
            b'}' => Err(self.unexpected_char('}', "expected a value")),
            b't' => {
                self.match_token("true")?;
                Ok(Tok::True)
            }
            b'f' => {
                self.match_token("false")?;
                Ok(Tok::False)
            }
            b'n' => {
                self.match_token("null")?;
                Ok(Tok::Null)
            }
            b'-' | b'0'..=b'9' => {
                let t = self.parse_number()?;
                if root {
                    if let Some(&n) = self.b.get(self.pos) {
                        if !is_ws(n) {
                            let ch = self.peek_char().unwrap_or('\0');
                            return Err(self.unexpected_char(
                                ch,
                                "Expected space separating root-level values",
                            ));
                        }
                    }
                }
                Ok(t)
            }
            _ => Err(self.odd_value()),
        }
    }

    /// Jackson's `_handleOddValue` for a character that cannot start a value.
    fn odd_value(&mut self) -> PatternError {
        let ch = self.peek_char().unwrap_or('\0');
        match ch {
            'N' if self.src[self.pos..].starts_with("NaN") => {
                return self.err("Non-standard token 'NaN': enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow");
            }
            'I' if self.src[self.pos..].starts_with("Infinity") => {
                return self.err(
                    "Non-standard token 'Infinity': enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow",
                );
            }
            '+' => {
                let next = self.src[self.pos + 1..].chars().next().unwrap_or('\0');
                return self.err(format!(
                    "Unexpected character ({}) in numeric value: JSON spec does not allow numbers to have plus signs: enable `JsonReadFeature.ALLOW_LEADING_PLUS_SIGN_FOR_NUMBERS` to allow",
                    char_desc(next)
                ));
            }
            _ => {}
        }
        if is_java_ident_start(ch) {
            return self.invalid_token(String::new());
        }
        self.unexpected_char(ch, &format!("expected a valid value {VALID_VALUES}"))
    }

    /// Jackson's `_reportInvalidToken`: collect identifier characters from the current position.
    fn invalid_token(&mut self, mut matched: String) -> PatternError {
        for ch in self.src[self.pos..].chars() {
            if !is_java_ident_part(ch) {
                break;
            }
            matched.push(ch);
            if matched.chars().count() >= MAX_ERROR_TOKEN {
                matched.push_str("...");
                break;
            }
        }
        self.err(format!(
            "Unrecognized token '{matched}': was expecting {VALID_VALUES}"
        ))
    }

    fn match_token(&mut self, word: &str) -> Result<(), PatternError> {
        let wb = word.as_bytes();
        // First char already known to match.
        self.pos += 1;
        for i in 1..wb.len() {
            if self.b.get(self.pos) != Some(&wb[i]) {
                return Err(self.invalid_token(word[..i].to_string()));
            }
            self.pos += 1;
        }
        if let Some(ch) = self.peek_char() {
            if ch >= '0' && ch != ']' && ch != '}' && is_java_ident_part(ch) {
                return Err(self.invalid_token(word.to_string()));
            }
        }
        Ok(())
    }

    fn number_char_err(&self, comment: &str) -> PatternError {
        match self.peek_char() {
            Some(ch) => self.err(format!(
                "Unexpected character ({}) in numeric value: {comment}",
                char_desc(ch)
            )),
            None => self.err(format!(
                "Unexpected end-of-input in numeric value: {comment}"
            )),
        }
    }

    fn parse_number(&mut self) -> Result<Tok, PatternError> {
        let start = self.pos;
        let mut float = false;
        if self.b[self.pos] == b'-' {
            self.pos += 1;
            match self.b.get(self.pos) {
                Some(b'0'..=b'9') => {}
                _ => {
                    return Err(self.number_char_err(
                        "expected digit (0-9) to follow minus sign, for valid numeric value",
                    ))
                }
            }
        }
        if self.b[self.pos] == b'0' {
            self.pos += 1;
            if let Some(b'0'..=b'9') = self.b.get(self.pos) {
                return Err(self.err("Invalid numeric value: Leading zeroes not allowed"));
            }
        } else {
            while let Some(b'0'..=b'9') = self.b.get(self.pos) {
                self.pos += 1;
            }
        }
        if self.b.get(self.pos) == Some(&b'.') {
            float = true;
            self.pos += 1;
            match self.b.get(self.pos) {
                Some(b'0'..=b'9') => {}
                _ => return Err(self.number_char_err("Decimal point not followed by a digit")),
            }
            while let Some(b'0'..=b'9') = self.b.get(self.pos) {
                self.pos += 1;
            }
        }
        if let Some(b'e' | b'E') = self.b.get(self.pos) {
            float = true;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.b.get(self.pos) {
                self.pos += 1;
            }
            match self.b.get(self.pos) {
                Some(b'0'..=b'9') => {}
                _ => return Err(self.number_char_err("Exponent indicator not followed by a digit")),
            }
            while let Some(b'0'..=b'9') = self.b.get(self.pos) {
                self.pos += 1;
            }
        }
        self.text.clear();
        self.text.push_str(&self.src[start..self.pos]);
        Ok(if float { Tok::NumFloat } else { Tok::NumInt })
    }

    /// Decode a string body starting right after the opening quote.
    fn parse_string_body(&mut self, is_name: bool) -> Result<String, PatternError> {
        let mut out = String::new();
        let mut run_start = self.pos;
        loop {
            let Some(&c) = self.b.get(self.pos) else {
                return Err(self.err(if is_name {
                    "Unexpected end-of-input in field name".to_string()
                } else {
                    "Unexpected end-of-input: was expecting closing quote for a string value"
                        .to_string()
                }));
            };
            match c {
                b'"' => {
                    out.push_str(&self.src[run_start..self.pos]);
                    self.pos += 1;
                    return Ok(out);
                }
                b'\\' => {
                    out.push_str(&self.src[run_start..self.pos]);
                    self.pos += 1;
                    self.decode_escape(&mut out)?;
                    run_start = self.pos;
                }
                0..=0x1f => {
                    return Err(self.err(format!(
                        "Illegal unquoted character ({}): has to be escaped using backslash to be included in {}",
                        char_desc(c as char),
                        if is_name { "name" } else { "string value" }
                    )));
                }
                _ => self.pos += 1,
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, PatternError> {
        let mut v = 0u32;
        for _ in 0..4 {
            let Some(ch) = self.peek_char() else {
                return Err(self.err("Unexpected end-of-input in character escape sequence"));
            };
            let Some(d) = ch.to_digit(16) else {
                return Err(
                    self.unexpected_char(ch, "expected a hex-digit for character escape sequence")
                );
            };
            v = v * 16 + d;
            self.pos += 1;
        }
        Ok(v)
    }

    fn decode_escape(&mut self, out: &mut String) -> Result<(), PatternError> {
        let Some(ch) = self.peek_char() else {
            return Err(self.err("Unexpected end-of-input in character escape sequence"));
        };
        self.pos += ch.len_utf8();
        let decoded = match ch {
            '"' => '"',
            '\\' => '\\',
            '/' => '/',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'u' => {
                let hi = self.hex4()?;
                if (0xd800..0xdc00).contains(&hi) {
                    // A surrogate pair spelled as two escapes.
                    if self.b.get(self.pos) == Some(&b'\\')
                        && self.b.get(self.pos + 1) == Some(&b'u')
                    {
                        let save = self.pos;
                        self.pos += 2;
                        let lo = self.hex4()?;
                        if (0xdc00..0xe000).contains(&lo) {
                            let cp = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
                            out.push(char::from_u32(cp).unwrap_or('?'));
                            return Ok(());
                        }
                        self.pos = save;
                    }
                    // Lone surrogate: Java keeps it, and it becomes '?' once encoded as UTF-8.
                    '?'
                } else if (0xdc00..0xe000).contains(&hi) {
                    '?'
                } else {
                    char::from_u32(hi).unwrap_or('?')
                }
            }
            other => {
                return Err(self.err(format!(
                    "Unrecognized character escape {}",
                    char_desc(other)
                )));
            }
        };
        out.push(decoded);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(s: &str) -> Result<Vec<Tok>, String> {
        let mut lx = Lexer::new(s);
        let mut v = Vec::new();
        loop {
            match lx.next_token() {
                Ok(Some(t)) => v.push(t),
                Ok(None) => return Ok(v),
                Err(e) => return Err(e.to_string()),
            }
        }
    }

    #[test]
    fn token_stream() {
        use Tok::*;
        assert_eq!(
            tokens(r#"{"a": [1, 2.5, "x", true, null, {"b": false}]}"#).unwrap(),
            vec![
                StartObject,
                FieldName,
                StartArray,
                NumInt,
                NumFloat,
                Str,
                True,
                Null,
                StartObject,
                FieldName,
                False,
                EndObject,
                EndArray,
                EndObject
            ]
        );
    }

    #[test]
    fn jackson_messages() {
        assert_eq!(
            tokens("this is valid json but not a dict").unwrap_err(),
            "Unrecognized token 'this': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')"
        );
        assert_eq!(
            tokens("{'bad': 'quotation'}").unwrap_err(),
            "Unexpected character (''' (code 39)): was expecting double-quote to start field name"
        );
        assert_eq!(
            tokens(r#"{"not": closed mark""#).unwrap_err(),
            "Unrecognized token 'closed': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')"
        );
        assert_eq!(
            tokens(r#"{"a" 1}"#).unwrap_err(),
            "Unexpected character ('1' (code 49)): was expecting a colon to separate field name and value"
        );
        assert_eq!(
            tokens(r#"{"a": 01}"#).unwrap_err(),
            "Invalid numeric value: Leading zeroes not allowed"
        );
        assert_eq!(
            tokens(r#"{"a": [1,]}"#).unwrap_err(),
            "Unexpected character (']' (code 93)): expected a valid value (JSON String, Number, Array, Object or token 'null', 'true' or 'false')"
        );
        assert_eq!(
            tokens(r#"{"a": [1}"#).unwrap_err(),
            "Unexpected close marker '}': expected ']' (for Array starting at [Source: (String)\"{\"a\": [1}\"; line: 1, column: 7])"
        );
        assert_eq!(
            tokens(r#"{"a": [1]"#).unwrap_err(),
            "Unexpected end-of-input: expected close marker for Object (start marker at [Source: (String)\"{\"a\": [1]\"; line: 1, column: 1])"
        );
        assert_eq!(
            tokens(r#"{"a": "x\q"}"#).map(|_| ()).unwrap_err(),
            "Unrecognized character escape 'q' (code 113)"
        );
    }

    #[test]
    fn string_values_decode_lazily() {
        let mut lx = Lexer::new(r#"["a\u0041\n", "\ud83d\ude00"]"#);
        assert_eq!(lx.next_token().unwrap(), Some(Tok::StartArray));
        assert_eq!(lx.next_token().unwrap(), Some(Tok::Str));
        assert_eq!(lx.text().unwrap(), "aA\n");
        assert_eq!(lx.next_token().unwrap(), Some(Tok::Str));
        assert_eq!(lx.text().unwrap(), "😀");
        assert_eq!(lx.next_token().unwrap(), Some(Tok::EndArray));
    }
}
