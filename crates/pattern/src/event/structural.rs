//! Byte-level primitives of the event scanner, which look at bytes, not at JSON values: where the
//! next quote, backslash or control character is, and where a container ends judging only by its
//! brackets and strings (how fast mode skips what no rule reads). 16 bytes at a time with SSE2 on
//! x86_64, byte by byte elsewhere; both give the same answers.

use crate::error::EventError;

/// Nesting limit for events (Jackson's default).
pub(super) const MAX_DEPTH: usize = 1000;

pub(super) type R<T> = Result<T, EventError>;

/// A malformed-event error at byte `offset`.
pub(super) fn bad<T>(offset: usize, what: &'static str) -> R<T> {
    Err(EventError::Malformed { offset, what })
}

/// Bytes that need attention inside a string: quote, backslash, control characters.
pub(super) static STR_SPECIAL: [bool; 256] = {
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
pub(super) fn prefetch(b: &[u8]) {
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

/// While reading far into an event (the elements of a long array), ask for the cache lines up
/// to [`PREFETCH_BYTES`] ahead of `pos` that were not asked for yet (`*asked` is where the
/// requests so far end; [`prefetch`] asked for the first [`PREFETCH_BYTES`]), so that memory
/// keeps ahead of the reader. (Asking for more at the start instead slows the events that are
/// only read at their beginning.)
#[inline]
pub(super) fn prefetch_ahead(b: &[u8], pos: usize, asked: &mut usize) {
    #[cfg(target_arch = "x86_64")]
    {
        let want = (pos + PREFETCH_BYTES).min(b.len());
        while *asked < want {
            // SAFETY: prefetching has no effect on program state; the address is within `b`.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                    b.as_ptr().add(*asked) as *const i8,
                )
            };
            *asked += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (b, pos, asked);
}

/// Where the requests of [`prefetch`] end.
pub(super) const PREFETCHED: usize = PREFETCH_BYTES;

/// How much of an event [`prefetch`] asks for.
const PREFETCH_BYTES: usize = 512;

/// Index of the first quote or backslash (and control character when `control`) at or after
/// `i` in `b`, or `b.len()`.
#[inline]
pub(super) fn find_string_special(b: &[u8], mut i: usize, control: bool) -> usize {
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
pub(super) fn skip_container(b: &[u8], start: usize, depth: usize, max_depth: usize) -> R<usize> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
