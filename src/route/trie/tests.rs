//! Unit tests for the resource trie: every matching rule of aws-behavior §2.3, each
//! AWS-validated example, build errors, hostile input, and a randomized comparison with a
//! reference model of the precedence rules.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

/// Captured parameters as owned strings, for comparisons.
type StrParams = Vec<(String, String)>;
/// Captured parameters as owned bytes, for the reference model.
type ByteParams = Vec<(String, Vec<u8>)>;
use Method::*;

/// A router whose value for each route is `"METHOD /resource"`.
fn router(routes: &[(&str, Method)]) -> Router<String> {
    let mut b = RouterBuilder::new();
    for (path, m) in routes {
        b.insert(path, *m, format!("{m} {path}")).unwrap();
    }
    b.build()
}

/// The served resource, method entry and params (as strings), or `None`.
fn hit(r: &Router<String>, m: Method, path: &str) -> Option<(String, Method, StrParams)> {
    let found = r.at(m, path.as_bytes())?;
    assert_eq!(*found.value, format!("{} {}", found.method, found.resource));
    let params = found
        .params
        .iter()
        .map(|(n, v)| (n.to_owned(), String::from_utf8(v.to_vec()).unwrap()))
        .collect();
    Some((found.resource.to_owned(), found.method, params))
}

fn res(r: &Router<String>, m: Method, path: &str) -> Option<String> {
    hit(r, m, path).map(|(res, _, _)| res)
}

fn param(r: &Router<String>, m: Method, path: &str, name: &str) -> Option<String> {
    let found = r.at(m, path.as_bytes())?;
    found
        .params
        .get(name)
        .map(|v| String::from_utf8(v.to_vec()).unwrap())
}

fn err(routes: &[(&str, Method)]) -> RouteError {
    let mut b = RouterBuilder::new();
    for (path, m) in routes {
        if let Err(e) = b.insert(path, *m, ()) {
            return e;
        }
    }
    panic!("expected an error for {routes:?}");
}

// ---- §2.3 rule 1 and 7: the raw path is matched, percent-encoding kept ----

#[test]
fn rule1_raw_path_is_not_decoded() {
    let r = router(&[("/pets/{id}", Get), ("/pets", Get)]);
    // `%2F` is not a separator: one segment.
    assert_eq!(
        param(&r, Get, "/pets/a%2Fb", "id").as_deref(),
        Some("a%2Fb")
    );
    // `%2F` does not separate `pets` from `1` either.
    assert_eq!(res(&r, Get, "/pets%2F1"), None);
}

#[test]
fn rule7_aws_validated_encoded_plus_and_at_kept() {
    // AWS-validated (test_lambda_aws_proxy_integration): proxy keeps `%2B`, `+` and `@`.
    let r = router(&[("/{proxy+}", Any)]);
    let path = "/proxy-value/api/user/test%2Balias@gmail.com/plus/test+alias@gmail.com";
    assert_eq!(
        param(&r, Get, path, "proxy").as_deref(),
        Some("proxy-value/api/user/test%2Balias@gmail.com/plus/test+alias@gmail.com")
    );
}

#[test]
fn param_values_keep_plus_percent_and_at() {
    let r = router(&[("/users/{email}", Get)]);
    assert_eq!(
        param(&r, Get, "/users/a+b@c.d", "email").as_deref(),
        Some("a+b@c.d")
    );
    assert_eq!(
        param(&r, Get, "/users/a%2Bb%40c", "email").as_deref(),
        Some("a%2Bb%40c")
    );
    assert_eq!(param(&r, Get, "/users/%", "email").as_deref(), Some("%"));
}

// ---- rule 2: trailing slash ignored ----

#[test]
fn rule2_aws_validated_trailing_slash_not_in_proxy() {
    let r = router(&[("/{proxy+}", Any)]);
    assert_eq!(
        param(&r, Get, "/proxy-value/", "proxy").as_deref(),
        Some("proxy-value")
    );
}

#[test]
fn rule2_trailing_slash_on_literal_and_param() {
    let r = router(&[("/pets", Get), ("/pets/{id}", Get)]);
    assert_eq!(res(&r, Get, "/pets/").as_deref(), Some("/pets"));
    assert_eq!(param(&r, Get, "/pets/42/", "id").as_deref(), Some("42"));
}

