//! Client cache invalidation: what to do with a request carrying `Cache-Control: max-age=0`.
//!
//! AWS (DG:api-gateway-caching, "Invalidate an API Gateway cache entry"): such a request
//! skips the cache, gets its response from the integration and replaces the entry, provided
//! the caller is authorized (IAM `execute-api:InvalidateCache`). With
//! `requireAuthorizationForCacheControl` off, anyone may. An unauthorized caller is handled
//! by `unauthorizedCacheControlHeaderStrategy`:
//! * `FAIL_WITH_403`: "Fail the request with 403 status code" ("returns a 403 Unauthorized
//!   response");
//! * `SUCCEED_WITH_RESPONSE_HEADER`: "Ignore cache control header; Add a warning in response
//!   header", so the request is served as usual, from the cache if it hits;
//! * `SUCCEED_WITHOUT_RESPONSE_HEADER`: "Ignore cache control header", silently.
//!
//! The decision is a pure function so every combination is tested in one table.

use super::config::UnauthorizedCacheControlHeaderStrategy;

/// Header line added for `SUCCEED_WITH_RESPONSE_HEADER`. AWS documents "a warning header"
/// without naming it (§21 open question 9, **unconfirmed**); we use the RFC 9111 §5.5
/// `Warning` field with the "miscellaneous warning" code 199.
pub const UNAUTHORIZED_CACHE_CONTROL_WARNING: &[u8] =
    b"Warning: 199 - \"Cache-Control header ignored: not authorized to invalidate the cache\"\r\n";

/// Directives examined in one `Cache-Control` value; a longer list is not a real client.
const MAX_DIRECTIVES: usize = 64;

/// What the cache step does with this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheDecision {
    /// No invalidation asked (or it is ignored silently): serve a hit, store a miss.
    UseCache,
    /// Authorized invalidation: skip the lookup, call the integration, replace the entry.
    Refresh,
    /// Unauthorized invalidation under `FAIL_WITH_403`: answer 403, call nothing.
    Reject403,
    /// Unauthorized invalidation under `SUCCEED_WITH_RESPONSE_HEADER`: as
    /// [`CacheDecision::UseCache`], and add [`UNAUTHORIZED_CACHE_CONTROL_WARNING`].
    UseCacheWithWarning,
}

/// Decides how to treat the request's `Cache-Control` header (all its field lines joined
/// with commas, RFC 9110 §5.3), given the method's settings and whether the caller holds
/// the invalidate permission.
#[must_use]
pub fn decide(
    cache_control: Option<&[u8]>,
    require_authorization: bool,
    caller_may_invalidate: bool,
    strategy: UnauthorizedCacheControlHeaderStrategy,
) -> CacheDecision {
    if !cache_control.is_some_and(requests_invalidation) {
        return CacheDecision::UseCache;
    }
    if !require_authorization || caller_may_invalidate {
        return CacheDecision::Refresh;
    }
    match strategy {
        UnauthorizedCacheControlHeaderStrategy::FailWith403 => CacheDecision::Reject403,
        UnauthorizedCacheControlHeaderStrategy::SucceedWithResponseHeader => {
            CacheDecision::UseCacheWithWarning
        }
        UnauthorizedCacheControlHeaderStrategy::SucceedWithoutResponseHeader => {
            CacheDecision::UseCache
        }
    }
}

/// Whether a `Cache-Control` value carries `max-age=0`. Per RFC 9111 §5.2 directive names
/// are case-insensitive and the argument may also be a quoted string; `max-age=00` is still
/// zero seconds (delta-seconds, RFC 9111 §1.2.2). Quoted arguments of other directives may
/// contain commas, so the split respects quotes.
#[must_use]
pub fn requests_invalidation(value: &[u8]) -> bool {
    let mut rest = value;
    for _ in 0..MAX_DIRECTIVES {
        let (directive, tail) = split_directive(rest);
        if is_max_age_zero(trim(directive)) {
            return true;
        }
        match tail {
            Some(t) => rest = t,
            None => return false,
        }
    }
    false
}

