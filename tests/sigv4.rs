//! SigV4 for the Lambda Invoke API: Tollgate's signatures compared byte for byte with
//! botocore's for the same requests (`tests/sigv4/botocore_sign.py`), and signed requests sent
//! with the gateway's own HTTP client (`Pool::exchange` on a monoio runtime) to a local Invoke
//! API whose every check is botocore's (`tests/sigv4/invoke_server.py`).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::{Value, json};
use tollgate::integration::lambda::credentials::Credentials;
use tollgate::integration::lambda::sigv4::{self, Request};
use tollgate::integration::upstream::{BackendResponse, Pool};

use crate::support;

const AKID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
/// A token shaped like an STS one: long, with `/`, `+` and `=`.
const LONG_TOKEN: &str = "IQoJb3JpZ2luX2VjEHoaCXVzLWVhc3QtMSJHMEUCIQD/x+y=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==";

fn creds(token: Option<&str>) -> Credentials {
    Credentials {
        access_key_id: AKID.into(),
        secret_access_key: SECRET.into(),
        session_token: token.map(str::to_string),
    }
}

/// An Invoke call as `invoke.rs` makes it.
struct Invoke<'a> {
    function: &'a str,
    qualifier: Option<&'a str>,
    invocation_type: Option<&'a str>,
    payload: &'a [u8],
}

/// `/2015-03-31/functions/{FunctionName}/invocations`, the name encoded as botocore encodes
/// a path label (so an ARN's `:` is `%3A`).
fn invoke_path(function: &str) -> String {
    let mut p = b"/2015-03-31/functions/".to_vec();
    sigv4::uri_encode(&mut p, function, false);
    p.extend_from_slice(b"/invocations");
    String::from_utf8(p).unwrap()
}

/// The complete HTTP/1.1 request, signed, as the Invoke client writes it.
fn write_invoke(
    c: &Credentials,
    region: &str,
    host: &str,
    inv: &Invoke<'_>,
    now: SystemTime,
) -> (String, String, Vec<u8>) {
    let path = invoke_path(inv.function);
    let query: Vec<(&str, &str)> = inv
        .qualifier
        .map(|q| ("Qualifier", q))
        .into_iter()
        .collect();
    let headers: Vec<(&str, &str)> = inv
        .invocation_type
        .map(|t| ("X-Amz-Invocation-Type", t))
        .into_iter()
        .collect();
    let mut wire_query = Vec::new();
    for (i, (k, v)) in query.iter().enumerate() {
        if i > 0 {
            wire_query.push(b'&');
        }
        sigv4::uri_encode(&mut wire_query, k, false);
        wire_query.push(b'=');
        sigv4::uri_encode(&mut wire_query, v, false);
    }
    let wire_query = String::from_utf8(wire_query).unwrap();
    let mut out = Vec::new();
    out.extend_from_slice(b"POST ");
    out.extend_from_slice(path.as_bytes());
    if !wire_query.is_empty() {
        out.push(b'?');
        out.extend_from_slice(wire_query.as_bytes());
    }
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    out.extend_from_slice(host.as_bytes());
    out.extend_from_slice(b"\r\n");
    for (k, v) in &headers {
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    let req = Request {
        method: "POST",
        host,
        path: &path,
        query: &query,
        headers: &headers,
        payload: inv.payload,
    };
    sigv4::sign_invoke(c, region, &req, now, &mut out).unwrap();
    out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", inv.payload.len()).as_bytes());
    out.extend_from_slice(inv.payload);
    (path, wire_query, out)
}

fn header_line<'a>(request: &'a [u8], name: &str) -> Option<&'a str> {
    let end = request
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(request.len());
    let head = std::str::from_utf8(&request[..end]).ok()?;
    head.lines().find_map(|l| {
        let (n, v) = l.split_once(": ")?;
        n.eq_ignore_ascii_case(name).then_some(v)
    })
}

