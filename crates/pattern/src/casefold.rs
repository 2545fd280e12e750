//! `equals-ignore-case` and the `prefix`/`suffix` forms that ignore case, folded exactly the way
//! event-ruler folds them.
//!
//! # What event-ruler does (read in aws/event-ruler, `src/main/.../input/`)
//!
//! * `EqualsIgnoreCaseParser.parse` walks the pattern string (with its JSON quotes: `"abc"` for
//!   `equals-ignore-case` and `anything-but`/`equals-ignore-case`, `"abc` for the prefix form,
//!   `abc"` for the suffix form) **one Java `char`, i.e. one UTF-16 code unit, at a time**. For each
//!   unit `c` it takes `String.valueOf(c).toLowerCase(Locale.ROOT)` and
//!   `String.valueOf(c).toUpperCase(Locale.ROOT)`, encodes both with `getBytes(UTF_8)`, and emits
//!   the plain bytes when the two are equal, else an `InputMultiByteSet` of the two byte strings:
//!   the value must continue with one of them. The character itself is *not* in the set.
//! * `SuffixEqualsIgnoreCaseParser` does the same on the reversed pattern (`Patterns` reverses it
//!   with `StringBuilder.reverse`, which keeps surrogate pairs) with the bytes of each form
//!   reversed; `ByteMachine.addSuffixMatch` then walks the value's bytes backwards. That is the
//!   same alternatives in reverse order, which is what [`IcPat::is_suffix_of`] runs.
//! * The event value is not folded at all: `ByteMachine.doTransitionOn` walks
//!   `valString.getBytes(UTF_8)` through those byte transitions.
//!
//! # The mapping that results
//!
//! * **Locale:** `Locale.ROOT`, so no Turkish/Azeri/Lithuanian rules.
//! * **Full mappings of one character, out of context:** `String.toUpperCase` applies the
//!   unconditional multi-character mappings of SpecialCasing.txt (`ß` → `SS`, `ŉ` → `ʼN`,
//!   `ΐ` → `Ϊ́`, `ﬀ` → `FF`, `ᾳ` → `ΑΙ`), `String.toLowerCase` its one unconditional
//!   multi-character lower-case mapping (`İ` U+0130 → `i̇`, i + U+0307). The context rules cannot
//!   fire on a one-character string: `Σ` lower-cases to `σ`, never to final `ς`.
//! * **Unicode version:** the JVM's. We follow **Java 21** (Unicode 15.0), the newest LTS in
//!   event-ruler's CI matrix (Corretto 8, 11, 17, 21). Java 17 (Unicode 13.0) lacks the ten
//!   Unicode 14.0 pairs (U+2C2F/U+2C5F, U+A7C0/A7C1, U+A7D0/A7D1, U+A7D6–A7D9); Java 8 and 11
//!   also lack e.g. Georgian Mtavruli (Unicode 11.0).
//! * **Characters outside the BMP** are two UTF-16 units. Each is a lone surrogate, which neither
//!   case mapping changes and which `getBytes(UTF_8)` replaces by `?`. So every supplementary
//!   character of the pattern becomes the two bytes `??`: `{"equals-ignore-case": "😀"}` matches
//!   the value `"??"` and not `"😀"`, and Deseret `𐐀` does not match `𐐨`.
//!
//! Consequences worth knowing: `ß` matches `ß` and `SS` but `SS` does not match `ß`; `ſ` matches
//! `S`/`ſ`, but `s` matches only `s`/`S`; `K` (U+212A KELVIN SIGN) matches `k`/`K`(U+212A), but `k`
//! matches only `k`/`K`; `İ` matches `İ` and `i̇` but not `i`/`I`; a title-case digraph such as `ǅ`
//! matches `ǆ`/`Ǆ` and not itself.
//!
//! # How we get it from Rust
//!
//! `char::to_lowercase`/`char::to_uppercase` are the same full, context-free, locale-free
//! mappings (UnicodeData.txt plus the unconditional SpecialCasing.txt entries), on code points
//! and in the Unicode version of the Rust toolchain (Unicode 17.0 for Rust 1.95). The differences
//! are handled explicitly in [`java_forms`]:
//!
//! * a character above U+FFFF gives `??` both ways (see above);
//! * the BMP characters in [`NOT_IN_JAVA21`] got their case mapping after Unicode 15.0 and map
//!   to themselves in Java 21.
//!
//! The unit test `java21_table` checks every BMP code point against a table dumped from the JVM
//! (`tests/data/java21-case-mapping.txt`), so a toolchain with newer Unicode data that adds
//! further pairs fails it until they are listed in [`NOT_IN_JAVA21`].

