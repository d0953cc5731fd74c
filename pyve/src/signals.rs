//! Ctrl-C must not kill pyve itself while it waits. For a child run in the foreground (a
//! passthrough command, `run`: [`run_foreground`]) pyve ignores the signal and the child, in
//! the terminal's process group, decides. During a plugin call ([`catch_interrupts`]) a
//! handler sets a flag and the call is cancelled with `$/cancel`.

//!
//! The rule (docs/interrupts.md): an interrupt (SIGINT, SIGTERM, SIGHUP) seen at any point of
//! a command ends it. [`interrupted`] is the pending flag a plugin call turns into `$/cancel`
//! (and [`reset`] forgets once handled); [`received`] is the signal itself, never forgotten, so
//! that a command checks it between its steps ([`check`]) and ends with 128 + its number even
//! when the step that was running finished anyway.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, OnceLock};

use crate::error::{Error, Result};

static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// The first interrupting signal received (0: none). Never reset.
static RECEIVED: AtomicI32 = AtomicI32::new(0);

#[cfg(unix)]
fn note(sig: i32) {
    let _ = RECEIVED.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
}

/// From now on, SIGINT, SIGTERM, SIGHUP and SIGQUIT set a flag instead of ending pyve (see
/// [`interrupted`] and [`received`]). Handlers (not `SIG_IGN`) are used, so plugins started
/// afterwards get the default dispositions back.
pub fn catch_interrupts() {
    FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        #[cfg(unix)]
        for sig in [
            signal_hook::consts::SIGINT,
            signal_hook::consts::SIGTERM,
            signal_hook::consts::SIGHUP,
            signal_hook::consts::SIGQUIT,
        ] {
            let _ = signal_hook::flag::register(sig, Arc::clone(&flag));
            // SAFETY: the action only stores to an atomic (async-signal-safe).
            let _ = unsafe { signal_hook::low_level::register(sig, move || note(sig)) };
        }
        flag
    });
}

/// The interrupting signal received since [`catch_interrupts`] (or at a prompt), if any: it
/// stays set for the whole command, whatever was cancelled or reset since.
pub fn received() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// The exit status for an interrupt: 128 + the signal (130 for SIGINT, 143 for SIGTERM, 129
/// for SIGHUP); 130 when no signal is known (a prompt's end of input reported as Ctrl-C).
pub fn exit_status() -> u8 {
    match received() {
        Some(s) if (1..=127).contains(&s) => 128 + s as u8,
        _ => 130,
    }
}

/// The name of the signal received, for messages.
pub fn name() -> &'static str {
    match received() {
        #[cfg(unix)]
        Some(libc::SIGTERM) => "SIGTERM",
        #[cfg(unix)]
        Some(libc::SIGHUP) => "SIGHUP",
        #[cfg(unix)]
        Some(libc::SIGQUIT) => "SIGQUIT",
        _ => "SIGINT",
    }
}

/// The error that ends an interrupted command, with its exit status.
pub fn interrupted_error() -> Error {
    Error::new(format!("interrupted ({})", name())).exit_code(exit_status())
}

/// A point between two steps of a command: an interrupt seen at any time before ends it here.
pub fn check() -> Result<()> {
    if received().is_some() { Err(interrupted_error()) } else { Ok(()) }
}

/// Whether an interrupt arrived since [`catch_interrupts`], or at a prompt ([`at_prompt`]).
pub fn interrupted() -> bool {
    FLAG.get().is_some_and(|f| f.load(Ordering::SeqCst)) || PROMPT_INTERRUPT.load(Ordering::SeqCst)
}

/// Set by SIGINT, SIGTERM or SIGHUP while a prompt waits.
static PROMPT_INTERRUPT: AtomicBool = AtomicBool::new(false);

#[cfg(unix)]
extern "C" fn on_prompt_signal(sig: libc::c_int) {
    PROMPT_INTERRUPT.store(true, Ordering::SeqCst);
    note(sig);
}

