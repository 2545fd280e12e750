//! Numbers as event-ruler compares them: exactly, as IEEE-754 doubles, through an
//! order-preserving 64-bit key.
//!
//! ## What event-ruler does today (read from aws/event-ruler, `ComparableNumber.java`,
//! `Range.java`, `JsonRuleCompiler.java`, `ByteMachine.java`)
//!
//! - Before July 2024 the key was `(long) (1e6 * (5e9 + f))`, computed in double arithmetic, over
//!   ±5e9. The sum `5e9 + f` keeps only about six decimals (its unit in the last place is about
//!   1e-6), so values that differ from the seventh decimal on could get the same key and an `=`
//!   matched a different number (aws/event-ruler#163). This file used to copy that key.
//! - PR #166 (July 2024, "ruler today ignores precision and causes false matches") parsed numbers
//!   as `BigDecimal` and rejected more than six decimals. PR #171 widened the range to ±5e11 with
//!   base-64 digits.
//! - PR #188 (Sept 2024, issue #179, following quamina's `numbits.go`) is the current form:
//!   `ComparableNumber.generate(text)` parses the text as a `BigDecimal`, takes its nearest
//!   double, and throws `IllegalArgumentException("Cannot compare number : " + text)` when that
//!   double is NaN or infinite, or when `BigDecimal.valueOf(double)` (the double's shortest decimal
//!   form, `Double.toString`) is not numerically equal to the text. Otherwise the key is the
//!   double's 64 bits with the sign bit flipped (all bits flipped for negatives), written as ten
//!   base-128 digits, so byte order is numeric order over the whole float64 range.
//!   `Range.lessThan`/`greaterThan` take ∓`Double.MAX_VALUE` (inclusive) as the other end and
//!   check nothing more; a two-sided range checks "Bottom must be less than top" on the keys,
//!   after both operands are generated.
//! - Where it is used: a number literal in a pattern adds a numeric-equals matcher when `generate` succeeds and
//!   always an exact-text matcher (so `[12345678901234567890]` still matches by text);
//!   `numeric` operands and `anything-but` numbers turn the exception into the pattern error; an
//!   event number that `generate` rejects is only compared as text.
//! - Consequences: `-0` equals `0` (a `BigDecimal` has no negative zero); `3.018e2`, `301.8` and
//!   `301.80` are the same number; an integer beyond 2^53 that a double cannot hold
//!   (`9007199254740993`) and a decimal longer than the double's shortest form
//!   (`0.10000000000000001`) are not comparable; `1e400` is not comparable.
//!
//! ## What EventBridge documents
//!
//! The EventBridge user guide (`eb-event-patterns-content-based-filtering.html#filtering-numeric-
//! matching`, as quoted in LocalStack's `event_ruler.py`) says: "Numeric matching works with
//! values that are JSON numbers. It is limited to values between -5.0e9 and +5.0e9 inclusive,
//! with 15 digits of precision, or six digits to the right of the decimal point." (An older
//! revision said ±1.0e9.) No public recording of `TestEventPattern` (LocalStack's AWS-validated
//! snapshots, last validated in 2025) has a number beyond ±5e9 or beyond 15 digits, so we found
//! no evidence of which event-ruler release EventBridge runs.
//!
//! ## What we chose
//!
//! - Exact comparison of doubles with current event-ruler's key (as a `u64`: comparing the
//!   integers is comparing the ten base-128 digits), and its rule for numbers a double cannot
//!   hold exactly: such a number has no key, an operand is rejected with
//!   `Cannot compare number : <text as written>`, a literal and an event value compare as text.
//!   "Numerically equal to the shortest form" is checked against the shortest round-trip form
//!   (Ryu), which is what `Double.toString` gives since JDK 19 except for a few subnormals (Java
//!   prints at least two digits: `4.9E-324`); older JDKs sometimes printed a longer form.
//! - The ±5e9 range stays, with its message `Value must be between -5.0E9 and 5.0E9, inclusive`,
//!   checked first (on the parsed double, as before), because that is what AWS documents and what
//!   this project's conformance cases (written from the AWS documentation) assert; an event number
//!   beyond ±5e9 is compared as text only, as before. This is the one place where we knowingly
//!   differ from current event-ruler (which accepts the full float64 range).

/// Lower and upper bound of numeric matching.
pub(crate) const FIVE_BILLION: f64 = 5e9;

/// Message for an operand outside the numeric range (Java's `-5.0E9`/`5.0E9` formatting).
pub(crate) const OUT_OF_RANGE: &str = "Value must be between -5.0E9 and 5.0E9, inclusive";

/// The ends of a one-sided range, as operand text.
pub(crate) const LOWEST: &str = "-5000000000";
pub(crate) const HIGHEST: &str = "5000000000";

/// The comparable key of a number: comparing keys is comparing the numbers.
pub(crate) type NumKey = u64;

/// Why a number has no key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoKey {
    /// Beyond ±5e9 (or not a number at all).
    OutOfRange,
    /// A double cannot hold it exactly.
    Inexact,
}

impl NoKey {
    /// The pattern error for an operand `text` without a key.
    pub(crate) fn message(self, text: &str) -> String {
        match self {
            NoKey::OutOfRange => OUT_OF_RANGE.to_string(),
            NoKey::Inexact => format!("Cannot compare number : {text}"),
        }
    }
}

/// The order-preserving key of a double (not NaN): flip the sign bit of a positive number, every
/// bit of a negative one. `-0.0` becomes `0.0` first.
#[inline]
pub(crate) fn key_of_f64(f: f64) -> NumKey {
    let bits = if f == 0.0 { 0 } else { f.to_bits() };
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

/// The double a key stands for (the inverse of [`key_of_f64`]).
pub(crate) fn value_of_key(k: NumKey) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k })
}