/// The alternatives for one pattern character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Alt {
    /// An ASCII character: matches a byte whose ASCII lower-case form is this byte.
    Ascii(u8),
    /// Any of these byte strings (UTF-8 of the lower-case and upper-case forms).
    Multi(Box<[Box<[u8]>]>),
}

/// BMP code points that Rust's tables give a case mapping and Java 21 (Unicode 15.0) does not: all
/// were assigned or given a case partner in Unicode 16.0 (ƛ/ɤ's new capitals, Cyrillic TJE,
/// Latin Extended-D additions) or 17.0 (more Latin Extended-D). Sorted.
const NOT_IN_JAVA21: &[u16] = &[
    0x019B, 0x0264, 0x1C89, 0x1C8A, 0xA7CB, 0xA7CC, 0xA7CD, 0xA7CE, 0xA7CF, 0xA7D2, 0xA7D3, 0xA7D4,
    0xA7D5, 0xA7DA, 0xA7DB, 0xA7DC,
];

/// What `getBytes(UTF_8)` makes of a lone surrogate.
const LONE_SURROGATE: u8 = b'?';

/// Java's `(toLowerCase(Locale.ROOT), toUpperCase(Locale.ROOT))` of `c` as event-ruler's parser
/// sees it, in UTF-8. For a supplementary character, which Java handles as two lone surrogates,
/// this is the forms of each of the two units: `?` both ways (so `c` becomes `??`).
pub(crate) fn java_forms(c: char) -> (String, String) {
    let cp = c as u32;
    if cp > 0xFFFF {
        let q = char::from(LONE_SURROGATE).to_string();
        return (q.clone(), q);
    }
    if NOT_IN_JAVA21.binary_search(&(cp as u16)).is_ok() {
        return (c.to_string(), c.to_string());
    }
    (c.to_lowercase().collect(), c.to_uppercase().collect())
}

/// Append the alternatives of one pattern character (two for a supplementary character).
fn push_alts(c: char, out: &mut Vec<Alt>) {
    if c as u32 > 0xFFFF {
        out.extend([Alt::Ascii(LONE_SURROGATE), Alt::Ascii(LONE_SURROGATE)]);
        return;
    }
    let (lower, upper) = java_forms(c);
    if c.is_ascii() && lower.is_ascii() && upper.is_ascii() && lower.len() == 1 && upper.len() == 1
    {
        out.push(Alt::Ascii(lower.as_bytes()[0]));
        return;
    }
    let mut alts: Vec<Box<[u8]>> = vec![lower.into_bytes().into_boxed_slice()];
    let up = upper.into_bytes().into_boxed_slice();
    if up != alts[0] {
        alts.push(up);
    }
    out.push(Alt::Multi(alts.into_boxed_slice()));
}

impl Alt {
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
        let mut alts: Vec<Alt> = Vec::with_capacity(s.len());
        s.chars().for_each(|c| push_alts(c, &mut alts));
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

    fn hex(s: &str) -> String {
        s.bytes().map(|b| format!("{b:02x}")).collect()
    }

    /// Every BMP code point against the table dumped from the JVM (see its header).
    #[test]
    fn java21_table() {
        let table = include_str!("../tests/data/java21-case-mapping.txt");
        let mut java = std::collections::HashMap::new();
        for line in table.lines().filter(|l| !l.starts_with('#')) {
            let f: Vec<&str> = line.split(' ').collect();
            let cp = u32::from_str_radix(f[0], 16).unwrap();
            java.insert(cp, (f[1].to_string(), f[2].to_string()));
        }
        assert!(java.len() > 2400, "table truncated: {}", java.len());
        let mut wrong = Vec::new();
        for c in (0..=0xFFFFu32).filter_map(char::from_u32) {
            let (lo, up) = java_forms(c);
            let want = java
                .get(&(c as u32))
                .cloned()
                .unwrap_or_else(|| (hex(&c.to_string()), hex(&c.to_string())));
            if (hex(&lo), hex(&up)) != want {
                wrong.push(format!("U+{:04X}", c as u32));
            }
        }
        assert!(wrong.is_empty(), "differs from Java 21: {wrong:?}");
    }

