//! Wildcard patterns: event-ruler's parser (escapes `\*` and `\\`, error positions counted in
//! bytes of the quoted value), matching, and the "too complex" rule.

use rustc_hash::FxHashSet;

/// The message AWS gives for a rule whose wildcards are too expensive.
pub(crate) const TOO_COMPLEX: &str = "Rule is too complex - try using fewer wildcard characters or fewer repeating character sequences after a wildcard character";

/// Complexity at or above which a rule is rejected.
///
/// The complexity is event-ruler's `MachineComplexityEvaluator` measure: the largest number of
/// wildcard-pattern prefixes that can all match one input value. The threshold is calibrated on
/// recorded AWS answers (`*:*:*:*:*:event-bus/*` scores 11 and is rejected; three
/// `*:stack/NAME/*` patterns on one field score 9 and are accepted, four score 12 and are rejected).
pub(crate) const MAX_COMPLEXITY: usize = 10;

/// Exploration budget for the complexity evaluation (distinct state sets); reaching it counts as
/// too complex.
const STATE_BUDGET: usize = 20_000;

/// One element of a parsed wildcard pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum GTok {
    Byte(u8),
    Star,
}

/// A wildcard pattern over the string content (without quotes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Glob {
    /// Tokens of the content only.
    pub toks: Vec<GTok>,
}

/// Parse the wildcard text. Errors use event-ruler's byte positions in `"text"` (quote included).
pub(crate) fn parse(text: &str) -> Result<Glob, String> {
    let mut quoted = Vec::with_capacity(text.len() + 2);
    quoted.push(b'"');
    quoted.extend_from_slice(text.as_bytes());
    quoted.push(b'"');
    let mut toks = Vec::with_capacity(quoted.len());
    let mut i = 0;
    while i < quoted.len() {
        let c = quoted[i];
        if c == b'*' {
            if quoted.get(i + 1) == Some(&b'*') {
                return Err(format!("Consecutive wildcard characters at pos {i}"));
            }
            toks.push(GTok::Star);
        } else if c == b'\\' {
            match quoted.get(i + 1) {
                Some(&n) if n == b'*' || n == b'\\' => {
                    toks.push(GTok::Byte(n));
                    i += 2;
                    continue;
                }
                _ => return Err(format!("Invalid escape character at pos {i}")),
            }
        } else {
            toks.push(GTok::Byte(c));
        }
        i += 1;
    }
    // Drop the surrounding quotes: matching the quoted pattern against a quoted value is the
    // same as matching the content against the content.
    toks.remove(0);
    toks.pop();
    Ok(Glob { toks })
}

impl Glob {
    /// Does the whole of `s` match? `*` matches any run of bytes, including none.
    pub(crate) fn matches(&self, s: &[u8]) -> bool {
        let p = &self.toks;
        let (mut pi, mut si) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        while si < s.len() {
            match p.get(pi) {
                Some(GTok::Byte(b)) if *b == s[si] => {
                    pi += 1;
                    si += 1;
                }
                Some(GTok::Star) => {
                    star = Some((pi, si));
                    pi += 1;
                }
                _ => match star {
                    Some((sp, ss)) => {
                        pi = sp + 1;
                        si = ss + 1;
                        star = Some((sp, ss + 1));
                    }
                    None => return false,
                },
            }
        }
        p[pi..].iter().all(|t| *t == GTok::Star)
    }

    /// The tokens of the quoted value, as event-ruler stores them.
    pub(crate) fn quoted_toks(&self) -> Vec<GTok> {
        let mut v = Vec::with_capacity(self.toks.len() + 2);
        v.push(GTok::Byte(b'"'));
        v.extend_from_slice(&self.toks);
        v.push(GTok::Byte(b'"'));
        v
    }
}

/// event-ruler's machine complexity of a set of wildcard patterns sharing one field: the maximum,
/// over all inputs, of the number of (pattern, prefix) pairs whose prefix matches the whole input.
/// Returns a value `>= MAX_COMPLEXITY` as soon as that threshold is reached.
pub(crate) fn complexity(patterns: &[Vec<GTok>]) -> usize {
    let mut pats: Vec<&Vec<GTok>> = patterns.iter().collect();
    pats.sort();
    pats.dedup();
    if pats.is_empty() {
        return 0;
    }
    let alphabet = alphabet(&pats);

    // A state is the sorted list of active (pattern, position) pairs; position 0 is the start.
    let closure = |set: &mut Vec<(u32, u32)>| {
        let mut i = 0;
        while i < set.len() {
            let (pi, pos) = set[i];
            if let Some(GTok::Star) = pats[pi as usize].get(pos as usize) {
                let next = (pi, pos + 1);
                if !set.contains(&next) {
                    set.push(next);
                }
            }
            i += 1;
        }
        set.sort_unstable();
    };
    let count = |set: &[(u32, u32)]| set.iter().filter(|(_, pos)| *pos > 0).count();

    let mut start: Vec<(u32, u32)> = (0..pats.len() as u32).map(|i| (i, 0)).collect();
    closure(&mut start);
    let mut max = count(&start);
    let mut seen: FxHashSet<Vec<(u32, u32)>> = FxHashSet::default();
    let mut queue = vec![start.clone()];
    seen.insert(start);
    while let Some(set) = queue.pop() {
        for &b in &alphabet {
            let mut next = step(&pats, &set, b);
            if next.is_empty() {
                continue;
            }
            closure(&mut next);
            let c = count(&next);
            if c > max {
                max = c;
                if max >= MAX_COMPLEXITY {
                    return max;
                }
            }
            if !seen.contains(&next) {
                if seen.len() >= STATE_BUDGET {
                    return MAX_COMPLEXITY;
                }
                seen.insert(next.clone());
                queue.push(next);
            }
        }
    }
    max
}

