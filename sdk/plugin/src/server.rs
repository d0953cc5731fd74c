//! The plugin side of a session, independent of the transport. Incoming lines are routed by
//! [`Session::route`] on whatever thread delivers them (the stdin reader, or the host's own
//! thread for a library): requests go to the worker, responses to waiting `host/prompt`
//! calls, `$/cancel` to the running request. The worker ([`serve`]) answers requests one at a
//! time. A library session starts its worker only for the first request that needs one:
//! `initialize` and `shutdown` alone (a host listing plugins) are answered on the caller's
//! thread, which makes such a session cost microseconds.

use std::collections::HashMap;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use pyve_protocol::error::{code, kind};
use pyve_protocol::framing::{self, DecodeError};
use pyve_protocol::methods::{NotificationMethod, RequestMethod, notification, request};
use pyve_protocol::types::*;
use pyve_protocol::{ErrorObject, Id, Message, PROTOCOL_VERSION, ProtocolVersion, Request, Response};
use serde_json::Value;

use crate::{Context, Error, Plugin};

/// Where outgoing lines go (stdout, a library callback, a test channel).
pub(crate) type Sink = Box<dyn Fn(&[u8]) -> io::Result<()> + Send + Sync>;

/// State shared by whoever routes input and the worker.
pub(crate) struct Session {
    sink: Sink,
    /// Requests for the worker; `None` once the input has ended.
    work: Mutex<Option<mpsc::Sender<Request>>>,
    /// `host/prompt` calls waiting for their answer.
    pending: Mutex<HashMap<Id, mpsc::Sender<Response>>>,
    /// The request being handled and its cancellation flag.
    current: Mutex<Option<(Id, Arc<AtomicBool>)>>,
    /// Requests cancelled while still queued: answered `cancelled` without running.
    cancelled_early: Mutex<Vec<Id>>,
    /// The input ended: no answer will come any more.
    input_closed: AtomicBool,
    counter: AtomicU64,
    /// What `initialize` agreed on.
    initialized: Mutex<Option<InitializeParams>>,
    /// A worker not started yet (library sessions).
    lazy: Mutex<Option<LazyWorker>>,
}