    #[test]
    fn supplementary_characters_are_two_question_marks() {
        assert_eq!(java_forms('😀'), ("?".into(), "?".into()));
        let p = IcPat::new("a😀");
        assert_eq!(p.ascii_lower(), Some(&b"a??"[..]));
        assert!(p.equals(b"A??"));
        assert!(!p.equals("a😀".as_bytes()));
        // Deseret capital and small long I are case partners in Unicode, not for event-ruler.
        assert!(!IcPat::new("\u{10400}").equals("\u{10428}".as_bytes()));
        assert!(!IcPat::new("\u{10400}").equals("\u{10400}".as_bytes()));
        assert!(IcPat::new("\u{10400}").equals(b"??"));
        assert!(IcPat::new("x\u{1F600}").is_prefix_of(b"X??Y"));
        assert!(IcPat::new("\u{1F600}Z").is_suffix_of(b"a??z"));
    }

    #[test]
    fn sharp_s_expands_one_way() {
        let p = IcPat::new("straße");
        assert!(p.equals("STRASSE".as_bytes()));
        assert!(p.equals("straße".as_bytes()));
        assert!(p.equals("StraSSe".as_bytes()));
        assert!(!p.equals("STRAẞE".as_bytes()));
        assert!(!IcPat::new("STRASSE").equals("straße".as_bytes()));
        assert!(!p.equals("strasse".as_bytes()));
        // ẞ U+1E9E: lower ß (2 bytes), upper itself (3 bytes); not SS.
        let cap = IcPat::new("ẞ");
        assert!(cap.equals("ß".as_bytes()) && cap.equals("ẞ".as_bytes()));
        assert!(!cap.equals(b"SS") && !cap.equals(b"ss"));
        // A value that only starts the longer alternative.
        assert!(!IcPat::new("ß").equals(b"S"));
        assert!(!IcPat::new("ß").is_prefix_of(b"S"));
        assert!(IcPat::new("ß").is_prefix_of(b"SSx"));
        assert!(IcPat::new("xß").is_suffix_of(b"aXSS"));
        assert!(!IcPat::new("xß").is_suffix_of(b"aXS"));
    }

    #[test]
    fn partners_of_other_lengths() {
        // ſ U+017F (2 bytes) upper-cases to S (1 byte); s does not reach ſ.
        assert!(IcPat::new("ſ").equals(b"S"));
        assert!(IcPat::new("ſ").equals("ſ".as_bytes()));
        assert!(!IcPat::new("ſ").equals(b"s"));
        assert!(!IcPat::new("s").equals("ſ".as_bytes()));
        // KELVIN SIGN U+212A (3 bytes) lower-cases to k; k does not reach it.
        assert!(IcPat::new("\u{212A}").equals(b"k"));
        assert!(IcPat::new("\u{212A}").equals("\u{212A}".as_bytes()));
        assert!(!IcPat::new("\u{212A}").equals(b"K"));
        assert!(!IcPat::new("k").equals("\u{212A}".as_bytes()));
        // İ U+0130 lower-cases to i + U+0307 (3 bytes); neither i nor I.
        let dotted = IcPat::new("İ");
        assert!(dotted.equals("i\u{307}".as_bytes()) && dotted.equals("İ".as_bytes()));
        assert!(!dotted.equals(b"i") && !dotted.equals(b"I"));
        // ı U+0131 upper-cases to I.
        assert!(IcPat::new("ı").equals(b"I") && !IcPat::new("ı").equals(b"i"));
        // ⱥ U+2C65 (3 bytes) and Ⱥ U+023A (2 bytes).
        assert!(IcPat::new("ⱥx").equals("ȺX".as_bytes()));
        assert!(IcPat::new("Ⱥ").is_prefix_of("ⱥⱥ".as_bytes()));
        assert!(IcPat::new("Ⱥ").is_suffix_of("aⱥ".as_bytes()));
    }

