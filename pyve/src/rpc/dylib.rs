//! The dynamic-library transport: the plugin runs in pyve's process and exchanges the same
//! JSON messages through the C ABI of `docs/protocol.md` (version 1): `pyve_plugin_abi_version`,
//! `pyve_plugin_open(callback, ctx)`, `pyve_plugin_send(session, msg, len)`,
//! `pyve_plugin_close(session)`. Libraries are never unloaded.

use std::ffi::c_void;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use super::{Event, Transport};

/// The C ABI version this host speaks.
pub const ABI_VERSION: u32 = 1;

type AbiVersionFn = unsafe extern "C" fn() -> u32;
type CallbackFn = unsafe extern "C" fn(ctx: *mut c_void, msg: *const u8, len: usize);
type OpenFn = unsafe extern "C" fn(callback: CallbackFn, ctx: *mut c_void) -> *mut c_void;
type SendFn = unsafe extern "C" fn(session: *mut c_void, msg: *const u8, len: usize) -> i32;
type CloseFn = unsafe extern "C" fn(session: *mut c_void);

/// A session with a library plugin.
#[derive(Debug)]
pub struct DylibTransport {
    session: *mut c_void,
    send: SendFn,
    close: CloseFn,
    events: mpsc::Receiver<Event>,
    closed: bool,
}

// SAFETY: the ABI requires a session to accept `send` and `close` from any one thread at a
// time; the transport is used by one thread at a time (`&mut self`).
unsafe impl Send for DylibTransport {}

/// Receives the plugin's messages; runs on the plugin's thread.
unsafe extern "C" fn on_message(ctx: *mut c_void, msg: *const u8, len: usize) {
    // Nothing here may unwind into the plugin.
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: `ctx` is the leaked sender made in `load`, valid for the life of the process.
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

impl DylibTransport {
    /// Load the library (refusing it when it or its directory is world-writable) and open a
    /// session.
    pub fn load(path: &Path) -> Result<Self, String> {
        // SAFETY: loading runs the library's initialisers; pyve only loads files named like
        // plugins, from its search path, that are not world-writable (checked by the resolver).
        let lib = unsafe { libloading::Library::new(path) }.map_err(|e| e.to_string())?;
        // SAFETY: symbol types are those of the documented C ABI.
        let (open, send, close) = unsafe {
            let version: libloading::Symbol<'_, AbiVersionFn> =
                lib.get(b"pyve_plugin_abi_version\0").map_err(|_| {
                    "it does not export `pyve_plugin_abi_version`: it is not a pyve plugin library".to_string()
                })?;
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
        let (tx, events) = mpsc::channel::<Event>();
        // Leaked on purpose: the plugin may call back until it has sent its end marker.
        let ctx = Box::into_raw(Box::new(tx)).cast::<c_void>();
        // SAFETY: `on_message` matches the callback type; `ctx` lives forever.
        let session = unsafe { open(on_message, ctx) };
        if session.is_null() {
            return Err("its `pyve_plugin_open` failed".into());
        }
        Ok(DylibTransport { session, send, close, events, closed: false })
    }
}

impl Transport for DylibTransport {
    fn send(&mut self, line: &[u8]) -> std::io::Result<()> {
        if self.closed {
            return Err(std::io::ErrorKind::BrokenPipe.into());
        }
        // SAFETY: the session is open; the buffer is valid for the call.
        let rc = unsafe { (self.send)(self.session, line.as_ptr(), line.len()) };
        match rc {
            0 => Ok(()),
            -3 => Err(std::io::Error::other("the library panicked while taking the message")),
            _ => Err(std::io::ErrorKind::BrokenPipe.into()),
        }
    }

    fn recv(&mut self, timeout: Duration) -> Option<Event> {
        // An in-process answer usually comes within microseconds: wait for it briefly without
        // sleeping (waking a sleeping thread costs more than the exchange itself).
        let spin_until = std::time::Instant::now() + Duration::from_micros(50).min(timeout);
        loop {
            match self.events.try_recv() {
                Ok(event) => return Some(event),
                Err(mpsc::TryRecvError::Disconnected) => return Some(Event::Closed(None)),
                Err(mpsc::TryRecvError::Empty) if std::time::Instant::now() < spin_until => std::hint::spin_loop(),
                Err(mpsc::TryRecvError::Empty) => break,
            }
        }
        match self.events.recv_timeout(timeout) {
            Ok(event) => Some(event),
            Err(mpsc::RecvTimeoutError::Timeout) => None,
            Err(mpsc::RecvTimeoutError::Disconnected) => Some(Event::Closed(None)),
        }
    }

    fn close(&mut self, _grace: Duration) {
        if !self.closed {
            self.closed = true;
            // SAFETY: the session is open and is given up here; after `shutdown` the plugin's
            // thread has nothing left to do, so `close` returns promptly.
            unsafe { (self.close)(self.session) };
        }
    }

    fn kill(&mut self) {
        // A library cannot be stopped: its session is abandoned (never closed, so a stuck
        // plugin thread cannot block pyve) and pyve exits soon after.
        self.closed = true;
    }
}