/// Parse the text of a JSON number (already syntax-checked) as Java's `Double.parseDouble` would.
pub(crate) fn parse_f64(text: &str) -> f64 {
    text.parse::<f64>().unwrap_or(f64::NAN)
}

/// Powers of ten a double holds exactly (10^22 is the last: 5^22 < 2^53).
const EXACT_POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Read the JSON number at `b[i..]` (the grammar of RFC 8259: `-? (0 | [1-9][0-9]*) (.[0-9]+)?
/// ([eE][+-]?[0-9]+)?`): its end, and its value when the common case decides it without the
/// general parser or the exactness check. `Err` holds the offset of the first byte that breaks
/// the grammar.
///
/// The common case: at most 15 digits in all (leading zeros included) and a decimal exponent
/// within ±22. The digits then form an integer `m < 10^15` that a double holds exactly, as it
/// does `10^|e|`, so one IEEE multiplication or division gives the correctly rounded (nearest)
/// double, as `str::parse` does (Clinger's fast path); and the result, between 1e-22 and 1e37 in
/// magnitude, is a normal double, whose shortest form a decimal of at most 15 significant digits
/// always is (DBL_DIG), so the number is exact. Zero, however written, is exact too.
#[inline(always)]
pub(crate) fn lex(b: &[u8], mut i: usize) -> Result<(usize, Option<f64>), usize> {
    let neg = b.get(i) == Some(&b'-');
    i += usize::from(neg);
    let int_start = i;
    let mut m = 0u64;
    let digit = |i: usize| b.get(i).filter(|c| c.is_ascii_digit()).map(|c| c - b'0');
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i = digit_run(b, i, &mut m),
        _ => return Err(i),
    }
    let mut digits = i - int_start;
    let mut exp = 0i32;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let frac_start = i;
        i = digit_run(b, i, &mut m);
        if i == frac_start {
            return Err(i);
        }
        digits += i - frac_start;
        exp = -((i - frac_start).min(1 << 20) as i32);
    }
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        let eneg = b.get(i) == Some(&b'-');
        i += usize::from(matches!(b.get(i), Some(b'-' | b'+')));
        let exp_start = i;
        let mut e = 0i32;
        while let Some(d) = digit(i) {
            e = (e * 10 + i32::from(d)).min(1 << 20);
            i += 1;
        }
        if i == exp_start {
            return Err(i);
        }
        exp += if eneg { -e } else { e };
    }
    // `m` wrapped only if there are more than 19 digits; then this is not the common case.
    let f = if digits > 15 {
        None
    } else if m == 0 {
        Some(0.0)
    } else if (0..=22).contains(&exp) {
        Some(m as f64 * EXACT_POW10[exp as usize])
    } else if (-22..0).contains(&exp) {
        Some(m as f64 / EXACT_POW10[(-exp) as usize])
    } else {
        None
    };
    Ok((i, f.map(|f| if neg { -f } else { f })))
}

/// `10^n` for the digit counts of [`eight_digits`].
const POW10_U64: [u64; 9] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
];

/// The leading ASCII digits of eight bytes read little-endian (the first byte lowest): how many
/// there are (0 to 8) and their value, without a branch per byte.
#[inline]
fn eight_digits(w: u64) -> (usize, u64) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0xf0 * ONES;
    // A byte is a digit when its high nibble is 3, also after adding 6. (Adding 6 carries out
    // of a byte only from 0xfa and up, not digits, and only into later bytes.)
    let not_digit =
        ((w & HIGH) ^ (0x30 * ONES)) | ((w.wrapping_add(6 * ONES) & HIGH) ^ (0x30 * ONES));
    let n = (not_digit.trailing_zeros() / 8) as usize;
    if n == 0 {
        return (0, 0);
    }
    // Digit values (borrows only reach bytes after a non-digit), the first n of them moved to
    // the top as if preceded by zeros, then combined pairwise (the usual eight-digit method).
    let mut d = w.wrapping_sub(0x30 * ONES) << (8 * (8 - n));
    d = d.wrapping_mul(10).wrapping_add(d >> 8);
    let lo = (d & 0x0000_00ff_0000_00ff).wrapping_mul(100 + (1_000_000 << 32));
    let hi = ((d >> 16) & 0x0000_00ff_0000_00ff).wrapping_mul(1 + (10_000 << 32));
    (n, lo.wrapping_add(hi) >> 32)
}

/// Read a run of digits at `b[i..]` into `m` (`m * 10^len + run`, wrapping); return its end.
#[inline]
fn digit_run(b: &[u8], mut i: usize, m: &mut u64) -> usize {
    while let Some(chunk) = b.get(i..i + 8) {
        let (n, v) = eight_digits(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        *m = m.wrapping_mul(POW10_U64[n]).wrapping_add(v);
        i += n;
        if n < 8 {
            return i;
        }
    }
    while let Some(&c) = b.get(i).filter(|c| c.is_ascii_digit()) {
        *m = m.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
        i += 1;
    }
    i
}

/// [`lex`]'s common-case value of a whole text, `None` for anything else.
#[inline]
fn fast_value(t: &[u8]) -> Option<f64> {
    match lex(t, 0) {
        Ok((end, f)) if end == t.len() => f,
        _ => None,
    }
}

/// A number leaf's key, with the exactness check (see [`exact`]) put off until an answer
/// depends on it: [`PendingKey::candidate`] is the key the leaf has if it is exact (its nearest
/// double's), [`PendingKey::key`] the key it has. A leaf whose candidate is no rule's value, in
/// no rule's range and none of an `anything-but`'s numbers matches the same rules (by text
/// only) whether it is exact or not, so the matcher asks for the key only when the candidate
/// hits. (Inside a range, an inexact text does not match: it has no key.)
#[derive(Debug, Clone, Copy)]
pub(crate) struct PendingKey<'a> {
    text: &'a str,
    value: f64,
    candidate: Option<NumKey>,
    checked: bool,
}