    #[test]
    fn multi_character_forms() {
        // ΐ U+0390 upper-cases to three characters, Ϊ́.
        let p = IcPat::new("ΐ");
        assert!(p.equals("\u{399}\u{308}\u{301}".as_bytes()));
        assert!(p.equals("ΐ".as_bytes()));
        assert!(!p.equals("\u{399}\u{308}".as_bytes()));
        assert!(p.is_prefix_of("\u{399}\u{308}\u{301}a".as_bytes()));
        assert!(IcPat::new("ŉ").equals("ʼN".as_bytes()));
        assert!(IcPat::new("ﬀ").equals(b"FF") && !IcPat::new("ﬀ").equals(b"ff"));
        // ᾳ upper-cases to ΑΙ; ᾼ (title case) is neither form.
        assert!(IcPat::new("ᾳ").equals("ΑΙ".as_bytes()));
        assert!(!IcPat::new("ᾳ").equals("ᾼ".as_bytes()));
        // A title-case digraph is not among its own forms.
        assert!(IcPat::new("ǅ").equals("ǆ".as_bytes()) && IcPat::new("ǅ").equals("Ǆ".as_bytes()));
        assert!(!IcPat::new("ǅ").equals("ǅ".as_bytes()));
        // Combining marks have no case: a decomposed letter folds its base only.
        assert!(IcPat::new("u\u{308}\u{301}").equals("U\u{308}\u{301}".as_bytes()));
        assert!(!IcPat::new("u\u{308}\u{301}").equals("Ǘ".as_bytes()));
        assert!(IcPat::new("ǘ").equals("Ǘ".as_bytes()));
    }

    #[test]
    fn sigma_out_of_context() {
        assert!(IcPat::new("Σ").equals("σ".as_bytes()));
        assert!(!IcPat::new("Σ").equals("ς".as_bytes()));
        assert!(IcPat::new("ς").equals("Σ".as_bytes()) && IcPat::new("ς").equals("ς".as_bytes()));
        assert!(!IcPat::new("ς").equals("σ".as_bytes()));
        assert!(IcPat::new("ΟΔΟΣ").equals("οδοσ".as_bytes()));
        assert!(!IcPat::new("ΟΔΟΣ").equals("οδος".as_bytes()));
    }