/// The bytes that matter to `pats`: every literal byte, plus one byte standing for all others.
fn alphabet(pats: &[&Vec<GTok>]) -> Vec<u8> {
    let mut alphabet: Vec<u8> = pats
        .iter()
        .flat_map(|p| p.iter())
        .filter_map(|t| match t {
            GTok::Byte(b) => Some(*b),
            GTok::Star => None,
        })
        .collect();
    alphabet.sort_unstable();
    alphabet.dedup();
    if let Some(other) = (0u8..=255).find(|b| alphabet.binary_search(b).is_err()) {
        alphabet.push(other);
    }
    alphabet
}

/// The (pattern, position) pairs reached from `set` by reading byte `b`, before star closure.
fn step(pats: &[&Vec<GTok>], set: &[(u32, u32)], b: u8) -> Vec<(u32, u32)> {
    let mut next: Vec<(u32, u32)> = Vec::new();
    for &(pi, pos) in set {
        let p = pats[pi as usize];
        // A position right after a star absorbs any byte.
        if pos > 0 && p[pos as usize - 1] == GTok::Star && !next.contains(&(pi, pos)) {
            next.push((pi, pos));
        }
        if let Some(GTok::Byte(c)) = p.get(pos as usize) {
            if *c == b && !next.contains(&(pi, pos + 1)) {
                next.push((pi, pos + 1));
            }
        }
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(p: &str) -> Vec<GTok> {
        // Unquoted tokens, as event-ruler's own unit tests use them.
        p.bytes()
            .map(|b| if b == b'*' { GTok::Star } else { GTok::Byte(b) })
            .collect()
    }

    #[test]
    fn parse_errors_count_the_quote() {
        assert_eq!(
            parse("arn:aws:events:us-east-1:**:event-bus/*").unwrap_err(),
            "Consecutive wildcard characters at pos 26"
        );
        assert_eq!(
            parse("a\\b").unwrap_err(),
            "Invalid escape character at pos 2"
        );
        assert_eq!(
            parse("ab\\").unwrap_err(),
            "Invalid escape character at pos 3"
        );
        let g = parse("a\\*b\\\\c*").unwrap();
        assert!(g.matches(b"a*b\\c"));
        assert!(g.matches(b"a*b\\cxyz"));
        assert!(!g.matches(b"aXb\\c"));
    }

    #[test]
    fn glob_matching() {
        let g = parse("/Users/*/doc.txt").unwrap();
        assert!(g.matches(b"/Users/ls_user/dir/dir/doc.txt"));
        assert!(!g.matches(b"/Users/ls_user/dir/notmatchingdoc.txt.bak"));
        assert!(parse("*").unwrap().matches(b""));
        assert!(parse("").unwrap().matches(b""));
        assert!(!parse("").unwrap().matches(b"x"));
        assert!(parse("a*b*c").unwrap().matches(b"abc"));
        assert!(parse("2*0*1*7").unwrap().matches(b"2601017"));
    }

    /// Values from event-ruler's `MachineComplexityEvaluatorTest`.
    #[test]
    fn complexity_matches_event_ruler() {
        let c = |ps: &[&str]| complexity(&ps.iter().map(|p| raw(p)).collect::<Vec<_>>());
        assert_eq!(c(&["*"]), 1);
        assert_eq!(c(&["abc"]), 1);
        assert_eq!(c(&["*ab"]), 2);
        assert_eq!(c(&["*aa"]), 3);
        assert_eq!(c(&["a*bbb"]), 4);
        assert_eq!(c(&["a*b*bb"]), 5);
        assert_eq!(c(&["*ab*b*b*"]), 7);
        assert_eq!(c(&["a*aaa", "aa*aa"]), 7);
        assert_eq!(c(&["ab*cd", "ab*wx", "ab*yz"]), 6);
        assert_eq!(c(&["*abc", "*abcde"]), 4);
        assert_eq!(c(&["abc*", "abcde*"]), 3);
        assert_eq!(c(&["a*bc", "a*bc"]), 2);
        assert!(c(&["*a*a*a*a*a*a*a*a*"]) >= MAX_COMPLEXITY);
    }

    #[test]
    fn aws_calibration() {
        let q = |ps: &[&str]| {
            complexity(
                &ps.iter()
                    .map(|p| parse(p).unwrap().quoted_toks())
                    .collect::<Vec<_>>(),
            )
        };
        assert!(q(&["*:*:*:*:*:event-bus/*"]) >= MAX_COMPLEXITY);
        assert!(q(&["*:stack/Alpha/*", "*:stack/Beta/*", "*:stack/Gamma/*"]) < MAX_COMPLEXITY);
        assert!(
            q(&[
                "*:stack/Alpha/*",
                "*:stack/Beta/*",
                "*:stack/Gamma/*",
                "*:stack/Delta/*"
            ]) >= MAX_COMPLEXITY
        );
        assert!(q(&["/Users/*/dir/dir/dir/dir/dir/doc.txt"]) < MAX_COMPLEXITY);
        assert!(q(&["arn:aws:events:us-east-1:*:event-bus/*"]) < MAX_COMPLEXITY);
    }
}
