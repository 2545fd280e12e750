//! A deliberately simple matcher, kept apart from the fast path and used to check it (property
//! tests compare the two on random patterns and events).
//!
//! It flattens the whole event into `(path, value, array membership)` leaves, then for each
//! branch of the pattern searches, field by field in event-ruler's key order, for an
//! array-consistent choice of values — by brute force, with no indexes and no byte scanning.

use serde_json::Value;

use crate::compile::Branch;
use crate::number::{value_of_key, value_of_text};
use crate::pred::{AbSet, Leaf, LeafKind, Lit, Pred};
use crate::Pattern;

struct FlatLeaf {
    path: String,
    text: String,
    kind: u8,
    members: Vec<(u32, u32)>,
}

impl FlatLeaf {
    fn leaf(&self) -> Leaf<'_> {
        Leaf::full(match self.kind {
            0 => LeafKind::Str(&self.text),
            1 => LeafKind::Num(&self.text),
            2 => LeafKind::Lit(Lit::True),
            3 => LeafKind::Lit(Lit::False),
            _ => LeafKind::Lit(Lit::Null),
        })
    }
}

fn flatten(
    v: &Value,
    path: &str,
    members: &mut Vec<(u32, u32)>,
    next_array: &mut u32,
    out: &mut Vec<FlatLeaf>,
) {
    let mut push = |text: String, kind: u8| {
        out.push(FlatLeaf {
            path: path.to_string(),
            text,
            kind,
            members: members.clone(),
        })
    };
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                flatten(child, &format!("{path}.{k}"), members, next_array, out);
            }
        }
        Value::Array(items) => {
            let id = *next_array;
            *next_array += 1;
            for (i, item) in items.iter().enumerate() {
                members.push((id, i as u32));
                flatten(item, path, members, next_array, out);
                members.pop();
            }
        }
        Value::String(s) => push(s.clone(), 0),
        Value::Number(n) => push(n.to_string(), 1),
        Value::Bool(true) => push(String::new(), 2),
        Value::Bool(false) => push(String::new(), 3),
        Value::Null => push(String::new(), 4),
    }
}

fn consistent(acc: &[(u32, u32)], m: &[(u32, u32)]) -> bool {
    m.iter()
        .all(|&(a, i)| acc.iter().all(|&(b, j)| b != a || j == i))
}

fn branch_matches(
    branch: &Branch,
    leaves: &[FlatLeaf],
    i: usize,
    acc: &mut Vec<(u32, u32)>,
) -> bool {
    let Some(slot) = branch.slots.get(i) else {
        return true;
    };
    let candidates: Vec<&FlatLeaf> = leaves.iter().filter(|l| *l.path == *slot.key).collect();
    for l in &candidates {
        if consistent(acc, &l.members) && slot.preds.iter().any(|p| pred_matches(p, l)) {
            let mark = acc.len();
            for e in &l.members {
                if !acc.iter().any(|(a, _)| *a == e.0) {
                    acc.push(*e);
                }
            }
            if branch_matches(branch, leaves, i + 1, acc) {
                return true;
            }
            acc.truncate(mark);
        }
    }
    if slot.preds.iter().any(|p| matches!(p, Pred::Absent))
        && !candidates.iter().any(|l| consistent(acc, &l.members))
        && branch_matches(branch, leaves, i + 1, acc)
    {
        return true;
    }
    false
}

/// Does `pattern` match `event` (an object)? Slow and simple; for testing.
pub fn matches(pattern: &Pattern, event: &Value) -> bool {
    if !event.is_object() {
        return false;
    }
    let mut leaves = Vec::new();
    flatten_root(event, &mut leaves);
    pattern
        .ast()
        .branches
        .iter()
        .any(|b| branch_matches(b, &leaves, 0, &mut Vec::new()))
}

fn flatten_root(event: &Value, out: &mut Vec<FlatLeaf>) {
    let mut next_array = 0;
    if let Value::Object(map) = event {
        for (k, child) in map {
            flatten(child, k, &mut Vec::new(), &mut next_array, out);
        }
    }
}

/// Numeric predicates are compared on values (decoded doubles), not on the engine's keys, so the
/// key encoding is checked too; every other predicate as the engine evaluates it.
fn pred_matches(p: &Pred, l: &FlatLeaf) -> bool {
    let value = || (l.kind == 1).then(|| value_of_text(&l.text).ok()).flatten();
    match p {
        Pred::Number { key: Some(k), .. } => value() == Some(value_of_key(*k)),
        Pred::Numeric(r) => value().is_some_and(|v| r.contains_value(v)),
        Pred::AnythingBut(AbSet::Numbers(ks)) => {
            !value().is_some_and(|v| ks.iter().any(|k| value_of_key(*k) == v))
        }
        _ => p.matches(&l.leaf()),
    }
}