impl<'a> PendingKey<'a> {
    /// The leaf of `text`, with the value [`lex`] found if any (a value it finds is exact): the
    /// range is checked now, the exactness later.
    #[inline]
    pub(crate) fn of_leaf(text: &'a str, lexed: Option<f64>) -> Self {
        let (value, checked) = match lexed {
            Some(f) => (f, true),
            None => (parse_f64(text), false),
        };
        // NaN (which JSON text cannot give) has no key either.
        let candidate = (!out_of_range(value) && !value.is_nan()).then(|| key_of_f64(value));
        Self {
            text,
            value,
            candidate,
            checked: checked || candidate.is_none(),
        }
    }

    /// The key the leaf has if a double holds it exactly.
    #[inline]
    pub(crate) fn candidate(&self) -> Option<NumKey> {
        self.candidate
    }

    /// The leaf's key ([`value_of_text`]'s answer), checking exactness once if not done yet.
    #[inline]
    pub(crate) fn key(&mut self) -> Option<NumKey> {
        if !self.checked {
            self.checked = true;
            if !exact(self.text.as_bytes(), self.value) {
                self.candidate = None;
            }
        }
        self.candidate
    }
}

/// The value of a JSON number's text when it has a key: within ±5e9 and held exactly.
#[inline]
pub(crate) fn value_of_text(text: &str) -> Result<f64, NoKey> {
    match fast_value(text.as_bytes()) {
        Some(f) if out_of_range(f) => Err(NoKey::OutOfRange),
        Some(f) => Ok(f),
        None => general_value_of_text(text),
    }
}

/// [`value_of_text`] without its fast path: the parser, the range, then the exactness check.
fn general_value_of_text(text: &str) -> Result<f64, NoKey> {
    let f = parse_f64(text);
    // NaN fails both comparisons (it cannot come from JSON text) and then the exactness check.
    if out_of_range(f) {
        return Err(NoKey::OutOfRange);
    }
    if exact(text.as_bytes(), f) {
        Ok(f)
    } else {
        Err(NoKey::Inexact)
    }
}

/// Outside the documented ±5.0e9 (see the module comment).
#[inline]
fn out_of_range(f: f64) -> bool {
    #[allow(clippy::manual_range_contains)]
    let out = f < -FIVE_BILLION || f > FIVE_BILLION;
    out
}

/// Comparable key of a JSON number's text, `None` when it has none (see [`value_of_text`]).
#[inline]
pub(crate) fn key_of_text(text: &str) -> Option<NumKey> {
    value_of_text(text).ok().map(key_of_f64)
}

/// The key of an operand, or the pattern error.
pub(crate) fn operand_key(text: &str) -> Result<NumKey, String> {
    value_of_text(text)
        .map(key_of_f64)
        .map_err(|e| e.message(text))
}

/// The significant digits of a decimal: value = 0.d₁d₂…dₙ × 10^exp, no leading or trailing
/// zeros (`len == 0` for zero). Only up to 17 digits, the most a shortest double form has.
#[derive(Debug, PartialEq, Eq)]
struct Sig {
    digits: [u8; 17],
    len: usize,
    exp: i64,
}

/// The significant digits of a number's text, `None` when it is malformed or has more than 17
/// significant digits (then it is not a double's shortest form).
fn significant(t: &[u8]) -> Option<Sig> {
    let mut s = Sig {
        digits: [b'0'; 17],
        len: 0,
        exp: 0,
    };
    let mut i = usize::from(t.first() == Some(&b'-'));
    let (mut point, mut zeros, mut any) = (false, 0usize, false);
    while let Some(&c) = t.get(i) {
        match c {
            b'0'..=b'9' => {
                any = true;
                let started = s.len > 0;
                if started && !point {
                    s.exp += 1;
                } else if !started && point && c == b'0' {
                    s.exp -= 1;
                }
                if c == b'0' {
                    zeros += usize::from(started);
                } else {
                    if !started && !point {
                        s.exp += 1;
                    }
                    if s.len + zeros >= s.digits.len() {
                        return None;
                    }
                    s.len += zeros;
                    zeros = 0;
                    s.digits[s.len] = c;
                    s.len += 1;
                }
            }
            b'.' if !point => point = true,
            b'e' | b'E' => break,
            _ => return None,
        }
        i += 1;
    }
    if !any {
        return None;
    }
    if i < t.len() {
        let e = exponent(&t[i + 1..])?;
        s.exp = s.exp.saturating_add(e);
    }
    if s.len == 0 {
        s.exp = 0;
    }
    Some(s)
}

/// The value of an exponent's text (`+12`, `-3`, `7`), saturated far beyond any double's.
fn exponent(t: &[u8]) -> Option<i64> {
    let (neg, digits) = match t.first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() {
        return None;
    }
    let mut e: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        e = (e * 10 + i64::from(c - b'0')).min(1 << 40);
    }
    Some(if neg { -e } else { e })
}

/// Is the decimal `text` numerically equal to the shortest decimal form of `f`, its nearest
/// double? (event-ruler: `BigDecimal.valueOf(d).compareTo(new BigDecimal(text)) == 0`.)
fn exact(text: &[u8], f: f64) -> bool {
    if !f.is_finite() {
        return false;
    }
    // A decimal of at most 15 significant digits survives the trip to a normal double and back
    // (DBL_DIG), so it is the shortest form of its double. Checked on the length first (the
    // common case: a short text cannot hold 16 digits), then on the digits.
    if text.len() <= 15 && f.is_normal() {
        return true;
    }
    if let Some((d, e10)) = decimal_of(text) {
        let n = d.ilog10() as usize + 1;
        if n <= 15 && f.is_normal() {
            return true;
        }
        if let Some(answer) = shortest_is(d, n, e10, f) {
            return answer;
        }
    }
    let Some(sig) = significant(text) else {
        return false;
    };
    if f == 0.0 {
        return sig.len == 0;
    }
    if sig.len <= 15 && f.is_normal() {
        return true;
    }
    ryu_shortest_is(&sig, f)
}

