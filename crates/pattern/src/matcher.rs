//! The multi-rule matcher: every branch of every rule is a set of slots (one per field); each
//! field used by any rule gets an index over the values its slots accept (see [`crate::index`]:
//! hash maps for exact values, numbers and case-folded strings, length-bucketed maps for prefixes
//! and suffixes, sets for `anything-but`). An event is scanned once; each leaf on a used path is
//! looked up in its field's index, which counts satisfied slots per branch. Only branches whose
//! mandatory slots are all satisfied are verified (array consistency, `exists: false`), in
//! event-ruler's key order.

use std::cell::RefCell;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::compile::{Ast, Slot};
use crate::error::EventError;
use crate::event::{scan, walk_value, LeafSink, Membership, PathTrie};
use crate::index::{lit_idx, FieldIndex};
use crate::ip::ip_if_possible;
use crate::number::PendingKey;
use crate::pred::{ab_excludes, Leaf, LeafKind, Pred};

/// Compiled form of a set of rules.
pub(crate) struct Compiled {
    trie: PathTrie,
    fields: Vec<FieldIndex>,
    branch_rule: Vec<u32>,
    /// Slots of branch `b` are `branch_start[b]..branch_start[b + 1]`, in event-ruler key order.
    branch_start: Vec<u32>,
    branch_required: Vec<u32>,
    branch_has_absent: Vec<bool>,
    always_check: Vec<u32>,
    slot_field: Vec<u32>,
    slot_branch: Vec<u32>,
    slot_absent: Vec<bool>,
    /// The slot is its branch's only one and not `exists: false`: its first hit decides the
    /// branch (any one value is array-consistent on its own), so later hits need no record.
    slot_solo: Vec<bool>,
    ab_total: u32,
    rules: u32,
}

impl Compiled {
    /// Compile rules: `rules[i]` is rule id `i`.
    pub(crate) fn build(rules: &[Arc<Ast>]) -> Self {
        let mut field_of: FxHashMap<Arc<str>, u32> = FxHashMap::default();
        let mut paths: Vec<Arc<str>> = Vec::new();
        let mut c = Compiled {
            trie: PathTrie::build(&[]),
            fields: Vec::new(),
            branch_rule: Vec::new(),
            branch_start: vec![0],
            branch_required: Vec::new(),
            branch_has_absent: Vec::new(),
            always_check: Vec::new(),
            slot_field: Vec::new(),
            slot_branch: Vec::new(),
            slot_absent: Vec::new(),
            slot_solo: Vec::new(),
            ab_total: 0,
            rules: rules.len() as u32,
        };
        for (rule, ast) in rules.iter().enumerate() {
            for branch in &ast.branches {
                let b = c.branch_rule.len() as u32;
                c.branch_rule.push(rule as u32);
                let mut required = 0u32;
                let mut has_absent = false;
                for Slot { key, preds } in &branch.slots {
                    let field = *field_of.entry(key.clone()).or_insert_with(|| {
                        paths.push(key.clone());
                        c.fields.push(FieldIndex::default());
                        (paths.len() - 1) as u32
                    });
                    let slot = c.slot_field.len() as u32;
                    let absent = preds.iter().any(|p| matches!(p, Pred::Absent));
                    c.slot_field.push(field);
                    c.slot_branch.push(b);
                    c.slot_absent.push(absent);
                    if absent {
                        has_absent = true;
                    } else {
                        required += 1;
                    }
                    for p in preds.iter() {
                        c.fields[field as usize].add(p, slot, &mut c.ab_total);
                    }
                }
                let solo = branch.slots.len() == 1 && !has_absent;
                c.slot_solo.extend(branch.slots.iter().map(|_| solo));
                c.branch_start.push(c.slot_field.len() as u32);
                c.branch_required.push(required);
                c.branch_has_absent.push(has_absent);
                if required == 0 {
                    c.always_check.push(b);
                }
            }
        }
        c.fields.iter_mut().for_each(FieldIndex::finish);
        let path_refs: Vec<&str> = paths.iter().map(|p| &**p).collect();
        c.trie = PathTrie::build(&path_refs);
        c
    }

    /// Approximate heap size of the compiled form, in bytes.
    pub(crate) fn heap_bytes(&self) -> usize {
        fn v<T>(x: &Vec<T>) -> usize {
            x.capacity() * std::mem::size_of::<T>()
        }
        self.trie.heap_bytes()
            + self
                .fields
                .iter()
                .map(FieldIndex::heap_bytes)
                .sum::<usize>()
            + v(&self.branch_rule)
            + v(&self.branch_start)
            + v(&self.branch_required)
            + v(&self.branch_has_absent)
            + v(&self.always_check)
            + v(&self.slot_field)
            + v(&self.slot_branch)
            + v(&self.slot_absent)
            + v(&self.slot_solo)
    }

