//! Reading events: a validating JSON scanner that walks the event bytes without building a tree,
//! follows only the paths some rule uses (everything else is skipped, still validated), and
//! reports each leaf value with its array membership. The same walk over a `serde_json::Value`.

use rustc_hash::FxHashMap;

use crate::bytes::{eq_bytes, BytesMap};

use crate::error::EventError;
use crate::pred::{LeafKind, Lit};

/// Nesting limit for events (Jackson's default).
const MAX_DEPTH: usize = 1000;

/// "No node / no field".
pub(crate) const NONE: u32 = u32::MAX;

/// (array id, index in that array) for each array enclosing a leaf, outermost first.
pub(crate) type Membership = [(u32, u32)];

/// Receives the leaves of an event on used paths.
pub(crate) trait LeafSink {
    fn leaf(&mut self, field: u32, kind: LeafKind<'_>, membership: &Membership);
}

/// Edges out of a node: label -> (child, bit). Single-segment labels get a distinct bit (for
/// early exit), multi-segment labels get 0.
enum Edges {
    None,
    Few(Vec<(Box<[u8]>, u32, u64)>),
    Many(BytesMap<(u32, u64)>),
}

struct Node {
    edges: Edges,
    field: u32,
    /// All single-segment label bits; 0 disables early exit (none, or more than 64).
    full_mask: u64,
}

/// The set of dotted paths used by the rules, as a graph over object keys. A key may span several
/// path segments (`{"a.b": 1}` reaches the same place as `{"a": {"b": 1}}`), so every run of
/// consecutive segments of a path is an edge.
pub(crate) struct PathTrie {
    nodes: Vec<Node>,
}

impl PathTrie {
    /// Build from the used paths; `paths[i]` gets field id `i`.
    pub(crate) fn build(paths: &[&str]) -> Self {
        let mut nodes = vec![Node {
            edges: Edges::None,
            field: NONE,
            full_mask: 0,
        }];
        let mut by_prefix: FxHashMap<String, u32> = FxHashMap::default();
        let mut edges: Vec<FxHashMap<Box<[u8]>, u32>> = vec![FxHashMap::default()];
        for (field, path) in paths.iter().enumerate() {
            let segs: Vec<&str> = path.split('.').collect();
            // ids[i] = node after the first i segments (ids[0] = root)
            let mut ids = vec![0u32];
            for i in 1..=segs.len() {
                let prefix = segs[..i].join(".");
                let id = *by_prefix.entry(prefix).or_insert_with(|| {
                    nodes.push(Node {
                        edges: Edges::None,
                        field: NONE,
                        full_mask: 0,
                    });
                    edges.push(FxHashMap::default());
                    (nodes.len() - 1) as u32
                });
                ids.push(id);
            }
            nodes[*ids.last().expect("non-empty") as usize].field = field as u32;
            for i in 0..segs.len() {
                for j in i + 1..=segs.len() {
                    let label = segs[i..j].join(".").into_bytes().into_boxed_slice();
                    edges[ids[i] as usize].insert(label, ids[j]);
                }
            }
        }
        for (node, e) in nodes.iter_mut().zip(edges) {
            let mut next_bit = 0u32;
            let mut labelled: Vec<(Box<[u8]>, u32, u64)> = e
                .into_iter()
                .map(|(label, child)| {
                    let bit = if label.contains(&b'.') || next_bit >= 64 {
                        0
                    } else {
                        next_bit += 1;
                        1u64 << (next_bit - 1)
                    };
                    (label, child, bit)
                })
                .collect();
            let plain = labelled.iter().filter(|e| !e.0.contains(&b'.')).count();
            node.full_mask = if plain == 0 || plain > 64 {
                0
            } else {
                labelled.iter().fold(0, |m, e| m | e.2)
            };
            // Shorter labels first: they are the common case in lookups.
            labelled.sort_by_key(|e| e.0.len());
            node.edges = match labelled.len() {
                0 => Edges::None,
                1..=6 => Edges::Few(labelled),
                _ => {
                    let mut m = BytesMap::default();
                    for (l, c, b) in labelled {
                        m.insert(&l, (c, b));
                    }
                    Edges::Many(m)
                }
            };
        }
        Self { nodes }
    }

