//! Building a cache key the way AWS does: the stage partition, the integration's
//! `cacheNamespace`, the HTTP method, and the values of the declared `cacheKeyParameters`, and
//! nothing else. Undeclared parameters, even path parameters, do not vary the key
//! (DG:api-gateway-caching "Use method or integration parameters as cache keys").
//!
//! The resource takes part through the namespace, which defaults to the resource id: AWS
//! documents that integrations sharing a `cacheNamespace` share cached data across resources
//! (API:Integration `cacheNamespace`). So the config compiler passes the namespace, or the
//! resource id when none is set.
//!
//! The key is written into a reusable buffer (no allocation once warm) as length-prefixed
//! fields, so two different inputs never encode to the same bytes; a 64-bit hash finds the
//! entry and a byte compare on hit rules out hash collisions.

use super::config::CacheConfigError;

/// The AWS error text for a malformed `cacheKeyParameters` entry (observed, §8).
pub const INVALID_KEY_PARAMETER: &str = "Invalid cache key parameter specified";

/// Where a declared key parameter is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyParamSource {
    /// `method.request.path.<name>`.
    Path,
    /// `method.request.querystring.<name>`.
    QueryString,
    /// `method.request.header.<name>`; the name is stored lower-cased (RFC 9110 §5.1:
    /// field names are case-insensitive).
    Header,
}

/// One entry of an integration's `cacheKeyParameters`, parsed at config load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyParam {
    /// Where the value comes from.
    pub source: KeyParamSource,
    /// The parameter name (lower-cased for headers).
    pub name: Box<str>,
}

impl KeyParam {
    /// Parses `method.request.{path|querystring|header}.<name>`.
    pub fn parse(expression: &str) -> Result<Self, CacheConfigError> {
        let invalid = || CacheConfigError {
            location: format!("cacheKeyParameters \"{expression}\""),
            message: format!(
                "{INVALID_KEY_PARAMETER}: use method.request.path.<name>, \
                 method.request.querystring.<name> or method.request.header.<name>"
            ),
        };
        let rest = expression
            .strip_prefix("method.request.")
            .ok_or_else(invalid)?;
        let (source, name) = rest.split_once('.').ok_or_else(invalid)?;
        if name.is_empty() {
            return Err(invalid());
        }
        let (source, name) = match source {
            "path" => (KeyParamSource::Path, name.into()),
            "querystring" => (KeyParamSource::QueryString, name.into()),
            "header" => (KeyParamSource::Header, name.to_ascii_lowercase().into()),
            _ => return Err(invalid()),
        };
        Ok(Self { source, name })
    }
}

/// A key ready for lookup: its encoded bytes and their hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheKey<'a> {
    /// The encoded key, compared byte for byte on hit.
    pub bytes: &'a [u8],
    /// The hash of `bytes` under the core's seeds.
    pub hash: u64,
}

/// A key kept across the integration call (the per-core builder is reused meanwhile).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedCacheKey {
    bytes: Box<[u8]>,
    hash: u64,
}

impl OwnedCacheKey {
    /// Borrows it back for [`super::StageCache::insert`].
    #[must_use]
    pub fn as_key(&self) -> CacheKey<'_> {
        CacheKey {
            bytes: &self.bytes,
            hash: self.hash,
        }
    }
}

impl CacheKey<'_> {
    /// Copies the key out of the builder's buffer (the miss path only).
    #[must_use]
    pub fn to_owned_key(&self) -> OwnedCacheKey {
        OwnedCacheKey {
            bytes: self.bytes.into(),
            hash: self.hash,
        }
    }
}

/// Builds keys into one reusable buffer. Get one from [`super::CoreCache::key_builder`] so
/// its hash seeds match the core's cache.
#[derive(Debug, Clone)]
pub struct KeyBuilder {
    buf: Vec<u8>,
    hasher: ahash::RandomState,
}

/// Marks a declared parameter that the request did not carry, so that "absent" and
/// "present but empty" are different keys.
const ABSENT: u8 = 0;
/// Marks a declared parameter with a value.
const PRESENT: u8 = 1;
/// Starting capacity; typical keys fit without growing.
const INITIAL_KEY_CAPACITY: usize = 256;

impl KeyBuilder {
    /// A builder hashing with the given seeds.
    #[must_use]
    pub fn new(hasher: ahash::RandomState) -> Self {
        Self {
            buf: Vec::with_capacity(INITIAL_KEY_CAPACITY),
            hasher,
        }
    }