/// Runs the botocore signer over `cases` (one JSON per line) and returns its answers.
fn botocore(cases: &[Value]) -> Vec<Value> {
    let mut child: Child = Command::new("python3")
        .arg(support::root().join("tests/sigv4/botocore_sign.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 with botocore is needed (tests/run.sh installs boto3)");
    let mut stdin = child.stdin.take().unwrap();
    for c in cases {
        writeln!(stdin, "{c}").unwrap();
    }
    drop(stdin);
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let lines: Vec<String> = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect();
        let _ = tx.send(lines);
    });
    let lines = rx.recv_timeout(Duration::from_secs(60));
    let _ = child.kill();
    let _ = child.wait();
    let lines = lines.expect("botocore signer did not answer within 60 s");
    assert_eq!(
        lines.len(),
        cases.len(),
        "botocore signer failed (see stderr)"
    );
    lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn stamp(t: SystemTime) -> String {
    String::from_utf8(sigv4::AmzDate::from_system_time(t).as_bytes().to_vec()).unwrap()
}

/// Function, qualifier, invocation type, payload, session token, region, unix time.
type InvokeCase<'a> = (
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    &'a [u8],
    Option<&'a str>,
    &'a str,
    u64,
);

#[test]
fn invoke_signatures_match_botocore() {
    let cases: &[InvokeCase] = &[
        (
            "my-function",
            None,
            None,
            b"",
            None,
            "us-east-1",
            1_440_938_160,
        ),
        (
            "arn:aws:lambda:us-east-1:123456789012:function:my-fn",
            Some("prod"),
            Some("Event"),
            br#"{"key":"value"}"#,
            Some("tok"),
            "us-east-1",
            1_700_000_000,
        ),
        (
            "123456789012:function:my-fn",
            Some("$LATEST"),
            Some("DryRun"),
            b"{}",
            Some(LONG_TOKEN),
            "eu-west-3",
            1_709_251_199,
        ),
        (
            "my-fn:live",
            None,
            Some("RequestResponse"),
            "{\"msg\":\"héllo ✓\"}".as_bytes(),
            None,
            "ap-southeast-2",
            1_709_251_200,
        ),
        (
            "fün-ção_λ",
            Some("v1.2"),
            None,
            &[0, 159, 146, 150, 255],
            Some("tok"),
            "us-west-2",
            4_102_444_799,
        ),
    ];
    let mut requests = Vec::new();
    let mut ours = Vec::new();
    for &(function, qualifier, invocation_type, payload, token, region, secs) in cases {
        let now = UNIX_EPOCH + Duration::from_secs(secs);
        let host = format!("lambda.{region}.amazonaws.com");
        requests.push(json!({
            "kind": "invoke", "function": function, "qualifier": qualifier,
            "invocation_type": invocation_type,
            "payload_b64": base64::engine::general_purpose::STANDARD.encode(payload),
            "region": region, "access_key": AKID, "secret_key": SECRET, "token": token,
            "time": stamp(now), "endpoint": format!("https://{host}"),
        }));
        let inv = Invoke {
            function,
            qualifier,
            invocation_type,
            payload,
        };
        ours.push(write_invoke(&creds(token), region, &host, &inv, now));
    }
    let theirs = botocore(&requests);
    for (i, ((path, query, wire), b)) in ours.iter().zip(&theirs).enumerate() {
        let case = cases[i].0;
        assert_eq!(path, b["path"].as_str().unwrap(), "path, case {case}");
        assert_eq!(query, b["query"].as_str().unwrap(), "query, case {case}");
        assert_eq!(
            header_line(wire, "Authorization").unwrap(),
            b["authorization"].as_str().unwrap(),
            "case {case}; botocore's canonical request:\n{}",
            b["canonical_request"].as_str().unwrap()
        );
        assert_eq!(
            header_line(wire, "X-Amz-Date").unwrap(),
            b["headers"]["X-Amz-Date"].as_str().unwrap()
        );
        assert_eq!(
            header_line(wire, "X-Amz-Security-Token"),
            b["headers"]["X-Amz-Security-Token"].as_str(),
            "case {case}"
        );
    }
}