/// How a library session starts its worker, and ends without one.
pub(crate) struct LazyWorker {
    /// The plugin, to answer `initialize` without the worker.
    pub(crate) plugin: Arc<Plugin>,
    /// Start the worker (it sends the end marker when it finishes).
    pub(crate) start: Box<dyn FnOnce() + Send>,
    /// Send the end marker, when the session ends without a worker.
    pub(crate) end: Box<dyn FnOnce() + Send>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Session {
    /// A new session writing to `sink`, and the receiving end of its work queue (for
    /// [`serve`]).
    pub(crate) fn new(sink: Sink) -> (Arc<Self>, mpsc::Receiver<Request>) {
        let (tx, rx) = mpsc::channel();
        let session = Session {
            sink,
            work: Mutex::new(Some(tx)),
            pending: Mutex::default(),
            current: Mutex::default(),
            cancelled_early: Mutex::default(),
            input_closed: AtomicBool::new(false),
            counter: AtomicU64::new(1),
            initialized: Mutex::default(),
            lazy: Mutex::default(),
        };
        (Arc::new(session), rx)
    }

    /// Start the worker lazily: `lazy` runs it on the first request that needs one.
    pub(crate) fn set_lazy(&self, lazy: LazyWorker) {
        *lock(&self.lazy) = Some(lazy);
    }

    /// End a session whose worker never started: send the end marker now.
    pub(crate) fn end_without_worker(&self) {
        if let Some(l) = lock(&self.lazy).take() {
            drop(l.start);
            (l.end)();
        }
    }

    /// Answer `initialize` or `shutdown` on the caller's thread when no worker has started
    /// (so nothing is queued before it). `Ok(true)` when it was answered, `Err` with the
    /// request when it is for the worker.
    fn answer_inline(&self, req: Request) -> Result<bool, Request> {
        let is_init = req.method == request::Initialize::METHOD;
        if !is_init && req.method != request::Shutdown::METHOD {
            return Err(req);
        }
        let mut lazy = lock(&self.lazy);
        let Some(l) = lazy.as_ref() else { return Err(req) };
        if is_init {
            let outcome = initialize(&l.plugin, &req);
            drop(lazy);
            if outcome.is_ok() {
                *lock(&self.initialized) = req.params::<request::Initialize>().ok();
            }
            self.send(Message::Response(Response { id: Some(req.id), outcome }));
            return Ok(true);
        }
        let l = lazy.take().expect("checked above");
        drop(lazy);
        self.send(Message::Response(Response::ok::<request::Shutdown>(req.id, &())));
        self.input_closed.store(true, Ordering::SeqCst);
        lock(&self.work).take();
        drop(l.start);
        (l.end)();
        // The message was taken; the next one finds the session closed.
        Ok(true)
    }

    fn send(&self, message: Message) {
        // A host that stopped listening cannot be told anything; the end of the input follows.
        let _ = (self.sink)(&framing::encode(&message));
    }

    pub(crate) fn notify(&self, n: pyve_protocol::Notification) {
        self.send(Message::Notification(n));
    }

    pub(crate) fn next_token(&self) -> String {
        format!("t{}", self.counter.fetch_add(1, Ordering::Relaxed))
    }

    /// Route one incoming line. Returns `false` when the session no longer takes input.
    pub(crate) fn route(&self, line: &[u8]) -> bool {
        match framing::decode(line) {
            Ok(Message::Request(req)) => {
                let req = match self.answer_inline(req) {
                    Ok(more) => return more,
                    Err(req) => req,
                };
                let worker = lock(&self.lazy).take();
                if let Some(l) = worker {
                    drop(l.end);
                    (l.start)();
                }
                return lock(&self.work).as_ref().is_some_and(|tx| tx.send(req).is_ok());
            }
            Ok(Message::Response(resp)) => {
                let waiter = resp.id.as_ref().and_then(|id| lock(&self.pending).remove(id));
                if let Some(waiter) = waiter {
                    let _ = waiter.send(resp);
                }
            }
            Ok(Message::Notification(n)) => {
                if n.method == notification::Cancel::METHOD
                    && let Ok(p) = n.params::<notification::Cancel>()
                {
                    match lock(&self.current).as_ref() {
                        Some((id, flag)) if *id == p.id => flag.store(true, Ordering::SeqCst),
                        // Not running (yet): if it is still queued it will be answered
                        // `cancelled`; an id already answered is forgotten with the next request.
                        _ => lock(&self.cancelled_early).push(p.id),
                    }
                }
                // Other notifications are ignored: newer hosts may send ones we do not know.
            }
            Err(e) => {
                let (code, kind) = match e {
                    DecodeError::Invalid { .. } => (code::INVALID_REQUEST, kind::INVALID_REQUEST),
                    _ => (code::PARSE_ERROR, kind::PARSE_ERROR),
                };
                let id = e.id().cloned();
                self.send(Message::Response(Response::err(id, ErrorObject::new(code, kind, e.to_string()))));
            }
        }
        true
    }

    /// The input ended: the host is gone or done. The running request is cancelled (nobody
    /// will read its answer, and its half-made work must be cleaned up), the worker stops
    /// after it, and `host/prompt` calls waiting for an answer fail.
    pub(crate) fn close_input(&self) {
        self.input_closed.store(true, Ordering::SeqCst);
        if let Some((_, flag)) = lock(&self.current).as_ref() {
            flag.store(true, Ordering::SeqCst);
        }
        lock(&self.work).take();
        lock(&self.pending).clear();
    }

    /// Send a request to the host and wait for its answer.
    pub(crate) fn request<M: RequestMethod>(&self, params: &M::Params) -> Result<M::Result, Error> {
        let id = Id::String(format!("p{}", self.counter.fetch_add(1, Ordering::Relaxed)));
        let (tx, rx) = mpsc::channel();
        lock(&self.pending).insert(id.clone(), tx);
        if self.input_closed.load(Ordering::SeqCst) {
            return Err(Error::new(kind::IO, "the host closed the session"));
        }
        self.send(Message::Request(Request::new::<M>(id, params)));
        let response = rx.recv().map_err(|_| Error::new(kind::IO, "the host closed the session before answering"))?;
        match response.result::<M>() {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(e)) => Err(Error::new(
                kind::INVALID_REQUEST,
                format!("the host answered `{}` with an unexpected result: {e}", M::METHOD),
            )),
            Err(e) => Err(Error(e.clone())),
        }
    }
}

