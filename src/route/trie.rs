//! The resource trie of one REST API stage: built once at config load, then looked up per
//! request without allocating.
//!
//! One node per resource path segment. A node has literal children, at most one `{param}` child
//! and at most one greedy `{param+}` child (AWS allows one variable child per parent,
//! aws-behavior §2.2). Lookup reproduces API Gateway's matching (aws-behavior §2.3):
//!
//! * the raw path is matched, percent-encoding kept (rule 1, rule 7);
//! * leading slashes are collapsed and one trailing slash is ignored (rules 2 and 3);
//! * at each level a literal beats `{param}`, which beats `{param+}`, **with backtracking**: if
//!   the literal branch dead-ends, the variable branches are tried (rule 4);
//! * a resource is a candidate only if it defines the request method or `ANY` (rule 5), and a
//!   specific method beats `ANY` (rule 6).
//!
//! ```text
//! /                      root: GET
//! ├── part1              GET
//! │   └── hardcoded-value GET
//! └── {param+}           GET    <- `/part1/random-value` backtracks to here
//! ```
//!
//! Cost: each trie node is entered at most once per lookup (a node sits at one depth, so it is
//! reached from one parent with one segment), literal children are found by a short scan or an
//! ahash map, and recursion is bounded by [`MAX_DEPTH`]. The request path is only scanned as deep
//! as the trie goes; a greedy tail is captured without scanning it.

use ahash::AHashMap;

use super::error::RouteError;
use super::method::{METHOD_COUNT, Method, MethodSet};
use super::params::Params;

/// The most segments a resource path may have. Bounds the lookup's recursion; far beyond any
/// real API (AWS caps an API at 300 resources by default).
pub const MAX_DEPTH: usize = 128;

/// The most trie nodes (path segments across all resources) one router holds. AWS's default
/// quota is 300 resources per API; this leaves room for raised quotas while keeping node ids in
/// a `u32`.
pub const MAX_NODES: usize = 1 << 20;

/// Above this many literal children a node switches from a linear scan to an ahash map. A scan
/// of a few short byte strings beats hashing; past a handful the map keeps lookup flat.
const SCAN_MAX_CHILDREN: usize = 8;

/// Index of a node in [`Router::nodes`].
type NodeId = u32;

/// Literal children of a node.
#[derive(Debug)]
enum Literals {
    /// Few children: compared in order.
    Scan(Vec<(Box<[u8]>, NodeId)>),
    /// Many children: hashed.
    Map(AHashMap<Box<[u8]>, NodeId>),
}

impl Literals {
    #[inline]
    fn get(&self, segment: &[u8]) -> Option<NodeId> {
        match self {
            Literals::Scan(list) => list
                .iter()
                .find(|(label, _)| **label == *segment)
                .map(|(_, id)| *id),
            Literals::Map(map) => map.get(segment).copied(),
        }
    }
}

/// One resource with its methods.
#[derive(Debug)]
struct Resource<T> {
    // The resource path template as configured (`/pets/{petId}`), for `$context.resourcePath`.
    path: Box<str>,
    methods: [Option<T>; METHOD_COUNT],
    defined: MethodSet,
}

impl<T> Resource<T> {
    /// The value serving `method`: its own entry, else `ANY`'s.
    #[inline]
    fn serve(&self, method: Method) -> Option<(Method, &T)> {
        if let Some(v) = &self.methods[method.index()] {
            return Some((method, v));
        }
        self.methods[Method::Any.index()]
            .as_ref()
            .map(|v| (Method::Any, v))
    }
}

#[derive(Debug)]
struct Node<T> {
    literals: Literals,
    param: Option<NodeId>,
    greedy: Option<NodeId>,
    // For a variable node, the variable name without braces or `+`; empty otherwise.
    name: Box<str>,
    // The segment as written (`pets`, `{petId}`, `{proxy+}`), for error messages.
    label: Box<str>,
    resource: Option<Resource<T>>,
}

impl<T> Node<T> {
    fn new(label: &str, name: &str) -> Self {
        Node {
            literals: Literals::Scan(Vec::new()),
            param: None,
            greedy: None,
            name: name.into(),
            label: label.into(),
            resource: None,
        }
    }
}