    pub(crate) fn rule_count(&self) -> usize {
        self.rules as usize
    }

    /// Rule ids matching a byte event, appended to `out` in ascending order.
    ///
    /// `strict` validates the whole event; otherwise only what is read (see [`scan`]).
    pub(crate) fn match_bytes(
        &self,
        scratch: &mut Scratch,
        event: &[u8],
        out: &mut Vec<u32>,
        strict: bool,
    ) -> Result<(), EventError> {
        scratch.begin(self);
        let mut members = std::mem::take(&mut scratch.scan_members);
        let mut col = Collector {
            m: self,
            s: scratch,
        };
        let r = if strict {
            scan::<_, true>(event, &self.trie, &mut col, &mut members)
        } else {
            scan::<_, false>(event, &self.trie, &mut col, &mut members)
        };
        if r.is_ok() {
            col.finish(out);
        }
        scratch.scan_members = members;
        r
    }

    /// Rule ids matching a parsed event, appended to `out` in ascending order.
    pub(crate) fn match_value(
        &self,
        scratch: &mut Scratch,
        event: &serde_json::Value,
        out: &mut Vec<u32>,
    ) -> Result<(), EventError> {
        scratch.begin(self);
        let mut col = Collector {
            m: self,
            s: scratch,
        };
        walk_value(event, &self.trie, &mut col)?;
        col.finish(out);
        Ok(())
    }
}

impl Compiled {
    /// [`Compiled::match_value`] for an event given as top-level fields.
    pub(crate) fn match_fields(
        &self,
        scratch: &mut Scratch,
        fields: &[(&str, crate::event::TopField<'_>)],
        out: &mut Vec<u32>,
    ) {
        scratch.begin(self);
        let mut col = Collector {
            m: self,
            s: scratch,
        };
        crate::event::walk_fields(fields, &self.trie, &mut col);
        col.finish(out);
    }
}

const NIL: u32 = u32::MAX;

/// Reusable per-thread working memory for matching.
///
/// Arrays are stamped with a generation number so nothing is cleared between events; one
/// scratch can serve any number of matchers.
#[derive(Default)]
pub struct Scratch {
    gen: u32,
    slot_gen: Vec<u32>,
    slot_head: Vec<u32>,
    branch_gen: Vec<u32>,
    branch_count: Vec<u32>,
    field_gen: Vec<u32>,
    field_head: Vec<u32>,
    rule_gen: Vec<u32>,
    ab_mark: Vec<u32>,
    ab_stamp: u32,
    /// Per leaf: (members start, members end, next leaf of the same field).
    leaves: Vec<(u32, u32, u32)>,
    members: Vec<(u32, u32)>,
    /// Hit list nodes: (leaf, next hit of the same slot).
    hits: Vec<(u32, u32)>,
    candidates: Vec<u32>,
    any_array: bool,
    lower: Vec<u8>,
    acc: Vec<(u32, u32)>,
    /// The scanner's array membership, kept between events.
    scan_members: Vec<(u32, u32)>,
    /// Id buffer for the public allocation-free API.
    pub(crate) ids: Vec<u32>,
}

impl std::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scratch").finish_non_exhaustive()
    }
}

impl Scratch {
    fn begin(&mut self, m: &Compiled) {
        let slots = m.slot_field.len();
        let branches = m.branch_rule.len();
        if self.slot_gen.len() < slots {
            self.slot_gen.resize(slots, 0);
            self.slot_head.resize(slots, NIL);
        }
        if self.branch_gen.len() < branches {
            self.branch_gen.resize(branches, 0);
            self.branch_count.resize(branches, 0);
        }
        if self.field_gen.len() < m.fields.len() {
            self.field_gen.resize(m.fields.len(), 0);
            self.field_head.resize(m.fields.len(), NIL);
        }
        if self.rule_gen.len() < m.rules as usize {
            self.rule_gen.resize(m.rules as usize, 0);
        }
        if self.ab_mark.len() < m.ab_total as usize {
            self.ab_mark.resize(m.ab_total as usize, 0);
        }
        if self.gen == u32::MAX {
            // Wrap-around: forget all stamps.
            self.gen = 0;
            self.slot_gen.iter_mut().for_each(|g| *g = 0);
            self.branch_gen.iter_mut().for_each(|g| *g = 0);
            self.field_gen.iter_mut().for_each(|g| *g = 0);
            self.rule_gen.iter_mut().for_each(|g| *g = 0);
        }
        self.gen += 1;
        self.leaves.clear();
        self.members.clear();
        self.hits.clear();
        self.candidates.clear();
        self.any_array = false;
    }

