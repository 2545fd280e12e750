//! Byte-string helpers for the hot path: inline equality for short strings (no libc call) and a
//! map keyed by byte strings that compares a precomputed hash first.

use rustc_hash::FxHashMap;

/// Equality of two byte strings, inlined (event keys and values are mostly short).
#[inline(always)]
pub(crate) fn eq_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 8 {
        // Two overlapping loads cover the string, no loop.
        if n >= 4 {
            let w = |s: &[u8], at: usize| {
                u32::from_le_bytes(s[at..at + 4].try_into().expect("4 bytes"))
            };
            return w(a, 0) == w(b, 0) && w(a, n - 4) == w(b, n - 4);
        }
        if n >= 2 {
            let h = |s: &[u8], at: usize| [s[at], s[at + 1]];
            return h(a, 0) == h(b, 0) && h(a, n - 2) == h(b, n - 2);
        }
        return n == 0 || a[0] == b[0];
    }
    let word = |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().expect("8 bytes"));
    if n <= 16 {
        // Two overlapping words cover the whole string.
        return word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8);
    }
    let mut i = 0;
    while i + 8 <= n {
        if word(a, i) != word(b, i) {
            return false;
        }
        i += 8;
    }
    word(a, n - 8) == word(b, n - 8)
}

/// A fast, non-cryptographic hash of a byte string (FxHash-style, eight bytes at a time).
#[inline]
pub(crate) fn hash_bytes(s: &[u8]) -> u64 {
    const K: u64 = 0xf135_7aea_2e62_a9c5;
    let mut h = s.len() as u64;
    let mut chunks = s.chunks_exact(8);
    for c in &mut chunks {
        h = (h.rotate_left(26) ^ u64::from_le_bytes(c.try_into().expect("8 bytes")))
            .wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut buf = [0u8; 8];
        buf[..rest.len()].copy_from_slice(rest);
        h = (h.rotate_left(26) ^ u64::from_le_bytes(buf)).wrapping_mul(K);
    }
    h ^ (h >> 29)
}

/// Entries sharing one hash.
type Bucket<V> = Vec<(Box<[u8]>, V)>;

/// Up to this many entries, a [`BytesMap`] is a list scanned linearly (no hashing).
const SMALL: usize = 8;

/// A map from byte strings to values. Small maps are a list; larger ones hash the key once and
/// compare hashes before bytes.
pub(crate) struct BytesMap<V> {
    small: Vec<(Box<[u8]>, V)>,
    map: FxHashMap<u64, Bucket<V>>,
    len: usize,
}

impl<V> Default for BytesMap<V> {
    fn default() -> Self {
        Self {
            small: Vec::new(),
            map: FxHashMap::default(),
            len: 0,
        }
    }
}

impl<V> BytesMap<V> {
    /// The value for `key`, inserting `V::default()` first if absent.
    pub(crate) fn entry(&mut self, key: &[u8]) -> &mut V
    where
        V: Default,
    {
        if self.len < SMALL || self.small.iter().any(|(k, _)| eq_bytes(k, key)) {
            if let Some(pos) = self.small.iter().position(|(k, _)| eq_bytes(k, key)) {
                return &mut self.small[pos].1;
            }
            if self.len < SMALL {
                self.small.push((key.into(), V::default()));
                self.len += 1;
                let last = self.small.len() - 1;
                return &mut self.small[last].1;
            }
        }
        if !self.small.is_empty() {
            // Growing past the small size: move everything into the hash map.
            for (k, v) in std::mem::take(&mut self.small) {
                self.map.entry(hash_bytes(&k)).or_default().push((k, v));
            }
        }
        let bucket = self.map.entry(hash_bytes(key)).or_default();
        let pos = match bucket.iter().position(|(k, _)| eq_bytes(k, key)) {
            Some(p) => p,
            None => {
                bucket.push((key.into(), V::default()));
                self.len += 1;
                bucket.len() - 1
            }
        };
        &mut bucket[pos].1
    }

    /// Insert or replace.
    pub(crate) fn insert(&mut self, key: &[u8], value: V)
    where
        V: Default,
    {
        *self.entry(key) = value;
    }

    #[inline]
    pub(crate) fn get(&self, key: &[u8]) -> Option<&V> {
        if self.len <= SMALL {
            return self
                .small
                .iter()
                .find(|(k, _)| eq_bytes(k, key))
                .map(|(_, v)| v);
        }
        self.map
            .get(&hash_bytes(key))?
            .iter()
            .find(|(k, _)| eq_bytes(k, key))
            .map(|(_, v)| v)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&[u8], &V)> {
        self.small
            .iter()
            .chain(self.map.values().flatten())
            .map(|(k, v)| (&**k, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equality_all_lengths() {
        let s: Vec<u8> = (0..40u8).collect();
        for n in 0..40 {
            assert!(eq_bytes(&s[..n], &s[..n]));
            if n > 0 {
                let mut t = s[..n].to_vec();
                t[n - 1] ^= 1;
                assert!(!eq_bytes(&s[..n], &t));
                t[n - 1] ^= 1;
                for i in 0..n {
                    t[i] ^= 1;
                    assert!(!eq_bytes(&s[..n], &t), "{n} {i}");
                    t[i] ^= 1;
                }
            }
            assert!(!eq_bytes(&s[..n], &s[..n + 1]));
        }
    }

    #[test]
    fn map() {
        let mut m: BytesMap<Vec<u32>> = BytesMap::default();
        m.entry(b"abc").push(1);
        m.entry(b"abc").push(2);
        m.entry(b"").push(3);
        assert_eq!(m.get(b"abc"), Some(&vec![1, 2]));
        assert_eq!(m.get(b""), Some(&vec![3]));
        assert_eq!(m.get(b"abd"), None);
        assert_eq!(m.iter().count(), 2);
        // Past the small size, everything moves to the hash map.
        for i in 0..100u32 {
            m.entry(format!("k{i}").as_bytes()).push(i);
        }
        assert_eq!(m.get(b"abc"), Some(&vec![1, 2]));
        assert_eq!(m.get(b"k57"), Some(&vec![57]));
        assert_eq!(m.get(b"k100"), None);
        assert_eq!(m.iter().count(), 102);
    }
}