/// Run `f`, a prompt waiting for an answer, with SIGINT, SIGTERM and SIGHUP caught without
/// `SA_RESTART`: the wait (poll(2)) returns `EINTR` and the prompt sees [`interrupted`], so
/// Ctrl-C cancels the question at once instead of when Enter is pressed. The previous
/// dispositions (the default, or [`catch_interrupts`]'s handlers) are restored afterwards.
pub fn at_prompt<T>(f: impl FnOnce() -> T) -> T {
    #[cfg(unix)]
    {
        // SAFETY: sigaction with a handler that only stores to an atomic (async-signal-safe);
        // the old actions are saved and put back, unchanged, after `f`.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_prompt_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = 0;
            libc::sigemptyset(&mut action.sa_mask);
            let mut old_int: libc::sigaction = std::mem::zeroed();
            let mut old_term: libc::sigaction = std::mem::zeroed();
            let mut old_hup: libc::sigaction = std::mem::zeroed();
            libc::sigaction(libc::SIGINT, &action, &mut old_int);
            libc::sigaction(libc::SIGTERM, &action, &mut old_term);
            libc::sigaction(libc::SIGHUP, &action, &mut old_hup);
            let result = f();
            libc::sigaction(libc::SIGINT, &old_int, std::ptr::null_mut());
            libc::sigaction(libc::SIGTERM, &old_term, std::ptr::null_mut());
            libc::sigaction(libc::SIGHUP, &old_hup, std::ptr::null_mut());
            result
        }
    }
    #[cfg(not(unix))]
    f()
}

/// Forget an interrupt that was handled, so that the clean-up after it (a plugin call that
/// removes what the interrupted step made) is not cancelled in turn. A new interrupt sets the
/// flag again.
pub fn reset() {
    if let Some(f) = FLAG.get() {
        f.store(false, Ordering::SeqCst);
    }
    PROMPT_INTERRUPT.store(false, Ordering::SeqCst);
}

/// Spawn `cmd` and wait for it with the user's stdio, as `system(3)` does: pyve ignores
/// SIGINT and SIGQUIT while the child runs (the child, in the terminal's process group, gets
/// them and decides), and the child starts with the default dispositions (SIGINT and SIGQUIT are ignored only
/// after it is started).
///
/// SIGTERM and SIGHUP sent to pyve are passed on to the child as they are (unlike Ctrl-C, they
/// are not sent to the whole terminal group), so that pyve's end never leaves the child
/// running; pyve then exits with the child's status.
pub fn run_foreground(cmd: &mut std::process::Command) -> std::io::Result<std::process::ExitStatus> {
    #[cfg(unix)]
    {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicI32, Ordering};
        // The handlers are in place before the spawn, so that a SIGTERM arriving while the
        // child starts is not lost: it is kept as pending until the child's pid is known, then
        // passed on. A caught signal's disposition is reset to the default by exec, so the child
        // still starts with the default dispositions.
        let child_pid = Arc::new(AtomicI32::new(0));
        let pending = Arc::new(AtomicI32::new(0));
        let ids: Vec<_> = [signal_hook::consts::SIGTERM, signal_hook::consts::SIGHUP]
            .into_iter()
            .filter_map(|sig| {
                let (pid, pending) = (Arc::clone(&child_pid), Arc::clone(&pending));
                // SAFETY: the handler only touches atomics and calls kill(2), both
                // async-signal-safe. It is unregistered right after the wait (a signal in that
                // instant would reach a pid that is free; one reused that fast is not a
                // practical concern).
                unsafe {
                    signal_hook::low_level::register(sig, move || {
                        // Pending first, then the pid: whichever side comes second sees the
                        // other's write, so the signal is passed on at least once.
                        pending.store(sig, Ordering::SeqCst);
                        let p = pid.load(Ordering::SeqCst);
                        if p != 0 {
                            libc::kill(p, sig);
                        }
                    })
                }
                .ok()
            })
            .collect();
        let unregister = |ids: Vec<signal_hook::SigId>| {
            for id in ids {
                signal_hook::low_level::unregister(id);
            }
        };
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                unregister(ids);
                return Err(e);
            }
        };
        // SAFETY: setting the dispositions of two signals to "ignore" has no preconditions.
        unsafe {
            libc::signal(libc::SIGINT, libc::SIG_IGN);
            libc::signal(libc::SIGQUIT, libc::SIG_IGN);
        }
        let pid = child.id() as libc::pid_t;
        child_pid.store(pid, Ordering::SeqCst);
        let early = pending.swap(0, Ordering::SeqCst);
        if early != 0 {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(pid, early) };
        }
        let status = child.wait();
        unregister(ids);
        status
    }
    #[cfg(not(unix))]
    cmd.spawn()?.wait()
}