#[test]
fn rule2_only_one_trailing_slash_is_ignored() {
    // `/pets//` leaves an empty segment that only a greedy variable can take.
    let r = router(&[("/pets", Get), ("/pets/{id}", Get)]);
    assert_eq!(res(&r, Get, "/pets//"), None);
    let g = router(&[("/{proxy+}", Get)]);
    assert_eq!(param(&g, Get, "/pets//", "proxy").as_deref(), Some("pets/"));
}

// ---- rule 3: leading duplicate slash collapsed, inner `//` kept in a greedy tail ----

#[test]
fn rule3_aws_validated_leading_double_slash_collapsed() {
    let r = router(&[("/{proxy+}", Any)]);
    assert_eq!(
        param(&r, Get, "//proxy-value", "proxy").as_deref(),
        Some("proxy-value")
    );
    let l = router(&[("/pets", Get)]);
    assert_eq!(res(&l, Get, "//pets").as_deref(), Some("/pets"));
    assert_eq!(res(&l, Get, "///pets").as_deref(), Some("/pets"));
}

#[test]
fn rule3_aws_validated_double_slash_inside_greedy_kept() {
    let r = router(&[("/{proxy+}", Any)]);
    assert_eq!(
        param(&r, Get, "/proxy-value//double-slash", "proxy").as_deref(),
        Some("proxy-value//double-slash")
    );
}

#[test]
fn rule3_inner_double_slash_does_not_match_literals_or_params() {
    let r = router(&[("/a/b", Get), ("/a/{x}/c", Get)]);
    assert_eq!(res(&r, Get, "/a//b"), None);
    assert_eq!(res(&r, Get, "/a//c"), None);
    let g = router(&[("/a/{rest+}", Get)]);
    assert_eq!(param(&g, Get, "/a//b", "rest").as_deref(), Some("/b"));
}

// ---- rule 4: literal > {param} > {param+}, with backtracking ----

#[test]
fn rule4_aws_validated_backtracking_example() {
    let r = router(&[
        ("/part1", Get),
        ("/part1/hardcoded-value", Get),
        ("/{param+}", Get),
    ]);
    assert_eq!(res(&r, Get, "/part1").as_deref(), Some("/part1"));
    assert_eq!(
        res(&r, Get, "/part1/hardcoded-value").as_deref(),
        Some("/part1/hardcoded-value")
    );
    assert_eq!(
        hit(&r, Get, "/part1/random-value"),
        Some((
            "/{param+}".to_owned(),
            Get,
            vec![("param".to_owned(), "part1/random-value".to_owned())]
        ))
    );
}

#[test]
fn rule4_literal_beats_param_beats_greedy_across_levels() {
    let r = router(&[("/a/b", Get), ("/a/{x}", Get), ("/{proxy+}", Get)]);
    assert_eq!(hit(&r, Get, "/a/b").map(|h| h.2), Some(vec![]));
    assert_eq!(param(&r, Get, "/a/z", "x").as_deref(), Some("z"));
    assert_eq!(res(&r, Get, "/a/b/c").as_deref(), Some("/{proxy+}"));
    assert_eq!(res(&r, Get, "/a").as_deref(), Some("/{proxy+}"));
}

#[test]
fn rule4_backtracks_from_literal_into_param() {
    let r = router(&[("/a/b/c", Get), ("/a/{x}/d", Get)]);
    assert_eq!(
        hit(&r, Get, "/a/b/d"),
        Some((
            "/a/{x}/d".to_owned(),
            Get,
            vec![("x".to_owned(), "b".to_owned())]
        ))
    );
    assert_eq!(res(&r, Get, "/a/b/c").as_deref(), Some("/a/b/c"));
}

#[test]
fn rule4_backtracking_drops_params_of_failed_branch() {
    let r = router(&[("/k/{a}/{b}/x", Get), ("/{proxy+}", Get)]);
    let (resource, _, params) = hit(&r, Get, "/k/1/2/y").unwrap();
    assert_eq!(resource, "/{proxy+}");
    assert_eq!(params, vec![("proxy".to_owned(), "k/1/2/y".to_owned())]);
    let (_, _, params) = hit(&r, Get, "/k/1/2/x").unwrap();
    assert_eq!(params.len(), 2);
}

