//! `equals-ignore-case` the way event-ruler does it: every character of the pattern matches either
//! its lower-case or its upper-case form (each possibly several characters long).

/// The alternatives for one pattern character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Alt {
    /// An ASCII character: matches a byte whose ASCII lower-case form is this byte.
    Ascii(u8),
    /// Any of these byte strings (UTF-8 of the lower-case and upper-case forms).
    Multi(Box<[Box<[u8]>]>),
}

impl Alt {
    fn of(c: char) -> Alt {
        let lower: String = c.to_lowercase().collect();
        let upper: String = c.to_uppercase().collect();
        if c.is_ascii()
            && lower.len() == 1
            && upper.len() == 1
            && lower.is_ascii()
            && upper.is_ascii()
        {
            return Alt::Ascii(lower.as_bytes()[0]);
        }
        let mut alts: Vec<Box<[u8]>> = vec![lower.into_bytes().into_boxed_slice()];
        let up = upper.into_bytes().into_boxed_slice();
        if up != alts[0] {
            alts.push(up);
        }
        Alt::Multi(alts.into_boxed_slice())
    }

    /// Lengths this alternative can match at `pos` of `text`.
    fn advance(&self, text: &Text<'_>, pos: usize, out: &mut Vec<usize>) {
        match self {
            Alt::Ascii(l) => {
                if let Some(b) = text.at(pos) {
                    if b.to_ascii_lowercase() == *l {
                        out.push(pos + 1);
                    }
                }
            }
            Alt::Multi(alts) => {
                for a in alts.iter() {
                    if text.has_at(pos, a) {
                        out.push(pos + a.len());
                    }
                }
            }
        }
    }

    fn reversed(&self) -> Alt {
        match self {
            Alt::Ascii(b) => Alt::Ascii(*b),
            Alt::Multi(alts) => Alt::Multi(
                alts.iter()
                    .map(|a| {
                        a.iter()
                            .rev()
                            .copied()
                            .collect::<Vec<u8>>()
                            .into_boxed_slice()
                    })
                    .collect(),
            ),
        }
    }
}

/// A case-insensitive pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IcPat {
    alts: Vec<Alt>,
    /// The same alternatives in reverse order with reversed bytes (for suffix matching).
    rev: Vec<Alt>,
    /// The lower-cased pattern when every character is ASCII.
    ascii_lower: Option<Box<[u8]>>,
}

/// A byte string made of a body plus optional leading/trailing bytes, without copying.
struct Text<'a> {
    pre: &'a [u8],
    body: &'a [u8],
    post: &'a [u8],
    reversed: bool,
}

impl Text<'_> {
    fn len(&self) -> usize {
        self.pre.len() + self.body.len() + self.post.len()
    }

    fn at(&self, i: usize) -> Option<u8> {
        let n = self.len();
        if i >= n {
            return None;
        }
        let i = if self.reversed { n - 1 - i } else { i };
        if i < self.pre.len() {
            Some(self.pre[i])
        } else if i < self.pre.len() + self.body.len() {
            Some(self.body[i - self.pre.len()])
        } else {
            Some(self.post[i - self.pre.len() - self.body.len()])
        }
    }

    fn has_at(&self, pos: usize, needle: &[u8]) -> bool {
        needle
            .iter()
            .enumerate()
            .all(|(k, b)| self.at(pos + k) == Some(*b))
    }
}

impl IcPat {
    pub(crate) fn new(s: &str) -> Self {
        let alts: Vec<Alt> = s.chars().map(Alt::of).collect();
        let rev = alts.iter().rev().map(Alt::reversed).collect();
        let ascii_lower = if alts.iter().all(|a| matches!(a, Alt::Ascii(_))) {
            Some(
                alts.iter()
                    .map(|a| match a {
                        Alt::Ascii(b) => *b,
                        Alt::Multi(_) => unreachable!(),
                    })
                    .collect::<Vec<u8>>()
                    .into_boxed_slice(),
            )
        } else {
            None
        };
        Self {
            alts,
            rev,
            ascii_lower,
        }
    }