/// A JSON number's text (already syntax-checked) as `D·10^E` with `D` an integer without
/// trailing zeros, read eight digits at a time; `None` for zero and for more than 19 digits
/// (leading zeros included), where `D` might not fit.
#[inline]
fn decimal_of(t: &[u8]) -> Option<(u64, i64)> {
    let mut i = usize::from(t.first() == Some(&b'-'));
    let start = i;
    let mut d = 0u64;
    i = digit_run(t, i, &mut d);
    let mut digits = i - start;
    let mut e10 = 0i64;
    if t.get(i) == Some(&b'.') {
        let frac = i + 1;
        i = digit_run(t, frac, &mut d);
        digits += i - frac;
        e10 = -((i - frac) as i64);
    }
    if let Some(b'e' | b'E') = t.get(i) {
        e10 = e10.saturating_add(exponent(&t[i + 1..])?);
    }
    if digits > 19 || d == 0 {
        return None;
    }
    while d.is_multiple_of(10) {
        d /= 10;
        e10 += 1;
    }
    Some((d, e10))
}

/// [`exact`]'s last step, the reference: the shortest round-trip form (Ryu; Rust's `{:e}` gives
/// the same digits, three times slower), compared digit by digit.
fn ryu_shortest_is(sig: &Sig, f: f64) -> bool {
    let mut buf = ryu::Buffer::new();
    significant(buf.format_finite(f).as_bytes()).is_some_and(|shortest| shortest == *sig)
}

/// `10^n` as `u128`, `n <= 22`.
const POW10_U128: [u128; 23] = {
    let mut t = [1u128; 23];
    let mut i = 1;
    while i < 23 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// Is `D·10^E` (`d`, of `n` significant digits, 16 or 17; `e10`), whose nearest double is `f`,
/// the shortest round-trip form of `f`, decided with integers: `None` when it cannot tell
/// cheaply (then Ryu decides).
///
/// The shortest form (what Ryu prints) is the decimal with the fewest significant digits
/// inside the interval of reals that round to `f` (half a unit in the last place either side),
/// and the closest to `f` among those. With the text `D·10^E` (`D` of `n` digits) and
/// `f = M·2^k`, both are integers in the unit `2^k·10^E`: `D·2^-k` and `M·10^-E`; the
/// interval's half width is `10^-E / 2` and one unit of `D`'s last digit is `2^-k`. The text is the
/// shortest form exactly when no multiple of `10·2^-k` (a decimal of fewer digits) lies in the
/// interval and `D` is the closest `n`-digit decimal to `f`, that is `|D·2^-k - M·10^-E|` is
/// below half a unit of `D`'s last digit. Ties, candidates on the interval's ends (where Ryu's
/// inclusion depends on the mantissa's parity), intervals that are not symmetric (`M = 2^52`),
/// that reach out of `D`'s decade (where the step of the decimals changes) or that are wider
/// than ten units of the last digit, and magnitudes whose products leave `u128`, all go
/// to Ryu.
fn shortest_is(d: u64, n: usize, e10: i64, f: f64) -> Option<bool> {
    if !(16..=17).contains(&n) || !f.is_normal() {
        return None;
    }
    let d = u128::from(d);
    let bits = f.abs().to_bits();
    let m = u128::from((bits & ((1 << 52) - 1)) | 1 << 52);
    let k2 = (bits >> 52) as i64 - 1075;
    if m == 1 << 52 || !(-70..0).contains(&k2) || !(-22..0).contains(&e10) {
        return None;
    }
    let shift = (-k2) as u32;
    let unit = 1u128 << shift;
    let a = d << shift;
    let b = m * POW10_U128[(-e10) as usize];
    let half = POW10_U128[(-e10) as usize] / 2;
    let diff = |x: u128, y: u128| x.abs_diff(y);
    let delta = diff(a, b);
    let decade = POW10_U128[n - 1] << shift;
    if delta > half || half > 10 * unit || b - half <= decade || b + half >= 10 * decade {
        return None;
    }
    let low = d - d % 10;
    for c in [
        low.saturating_sub(20),
        low.saturating_sub(10),
        low,
        low + 10,
        low + 20,
        low + 30,
    ] {
        let dist = diff(c << shift, b);
        if dist == half {
            return None;
        }
        if dist < half {
            return Some(false);
        }
    }
    match (2 * delta).cmp(&unit) {
        std::cmp::Ordering::Less => Some(true),
        std::cmp::Ordering::Greater => Some(false),
        std::cmp::Ordering::Equal => None,
    }
}

/// An inclusive/exclusive numeric range over comparable keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NumRange {
    pub lo: NumKey,
    pub lo_open: bool,
    pub hi: NumKey,
    pub hi_open: bool,
}

impl NumRange {
    /// event-ruler's `Range.between(bottom, openBottom, top, openTop)`, on operand texts, with
    /// the pre-2024 order of checks kept: bottom below top on the doubles, then each operand's
    /// range and exactness.
    pub(crate) fn between(
        lo: &str,
        lo_open: bool,
        hi: &str,
        hi_open: bool,
    ) -> Result<Self, String> {
        if parse_f64(lo) >= parse_f64(hi) {
            return Err("Bottom must be less than top".to_string());
        }
        Ok(Self {
            lo: operand_key(lo)?,
            lo_open,
            hi: operand_key(hi)?,
            hi_open,
        })
    }

    pub(crate) fn equals(v: &str) -> Result<Self, String> {
        let k = operand_key(v)?;
        Ok(Self {
            lo: k,
            lo_open: false,
            hi: k,
            hi_open: false,
        })
    }