/// The worker: answer requests until `shutdown` or the end of the input. Returns the process
/// exit code (0; the protocol has no failure exit).
pub(crate) fn serve(plugin: &Plugin, session: &Session, work: mpsc::Receiver<Request>) -> i32 {
    while let Some(req) = next_request(&work) {
        let id = req.id.clone();
        if req.method == request::Shutdown::METHOD {
            session.send(Message::Response(Response::ok::<request::Shutdown>(id, &())));
            return 0;
        }
        let early = {
            let mut early = lock(&session.cancelled_early);
            let hit = early.iter().position(|c| *c == id).map(|i| early.remove(i)).is_some();
            early.clear();
            hit
        };
        let outcome = if early {
            Err(ErrorObject::cancelled())
        } else if req.method == request::Initialize::METHOD {
            initialize(plugin, &req).inspect(|_| *lock(&session.initialized) = req.params::<request::Initialize>().ok())
        } else if let Some(init) = lock(&session.initialized).clone() {
            let flag = Arc::new(AtomicBool::new(false));
            *lock(&session.current) = Some((id.clone(), Arc::clone(&flag)));
            let mut cx = Context {
                session,
                cancelled: flag,
                settings: init.settings.clone(),
                project_root: init.project.as_ref().map(|p| p.root.as_path()),
            };
            let outcome =
                catch_unwind(AssertUnwindSafe(|| dispatch(plugin, &mut cx, &req))).unwrap_or_else(|payload| {
                    Err(ErrorObject::internal(format!(
                        "plugin `{}` panicked while handling `{}`: {}",
                        plugin.name,
                        req.method,
                        panic_message(&*payload)
                    )))
                });
            *lock(&session.current) = None;
            outcome
        } else {
            Err(ErrorObject::new(
                code::INVALID_REQUEST,
                kind::INVALID_REQUEST,
                format!("`{}` before `initialize`: the session must start with `initialize`", req.method),
            ))
        };
        session.send(Message::Response(Response { id: Some(id), outcome }));
    }
    0
}

/// The next request. A host usually sends the next request within microseconds of an
/// answer (in-process, `initialize` is followed by a call, a call by `shutdown`): wait for it
/// briefly without sleeping, since waking a sleeping thread costs more than the whole exchange.
fn next_request(work: &mpsc::Receiver<Request>) -> Option<Request> {
    let spin_until = std::time::Instant::now() + std::time::Duration::from_micros(30);
    loop {
        match work.try_recv() {
            Ok(req) => return Some(req),
            Err(mpsc::TryRecvError::Disconnected) => return None,
            Err(mpsc::TryRecvError::Empty) if std::time::Instant::now() < spin_until => std::hint::spin_loop(),
            Err(mpsc::TryRecvError::Empty) => return work.recv().ok(),
        }
    }
}

/// The text of a panic payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_owned()
    }
}

fn initialize(plugin: &Plugin, req: &Request) -> Result<Value, ErrorObject> {
    let params = req.params::<request::Initialize>().map_err(|e| ErrorObject::invalid_params(&req.method, e))?;
    if params.protocol_versions.is_empty() {
        return Err(ErrorObject::invalid_params(
            &req.method,
            "`protocol_versions` is empty: offer at least one version",
        ));
    }
    match ProtocolVersion::negotiate(&[PROTOCOL_VERSION], &params.protocol_versions) {
        Some(version) => Ok(to_value(&plugin.manifest(version))),
        None => {
            let offered: Vec<String> = params.protocol_versions.iter().map(ToString::to_string).collect();
            Err(ErrorObject::new(
                code::INCOMPATIBLE_PROTOCOL,
                kind::INCOMPATIBLE_PROTOCOL,
                format!(
                    "no shared protocol version: {} {} speaks {}, plugin {} {} speaks {PROTOCOL_VERSION}",
                    params.host.name,
                    params.host.version,
                    offered.join(", "),
                    plugin.name,
                    plugin.version
                ),
            )
            .with_hint(format!(
                "install a version of pyve-{} built for protocol {}, or a {} that speaks protocol {}",
                plugin.name,
                {
                    let mut majors: Vec<u32> = params.protocol_versions.iter().map(|v| v.major).collect();
                    majors.sort_unstable();
                    majors.dedup();
                    majors.iter().map(u32::to_string).collect::<Vec<_>>().join("/")
                },
                params.host.name,
                PROTOCOL_VERSION.major
            ))
            .with_details(serde_json::json!({ "plugin": [PROTOCOL_VERSION], "host": offered })))
        }
    }
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    let mut v = serde_json::to_value(v).expect("protocol types serialize");
    pyve_protocol::sort_keys(&mut v);
    v
}

/// Decode the params of `M`, run `f`, encode its result.
fn typed<M: RequestMethod>(
    req: &Request,
    f: impl FnOnce(M::Params) -> crate::Result<M::Result>,
) -> Result<Value, ErrorObject> {
    let params = req.params::<M>().map_err(|e| ErrorObject::invalid_params(M::METHOD, e))?;
    f(params).map(|r| to_value(&r)).map_err(Error::into_object)
}

