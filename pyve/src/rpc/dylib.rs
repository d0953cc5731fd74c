//! The dynamic-library transport: the plugin runs in pyve's process and exchanges the same
//! JSON messages through the C ABI of `docs/protocol.md` (version 1): `pyve_plugin_abi_version`,
//! `pyve_plugin_open(callback, ctx)`, `pyve_plugin_send(session, msg, len)`,
//! `pyve_plugin_close(session)`. Libraries are never unloaded.
//!
//! Every call into the library (loading it, which runs its initialisers, `open`, each `send`,
//! `close`) is made by one worker thread per session while the caller waits with a deadline:
//! a library whose call never returns costs that deadline once, its session is abandoned (the
//! worker stays blocked, nothing more is asked of it) and pyve goes on with an error naming
//! the library and the call (issue 17, class 8).

use std::ffi::c_void;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{Event, Transport};

/// The C ABI version this host speaks.
pub const ABI_VERSION: u32 = 1;

/// How long a library call may take by default (the handshake's default): `send` and `close`
/// must return at once by the ABI, so this only ever bounds a broken library.
pub const DEFAULT_CALL_LIMIT: Duration = Duration::from_secs(10);

type AbiVersionFn = unsafe extern "C" fn() -> u32;
type CallbackFn = unsafe extern "C" fn(ctx: *mut c_void, msg: *const u8, len: usize);
type OpenFn = unsafe extern "C" fn(callback: CallbackFn, ctx: *mut c_void) -> *mut c_void;
type SendFn = unsafe extern "C" fn(session: *mut c_void, msg: *const u8, len: usize) -> i32;
type CloseFn = unsafe extern "C" fn(session: *mut c_void);

/// Why a library could not be loaded and opened.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadError {
    /// Loading or `pyve_plugin_open` did not return in time; the library is abandoned.
    Timeout {
        /// The C function (or `dlopen`) that did not return.
        call: &'static str,
        /// How long pyve waited.
        after: Duration,
    },
    /// Anything else, said in words.
    Failed(String),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Timeout { call, after } => {
                write!(f, "its `{call}` did not return within {:.1} s; the library is abandoned", after.as_secs_f64())
            }
            LoadError::Failed(why) => f.write_str(why),
        }
    }
}

/// A call the worker makes.
enum Call {
    Send(Vec<u8>),
    Close,
}

/// A session with a library plugin. The session itself lives on its worker thread.
#[derive(Debug)]
pub struct DylibTransport {
    calls: mpsc::Sender<Call>,
    results: mpsc::Receiver<i32>,
    events: mpsc::Receiver<Event>,
    limit: Duration,
    closed: bool,
    /// A call did not return in time: the worker is stuck in the library.
    abandoned: bool,
}

/// Receives the plugin's messages; runs on the plugin's thread.
unsafe extern "C" fn on_message(ctx: *mut c_void, msg: *const u8, len: usize) {
    // Nothing here may unwind into the plugin.
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: `ctx` is the leaked sender made in `open_session`, valid for the life of the
        // process.
        let tx = unsafe { &*(ctx as *const mpsc::Sender<Event>) };
        let event = if msg.is_null() {
            Event::Closed(None)
        } else {
            // SAFETY: the ABI guarantees `len` readable bytes at `msg` during this call.
            Event::Line(unsafe { std::slice::from_raw_parts(msg, len) }.to_vec())
        };
        let _ = tx.send(event);
    });
}

/// Wait for `rx` until `limit`, spinning briefly first: an in-process answer usually comes
/// within microseconds, and waking a sleeping thread costs more than the exchange itself.
fn wait<T>(rx: &mpsc::Receiver<T>, limit: Duration) -> Result<T, mpsc::RecvTimeoutError> {
    let spin_until = Instant::now() + Duration::from_micros(50).min(limit);
    loop {
        match rx.try_recv() {
            Ok(v) => return Ok(v),
            Err(mpsc::TryRecvError::Disconnected) => return Err(mpsc::RecvTimeoutError::Disconnected),
            Err(mpsc::TryRecvError::Empty) if Instant::now() < spin_until => std::hint::spin_loop(),
            Err(mpsc::TryRecvError::Empty) => break,
        }
    }
    rx.recv_timeout(limit)
}

/// Load the library, check its ABI version and open a session (on the worker thread).
fn open_session(path: &Path, tx: mpsc::Sender<Event>) -> Result<(*mut c_void, SendFn, CloseFn), String> {
    // SAFETY: loading runs the library's initialisers; pyve only loads files named like
    // plugins, from its search path, that are not world-writable (checked by the resolver).
    let lib = unsafe { libloading::Library::new(path) }.map_err(|e| e.to_string())?;
    // SAFETY: symbol types are those of the documented C ABI.
    let (open, send, close) = unsafe {
        let version: libloading::Symbol<'_, AbiVersionFn> = lib
            .get(b"pyve_plugin_abi_version\0")
            .map_err(|_| "it does not export `pyve_plugin_abi_version`: it is not a pyve plugin library".to_string())?;
        let found = version();
        if found != ABI_VERSION {
            return Err(format!("it implements plugin ABI version {found}; this pyve loads version {ABI_VERSION}"));
        }
        let open: OpenFn = *lib.get::<OpenFn>(b"pyve_plugin_open\0").map_err(|e| e.to_string())?;
        let send: SendFn = *lib.get::<SendFn>(b"pyve_plugin_send\0").map_err(|e| e.to_string())?;
        let close: CloseFn = *lib.get::<CloseFn>(b"pyve_plugin_close\0").map_err(|e| e.to_string())?;
        (open, send, close)
    };
    // Never unloaded: the plugin's threads or callbacks may outlive a session.
    std::mem::forget(lib);
    // Leaked on purpose: the plugin may call back until it has sent its end marker.
    let ctx = Box::into_raw(Box::new(tx)).cast::<c_void>();
    // SAFETY: `on_message` matches the callback type; `ctx` lives forever.
    let session = unsafe { open(on_message, ctx) };
    if session.is_null() {
        return Err("its `pyve_plugin_open` failed".into());
    }
    Ok((session, send, close))
}

