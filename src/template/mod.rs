//! Mapping templates: API Gateway's Velocity Template Language, compiled to bytecode.
//!
//! (Being written; see issue 3.)

pub mod playground;