#[test]
fn param_and_greedy_below_the_root() {
    let r = router(&[("/files/{proxy+}", Get), ("/users/{id}/posts/{post}", Get)]);
    assert_eq!(
        param(&r, Get, "/files/a/b.txt", "proxy").as_deref(),
        Some("a/b.txt")
    );
    assert_eq!(res(&r, Get, "/files"), None);
    assert_eq!(res(&r, Get, "/files/"), None);
    // `/files//` leaves an empty tail: greedy needs at least one character.
    assert_eq!(res(&r, Get, "/files//"), None);
    let (_, _, params) = hit(&r, Get, "/users/7/posts/9").unwrap();
    assert_eq!(
        params,
        vec![
            ("id".to_owned(), "7".to_owned()),
            ("post".to_owned(), "9".to_owned())
        ]
    );
    assert_eq!(res(&r, Get, "/users/7/posts"), None);
}

// ---- rule 5: method-aware ----

#[test]
fn rule5_aws_validated_method_aware_example() {
    let r = router(&[("/test", Post), ("/{proxy+}", Options), ("/test/any", Any)]);
    assert_eq!(
        hit(&r, Options, "/test"),
        Some((
            "/{proxy+}".to_owned(),
            Options,
            vec![("proxy".to_owned(), "test".to_owned())]
        ))
    );
    assert_eq!(res(&r, Post, "/test").as_deref(), Some("/test"));
    assert_eq!(
        hit(&r, Options, "/test/any").map(|h| (h.0, h.1)),
        Some(("/test/any".to_owned(), Any))
    );
    assert_eq!(
        hit(&r, Get, "/test/any").map(|h| (h.0, h.1)),
        Some(("/test/any".to_owned(), Any))
    );
    // GET /test: /test lacks GET, /{proxy+} lacks GET → no match (403 upstream).
    assert_eq!(res(&r, Get, "/test"), None);
}

#[test]
fn rule5_method_awareness_backtracks_into_param() {
    let r = router(&[("/a/b", Post), ("/a/{x}", Get)]);
    assert_eq!(param(&r, Get, "/a/b", "x").as_deref(), Some("b"));
    assert_eq!(hit(&r, Post, "/a/b").map(|h| h.2), Some(vec![]));
}

// ---- rule 6: specific beats ANY ----

#[test]
fn rule6_specific_method_beats_any() {
    let r = router(&[("/pets", Any), ("/pets", Get)]);
    assert_eq!(hit(&r, Get, "/pets").map(|h| h.1), Some(Get));
    assert_eq!(hit(&r, Delete, "/pets").map(|h| h.1), Some(Any));
    assert_eq!(hit(&r, Head, "/pets").map(|h| h.1), Some(Any));
    assert_eq!(r.at(Get, b"/pets").unwrap().value, "GET /pets");
}

// ---- rule 10: no match for unknown path or undefined method; HEAD is not GET ----

#[test]
fn rule10_undefined_method_and_unknown_path_do_not_match() {
    let r = router(&[("/pets", Get)]);
    assert_eq!(res(&r, Post, "/pets"), None);
    assert_eq!(res(&r, Get, "/cats"), None);
    assert_eq!(res(&r, Get, "/pets/1"), None);
    assert_eq!(
        res(&r, Get, "/Pets"),
        None,
        "literal segments are case-sensitive"
    );
}

#[test]
fn get_does_not_serve_head() {
    let r = router(&[("/pets", Get)]);
    assert_eq!(res(&r, Head, "/pets"), None);
    let h = router(&[("/pets", Get), ("/pets", Head)]);
    assert_eq!(hit(&h, Head, "/pets").map(|h| h.1), Some(Head));
}

// ---- root and empty paths ----

