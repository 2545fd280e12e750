//! The same walk as the byte scanner, over an already-parsed event: a `serde_json::Value`, or
//! top-level fields given one by one ([`TopField`], e.g. a CloudEvent's attributes and its data)
//! so that nothing has to be assembled or cloned. Leaves on the [`PathTrie`]'s paths go to a
//! [`LeafSink`] exactly as the scanner reports them; numbers as `serde_json` prints them.

use super::sink::LeafSink;
use super::trie::{PathTrie, NONE};
use crate::error::EventError;
use crate::pred::{LeafKind, Lit};

/// Walk an already-parsed event. Numbers are seen as `serde_json` prints them.
pub(crate) fn walk_value<S: LeafSink>(
    event: &serde_json::Value,
    trie: &PathTrie,
    sink: &mut S,
) -> Result<(), EventError> {
    let serde_json::Value::Object(map) = event else {
        return Err(EventError::NotAnObject);
    };
    Walker::new(trie, sink).object(map, trie.root());
    Ok(())
}

/// A top-level field of an event given field by field (see
/// [`Matcher::matching_rules_fields`](crate::Matcher::matching_rules_fields)).
#[derive(Debug, Clone, Copy)]
pub enum TopField<'a> {
    /// A JSON string.
    Str(&'a str),
    /// `true` or `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// Any JSON value (objects and arrays are walked as usual).
    Json(&'a serde_json::Value),
}

/// Walk an event whose top level is given as `(key, value)` pairs instead of one object, so a
/// caller holding the pieces (a CloudEvent's attributes and its JSON data) need not assemble and
/// clone them into a `Value` first. Keys must be distinct, as in a JSON object.
pub(crate) fn walk_fields<S: LeafSink>(
    fields: &[(&str, TopField<'_>)],
    trie: &PathTrie,
    sink: &mut S,
) {
    let mut w = Walker::new(trie, sink);
    let root = trie.root();
    for (key, value) in fields {
        let child = trie.child(root, key.as_bytes());
        if child == NONE {
            continue;
        }
        match *value {
            TopField::Json(v) => w.value(v, child),
            TopField::Str(s) => {
                let field = trie.field(child);
                if field != NONE {
                    w.sink.leaf(field, LeafKind::Str(s), &w.members);
                }
            }
            TopField::Bool(b) => w.value(&serde_json::Value::Bool(b), child),
            TopField::Int(i) => w.value(&serde_json::Value::from(i), child),
        }
    }
}

struct Walker<'b, S: LeafSink> {
    trie: &'b PathTrie,
    sink: &'b mut S,
    members: Vec<(u32, u32)>,
    next_array: u32,
    num_buf: String,
}

impl<'b, S: LeafSink> Walker<'b, S> {
    fn new(trie: &'b PathTrie, sink: &'b mut S) -> Self {
        Walker {
            trie,
            sink,
            members: Vec::new(),
            next_array: 0,
            num_buf: String::new(),
        }
    }

    fn object(&mut self, map: &serde_json::Map<String, serde_json::Value>, node: u32) {
        for (k, v) in map {
            let child = self.trie.child(node, k.as_bytes());
            if child != NONE {
                self.value(v, child);
            }
        }
    }

    fn value(&mut self, v: &serde_json::Value, node: u32) {
        use serde_json::Value;
        let field = self.trie.field(node);
        match v {
            Value::Object(m) => self.object(m, node),
            Value::Array(items) => {
                let id = self.next_array;
                self.next_array += 1;
                self.members.push((id, 0));
                let at = self.members.len() - 1;
                for (i, item) in items.iter().enumerate() {
                    self.members[at].1 = i as u32;
                    self.value(item, node);
                }
                self.members.pop();
            }
            _ if field == NONE => {}
            Value::String(s) => self.sink.leaf(field, LeafKind::Str(s), &self.members),
            Value::Number(n) => {
                use std::fmt::Write;
                self.num_buf.clear();
                let _ = write!(self.num_buf, "{n}");
                self.sink
                    .leaf(field, LeafKind::Num(&self.num_buf), &self.members);
            }
            Value::Bool(true) => self
                .sink
                .leaf(field, LeafKind::Lit(Lit::True), &self.members),
            Value::Bool(false) => self
                .sink
                .leaf(field, LeafKind::Lit(Lit::False), &self.members),
            Value::Null => self
                .sink
                .leaf(field, LeafKind::Lit(Lit::Null), &self.members),
        }
    }
}
