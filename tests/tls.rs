//! HTTPS backends through the real gateway: a test CA and certificates made at test time
//! (rcgen), Python backends serving TLS with them (`backend.py --tls`), and the AWS answers
//! for a trusted backend (200), an untrusted or misnamed certificate (500, "General SSLEngine
//! problem" in AWS's log), `tlsConfig.insecureSkipVerification` (200) and a backend that does
//! not speak TLS at all (5xx, never a hang). aws-behavior §6.1, §6.2.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};

use crate::support::{Backend, Gateway, get, request, temp_dir};

/// The PEM files every test uses, made once per test process.
struct Certs {
    /// The test CA (what `server.backend_ca_file` names).
    ca: PathBuf,
    /// localhost + 127.0.0.1, signed by the CA.
    good: (PathBuf, PathBuf),
    /// `other.test` only, signed by the CA: the wrong name for localhost.
    other_name: (PathBuf, PathBuf),
    /// localhost only, self-signed: no trusted CA vouches for it.
    untrusted: (PathBuf, PathBuf),
}

fn leaf_params(names: &[&str], ip: bool) -> CertificateParams {
    let mut p =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    if ip {
        p.subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    }
    p.distinguished_name
        .push(DnType::CommonName, names.first().copied().unwrap_or("leaf"));
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p
}

fn write_pair(dir: &Path, tag: &str, cert_pem: String, key: &KeyPair) -> (PathBuf, PathBuf) {
    let cert = dir.join(format!("{tag}.crt"));
    let key_file = dir.join(format!("{tag}.key"));
    std::fs::write(&cert, cert_pem).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    (cert, key_file)
}

fn certs() -> &'static Certs {
    static CERTS: OnceLock<Certs> = OnceLock::new();
    CERTS.get_or_init(|| {
        let dir = temp_dir("tls-certs");
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Tollgate test CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, ca_cert.pem()).unwrap();

        let key = KeyPair::generate().unwrap();
        let cert = leaf_params(&["localhost"], true)
            .signed_by(&key, &ca_cert, &ca_key)
            .unwrap();
        let good = write_pair(&dir, "good", cert.pem(), &key);

        let key = KeyPair::generate().unwrap();
        let cert = leaf_params(&["other.test"], false)
            .signed_by(&key, &ca_cert, &ca_key)
            .unwrap();
        let other_name = write_pair(&dir, "other", cert.pem(), &key);

        let key = KeyPair::generate().unwrap();
        let cert = leaf_params(&["localhost"], false)
            .self_signed(&key)
            .unwrap();
        let untrusted = write_pair(&dir, "untrusted", cert.pem(), &key);
        Certs {
            ca,
            good,
            other_name,
            untrusted,
        }
    })
}

fn tls_backend(pair: &(PathBuf, PathBuf)) -> Backend {
    Backend::start_with(&["--tls", pair.0.to_str().unwrap(), pair.1.to_str().unwrap()])
}

/// The backends of one test and the gateway in front of them.
struct Fixture {
    gw: Gateway,
    backends: Vec<Backend>,
}

fn paths() -> &'static str {
    r#"
        /good/{proxy+}:
          x-amazon-apigateway-any-method:
            x-amazon-apigateway-integration:
              type: http_proxy
              httpMethod: ANY
              uri: "https://${stageVariables.good}/{proxy}"
              requestParameters:
                integration.request.path.proxy: method.request.path.proxy
        /ip/{proxy+}:
          x-amazon-apigateway-any-method:
            x-amazon-apigateway-integration:
              type: http_proxy
              httpMethod: ANY
              uri: "https://${stageVariables.goodip}/{proxy}"
              requestParameters:
                integration.request.path.proxy: method.request.path.proxy
        /mapped:
          get:
            x-amazon-apigateway-integration:
              type: http
              httpMethod: GET
              uri: "https://${stageVariables.good}/status/201"
              responses:
                default:
                  statusCode: "200"
                  responseTemplates:
                    application/json: '{"mapped": true}'
        /untrusted:
          get:
            x-amazon-apigateway-integration:
              type: http_proxy
              httpMethod: GET
              uri: "https://${stageVariables.untrusted}/echo"
        /untrusted-skip:
          get:
            x-amazon-apigateway-integration:
              type: http_proxy
              httpMethod: GET
              uri: "https://${stageVariables.untrusted}/echo"
              tlsConfig:
                insecureSkipVerification: true
        /untrusted-skip-wrong-name:
          get:
            x-amazon-apigateway-integration:
              type: http_proxy
              httpMethod: GET
              uri: "https://${stageVariables.untrustedip}/echo"
              tlsConfig:
                insecureSkipVerification: true
        /wrong-name:
          get:
            x-amazon-apigateway-integration:
              type: http_proxy
              httpMethod: GET
              uri: "https://${stageVariables.wrongname}/echo"
        /not-tls:
          get:
            x-amazon-apigateway-integration:
              type: http_proxy
              httpMethod: GET
              uri: "https://${stageVariables.plain}/echo"
              timeoutInMillis: 2000
"#
}

fn start() -> Fixture {
    let c = certs();
    let good = tls_backend(&c.good);
    let other = tls_backend(&c.other_name);
    let untrusted = tls_backend(&c.untrusted);
    let plain = Backend::start();
    let yaml = format!(
        r#"
server:
  backend_ca_file: "{ca}"
apis:
  - name: tls
    id: tls123
    openapi:
      openapi: "3.0.1"
      info: {{ title: tls, version: "1" }}
      paths:
{paths}
    stages:
      - name: dev
        variables:
          good: "localhost:{good}"
          goodip: "127.0.0.1:{good}"
          untrusted: "localhost:{untrusted}"
          untrustedip: "127.0.0.1:{untrusted}"
          wrongname: "localhost:{other}"
          plain: "localhost:{plain}"
"#,
        ca = c.ca.display(),
        paths = paths(),
        good = good.port,
        untrusted = untrusted.port,
        other = other.port,
        plain = plain.port,
    );
    let gw = Gateway::start_yaml(&yaml, &[]);
    Fixture {
        gw,
        backends: vec![good, other, untrusted, plain],
    }
}