    pub(crate) fn root(&self) -> u32 {
        0
    }

    #[inline]
    pub(crate) fn child(&self, node: u32, key: &[u8]) -> u32 {
        self.child_bit(node, key).0
    }

    /// The child reached by `key`, and its early-exit bit.
    #[inline(always)]
    fn child_bit(&self, node: u32, key: &[u8]) -> (u32, u64) {
        match &self.nodes[node as usize].edges {
            Edges::None => (NONE, 0),
            Edges::Few(v) => {
                for (k, c, bit) in v {
                    if eq_bytes(k, key) {
                        return (*c, *bit);
                    }
                }
                (NONE, 0)
            }
            Edges::Many(m) => m.get(key).copied().unwrap_or((NONE, 0)),
        }
    }

    #[inline]
    fn full_mask(&self, node: u32) -> u64 {
        self.nodes[node as usize].full_mask
    }

    #[inline]
    fn field(&self, node: u32) -> u32 {
        self.nodes[node as usize].field
    }

    #[inline]
    fn has_children(&self, node: u32) -> bool {
        !matches!(self.nodes[node as usize].edges, Edges::None)
    }

    /// Approximate heap size in bytes.
    pub(crate) fn heap_bytes(&self) -> usize {
        let mut n = self.nodes.capacity() * std::mem::size_of::<Node>();
        for node in &self.nodes {
            n += match &node.edges {
                Edges::None => 0,
                Edges::Few(v) => v.iter().map(|(k, _, _)| k.len() + 32).sum::<usize>(),
                Edges::Many(m) => m.iter().map(|(k, _)| k.len() + 48).sum::<usize>(),
            };
        }
        n
    }
}

// ---------------------------------------------------------------------------------------------
// Byte scanner

struct Scanner<'a, 'b, S: LeafSink, const STRICT: bool> {
    b: &'a [u8],
    pos: usize,
    trie: &'b PathTrie,
    sink: &'b mut S,
    members: Vec<(u32, u32)>,
    next_array: u32,
    key_buf: String,
    val_buf: String,
    /// Set when fast mode stopped reading early (every used field of the event was seen).
    stopped: bool,
}

type R<T> = Result<T, EventError>;

fn bad<T>(offset: usize, what: &'static str) -> R<T> {
    Err(EventError::Malformed { offset, what })
}

/// Bytes that need attention inside a string: quote, backslash, control characters.
static STR_SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Ask for the first cache lines of the event at once, so that reading it waits for memory once
/// rather than once per line.
#[inline]
fn prefetch(b: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    {
        let mut off = 64;
        while off < b.len().min(PREFETCH_BYTES) {
            // SAFETY: prefetching has no effect on program state; the address is within `b`.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                    b.as_ptr().add(off) as *const i8,
                )
            };
            off += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = b;
}

/// How much of an event [`prefetch`] asks for.
#[cfg(target_arch = "x86_64")]
const PREFETCH_BYTES: usize = 512;

/// Index of the first quote or backslash (and control character when `control`) at or after
/// `i` in `b`, or `b.len()`.
#[inline]
fn find_string_special(b: &[u8], mut i: usize, control: bool) -> usize {
    #[cfg(target_arch = "x86_64")]
    while i + 16 <= b.len() {
        // SAFETY: SSE2 is part of the x86_64 baseline; the load is within bounds.
        let m = unsafe { simd::string_specials(b.as_ptr().add(i), control) };
        if m != 0 {
            return i + m.trailing_zeros() as usize;
        }
        i += 16;
    }
    while i < b.len() {
        let c = b[i];
        if c == b'"' || c == b'\\' || (control && c < 0x20) {
            return i;
        }
        i += 1;
    }
    i
}

/// Scalar state of the structural skipper.
#[derive(Clone, Copy)]
struct SkipState {
    depth: usize,
    in_string: bool,
    escape: bool,
}

impl SkipState {
    /// Feed one byte; `true` when the outermost container just closed.
    #[inline]
    fn byte(&mut self, c: u8) -> bool {
        if self.in_string {
            if self.escape {
                self.escape = false;
            } else if c == b'\\' {
                self.escape = true;
            } else if c == b'"' {
                self.in_string = false;
            }
            return false;
        }
        match c {
            b'"' => self.in_string = true,
            b'{' | b'[' => self.depth += 1,
            b'}' | b']' => {
                self.depth -= 1;
                return self.depth == 0;
            }
            _ => {}
        }
        false
    }
}

/// Find the end (index after the closing bracket) of the container opening at `start`, looking
/// only at strings and brackets. 16 bytes at a time with SSE2 where available.
///
/// `depth` is the nesting already open at `start` (0 when `start` is the opening bracket).
fn skip_container(b: &[u8], start: usize, depth: usize, max_depth: usize) -> R<usize> {
    let mut st = SkipState {
        depth,
        in_string: false,
        escape: false,
    };
    let mut i = start;
    #[cfg(target_arch = "x86_64")]
    {
        while i + 16 <= b.len() {
            if st.escape {
                // Finish a pending escape byte by byte.
                if st.byte(b[i]) {
                    return Ok(i + 1);
                }
                i += 1;
                continue;
            }
            // SAFETY: SSE2 is part of the x86_64 baseline; the load is within bounds.
            let masks = unsafe { simd::block_masks(b.as_ptr().add(i)) };
            if masks.backslash != 0 {
                for k in 0..16 {
                    if st.byte(b[i + k]) {
                        return Ok(i + k + 1);
                    }
                }
                i += 16;
                if st.depth > max_depth {
                    return bad(i, "nesting too deep");
                }
                continue;
            }
            // Parity of quotes up to and including each position: set inside strings (the
            // opening quote counts as inside, the closing one as outside).
            let mut x = masks.quote;
            x ^= x << 1;
            x ^= x << 2;
            x ^= x << 4;
            x ^= x << 8;
            let inside = if st.in_string { !x } else { x } & 0xffff;
            st.in_string = inside >> 15 == 1;
            let open = masks.open & !inside;
            let mut m = (masks.open | masks.close) & !inside;
            while m != 0 {
                let k = m.trailing_zeros();
                if open >> k & 1 == 1 {
                    st.depth += 1;
                } else {
                    st.depth -= 1;
                    if st.depth == 0 {
                        return Ok(i + k as usize + 1);
                    }
                }
                m &= m - 1;
            }
            if st.depth > max_depth {
                return bad(i, "nesting too deep");
            }
            i += 16;
        }
    }
    while i < b.len() {
        if st.byte(b[i]) {
            return Ok(i + 1);
        }
        if st.depth > max_depth {
            return bad(i, "nesting too deep");
        }
        i += 1;
    }
    bad(i, "unterminated value")
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };

