//! The dotted paths the rules use, as a graph over object keys: which key leads from a node to
//! which child, which node is a rule's field, and which keys complete an object (for early exit).
//! Built once per matcher; read for every key of every event.

use rustc_hash::FxHashMap;

use crate::bytes::{eq_bytes, BytesMap};

/// "No node / no field".
pub(crate) const NONE: u32 = u32::MAX;

/// Edges out of a node: label -> (child, bit). Single-segment labels get a distinct bit (for
/// early exit), multi-segment labels get 0.
enum Edges {
    None,
    /// A single edge (the common case of a path's inner nodes): (label, child, bit).
    One(Box<[u8]>, u32, u64),
    Few(Vec<(Box<[u8]>, u32, u64)>),
    Many(BytesMap<(u32, u64)>),
}

struct Node {
    edges: Edges,
    field: u32,
    /// All single-segment label bits; 0 disables early exit (none, or more than 64).
    full_mask: u64,
}

impl Node {
    /// A node without edges or field.
    fn leaf() -> Self {
        Node {
            edges: Edges::None,
            field: NONE,
            full_mask: 0,
        }
    }

    /// Give the node its edges (label -> child), with early-exit bits and mask.
    fn set_edges(&mut self, e: FxHashMap<Box<[u8]>, u32>) {
        let mut next_bit = 0u32;
        let mut labelled: Vec<(Box<[u8]>, u32, u64)> = e
            .into_iter()
            .map(|(label, child)| {
                let bit = if label.contains(&b'.') || next_bit >= 64 {
                    0
                } else {
                    next_bit += 1;
                    1u64 << (next_bit - 1)
                };
                (label, child, bit)
            })
            .collect();
        let plain = labelled.iter().filter(|e| !e.0.contains(&b'.')).count();
        self.full_mask = if plain == 0 || plain > 64 {
            0
        } else {
            labelled.iter().fold(0, |m, e| m | e.2)
        };
        // Shorter labels first: they are the common case in lookups.
        labelled.sort_by_key(|e| e.0.len());
        self.edges = match labelled.len() {
            0 => Edges::None,
            1 => {
                let (label, child, bit) = labelled.pop().expect("one edge");
                Edges::One(label, child, bit)
            }
            2..=6 => Edges::Few(labelled),
            _ => {
                let mut m = BytesMap::default();
                for (l, c, b) in labelled {
                    m.insert(&l, (c, b));
                }
                Edges::Many(m)
            }
        };
    }
}

/// The set of dotted paths used by the rules, as a graph over object keys. A key may span several
/// path segments (`{"a.b": 1}` reaches the same place as `{"a": {"b": 1}}`), so every run of
/// consecutive segments of a path is an edge.
pub(crate) struct PathTrie {
    nodes: Vec<Node>,
}

impl PathTrie {
    /// Build from the used paths; `paths[i]` gets field id `i`.
    pub(crate) fn build(paths: &[&str]) -> Self {
        let mut nodes = vec![Node::leaf()];
        let mut by_prefix: FxHashMap<String, u32> = FxHashMap::default();
        let mut edges: Vec<FxHashMap<Box<[u8]>, u32>> = vec![FxHashMap::default()];
        for (field, path) in paths.iter().enumerate() {
            let segs: Vec<&str> = path.split('.').collect();
            // ids[i] = node after the first i segments (ids[0] = root)
            let mut ids = vec![0u32];
            for i in 1..=segs.len() {
                let prefix = segs[..i].join(".");
                let id = *by_prefix.entry(prefix).or_insert_with(|| {
                    nodes.push(Node::leaf());
                    edges.push(FxHashMap::default());
                    (nodes.len() - 1) as u32
                });
                ids.push(id);
            }
            nodes[*ids.last().expect("non-empty") as usize].field = field as u32;
            for i in 0..segs.len() {
                for j in i + 1..=segs.len() {
                    let label = segs[i..j].join(".").into_bytes().into_boxed_slice();
                    edges[ids[i] as usize].insert(label, ids[j]);
                }
            }
        }
        for (node, e) in nodes.iter_mut().zip(edges) {
            node.set_edges(e);
        }
        Self { nodes }
    }

    pub(crate) fn root(&self) -> u32 {
        0
    }

    #[inline]
    pub(crate) fn child(&self, node: u32, key: &[u8]) -> u32 {
        self.child_bit(node, key).0
    }

    /// The child reached by `key`, and its early-exit bit.
    #[inline(always)]
    pub(super) fn child_bit(&self, node: u32, key: &[u8]) -> (u32, u64) {
        match &self.nodes[node as usize].edges {
            Edges::None => (NONE, 0),
            Edges::One(k, c, bit) => {
                if eq_bytes(k, key) {
                    (*c, *bit)
                } else {
                    (NONE, 0)
                }
            }
            Edges::Few(v) => {
                for (k, c, bit) in v {
                    if eq_bytes(k, key) {
                        return (*c, *bit);
                    }
                }
                (NONE, 0)
            }
            Edges::Many(m) => m.get(key).copied().unwrap_or((NONE, 0)),
        }
    }

    #[inline]
    pub(super) fn full_mask(&self, node: u32) -> u64 {
        self.nodes[node as usize].full_mask
    }

    #[inline]
    pub(super) fn field(&self, node: u32) -> u32 {
        self.nodes[node as usize].field
    }

    #[inline]
    pub(super) fn has_children(&self, node: u32) -> bool {
        !matches!(self.nodes[node as usize].edges, Edges::None)
    }

    /// Approximate heap size in bytes.
    pub(crate) fn heap_bytes(&self) -> usize {
        let mut n = self.nodes.capacity() * std::mem::size_of::<Node>();
        for node in &self.nodes {
            n += match &node.edges {
                Edges::None => 0,
                Edges::One(k, _, _) => k.len() + 32,
                Edges::Few(v) => v.iter().map(|(k, _, _)| k.len() + 32).sum::<usize>(),
                Edges::Many(m) => m.iter().map(|(k, _)| k.len() + 48).sum::<usize>(),
            };
        }
        n
    }
}
