//! Throttling, API keys, usage plans and quotas on atomic token buckets.
//!
//! (Being written; see issue 4.)