const INTERNAL_ERROR: &str = r#"{"message": "Internal server error"}"#;

#[test]
fn https_proxy_with_a_trusted_ca_echoes_the_request() {
    let f = start();
    let r = request(
        "POST",
        &f.gw.url("/dev/good/echo/a?q=1"),
        &[("Content-Type", "text/plain"), ("X-Custom", "kept")],
        Some("hello over tls"),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let echo = r.json();
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["path"], "/echo/a");
    assert_eq!(echo["query"], "q=1");
    assert_eq!(echo["body"], "hello over tls");
    let headers = echo["headers"].as_array().unwrap();
    let host = headers.iter().find(|h| h[0] == "Host").unwrap();
    assert_eq!(host[1], format!("localhost:{}", f.backends[0].port));
    let custom = headers
        .iter()
        .find(|h| h[0].as_str().unwrap().eq_ignore_ascii_case("x-custom"))
        .unwrap();
    assert_eq!(custom[1], "kept");

    // A body over rustls' 64 KiB send buffer goes out in several flushes, and its echo comes
    // back in many TLS records.
    let big = "x".repeat(300 * 1024);
    let r = request("POST", &f.gw.url("/dev/good/echo"), &[], Some(&big));
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["body"].as_str().unwrap().len(), big.len());

    // SNI is the URI host; ALPN is http/1.1.
    let r = get(&f.gw.url("/dev/good/tls"));
    assert_eq!(r.status, 200, "{}", r.body);
    let info = r.json();
    assert_eq!(info["sni"], "localhost");
    assert_eq!(info["alpn"], "http/1.1");
    assert_eq!(info["version"], "TLSv1.3");

    // An IP literal is verified against the IP SAN and sends no SNI (RFC 6066 §3).
    let r = get(&f.gw.url("/dev/ip/tls"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["sni"], serde_json::Value::Null);

    // A non-proxy HTTP integration over TLS: the backend's 201 selects the default response.
    let r = get(&f.gw.url("/dev/mapped"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, r#"{"mapped": true}"#);
}

#[test]
fn https_connections_are_kept_alive_and_reused() {
    let f = start();
    let mut port = None;
    for n in 1..=5 {
        let r = get(&f.gw.url("/dev/good/conn"));
        assert_eq!(r.status, 200, "{}", r.body);
        let info = r.json();
        // One worker, sequential requests: the same TLS connection carries all five.
        assert_eq!(info["served"], n, "request {n}: {info}");
        let p = info["peer_port"].as_u64().unwrap();
        assert_eq!(*port.get_or_insert(p), p);
    }
    // The IP-literal route is another server name: it gets its own connection.
    let r = get(&f.gw.url("/dev/ip/conn"));
    assert_eq!(r.json()["served"], 1);
    assert_ne!(r.json()["peer_port"].as_u64(), port);
}

#[test]
fn certificates_that_do_not_verify_are_500_unless_verification_is_skipped() {
    let f = start();
    // Skipping verification skips the issuer check only: AWS still checks the host name
    // (API: TlsConfig), and this certificate names localhost, not 127.0.0.1.
    for path in [
        "/dev/untrusted",
        "/dev/wrong-name",
        "/dev/untrusted-skip-wrong-name",
    ] {
        let r = get(&f.gw.url(path));
        assert_eq!(r.status, 500, "{path}: {}", r.body);
        assert_eq!(r.body, INTERNAL_ERROR);
        assert_eq!(
            r.header("x-amzn-ErrorType"),
            Some("InternalServerErrorException")
        );
    }
    let r = get(&f.gw.url("/dev/untrusted-skip"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["path"], "/echo");
    // A skipped-verification session is never lent to the verifying route.
    let r = get(&f.gw.url("/dev/untrusted"));
    assert_eq!(r.status, 500, "{}", r.body);
}

#[test]
fn a_backend_that_does_not_speak_tls_is_504_without_hanging() {
    let f = start();
    for _ in 0..3 {
        let started = Instant::now();
        let r = get(&f.gw.url("/dev/not-tls"));
        // Bytes that are not TLS fail the handshake: INTEGRATION_FAILURE, as a plain backend
        // answering garbage does; a silent one hits timeoutInMillis (2 s): 504 as well.
        assert_eq!(r.status, 504, "{}", r.body);
        assert!(started.elapsed() < Duration::from_secs(4), "{r:?}");
    }
    // The worker is still healthy.
    assert_eq!(get(&f.gw.url("/dev/good/echo")).status, 200);
}

#[test]
fn a_missing_or_bad_ca_file_fails_the_load() {
    let dir = temp_dir("tls-badca");
    let bad = dir.join("bad.pem");
    std::fs::write(&bad, "not a certificate").unwrap();
    for ca in [bad, dir.join("missing.pem")] {
        let yaml = format!(
            r#"
server:
  backend_ca_file: "{}"
apis:
  - name: a
    openapi:
      openapi: "3.0.1"
      info: {{ title: a, version: "1" }}
      paths: {{}}
"#,
            ca.display()
        );
        let file = dir.join("gateway.yaml");
        std::fs::write(&file, yaml).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .arg("validate")
            .arg(&file)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stderr).to_string()
            + &String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success(), "{text}");
        assert!(text.contains("/server/backend_ca_file"), "{text}");
    }
}
