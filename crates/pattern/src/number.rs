//! event-ruler's `ComparableNumber`: numbers between -5.0e9 and +5.0e9 inclusive, compared with six
//! digits after the decimal point. Outside that range a number is only ever compared as text.

/// Lower and upper bound of numeric matching.
pub(crate) const FIVE_BILLION: f64 = 5e9;

/// Message for an operand outside the numeric range (Java's `-5.0E9`/`5.0E9` formatting).
pub(crate) const OUT_OF_RANGE: &str = "Value must be between -5.0E9 and 5.0E9, inclusive";

/// The comparable key of a number: `(long) (1e6 * (5e9 + f))`, or `None` outside the range.
pub(crate) fn comparable(f: f64) -> Option<i64> {
    // NaN passes both comparisons in Java too (it cannot come from JSON text).
    #[allow(clippy::manual_range_contains)]
    if f < -FIVE_BILLION || f > FIVE_BILLION {
        None
    } else {
        Some((1e6 * (FIVE_BILLION + f)) as i64)
    }
}

/// Parse the text of a JSON number (already syntax-checked) as Java's `Double.parseDouble` would.
pub(crate) fn parse_f64(text: &str) -> f64 {
    text.parse::<f64>().unwrap_or(f64::NAN)
}

/// Comparable key of a JSON number's text, `None` when out of range.
pub(crate) fn key_of_text(text: &str) -> Option<i64> {
    comparable(parse_f64(text))
}

/// An inclusive/exclusive numeric range over comparable keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NumRange {
    pub lo: i64,
    pub lo_open: bool,
    pub hi: i64,
    pub hi_open: bool,
}

impl NumRange {
    /// event-ruler's `Range(bottom, openBottom, top, openTop)` constructor, with its checks in
    /// its order.
    pub(crate) fn between(
        lo: f64,
        lo_open: bool,
        hi: f64,
        hi_open: bool,
    ) -> Result<Self, &'static str> {
        if lo >= hi {
            return Err("Bottom must be less than top");
        }
        let lo_k = comparable(lo).ok_or(OUT_OF_RANGE)?;
        let hi_k = comparable(hi).ok_or(OUT_OF_RANGE)?;
        Ok(Self {
            lo: lo_k,
            lo_open,
            hi: hi_k,
            hi_open,
        })
    }

    pub(crate) fn equals(v: f64) -> Result<Self, &'static str> {
        let k = comparable(v).ok_or(OUT_OF_RANGE)?;
        Ok(Self {
            lo: k,
            lo_open: false,
            hi: k,
            hi_open: false,
        })
    }

    pub(crate) fn contains(&self, k: i64) -> bool {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_compare_by_value() {
        assert_eq!(key_of_text("300"), key_of_text("300.0"));
        assert_eq!(key_of_text("3.018e2"), key_of_text("301.8"));
        assert!(key_of_text("-1") < key_of_text("0"));
        assert!(key_of_text("5000000000").is_some());
        assert!(key_of_text("5000000000.000001").is_none());
        assert!(key_of_text("-5e9").is_some());
        assert!(key_of_text("1e400").is_none());
        // six digits after the decimal point (computed in double arithmetic, like Java)
        assert_eq!(key_of_text("0.1234562"), key_of_text("0.1234561"));
        assert_ne!(key_of_text("0.123456"), key_of_text("0.123457"));
    }

    #[test]
    fn range_checks_in_event_ruler_order() {
        assert_eq!(
            NumRange::between(5.0, false, 5.0, true),
            Err("Bottom must be less than top")
        );
        assert_eq!(
            NumRange::between(-FIVE_BILLION, false, -6e9, true),
            Err("Bottom must be less than top")
        );
        assert_eq!(
            NumRange::between(-FIVE_BILLION, false, 6e9, true),
            Err(OUT_OF_RANGE)
        );
        let r = NumRange::between(0.0, true, 5.0, false).unwrap();
        assert!(!r.contains(key_of_text("0").unwrap()));
        assert!(r.contains(key_of_text("5").unwrap()));
    }
}