#[test]
fn root_does_not_match_greedy() {
    let r = router(&[("/{proxy+}", Any)]);
    assert_eq!(res(&r, Get, "/"), None);
    assert_eq!(res(&r, Get, ""), None);
    assert_eq!(res(&r, Get, "//"), None);
    let with_root = router(&[("/", Get), ("/{proxy+}", Any)]);
    assert_eq!(
        hit(&with_root, Get, "/"),
        Some(("/".to_owned(), Get, vec![]))
    );
    assert_eq!(res(&with_root, Get, "").as_deref(), Some("/"));
    assert_eq!(res(&with_root, Get, "///").as_deref(), Some("/"));
    assert_eq!(res(&with_root, Get, "/x").as_deref(), Some("/{proxy+}"));
    // Root defines GET only: POST / is not served by the greedy child.
    assert_eq!(res(&with_root, Post, "/"), None);
}

#[test]
fn empty_router_matches_nothing() {
    let r: Router<()> = RouterBuilder::new().build();
    assert!(r.at(Get, b"/").is_none());
    assert!(r.at(Get, b"").is_none());
    assert!(r.methods_at(b"/x").is_none());
    assert_eq!(r.resource_count(), 0);
}

// ---- methods_at ----

#[test]
fn methods_at_reports_the_resource_and_its_methods() {
    let r = router(&[
        ("/pets", Get),
        ("/pets", Post),
        ("/pets/{id}", Any),
        ("/{proxy+}", Options),
    ]);
    let m = r.methods_at(b"/pets/").unwrap();
    assert_eq!(m.resource, "/pets");
    assert_eq!(m.methods.iter().collect::<Vec<_>>(), [Get, Post]);
    let m = r.methods_at(b"/pets/1").unwrap();
    assert_eq!(
        (m.resource, m.methods.iter().collect::<Vec<_>>()),
        ("/pets/{id}", vec![Any])
    );
    assert_eq!(r.methods_at(b"/x/y").unwrap().resource, "/{proxy+}");
    assert!(r.methods_at(b"/").is_none());
    assert_eq!(r.resource_count(), 3);
}

// ---- build errors ----

#[test]
fn error_missing_leading_slash() {
    let e = err(&[("pets", Get)]);
    assert_eq!(
        e,
        RouteError::MissingLeadingSlash {
            resource: "pets".into()
        }
    );
    assert_eq!(
        e.to_string(),
        "resource path `pets` must start with `/` (the root resource is `/`)"
    );
    assert!(matches!(
        err(&[("", Get)]),
        RouteError::MissingLeadingSlash { .. }
    ));
}

#[test]
fn error_empty_segment() {
    for bad in ["/pets/", "//pets", "/a//b"] {
        assert_eq!(
            err(&[(bad, Get)]),
            RouteError::EmptySegment {
                resource: bad.into()
            }
        );
    }
}

#[test]
fn error_invalid_character() {
    let e = err(&[("/pets/a@b", Get)]);
    assert_eq!(
        e,
        RouteError::InvalidCharacter {
            resource: "/pets/a@b".into(),
            segment: "a@b".into(),
            character: '@'
        }
    );
    assert!(
        e.to_string()
            .contains("only alphanumerics, `_`, `-`, `.`, `,` and `:`")
    );
    assert!(matches!(
        err(&[("/a b", Get)]),
        RouteError::InvalidCharacter { character: ' ', .. }
    ));
    assert!(matches!(
        err(&[("/é", Get)]),
        RouteError::InvalidCharacter {
            character: 'é', ..
        }
    ));
    // The allowed punctuation is accepted.
    router(&[("/a_b-c.d,e:f/{x_y-z}", Get)]);
}

#[test]
fn error_partial_variable() {
    for bad in ["/resource{p}", "/{p}x", "/{p", "/p}", "/{a}{b}"] {
        let e = err(&[(bad, Get)]);
        assert!(
            matches!(
                &e,
                RouteError::PartialVariable { .. } | RouteError::InvalidVariableName { .. }
            ),
            "{bad}: {e:?}"
        );
    }
    assert!(
        err(&[("/resource{p}", Get)])
            .to_string()
            .contains("must be a whole segment")
    );
}