    /// Starts a key: the stage partition (production, or a canary on another deployment,
    /// DG:canary-release), the cache namespace and the HTTP method.
    pub fn start(&mut self, partition: u32, namespace: &[u8], http_method: &[u8]) -> &mut Self {
        self.buf.clear();
        self.buf.extend_from_slice(&partition.to_le_bytes());
        self.field(namespace);
        self.field(http_method);
        self
    }

    /// Appends the value of the next declared key parameter, in declaration order.
    pub fn param(&mut self, value: Option<&[u8]>) -> &mut Self {
        match value {
            Some(v) => {
                self.buf.push(PRESENT);
                self.field(v);
            }
            None => self.buf.push(ABSENT),
        }
        self
    }

    /// The finished key, borrowing the buffer.
    #[must_use]
    pub fn key(&self) -> CacheKey<'_> {
        CacheKey {
            bytes: &self.buf,
            hash: self.hasher.hash_one(self.buf.as_slice()),
        }
    }

    /// A length-prefixed field; LEB128 so short fields cost one byte of prefix.
    fn field(&mut self, bytes: &[u8]) {
        let mut len = bytes.len();
        // At most 10 rounds for a 64-bit length.
        loop {
            let low = (len & 0x7f) as u8;
            len >>= 7;
            if len == 0 {
                self.buf.push(low);
                break;
            }
            self.buf.push(low | 0x80);
        }
        self.buf.extend_from_slice(bytes);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn builder() -> KeyBuilder {
        KeyBuilder::new(ahash::RandomState::with_seeds(1, 2, 3, 4))
    }

    fn owned(b: &mut KeyBuilder, ns: &str, method: &str, params: &[Option<&str>]) -> OwnedCacheKey {
        b.start(0, ns.as_bytes(), method.as_bytes());
        for p in params {
            b.param(p.map(str::as_bytes));
        }
        b.key().to_owned_key()
    }

    #[test]
    fn parses_declared_parameters() {
        let q = KeyParam::parse("method.request.querystring.type").unwrap();
        assert_eq!((q.source, &*q.name), (KeyParamSource::QueryString, "type"));
        let h = KeyParam::parse("method.request.header.Accept-Language").unwrap();
        assert_eq!(
            (h.source, &*h.name),
            (KeyParamSource::Header, "accept-language")
        );
        let p = KeyParam::parse("method.request.path.id").unwrap();
        assert_eq!((p.source, &*p.name), (KeyParamSource::Path, "id"));
        for bad in [
            "method.request.body.x",
            "method.request.path.",
            "integration.request.path.id",
            "id",
        ] {
            let err = KeyParam::parse(bad).unwrap_err();
            assert!(err.message.starts_with(INVALID_KEY_PARAMETER), "{bad}");
        }
    }

    #[test]
    fn declared_values_vary_the_key() {
        let mut b = builder();
        let admin = owned(&mut b, "res1", "GET", &[Some("admin")]);
        let regular = owned(&mut b, "res1", "GET", &[Some("regular")]);
        assert_ne!(admin, regular);
        assert_ne!(admin.as_key().hash, regular.as_key().hash);
        // Same inputs, same key and hash.
        assert_eq!(admin, owned(&mut b, "res1", "GET", &[Some("admin")]));
    }

    #[test]
    fn absent_empty_and_shifted_values_differ() {
        let mut b = builder();
        let absent = owned(&mut b, "r", "GET", &[None]);
        let empty = owned(&mut b, "r", "GET", &[Some("")]);
        assert_ne!(absent, empty);
        // Length prefixes keep field boundaries: ("ab","c") != ("a","bc").
        assert_ne!(
            owned(&mut b, "r", "GET", &[Some("ab"), Some("c")]),
            owned(&mut b, "r", "GET", &[Some("a"), Some("bc")])
        );
        assert_ne!(
            owned(&mut b, "rG", "ET", &[]),
            owned(&mut b, "r", "GET", &[])
        );
    }

    #[test]
    fn partition_namespace_and_method_vary_the_key() {
        let mut b = builder();
        let base = owned(&mut b, "r", "GET", &[]);
        assert_ne!(base, owned(&mut b, "r", "POST", &[]));
        assert_ne!(base, owned(&mut b, "other", "GET", &[]));
        b.start(1, b"r", b"GET");
        assert_ne!(base, b.key().to_owned_key());
    }

    #[test]
    fn long_fields_use_multi_byte_prefix() {
        let mut b = builder();
        let long = "x".repeat(300);
        b.start(0, long.as_bytes(), b"GET");
        // 4 partition bytes, 2-byte prefix (300 = 0xAC 0x02), 300 bytes, 1 + 3 for GET.
        assert_eq!(b.key().bytes.len(), 4 + 2 + 300 + 1 + 3);
        assert_eq!(&b.key().bytes[4..6], &[0xAC, 0x02]);
    }
}
