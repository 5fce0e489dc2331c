//! Lambda integrations (`AWS_PROXY` and Lambda `AWS`): aws-behavior §4.
//!
//! * [`invoke`]: the Invoke API request and the reading of its answer.
//! * [`event`]: the REST payload 1.0 proxy event, serialized straight into a buffer.
//! * [`result`]: the function's proxy result → the client response, by AWS's rules.
//! * [`host`] + [`runtime_api`]: the local function host: function processes behind the
//!   Lambda Runtime API, reached by the gateway through the Invoke API on loopback.
//! * [`credentials`]: AWS credentials for the signed regional endpoint, found as the SDKs do.
//! * [`sigv4`]: Signature Version 4 for Invoke API calls, checked against botocore.
//!
//! The gateway always speaks the Invoke API over HTTP through its per-core pool, so the
//! request path never blocks and needs no cross-thread wake-ups, whether the function runs
//! in AWS or in the local host.

pub mod credentials;
pub mod event;
pub mod host;
pub mod invoke;
pub mod result;
pub mod runtime_api;
pub mod sigv4;

/// The function an integration URI names, compiled at load:
/// `arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{functionArn}/invocations`
/// (DG: set-up-lambda-proxy-integrations), where `{functionArn}` may hold
/// `${stageVariables.x}` (DG: stage-variables, "Lambda function").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRef {
    /// The region in the integration URI.
    pub region: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    StageVariable(String),
}

/// A function name and qualifier resolved for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedFunction {
    /// The bare function name (`hello`), as the local host and config know it.
    pub name: String,
    /// The full name or ARN as written, sent to AWS.
    pub full: String,
    /// Version or alias (`:live` in an ARN).
    pub qualifier: Option<String>,
    /// Region from the function ARN, if it is one.
    pub region: Option<String>,
}

impl FunctionRef {
    /// Parses an integration URI; `Err` says what is wrong with it.
    pub fn parse(uri: &str) -> Result<FunctionRef, String> {
        let rest = uri
            .strip_prefix("arn:aws:apigateway:")
            .ok_or("a Lambda integration URI starts with `arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/`")?;
        let (region, rest) = rest.split_once(':').ok_or("the URI has no region")?;
        let arn = rest
            .strip_prefix("lambda:path/2015-03-31/functions/")
            .and_then(|r| r.strip_suffix("/invocations"))
            .ok_or("expected `lambda:path/2015-03-31/functions/{functionArn}/invocations` after the region")?;
        if arn.is_empty() {
            return Err("the URI names no function".into());
        }
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut s = arn;
        while !s.is_empty() {
            if let Some(after) = s.strip_prefix("${stageVariables.") {
                let end = after.find('}').ok_or("unterminated ${stageVariables...}")?;
                if !lit.is_empty() {
                    parts.push(Part::Literal(std::mem::take(&mut lit)));
                }
                parts.push(Part::StageVariable(after[..end].to_string()));
                s = &after[end + 1..];
            } else {
                let mut chars = s.chars();
                if let Some(c) = chars.next() {
                    lit.push(c);
                }
                s = chars.as_str();
            }
        }
        if !lit.is_empty() {
            parts.push(Part::Literal(lit));
        }
        Ok(FunctionRef {
            region: region.to_string(),
            parts,
        })
    }

    /// Fills in stage variables and splits the ARN. `None` when nothing usable remains
    /// (an undefined stage variable leaves an empty name).
    pub fn resolve<'a>(
        &self,
        stage_variable: impl Fn(&str) -> Option<&'a str>,
    ) -> Option<ResolvedFunction> {
        let mut full = String::new();
        for p in &self.parts {
            match p {
                Part::Literal(s) => full.push_str(s),
                Part::StageVariable(n) => full.push_str(stage_variable(n).unwrap_or("")),
            }
        }
        // arn:aws:lambda:{region}:{account}:function:{name}[:{qualifier}]
        // (Lambda API reference: Invoke, FunctionName), or name[:qualifier].
        let (name, qualifier, region) = if let Some(rest) = full.strip_prefix("arn:aws:lambda:") {
            let f: Vec<&str> = rest.splitn(5, ':').collect();
            if f.len() < 4 || f[2] != "function" {
                return None;
            }
            (f[3], f.get(4).copied(), Some(f[0].to_string()))
        } else {
            match full.split_once(':') {
                Some((n, q)) => (n, Some(q), None),
                None => (full.as_str(), None, None),
            }
        };
        if name.is_empty() || qualifier.is_some_and(str::is_empty) {
            return None;
        }
        let name = name.to_string();
        let qualifier = qualifier.map(str::to_string);
        // Send the unqualified name/ARN with the qualifier as `?Qualifier=`.
        let full = match &qualifier {
            Some(q) => full[..full.len() - q.len() - 1].to_string(),
            None => full,
        };
        Some(ResolvedFunction {
            name,
            full,
            qualifier,
            region,
        })
    }
}

