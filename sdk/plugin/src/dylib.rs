//! The dynamic-library transport: the same JSON messages as an executable's stdin/stdout,
//! exchanged through a C ABI (version [`ABI_VERSION`], described in `docs/protocol.md`).
//!
//! A library exports four symbols, which [`export_dylib!`](crate::export_dylib) generates:
//!
//! ```c
//! uint32_t pyve_plugin_abi_version(void);
//! void *pyve_plugin_open(void (*callback)(void *ctx, const uint8_t *msg, size_t len), void *ctx);
//! int32_t pyve_plugin_send(void *session, const uint8_t *msg, size_t len);
//! void pyve_plugin_close(void *session);
//! ```
//!
//! `send` takes the message (one JSON-RPC message, no newline needed) and returns at once;
//! the plugin answers on its own thread through `callback`, whose buffer is only borrowed for
//! the duration of the call. A call with `msg == NULL, len == 0` says the plugin side has
//! ended the session. No panic crosses the boundary: every entry point catches them.

use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, mpsc};

use crate::Plugin;
use crate::server::{self, Sink, serve};

/// The version of the C ABI. The host refuses a library reporting another version.
pub const ABI_VERSION: u32 = 1;

/// The host's callback: receives each message the plugin sends, and finally `(NULL, 0)`.
pub type Callback = unsafe extern "C" fn(ctx: *mut c_void, message: *const u8, len: usize);

/// `pyve_plugin_send` succeeded.
pub const SEND_OK: i32 = 0;
/// A null session or message pointer.
pub const SEND_INVALID: i32 = -1;
/// The session has ended; nothing will read the message.
pub const SEND_CLOSED: i32 = -2;
/// The plugin panicked while taking the message.
pub const SEND_PANICKED: i32 = -3;

/// One session of a library plugin: incoming messages are routed on the host's thread
/// (inside `send`), requests are answered on a worker thread of the library.
#[derive(Debug)]
pub struct Session {
    session: Arc<server::Session>,
    /// Receives once the worker has finished serving the session.
    done: Mutex<mpsc::Receiver<()>>,
}

type Job = Box<dyn FnOnce() + Send>;

/// Idle worker threads of this library. Starting a thread costs more than a whole in-process
/// session, so a finished worker waits here for the next session instead of exiting.
static IDLE: Mutex<Vec<mpsc::Sender<Job>>> = Mutex::new(Vec::new());

/// Run `job` on an idle worker, or on a new one.
fn run_on_worker(job: Job) -> std::io::Result<()> {
    let idle = IDLE.lock().unwrap_or_else(|e| e.into_inner()).pop();
    let job = match idle {
        Some(worker) => match worker.send(job) {
            Ok(()) => return Ok(()),
            Err(mpsc::SendError(job)) => job,
        },
        None => job,
    };
    let (tx, rx) = mpsc::channel::<Job>();
    std::thread::Builder::new().name("pyve-plugin-worker".into()).spawn(move || {
        let mut next = Some(job);
        while let Some(job) = next.take() {
            // A panic escaping a session (a bug in the SDK) ends this worker, not the host.
            if catch_unwind(AssertUnwindSafe(job)).is_err() {
                return;
            }
            IDLE.lock().unwrap_or_else(|e| e.into_inner()).push(tx.clone());
            next = rx.recv().ok();
        }
    })?;
    Ok(())
}

struct HostCallback {
    callback: Callback,
    ctx: *mut c_void,
}

// SAFETY: the ABI requires the host's callback and context to be usable from any thread
// (the plugin answers from its own thread); the host's side guarantees it.
unsafe impl Send for HostCallback {}
// SAFETY: as above; calls are serialised by the sink's caller.
unsafe impl Sync for HostCallback {}

impl HostCallback {
    fn call(&self, bytes: &[u8]) {
        // SAFETY: the host promised that `callback` stays valid with `ctx` until it has
        // received the final (NULL, 0) call; `bytes` outlives the call.
        unsafe { (self.callback)(self.ctx, bytes.as_ptr(), bytes.len()) }
    }

    fn end(&self) {
        // SAFETY: as in `call`; (NULL, 0) is the end-of-session marker.
        unsafe { (self.callback)(self.ctx, std::ptr::null(), 0) }
    }
}

/// Sends the end-of-session marker however the serving thread ends, even by a panic.
struct EndGuard(Arc<HostCallback>);

impl Drop for EndGuard {
    fn drop(&mut self) {
        self.0.end();
    }
}

/// `pyve_plugin_open`: start a session. Returns null when the plugin could not start.
pub fn open(callback: Callback, ctx: *mut c_void, make: fn() -> Plugin) -> *mut c_void {
    let host = Arc::new(HostCallback { callback, ctx });
    let started = catch_unwind(AssertUnwindSafe(|| {
        let plugin = make();
        let out = Arc::clone(&host);
        let sink: Sink = Box::new(move |line: &[u8]| {
            let line = line.strip_suffix(b"\n").unwrap_or(line);
            out.call(line);
            Ok(())
        });
        let (session, work) = server::Session::new(sink);
        let worker = Arc::clone(&session);
        let guard_host = Arc::clone(&host);
        let (done_tx, done) = mpsc::channel();
        let plugin = Arc::new(plugin);
        let worker_plugin = Arc::clone(&plugin);
        let start: Job = Box::new(move || {
            let job: Job = Box::new(move || {
                {
                    let _guard = EndGuard(guard_host);
                    serve(&worker_plugin, &worker, work);
                }
                // Only once the end marker's callback has returned: `close` waits for this, and
                // a host may free `ctx` as soon as `close` returns. Signalled before the marker,
                // `close` could return (and the host free `ctx`) while the host's callback was
                // still running on this thread, writing to freed memory.
                let _ = done_tx.send(());
            });
            if run_on_worker(job).is_err() {
                // No thread: the request waits in vain and the host's timeout says so.
            }
        });
        let end_host = Arc::clone(&host);
        let end: Job = Box::new(move || end_host.end());
        session.set_lazy(server::LazyWorker { plugin, start, end });
        Some(Session { session, done: Mutex::new(done) })
    }));
    match started {
        Ok(Some(session)) => Box::into_raw(Box::new(session)).cast(),
        _ => std::ptr::null_mut(),
    }
}