fn dispatch(plugin: &Plugin, cx: &mut Context<'_>, req: &Request) -> Result<Value, ErrorObject> {
    use request::*;
    let backend = |name: &str| {
        plugin.backends.iter().find(|(info, _)| info.name == name).map(|(_, b)| Arc::clone(b)).ok_or_else(|| {
            let known: Vec<&str> = plugin.backends.iter().map(|(i, _)| i.name.as_str()).collect();
            Error::invalid_params(format!(
                "plugin `{}` has no backend `{name}` (it provides: {})",
                plugin.name,
                if known.is_empty() { "no backends".to_owned() } else { known.join(", ") }
            ))
        })
    };
    match req.method.as_str() {
        EnvCreate::METHOD => typed::<EnvCreate>(req, |p| backend(&p.backend)?.create(cx, p)),
        EnvDescribe::METHOD => typed::<EnvDescribe>(req, |p| backend(&p.backend)?.describe(cx, p)),
        EnvActivation::METHOD => typed::<EnvActivation>(req, |p| backend(&p.backend)?.activation(cx, p)),
        EnvRemove::METHOD => typed::<EnvRemove>(req, |p| backend(&p.backend)?.remove(cx, p)),
        DoctorChecks::METHOD => typed::<DoctorChecks>(req, |p| backend(&p.backend)?.doctor(cx, p)),
        HookPostCreate::METHOD => {
            let hooks: Vec<_> = plugin.hooks.iter().filter(|(i, _)| i.event == "post-create").collect();
            if hooks.is_empty() {
                return Err(ErrorObject::method_not_found(&req.method));
            }
            typed::<HookPostCreate>(req, |p| {
                let mut merged = HookResult::default();
                for (_, hook) in hooks {
                    let r = hook.post_create(cx, p.clone())?;
                    merged.changed |= r.changed;
                    merged.summary = r.summary.or(merged.summary);
                }
                Ok(merged)
            })
        }
        other => Err(ErrorObject::method_not_found(other)),
    }
}

/// Serve on stdin/stdout. Before anything else, the protocol's stdout is moved to a private
/// descriptor and descriptor 1 is pointed at stderr, so a stray `println!` in plugin code (or
/// in a library it uses) shows up for the user instead of corrupting the protocol.
pub(crate) fn serve_stdio(plugin: &Plugin) -> i32 {
    use std::io::Write;

    let out = Mutex::new(protocol_stdout());
    let sink: Sink = Box::new(move |line| {
        let mut out = lock(&out);
        out.write_all(line)?;
        out.flush()
    });
    let (session, work) = Session::new(sink);
    let reader_session = Arc::clone(&session);
    let reader = std::thread::Builder::new().name("pyve-sdk-reader".into()).spawn(move || {
        let mut reader = framing::LineReader::new(io::BufReader::new(protocol_stdin()));
        loop {
            match reader.next_line() {
                Ok(Some(line)) => {
                    if !reader_session.route(line) {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    // The framing is lost: nothing after this can be read reliably.
                    eprintln!("pyve plugin: ending the session: {e}");
                    break;
                }
            }
        }
        reader_session.close_input();
    });
    if reader.is_err() {
        return 1;
    }
    serve(plugin, &session, work)
}

#[cfg(unix)]
fn protocol_stdout() -> Box<dyn io::Write + Send> {
    use std::os::fd::FromRawFd;
    // SAFETY: dup and dup2 only duplicate descriptors this process owns (0-2 are open in any
    // process the host starts); on failure we keep writing to the plain stdout.
    unsafe {
        let fd = libc::dup(1);
        if fd >= 0 && libc::dup2(2, 1) >= 0 {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            return Box::new(std::fs::File::from_raw_fd(fd));
        }
    }
    Box::new(io::stdout())
}

#[cfg(not(unix))]
fn protocol_stdout() -> Box<dyn io::Write + Send> {
    Box::new(io::stdout())
}

/// The protocol's input. Descriptor 0 is moved to a private descriptor and pointed at
/// `/dev/null`, so that a child process the plugin starts (an installer, a compiler) cannot
/// read the host's messages meant for the plugin.
#[cfg(unix)]
fn protocol_stdin() -> Box<dyn io::Read + Send> {
    use std::os::fd::FromRawFd;
    // SAFETY: dup/open/dup2 only duplicate or replace descriptors this process owns; on any
    // failure the plain stdin is used.
    unsafe {
        let fd = libc::dup(0);
        if fd >= 0 {
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY);
            if null >= 0 && libc::dup2(null, 0) >= 0 {
                libc::close(null);
                libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                return Box::new(std::fs::File::from_raw_fd(fd));
            }
            libc::close(fd);
        }
    }
    Box::new(io::stdin())
}

#[cfg(not(unix))]
fn protocol_stdin() -> Box<dyn io::Read + Send> {
    Box::new(io::stdin())
}