/// A segment of a resource path, parsed.
enum Segment<'a> {
    Literal(&'a str),
    Param(&'a str),
    Greedy(&'a str),
}

/// Whether `c` may appear in a path segment (DG:api-gateway-known-issues: "alphanumerics,
/// underscore, hyphen, period, comma, colon and curly braces").
fn segment_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ',' | ':')
}

fn parse_segment<'a>(resource: &str, seg: &'a str) -> Result<Segment<'a>, RouteError> {
    if seg.is_empty() {
        return Err(RouteError::EmptySegment {
            resource: resource.to_owned(),
        });
    }
    if let Some(inner) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
        let (name, greedy) = match inner.strip_suffix('+') {
            Some(name) => (name, true),
            None => (inner, false),
        };
        if name.is_empty() || !name.chars().all(segment_char) {
            return Err(RouteError::InvalidVariableName {
                resource: resource.to_owned(),
                segment: seg.to_owned(),
            });
        }
        return Ok(if greedy {
            Segment::Greedy(name)
        } else {
            Segment::Param(name)
        });
    }
    if seg.contains(['{', '}']) {
        return Err(RouteError::PartialVariable {
            resource: resource.to_owned(),
            segment: seg.to_owned(),
        });
    }
    if let Some(bad) = seg.chars().find(|c| !segment_char(*c)) {
        return Err(RouteError::InvalidCharacter {
            resource: resource.to_owned(),
            segment: seg.to_owned(),
            character: bad,
        });
    }
    Ok(Segment::Literal(seg))
}

/// Collects resources and methods, checking each as it comes; [`RouterBuilder::build`] freezes
/// them into a [`Router`].
#[derive(Debug)]
pub struct RouterBuilder<T> {
    nodes: Vec<Node<T>>,
    // MAX_NODES, lowered by tests to exercise the limit cheaply.
    max_nodes: usize,
}

impl<T> Default for RouterBuilder<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> RouterBuilder<T> {
    /// An empty builder: only the root node, with no methods.
    pub fn new() -> Self {
        RouterBuilder {
            nodes: vec![Node::new("/", "")],
            max_nodes: MAX_NODES,
        }
    }

    #[cfg(test)]
    fn with_max_nodes(max_nodes: usize) -> Self {
        RouterBuilder {
            max_nodes,
            ..Self::new()
        }
    }

    /// Defines `method` on the resource `resource_path` (`/`, `/pets`, `/pets/{petId}`,
    /// `/files/{proxy+}`), creating the resource and its ancestors as needed.
    ///
    /// Fails, leaving earlier insertions in place, if the path is malformed, puts a second
    /// variable beside an existing one, goes below a greedy variable, or repeats a method.
    pub fn insert(
        &mut self,
        resource_path: &str,
        method: Method,
        value: T,
    ) -> Result<(), RouteError> {
        let Some(rest) = resource_path.strip_prefix('/') else {
            return Err(RouteError::MissingLeadingSlash {
                resource: resource_path.to_owned(),
            });
        };
        // Parse the whole path first so a bad path leaves no half-made nodes behind.
        let mut segments = Vec::new();
        if !rest.is_empty() {
            for seg in rest.split('/') {
                if segments.len() == MAX_DEPTH {
                    return Err(RouteError::TooDeep {
                        resource: resource_path.to_owned(),
                        max: MAX_DEPTH,
                    });
                }
                segments.push((seg, parse_segment(resource_path, seg)?));
            }
        }
        if let Some(pos) = segments
            .iter()
            .position(|(_, s)| matches!(s, Segment::Greedy(_)))
        {
            if pos + 1 < segments.len() {
                return Err(RouteError::ChildOfGreedy {
                    resource: resource_path.to_owned(),
                    greedy: segments[pos].0.to_owned(),
                });
            }
        }
        // Check conflicts and room before creating anything.
        let existing = self.check_siblings(resource_path, &segments)?;
        if self.nodes.len() + (segments.len() - existing) > self.max_nodes {
            return Err(RouteError::TooManyResources {
                resource: resource_path.to_owned(),
                max: self.max_nodes,
            });
        }

        let mut at: usize = 0;
        for (label, seg) in &segments {
            at = self.child(at, label, seg);
        }
        let node = &mut self.nodes[at];
        let resource = node.resource.get_or_insert_with(|| Resource {
            path: resource_path.into(),
            methods: std::array::from_fn(|_| None),
            defined: MethodSet::EMPTY,
        });
        if resource.defined.contains(method) {
            return Err(RouteError::DuplicateMethod {
                resource: resource_path.to_owned(),
                method,
            });
        }
        resource.defined.insert(method);
        resource.methods[method.index()] = Some(value);
        Ok(())
    }

