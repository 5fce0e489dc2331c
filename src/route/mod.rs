//! ROUTE: a REST API stage's resource path + request method → the method's compiled value.
//!
//! API Gateway routes on a tree of resources (`/pets/{petId}`, `/{proxy+}`), each defining some
//! methods or `ANY`. Tollgate compiles that tree at config load into a [`Router`], which finds a
//! request's resource without allocating and in time that does not grow with the number of
//! routes, reproducing AWS's precedence and its quirks (aws-behavior §2.1-2.3): literal >
//! `{param}` > `{param+}` with backtracking, method-aware candidates, raw (undecoded) parameter
//! values, collapsed leading and ignored trailing slashes.
//!
//! Host, stage and custom-domain base-path selection happen before this, in the caller.
//!
//! ```
//! use tollgate::route::{Method, RouterBuilder};
//!
//! let mut b = RouterBuilder::new();
//! b.insert("/part1", Method::Get, 0)?;
//! b.insert("/part1/hardcoded-value", Method::Get, 1)?;
//! b.insert("/{param+}", Method::Get, 2)?;
//! let router = b.build();
//!
//! // AWS-validated: no variable child under `/part1`, so matching backtracks to the root greedy.
//! let m = router.at(Method::Get, b"/part1/random-value").ok_or("no match")?;
//! assert_eq!((*m.value, m.resource), (2, "/{param+}"));
//! assert_eq!(m.params.get("param"), Some(&b"part1/random-value"[..]));
//! // No match is API Gateway's 403 Missing Authentication Token, for the caller to send.
//! assert!(router.at(Method::Post, b"/part1").is_none());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! * [`method`]: [`Method`] and [`MethodSet`].
//! * [`trie`]: [`RouterBuilder`] (fallible, finds conflicts) and [`Router`] (the lookup).
//! * [`params`]: [`Params`], captures stored inline.
//! * [`error`]: [`RouteError`], what a bad resource path gets told.

pub mod error;
pub mod method;
pub mod params;
pub mod trie;

pub use error::RouteError;
pub use method::{Method, MethodSet};
pub use params::Params;
pub use trie::{Match, ResourceMethods, Router, RouterBuilder};
