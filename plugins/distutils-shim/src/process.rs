//! Running a child process (the environment's python, pip, uv) with its output captured.
//!
//! The plugin may run inside pyve's process (as a dynamic library), whose standard output is
//! pyve's data channel: a child's output is therefore always captured, never inherited, and
//! its standard input is closed (a plugin never reads the terminal). The wait honours
//! cancellation and an optional time limit by killing the child.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A child that ran to its end.
#[derive(Debug)]
pub(crate) struct Finished {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Finished {
    /// The standard error as text, trimmed.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).trim().to_owned()
    }
}

/// Why a child did not run to its end.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RunError {
    #[error("could not start {program}: {source}")]
    Spawn { program: String, source: std::io::Error },
    #[error("waiting for {program} failed: {source}")]
    Wait { program: String, source: std::io::Error },
    #[error("{program} did not finish within {} s and was stopped", .limit.as_secs())]
    TimedOut { program: String, limit: Duration },
    #[error("cancelled")]
    Cancelled,
}

/// Run `cmd` to its end (or until `cancelled()` says so, or `limit` passes), capturing its
/// standard output and error.
pub(crate) fn run(
    cmd: &mut Command,
    limit: Option<Duration>,
    cancelled: &dyn Fn() -> bool,
) -> Result<Finished, RunError> {
    let program = Path::new(cmd.get_program()).display().to_string();
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|source| RunError::Spawn { program: program.clone(), source })?;
    // The readers say when their pipe closes, which is when the child exits (unless it left
    // them to a child of its own): the wait wakes then rather than at its next poll.
    let (closed_tx, closed) = mpsc::channel();
    let out = drain(child.stdout.take(), closed_tx.clone());
    let err = drain(child.stderr.take(), closed_tx);
    let started = Instant::now();
    let mut pause = Duration::from_millis(1);
    let mut pipes_open = true;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(source) => {
                stop(&mut child);
                return Err(RunError::Wait { program, source });
            }
        }
        if cancelled() {
            stop(&mut child);
            return Err(RunError::Cancelled);
        }
        if let Some(limit) = limit
            && started.elapsed() > limit
        {
            stop(&mut child);
            return Err(RunError::TimedOut { program, limit });
        }
        if pipes_open {
            if let Err(mpsc::RecvTimeoutError::Disconnected) = closed.recv_timeout(pause) {
                // Both pipes closed: the child is exiting; poll again soon.
                pipes_open = false;
                pause = Duration::from_micros(100);
                continue;
            }
        } else {
            std::thread::sleep(pause);
        }
        pause = (pause * 2).min(Duration::from_millis(10));
    };
    Ok(Finished { status, stdout: join(out), stderr: join(err) })
}

fn drain(pipe: Option<impl Read + Send + 'static>, closed: mpsc::Sender<()>) -> Option<JoinHandle<Vec<u8>>> {
    let mut pipe = pipe?;
    std::thread::Builder::new()
        .name("pyve-shim-pipe".into())
        .spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            let _ = closed.send(());
            buf
        })
        .ok()
}

fn join(handle: Option<JoinHandle<Vec<u8>>>) -> Vec<u8> {
    handle.and_then(|h| h.join().ok()).unwrap_or_default()
}

fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// `status` for a message: `exit status 1`, `killed by signal 9`.
pub(crate) fn describe(status: ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("killed by signal {signal}");
        }
    }
    match status.code() {
        Some(code) => format!("exit status {code}"),
        None => status.to_string(),
    }
}

/// The last non-empty line of a child's error output (pip and uv put the reason there).
pub(crate) fn last_line(text: &str) -> Option<&str> {
    text.lines().map(str::trim).rfind(|l| !l.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_output_and_status() {
        let done = run(Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]), None, &|| false).unwrap();
        assert_eq!(done.stdout, b"out\n");
        assert_eq!(done.stderr_text(), "err");
        assert_eq!(describe(done.status), "exit status 3");
    }

    #[test]
    fn cancellation_and_time_limit_stop_the_child() {
        let started = Instant::now();
        let r = run(Command::new("sleep").arg("30"), None, &|| started.elapsed() > Duration::from_millis(50));
        assert!(matches!(r, Err(RunError::Cancelled)), "{r:?}");
        let r = run(Command::new("sleep").arg("30"), Some(Duration::from_millis(50)), &|| false);
        assert!(matches!(r, Err(RunError::TimedOut { .. })), "{r:?}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn a_missing_program_is_a_spawn_error() {
        let r = run(&mut Command::new("/nonexistent/pyve-shim-test"), None, &|| false);
        assert!(matches!(r, Err(RunError::Spawn { .. })), "{r:?}");
    }

    #[test]
    fn last_line_skips_blanks() {
        assert_eq!(last_line("a\n  b  \n\n"), Some("b"));
        assert_eq!(last_line("\n"), None);
    }
}