#[test]
fn error_invalid_variable_name() {
    for bad in ["/{}", "/{+}", "/{a b}", "/{a/b}", "/{a++}"] {
        let e = err(&[(bad, Get)]);
        assert!(
            matches!(
                e,
                RouteError::InvalidVariableName { .. } | RouteError::PartialVariable { .. }
            ),
            "{bad}: {e:?}"
        );
    }
    assert!(matches!(
        err(&[("/{}", Get)]),
        RouteError::InvalidVariableName { .. }
    ));
}

#[test]
fn error_variable_sibling_uses_aws_text() {
    let e = err(&[("/{id}", Get), ("/{proxy+}", Get)]);
    assert_eq!(
        e,
        RouteError::VariableSibling {
            resource: "/{proxy+}".into(),
            segment: "{proxy+}".into(),
            existing: "{id}".into()
        }
    );
    assert!(e.to_string().contains(
        "A sibling ({id}) of this resource already has a variable path part -- only one is allowed"
    ));
    assert!(matches!(
        err(&[("/a/{x}/b", Get), ("/a/{y}", Get)]),
        RouteError::VariableSibling { .. }
    ));
    assert!(matches!(
        err(&[("/{p+}", Get), ("/{q+}", Get)]),
        RouteError::VariableSibling { .. }
    ));
    assert!(matches!(
        err(&[("/{p+}", Get), ("/{p}", Get)]),
        RouteError::VariableSibling { .. }
    ));
    // The same variable under the same parent is one resource tree, not a conflict.
    router(&[
        ("/a/{x}", Get),
        ("/a/{x}/b", Get),
        ("/a/lit", Get),
        ("/b/{y}", Get),
    ]);
}

#[test]
fn error_child_of_greedy_uses_aws_text() {
    let e = err(&[("/{proxy+}/x", Get)]);
    assert_eq!(
        e,
        RouteError::ChildOfGreedy {
            resource: "/{proxy+}/x".into(),
            greedy: "{proxy+}".into()
        }
    );
    assert!(
        e.to_string()
            .contains("Cannot create a child of a resource with a greedy path variable: {proxy+}")
    );
}

#[test]
fn error_duplicate_method() {
    let e = err(&[("/pets", Get), ("/pets", Post), ("/pets", Get)]);
    assert_eq!(
        e,
        RouteError::DuplicateMethod {
            resource: "/pets".into(),
            method: Get
        }
    );
    assert_eq!(
        e.to_string(),
        "resource path `/pets` defines GET twice; each method may appear once per resource \
         (`ANY` covers the methods not defined)"
    );
    assert!(matches!(
        err(&[("/", Any), ("/", Any)]),
        RouteError::DuplicateMethod { method: Any, .. }
    ));
}

#[test]
fn error_too_deep() {
    let ok = "/s".repeat(MAX_DEPTH);
    router(&[(ok.as_str(), Get)]);
    let deep = "/s".repeat(MAX_DEPTH + 1);
    assert_eq!(
        err(&[(deep.as_str(), Get)]),
        RouteError::TooDeep {
            resource: deep.clone(),
            max: MAX_DEPTH
        }
    );
}

#[test]
fn error_too_many_resources() {
    // Root + 4 nodes allowed.
    let mut b = RouterBuilder::with_max_nodes(5);
    b.insert("/a/b", Get, ()).unwrap();
    b.insert("/a/b/c", Get, ()).unwrap();
    // Only new nodes count: these reuse existing ones.
    b.insert("/a", Get, ()).unwrap();
    b.insert("/a/b/c", Post, ()).unwrap();
    let e = b.insert("/x/y", Get, ()).unwrap_err();
    assert_eq!(
        e,
        RouteError::TooManyResources {
            resource: "/x/y".into(),
            max: 5
        }
    );
    assert!(e.to_string().contains("at most 5 path segments"));
    assert_eq!(b.build().resource_count(), 3);
}

#[test]
fn failed_insert_leaves_the_router_usable() {
    let mut b = RouterBuilder::new();
    b.insert("/a/{x}", Get, 1).unwrap();
    assert!(b.insert("/a/{y}/z", Get, 2).is_err());
    assert!(b.insert("/q/{p+}/z", Get, 3).is_err());
    b.insert("/a/{x}/z", Get, 4).unwrap();
    let r = b.build();
    assert_eq!(r.at(Get, b"/a/1/z").map(|m| *m.value), Some(4));
    // The rejected `/q/...` path created no resource.
    assert!(r.methods_at(b"/q/1").is_none());
    assert_eq!(r.resource_count(), 2);
}

