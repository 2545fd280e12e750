//! Per-field indexes of the matcher: everything the rules say about one field, arranged for
//! lookup by a leaf value (hash maps for exact values, numbers and case-folded strings,
//! length-bucketed maps for prefixes and suffixes, sets for `anything-but`, and the predicates
//! that can only be evaluated one by one). Built from compiled patterns; read by the matcher.

use rustc_hash::FxHashMap;

use crate::bytes::BytesMap;
use crate::number::{NumKey, NumRange};
use crate::pred::{AbSet, Lit, Pred};

/// Values grouped by length, for prefix and suffix lookups.
#[derive(Default)]
pub(crate) struct LenIndex {
    map: BytesMap<Vec<u32>>,
    lens: Vec<usize>,
}

impl LenIndex {
    pub(crate) fn insert(&mut self, key: &[u8], slot: u32) {
        self.map.entry(key).push(slot);
        if let Err(i) = self.lens.binary_search(&key.len()) {
            self.lens.insert(i, key.len());
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    #[inline]
    pub(crate) fn prefixes(&self, v: &[u8], hit: &mut impl FnMut(u32)) {
        for &l in &self.lens {
            if l > v.len() {
                break;
            }
            if let Some(slots) = self.map.get(&v[..l]) {
                slots.iter().for_each(|&s| hit(s));
            }
        }
    }

    #[inline]
    pub(crate) fn suffixes(&self, v: &[u8], hit: &mut impl FnMut(u32)) {
        for &l in &self.lens {
            if l > v.len() {
                break;
            }
            if let Some(slots) = self.map.get(&v[v.len() - l..]) {
                slots.iter().for_each(|&s| hit(s));
            }
        }
    }
}

/// Everything the rules say about one field.
#[derive(Default)]
pub(crate) struct FieldIndex {
    pub(crate) exact: BytesMap<Vec<u32>>,
    pub(crate) lits: [Vec<u32>; 3],
    pub(crate) num_key: FxHashMap<NumKey, Vec<u32>>,
    pub(crate) num_text: BytesMap<Vec<u32>>,
    pub(crate) ranges: Vec<(NumRange, u32)>,
    pub(crate) prefix: LenIndex,
    pub(crate) suffix: LenIndex,
    pub(crate) eq_ic: BytesMap<Vec<u32>>,
    pub(crate) prefix_ic: LenIndex,
    pub(crate) suffix_ic: LenIndex,
    pub(crate) exists: Vec<u32>,
    /// Predicates evaluated one by one (wildcards, IP ranges, unusual case-insensitive ones).
    pub(crate) general: Vec<(Pred, u32)>,
    /// `anything-but` entries: (global entry id, operand, slot).
    pub(crate) ab: Vec<(u32, u32)>,
    pub(crate) ab_sets: Vec<AbSet>,
    pub(crate) ab_str: BytesMap<Vec<u32>>,
    pub(crate) ab_num: FxHashMap<NumKey, Vec<u32>>,
    /// Indices into `ab`/`ab_sets` whose operand is evaluated directly.
    pub(crate) ab_direct: Vec<u32>,
    pub(crate) needs_num: bool,
    /// A number leaf of this field meets only the number indexes (values, ranges, keyless
    /// texts): no `exists`, no predicate tested one by one, no `anything-but`, no
    /// `exists: false` (see [`FieldIndex::finish`]).
    pub(crate) numbers_only: bool,
    /// Some slot of this field allows `exists: false` (and so reads the field's leaves).
    pub(crate) has_absent: bool,
    pub(crate) needs_ip: bool,
    pub(crate) needs_lower: bool,
}

pub(crate) fn lit_idx(l: Lit) -> usize {
    match l {
        Lit::True => 0,
        Lit::False => 1,
        Lit::Null => 2,
    }
}

impl FieldIndex {
    pub(crate) fn add(&mut self, pred: &Pred, slot: u32, ab_next: &mut u32) {
        match pred {
            Pred::Exact(s) => self.exact.entry(s.as_bytes()).push(slot),
            Pred::Literal(l) => self.lits[lit_idx(*l)].push(slot),
            Pred::Number { key: Some(k), .. } => {
                self.needs_num = true;
                self.num_key.entry(*k).or_default().push(slot);
            }
            Pred::Number { key: None, text } => self.num_text.entry(text.as_bytes()).push(slot),
            Pred::Numeric(r) => {
                self.needs_num = true;
                self.ranges.push((*r, slot));
            }
            Pred::Prefix(p) if !p.ends_with('"') => self.prefix.insert(p.as_bytes(), slot),
            Pred::Suffix(p) if !p.starts_with('"') => self.suffix.insert(p.as_bytes(), slot),
            Pred::EqualsIc(p) if p.ascii_lower().is_some() => {
                self.needs_lower = true;
                self.eq_ic
                    .entry(p.ascii_lower().unwrap_or_default())
                    .push(slot)
            }
            Pred::PrefixIc(p) if p.ascii_lower().is_some_and(|l| l.last() != Some(&b'"')) => {
                self.needs_lower = true;
                self.prefix_ic
                    .insert(p.ascii_lower().unwrap_or_default(), slot)
            }
            Pred::SuffixIc(p) if p.ascii_lower().is_some_and(|l| l.first() != Some(&b'"')) => {
                self.needs_lower = true;
                self.suffix_ic
                    .insert(p.ascii_lower().unwrap_or_default(), slot)
            }
            Pred::Exists => self.exists.push(slot),
            Pred::Absent => self.has_absent = true,
            Pred::AnythingBut(set) => {
                let local = self.ab.len() as u32;
                self.ab.push((*ab_next, slot));
                *ab_next += 1;
                match set {
                    AbSet::Strings(v) => {
                        for s in v {
                            self.ab_str.entry(s.as_bytes()).push(local);
                        }
                    }
                    AbSet::Numbers(v) => {
                        self.needs_num = true;
                        for k in v {
                            self.ab_num.entry(*k).or_default().push(local);
                        }
                    }
                    _ => self.ab_direct.push(local),
                }
                self.ab_sets.push(set.clone());
            }
            other => {
                if matches!(other, Pred::Ip(_)) {
                    self.needs_ip = true;
                }
                self.general.push((other.clone(), slot));
            }
        }
    }

    /// Derive the flags that depend on all the field's predicates, once they are added.
    pub(crate) fn finish(&mut self) {
        self.numbers_only = self.exists.is_empty()
            && self.general.is_empty()
            && self.ab.is_empty()
            && !self.has_absent;
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        fn v<T>(x: &Vec<T>) -> usize {
            x.capacity() * std::mem::size_of::<T>()
        }
        // Key bytes, value vector, bucket entry and map slot.
        let map_bytes =
            |m: &BytesMap<Vec<u32>>| m.iter().map(|(k, s)| k.len() + v(s) + 72).sum::<usize>();
        map_bytes(&self.exact)
            + map_bytes(&self.num_text)
            + map_bytes(&self.ab_str)
            + self.num_key.values().map(|s| v(s) + 40).sum::<usize>()
            + self.ab_num.values().map(|s| v(s) + 40).sum::<usize>()
            + map_bytes(&self.eq_ic)
            + map_bytes(&self.prefix.map)
            + map_bytes(&self.suffix.map)
            + map_bytes(&self.prefix_ic.map)
            + map_bytes(&self.suffix_ic.map)
            + self.lits.iter().map(v).sum::<usize>()
            + v(&self.ranges)
            + v(&self.exists)
            + v(&self.general)
            + v(&self.ab)
            + v(&self.ab_sets)
            + v(&self.ab_direct)
            + std::mem::size_of::<Self>()
    }
}