    /// Walks the existing nodes along `segments` and reports the first variable that would sit
    /// beside a different one (AWS: one variable child per parent). Returns how many leading
    /// segments already have nodes.
    fn check_siblings(
        &self,
        resource: &str,
        segments: &[(&str, Segment<'_>)],
    ) -> Result<usize, RouteError> {
        let mut at = 0usize;
        for (depth, (label, seg)) in segments.iter().enumerate() {
            let node = &self.nodes[at];
            let next = match seg {
                Segment::Literal(text) => node.literals_get(text.as_bytes()),
                Segment::Param(_) | Segment::Greedy(_) => {
                    let (same, other) = match seg {
                        Segment::Greedy(_) => (node.greedy, node.param),
                        _ => (node.param, node.greedy),
                    };
                    for existing in [same, other].into_iter().flatten() {
                        let existing = &self.nodes[existing as usize];
                        if *existing.label != **label {
                            return Err(RouteError::VariableSibling {
                                resource: resource.to_owned(),
                                segment: (*label).to_owned(),
                                existing: existing.label.to_string(),
                            });
                        }
                    }
                    same
                }
            };
            match next {
                Some(id) => at = id as usize,
                // The rest of the path is new, so it cannot conflict.
                None => return Ok(depth),
            }
        }
        Ok(segments.len())
    }

    /// The child of `parent` for `seg`, created if missing. Conflicts were checked before.
    fn child(&mut self, parent: usize, label: &str, seg: &Segment<'_>) -> usize {
        let existing = match seg {
            Segment::Literal(text) => self.nodes[parent].literals_get(text.as_bytes()),
            Segment::Param(_) => self.nodes[parent].param,
            Segment::Greedy(_) => self.nodes[parent].greedy,
        };
        if let Some(id) = existing {
            return id as usize;
        }
        let name = match seg {
            Segment::Literal(_) => "",
            Segment::Param(n) | Segment::Greedy(n) => n,
        };
        let id = self.nodes.len();
        // `insert` keeps the count at or below MAX_NODES, which fits a u32.
        let id32 = id as NodeId;
        self.nodes.push(Node::new(label, name));
        let node = &mut self.nodes[parent];
        match seg {
            Segment::Literal(text) => {
                if let Literals::Scan(list) = &mut node.literals {
                    list.push((text.as_bytes().into(), id32));
                }
            }
            Segment::Param(_) => node.param = Some(id32),
            Segment::Greedy(_) => node.greedy = Some(id32),
        }
        id
    }

    /// Freezes the tree: nodes with many literal children get a hash map.
    pub fn build(self) -> Router<T> {
        let nodes = self
            .nodes
            .into_iter()
            .map(|mut node| {
                if let Literals::Scan(list) = &mut node.literals {
                    if list.len() > SCAN_MAX_CHILDREN {
                        node.literals = Literals::Map(std::mem::take(list).into_iter().collect());
                    }
                }
                node
            })
            .collect();
        Router { nodes }
    }
}

impl<T> Node<T> {
    fn literals_get(&self, segment: &[u8]) -> Option<NodeId> {
        self.literals.get(segment)
    }
}

/// A successful lookup.
#[derive(Debug)]
pub struct Match<'r, 'p, T> {
    /// The value stored for the resource and method that serve the request.
    pub value: &'r T,
    /// The resource path template (`/pets/{petId}`), as `$context.resourcePath` reports it.
    pub resource: &'r str,
    /// The method entry that served: the request's own method, or [`Method::Any`].
    pub method: Method,
    /// Path parameters, raw and percent-encoded, borrowed from the request path.
    pub params: Params<'r, 'p>,
}

/// Which methods the resource matching a path defines, for `Allow` and CORS answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResourceMethods<'r> {
    /// The resource path template.
    pub resource: &'r str,
    /// The methods it defines (`ANY` included as itself, not expanded).
    pub methods: MethodSet,
}

/// The frozen resource trie of one REST API stage. Immutable and `Sync` when `T` is.
#[derive(Debug)]
pub struct Router<T> {
    nodes: Box<[Node<T>]>,
}

impl<T> Router<T> {
    /// Finds the resource and method serving `method` on `path`, the raw request path after the
    /// stage (`/pets/42`, `//pets`, `/pets/`, or empty for the root). No match is AWS's 403
    /// `Missing Authentication Token` (aws-behavior §2.3 rule 10), for the caller to send.
    /// Passing [`Method::Any`] finds only resources that define `ANY`.
    #[inline]
    pub fn at<'r, 'p>(&'r self, method: Method, path: &'p [u8]) -> Option<Match<'r, 'p, T>> {
        let mut params = Params::new();
        let node = self.find(0, start(path), Some(method), &mut params)?;
        let resource = node.resource.as_ref()?;
        let (method, value) = resource.serve(method)?;
        Some(Match {
            value,
            resource: &resource.path,
            method,
            params,
        })
    }