// ---- scale and hostile input ----

#[test]
fn many_literal_children_use_the_map() {
    let mut b = RouterBuilder::new();
    for i in 0..500 {
        b.insert(&format!("/r{i}"), Get, i).unwrap();
        b.insert(&format!("/r{i}/{{id}}"), Get, 10_000 + i).unwrap();
    }
    let r = b.build();
    assert!(matches!(r.nodes[0].literals, Literals::Map(_)));
    for i in [0, 7, 8, 9, 250, 499] {
        assert_eq!(
            r.at(Get, format!("/r{i}").as_bytes()).map(|m| *m.value),
            Some(i)
        );
        let path = format!("/r{i}/x");
        let m = r.at(Get, path.as_bytes()).unwrap();
        assert_eq!(
            (*m.value, m.params.get("id")),
            (10_000 + i, Some(&b"x"[..]))
        );
    }
    assert!(r.at(Get, b"/r500").is_none());
    assert!(r.at(Get, b"/r").is_none());
}

#[test]
fn many_params_spill_past_inline() {
    let names: Vec<String> = (0..20).map(|i| format!("{{p{i}}}")).collect();
    let resource = format!("/{}", names.join("/"));
    let r = router(&[(resource.as_str(), Get)]);
    let path: String = (0..20).map(|i| format!("/v{i}")).collect();
    let (got, _, params) = hit(&r, Get, &path).unwrap();
    assert_eq!(got, resource);
    assert_eq!(params.len(), 20);
    for (i, (n, v)) in params.iter().enumerate() {
        assert_eq!(
            (n.as_str(), v.as_str()),
            (format!("p{i}").as_str(), format!("v{i}").as_str())
        );
    }
}

#[test]
fn very_long_paths() {
    let r = router(&[("/a/{x}", Get), ("/files/{proxy+}", Get)]);
    let long_segment = format!("/a/{}", "x".repeat(1 << 20));
    assert_eq!(
        param(&r, Get, &long_segment, "x").map(|v| v.len()),
        Some(1 << 20)
    );
    let many_segments = "/a".repeat(100_000);
    assert_eq!(res(&r, Get, &many_segments), None);
    let greedy = format!("/files{}", "/seg".repeat(100_000));
    assert_eq!(
        param(&r, Get, &greedy, "proxy").map(|v| v.len()),
        Some(4 * 100_000 - 1)
    );
    let slashes = "/".repeat(1 << 20);
    assert_eq!(res(&r, Get, &slashes), None);
}

/// xorshift64*: a fixed-seed generator so the randomized tests are reproducible.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn arbitrary_bytes_never_panic() {
    let r = router(&[
        ("/", Get),
        ("/pets", Any),
        ("/pets/{id}", Get),
        ("/pets/{id}/toys/{toy+}", Post),
        ("/{proxy+}", Options),
    ]);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let alphabet = b"/%{}+@ pets/a\x00\xff";
    for _ in 0..20_000 {
        let len = rng.below(64);
        let path: Vec<u8> = (0..len)
            .map(|_| {
                if rng.below(4) == 0 {
                    (rng.next() & 0xff) as u8
                } else {
                    alphabet[rng.below(alphabet.len())]
                }
            })
            .collect();
        for m in Method::ALL {
            if let Some(found) = r.at(m, &path) {
                for (_, v) in found.params.iter() {
                    // Every value is a slice of the request path.
                    let start = v.as_ptr() as usize - path.as_ptr() as usize;
                    assert!(start + v.len() <= path.len());
                }
            }
            let _ = r.methods_at(&path);
        }
    }
}

