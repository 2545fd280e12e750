//! The byte scanner: reads a JSON object event straight from its bytes, without building a tree,
//! following only the paths of the [`PathTrie`] and reporting each leaf found on them to a
//! [`LeafSink`] with its array membership. Strict mode validates everything; fast mode skips what
//! no rule reads by structure alone and stops once every used key has been read.

use super::sink::LeafSink;
use super::structural::{
    bad, find_string_special, prefetch, prefetch_ahead, skip_container, MAX_DEPTH, PREFETCHED, R,
    STR_SPECIAL,
};
use super::trie::{PathTrie, NONE};
use crate::error::EventError;
use crate::number::lex;
use crate::pred::{LeafKind, Lit};

/// The end of the member at `p` when it is written `"key":value` with a key and value without
/// escapes and a string or plain scalar value (letters, digits, `.`, `+`, `-`), else `None`.
/// Only strings and brackets matter to the container skipper, so skipping such a member leaves
/// it in the state it started in.
#[inline]
fn compact_member_end(b: &[u8], p: usize) -> Option<usize> {
    if b.get(p) != Some(&b'"') {
        return None;
    }
    let q = find_string_special(b, p + 1, false);
    if b.get(q) != Some(&b'"') || b.get(q + 1) != Some(&b':') {
        return None;
    }
    let v = q + 2;
    match b.get(v)? {
        b'"' => {
            let r = find_string_special(b, v + 1, false);
            (b.get(r) == Some(&b'"')).then_some(r + 1)
        }
        c if c.is_ascii_alphanumeric() || *c == b'-' => {
            let mut i = v + 1;
            while i < b.len()
                && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'.' | b'+' | b'-'))
            {
                i += 1;
            }
            Some(i)
        }
        _ => None,
    }
}

/// Where [`Scanner::skip_compact_unused`] stopped.
enum Compact {
    /// It consumed the object's closing brace.
    End,
    /// After a member's key: the child it leads to and its early-exit bit.
    Key(u32, u64),
    /// At the start of a member, for the general path.
    General,
}

struct Scanner<'a, 'b, S: LeafSink, const STRICT: bool> {
    b: &'a [u8],
    pos: usize,
    trie: &'b PathTrie,
    sink: &'b mut S,
    members: &'b mut Vec<(u32, u32)>,
    next_array: u32,
    key_buf: String,
    val_buf: String,
    /// Set when fast mode stopped reading early (every used field of the event was seen).
    stopped: bool,
    /// Where the cache line requests of fast mode end (see [`prefetch_ahead`]).
    prefetched: usize,
}

/// Scan `bytes` as a JSON object event, reporting leaves on used paths to `sink`.
///
/// `STRICT` validates the whole event (UTF-8 and JSON syntax everywhere). Otherwise values on
/// paths no rule uses are skipped by structure only (strings and brackets), without checking their
/// syntax; everything that is read is still validated.
///
/// `members` is working memory for the array membership (cleared first), kept by the caller so
/// that events with arrays do not allocate.
pub(crate) fn scan<S: LeafSink, const STRICT: bool>(
    bytes: &[u8],
    trie: &PathTrie,
    sink: &mut S,
    members: &mut Vec<(u32, u32)>,
) -> R<()> {
    members.clear();
    if STRICT {
        if let Err(e) = std::str::from_utf8(bytes) {
            return bad(e.valid_up_to(), "invalid UTF-8");
        }
    } else {
        prefetch(bytes);
    }
    let mut sc = Scanner::<S, STRICT> {
        b: bytes,
        pos: 0,
        trie,
        sink,
        members,
        next_array: 0,
        key_buf: String::new(),
        val_buf: String::new(),
        stopped: false,
        prefetched: PREFETCHED,
    };
    sc.ws();
    match sc.peek() {
        Some(b'{') => {
            sc.pos += 1;
            sc.object(trie.root(), 1, true)?;
        }
        Some(_) => {
            sc.skip_value(1)?;
            sc.ws();
            if sc.pos != sc.b.len() {
                return bad(sc.pos, "trailing characters");
            }
            return Err(EventError::NotAnObject);
        }
        None => return bad(sc.pos, "empty input"),
    }
    if sc.stopped {
        return Ok(());
    }
    sc.ws();
    if sc.pos != sc.b.len() {
        return bad(sc.pos, "trailing characters");
    }
    Ok(())
}

