//! Routing: resource path + method → the method's compiled configuration.
//!
//! (Being written.)
