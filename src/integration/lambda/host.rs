//! The local function host: runs the functions named in the config (`functions:`) as
//! child processes behind Tollgate's own **Lambda Runtime API**, and serves the **Invoke
//! API** on loopback, so the gateway's workers call local functions exactly as they call
//! AWS Lambda, through their non-blocking per-core pools.
//!
//! It lives on plain threads, off the request path: one supervisor thread starts, times out
//! and restarts processes; one thread per connection serves the two APIs. Its state sits
//! behind one mutex, which no gateway worker ever touches.
//!
//! Lambda's behaviour it reproduces (DG Lambda: runtimes-api, lambda-concurrency,
//! invocation-retries): each invocation goes to an idle process, a new one is started up to
//! `concurrency`; invocations wait in a bounded queue when all are busy, and past the bound
//! the Invoke API answers 429 `TooManyRequestsException`; a function that overruns its
//! timeout is killed and its invocation fails with `Sandbox.Timedout`; a process that exits
//! fails its invocation with `Runtime.ExitError`; an init error fails the invocation that
//! started the process and is printed with the function's name.

use std::collections::VecDeque;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
// The host is control-plane style code on its own threads: a lock is fine here.
#[allow(clippy::disallowed_types)]
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::runtime_api::{self, HttpRequest, RuntimeCall};

/// Most connections served at once (runtime long polls + pooled gateway connections).
const MAX_CONNECTIONS: usize = 1024;
/// How often the supervisor checks deadlines and exits when nothing wakes it.
const SUPERVISOR_TICK: Duration = Duration::from_millis(20);
/// How long a runtime's `/next` long poll waits between checks of its process's fate.
const NEXT_POLL: Duration = Duration::from_millis(500);
/// How long an Invoke call may wait beyond the function timeout (queueing, cold start)
/// before the host gives up on it with a 500.
const QUEUE_GRACE: Duration = Duration::from_secs(60);