/// Whether a media type selects binary handling under one `binaryMediaTypes` entry.
///
/// AWS-validated (conformance proxy-event 026–032): `*/*` in the list matches everything;
/// an entry with `*` on the left (`*/test`) matches nothing; a wildcard in the request's
/// media type (`image/*`, `*/*`) matches no concrete entry; otherwise the types must be
/// equal (case-insensitive, parameters ignored). `type/*` entries match that type
/// (DG: api-gateway-payload-encodings).
pub fn binary_media_match(entry: &str, media: &str) -> bool {
    let entry = entry.trim();
    if entry == "*/*" {
        return true;
    }
    let media = media.split(';').next().unwrap_or("").trim();
    let (Some((et, es)), Some((mt, ms))) = (entry.split_once('/'), media.split_once('/')) else {
        return false;
    };
    if et == "*" || mt.contains('*') || ms.contains('*') {
        return false;
    }
    et.eq_ignore_ascii_case(mt) && (es == "*" || es.eq_ignore_ascii_case(ms))
}

/// Whether `media` (a header value) matches any of the API's `binaryMediaTypes`.
pub fn is_binary(binary_media_types: &[String], media: Option<&[u8]>) -> bool {
    let Some(media) = media.and_then(|m| std::str::from_utf8(m).ok()) else {
        return false;
    };
    // Only the first media type of a list counts (aws-behavior §4.2).
    let first = media.split(',').next().unwrap_or("");
    binary_media_types
        .iter()
        .any(|e| binary_media_match(e, first))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn function_refs() {
        let f = FunctionRef::parse(
            "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:${stageVariables.fn}/invocations",
        )
        .unwrap();
        assert_eq!(f.region, "us-east-1");
        let r = f.resolve(|n| (n == "fn").then_some("hello:live")).unwrap();
        assert_eq!(r.name, "hello");
        assert_eq!(r.qualifier.as_deref(), Some("live"));
        assert_eq!(
            r.full,
            "arn:aws:lambda:us-east-1:123456789012:function:hello"
        );
        assert_eq!(r.region.as_deref(), Some("us-east-1"));
        assert!(f.resolve(|_| None).is_none());
        let g = FunctionRef::parse(
            "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/plain/invocations",
        )
        .unwrap();
        let r = g.resolve(|_| None).unwrap();
        assert_eq!(
            (r.name.as_str(), r.qualifier, r.region),
            ("plain", None, None)
        );
        assert!(FunctionRef::parse("http://x").is_err());
        assert!(
            FunctionRef::parse(
                "arn:aws:apigateway:r:lambda:path/2015-03-31/functions//invocations"
            )
            .is_err()
        );
        assert!(FunctionRef::parse("arn:aws:apigateway:r:s3:path/x").is_err());
    }

    #[test]
    fn binary_rules_from_conformance() {
        let types = vec!["image/png".to_string(), "*/test".to_string()];
        assert!(is_binary(&types, Some(b"image/png")));
        assert!(!is_binary(&types, Some(b"image/jpg")));
        assert!(!is_binary(&types, Some(b"image/*")));
        assert!(!is_binary(&types, Some(b"*/test")));
        assert!(!is_binary(&types, Some(b"random/test")));
        assert!(!is_binary(&types, Some(b"*/*")));
        assert!(!is_binary(&[], Some(b"image/png")));
        assert!(is_binary(&["*/*".to_string()], Some(b"text/plain")));
        assert!(is_binary(&["image/*".to_string()], Some(b"image/gif; q=1")));
        assert!(!is_binary(&types, None));
    }
}