    fn next_ab_stamp(&mut self) -> u32 {
        if self.ab_stamp == u32::MAX {
            self.ab_stamp = 0;
            self.ab_mark.iter_mut().for_each(|g| *g = 0);
        }
        self.ab_stamp += 1;
        self.ab_stamp
    }
}

struct Collector<'a> {
    m: &'a Compiled,
    s: &'a mut Scratch,
}

impl LeafSink for Collector<'_> {
    fn leaf(&mut self, field: u32, kind: LeafKind<'_>, membership: &Membership) {
        self.collect(field, kind, None, membership);
    }

    /// A number on a field whose rules only compare numbers (values, ranges, texts) takes the
    /// short way, inline in the scanner; anything else goes through [`Collector::collect`].
    #[inline]
    fn number(&mut self, field: u32, text: &str, value: Option<f64>, membership: &Membership) {
        let fi = &self.m.fields[field as usize];
        if fi.numbers_only {
            let mut key = PendingKey::of_leaf(text, value);
            Hits {
                m: self.m,
                gen: self.s.gen,
                s: &mut *self.s,
                leaf: NIL,
                field,
                membership,
            }
            .number(fi, text, &mut key);
        } else {
            self.collect(field, LeafKind::Num(text), value, membership);
        }
    }
}

impl Collector<'_> {
    /// Record the leaf, then every slot of its field that accepts it: `exists`, the indexed
    /// predicates for its kind, the general ones, and the `anything-but`s it does not exclude.
    /// `lexed`: a number's value when the scanner decided it (see [`PendingKey::of_leaf`]).
    #[inline]
    fn collect(
        &mut self,
        field: u32,
        kind: LeafKind<'_>,
        lexed: Option<f64>,
        membership: &Membership,
    ) {
        let fi = &self.m.fields[field as usize];
        // The leaf is recorded when a slot that needs verifying takes it, or at once when an
        // `exists: false` slot may look through its field's leaves.
        let leaf = if fi.has_absent {
            self.s.record_leaf(field, membership)
        } else {
            NIL
        };
        let mut hits = Hits {
            m: self.m,
            gen: self.s.gen,
            s: &mut *self.s,
            leaf,
            field,
            membership,
        };
        hits.all(&fi.exists);
        let mut leaf = Leaf {
            kind,
            num_key: None,
            ip: None,
        };
        match kind {
            LeafKind::Str(v) => {
                hits.string(fi, v.as_bytes());
                if fi.needs_ip {
                    leaf.ip = ip_if_possible(v);
                }
            }
            LeafKind::Num(t) => {
                if fi.needs_num {
                    let mut key = PendingKey::of_leaf(t, lexed);
                    hits.number(fi, t, &mut key);
                    // `anything-but` reads the key only to look it up among its numbers.
                    leaf.num_key = match key.candidate() {
                        Some(k) if fi.ab_num.contains_key(&k) => key.key(),
                        k => k,
                    };
                } else if let Some(slots) = fi.num_text.get(t.as_bytes()) {
                    hits.all(slots);
                }
            }
            LeafKind::Lit(l) => hits.all(&fi.lits[lit_idx(l)]),
        }
        for (p, sl) in &fi.general {
            if p.matches(&leaf) {
                hits.hit(*sl);
            }
        }
        if !fi.ab.is_empty() {
            hits.anything_but(fi, &leaf);
        }
    }
}

impl Scratch {
    /// Record a leaf of `field` with its array membership; returns the leaf's index.
    #[inline]
    fn record_leaf(&mut self, field: u32, membership: &Membership) -> u32 {
        let leaf_idx = self.leaves.len() as u32;
        let start = self.members.len() as u32;
        if !membership.is_empty() {
            self.any_array = true;
            self.members.extend_from_slice(membership);
        }
        let end = self.members.len() as u32;
        let f = field as usize;
        let next = if self.field_gen[f] == self.gen {
            self.field_head[f]
        } else {
            NIL
        };
        self.field_gen[f] = self.gen;
        self.field_head[f] = leaf_idx;
        self.leaves.push((start, end, next));
        leaf_idx
    }
}