/// `pyve_plugin_send`: hand one message to the session.
///
/// # Safety
/// `session` must come from [`open`] and not be closed; `message` must point to `len`
/// readable bytes for the duration of the call.
pub unsafe fn send(session: *mut c_void, message: *const u8, len: usize) -> i32 {
    if session.is_null() || (message.is_null() && len > 0) {
        return SEND_INVALID;
    }
    catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the caller passes a live session from `open`.
        let session = unsafe { &*(session as *const Session) };
        let bytes: &[u8] = if len == 0 {
            &[]
        } else {
            // SAFETY: the caller guarantees `len` readable bytes at `message`.
            unsafe { std::slice::from_raw_parts(message, len) }
        };
        if session.session.route(bytes) { SEND_OK } else { SEND_CLOSED }
    }))
    .unwrap_or(SEND_PANICKED)
}

/// `pyve_plugin_close`: end the input and wait for the session's worker to finish its
/// current request and for the end marker's callback to return. The session pointer is
/// invalid afterwards, and the library never touches the host's callback or context again.
///
/// # Safety
/// `session` must come from [`open`] and not be closed already.
pub unsafe fn close(session: *mut c_void) {
    if session.is_null() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the caller passes a live session from `open`, and gives it up.
        let session = unsafe { Box::from_raw(session as *mut Session) };
        session.session.close_input();
        session.session.end_without_worker();
        let _ = session.done.lock().unwrap_or_else(|e| e.into_inner()).recv();
    }));
}

/// Export a plugin as a dynamic library. `$make` is a function returning the [`Plugin`].
///
/// ```ignore
/// fn plugin() -> pyve_sdk::Plugin { pyve_sdk::Plugin::new("hello", "0.1.0") }
/// pyve_sdk::export_dylib!(plugin);
/// ```
///
/// The crate must be built with `crate-type = ["cdylib"]`; pyve finds the library as
/// `libpyve_<name>.so` (dashes in the name become underscores).
#[macro_export]
macro_rules! export_dylib {
    ($make:path) => {
        /// The C ABI version this library implements.
        #[unsafe(no_mangle)]
        pub extern "C" fn pyve_plugin_abi_version() -> u32 {
            $crate::dylib::ABI_VERSION
        }

        /// Start a session.
        #[unsafe(no_mangle)]
        pub extern "C" fn pyve_plugin_open(
            callback: $crate::dylib::Callback,
            ctx: *mut ::std::ffi::c_void,
        ) -> *mut ::std::ffi::c_void {
            $crate::dylib::open(callback, ctx, $make)
        }

        /// Hand one message to a session.
        ///
        /// # Safety
        /// See `pyve_sdk::dylib::send`.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn pyve_plugin_send(
            session: *mut ::std::ffi::c_void,
            message: *const u8,
            len: usize,
        ) -> i32 {
            // SAFETY: forwarded from the host under the same contract.
            unsafe { $crate::dylib::send(session, message, len) }
        }

        /// End a session.
        ///
        /// # Safety
        /// See `pyve_sdk::dylib::close`.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn pyve_plugin_close(session: *mut ::std::ffi::c_void) {
            // SAFETY: forwarded from the host under the same contract.
            unsafe { $crate::dylib::close(session) }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use pyve_protocol::methods::{RequestMethod, request};
    use pyve_protocol::{Id, Message, Request, framing};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    /// The host's state: `returned` is set when the end marker's callback returns.
    struct Host {
        returned: AtomicBool,
    }

    unsafe extern "C" fn slow_host(ctx: *mut c_void, msg: *const u8, _len: usize) {
        // SAFETY: `ctx` is the `Host` the test keeps alive until `close` has returned.
        let host = unsafe { &*(ctx as *const Host) };
        if msg.is_null() {
            // A host callback still at work when the plugin sends the end marker.
            std::thread::sleep(Duration::from_millis(100));
            host.returned.store(true, Ordering::SeqCst);
        }
    }

    fn plugin() -> Plugin {
        Plugin::new("close-test", "0.1.0")
    }

    #[test]
    fn close_returns_after_the_end_marker_callback_returned() {
        let host = Box::new(Host { returned: AtomicBool::new(false) });
        let ctx = &*host as *const Host as *mut c_void;
        let session = open(slow_host, ctx, plugin);
        assert!(!session.is_null());
        // A request for the worker (answered "method not found"), so that the worker, not the
        // caller's thread, answers `shutdown` and sends the end marker.
        for (id, method) in [(1, "x/unknown"), (2, request::Shutdown::METHOD)] {
            let req = Request { id: Id::Number(id), method: method.into(), params: serde_json::Value::Null };
            let line = framing::encode(&Message::Request(req));
            // SAFETY: a live session; the buffer outlives the call.
            assert_eq!(unsafe { send(session, line.as_ptr(), line.len() - 1) }, SEND_OK);
        }
        // SAFETY: the session from `open`, closed once.
        unsafe { close(session) };
        assert!(host.returned.load(Ordering::SeqCst), "close returned while the host's callback was running");
    }
}