    /// The resource `path` routes to whatever the method, and the methods it defines. Follows the
    /// same precedence as [`Router::at`], taking any resource that has at least one method.
    pub fn methods_at(&self, path: &[u8]) -> Option<ResourceMethods<'_>> {
        let mut params = Params::new();
        let node = self.find(0, start(path), None, &mut params)?;
        let resource = node.resource.as_ref()?;
        Some(ResourceMethods {
            resource: &resource.path,
            methods: resource.defined,
        })
    }

    /// How many resources have at least one method.
    pub fn resource_count(&self) -> usize {
        self.nodes.iter().filter(|n| n.resource.is_some()).count()
    }

    /// Whether `node` has a resource that serves `method` (any method when `None`).
    #[inline]
    fn accepts(node: &Node<T>, method: Option<Method>) -> bool {
        match (&node.resource, method) {
            (None, _) => false,
            (Some(r), Some(m)) => r.defined.serves(m),
            (Some(r), None) => !r.defined.is_empty(),
        }
    }

    /// Depth-first search in precedence order. `rest` is `None` once the path is used up, or the
    /// remaining path starting at the next segment (which may be empty, for `//`).
    fn find<'r, 'p>(
        &'r self,
        at: NodeId,
        rest: Option<&'p [u8]>,
        method: Option<Method>,
        params: &mut Params<'r, 'p>,
    ) -> Option<&'r Node<T>> {
        let node = self.nodes.get(at as usize)?;
        let Some(rest) = rest else {
            return Self::accepts(node, method).then_some(node);
        };
        let (segment, next) = match memchr::memchr(b'/', rest) {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        // Literals and `{param}` need a non-empty segment; an empty one (from `//`) can only be
        // swallowed by a greedy variable, which keeps it (aws-behavior §2.3 rule 3).
        if !segment.is_empty() {
            if let Some(child) = node.literals.get(segment) {
                if let Some(found) = self.find(child, next, method, params) {
                    return Some(found);
                }
            }
            if let Some(child) = node.param {
                let name = self.nodes.get(child as usize).map_or("", |n| &n.name);
                params.push(name, segment);
                if let Some(found) = self.find(child, next, method, params) {
                    return Some(found);
                }
                params.pop();
            }
        }
        // A greedy variable takes the rest of the path, which must not be empty: the root `/`
        // does not match `/{proxy+}` (aws-behavior §2.3).
        if let Some(child) = node.greedy {
            let child_node = self.nodes.get(child as usize)?;
            if !rest.is_empty() && Self::accepts(child_node, method) {
                params.push(&child_node.name, rest);
                return Some(child_node);
            }
        }
        None
    }
}

/// Normalises a request path for matching: leading slashes collapse (`//pets` routes like
/// `/pets`, aws-behavior §2.3 rule 3) and one trailing slash is ignored (rule 2). `None` means
/// the root.
#[inline]
fn start(path: &[u8]) -> Option<&[u8]> {
    let first = path.iter().position(|b| *b != b'/')?;
    let trimmed = &path[first..];
    Some(trimmed.strip_suffix(b"/").unwrap_or(trimmed))
}

#[cfg(test)]
mod tests;