/// Splits at the first comma outside a quoted string.
fn split_directive(value: &[u8]) -> (&[u8], Option<&[u8]>) {
    let mut quoted = false;
    let mut escaped = false;
    for (i, &b) in value.iter().enumerate() {
        if escaped {
            escaped = false;
        } else if quoted && b == b'\\' {
            escaped = true;
        } else if b == b'"' {
            quoted = !quoted;
        } else if b == b',' && !quoted {
            return (&value[..i], value.get(i + 1..));
        }
    }
    (value, None)
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |e| e + 1);
    s.get(start..end).unwrap_or(&[])
}

fn is_max_age_zero(directive: &[u8]) -> bool {
    let Some(eq) = directive.iter().position(|&b| b == b'=') else {
        return false;
    };
    let (name, arg) = (&directive[..eq], &directive[eq + 1..]);
    if !name.eq_ignore_ascii_case(b"max-age") {
        return false;
    }
    let arg = arg
        .strip_prefix(b"\"")
        .and_then(|a| a.strip_suffix(b"\""))
        .unwrap_or(arg);
    !arg.is_empty() && arg.iter().all(|&b| b == b'0')
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use UnauthorizedCacheControlHeaderStrategy::*;

    #[test]
    fn recognises_max_age_zero() {
        for yes in [
            &b"max-age=0"[..],
            b"MAX-AGE=0",
            b"  max-age=0 ",
            b"no-store, max-age=0",
            b"max-age=\"0\"",
            b"max-age=000",
            b"private=\"a, max-age=1\", max-age=0",
        ] {
            assert!(
                requests_invalidation(yes),
                "{}",
                String::from_utf8_lossy(yes)
            );
        }
        for no in [
            &b""[..],
            b"max-age=1",
            b"max-age=10",
            b"max-age=",
            b"max-age",
            b"no-cache",
            b"s-maxage=0",
            b"x-max-age=0",
            b"private=\"max-age=0\"",
            b"max-age=0x",
        ] {
            assert!(
                !requests_invalidation(no),
                "{}",
                String::from_utf8_lossy(no)
            );
        }
    }

    #[test]
    fn directive_scan_is_bounded() {
        let mut long = b"a,".repeat(MAX_DIRECTIVES);
        long.extend_from_slice(b"max-age=0");
        assert!(!requests_invalidation(&long));
        let unterminated = b"\"max-age=0, max-age=0";
        assert!(!requests_invalidation(unterminated));
    }

    /// Every combination: (header, require authorization, caller may invalidate, strategy).
    #[test]
    fn decision_table() {
        let inv = Some(&b"max-age=0"[..]);
        let cases = [
            (None, true, false, FailWith403, CacheDecision::UseCache),
            (
                Some(&b"max-age=60"[..]),
                true,
                false,
                FailWith403,
                CacheDecision::UseCache,
            ),
            (inv, false, false, FailWith403, CacheDecision::Refresh),
            (inv, true, true, FailWith403, CacheDecision::Refresh),
            (
                inv,
                true,
                true,
                SucceedWithResponseHeader,
                CacheDecision::Refresh,
            ),
            (inv, true, false, FailWith403, CacheDecision::Reject403),
            (
                inv,
                true,
                false,
                SucceedWithResponseHeader,
                CacheDecision::UseCacheWithWarning,
            ),
            (
                inv,
                true,
                false,
                SucceedWithoutResponseHeader,
                CacheDecision::UseCache,
            ),
            (
                inv,
                false,
                false,
                SucceedWithResponseHeader,
                CacheDecision::Refresh,
            ),
        ];
        for (header, require, may, strategy, expected) in cases {
            assert_eq!(
                decide(header, require, may, strategy),
                expected,
                "{header:?} {require} {may} {strategy:?}"
            );
        }
    }

    #[test]
    fn warning_is_one_header_line() {
        assert!(UNAUTHORIZED_CACHE_CONTROL_WARNING.starts_with(b"Warning: 199 "));
        assert!(UNAUTHORIZED_CACHE_CONTROL_WARNING.ends_with(b"\"\r\n"));
        assert_eq!(
            UNAUTHORIZED_CACHE_CONTROL_WARNING
                .iter()
                .filter(|&&b| b == b'\n')
                .count(),
            1
        );
    }
}