    #[inline]
    pub(crate) fn contains(&self, k: NumKey) -> bool {
        (if self.lo_open {
            k > self.lo
        } else {
            k >= self.lo
        }) && (if self.hi_open {
            k < self.hi
        } else {
            k <= self.hi
        })
    }

    /// The same test on values, for the reference matcher: decodes the bounds and compares
    /// doubles, so it checks the key encoding rather than reusing it.
    pub(crate) fn contains_value(&self, v: f64) -> bool {
        let (lo, hi) = (value_of_key(self.lo), value_of_key(self.hi));
        (if self.lo_open { v > lo } else { v >= lo })
            && (if self.hi_open { v < hi } else { v <= hi })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(t: &str) -> NumKey {
        key_of_text(t).unwrap_or_else(|| panic!("{t} has no key"))
    }

    #[test]
    fn keys_compare_by_value() {
        assert_eq!(key_of_text("300"), key_of_text("300.0"));
        assert_eq!(key_of_text("3.018e2"), key_of_text("301.8"));
        assert_eq!(key_of_text("30180E-2"), key_of_text("301.80"));
        assert_eq!(key_of_text("-0"), key_of_text("0"));
        assert_eq!(key_of_text("-0.0e7"), key_of_text("0"));
        assert!(key("-1") < key("-0.5"));
        assert!(key("-0.5") < key("0"));
        assert!(key("0") < key("5e-324"));
        assert!(key("1e-300") < key("1e-299"));
        assert!(key("-1e-299") < key("-1e-300"));
        assert!(key_of_text("5000000000").is_some());
        assert!(key_of_text("-5e9").is_some());
        assert_eq!(value_of_text("5000000000.000001"), Err(NoKey::OutOfRange));
        assert_eq!(value_of_text("1e400"), Err(NoKey::OutOfRange));
        assert_eq!(value_of_text("-1e400"), Err(NoKey::OutOfRange));
    }

    #[test]
    fn seventh_decimal_and_beyond_tell_numbers_apart() {
        // The false match of the old key: these agree in six decimals.
        assert_ne!(key("-122.42916360922355"), key("-122.42916300678067"));
        assert!(key("-122.42916360922355") < key("-122.42916300678067"));
        assert_ne!(key("0.1234562"), key("0.1234561"));
        assert_ne!(key("4999999999.999999"), key("4999999999.999998"));
        assert_ne!(key("-4999999999.999999"), key("-5000000000"));
        // Neighbouring doubles.
        let f = -122.42916360922355_f64;
        let up = f64::from_bits(f.to_bits() - 1);
        let down = f64::from_bits(f.to_bits() + 1);
        assert!(key_of_f64(down) < key_of_f64(f) && key_of_f64(f) < key_of_f64(up));
    }

    #[test]
    fn numbers_a_double_cannot_hold_have_no_key() {
        // Integers within ±5e9 are all exact; 2^53 + 1 is beyond the range anyway. The shortest
        // form of 0.1 is "0.1".
        assert_eq!(value_of_text("9007199254740993"), Err(NoKey::OutOfRange));
        assert_eq!(value_of_text("0.10000000000000001"), Err(NoKey::Inexact));
        assert_eq!(value_of_text("1.0000000000000000001"), Err(NoKey::Inexact));
        assert_eq!(value_of_text("1e-400"), Err(NoKey::Inexact));
        assert_eq!(
            value_of_text("2.4703282292062328e-324"),
            Err(NoKey::Inexact)
        );
        // Shortest forms of 17 digits are exact, and so are their spellings with zeros.
        assert!(key_of_text("0.30000000000000004").is_some());
        assert!(key_of_text("-122.42916360922355").is_some());
        assert_eq!(
            key_of_text("-12242916360922355e-14"),
            key_of_text("-122.429163609223550")
        );
        assert!(key_of_text("5e-324").is_some());
        assert!(key_of_text("2.2250738585072014e-308").is_some());
        assert!(key_of_text("4503599627370497").is_none()); // beyond ±5e9 anyway
        assert!(key_of_text("1234.5678901234567").is_some());
        // Rounds to the double whose shortest form is 4999999999.999999.
        assert_eq!(value_of_text("4999999999.9999995"), Err(NoKey::Inexact));
        assert!(key_of_text("4999999999.999999").is_some());
        assert_eq!(
            operand_key("0.10000000000000001"),
            Err("Cannot compare number : 0.10000000000000001".to_string())
        );
        assert_eq!(operand_key("6e9"), Err(OUT_OF_RANGE.to_string()));
    }

    #[test]
    fn keys_decode_to_their_values() {
        for f in [
            0.0,
            1.0,
            -1.0,
            5e9,
            -5e9,
            5e-324,
            -5e-324,
            301.8,
            f64::MAX,
            f64::MIN,
        ] {
            assert_eq!(value_of_key(key_of_f64(f)), f);
        }
        assert_eq!(value_of_key(key_of_f64(-0.0)).to_bits(), 0);
    }

    #[test]
    fn fast_path_agrees_with_the_general_one() {
        let mut texts: Vec<String> = [
            "0",
            "-0",
            "0.0",
            "-0.000",
            "1",
            "-1",
            "5e9",
            "-5e9",
            "5000000000.1",
            "1e22",
            "1e-22",
            "123456789012345",
            "1234567890123456",
            "0.000000000000001",
            "1.5e-3",
            "1.5E+3",
            "-122.514",
            "37.708",
            "0e5",
            "1e23",
            "1e-23",
            "4999999999.99999",
            "00012",
            "1.",
            "1e",
            ".5",
            "-",
            "",
            "1e+",
            "12a",
            "1.2.3",
            "9e99999",
            "0.1",
            "0.30000000000000004",
        ]
        .iter()
        .map(|t| t.to_string())
        .collect();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let m = x % 10u64.pow(1 + (x >> 60) as u32 % 17);
            let point = (x >> 40) as usize % 19;
            let mut t = m.to_string();
            if point < t.len() {
                t.insert(t.len() - point, '.');
                if t.starts_with('.') {
                    t.insert(0, '0');
                }
            }
            if x >> 63 == 1 {
                t.insert(0, '-');
            }
            if (x >> 20) & 3 == 0 {
                t.push_str(&format!("e{}", (x >> 24) as i64 % 30 - 15));
            }
            texts.push(t);
        }
        for t in &texts {
            if let Some(f) = fast_value(t.as_bytes()) {
                assert_eq!(f.to_bits(), parse_f64(t).to_bits(), "{t}");
                assert!(exact(t.as_bytes(), f), "{t}");
            }
            let general = general_value_of_text(t).map(key_of_f64);
            assert_eq!(value_of_text(t).map(key_of_f64), general, "{t}");
        }
        assert_eq!(fast_value(b"-122.514"), Some(-122.514));
        assert_eq!(fast_value(b"1234567890123456"), None);
        assert_eq!(fast_value(b"1e23"), None);
    }

