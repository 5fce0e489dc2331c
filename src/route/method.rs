//! HTTP methods as REST API resources define them, and a small set of them.
//!
//! API Gateway knows seven HTTP methods plus `ANY`, which "matches any method not explicitly
//! defined on the same resource" (DG:api-gateway-swagger-extensions-any-method). The router keys
//! each resource's method table by [`Method`], and [`MethodSet`] is the bitset it hands back for
//! `Allow` and CORS answers, so neither needs an allocation.

use std::fmt;

/// A method a REST API resource can define.
///
/// The first seven are request methods; [`Method::Any`] exists only on the configuration side
/// (`x-amazon-apigateway-any-method`). [`Method::from_bytes`] never returns it, so a request that
/// literally says `ANY` is an unknown method and matches nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Method {
    /// `GET`. Does not serve `HEAD` (AWS: `HEAD` on a `GET`-only resource has no match).
    Get = 0,
    /// `POST`.
    Post = 1,
    /// `PUT`.
    Put = 2,
    /// `PATCH`.
    Patch = 3,
    /// `DELETE`.
    Delete = 4,
    /// `HEAD`.
    Head = 5,
    /// `OPTIONS`.
    Options = 6,
    /// `ANY`: every method the same resource does not define itself.
    Any = 7,
}

/// How many [`Method`] variants there are, `ANY` included; the size of per-resource tables.
pub const METHOD_COUNT: usize = 8;

impl Method {
    /// Every method, in table order (`ANY` last).
    pub const ALL: [Method; METHOD_COUNT] = [
        Method::Get,
        Method::Post,
        Method::Put,
        Method::Patch,
        Method::Delete,
        Method::Head,
        Method::Options,
        Method::Any,
    ];

    /// Parses a request method token exactly as it came off the wire.
    ///
    /// Case-sensitive, as RFC 9110 §9.1 makes method names ("The method token is
    /// case-sensitive"). `ANY` is not a request method and gives `None`.
    #[inline]
    pub fn from_bytes(token: &[u8]) -> Option<Method> {
        match token {
            b"GET" => Some(Method::Get),
            b"POST" => Some(Method::Post),
            b"PUT" => Some(Method::Put),
            b"PATCH" => Some(Method::Patch),
            b"DELETE" => Some(Method::Delete),
            b"HEAD" => Some(Method::Head),
            b"OPTIONS" => Some(Method::Options),
            _ => None,
        }
    }

    /// Parses a method as configuration writes it: an OpenAPI operation key (`get`, `post`, ...),
    /// `x-amazon-apigateway-any-method`, or an API Gateway `httpMethod` (`GET`, `ANY`, ...).
    ///
    /// ASCII case-insensitive because OpenAPI keys are lower case and the AWS API upper case.
    pub fn from_config(name: &str) -> Option<Method> {
        if name.eq_ignore_ascii_case("x-amazon-apigateway-any-method") {
            return Some(Method::Any);
        }
        Method::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(name))
    }

    /// The method's name in upper case, as AWS writes it (`ANY` for [`Method::Any`]).
    pub const fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Head => "HEAD",
            Method::Options => "OPTIONS",
            Method::Any => "ANY",
        }
    }

    /// Index into a per-resource method table.
    #[inline]
    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of [`Method`]s, one bit each: what a resource defines.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct MethodSet(u8);

impl MethodSet {
    /// The empty set.
    pub const EMPTY: MethodSet = MethodSet(0);

    /// Adds `method`.
    #[inline]
    pub fn insert(&mut self, method: Method) {
        self.0 |= 1 << method.index();
    }

    /// Whether `method` itself is in the set (`ANY` is not expanded here).
    #[inline]
    pub const fn contains(self, method: Method) -> bool {
        self.0 & (1 << method as u8) != 0
    }

    /// Whether a request with `method` would be served: the method itself or `ANY` is defined.
    #[inline]
    pub const fn serves(self, method: Method) -> bool {
        self.contains(method) || self.contains(Method::Any)
    }

    /// Whether the set is empty.
    #[inline]
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// How many methods are in the set.
    #[inline]
    pub const fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The methods in the set, in [`Method::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Method> {
        Method::ALL.into_iter().filter(move |m| self.contains(*m))
    }
}

impl fmt::Debug for MethodSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn from_bytes_is_case_sensitive_and_rejects_any() {
        assert_eq!(Method::from_bytes(b"GET"), Some(Method::Get));
        assert_eq!(Method::from_bytes(b"OPTIONS"), Some(Method::Options));
        assert_eq!(Method::from_bytes(b"get"), None);
        assert_eq!(Method::from_bytes(b"ANY"), None);
        assert_eq!(Method::from_bytes(b""), None);
        assert_eq!(Method::from_bytes(b"GETX"), None);
        for m in &Method::ALL[..7] {
            assert_eq!(Method::from_bytes(m.as_str().as_bytes()), Some(*m));
        }
    }

    #[test]
    fn from_config_accepts_openapi_and_aws_spellings() {
        assert_eq!(Method::from_config("get"), Some(Method::Get));
        assert_eq!(Method::from_config("DELETE"), Some(Method::Delete));
        assert_eq!(Method::from_config("ANY"), Some(Method::Any));
        assert_eq!(
            Method::from_config("x-amazon-apigateway-any-method"),
            Some(Method::Any)
        );
        assert_eq!(Method::from_config("trace"), None);
        assert_eq!(Method::from_config("parameters"), None);
    }

    #[test]
    fn method_set_serves_through_any() {
        let mut set = MethodSet::EMPTY;
        assert!(set.is_empty());
        set.insert(Method::Post);
        assert!(set.serves(Method::Post));
        assert!(!set.serves(Method::Get));
        set.insert(Method::Any);
        assert!(set.serves(Method::Get));
        assert!(!set.contains(Method::Get));
        assert_eq!(set.len(), 2);
        assert_eq!(set.iter().collect::<Vec<_>>(), [Method::Post, Method::Any]);
        assert_eq!(format!("{set:?}"), "{Post, Any}");
    }
}
