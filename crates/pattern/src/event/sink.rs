//! What the event readers hand to the matcher: each leaf value on a used path, with the field it
//! belongs to and the arrays that enclose it. The bottom of the `event` module: it depends on
//! nothing else in it.

use crate::pred::LeafKind;

/// (array id, index in that array) for each array enclosing a leaf, outermost first.
pub(crate) type Membership = [(u32, u32)];

/// Receives the leaves of an event on used paths.
pub(crate) trait LeafSink {
    fn leaf(&mut self, field: u32, kind: LeafKind<'_>, membership: &Membership);

    /// A number leaf, with its value when the scanner's [`lex`](crate::number::lex) decided it
    /// (then it is exact); the same as [`Self::leaf`] with [`LeafKind::Num`] otherwise.
    #[inline]
    fn number(&mut self, field: u32, text: &str, value: Option<f64>, membership: &Membership) {
        let _ = value;
        self.leaf(field, LeafKind::Num(text), membership);
    }
}
