//! The per-core stage response cache.
//!
//! (Being written; see issue 5.)
