//! Test support: the real gateway binary on an ephemeral loopback port, a real backend
//! process, a real HTTP client (ureq) and a raw-socket client for wire-level cases.
//! Every wait is bounded; every process is killed by PID when its handle drops.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh directory for one test's files.
pub fn temp_dir(tag: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("tollgate-test-{}-{tag}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The project root (for bundled configs and fixtures).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `--driver legacy` when the suite runs on the epoll driver (TOLLGATE_TEST_DRIVER=legacy).
pub fn driver_args() -> Vec<String> {
    match std::env::var("TOLLGATE_TEST_DRIVER").as_deref() {
        Ok("legacy") => vec!["--driver".into(), "legacy".into()],
        _ => Vec::new(),
    }
}

/// A running gateway process.
pub struct Gateway {
    child: Option<Child>,
    /// Where it listens.
    pub addr: SocketAddr,
    /// What it printed on stdout before it was ready.
    pub banner: Vec<String>,
    lines: mpsc::Receiver<String>,
}

impl Gateway {
    /// Starts `tollgate serve FILE --listen 127.0.0.1:0 --workers 1 ARGS...`.
    pub fn start_file(file: &Path, args: &[&str]) -> Gateway {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tollgate"));
        cmd.arg("serve").arg(file).args(["--listen", "127.0.0.1:0"]);
        if !args.contains(&"--workers") {
            cmd.args(["--workers", "1"]);
        }
        // Each gateway gets its own quota store (redb locks it for one process).
        if !args.contains(&"--state-dir") {
            cmd.arg("--state-dir").arg(temp_dir("state"));
        }
        cmd.args(args).args(driver_args());
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::null());
        let mut child = cmd.spawn().expect("start tollgate");
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let tx2 = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx2.send(format!("stderr: {line}"));
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut banner = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix("tollgate: listening on http://") {
                        let addr: SocketAddr =
                            rest.split_whitespace().next().unwrap().parse().unwrap();
                        banner.push(line);
                        // Collect the route listing that follows (printed before serving).
                        while let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
                            banner.push(l);
                        }
                        return Gateway {
                            child: Some(child),
                            addr,
                            banner,
                            lines: rx,
                        };
                    }
                    banner.push(line);
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "gateway did not start within 20 s; output:\n{}",
                        banner.join("\n")
                    );
                }
            }
        }
    }

    /// Writes `yaml` to a temp file and starts the gateway on it.
    pub fn start_yaml(yaml: &str, args: &[&str]) -> Gateway {
        let dir = temp_dir("gw");
        let file = dir.join("gateway.yaml");
        std::fs::write(&file, yaml).unwrap();
        Gateway::start_file(&file, args)
    }

    /// `http://ADDR/path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// `http://ADDR` of the admin endpoint, from the start-up banner.
    pub fn admin(&self) -> String {
        self.banner
            .iter()
            .find_map(|l| l.strip_prefix("tollgate: admin endpoint on "))
            .expect("admin endpoint in the banner")
            .to_string()
    }

    /// Moves the gateway's clocks forward (it must run with `--test-clock`).
    pub fn advance_clock(&self, secs: u64) {
        let r = request(
            "POST",
            &format!("{}/test/clock?advance={secs}", self.admin()),
            &[],
            None,
        );
        assert_eq!(r.status, 200, "advancing the test clock: {}", r.body);
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Sends a signal.
    pub fn signal(&self, sig: &str) {
        let _ = Command::new("kill")
            .args([&format!("-{sig}"), &self.pid().to_string()])
            .status();
    }

    /// SIGTERM, then waits (bounded) for the exit status.
    pub fn stop(mut self) -> ExitStatus {
        self.signal("TERM");
        let mut child = self.child.take().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("gateway did not exit within 20 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Output lines printed since start-up (non-blocking).
    pub fn output(&self) -> Vec<String> {
        self.lines.try_iter().collect()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The Python backend (`tests/support/backend.py`), a real process on loopback.
pub struct Backend {
    child: Child,
    /// Its port.
    pub port: u16,
}

impl Backend {
    /// Starts a backend and waits (bounded) for its port.
    pub fn start() -> Backend {
        Backend::start_with(&[])
    }

    /// Starts a backend with extra flags (e.g. `--tls CERT KEY`).
    pub fn start_with(args: &[&str]) -> Backend {
        let mut child = Command::new("python3")
            .arg(root().join("tests/support/backend.py"))
            .args(["--max-seconds", "600"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .stdin(Stdio::null())
            .spawn()
            .expect("python3 is needed for the test backend");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("backend did not start");
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .expect("backend banner")
            .parse()
            .unwrap();
        Backend { child, port }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A response read by the real client.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    /// A header's value (first, case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .max_redirects(0)
        .build()
        .into()
}

/// One request with the real client.
pub fn request(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&str>) -> Resp {
    let mut req = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let agent = agent();
    let resp = match body {
        Some(b) => agent.run(req.body(b.as_bytes().to_vec()).unwrap()),
        None => agent.run(req.body(()).unwrap()),
    }
    .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = resp.into_body().read_to_string().unwrap_or_default();
    Resp {
        status,
        headers,
        body,
    }
}

/// GET with the real client.
pub fn get(url: &str) -> Resp {
    request("GET", url, &[], None)
}

/// Opens a raw connection with bounded timeouts.
pub fn raw_conn(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Writes raw bytes, then reads until the server closes or `wait` passes without data.
pub fn raw_exchange(addr: SocketAddr, bytes: &[u8], wait: Duration) -> Vec<u8> {
    let mut s = raw_conn(addr);
    s.write_all(bytes).unwrap();
    read_until_quiet(&mut s, wait)
}

/// Reads until EOF, an error, or `wait` without data (bounded overall by 30 s).
pub fn read_until_quiet(s: &mut TcpStream, wait: Duration) -> Vec<u8> {
    s.set_read_timeout(Some(wait)).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    out
}

/// Whether the peer closed the connection (EOF within `wait`).
pub fn closed_within(s: &mut TcpStream, wait: Duration) -> bool {
    s.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + wait + Duration::from_secs(1);
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
        if Instant::now() > deadline {
            return false;
        }
    }
}

/// Splits raw bytes into HTTP responses' status codes, in order (for pipelining checks).
pub fn statuses(raw: &[u8]) -> Vec<u16> {
    let text = String::from_utf8_lossy(raw);
    text.match_indices("HTTP/1.1 ")
        .filter_map(|(i, _)| text[i + 9..].get(..3).and_then(|s| s.parse().ok()))
        .collect()
}