impl DylibTransport {
    /// Load the library and open a session, each call bounded by [`DEFAULT_CALL_LIMIT`].
    pub fn load(path: &Path) -> Result<Self, String> {
        Self::load_within(path, DEFAULT_CALL_LIMIT).map_err(|e| e.to_string())
    }

    /// Load the library and open a session; loading and every later call into the library
    /// (`send`, `close`) may take at most `limit`.
    pub fn load_within(path: &Path, limit: Duration) -> Result<Self, LoadError> {
        let (tx, events) = mpsc::channel::<Event>();
        let (opened_tx, opened) = mpsc::channel::<Result<(), String>>();
        let (calls, calls_rx) = mpsc::channel::<Call>();
        let (results_tx, results) = mpsc::channel::<i32>();
        let owned = path.to_path_buf();
        let name = format!("pyve-dylib {}", path.file_name().unwrap_or_default().to_string_lossy());
        std::thread::Builder::new()
            .name(name)
            .spawn(move || {
                let (session, send, close) = match open_session(&owned, tx) {
                    Ok(s) => {
                        let _ = opened_tx.send(Ok(()));
                        s
                    }
                    Err(e) => {
                        let _ = opened_tx.send(Err(e));
                        return;
                    }
                };
                // Until the transport is dropped (an abandoned or killed session is never
                // closed: a stuck plugin thread cannot block pyve).
                while let Ok(call) = calls_rx.recv() {
                    match call {
                        Call::Send(msg) => {
                            // SAFETY: the session is open; the buffer is valid for the call.
                            let rc = unsafe { send(session, msg.as_ptr(), msg.len()) };
                            if results_tx.send(rc).is_err() {
                                return;
                            }
                        }
                        Call::Close => {
                            // SAFETY: the session is open and is given up here.
                            unsafe { close(session) };
                            let _ = results_tx.send(0);
                            return;
                        }
                    }
                }
            })
            .map_err(|e| LoadError::Failed(format!("cannot start a thread for it: {e}")))?;
        match opened.recv_timeout(limit) {
            Ok(Ok(())) => Ok(DylibTransport { calls, results, events, limit, closed: false, abandoned: false }),
            Ok(Err(e)) => Err(LoadError::Failed(e)),
            Err(mpsc::RecvTimeoutError::Timeout) => Err(LoadError::Timeout { call: "pyve_plugin_open", after: limit }),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                Err(LoadError::Failed("it ended pyve's loading thread (a panic in its initialisers?)".into()))
            }
        }
    }
}

impl Transport for DylibTransport {
    fn send(&mut self, line: &[u8]) -> std::io::Result<()> {
        if self.closed || self.abandoned {
            return Err(std::io::ErrorKind::BrokenPipe.into());
        }
        if self.calls.send(Call::Send(line.to_vec())).is_err() {
            return Err(std::io::ErrorKind::BrokenPipe.into());
        }
        match wait(&self.results, self.limit) {
            Ok(0) => Ok(()),
            Ok(-3) => Err(std::io::Error::other("the library panicked while taking the message")),
            Ok(_) | Err(mpsc::RecvTimeoutError::Disconnected) => Err(std::io::ErrorKind::BrokenPipe.into()),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                self.abandoned = true;
                Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "its `pyve_plugin_send` did not return within {:.1} s; the library is abandoned",
                        self.limit.as_secs_f64()
                    ),
                ))
            }
        }
    }

    fn recv(&mut self, timeout: Duration) -> Option<Event> {
        match wait(&self.events, timeout) {
            Ok(event) => Some(event),
            Err(mpsc::RecvTimeoutError::Timeout) => None,
            Err(mpsc::RecvTimeoutError::Disconnected) => Some(Event::Closed(None)),
        }
    }

    fn close(&mut self, grace: Duration) {
        if !self.closed && !self.abandoned {
            self.closed = true;
            // After `shutdown` the plugin's thread has nothing left to do, so `close` returns
            // promptly; one that does not is abandoned after the grace time.
            if self.calls.send(Call::Close).is_ok()
                && let Err(mpsc::RecvTimeoutError::Timeout) = wait(&self.results, grace.min(self.limit))
            {
                self.abandoned = true;
                crate::ui::debug("a library's `pyve_plugin_close` did not return in time; its session is abandoned");
            }
        }
    }

    fn kill(&mut self) {
        // A library cannot be stopped: its session is abandoned (never closed, so a stuck
        // plugin thread cannot block pyve) and pyve exits soon after.
        self.closed = true;
    }
}