    #[test]
    fn scripts_and_unicode_versions() {
        // Cherokee (Unicode 8.0 lower case): Ꭰ U+13A0 and ꭰ U+AB70.
        assert!(IcPat::new("Ꭰ").equals("ꭰ".as_bytes()) && IcPat::new("ꭰ").equals("Ꭰ".as_bytes()));
        // Georgian Mtavruli (Unicode 11.0): ა U+10D0 upper-cases to Ა U+1C90.
        assert!(IcPat::new("ა").equals("Ა".as_bytes()) && IcPat::new("Ა").equals("ა".as_bytes()));
        // Unicode 14.0 (in Java 21): Ⱟ U+2C2F / ⱟ U+2C5F.
        assert!(IcPat::new("\u{2C2F}").equals("\u{2C5F}".as_bytes()));
        // Unicode 16.0 (not in Java 21): ƛ U+019B and ꟝ U+A7DC stay apart.
        assert_eq!(java_forms('\u{19B}'), ("\u{19B}".into(), "\u{19B}".into()));
        assert!(!IcPat::new("\u{19B}").equals("\u{A7DC}".as_bytes()));
        assert!(!IcPat::new("\u{A7DC}").equals("\u{19B}".as_bytes()));
        assert!(IcPat::new("\u{A7DC}").equals("\u{A7DC}".as_bytes()));
    }

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
        assert!(IcPat::new("ÄBC").equals("äbc".as_bytes()));
        assert!(IcPat::new("äb").is_prefix_of("ÄBC".as_bytes()));
        assert!(IcPat::new("bÄ").is_suffix_of("XBä".as_bytes()));
    }

    #[test]
    fn quote_quirks() {
        // `"abc` + `"`: a prefix ending in a quote covers the exact value.
        assert!(IcPat::new("ABC\"").is_prefix_of(b"abc"));
        assert!(IcPat::new("\"ABC").is_suffix_of(b"abc"));
        assert!(IcPat::new("ß\"").is_prefix_of(b"SS"));
        assert!(!IcPat::new("ß\"").is_prefix_of(b"SSx"));
        assert!(IcPat::new("\"ſ").is_suffix_of(b"S"));
        assert!(!IcPat::new("\"ſ").is_suffix_of(b"xS"));
    }

    /// Every byte string a pattern stands for: the product of its characters' forms.
    fn expansions(pattern: &str) -> Vec<Vec<u8>> {
        let mut out = vec![Vec::new()];
        for c in pattern.chars() {
            let (lo, up) = java_forms(c);
            let forms = if c as u32 > 0xFFFF {
                vec![b"??".to_vec()]
            } else {
                vec![lo.into_bytes(), up.into_bytes()]
            };
            out = out
                .iter()
                .flat_map(|o| forms.iter().map(move |f| [o.clone(), f.clone()].concat()))
                .collect();
        }
        out
    }

    /// [`IcPat`] against event-ruler's definition, by brute force on quoted text: the value
    /// `"v"` equals `"x"`, starts with `"x`, or ends with `x"` for some expansion `x`.
    #[test]
    fn agrees_with_brute_force() {
        const PAT: &[&str] = &[
            "a", "K", "ß", "ſ", "\u{212A}", "İ", "Σ", "ς", "ΐ", "ǅ", "😀", "\"", "ⱥ",
        ];
        const VAL: &[&str] = &[
            "a",
            "A",
            "k",
            "K",
            "\u{212A}",
            "s",
            "S",
            "SS",
            "ß",
            "ẞ",
            "ſ",
            "i",
            "I",
            "i\u{307}",
            "İ",
            "σ",
            "Σ",
            "ς",
            "\u{399}\u{308}\u{301}",
            "ǆ",
            "ǅ",
            "?",
            "😀",
            "\"",
            "ⱥ",
            "Ⱥ",
        ];
        let words = |alpha: &[&str], n: usize| {
            let mut all = vec![String::new()];
            let mut last = vec![String::new()];
            for _ in 0..n {
                last = last
                    .iter()
                    .flat_map(|w| alpha.iter().map(move |a| format!("{w}{a}")))
                    .collect();
                all.extend(last.iter().cloned());
            }
            all
        };
        let quoted = |v: &[u8]| [&b"\""[..], v, b"\""].concat();
        for p in words(PAT, 2) {
            let ic = IcPat::new(&p);
            let exp = expansions(&p);
            let mut values: Vec<Vec<u8>> =
                words(VAL, 2).into_iter().map(String::into_bytes).collect();
            values.extend(exp.iter().cloned());
            values.extend(exp.iter().map(|x| [x.as_slice(), b"x"].concat()));
            values.extend(exp.iter().map(|x| [b"x", x.as_slice()].concat()));
            for v in &values {
                let q = quoted(v);
                let eq = exp.iter().any(|x| quoted(x) == q);
                let pre = exp.iter().any(|x| q.starts_with(&[&b"\""[..], x].concat()));
                let suf = exp
                    .iter()
                    .any(|x| q.ends_with(&[x.as_slice(), b"\""].concat()));
                let shown = String::from_utf8_lossy(v);
                assert_eq!(ic.equals(v), eq, "{p:?} equals {shown:?}");
                assert_eq!(ic.is_prefix_of(v), pre, "{p:?} prefix of {shown:?}");
                assert_eq!(ic.is_suffix_of(v), suf, "{p:?} suffix of {shown:?}");
            }
        }
    }

    /// The engine's indexed paths and its general path through whole patterns.
    #[test]
    fn through_patterns() {
        use crate::Pattern;
        let m = |p: &str, e: &str| Pattern::parse(p).unwrap().matches(e);
        assert!(m(r#"{"a":[{"equals-ignore-case":"😀"}]}"#, r#"{"a":"??"}"#));
        assert!(!m(
            r#"{"a":[{"equals-ignore-case":"😀"}]}"#,
            r#"{"a":"😀"}"#
        ));
        assert!(m(
            r#"{"a":[{"equals-ignore-case":"ſtraße"}]}"#,
            r#"{"a":"STRASSE"}"#
        ));
        assert!(!m(
            r#"{"a":[{"equals-ignore-case":"STRASSE"}]}"#,
            r#"{"a":"ſtraße"}"#
        ));
        assert!(m(
            r#"{"a":[{"prefix":{"equals-ignore-case":"İ"}}]}"#,
            r#"{"a":"i̇x"}"#
        ));
        assert!(m(
            r#"{"a":[{"suffix":{"equals-ignore-case":"\u212a"}}]}"#,
            r#"{"a":"xk"}"#
        ));
        assert!(!m(
            r#"{"a":[{"suffix":{"equals-ignore-case":"k"}}]}"#,
            r#"{"a":"x\u212a"}"#
        ));
        assert!(m(
            r#"{"a":[{"anything-but":{"equals-ignore-case":"ß"}}]}"#,
            r#"{"a":"ẞ"}"#
        ));
        // ß's forms are ß and SS: "ss" is neither, so anything-but lets it through.
        assert!(!m(
            r#"{"a":[{"anything-but":{"equals-ignore-case":"ß"}}]}"#,
            r#"{"a":"SS"}"#
        ));
        assert!(m(
            r#"{"a":[{"anything-but":{"equals-ignore-case":"ß"}}]}"#,
            r#"{"a":"ss"}"#
        ));
    }
}