/// The reference model: the matching resource whose segment kinds (literal < param <
/// greedy, position by position) sort first. Backtracking DFS must agree with it.
fn reference<'a>(
    routes: &'a [(String, Method)],
    method: Method,
    path: &[u8],
) -> Option<(&'a str, Method, ByteParams)> {
    let norm = start(path);
    let segs: Vec<&[u8]> = match norm {
        None => vec![],
        Some(p) => p.split(|b| *b == b'/').collect(),
    };
    let mut best: Option<(Vec<u8>, &'a str, ByteParams)> = None;
    for (resource, _) in routes {
        let defined: Vec<Method> = routes
            .iter()
            .filter(|(r, _)| r == resource)
            .map(|(_, m)| *m)
            .collect();
        if !defined.contains(&method) && !defined.contains(&Any) {
            continue;
        }
        let parts: Vec<&str> = resource
            .split('/')
            .skip(1)
            .filter(|s| !s.is_empty())
            .collect();
        let mut kinds = Vec::new();
        let mut params = Vec::new();
        let mut ok = true;
        let mut offset = 0usize; // byte offset of segment i within `norm`
        for (i, part) in parts.iter().enumerate() {
            if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix("+}")) {
                let rest = norm.map(|p| &p[offset.min(p.len())..]).unwrap_or(b"");
                if i >= segs.len() || rest.is_empty() {
                    ok = false;
                } else {
                    kinds.push(2);
                    params.push((name.to_owned(), rest.to_vec()));
                }
                break;
            }
            let Some(seg) = segs.get(i) else {
                ok = false;
                break;
            };
            if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                ok &= !seg.is_empty();
                kinds.push(1);
                params.push((name.to_owned(), seg.to_vec()));
            } else {
                ok &= *seg == part.as_bytes();
                kinds.push(0);
            }
            offset += seg.len() + 1;
            if !ok {
                break;
            }
        }
        let greedy = kinds.last() == Some(&2);
        if !ok || (!greedy && parts.len() != segs.len()) {
            continue;
        }
        if best
            .as_ref()
            .is_none_or(|(k, r, _)| kinds < *k || (kinds == *k && resource.as_str() < *r))
        {
            best = Some((kinds, resource.as_str(), params));
        }
    }
    let (_, resource, params) = best?;
    let defined: Vec<Method> = routes
        .iter()
        .filter(|(r, _)| r == resource)
        .map(|(_, m)| *m)
        .collect();
    let served = if defined.contains(&method) {
        method
    } else {
        Any
    };
    Some((resource, served, params))
}

#[test]
fn randomized_lookup_agrees_with_reference_model() {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let literals = ["a", "b", "c"];
    let variables = ["{x}", "{y}", "{g+}", "{h+}"];
    for _ in 0..300 {
        let mut b = RouterBuilder::new();
        let mut routes: Vec<(String, Method)> = Vec::new();
        for _ in 0..rng.below(12) + 1 {
            let depth = rng.below(4);
            let mut path = String::new();
            for _ in 0..depth {
                path.push('/');
                if rng.below(3) == 0 {
                    path.push_str(variables[rng.below(variables.len())]);
                } else {
                    path.push_str(literals[rng.below(literals.len())]);
                }
            }
            if path.is_empty() {
                path.push('/');
            }
            let m = [Get, Put, Delete, Options, Any][rng.below(5)];
            if b.insert(&path, m, (path.clone(), m)).is_ok() {
                routes.push((path, m));
            }
        }
        let r = b.build();
        for _ in 0..60 {
            let mut path = "/".repeat(rng.below(3));
            for i in 0..rng.below(5) {
                if i > 0 {
                    path.push('/');
                }
                path.push_str(["a", "b", "c", "", "q", "%2F"][rng.below(6)]);
            }
            if rng.below(3) == 0 {
                path.push('/');
            }
            let m = [Get, Put, Delete, Options, Head][rng.below(5)];
            let got = r.at(m, path.as_bytes()).map(|f| {
                assert_eq!(f.resource, f.value.0);
                let params = f
                    .params
                    .iter()
                    .map(|(n, v)| (n.to_owned(), v.to_vec()))
                    .collect();
                (f.resource, f.method, params)
            });
            assert_eq!(
                got,
                reference(&routes, m, path.as_bytes()),
                "routes {routes:?}, {m} {path:?}"
            );
        }
    }
}
