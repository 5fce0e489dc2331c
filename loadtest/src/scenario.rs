//! Scenarios: what request to send, to where, and how hard.
//!
//! A scenario is a small JSON file under `loadtest/scenarios/` (so a later feature adds a
//! benchmark by adding a file, not code); every field can be overridden on the command line.
//! The request is serialized once, at start-up, into the exact bytes written for every request
//! (the load generator must cost as little as possible per request, and sending identical bytes
//! keeps runs comparable).

use anyhow::{Context, bail};
use serde::Deserialize;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

/// Largest scenario file read (they are a few hundred bytes; this only stops mistakes).
const MAX_SCENARIO_BYTES: u64 = 1024 * 1024;
/// Longest duration string accepted, and the longest run: a day.
const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

/// A scenario file, as written. All fields are optional so a file can set only what it needs.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Name shown in reports (defaults to the file stem).
    pub name: Option<String>,
    /// `http://host:port/path?query`; the host and port may be replaced with `--target`.
    pub url: Option<String>,
    /// Request method (default GET).
    pub method: Option<String>,
    /// Extra header lines, `"Name: value"`, sent in this order.
    #[serde(default)]
    pub headers: Vec<String>,
    /// Request body (sent with a Content-Length).
    pub body: Option<String>,
    /// Concurrent connections.
    pub connections: Option<usize>,
    /// Runtime threads.
    pub threads: Option<usize>,
    /// Open-loop request rate per second (absent = closed loop).
    pub rate: Option<u64>,
    /// Measured duration, e.g. `"10s"`.
    pub duration: Option<String>,
    /// Warm-up before measuring, e.g. `"1s"`.
    pub warmup: Option<String>,
}

impl ScenarioFile {
    /// Read and parse a scenario file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let meta =
            std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
        if meta.len() > MAX_SCENARIO_BYTES {
            bail!("{}: larger than {MAX_SCENARIO_BYTES} bytes", path.display());
        }
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let mut file: Self = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a valid scenario", path.display()))?;
        if file.name.is_none() {
            file.name = path.file_stem().map(|s| s.to_string_lossy().into_owned());
        }
        Ok(file)
    }
}

/// Where to connect and what to put in the request line and Host header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `host[:port]` as written, for the Host header.
    pub authority: String,
    /// Resolved socket address.
    pub addr: SocketAddr,
    /// Origin-form request target (`/path?query`).
    pub path: String,
}

/// Parse `http://host[:port][/path]`. Only plain HTTP: this tool measures the gateway's
/// HTTP/1.1 path, TLS would measure the TLS library.
pub fn parse_url(url: &str) -> anyhow::Result<Target> {
    let rest = url
        .strip_prefix("http://")
        .with_context(|| format!("url {url:?}: only http:// URLs are supported"))?;
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_string()),
        Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
        None => (rest, "/".to_string()),
    };
    if authority.is_empty() || authority.contains('@') {
        bail!("url {url:?}: need a host (and no user info)");
    }
    if path.bytes().any(|b| !(b'!'..=b'~').contains(&b)) {
        bail!("url {url:?}: the path must be percent-encoded (no spaces or control bytes)");
    }
    let addr = resolve(authority)?;
    Ok(Target {
        authority: authority.to_string(),
        addr,
        path,
    })
}

/// Replace the host and port of `target` with `host:port`, keeping the path.
pub fn retarget(target: &Target, authority: &str) -> anyhow::Result<Target> {
    Ok(Target {
        authority: authority.to_string(),
        addr: resolve(authority)?,
        path: target.path.clone(),
    })
}

fn resolve(authority: &str) -> anyhow::Result<SocketAddr> {
    let with_port = if authority.starts_with('[') {
        if authority.contains("]:") {
            authority.to_string()
        } else {
            format!("{authority}:80")
        }
    } else if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    with_port
        .to_socket_addrs()
        .with_context(|| format!("resolving {authority:?}"))?
        .next()
        .with_context(|| format!("{authority:?} resolved to no address"))
}