    /// The lower-cased bytes when the pattern is pure ASCII (used to index it).
    pub(crate) fn ascii_lower(&self) -> Option<&[u8]> {
        self.ascii_lower.as_deref()
    }

    /// Run the alternatives over `text`; return the set of end positions reachable.
    fn run(alts: &[Alt], text: &Text<'_>) -> Vec<usize> {
        let mut cur = vec![0usize];
        let mut next = Vec::new();
        for a in alts {
            next.clear();
            for &p in &cur {
                a.advance(text, p, &mut next);
            }
            next.sort_unstable();
            next.dedup();
            if next.is_empty() {
                return next;
            }
            std::mem::swap(&mut cur, &mut next);
        }
        cur
    }

    /// `"pattern"` equals `"value"` ignoring case.
    pub(crate) fn equals(&self, value: &[u8]) -> bool {
        if let Some(l) = &self.ascii_lower {
            return l.len() == value.len() && value.eq_ignore_ascii_case(l);
        }
        let t = Text {
            pre: &[],
            body: value,
            post: &[],
            reversed: false,
        };
        Self::run(&self.alts, &t).contains(&value.len())
    }

    /// `"pattern` is a prefix of `"value"` ignoring case.
    pub(crate) fn is_prefix_of(&self, value: &[u8]) -> bool {
        if let Some(l) = &self.ascii_lower {
            if l.len() <= value.len() {
                return value[..l.len()].eq_ignore_ascii_case(l);
            }
            return l.len() == value.len() + 1
                && l[l.len() - 1] == b'"'
                && value.eq_ignore_ascii_case(&l[..value.len()]);
        }
        let t = Text {
            pre: &[],
            body: value,
            post: b"\"",
            reversed: false,
        };
        !Self::run(&self.alts, &t).is_empty()
    }

    /// `pattern"` is a suffix of `"value"` ignoring case.
    pub(crate) fn is_suffix_of(&self, value: &[u8]) -> bool {
        if let Some(l) = &self.ascii_lower {
            if l.len() <= value.len() {
                return value[value.len() - l.len()..].eq_ignore_ascii_case(l);
            }
            return l.len() == value.len() + 1
                && l[0] == b'"'
                && value.eq_ignore_ascii_case(&l[1..]);
        }
        let t = Text {
            pre: b"\"",
            body: value,
            post: &[],
            reversed: true,
        };
        !Self::run(&self.rev, &t).is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii() {
        let p = IcPat::new("EventB");
        assert!(p.is_prefix_of(b"eventbridge"));
        assert!(!p.is_prefix_of(b"event"));
        assert!(IcPat::new(".PNG").is_suffix_of(b"image.png"));
        assert!(IcPat::new("ec2 instance").equals(b"EC2 INSTANCE"));
        assert!(!IcPat::new("ec2").equals(b"ec2 "));
        assert!(IcPat::new("").equals(b""));
        assert!(IcPat::new("").is_prefix_of(b"anything"));
    }

    #[test]
    fn unicode() {
        assert!(IcPat::new("straße").equals("STRASSE".as_bytes()));
        assert!(IcPat::new("straße").equals("straße".as_bytes()));
        assert!(IcPat::new("ÄBC").equals("äbc".as_bytes()));
        assert!(IcPat::new("äb").is_prefix_of("ÄBC".as_bytes()));
        assert!(IcPat::new("bÄ").is_suffix_of("XBä".as_bytes()));
        assert!(!IcPat::new("k").equals("\u{212a}".as_bytes()));
    }

    #[test]
    fn quote_quirks() {
        // `"abc` + `"`: a prefix ending in a quote covers the exact value.
        assert!(IcPat::new("ABC\"").is_prefix_of(b"abc"));
        assert!(IcPat::new("\"ABC").is_suffix_of(b"abc"));
    }
}