#[test]
fn raw_requests_match_botocore() {
    // Paths botocore normalises and double-encodes, query strings it sorts, headers it trims
    // and joins. Our query pairs are raw; botocore reads the same pairs from the wire URL.
    struct Case<'a> {
        path: &'a str,
        wire_query: &'a str,
        query: &'a [(&'a str, &'a str)],
        headers: &'a [(&'a str, &'a str)],
        payload: &'a [u8],
    }
    let cases = [
        Case {
            path: "/foo/../bar//baz/./",
            wire_query: "",
            query: &[],
            headers: &[],
            payload: b"",
        },
        Case {
            path: "/with%20space/arn%3Aaws%3Alambda",
            wire_query: "b=2&a=z&a=y&A=%24LATEST&c=%E2%9C%93",
            query: &[
                ("b", "2"),
                ("a", "z"),
                ("a", "y"),
                ("A", "$LATEST"),
                ("c", "✓"),
            ],
            headers: &[
                ("X-Amz-Invocation-Type", "  Event  "),
                ("My-Header", "a   b\tc"),
                ("my-header", "second"),
                ("Content-Type", "application/json"),
            ],
            payload: br#"{"a":[1,2,3]}"#,
        },
    ];
    let now = UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    let c = creds(Some("tok"));
    let requests: Vec<Value> = cases
        .iter()
        .map(|k| {
            let sep = if k.wire_query.is_empty() { "" } else { "?" };
            json!({
                "kind": "raw", "method": "POST",
                "url": format!("https://lambda.us-east-1.amazonaws.com{}{sep}{}", k.path, k.wire_query),
                "headers": k.headers,
                "payload_b64": base64::engine::general_purpose::STANDARD.encode(k.payload),
                "service": "lambda", "region": "us-east-1", "access_key": AKID,
                "secret_key": SECRET, "token": "tok", "time": stamp(now),
            })
        })
        .collect();
    let theirs = botocore(&requests);
    for (k, b) in cases.iter().zip(&theirs) {
        let req = Request {
            method: "POST",
            host: "lambda.us-east-1.amazonaws.com",
            path: k.path,
            query: k.query,
            headers: k.headers,
            payload: k.payload,
        };
        let signer = sigv4::Signer::lambda(&c, "us-east-1");
        let mut creq = Vec::new();
        signer
            .canonical_request(&req, &sigv4::AmzDate::from_system_time(now), &mut creq)
            .unwrap();
        assert_eq!(
            String::from_utf8(creq).unwrap(),
            b["canonical_request"].as_str().unwrap(),
            "path {}",
            k.path
        );
        let mut out = Vec::new();
        signer.sign(&req, now, &mut out).unwrap();
        assert_eq!(
            header_line(&out, "Authorization").unwrap(),
            b["authorization"].as_str().unwrap()
        );
    }
}

/// The local Invoke API (`tests/sigv4/invoke_server.py`), killed on drop.
struct InvokeServer {
    child: Child,
    port: u16,
}

