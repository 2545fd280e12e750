//! Reading events: follow only the paths some rule uses and report each leaf value found there,
//! with its array membership, to a [`LeafSink`]. Nothing else of the event is decoded.
//!
//! One job per module, each depending only on the ones listed before it:
//!
//! * [`sink`]: the [`LeafSink`] interface and [`Membership`] (what a reader reports);
//! * [`trie`]: the [`PathTrie`] of the dotted paths the rules use (where to look);
//! * [`structural`]: byte-level primitives of the scanner (string specials, skipping a container
//!   by its brackets and quotes, SSE2 where available);
//! * [`scan`](mod@scan): the validating JSON scanner that walks the event bytes without building
//!   a tree (everything off the used paths is skipped, validated or not by mode);
//! * [`walk`]: the same walk over a `serde_json::Value`, or over top-level fields given one by
//!   one ([`TopField`]).
//!
//! This file only declares the modules and re-exports what the rest of the crate uses.

mod scan;
mod sink;
mod structural;
mod trie;
mod walk;

pub(crate) use scan::scan;
pub(crate) use sink::{LeafSink, Membership};
pub(crate) use trie::PathTrie;
pub use walk::TopField;
pub(crate) use walk::{walk_fields, walk_value};
