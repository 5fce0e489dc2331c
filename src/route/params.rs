//! Path parameters captured by a lookup, borrowed from the request path.
//!
//! Values stay `&[u8]` and percent-encoded, exactly as received: AWS passes path parameters on
//! undecoded (aws-behavior §2.3 rule 7, `test%2Balias@gmail.com` stays as is). Names borrow from
//! the router. Most resources have one or two variables, so the first [`INLINE_PARAMS`] live in
//! an inline array and the lookup allocates nothing; only a deeper resource spills to the heap
//! (the trick matchit's `params.rs` uses).

use std::fmt;

/// How many parameters are stored inline before spilling to the heap.
pub const INLINE_PARAMS: usize = 8;

/// One captured parameter: the variable name (no braces, no `+`) and its raw value.
pub type Param<'r, 'p> = (&'r str, &'p [u8]);

/// The path parameters of one match, in path order.
#[derive(Clone)]
pub struct Params<'r, 'p> {
    // The first INLINE_PARAMS captures; only `inline[..len.min(INLINE_PARAMS)]` is meaningful.
    inline: [Param<'r, 'p>; INLINE_PARAMS],
    len: usize,
    // Captures past INLINE_PARAMS; an empty Vec does not allocate.
    spill: Vec<Param<'r, 'p>>,
}

impl<'r, 'p> Params<'r, 'p> {
    /// No parameters.
    pub const fn new() -> Self {
        Params {
            inline: [("", b""); INLINE_PARAMS],
            len: 0,
            spill: Vec::new(),
        }
    }

    /// How many parameters were captured.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was captured.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The raw value of the parameter `name` (the first one, should a path repeat a name).
    pub fn get(&self, name: &str) -> Option<&'p [u8]> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// The parameters in path order.
    pub fn iter(&self) -> impl Iterator<Item = Param<'r, 'p>> + '_ {
        self.inline[..self.len.min(INLINE_PARAMS)]
            .iter()
            .chain(self.spill.iter())
            .copied()
    }

    #[inline]
    pub(crate) fn push(&mut self, name: &'r str, value: &'p [u8]) {
        if let Some(slot) = self.inline.get_mut(self.len) {
            *slot = (name, value);
        } else {
            self.spill.push((name, value));
        }
        self.len += 1;
    }

    /// Drops the last capture; used when matching backtracks out of a variable.
    #[inline]
    pub(crate) fn pop(&mut self) {
        if self.len > INLINE_PARAMS {
            self.spill.pop();
        }
        self.len = self.len.saturating_sub(1);
    }
}

impl Default for Params<'_, '_> {
    fn default() -> Self {
        Params::new()
    }
}

impl fmt::Debug for Params<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.iter()
                    .map(|(n, v)| (n, String::from_utf8_lossy(v).into_owned())),
            )
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn inline_then_spill_then_pop() {
        let names: Vec<String> = (0..INLINE_PARAMS + 3).map(|i| format!("p{i}")).collect();
        let mut p = Params::new();
        for (i, n) in names.iter().enumerate() {
            p.push(n, if i % 2 == 0 { b"even" } else { b"odd" });
        }
        assert_eq!(p.len(), INLINE_PARAMS + 3);
        assert_eq!(p.get("p0"), Some(&b"even"[..]));
        assert_eq!(p.get("p9"), Some(&b"odd"[..]));
        assert_eq!(p.get("p10"), Some(&b"even"[..]));
        assert_eq!(p.get("nope"), None);
        let order: Vec<&str> = p.iter().map(|(n, _)| n).collect();
        assert_eq!(order, names.iter().map(String::as_str).collect::<Vec<_>>());
        for _ in 0..4 {
            p.pop();
        }
        assert_eq!(p.len(), INLINE_PARAMS - 1);
        assert_eq!(p.iter().count(), INLINE_PARAMS - 1);
        assert_eq!(p.get("p7"), None);
        p.push("again", b"x");
        assert_eq!(p.get("again"), Some(&b"x"[..]));
    }

    #[test]
    fn pop_on_empty_is_harmless() {
        let mut p = Params::new();
        p.pop();
        assert!(p.is_empty());
        assert_eq!(format!("{p:?}"), "{}");
    }
}