/// `10s`, `500ms`, `2m`, `1h`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> anyhow::Result<Duration> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: f64 = num
        .parse()
        .with_context(|| format!("duration {s:?}: want e.g. 10s, 500ms, 2m"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => bail!("duration {s:?}: unit must be ms, s, m or h"),
    };
    if !secs.is_finite() || secs < 0.0 || secs > MAX_DURATION.as_secs_f64() {
        bail!("duration {s:?}: out of range (0 to 24h)");
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Serialize the request once. Host comes first, then the configured headers; a body gets a
/// Content-Length (RFC 9112 §6.2) unless a header already frames it.
pub fn build_request(
    method: &str,
    target: &Target,
    headers: &[String],
    body: &[u8],
) -> anyhow::Result<Vec<u8>> {
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase() || b == b'-') {
        bail!("method {method:?}: want an upper-case token such as GET");
    }
    let mut out = Vec::with_capacity(128 + body.len());
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let mut has_host = false;
    let mut has_framing = false;
    for h in headers {
        let (name, value) = h
            .split_once(':')
            .with_context(|| format!("header {h:?}: want \"Name: value\""))?;
        let value = value.trim();
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
            || value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0)
        {
            bail!("header {h:?}: invalid name or value");
        }
        has_host |= name.eq_ignore_ascii_case("host");
        has_framing |= name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("transfer-encoding");
    }
    if !has_host {
        out.extend_from_slice(b"Host: ");
        out.extend_from_slice(target.authority.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    for h in headers {
        if let Some((name, value)) = h.split_once(':') {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.trim().as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
    if !has_framing && (!body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH")) {
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn url_forms() {
        let t = parse_url("http://127.0.0.1:18081/pets/1?x=2").unwrap();
        assert_eq!(t.authority, "127.0.0.1:18081");
        assert_eq!(t.addr, "127.0.0.1:18081".parse().unwrap());
        assert_eq!(t.path, "/pets/1?x=2");
        assert_eq!(parse_url("http://127.0.0.1:9").unwrap().path, "/");
        assert_eq!(parse_url("http://127.0.0.1:9?a=b").unwrap().path, "/?a=b");
        assert_eq!(parse_url("http://127.0.0.1").unwrap().addr.port(), 80);
        assert!(parse_url("https://127.0.0.1/").is_err());
        assert!(parse_url("http:///x").is_err());
        assert!(parse_url("http://127.0.0.1/a b").is_err());
        let r = retarget(&t, "127.0.0.1:7").unwrap();
        assert_eq!((r.addr.port(), r.path.as_str()), (7, "/pets/1?x=2"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("10x").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("99h").is_err());
    }

    #[test]
    fn request_bytes() {
        let t = parse_url("http://127.0.0.1:18081/a?b=1").unwrap();
        let r = build_request("GET", &t, &["x-api-key: abc ".to_string()], b"").unwrap();
        assert_eq!(
            String::from_utf8(r).unwrap(),
            "GET /a?b=1 HTTP/1.1\r\nHost: 127.0.0.1:18081\r\nx-api-key: abc\r\n\r\n"
        );
        let r = build_request("POST", &t, &[], b"{}").unwrap();
        assert_eq!(
            String::from_utf8(r).unwrap(),
            "POST /a?b=1 HTTP/1.1\r\nHost: 127.0.0.1:18081\r\nContent-Length: 2\r\n\r\n{}"
        );
        let r = build_request("GET", &t, &["Host: example.com".to_string()], b"").unwrap();
        assert_eq!(
            String::from_utf8(r).unwrap(),
            "GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\n\r\n"
        );
        assert!(build_request("get", &t, &[], b"").is_err());
        assert!(build_request("GET", &t, &["Bad Name: x".to_string()], b"").is_err());
        assert!(build_request("GET", &t, &["novalue".to_string()], b"").is_err());
    }

    #[test]
    fn shipped_scenarios_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                let f = ScenarioFile::load(&path).unwrap();
                let t = parse_url(f.url.as_deref().unwrap()).unwrap();
                assert!(
                    t.addr.ip().is_loopback(),
                    "{}: loopback only",
                    path.display()
                );
                n += 1;
            }
        }
        assert!(n >= 1);
    }
}