    /// The key of a number leaf: from the value [`lex`] found when there is one (a value it finds is
    /// exact), else from its text (see [`value_of_text`]). The matcher computes it lazily, with
    /// [`PendingKey`]; this eager form is what the tests hold it to.
    fn key_of_leaf(text: &str, lexed: Option<f64>) -> Option<NumKey> {
        match lexed {
            Some(f) => (-FIVE_BILLION..=FIVE_BILLION)
                .contains(&f)
                .then(|| key_of_f64(f)),
            None => key_of_text(text),
        }
    }

    /// Texts of 16 and 17 significant digits around `f`: its shortest form, and decimals a few
    /// units of the last digit away (most of which round to the same double).
    fn neighbours(f: f64, out: &mut Vec<String>) {
        let shortest = format!("{f:e}");
        let (mantissa, exp) = shortest.split_once('e').expect("exponent");
        let exp: i32 = exp.parse().expect("exponent");
        let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
        let neg = f < 0.0;
        out.push(format!("{f}"));
        for len in [16usize, 17] {
            let base: i128 = format!("{digits:0<len$}")[..len].parse().expect("digits");
            for d in -3i128..=3 {
                let v = base + d;
                let e = exp - (len as i32 - 1);
                out.push(format!("{}{v}e{e}", if neg { "-" } else { "" }));
            }
        }
    }