/// The slots one leaf satisfies, recorded as they are found.
struct Hits<'a> {
    m: &'a Compiled,
    s: &'a mut Scratch,
    gen: u32,
    /// The leaf's index once recorded, else [`NIL`].
    leaf: u32,
    field: u32,
    membership: &'a Membership,
}

impl Hits<'_> {
    /// Slot `slot` accepts the leaf: the first hit of the slot in this event counts towards its
    /// branch (a branch becomes a candidate once all its mandatory slots are hit); the leaf joins
    /// the slot's hit list once, unless the slot is solo (its branch is decided without the
    /// list, see [`Compiled::slot_solo`]).
    #[inline(always)]
    fn hit(&mut self, slot: u32) {
        // The common repeat, inline: a solo slot already taken in this event.
        let sl = slot as usize;
        if self.m.slot_solo[sl] && self.s.slot_gen[sl] == self.gen {
            return;
        }
        self.first_or_listed_hit(slot);
    }

    /// [`Self::hit`] past its inline check.
    #[inline]
    fn first_or_listed_hit(&mut self, slot: u32) {
        let (m, s, gen) = (self.m, &mut *self.s, self.gen);
        let sl = slot as usize;
        if s.slot_gen[sl] != gen {
            s.slot_gen[sl] = gen;
            s.slot_head[sl] = NIL;
            if !m.slot_absent[sl] {
                let b = m.slot_branch[sl] as usize;
                if s.branch_gen[b] != gen {
                    s.branch_gen[b] = gen;
                    s.branch_count[b] = 0;
                }
                s.branch_count[b] += 1;
                if s.branch_count[b] == m.branch_required[b] {
                    s.candidates.push(b as u32);
                }
            }
            if m.slot_solo[sl] {
                return;
            }
        } else if m.slot_solo[sl]
            || (s.slot_head[sl] != NIL && s.hits[s.slot_head[sl] as usize].0 == self.leaf)
        {
            return;
        }
        if self.leaf == NIL {
            self.leaf = s.record_leaf(self.field, self.membership);
        }
        let node = s.hits.len() as u32;
        s.hits.push((self.leaf, s.slot_head[sl]));
        s.slot_head[sl] = node;
    }

    #[inline]
    fn all(&mut self, slots: &[u32]) {
        slots.iter().for_each(|&sl| self.hit(sl));
    }

    /// A string leaf: exact values, prefixes, suffixes, then their case-insensitive forms.
    #[inline]
    fn string(&mut self, fi: &FieldIndex, vb: &[u8]) {
        if let Some(slots) = fi.exact.get(vb) {
            self.all(slots);
        }
        if !fi.prefix.is_empty() {
            fi.prefix.prefixes(vb, &mut |sl| self.hit(sl));
        }
        if !fi.suffix.is_empty() {
            fi.suffix.suffixes(vb, &mut |sl| self.hit(sl));
        }
        if fi.needs_lower {
            self.string_ignore_case(fi, vb);
        }
    }

    /// The case-insensitive predicates, on the ASCII-lowercased value.
    #[inline]
    fn string_ignore_case(&mut self, fi: &FieldIndex, vb: &[u8]) {
        let mut lower = std::mem::take(&mut self.s.lower);
        lower.clear();
        lower.extend(vb.iter().map(u8::to_ascii_lowercase));
        if let Some(slots) = fi.eq_ic.get(&lower[..]) {
            self.all(slots);
        }
        if !fi.prefix_ic.is_empty() {
            fi.prefix_ic.prefixes(&lower, &mut |sl| self.hit(sl));
        }
        if !fi.suffix_ic.is_empty() {
            fi.suffix_ic.suffixes(&lower, &mut |sl| self.hit(sl));
        }
        self.s.lower = lower;
    }

    /// A number leaf: by value and range when it has a comparable key, else by its text. The
    /// key's exactness is checked only when its candidate hits (see [`PendingKey`]). The text
    /// is looked up whenever there are texts: a rule's number text has no key, so the same
    /// text in an event has none either and a text hit never meets a key hit.
    #[inline]
    fn number(&mut self, fi: &FieldIndex, text: &str, key: &mut PendingKey<'_>) {
        if let Some(k) = key.candidate() {
            if let Some(slots) = fi.num_key.get(&k) {
                if key.key().is_some() {
                    self.all(slots);
                }
            }
            for (r, sl) in &fi.ranges {
                if r.contains(k) && key.key().is_some() {
                    self.hit(*sl);
                }
            }
        }
        if !fi.num_text.is_empty() {
            if let Some(slots) = fi.num_text.get(text.as_bytes()) {
                self.all(slots);
            }
        }
    }

    /// `anything-but`: mark the entries the leaf is excluded by, then hit every other one.
    fn anything_but(&mut self, fi: &FieldIndex, leaf: &Leaf<'_>) {
        let stamp = self.s.next_ab_stamp();
        let mark = |local: u32, s: &mut Scratch| {
            s.ab_mark[fi.ab[local as usize].0 as usize] = stamp;
        };
        let s = &mut *self.s;
        match leaf.kind {
            LeafKind::Str(v) => {
                if let Some(locals) = fi.ab_str.get(v.as_bytes()) {
                    locals.iter().for_each(|&l| mark(l, s));
                }
                for &local in &fi.ab_direct {
                    if ab_excludes(&fi.ab_sets[local as usize], leaf) {
                        mark(local, s);
                    }
                }
            }
            LeafKind::Num(_) => {
                if let Some(k) = leaf.num_key {
                    if let Some(locals) = fi.ab_num.get(&k) {
                        locals.iter().for_each(|&l| mark(l, s));
                    }
                }
            }
            LeafKind::Lit(_) => {}
        }
        for &(global, slot) in &fi.ab {
            if self.s.ab_mark[global as usize] != stamp {
                self.hit(slot);
            }
        }
    }
}