/// One function as the config describes it.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    /// The function name (the last part of its ARN).
    pub name: String,
    /// The command, run with `sh -c`, e.g. `python3 -m awslambdaric app.handler`.
    pub command: String,
    /// Working directory (`LAMBDA_TASK_ROOT`).
    pub cwd: Option<PathBuf>,
    /// Processes at most (reserved concurrency).
    pub concurrency: usize,
    /// Function timeout.
    pub timeout: Duration,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`.
    pub memory_mb: u32,
    /// Invocations that may wait for a process before 429.
    pub max_queue: usize,
    /// Extra environment variables.
    pub environment: Vec<(String, String)>,
    /// Region for ARNs and `AWS_REGION`.
    pub region: String,
    /// Account id for ARNs.
    pub account_id: String,
}

impl FunctionSpec {
    fn arn(&self) -> String {
        format!(
            "arn:aws:lambda:{}:{}:function:{}",
            self.region, self.account_id, self.name
        )
    }
}

/// How an invocation ended.
#[derive(Debug, Clone)]
struct Done {
    /// `X-Amz-Function-Error` value, when it failed.
    function_error: Option<&'static str>,
    body: Vec<u8>,
}

#[derive(Debug)]
struct Invocation {
    id: String,
    payload: Vec<u8>,
    deadline_ms: Mutex<u64>,
    done: Mutex<Option<Done>>,
    finished: Condvar,
}

impl Invocation {
    fn finish(&self, d: Done) {
        let mut g = lock(&self.done);
        if g.is_none() {
            *g = Some(d);
        }
        self.finished.notify_all();
    }
}

#[derive(Debug, Default)]
struct Slot {
    /// The Runtime API port of this slot (each process gets its own, so the host knows which
    /// process a `/next` comes from).
    port: u16,
    child: Option<Child>,
    /// Bumped each time the slot's process is replaced.
    generation: u64,
    busy: Option<(Arc<Invocation>, Instant)>,
    /// The process has reported an init error.
    init_failed: bool,
}

#[derive(Debug)]
struct FunctionState {
    spec: FunctionSpec,
    queue: VecDeque<Arc<Invocation>>,
    slots: Vec<Slot>,
    /// Whether a process should be started (set by Invoke calls, done by the supervisor,
    /// the one long-lived thread, so `PR_SET_PDEATHSIG` ties children to it).
    want_start: bool,
}

impl FunctionState {
    fn live(&self) -> usize {
        self.slots.iter().filter(|s| s.child.is_some()).count()
    }
    fn free(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| s.child.is_some() && s.busy.is_none() && !s.init_failed)
            .count()
    }
}

#[derive(Debug)]
struct Host {
    functions: Mutex<Vec<FunctionState>>,
    /// Wakes `/next` long polls and the supervisor.
    work: Condvar,
    connections: AtomicUsize,
    invoke_addr: SocketAddr,
}

#[allow(clippy::disallowed_types)]
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic on another host thread must not take the host down with it.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

static HOST: OnceLock<Arc<Host>> = OnceLock::new();

/// The Invoke API address of the running host, if one was started (an atomic load: safe
/// on the request path).
pub fn local_addr() -> Option<SocketAddr> {
    HOST.get().map(|h| h.invoke_addr)
}

/// Starts the host for `functions` (once per process; later calls return the first
/// address). Processes start on first use (cold start), as in Lambda.
pub fn start(functions: Vec<FunctionSpec>) -> io::Result<SocketAddr> {
    if let Some(h) = HOST.get() {
        return Ok(h.invoke_addr);
    }
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let invoke_addr = listener.local_addr()?;
    let host = Arc::new(Host {
        functions: Mutex::new(
            functions
                .into_iter()
                .map(|spec| FunctionState {
                    spec,
                    queue: VecDeque::new(),
                    slots: Vec::new(),
                    want_start: false,
                })
                .collect(),
        ),
        work: Condvar::new(),
        connections: AtomicUsize::new(0),
        invoke_addr,
    });
    let _ = HOST.set(host.clone());
    let h = host.clone();
    std::thread::Builder::new()
        .name("tollgate-fn-invoke".into())
        .spawn(move || accept_loop(h, listener, None))?;
    let h = host.clone();
    std::thread::Builder::new()
        .name("tollgate-fn-supervisor".into())
        .spawn(move || supervise(h))?;
    Ok(invoke_addr)
}

/// Kills every function process (at shutdown).
pub fn stop() {
    let Some(host) = HOST.get() else { return };
    let mut fns = lock(&host.functions);
    for f in fns.iter_mut() {
        for s in &mut f.slots {
            if let Some(c) = s.child.as_mut() {
                kill_group(c);
            }
            s.child = None;
        }
    }
}

fn kill_group(c: &mut Child) {
    // The process was started as its own group leader: kill the group (the runtime and
    // anything it forked), then reap.
    // SAFETY: kill(2) with a negative pid signals our own child's process group.
    unsafe {
        libc::kill(-(c.id() as i32), libc::SIGKILL);
    }
    let _ = c.kill();
    let _ = c.wait();
}

/// Accepts connections; `slot` = (function index, slot index) for a Runtime API listener,
/// `None` for the Invoke API.
fn accept_loop(host: Arc<Host>, listener: TcpListener, slot: Option<(usize, usize)>) {
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        if host.connections.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
            host.connections.fetch_sub(1, Ordering::AcqRel);
            continue;
        }
        let _ = conn.set_nodelay(true);
        let h = host.clone();
        let spawned = std::thread::Builder::new()
            .name("tollgate-fn-conn".into())
            .spawn(move || {
                serve_connection(&h, conn, slot);
                h.connections.fetch_sub(1, Ordering::AcqRel);
            });
        if spawned.is_err() {
            host.connections.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

fn serve_connection(host: &Host, mut conn: TcpStream, slot: Option<(usize, usize)>) {
    let mut buf = Vec::new();
    // Bounded by the peer: the loop ends when it closes or sends garbage.
    while let Ok(Some(req)) = runtime_api::read_request(&mut conn, &mut buf) {
        let ok = match slot {
            Some((f, s)) => runtime_request(host, f, s, &req, &mut conn),
            None => invoke_request(host, &req, &mut conn),
        };
        if !ok {
            return;
        }
    }
}

fn json_error(kind: &str, message: &str) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(b"{\"Type\":\"User\",\"message\":");
    super::event::json_str(message, &mut out);
    out.push(b'}');
    let _ = kind;
    out
}

/// One Invoke API call from the gateway. Returns whether the connection may be reused.
fn invoke_request(host: &Host, req: &HttpRequest, conn: &mut TcpStream) -> bool {
    let Some((name, _qualifier)) = runtime_api::invoke_call(&req.method, &req.target) else {
        let body = json_error("UnknownOperationException", "Unknown operation");
        let h = [
            ("Content-Type", "application/json"),
            ("x-amzn-ErrorType", "UnknownOperationException"),
        ];
        return runtime_api::write_response(conn, 404, &h, &body).is_ok();
    };
    // An ARN names the function by its last part(s) (Lambda API reference: Invoke).
    let bare = match name.strip_prefix("arn:aws:lambda:") {
        Some(rest) => rest.split(':').nth(3).unwrap_or("").to_string(),
        None => name.split(':').next().unwrap_or("").to_string(),
    };
    let kind = req
        .header("x-amz-invocation-type")
        .and_then(super::invoke::InvocationType::parse)
        .unwrap_or(super::invoke::InvocationType::RequestResponse);
    let id = uuid();
    let inv = Arc::new(Invocation {
        id: id.clone(),
        payload: req.body.clone(),
        deadline_ms: Mutex::new(0),
        done: Mutex::new(None),
        finished: Condvar::new(),
    });
    let timeout;
    {
        let mut fns = lock(&host.functions);
        let Some(f) = fns.iter_mut().find(|f| f.spec.name == bare) else {
            drop(fns);
            let body = json_error(
                "ResourceNotFoundException",
                &format!("Function not found: {name}"),
            );
            let h = [
                ("Content-Type", "application/json"),
                ("x-amzn-ErrorType", "ResourceNotFoundException"),
            ];
            return runtime_api::write_response(conn, 404, &h, &body).is_ok();
        };
        timeout = f.spec.timeout;
        if kind == super::invoke::InvocationType::DryRun {
            drop(fns);
            return runtime_api::write_response(conn, 204, &[], b"").is_ok();
        }
        let capacity = f.spec.concurrency.saturating_sub(f.live()) + f.free();
        if f.queue.len() >= capacity + f.spec.max_queue {
            drop(fns);
            // Lambda's throttle answer (Lambda API reference: Invoke, TooManyRequestsException).
            let body = br#"{"Reason":"ReservedFunctionConcurrentInvocationLimitExceeded","Type":"User","message":"Rate Exceeded."}"#;
            let h = [
                ("Content-Type", "application/json"),
                ("x-amzn-ErrorType", "TooManyRequestsException"),
            ];
            return runtime_api::write_response(conn, 429, &h, body).is_ok();
        }
        f.queue.push_back(inv.clone());
        if f.queue.len() > f.free() && f.live() < f.spec.concurrency {
            f.want_start = true;
        }
        host.work.notify_all();
    }
    if kind == super::invoke::InvocationType::Event {
        let h = [("X-Amzn-RequestId", id.as_str())];
        return runtime_api::write_response(conn, 202, &h, b"").is_ok();
    }
    let limit = Instant::now() + timeout + QUEUE_GRACE;
    let mut done = lock(&inv.done);
    while done.is_none() {
        let left = limit.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        done = match inv.finished.wait_timeout(done, left) {
            Ok((g, _)) => g,
            Err(p) => p.into_inner().0,
        };
    }
    let result = done.take();
    drop(done);
    match result {
        Some(d) => {
            let mut h = vec![
                ("Content-Type", "application/json"),
                ("X-Amz-Executed-Version", "$LATEST"),
                ("X-Amzn-RequestId", id.as_str()),
            ];
            if let Some(e) = d.function_error {
                h.push(("X-Amz-Function-Error", e));
            }
            runtime_api::write_response(conn, 200, &h, &d.body).is_ok()
        }
        None => {
            // Never picked up in time: withdraw it so no process runs it later.
            let mut fns = lock(&host.functions);
            for f in fns.iter_mut() {
                f.queue.retain(|q| q.id != id);
            }
            drop(fns);
            let body = json_error(
                "ServiceException",
                "the function host could not run the invocation in time",
            );
            let h = [
                ("Content-Type", "application/json"),
                ("x-amzn-ErrorType", "ServiceException"),
            ];
            runtime_api::write_response(conn, 500, &h, &body).is_ok()
        }
    }
}

/// One Runtime API call from function process `(f, s)`.
fn runtime_request(
    host: &Host,
    f: usize,
    s: usize,
    req: &HttpRequest,
    conn: &mut TcpStream,
) -> bool {
    let accepted = |conn: &mut TcpStream| {
        runtime_api::write_response(
            conn,
            202,
            &[("Content-Type", "application/json")],
            br#"{"status":"OK"}"#,
        )
        .is_ok()
    };
    match runtime_api::runtime_call(&req.method, &req.target) {
        RuntimeCall::Next => next_invocation(host, f, s, conn),
        RuntimeCall::Response(id) | RuntimeCall::Error(id) => {
            let error = matches!(
                runtime_api::runtime_call(&req.method, &req.target),
                RuntimeCall::Error(_)
            );
            let inv = {
                let mut fns = lock(&host.functions);
                let Some(slot) = fns.get_mut(f).and_then(|x| x.slots.get_mut(s)) else {
                    return false;
                };
                match &slot.busy {
                    Some((inv, _)) if inv.id == id => {
                        let inv = inv.clone();
                        slot.busy = None;
                        host.work.notify_all();
                        Some(inv)
                    }
                    _ => None,
                }
            };
            let Some(inv) = inv else {
                // Timed out and answered already, or never ours (Runtime API: 400).
                let body =
                    br#"{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}"#;
                return runtime_api::write_response(
                    conn,
                    400,
                    &[("Content-Type", "application/json")],
                    body,
                )
                .is_ok();
            };
            inv.finish(Done {
                function_error: error.then_some("Unhandled"),
                body: req.body.clone(),
            });
            accepted(conn)
        }
        RuntimeCall::InitError => {
            let mut fns = lock(&host.functions);
            let Some(fs) = fns.get_mut(f) else {
                return false;
            };
            crate::warn!(
                "tollgate: function `{}` failed to initialise: {}",
                fs.spec.name,
                String::from_utf8_lossy(&req.body)
            );
            if let Some(slot) = fs.slots.get_mut(s) {
                slot.init_failed = true;
            }
            // Lambda fails the invocation that cold-started the process with the init error.
            if let Some(inv) = fs.queue.pop_front() {
                inv.finish(Done {
                    function_error: Some("Unhandled"),
                    body: req.body.clone(),
                });
            }
            drop(fns);
            accepted(conn)
        }
        RuntimeCall::Unknown => runtime_api::write_response(
            conn,
            404,
            &[("Content-Type", "application/json")],
            br#"{"errorMessage":"not found"}"#,
        )
        .is_ok(),
    }
}

/// `/invocation/next`: long-poll until an invocation is queued for this function.
fn next_invocation(host: &Host, f: usize, s: usize, conn: &mut TcpStream) -> bool {
    let mut fns = lock(&host.functions);
    let Some(generation) = fns
        .get(f)
        .and_then(|x| x.slots.get(s))
        .map(|x| x.generation)
    else {
        return false;
    };
    // Each pass waits at most NEXT_POLL; the loop ends when work arrives or the slot's
    // process is replaced (the old one is gone).
    let inv = loop {
        let Some(fs) = fns.get_mut(f) else {
            return false;
        };
        let Some(slot) = fs.slots.get(s) else {
            return false;
        };
        if slot.generation != generation || slot.child.is_none() || slot.init_failed {
            return false;
        }
        if let Some(inv) = fs.queue.pop_front() {
            let deadline = SystemTime::now() + fs.spec.timeout;
            *lock(&inv.deadline_ms) = deadline
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            if let Some(slot) = fs.slots.get_mut(s) {
                slot.busy = Some((inv.clone(), Instant::now() + fs.spec.timeout));
            }
            break (inv, fs.spec.arn());
        }
        fns = match host.work.wait_timeout(fns, NEXT_POLL) {
            Ok((g, _)) => g,
            Err(p) => p.into_inner().0,
        };
    };
    drop(fns);
    let (inv, arn) = inv;
    let deadline = lock(&inv.deadline_ms).to_string();
    let trace = format!(
        "Root=1-{:08x}-{}",
        now_secs(),
        &inv.id.replace('-', "")[..24]
    );
    let h = [
        ("Content-Type", "application/json"),
        ("Lambda-Runtime-Aws-Request-Id", inv.id.as_str()),
        ("Lambda-Runtime-Deadline-Ms", deadline.as_str()),
        ("Lambda-Runtime-Invoked-Function-Arn", arn.as_str()),
        ("Lambda-Runtime-Trace-Id", trace.as_str()),
    ];
    if runtime_api::write_response(conn, 200, &h, &inv.payload).is_err() {
        // The process went away between asking and receiving: hand the work back.
        let mut fns = lock(&host.functions);
        if let Some(fs) = fns.get_mut(f) {
            if let Some(slot) = fs.slots.get_mut(s) {
                if slot.busy.as_ref().is_some_and(|(b, _)| b.id == inv.id) {
                    slot.busy = None;
                }
            }
            fs.queue.push_front(inv);
        }
        host.work.notify_all();
        return false;
    }
    true
}

/// The supervisor: starts wanted processes, kills overrunning ones, reaps exited ones.
fn supervise(host: Arc<Host>) {
    loop {
        let mut fns = lock(&host.functions);
        let mut start_listeners = Vec::new();
        for (fi, fs) in fns.iter_mut().enumerate() {
            let timeout = fs.spec.timeout;
            let mut failed: Vec<(Arc<Invocation>, Vec<u8>)> = Vec::new();
            for slot in &mut fs.slots {
                let Some(child) = slot.child.as_mut() else {
                    continue;
                };
                // Timeout: kill the process, fail the invocation as Lambda does.
                if let Some((inv, deadline)) = &slot.busy {
                    if Instant::now() >= *deadline {
                        let secs = timeout.as_secs_f64();
                        let body = format!(
                            r#"{{"errorType":"Sandbox.Timedout","errorMessage":"RequestId: {} Error: Task timed out after {secs:.2} seconds"}}"#,
                            inv.id
                        );
                        failed.push((inv.clone(), body.into_bytes()));
                        slot.busy = None;
                        kill_group(child);
                        slot.child = None;
                        slot.generation += 1;
                        continue;
                    }
                }
                if let Ok(Some(status)) = child.try_wait() {
                    let _ = child.wait();
                    slot.child = None;
                    slot.generation += 1;
                    let why = format!("Runtime exited with error: {status}");
                    if let Some((inv, _)) = slot.busy.take() {
                        let body = format!(
                            r#"{{"errorType":"Runtime.ExitError","errorMessage":"RequestId: {} Error: {why}"}}"#,
                            inv.id
                        );
                        failed.push((inv, body.into_bytes()));
                    } else if !slot.init_failed {
                        crate::warn!(
                            "tollgate: function `{}` process exited ({status}) before taking work",
                            fs.spec.name
                        );
                        // A process that cannot start would be restarted forever: fail the
                        // invocation it was started for instead.
                        if let Some(inv) = fs.queue.pop_front() {
                            let body = format!(
                                r#"{{"errorType":"Runtime.ExitError","errorMessage":"RequestId: {} Error: {why}"}}"#,
                                inv.id
                            );
                            failed.push((inv, body.into_bytes()));
                        }
                    }
                    slot.init_failed = false;
                }
            }
            for (inv, body) in failed {
                inv.finish(Done {
                    function_error: Some("Unhandled"),
                    body,
                });
            }
            if !fs.queue.is_empty() && fs.queue.len() > fs.free() && fs.live() < fs.spec.concurrency
            {
                fs.want_start = true;
            }
            if fs.want_start {
                fs.want_start = false;
                match start_process(fi, fs) {
                    Ok(Some(listener)) => start_listeners.push(listener),
                    Ok(None) => {}
                    Err(e) => {
                        crate::warn!("tollgate: cannot start function `{}`: {e}", fs.spec.name);
                        if let Some(inv) = fs.queue.pop_front() {
                            let body = format!(
                                r#"{{"errorType":"Runtime.ExitError","errorMessage":"RequestId: {} Error: cannot start the runtime: {e}"}}"#,
                                inv.id
                            );
                            inv.finish(Done {
                                function_error: Some("Unhandled"),
                                body: body.into_bytes(),
                            });
                        }
                    }
                }
            }
        }
        host.work.notify_all();
        let _ = host.work.wait_timeout(fns, SUPERVISOR_TICK);
        for (slot, listener) in start_listeners {
            let h = host.clone();
            let _ = std::thread::Builder::new()
                .name("tollgate-fn-runtime".into())
                .spawn(move || accept_loop(h, listener, Some(slot)));
        }
    }
}

type NewListener = ((usize, usize), TcpListener);

/// Starts a process in a free slot; returns a new slot's Runtime API listener, if one was made.
fn start_process(fi: usize, fs: &mut FunctionState) -> io::Result<Option<NewListener>> {
    let si = match fs.slots.iter().position(|s| s.child.is_none()) {
        Some(i) => i,
        None if fs.slots.len() < fs.spec.concurrency => {
            fs.slots.push(Slot::default());
            fs.slots.len() - 1
        }
        None => return Ok(None),
    };
    let mut new_listener = None;
    if fs.slots[si].port == 0 {
        let l = TcpListener::bind("127.0.0.1:0")?;
        fs.slots[si].port = l.local_addr()?.port();
        new_listener = Some(((fi, si), l));
    }
    let spec = &fs.spec;
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(format!("exec {}", spec.command));
    if let Some(cwd) = &spec.cwd {
        cmd.current_dir(cwd).env("LAMBDA_TASK_ROOT", cwd);
    }
    cmd.env(
        "AWS_LAMBDA_RUNTIME_API",
        format!("127.0.0.1:{}", fs.slots[si].port),
    )
    .env("AWS_LAMBDA_FUNCTION_NAME", &spec.name)
    .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
    .env(
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        spec.memory_mb.to_string(),
    )
    .env(
        "AWS_LAMBDA_LOG_GROUP_NAME",
        format!("/aws/lambda/{}", spec.name),
    )
    .env("AWS_LAMBDA_LOG_STREAM_NAME", format!("tollgate/{si}"))
    .env("AWS_REGION", &spec.region)
    .env("AWS_DEFAULT_REGION", &spec.region)
    .envs(spec.environment.iter().map(|(k, v)| (k, v)))
    .stdin(Stdio::null())
    .stdout(Stdio::inherit())
    .stderr(Stdio::inherit());
    {
        use std::os::unix::process::CommandExt as _;
        cmd.process_group(0);
        // SAFETY: prctl is async-signal-safe; it only asks the kernel to kill the child
        // when the supervisor thread (its parent) dies, so no function outlives the gateway.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
    }
    let child = cmd.spawn()?;
    let slot = &mut fs.slots[si];
    slot.child = Some(child);
    slot.generation += 1;
    slot.init_failed = false;
    slot.busy = None;
    Ok(new_listener)
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn uuid() -> String {
    String::from_utf8_lossy(&crate::http::response::request_id()).into_owned()
}