    /// Bit mask of quotes and backslashes (and bytes below 0x20 when `control`) in 16 bytes at `p`.
    ///
    /// # Safety
    /// `p..p + 16` must be readable.
    #[inline]
    pub(super) unsafe fn string_specials(p: *const u8, control: bool) -> u32 {
        unsafe {
            let v = _mm_loadu_si128(p as *const __m128i);
            let mut m = _mm_or_si128(
                _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8)),
                _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8)),
            );
            if control {
                // v <= 0x1f (unsigned) exactly when max(v, 0x1f) == 0x1f
                let low = _mm_set1_epi8(0x1f);
                m = _mm_or_si128(m, _mm_cmpeq_epi8(_mm_max_epu8(v, low), low));
            }
            _mm_movemask_epi8(m) as u32
        }
    }

    pub(super) struct Masks {
        pub quote: u32,
        pub backslash: u32,
        pub open: u32,
        pub close: u32,
    }

    /// Bit masks of quotes, backslashes, opening and closing brackets in 16 bytes at `p`.
    ///
    /// # Safety
    /// `p..p + 16` must be readable.
    #[inline]
    pub(super) unsafe fn block_masks(p: *const u8) -> Masks {
        unsafe {
            let v = _mm_loadu_si128(p as *const __m128i);
            let eq = |c: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8));
            Masks {
                quote: _mm_movemask_epi8(eq(b'"')) as u32,
                backslash: _mm_movemask_epi8(eq(b'\\')) as u32,
                open: _mm_movemask_epi8(_mm_or_si128(eq(b'{'), eq(b'['))) as u32,
                close: _mm_movemask_epi8(_mm_or_si128(eq(b'}'), eq(b']'))) as u32,
            }
        }
    }
}