impl<S: LeafSink, const STRICT: bool> Scanner<'_, '_, S, STRICT> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.pos) {
            if c == b' ' || c == b'\n' || c == b'\r' || c == b'\t' {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    #[inline]
    fn expect(&mut self, c: u8, what: &'static str) -> R<()> {
        self.ws();
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            bad(self.pos, what)
        }
    }

    /// Scan a string body (after the opening quote) up to its closing quote or first escape.
    /// Returns the start, the end of the raw run, and whether an escape stopped it (then
    /// `self.pos` is at the backslash, for [`Self::string_escaped`]).
    #[inline]
    fn string_raw(&mut self) -> R<(usize, usize, bool)> {
        let start = self.pos;
        let b = self.b;
        let i = find_string_special(b, self.pos, true);
        match b.get(i) {
            Some(b'"') => {
                self.pos = i + 1;
                Ok((start, i, false))
            }
            Some(b'\\') => {
                self.pos = i;
                Ok((start, i, true))
            }
            Some(_) => bad(i, "control character in string"),
            None => bad(i, "unterminated string"),
        }
    }

    /// Decode a string with escapes into `out`, starting at `start` (after the quote) with the
    /// first escape at `self.pos`.
    fn string_escaped(&mut self, start: usize, out: &mut String) -> R<()> {
        out.clear();
        match std::str::from_utf8(&self.b[start..self.pos]) {
            Ok(run) => out.push_str(run),
            Err(_) => return bad(start, "invalid UTF-8"),
        }
        loop {
            let c = match self.peek() {
                Some(c) => c,
                None => return bad(self.pos, "unterminated string"),
            };
            match c {
                b'"' => {
                    self.pos += 1;
                    return Ok(());
                }
                b'\\' => {
                    self.pos += 1;
                    self.escape(out)?;
                }
                0..=0x1f => return bad(self.pos, "control character in string"),
                _ => self.plain_run(out)?,
            }
        }
    }

    /// Decode one escape (after its backslash) into `out`.
    fn escape(&mut self, out: &mut String) -> R<()> {
        let e = match self.peek() {
            Some(e) => e,
            None => return bad(self.pos, "unterminated escape"),
        };
        self.pos += 1;
        let ch = match e {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => self.unicode_escape()?,
            _ => return bad(self.pos - 1, "bad escape"),
        };
        out.push(ch);
        Ok(())
    }

    /// The character of a `\u` escape (after the `u`); a high surrogate must be followed by a
    /// `\u` low surrogate, and the pair makes one character.
    fn unicode_escape(&mut self) -> R<char> {
        let hi = self.hex4()?;
        let cp = if (0xd800..0xdc00).contains(&hi) {
            if self.peek() != Some(b'\\') || self.b.get(self.pos + 1) != Some(&b'u') {
                return bad(self.pos, "lone surrogate");
            }
            self.pos += 2;
            let lo = self.hex4()?;
            if !(0xdc00..0xe000).contains(&lo) {
                return bad(self.pos, "lone surrogate");
            }
            0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
        } else if (0xdc00..0xe000).contains(&hi) {
            return bad(self.pos, "lone surrogate");
        } else {
            hi
        };
        match char::from_u32(cp) {
            Some(ch) => Ok(ch),
            None => bad(self.pos, "bad escape"),
        }
    }

    /// Copy the run of characters up to the next quote, backslash or control character into
    /// `out`.
    #[inline]
    fn plain_run(&mut self, out: &mut String) -> R<()> {
        let run = self.pos;
        let mut i = self.pos;
        while i < self.b.len() && !STR_SPECIAL[self.b[i] as usize] {
            i += 1;
        }
        match std::str::from_utf8(&self.b[run..i]) {
            Ok(text) => out.push_str(text),
            Err(_) => return bad(run, "invalid UTF-8"),
        }
        self.pos = i;
        Ok(())
    }

