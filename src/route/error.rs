//! Why a resource path or method could not be added to a router.
//!
//! These surface when a configuration is loaded, so each message names the resource and says
//! what would be accepted. Where API Gateway has its own message for the same mistake (recorded
//! in aws-behavior §2.2 from AWS-validated snapshots), the message quotes it word for word, so
//! users recognise it.

use std::fmt;

use super::method::Method;

/// A resource path or method the router refuses.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RouteError {
    /// The path does not start with `/`. Resource paths are absolute; the root is `/`.
    MissingLeadingSlash {
        /// The resource path as given.
        resource: String,
    },
    /// The path has an empty segment (`//`, or a trailing `/` after a segment).
    EmptySegment {
        /// The resource path as given.
        resource: String,
    },
    /// A literal segment has a character outside alphanumerics and `_ - . , :`
    /// (DG:api-gateway-known-issues).
    InvalidCharacter {
        /// The resource path as given.
        resource: String,
        /// The offending segment.
        segment: String,
        /// The first character not allowed.
        character: char,
    },
    /// A `{` or `}` that does not wrap a whole segment, like `resource{p}`: a path parameter must
    /// be a whole segment (DG:api-gateway-known-issues).
    PartialVariable {
        /// The resource path as given.
        resource: String,
        /// The offending segment.
        segment: String,
    },
    /// `{}`, `{+}` or a variable name with characters outside alphanumerics and `_ - . , :`.
    InvalidVariableName {
        /// The resource path as given.
        resource: String,
        /// The offending segment.
        segment: String,
    },
    /// A second variable child under one parent: AWS allows one `{x}` or `{x+}` per parent.
    VariableSibling {
        /// The resource path as given.
        resource: String,
        /// The variable segment being added.
        segment: String,
        /// The variable segment already there.
        existing: String,
    },
    /// A segment after a greedy `{x+}`: the greedy variable must be the last segment
    /// (DG:set-up-lambda-proxy-integrations).
    ChildOfGreedy {
        /// The resource path as given.
        resource: String,
        /// The greedy segment.
        greedy: String,
    },
    /// The same method defined twice on one resource.
    DuplicateMethod {
        /// The resource path as given.
        resource: String,
        /// The method defined twice.
        method: Method,
    },
    /// More segments than [`super::trie::MAX_DEPTH`], which bounds the lookup's recursion.
    TooDeep {
        /// The resource path as given.
        resource: String,
        /// The limit.
        max: usize,
    },
    /// The router would hold more than [`super::trie::MAX_NODES`] path segments in all.
    TooManyResources {
        /// The resource path that did not fit.
        resource: String,
        /// The limit.
        max: usize,
    },
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteError::MissingLeadingSlash { resource } => write!(
                f,
                "resource path `{resource}` must start with `/` (the root resource is `/`)"
            ),
            RouteError::EmptySegment { resource } => write!(
                f,
                "resource path `{resource}` has an empty segment; write segments separated by \
                 single slashes, with no trailing slash (e.g. `/pets/{{petId}}`)"
            ),
            RouteError::InvalidCharacter {
                resource,
                segment,
                character,
            } => write!(
                f,
                "resource path `{resource}`: segment `{segment}` contains {character:?}; path \
                 segments may contain only alphanumerics, `_`, `-`, `.`, `,` and `:`, or be a \
                 whole `{{name}}` / `{{name+}}` variable"
            ),
            RouteError::PartialVariable { resource, segment } => write!(
                f,
                "resource path `{resource}`: segment `{segment}` mixes text and braces; a path \
                 parameter must be a whole segment (`/resource/{{p}}`, not `/resource{{p}}`)"
            ),
            RouteError::InvalidVariableName { resource, segment } => write!(
                f,
                "resource path `{resource}`: variable `{segment}` needs a name made of \
                 alphanumerics, `_`, `-`, `.`, `,` or `:` (e.g. `{{petId}}` or `{{proxy+}}`)"
            ),
            RouteError::VariableSibling {
                resource,
                segment,
                existing,
            } => write!(
                f,
                "resource path `{resource}`: A sibling ({existing}) of this resource already has \
                 a variable path part -- only one is allowed; `{segment}` cannot sit beside \
                 `{existing}`, so use the same variable name or a literal segment"
            ),
            RouteError::ChildOfGreedy { resource, greedy } => write!(
                f,
                "resource path `{resource}`: Cannot create a child of a resource with a greedy \
                 path variable: {greedy}; the greedy variable must be the last segment"
            ),
            RouteError::DuplicateMethod { resource, method } => write!(
                f,
                "resource path `{resource}` defines {method} twice; each method may appear once \
                 per resource (`ANY` covers the methods not defined)"
            ),
            RouteError::TooDeep { resource, max } => write!(
                f,
                "resource path `{resource}` has more than {max} segments, the most Tollgate accepts"
            ),
            RouteError::TooManyResources { resource, max } => write!(
                f,
                "resource path `{resource}` does not fit: one API stage may have at most {max} \
                 path segments across all its resources"
            ),
        }
    }
}

impl std::error::Error for RouteError {}