/// Scan `bytes` as a JSON object event, reporting leaves on used paths to `sink`.
///
/// `STRICT` validates the whole event (UTF-8 and JSON syntax everywhere). Otherwise values on
/// paths no rule uses are skipped by structure only (strings and brackets), without checking their
/// syntax; everything that is read is still validated.
pub(crate) fn scan<S: LeafSink, const STRICT: bool>(
    bytes: &[u8],
    trie: &PathTrie,
    sink: &mut S,
) -> R<()> {
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
        members: Vec::new(),
        next_array: 0,
        key_buf: String::new(),
        val_buf: String::new(),
        stopped: false,
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

    /// Scan a string body (after the opening quote). Returns the raw slice bounds, or `None` in
    /// the bounds and the decoded text in `buf` when it has escapes.
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
                    let e = match self.peek() {
                        Some(e) => e,
                        None => return bad(self.pos, "unterminated escape"),
                    };
                    self.pos += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            let cp = if (0xd800..0xdc00).contains(&hi) {
                                if self.peek() != Some(b'\\')
                                    || self.b.get(self.pos + 1) != Some(&b'u')
                                {
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
                                Some(ch) => out.push(ch),
                                None => return bad(self.pos, "bad escape"),
                            }
                        }
                        _ => return bad(self.pos - 1, "bad escape"),
                    }
                }
                0..=0x1f => return bad(self.pos, "control character in string"),
                _ => {
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
                }
            }
        }
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

    /// Validate a number starting at `self.pos`; return its end.
    #[inline]
    fn number(&mut self) -> R<usize> {
        let b = self.b;
        let mut i = self.pos;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        match b.get(i) {
            Some(b'0') => {
                i += 1;
            }
            Some(b'1'..=b'9') => {
                i += 1;
                while let Some(b'0'..=b'9') = b.get(i) {
                    i += 1;
                }
            }
            _ => return bad(i, "bad number"),
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            if !matches!(b.get(i), Some(b'0'..=b'9')) {
                return bad(i, "bad number");
            }
            while let Some(b'0'..=b'9') = b.get(i) {
                i += 1;
            }
        }
        if let Some(b'e' | b'E') = b.get(i) {
            i += 1;
            if let Some(b'+' | b'-') = b.get(i) {
                i += 1;
            }
            if !matches!(b.get(i), Some(b'0'..=b'9')) {
                return bad(i, "bad number");
            }
            while let Some(b'0'..=b'9') = b.get(i) {
                i += 1;
            }
        }
        self.pos = i;
        Ok(i)
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
            self.expect(b'"', "expected key")?;
            let (start, end, escaped) = self.string_raw()?;
            let (child, bit) = if escaped {
                let mut key = std::mem::take(&mut self.key_buf);
                let r = self.string_escaped(start, &mut key);
                let c = if r.is_ok() {
                    self.trie.child_bit(node, key.as_bytes())
                } else {
                    (NONE, 0)
                };
                self.key_buf = key;
                r?;
                c
            } else {
                self.trie.child_bit(node, &self.b[start..end])
            };
            self.expect(b':', "expected ':'")?;
            if child == NONE {
                self.ws();
                if !STRICT && self.peek() == Some(b'"') {
                    // The common case, inline: an unused string value.
                    self.pos += 1;
                    self.skip_string_lenient()?;
                } else {
                    self.skip_value(depth + 1)?;
                }
            } else {
                let completes = full != 0 && (seen | bit) == full;
                self.value(child, depth + 1, stop_when_done && completes)?;
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
                        self.pos =
                            skip_container(self.b, self.pos, 1, MAX_DEPTH.saturating_sub(depth))?;
                        return Ok(());
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

    /// A value at a used node. `stop_when_done`: see [`Self::object`].
    fn value(&mut self, node: u32, depth: usize, stop_when_done: bool) -> R<()> {
        self.ws();
        let field = self.trie.field(node);
        match self.peek() {
            Some(b'{') => {
                if depth >= MAX_DEPTH {
                    return bad(self.pos, "nesting too deep");
                }
                self.pos += 1;
                if self.trie.has_children(node) {
                    self.object(node, depth, stop_when_done)
                } else {
                    self.pos -= 1;
                    self.skip_value(depth)
                }
            }
            Some(b'[') => {
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
            Some(b'"') => {
                self.pos += 1;
                if field == NONE {
                    return self.skip_string();
                }
                let (start, end, escaped) = self.string_raw()?;
                if escaped {
                    let mut s = std::mem::take(&mut self.val_buf);
                    let r = self.string_escaped(start, &mut s);
                    if r.is_ok() {
                        self.sink.leaf(field, LeafKind::Str(&s), &self.members);
                    }
                    self.val_buf = s;
                    r
                } else {
                    let s = if STRICT {
                        // Checked up front.
                        std::str::from_utf8(&self.b[start..end]).unwrap_or_default()
                    } else {
                        match std::str::from_utf8(&self.b[start..end]) {
                            Ok(s) => s,
                            Err(_) => return bad(start, "invalid UTF-8"),
                        }
                    };
                    self.sink.leaf(field, LeafKind::Str(s), &self.members);
                    Ok(())
                }
            }
            Some(b't') => {
                self.literal(b"true")?;
                self.emit_lit(field, Lit::True);
                Ok(())
            }
            Some(b'f') => {
                self.literal(b"false")?;
                self.emit_lit(field, Lit::False);
                Ok(())
            }
            Some(b'n') => {
                self.literal(b"null")?;
                self.emit_lit(field, Lit::Null);
                Ok(())
            }
            Some(b'-' | b'0'..=b'9') => {
                let start = self.pos;
                let end = self.number()?;
                if field != NONE {
                    let t = std::str::from_utf8(&self.b[start..end]).unwrap_or_default();
                    self.sink.leaf(field, LeafKind::Num(t), &self.members);
                }
                Ok(())
            }
            _ => bad(self.pos, "expected a value"),
        }
    }

    #[inline]
    fn emit_lit(&mut self, field: u32, l: Lit) {
        if field != NONE {
            self.sink.leaf(field, LeafKind::Lit(l), &self.members);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// serde_json::Value walker

/// Walk an already-parsed event. Numbers are seen as `serde_json` prints them.
pub(crate) fn walk_value<S: LeafSink>(
    event: &serde_json::Value,
    trie: &PathTrie,
    sink: &mut S,
) -> R<()> {
    let serde_json::Value::Object(map) = event else {
        return Err(EventError::NotAnObject);
    };
    Walker::new(trie, sink).object(map, trie.root());
    Ok(())
}

/// A top-level field of an event given field by field (see [`walk_fields`]).
#[derive(Debug, Clone, Copy)]
pub enum TopField<'a> {
    /// A JSON string.
    Str(&'a str),
    /// `true` or `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// Any JSON value (objects and arrays are walked as usual).
    Json(&'a serde_json::Value),
}

/// Walk an event whose top level is given as `(key, value)` pairs instead of one object, so a
/// caller holding the pieces (a CloudEvent's attributes and its JSON data) need not assemble and
/// clone them into a `Value` first. Keys must be distinct, as in a JSON object.
pub(crate) fn walk_fields<S: LeafSink>(
    fields: &[(&str, TopField<'_>)],
    trie: &PathTrie,
    sink: &mut S,
) {
    let mut w = Walker::new(trie, sink);
    let root = trie.root();
    for (key, value) in fields {
        let child = trie.child(root, key.as_bytes());
        if child == NONE {
            continue;
        }
        match *value {
            TopField::Json(v) => w.value(v, child),
            TopField::Str(s) => {
                let field = trie.field(child);
                if field != NONE {
                    w.sink.leaf(field, LeafKind::Str(s), &w.members);
                }
            }
            TopField::Bool(b) => w.value(&serde_json::Value::Bool(b), child),
            TopField::Int(i) => w.value(&serde_json::Value::from(i), child),
        }
    }
}

struct Walker<'b, S: LeafSink> {
    trie: &'b PathTrie,
    sink: &'b mut S,
    members: Vec<(u32, u32)>,
    next_array: u32,
    num_buf: String,
}

impl<'b, S: LeafSink> Walker<'b, S> {
    fn new(trie: &'b PathTrie, sink: &'b mut S) -> Self {
        Walker {
            trie,
            sink,
            members: Vec::new(),
            next_array: 0,
            num_buf: String::new(),
        }
    }

    fn object(&mut self, map: &serde_json::Map<String, serde_json::Value>, node: u32) {
        for (k, v) in map {
            let child = self.trie.child(node, k.as_bytes());
            if child != NONE {
                self.value(v, child);
            }
        }
    }

    fn value(&mut self, v: &serde_json::Value, node: u32) {
        use serde_json::Value;
        let field = self.trie.field(node);
        match v {
            Value::Object(m) => self.object(m, node),
            Value::Array(items) => {
                let id = self.next_array;
                self.next_array += 1;
                self.members.push((id, 0));
                let at = self.members.len() - 1;
                for (i, item) in items.iter().enumerate() {
                    self.members[at].1 = i as u32;
                    self.value(item, node);
                }
                self.members.pop();
            }
            _ if field == NONE => {}
            Value::String(s) => self.sink.leaf(field, LeafKind::Str(s), &self.members),
            Value::Number(n) => {
                use std::fmt::Write;
                self.num_buf.clear();
                let _ = write!(self.num_buf, "{n}");
                self.sink
                    .leaf(field, LeafKind::Num(&self.num_buf), &self.members);
            }
            Value::Bool(true) => self
                .sink
                .leaf(field, LeafKind::Lit(Lit::True), &self.members),
            Value::Bool(false) => self
                .sink
                .leaf(field, LeafKind::Lit(Lit::False), &self.members),
            Value::Null => self
                .sink
                .leaf(field, LeafKind::Lit(Lit::Null), &self.members),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        scan::<_, true>(ev, &trie, &mut c).unwrap();
        let mut lenient = Collect::default();
        scan::<_, false>(ev, &trie, &mut lenient).unwrap();
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
    fn structural_skip_matches_scalar() {
        let samples: &[&[u8]] = &[
            br#"{"a": [1, 2, {"b": "}]\"{["}], "c": "x\\"} tail"#,
            br#"[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]"#,
            br#"{"k": "a string with \" quotes \\ and } ] brackets that runs past sixteen bytes"} x"#,
            br#"{"coords": [{"x": -122.42916, "y": 37.7298, "z": 0}, {"x": -122.42912, "y": 37.7298, "z": 0}]}"#,
        ];
        for s in samples {
            let mut st = SkipState {
                depth: 0,
                in_string: false,
                escape: false,
            };
            let scalar = s.iter().position(|&c| st.byte(c)).map(|p| p + 1);
            assert_eq!(
                skip_container(s, 0, 0, MAX_DEPTH).ok(),
                scalar,
                "{}",
                String::from_utf8_lossy(s)
            );
        }
        // Unterminated and too deep
        assert!(skip_container(b"[1, 2, 3, 4, 5, 6, 7, 8, 9, 10", 0, 0, MAX_DEPTH).is_err());
        assert!(skip_container(&[b'['; 100], 0, 0, 10).is_err());
        // Leaving an object from the middle.
        assert_eq!(
            skip_container(br#""b": [1, {"}": 2}]} , "c": 1}"#, 0, 1, MAX_DEPTH).ok(),
            Some(19)
        );
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
                scan::<_, true>(bad_ev, &trie, &mut c).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad_ev)
            );
        }
        assert_eq!(
            scan::<_, true>(b"[1]", &trie, &mut c),
            Err(EventError::NotAnObject)
        );
    }
}