impl Collector<'_> {
    fn finish(self, out: &mut Vec<u32>) {
        let m = self.m;
        let s = self.s;
        let gen = s.gen;
        let first = out.len();
        let mut candidates = std::mem::take(&mut s.candidates);
        candidates.extend_from_slice(&m.always_check);
        for &b in &candidates {
            let rule = m.branch_rule[b as usize];
            if s.rule_gen[rule as usize] == gen {
                continue;
            }
            let (lo, hi) = (m.branch_start[b as usize], m.branch_start[b as usize + 1]);
            let ok =
                if (!s.any_array && !m.branch_has_absent[b as usize]) || m.slot_solo[lo as usize] {
                    true
                } else {
                    s.acc.clear();
                    verify(m, s, lo, hi)
                };
            if ok {
                s.rule_gen[rule as usize] = gen;
                out.push(rule);
            }
        }
        candidates.clear();
        s.candidates = candidates;
        out[first..].sort_unstable();
    }
}

fn consistent(acc: &[(u32, u32)], m: &[(u32, u32)]) -> bool {
    m.iter()
        .all(|&(a, i)| acc.iter().all(|&(b, j)| b != a || j == i))
}

/// Find an array-consistent choice of one value per slot, slots in key order. A slot that
/// allows `exists: false` is also satisfied when no value of its field is consistent with the
/// choices made so far (event-ruler's order-dependent rule).
fn verify(m: &Compiled, s: &mut Scratch, slot: u32, end: u32) -> bool {
    if slot == end {
        return true;
    }
    let sl = slot as usize;
    let gen = s.gen;
    if s.slot_gen[sl] == gen {
        let mut h = s.slot_head[sl];
        while h != NIL {
            let (leaf, next) = s.hits[h as usize];
            let (ms, me, _) = s.leaves[leaf as usize];
            let mem = &s.members[ms as usize..me as usize];
            if consistent(&s.acc, mem) {
                let mark = s.acc.len();
                for k in ms..me {
                    let e = s.members[k as usize];
                    if !s.acc.iter().any(|&(a, _)| a == e.0) {
                        s.acc.push(e);
                    }
                }
                if verify(m, s, slot + 1, end) {
                    return true;
                }
                s.acc.truncate(mark);
            }
            h = next;
        }
    }
    if m.slot_absent[sl] {
        let f = m.slot_field[sl] as usize;
        let mut present = false;
        if s.field_gen[f] == gen {
            let mut l = s.field_head[f];
            while l != NIL {
                let (ms, me, next) = s.leaves[l as usize];
                if consistent(&s.acc, &s.members[ms as usize..me as usize]) {
                    present = true;
                    break;
                }
                l = next;
            }
        }
        if !present && verify(m, s, slot + 1, end) {
            return true;
        }
    }
    false
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Run `f` with this thread's scratch space (a fresh one if it is already in use).
pub(crate) fn with_scratch<T>(f: impl FnOnce(&mut Scratch) -> T) -> T {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut s) => f(&mut s),
        Err(_) => f(&mut Scratch::default()),
    })
}