    #[test]
    fn integer_shortest_check_agrees_with_ryu() {
        let mut texts: Vec<String> = [
            "-122.42916360922355",
            "-122.42916300678067",
            "37.708000123456789",
            "0.30000000000000004",
            "0.10000000000000001",
            "1234.5678901234567",
            "4999999999.999999",
            "4999999999.9999995",
            "9999999999999999e-10",
            "1000000000000001e-15",
            "1.0000000000000002",
            "0.99999999999999989",
        ]
        .iter()
        .map(|t| t.to_string())
        .collect();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Magnitudes from 1e-6 to 5e9, coordinates among them.
            let mag = 10f64.powi((x % 16) as i32 - 6);
            let f = (x >> 11) as f64 / (1u64 << 53) as f64 * mag;
            let f = if x & 1 == 1 { -f } else { f };
            neighbours(f, &mut texts);
            neighbours(-122.5 + (x >> 20) as f64 * 1e-13 % 0.2, &mut texts);
        }
        let (mut decided, mut checked) = (0, 0);
        for t in &texts {
            let Some(sig) = significant(t.as_bytes()) else {
                continue;
            };
            let f = parse_f64(t);
            if !(16..=17).contains(&sig.len) || !f.is_normal() {
                continue;
            }
            checked += 1;
            // More than 19 digits with the leading zeros: left to Ryu.
            let Some((d, e10)) = decimal_of(t.as_bytes()) else {
                continue;
            };
            assert_eq!(d.ilog10() as usize + 1, sig.len, "{t}");
            assert_eq!(e10, sig.exp - sig.len as i64, "{t}");
            if let Some(answer) = shortest_is(d, sig.len, e10, f) {
                decided += 1;
                assert_eq!(answer, ryu_shortest_is(&sig, f), "{t}");
            }
        }
        // Most 16-17-digit texts are decided without Ryu (not a timing claim: a count).
        assert!(decided * 10 > checked * 9, "{decided} of {checked}");
    }

    #[test]
    fn pending_keys_are_the_eager_keys() {
        let mut texts: Vec<String> = Vec::new();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..5_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let f =
                ((x >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 10f64.powi((x % 24) as i32 - 8);
            neighbours(f, &mut texts);
        }
        texts.extend(["0", "-0", "1e400", "-6e9", "5e9", "0.1", "1e-400"].map(String::from));
        for t in &texts {
            let lexed = fast_value(t.as_bytes());
            let eager = key_of_leaf(t, lexed);
            let mut pending = PendingKey::of_leaf(t, lexed);
            if let Some(k) = eager {
                assert_eq!(pending.candidate(), Some(k), "{t}");
            }
            assert_eq!(pending.key(), eager, "{t}");
            assert_eq!(pending.key(), eager, "{t} (asked twice)");
        }
    }

    #[test]
    fn citylots_coordinates_with_17_digits() {
        // Real citylots vertices: the same street corner to six decimals, apart after.
        let (a, b) = ("-122.42916360922355", "-122.42916300678067");
        let eq = format!(r#"{{"n": [{{"numeric": ["=", {a}]}}]}}"#);
        assert_eq!(outcome(&eq, a), Ok(true));
        assert_eq!(outcome(&eq, b), Ok(false));
        assert_eq!(outcome(&eq, "-122.429163"), Ok(false));
        let lit = format!(r#"{{"n": [{b}]}}"#);
        assert_eq!(outcome(&lit, b), Ok(true));
        assert_eq!(outcome(&lit, "-1.2242916300678067e2"), Ok(true));
        assert_eq!(outcome(&lit, a), Ok(false));
        // Ranges with an end at one of them, open and closed.
        let below = format!(r#"{{"n": [{{"numeric": ["<", {b}]}}]}}"#);
        assert_eq!(outcome(&below, a), Ok(true));
        assert_eq!(outcome(&below, b), Ok(false));
        let at_most = format!(r#"{{"n": [{{"numeric": ["<=", {b}]}}]}}"#);
        assert_eq!(outcome(&at_most, b), Ok(true));
        assert_eq!(outcome(&at_most, "-122.42916300678066"), Ok(false));
        let between = format!(r#"{{"n": [{{"numeric": [">=", {a}, "<", {b}]}}]}}"#);
        assert_eq!(outcome(&between, a), Ok(true));
        assert_eq!(outcome(&between, "-122.4291633"), Ok(true));
        assert_eq!(outcome(&between, b), Ok(false));
        assert_eq!(outcome(&between, "-122.42916360922356"), Ok(false));
        // Inside the range but longer than any double's shortest form: compared as text only.
        assert_eq!(outcome(&between, "-122.429163300000001"), Ok(false));
        let not = format!(r#"{{"n": [{{"anything-but": [{a}]}}]}}"#);
        assert_eq!(outcome(&not, a), Ok(false));
        assert_eq!(outcome(&not, b), Ok(true));
    }

    #[test]
    fn eight_digits_at_a_time() {
        for text in [
            "",
            "x",
            "0",
            "7",
            "12",
            "123",
            "98765432",
            "123456789",
            "00000001",
            "1.5",
            "-3",
            "42e1",
            "9999999",
            "99999999",
            "1234567\u{ff}",
            "12\u{fa}45678",
            "/:09",
        ] {
            let mut bytes = [b' '; 8];
            let t = text.as_bytes();
            bytes[..t.len().min(8)].copy_from_slice(&t[..t.len().min(8)]);
            let n = bytes.iter().take_while(|c| c.is_ascii_digit()).count();
            let v = bytes[..n]
                .iter()
                .fold(0u64, |v, c| v * 10 + u64::from(c - b'0'));
            assert_eq!(eight_digits(u64::from_le_bytes(bytes)), (n, v), "{text:?}");
        }
        // Bytes from 0xfa up carry when 6 is added: only into later bytes.
        let w = u64::from_le_bytes([b'1', b'2', 0xff, b'4', 0xfa, b'6', b'7', b'8']);
        assert_eq!(eight_digits(w), (2, 12));
        let w = u64::from_le_bytes([b'9', b'9', b'9', b'9', b'9', b'9', b'9', 0xff]);
        assert_eq!(eight_digits(w), (7, 9_999_999));
        let mut m = 0;
        assert_eq!(digit_run(b"12345678901234567890x", 0, &mut m), 20);
        assert_eq!(m, 12345678901234567890);
        let mut m = 7;
        assert_eq!(digit_run(b"0123", 0, &mut m), 4);
        assert_eq!(m, 70123);
    }

    #[test]
    fn significant_digits() {
        let s = |t: &str| significant(t.as_bytes()).map(|s| (s.digits[..s.len].to_vec(), s.exp));
        assert_eq!(s("123.45"), Some((b"12345".to_vec(), 3)));
        assert_eq!(s("0.00120"), Some((b"12".to_vec(), -2)));
        assert_eq!(s("-100"), Some((b"1".to_vec(), 3)));
        assert_eq!(s("1.5e-3"), Some((b"15".to_vec(), -2)));
        assert_eq!(s("1.5E+3"), Some((b"15".to_vec(), 4)));
        assert_eq!(s("10.01"), Some((b"1001".to_vec(), 2)));
        assert_eq!(s("0.0"), Some((Vec::new(), 0)));
        assert_eq!(s("123456789012345678"), None);
        assert_eq!(s("1e"), None);
        assert_eq!(s("NaN"), None);
    }

    #[test]
    fn range_checks_in_event_ruler_order() {
        let err = |r: Result<NumRange, String>| r.unwrap_err();
        assert_eq!(
            err(NumRange::between("5", false, "5.0", true)),
            "Bottom must be less than top"
        );
        assert_eq!(
            err(NumRange::between(LOWEST, false, "-6e9", true)),
            "Bottom must be less than top"
        );
        assert_eq!(
            err(NumRange::between(LOWEST, false, "6e9", true)),
            OUT_OF_RANGE
        );
        assert_eq!(
            err(NumRange::between("0.30000000000000001", false, "1", true)),
            "Cannot compare number : 0.30000000000000001"
        );
        assert_eq!(err(NumRange::equals("-5000000001")), OUT_OF_RANGE);
        let r = NumRange::between("0", true, "5", false).unwrap();
        assert!(!r.contains(key("0")));
        assert!(r.contains(key("5e-324")));
        assert!(r.contains(key("5")));
        assert!(!r.contains(key("5.000000000000001")));
        assert!(r.contains_value(5.0) && !r.contains_value(0.0));
    }

    #[test]
    fn equals_matches_only_the_same_double() {
        let r = NumRange::equals("-122.42916360922355").unwrap();
        assert!(r.contains(key("-122.42916360922355")));
        assert!(r.contains(key("-1.2242916360922355e2")));
        assert!(!r.contains(key("-122.42916300678067")));
        assert!(!r.contains(key("-122.42916360922356")));
        assert!(!r.contains(key("-122.4291636092235")));
        let tiny = NumRange::equals("1e-7").unwrap();
        assert!(tiny.contains(key("0.0000001")));
        assert!(!tiny.contains(key("0.0000002")));
        assert!(!tiny.contains(key("0")));
    }

    #[test]
    fn ranges_at_their_boundaries() {
        let at = |lo: &str, lo_open, hi: &str, hi_open| {
            NumRange::between(lo, lo_open, hi, hi_open).unwrap()
        };
        let r = at("1.0000001", true, "1.0000003", false);
        assert!(!r.contains(key("1.0000001")));
        assert!(r.contains(key("1.00000010000001")));
        assert!(r.contains(key("1.0000003")));
        assert!(!r.contains(key("1.00000030000001")));
        let whole = at(LOWEST, false, HIGHEST, false);
        assert!(whole.contains(key("-5e9")) && whole.contains(key("5e9")));
        assert!(whole.contains(key("-0")) && whole.contains(key("5e-324")));
        let neg = at("-2", false, "-1", true);
        assert!(neg.contains(key("-1.5")) && neg.contains(key("-2")));
        assert!(!neg.contains(key("-1")) && !neg.contains(key("-2.0000000000000004")));
        let tiny = at("0", true, "1e-300", true);
        assert!(tiny.contains(key("5e-324")) && !tiny.contains(key("-5e-324")));
    }

    /// Through the whole engine: the compiled matcher (one pattern and many rules together) and
    /// the reference matcher.
    fn outcome(pattern: &str, value: &str) -> Result<bool, String> {
        let p = crate::Pattern::parse(pattern).map_err(|e| e.to_string())?;
        let event = format!("{{\"n\": {value}}}");
        let direct = p.matches(event.as_bytes());
        let mut b = crate::MatcherBuilder::new();
        b.add("r", pattern).map_err(|e| e.to_string())?;
        b.add("other", r#"{"n": [{"numeric": [">", 4999999999]}]}"#)
            .map_err(|e| e.to_string())?;
        let many = b.build().matches_for(event.as_bytes()).contains(&"r");
        assert_eq!(many, direct, "many rules: {pattern} on {value}");
        // A `Value` holds a double (parsed here with std, as serde_json's default parser may be
        // one unit in the last place off), so only exact texts keep their meaning.
        if value_of_text(value) != Err(NoKey::Inexact) {
            let parsed = serde_json::json!({ "n": parse_f64(value) });
            let reference = crate::reference::matches(&p, &parsed);
            assert_eq!(reference, direct, "reference: {pattern} on {value}");
        }
        Ok(direct)
    }

    #[test]
    fn numeric_equals_never_matches_a_different_value() {
        let eq = r#"{"n": [{"numeric": ["=", -122.42916360922355]}]}"#;
        assert_eq!(outcome(eq, "-122.42916360922355"), Ok(true));
        assert_eq!(outcome(eq, "-1.2242916360922355e2"), Ok(true));
        assert_eq!(outcome(eq, "-122.42916300678067"), Ok(false));
        assert_eq!(outcome(eq, "-122.42916360922356"), Ok(false));
        assert_eq!(outcome(eq, "-122.429163"), Ok(false));
        let lit = r#"{"n": [0.1234567]}"#;
        assert_eq!(outcome(lit, "0.1234567"), Ok(true));
        assert_eq!(outcome(lit, "1.234567e-1"), Ok(true));
        assert_eq!(outcome(lit, "0.1234568"), Ok(false));
        assert_eq!(outcome(lit, "0.12345670000001"), Ok(false));
        let ab = r#"{"n": [{"anything-but": [300.000001]}]}"#;
        assert_eq!(outcome(ab, "300.000001"), Ok(false));
        assert_eq!(outcome(ab, "300.0000010000001"), Ok(true));
        assert_eq!(outcome(ab, "300.0000009999999"), Ok(true));
    }

    #[test]
    fn ranges_and_magnitudes_through_the_engine() {
        let r = r#"{"n": [{"numeric": [">", 0.000001, "<=", 0.000002]}]}"#;
        assert_eq!(outcome(r, "0.000001"), Ok(false));
        assert_eq!(outcome(r, "0.0000010000000001"), Ok(true));
        assert_eq!(outcome(r, "2e-6"), Ok(true));
        assert_eq!(outcome(r, "0.0000020000000001"), Ok(false));
        let big = r#"{"n": [{"numeric": [">=", 4999999999.999999]}]}"#;
        assert_eq!(outcome(big, "4999999999.999999"), Ok(true));
        assert_eq!(outcome(big, "4999999999.999998"), Ok(false));
        assert_eq!(outcome(big, "5e9"), Ok(true));
        assert_eq!(outcome(big, "6e9"), Ok(false)); // beyond the range: text only
        let tiny = r#"{"n": [{"numeric": ["<", 0]}]}"#;
        assert_eq!(outcome(tiny, "-5e-324"), Ok(true));
        assert_eq!(outcome(tiny, "-0"), Ok(false));
        assert_eq!(outcome(tiny, "1e-400"), Ok(false)); // not comparable
                                                        // A number a double cannot hold: no numeric match, a literal matches its own text only.
        let lit = r#"{"n": [0.10000000000000001]}"#;
        assert_eq!(outcome(lit, "0.10000000000000001"), Ok(true));
        assert_eq!(outcome(lit, "0.1"), Ok(false));
        let ge = r#"{"n": [{"numeric": [">", 0]}]}"#;
        assert_eq!(outcome(ge, "0.10000000000000001"), Ok(false));
        assert_eq!(
            outcome(r#"{"n": [{"numeric": ["=", 0.10000000000000001]}]}"#, "0.1"),
            Err("Cannot compare number : 0.10000000000000001".to_string())
        );
        assert_eq!(
            outcome(r#"{"n": [{"anything-but": 1e-400}]}"#, "0"),
            Err("Cannot compare number : 1e-400".to_string())
        );
        assert_eq!(
            outcome(r#"{"n": [{"numeric": ["<", 1e400]}]}"#, "0"),
            Err(OUT_OF_RANGE.to_string())
        );
    }
}