impl InvokeServer {
    fn start(token: Option<&str>) -> InvokeServer {
        let mut cmd = Command::new("python3");
        cmd.arg(support::root().join("tests/sigv4/invoke_server.py"))
            .args([AKID, SECRET, "us-east-1"]);
        if let Some(t) = token {
            cmd.arg(t);
        }
        let mut child = cmd
            .args(["--max-seconds", "300"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .stdin(Stdio::null())
            .spawn()
            .expect("python3 with botocore is needed");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("invoke server did not start");
        let port = line.trim().strip_prefix("PORT ").unwrap().parse().unwrap();
        InvokeServer { child, port }
    }
}

impl Drop for InvokeServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends each request on one keep-alive pool, on a monoio runtime of the suite's driver.
fn exchange_all(port: u16, requests: Vec<Vec<u8>>) -> Vec<Answer> {
    let run = async move {
        let pool = Pool::new(4, Duration::from_secs(5));
        let addr = pool.resolve("127.0.0.1", port).unwrap();
        let mut answers = Vec::new();
        for req in requests {
            let mut resp = BackendResponse::default();
            let (result, _) = pool
                .exchange(
                    tollgate::integration::upstream::Endpoint::plain(addr),
                    req,
                    false,
                    Duration::from_secs(20),
                    &mut resp,
                )
                .await;
            result.unwrap();
            answers.push(Answer {
                status: resp.status,
                headers: resp
                    .header_iter()
                    .map(|(n, v)| (n.to_string(), String::from_utf8_lossy(v).into_owned()))
                    .collect(),
                body: resp.body().to_vec(),
            });
        }
        answers
    };
    if std::env::var("TOLLGATE_TEST_DRIVER").as_deref() == Ok("legacy") {
        monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .unwrap()
            .block_on(run)
    } else {
        monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
            .enable_timer()
            .build()
            .unwrap()
            .block_on(run)
    }
}

#[test]
fn signed_invokes_round_trip_to_a_botocore_verified_invoke_api() {
    let server = InvokeServer::start(Some(LONG_TOKEN));
    let host = format!("127.0.0.1:{}", server.port);
    let good = creds(Some(LONG_TOKEN));
    let now = SystemTime::now();
    let call = |c: &Credentials, function, qualifier, invocation_type, payload| {
        let inv = Invoke {
            function,
            qualifier,
            invocation_type,
            payload,
        };
        write_invoke(c, "us-east-1", &host, &inv, now).2
    };
    let payload = "{\"msg\":\"héllo\",\"n\":[1,2]}".as_bytes();
    let wrong_secret = Credentials {
        secret_access_key: "not-the-secret".into(),
        ..good.clone()
    };
    let no_token = creds(None);
    let requests = vec![
        call(&good, "echo", None, None, payload),
        call(
            &good,
            "arn:aws:lambda:us-east-1:123456789012:function:echo",
            Some("$LATEST"),
            Some("RequestResponse"),
            b"",
        ),
        call(&good, "fail", Some("live"), None, b"{}"),
        call(&good, "throttle", None, None, b"{}"),
        call(&good, "echo", None, Some("Event"), payload),
        call(&good, "echo:prod", None, Some("DryRun"), b"{}"),
        call(&good, "missing", None, None, b"{}"),
        call(&wrong_secret, "echo", None, None, b"{}"),
        call(&no_token, "echo", None, None, b"{}"),
    ];
    let a = exchange_all(server.port, requests);
    let verified = |x: &Answer| x.header("X-Test-Signature") == Some("botocore-ok");

    assert_eq!(a[0].status, 200);
    assert!(verified(&a[0]));
    assert_eq!(a[0].body, payload);
    assert_eq!(a[0].header("X-Amz-Executed-Version"), Some("$LATEST"));

    assert_eq!((a[1].status, a[1].body.as_slice()), (200, &b""[..]));
    assert!(verified(&a[1]));
    assert_eq!(
        a[1].header("X-Test-Payload-Sha256"),
        Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    );

    assert_eq!(a[2].status, 200);
    assert_eq!(a[2].header("X-Amz-Function-Error"), Some("Unhandled"));
    assert_eq!(a[2].header("X-Amz-Executed-Version"), Some("live"));
    assert_eq!(
        String::from_utf8_lossy(&a[2].body),
        r#"{"errorMessage": "boom", "errorType": "Exception", "stackTrace": []}"#
    );

    assert_eq!(a[3].status, 429);
    assert_eq!(
        a[3].header("x-amzn-ErrorType"),
        Some("TooManyRequestsException")
    );
    assert_eq!(
        String::from_utf8_lossy(&a[3].body),
        r#"{"Type": "User", "message": "Rate Exceeded.", "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded"}"#
    );

    assert_eq!((a[4].status, a[4].body.len()), (202, 0));
    assert!(verified(&a[4]));
    assert_eq!((a[5].status, a[5].body.len()), (204, 0));
    assert!(verified(&a[5]));

    assert_eq!(a[6].status, 404);
    assert_eq!(
        a[6].header("x-amzn-ErrorType"),
        Some("ResourceNotFoundException")
    );

    // The negative controls: the server really checks.
    assert_eq!(a[7].status, 403);
    assert_eq!(
        a[7].header("x-amzn-ErrorType"),
        Some("InvalidSignatureException")
    );
    assert!(
        String::from_utf8_lossy(&a[7].body)
            .contains("The request signature we calculated does not match")
    );
    assert_eq!(a[8].status, 403);
    assert_eq!(
        a[8].header("x-amzn-ErrorType"),
        Some("UnrecognizedClientException")
    );
}