    fn hex4(&mut self) -> R<u32> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = match self.peek().and_then(|c| (c as char).to_digit(16)) {
                Some(d) => d,
                None => return bad(self.pos, "bad unicode escape"),
            };
            v = v * 16 + d;
            self.pos += 1;
        }
        Ok(v)
    }

    /// Skip a string body without decoding (escapes still validated).
    fn skip_string(&mut self) -> R<()> {
        let (start, _, escaped) = self.string_raw()?;
        if escaped {
            let mut tmp = std::mem::take(&mut self.val_buf);
            let r = self.string_escaped(start, &mut tmp);
            self.val_buf = tmp;
            r?;
        }
        Ok(())
    }

    /// Validate a number starting at `self.pos`; return its end, and its value when
    /// [`lex`]'s common case decides it.
    #[inline]
    fn number(&mut self) -> R<(usize, Option<f64>)> {
        match lex(self.b, self.pos) {
            Ok((end, value)) => {
                self.pos = end;
                Ok((end, value))
            }
            Err(at) => bad(at, "bad number"),
        }
    }

    fn literal(&mut self, word: &'static [u8]) -> R<()> {
        if self.b[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            bad(self.pos, "bad literal")
        }
    }

    /// Skip any value (validating it in strict mode).
    fn skip_value(&mut self, depth: usize) -> R<()> {
        if !STRICT {
            return self.skip_lenient(depth);
        }
        self.ws();
        match self.peek() {
            Some(b'"') => {
                self.pos += 1;
                self.skip_string()
            }
            Some(b'{') => {
                if depth >= MAX_DEPTH {
                    return bad(self.pos, "nesting too deep");
                }
                self.pos += 1;
                self.ws();
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                    return Ok(());
                }
                loop {
                    self.expect(b'"', "expected key")?;
                    self.skip_string()?;
                    self.expect(b':', "expected ':'")?;
                    self.skip_value(depth + 1)?;
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {
                            self.pos += 1;
                            return Ok(());
                        }
                        _ => return bad(self.pos, "expected ',' or '}'"),
                    }
                }
            }
            Some(b'[') => {
                if depth >= MAX_DEPTH {
                    return bad(self.pos, "nesting too deep");
                }
                self.pos += 1;
                self.ws();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                    return Ok(());
                }
                loop {
                    self.skip_value(depth + 1)?;
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(());
                        }
                        _ => return bad(self.pos, "expected ',' or ']'"),
                    }
                }
            }
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number().map(|_| ()),
            _ => bad(self.pos, "expected a value"),
        }
    }

    /// Skip a value by its structure only: strings, brackets, and the extent of scalars.
    fn skip_lenient(&mut self, depth: usize) -> R<()> {
        self.ws();
        let b = self.b;
        let mut i = self.pos;
        match b.get(i) {
            Some(b'"') => {
                self.pos = i + 1;
                self.skip_string_lenient()
            }
            Some(b'{' | b'[') => {
                let end = skip_container(b, i, 0, MAX_DEPTH.saturating_sub(depth))?;
                self.pos = end;
                Ok(())
            }
            Some(c) if !matches!(c, b',' | b'}' | b']' | b':') => {
                while i < b.len()
                    && !matches!(b[i], b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t')
                {
                    i += 1;
                }
                self.pos = i;
                Ok(())
            }
            _ => bad(i, "expected a value"),
        }
    }

    /// Skip a string body (after the quote) without checking its content.
    #[inline]
    fn skip_string_lenient(&mut self) -> R<()> {
        let b = self.b;
        let mut i = self.pos;
        loop {
            i = find_string_special(b, i, false);
            match b.get(i) {
                Some(b'"') => {
                    self.pos = i + 1;
                    return Ok(());
                }
                Some(_) => i += 2,
                None => return bad(i, "unterminated string"),
            }
        }
    }

    /// Read a key (quote included) of an object at trie node `node`: the child it leads to
    /// ([`NONE`] if no rule uses it) and that child's early-exit bit.
    #[inline]
    fn key(&mut self, node: u32) -> R<(u32, u64)> {
        self.expect(b'"', "expected key")?;
        let (start, end, escaped) = self.string_raw()?;
        if !escaped {
            return Ok(self.trie.child_bit(node, &self.b[start..end]));
        }
        let mut key = std::mem::take(&mut self.key_buf);
        let r = self.string_escaped(start, &mut key);
        let c = if r.is_ok() {
            self.trie.child_bit(node, key.as_bytes())
        } else {
            (NONE, 0)
        };
        self.key_buf = key;
        r?;
        Ok(c)
    }

    /// Skip the value of a key no rule uses.
    #[inline]
    fn skip_unused(&mut self, depth: usize) -> R<()> {
        self.ws();
        if !STRICT && self.peek() == Some(b'"') {
            // The common case, inline: an unused string value.
            self.pos += 1;
            self.skip_string_lenient()
        } else {
            self.skip_value(depth)
        }
    }

    /// Fast mode: skip the members of unused keys at `self.pos` (the start of a member) while
    /// they are written compactly (`"key":value,` without whitespace, the key without escapes),
    /// the common case of an event's fields that no rule reads. Values are skipped as
    /// [`Self::skip_lenient`] does. Stops at the first member it does not skip: with
    /// [`Compact::Key`] after that member's key when it could read the key, else with
    /// [`Compact::General`] at the member's start (the general path then reads it, errors
    /// included).
    #[inline]
    fn skip_compact_unused(&mut self, node: u32, depth: usize) -> R<Compact> {
        let b = self.b;
        let mut p = self.pos;
        loop {
            if b.get(p) != Some(&b'"') {
                return Ok(Compact::General);
            }
            let q = find_string_special(b, p + 1, true);
            if b.get(q) != Some(&b'"') {
                return Ok(Compact::General);
            }
            let (child, bit) = self.trie.child_bit(node, &b[p + 1..q]);
            // From here on, stopping leaves `self.pos` after the key.
            let stop = |sc: &mut Self| {
                sc.pos = q + 1;
                Ok(Compact::Key(child, bit))
            };
            if child != NONE || b.get(q + 1) != Some(&b':') {
                return stop(self);
            }
            let v = q + 2;
            let end = match b.get(v) {
                Some(b'"') => {
                    let r = find_string_special(b, v + 1, false);
                    if b.get(r) != Some(&b'"') {
                        return stop(self);
                    }
                    r + 1
                }
                Some(b'{' | b'[') => skip_container(b, v, 0, MAX_DEPTH.saturating_sub(depth + 1))?,
                Some(b'-' | b'0'..=b'9' | b't' | b'f' | b'n') => {
                    let mut i = v + 1;
                    while i < b.len()
                        && !matches!(b[i], b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t')
                    {
                        i += 1;
                    }
                    i
                }
                _ => return stop(self),
            };
            match b.get(end) {
                Some(b',') => {
                    p = end + 1;
                    self.pos = p;
                }
                Some(b'}') => {
                    self.pos = end + 1;
                    return Ok(Compact::End);
                }
                _ => return stop(self),
            }
        }
    }

    /// Fast mode, once every used key of an object was read: skip the rest of its body from the
    /// start of a member, to the end `skip_container(b, pos, 1, ..)` finds. Members written
    /// compactly with a string or plain scalar value (the common tail of small objects, like
    /// the `"z":0` of a point) are stepped over one by one, without setting up the container
    /// skipper; at anything else, that skipper takes over from the member's start.
    #[inline]
    fn skip_rest(&mut self, depth: usize) -> R<()> {
        let b = self.b;
        let mut p = self.pos;
        loop {
            let end = compact_member_end(b, p);
            match end.map(|e| (e, b.get(e))) {
                Some((e, Some(b','))) => p = e + 1,
                Some((e, Some(b'}'))) => {
                    self.pos = e + 1;
                    return Ok(());
                }
                _ => {
                    self.pos = skip_container(b, p, 1, MAX_DEPTH.saturating_sub(depth))?;
                    return Ok(());
                }
            }
        }
    }

    /// Scan an object body (after `{`) at trie node `node`.
    ///
    /// In fast mode, once every single-segment key the rules use at this node has been read, the
    /// rest of the object is skipped; and when that also completes every enclosing object
    /// (`stop_when_done`), reading stops altogether.
    fn object(&mut self, node: u32, depth: usize, stop_when_done: bool) -> R<()> {
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        let full = if STRICT { 0 } else { self.trie.full_mask(node) };
        let mut seen = 0u64;
        loop {
            let (child, bit) = if STRICT {
                self.key(node)?
            } else {
                match self.skip_compact_unused(node, depth)? {
                    Compact::End => return Ok(()),
                    Compact::Key(child, bit) => (child, bit),
                    Compact::General => self.key(node)?,
                }
            };
            self.expect(b':', "expected ':'")?;
            if child == NONE {
                self.skip_unused(depth + 1)?;
            } else {
                let completes = full != 0 && (seen | bit) == full;
                self.member_value(child, depth + 1, stop_when_done && completes)?;
                if self.stopped {
                    return Ok(());
                }
            }
            seen |= bit;
            let done = full != 0 && seen == full;
            if done && stop_when_done {
                self.stopped = true;
                return Ok(());
            }
            self.ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    if done {
                        return self.skip_rest(depth);
                    }
                }
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return bad(self.pos, "expected ',' or '}'"),
            }
        }
    }

    /// [`Self::value`] for an object member: a number written right after the colon is read
    /// here, without the call (`value` recurses, so it is not inlined). (Strings too made the
    /// string rule types slower in the full benchmark, by about 20%.)
    #[inline]
    fn member_value(&mut self, node: u32, depth: usize, stop_when_done: bool) -> R<()> {
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => self.number_leaf(self.trie.field(node)),
            _ => self.value(node, depth, stop_when_done),
        }
    }

    /// A value at a used node. `stop_when_done`: see [`Self::object`].
    fn value(&mut self, node: u32, depth: usize, stop_when_done: bool) -> R<()> {
        self.ws();
        let field = self.trie.field(node);
        match self.peek() {
            Some(b'{') => self.object_value(node, depth, stop_when_done),
            Some(b'[') => self.array(node, depth),
            Some(b'"') => {
                self.pos += 1;
                self.string_leaf(field)
            }
            Some(b't') => self.literal_leaf(field, b"true", Lit::True),
            Some(b'f') => self.literal_leaf(field, b"false", Lit::False),
            Some(b'n') => self.literal_leaf(field, b"null", Lit::Null),
            Some(b'-' | b'0'..=b'9') => self.number_leaf(field),
            _ => bad(self.pos, "expected a value"),
        }
    }

    /// An object (at its `{`) at a used node: read it if some rule uses a path below, else skip.
    #[inline]
    fn object_value(&mut self, node: u32, depth: usize, stop_when_done: bool) -> R<()> {
        if depth >= MAX_DEPTH {
            return bad(self.pos, "nesting too deep");
        }
        if self.trie.has_children(node) {
            self.pos += 1;
            self.object(node, depth, stop_when_done)
        } else {
            self.skip_value(depth)
        }
    }

    /// An array (at its `[`) at a used node: every element is a value at the same node, reported
    /// with this array's id and the element's index added to the membership.
    fn array(&mut self, node: u32, depth: usize) -> R<()> {
        if depth >= MAX_DEPTH {
            return bad(self.pos, "nesting too deep");
        }
        self.pos += 1;
        let id = self.next_array;
        self.next_array += 1;
        self.members.push((id, 0));
        let depth_idx = self.members.len() - 1;
        self.ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            self.members.pop();
            return Ok(());
        }
        let mut index = 0u32;
        loop {
            self.members[depth_idx].1 = index;
            if !STRICT {
                prefetch_ahead(self.b, self.pos, &mut self.prefetched);
            }
            // More elements may follow: an element never ends the read.
            self.value(node, depth + 1, false)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    self.members.pop();
                    return Ok(());
                }
                _ => return bad(self.pos, "expected ',' or ']'"),
            }
            index += 1;
        }
    }

    /// A string (after its quote) at a used node: decoded and reported if the node is a field.
    #[inline]
    fn string_leaf(&mut self, field: u32) -> R<()> {
        if field == NONE {
            return self.skip_string();
        }
        let (start, end, escaped) = self.string_raw()?;
        if escaped {
            let mut s = std::mem::take(&mut self.val_buf);
            let r = self.string_escaped(start, &mut s);
            if r.is_ok() {
                self.sink.leaf(field, LeafKind::Str(&s), self.members);
            }
            self.val_buf = s;
            r
        } else {
            let raw = &self.b[start..end];
            let s = if STRICT || raw.is_ascii() {
                // SAFETY: strict mode checked the whole event up front (and `raw` lies between
                // two quotes, so on character boundaries); ASCII is valid UTF-8. (`is_ascii`
                // costs a fraction of the general check on the short values of events.)
                unsafe { std::str::from_utf8_unchecked(raw) }
            } else {
                match std::str::from_utf8(raw) {
                    Ok(s) => s,
                    Err(_) => return bad(start, "invalid UTF-8"),
                }
            };
            self.sink.leaf(field, LeafKind::Str(s), self.members);
            Ok(())
        }
    }

    /// `true`, `false` or `null` at a used node.
    #[inline]
    fn literal_leaf(&mut self, field: u32, word: &'static [u8], l: Lit) -> R<()> {
        self.literal(word)?;
        self.emit_lit(field, l);
        Ok(())
    }

    /// A number at a used node, reported as its text.
    #[inline(always)]
    fn number_leaf(&mut self, field: u32) -> R<()> {
        let start = self.pos;
        let (end, value) = self.number()?;
        if field != NONE {
            let t = &self.b[start..end];
            debug_assert!(t.is_ascii());
            // SAFETY: `number` only accepted ASCII bytes (sign, digits, point, exponent), and
            // ASCII is valid UTF-8. (The checked conversion costs more than the rest of a short
            // number's matching.)
            let t = unsafe { std::str::from_utf8_unchecked(t) };
            self.sink.number(field, t, value, self.members);
        }
        Ok(())
    }

    #[inline]
    fn emit_lit(&mut self, field: u32, l: Lit) {
        if field != NONE {
            self.sink.leaf(field, LeafKind::Lit(l), self.members);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::sink::Membership;

    type Seen = (u32, String, Vec<(u32, u32)>);

    #[derive(Default)]
    struct Collect(Vec<Seen>);

    impl LeafSink for Collect {
        fn leaf(&mut self, field: u32, kind: LeafKind<'_>, m: &Membership) {
            let v = match kind {
                LeafKind::Str(s) => format!("s:{s}"),
                LeafKind::Num(n) => format!("n:{n}"),
                LeafKind::Lit(l) => format!("{l:?}"),
            };
            self.0.push((field, v, m.to_vec()));
        }
    }

    #[test]
    fn dotted_keys_and_skipping() {
        let trie = PathTrie::build(&["a.b.c", "x"]);
        let mut c = Collect::default();
        let ev = br#"{"skip": {"deep": [1, {"a": 2}], "s": "\u00e9"}, "a": {"b.c": 1}, "a.b": {"c": "two"}, "x": [true, [null, -1.5e3]]}"#;
        scan::<_, true>(ev, &trie, &mut c, &mut Vec::new()).unwrap();
        let mut lenient = Collect::default();
        scan::<_, false>(ev, &trie, &mut lenient, &mut Vec::new()).unwrap();
        assert_eq!(lenient.0, c.0);
        assert_eq!(
            c.0,
            vec![
                (0, "n:1".into(), vec![]),
                (0, "s:two".into(), vec![]),
                (1, "True".into(), vec![(0, 0)]),
                (1, "Null".into(), vec![(0, 1), (1, 0)]),
                (1, "n:-1.5e3".into(), vec![(0, 1), (1, 1)]),
            ]
        );
    }

    #[test]
    fn compact_unused_members_are_skipped_like_any_others() {
        let trie = PathTrie::build(&["a.b", "c"]);
        for ev in [
            &br#"{"u":"x","v":1,"w":{"b":2},"y":[3],"z":true,"a":{"u":"\"","b":"one","q":null},"c":-1.5e3}"#[..],
            br#"{"u":"x" ,"v":1,"w":{"b":2},"y":[3],"z":true,"a":{"u":"\"","b":"one","q":null},"c":-1.5e3}"#,
            br#"{"u":"x","v": 1,"w" :{"b":2},"y":[3],"z":true,"a":{"u":"\"","b":"one","q":null},"c":-1.5e3}"#,
            br#"{"\u0075":"x","v":1,"w":{"b":2},"y":[3],"z":true,"a":{"u":"\"","b":"one","q":null},"c":-1.5e3}"#,
            br#"{"u":"x","v":1,"w":{"b":2},"y":[3],"z":true,"a":{"u":"\"","b":"one","q":null},"c":-1.5e3 }"#,
        ] {
            let mut strict = Collect::default();
            scan::<_, true>(ev, &trie, &mut strict, &mut Vec::new()).unwrap();
            let mut fast = Collect::default();
            scan::<_, false>(ev, &trie, &mut fast, &mut Vec::new()).unwrap();
            assert_eq!(fast.0, strict.0, "{}", String::from_utf8_lossy(ev));
            assert_eq!(
                strict.0,
                vec![(0, "s:one".into(), vec![]), (1, "n:-1.5e3".into(), vec![])]
            );
        }
        // An unused member ends the object; errors after a compact member are still found.
        let mut c = Collect::default();
        scan::<_, false>(br#"{"c":1,"u":"x"}"#, &trie, &mut c, &mut Vec::new()).unwrap();
        assert_eq!(c.0, vec![(1, "n:1".into(), vec![])]);
        for bad_ev in [
            &br#"{"u":"x","v":1,"c":}"#[..],
            br#"{"u":"x","v":{"#,
            br#"{"u":"x"x"#,
        ] {
            assert!(scan::<_, false>(bad_ev, &trie, &mut c, &mut Vec::new()).is_err());
        }
    }

    #[test]
    fn the_rest_of_a_read_object_is_skipped_whatever_it_holds() {
        let trie = PathTrie::build(&["p.x", "n"]);
        let tails = [
            r#""z":0"#,
            r#""z":-1.5e+3,"w":true,"v":null"#,
            r#""z":"}","w":"a\"}""#,
            r#""z":{"x":[1,{"y":"]"}]},"w":[]"#,
            r#""z" : 0"#,
            r#""\u007a":0,"w":"\\""#,
            r#""z":0 "#,
        ];
        for tail in tails {
            let ev = format!(r#"{{"p":[{{"x":1,{tail}}},{{"x":2,{tail}}}],"n":3}}"#);
            let mut strict = Collect::default();
            scan::<_, true>(ev.as_bytes(), &trie, &mut strict, &mut Vec::new()).unwrap();
            let mut fast = Collect::default();
            scan::<_, false>(ev.as_bytes(), &trie, &mut fast, &mut Vec::new()).unwrap();
            assert_eq!(fast.0, strict.0, "{ev}");
            assert_eq!(strict.0.len(), 3, "{ev}");
        }
        let mut c = Collect::default();
        for bad_ev in [&br#"{"p":[{"x":1,"z":0"#[..], br#"{"p":[{"x":1,"z":"0}]}"#] {
            assert!(scan::<_, false>(bad_ev, &trie, &mut c, &mut Vec::new()).is_err());
        }
    }

    #[test]
    fn rejects_malformed() {
        let trie = PathTrie::build(&["a"]);
        let mut c = Collect::default();
        for bad_ev in [
            &b"{"[..],
            b"{\"a\": 01}",
            b"{\"a\": [1,]}",
            b"{\"b\": {\"x\": tru}}",
            b"{\"a\": \"\\x\"}",
            b"{\"a\": 1} x",
            b"{\"a\": \"\xff\"}",
        ] {
            assert!(
                scan::<_, true>(bad_ev, &trie, &mut c, &mut Vec::new()).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad_ev)
            );
        }
        assert_eq!(
            scan::<_, true>(b"[1]", &trie, &mut c, &mut Vec::new()),
            Err(EventError::NotAnObject)
        );
    }
}
