//! The executable transport: `pyve-<name> --pyve-rpc` in its own process group, messages on
//! its stdin/stdout, its stderr passed through to the user.

use std::ffi::OsString;
use std::io::{BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use pyve_protocol::framing::LineReader;

use super::{Event, Transport};

/// A plugin process.
#[derive(Debug)]
pub struct ProcessTransport {
    child: Child,
    stdin: Option<ChildStdin>,
    events: mpsc::Receiver<Event>,
    /// The process has been reaped.
    reaped: bool,
}

/// How long a plugin sent SIGTERM has to clean up before its group is killed.
const TERM_GRACE: Duration = Duration::from_secs(2);

impl ProcessTransport {
    /// Start `path --pyve-rpc` with the host's context variables.
    /// Plugins inherit the user's working directory; requests carry the project root.
    pub fn spawn(path: &Path, env: &[(String, OsString)]) -> std::io::Result<Self> {
        let mut cmd = Command::new(path);
        cmd.arg("--pyve-rpc").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit());
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            // Its own process group: Ctrl-C reaches pyve, which cancels the request, and the
            // whole group can be stopped at once.
            cmd.process_group(0);
        }
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::process::CommandExt;
            // A plugin never outlives pyve, even one killed with SIGKILL: the kernel sends it
            // SIGTERM (so its clean-up runs) when pyve ends. Sessions are opened on the thread
            // that runs the command, which lives as long as pyve.
            // SAFETY: prctl(PR_SET_PDEATHSIG) and getppid are async-signal-safe; nothing else
            // runs between fork and exec.
            unsafe {
                let parent = libc::getpid();
                cmd.pre_exec(move || {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    // pyve died before the call: do not start an orphan.
                    if libc::getppid() != parent {
                        return Err(std::io::Error::other("pyve ended while starting the plugin"));
                    }
                    Ok(())
                });
            }
        }
        let mut child = cmd.spawn()?;
        let stdout = child.stdout.take().ok_or_else(|| std::io::Error::other("no stdout pipe"))?;
        let stdin = child.stdin.take();
        let (tx, events) = mpsc::channel();
        std::thread::Builder::new().name("pyve-plugin-reader".into()).spawn(move || {
            let mut reader = LineReader::new(BufReader::new(stdout));
            loop {
                let event = match reader.next_line() {
                    Ok(Some(line)) => Event::Line(line.to_vec()),
                    Ok(None) => Event::Closed(None),
                    Err(e) if e.kind() == std::io::ErrorKind::InvalidData => Event::Broken(e.to_string()),
                    Err(_) => Event::Closed(None),
                };
                let last = !matches!(event, Event::Line(_));
                if tx.send(event).is_err() || last {
                    break;
                }
            }
        })?;
        Ok(ProcessTransport { child, stdin, events, reaped: false })
    }

    /// Wait up to `limit` for the process to exit; describe how it did.
    fn exit_status(&mut self, limit: Duration) -> Option<String> {
        let start = Instant::now();
        // A plugin that was told to stop exits within microseconds: poll with a short,
        // growing pause rather than a fixed one.
        let mut pause = Duration::from_micros(20);
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    self.reaped = true;
                    return Some(describe(status));
                }
                Ok(None) if start.elapsed() < limit => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(5));
                }
                _ => return None,
            }
        }
    }
}

/// `exit status 3`, `killed by signal 9 (SIGKILL)`.
pub fn describe(status: ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return format!(
                "killed by signal {sig}{}",
                signal_name(sig).map(|n| format!(" ({n})")).unwrap_or_default()
            );
        }
    }
    match status.code() {
        Some(code) => format!("exit status {code}"),
        None => "ended abnormally".into(),
    }
}

#[cfg(unix)]
fn signal_name(sig: i32) -> Option<&'static str> {
    Some(match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGTERM => "SIGTERM",
        _ => return None,
    })
}

impl Transport for ProcessTransport {
    fn send(&mut self, line: &[u8]) -> std::io::Result<()> {
        let stdin = self.stdin.as_mut().ok_or_else(|| std::io::Error::from(std::io::ErrorKind::BrokenPipe))?;
        let mut buf = Vec::with_capacity(line.len() + 1);
        buf.extend_from_slice(line);
        buf.push(b'\n');
        stdin.write_all(&buf)?;
        stdin.flush()
    }

    fn recv(&mut self, timeout: Duration) -> Option<Event> {
        // Wait in short slices so that a plugin that exited while something else (a child it
        // left behind) still holds its stdout open is noticed at once.
        let deadline = Instant::now() + timeout;
        loop {
            let slice = deadline.saturating_duration_since(Instant::now()).min(Duration::from_millis(50));
            match self.events.recv_timeout(slice) {
                Ok(Event::Closed(None)) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Some(Event::Closed(self.exit_status(Duration::from_millis(500))));
                }
                Ok(event) => return Some(event),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if !self.reaped && matches!(self.child.try_wait(), Ok(Some(_))) {
                        // Exited: take what it wrote before, then report the end.
                        if let Ok(event @ Event::Line(_)) = self.events.recv_timeout(Duration::from_millis(50)) {
                            return Some(event);
                        }
                        return Some(Event::Closed(self.exit_status(Duration::ZERO)));
                    }
                    if Instant::now() >= deadline {
                        return None;
                    }
                }
            }
        }
    }

    fn close_input(&mut self) {
        self.stdin.take();
    }

    fn orphans(&self) -> bool {
        #[cfg(unix)]
        {
            // The group the plugin led still has members once the plugin itself is reaped.
            // SAFETY: kill(2) with signal 0 only checks that the group exists.
            self.reaped && unsafe { libc::kill(-(self.child.id() as libc::pid_t), 0) } == 0
        }
        #[cfg(not(unix))]
        {
            false
        }
    }

    fn close(&mut self, grace: Duration) {
        self.stdin.take();
        if self.exit_status(grace).is_none() {
            self.kill();
        }
    }

    fn kill(&mut self) {
        self.stdin.take();
        #[cfg(unix)]
        {
            // The plugin's whole group: helpers it started must not outlive it (the group
            // lives on while one of them does, so its id cannot have been reused). SIGTERM
            // first, so that a plugin still running gets to clean up (remove its half-built
            // directory), then SIGKILL for whatever is left.
            let pid = self.child.id() as libc::pid_t;
            if !self.reaped {
                // SAFETY: kill(2) with a negative pid signals the process group we created.
                unsafe {
                    libc::kill(-pid, libc::SIGTERM);
                }
                let _ = self.exit_status(TERM_GRACE);
            }
            // SAFETY: as above.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
        if !self.reaped {
            let _ = self.child.kill();
            let _ = self.child.wait();
            self.reaped = true;
        }
    }
}

impl Drop for ProcessTransport {
    fn drop(&mut self) {
        // Whatever happened, nothing the plugin started outlives its session.
        self.kill();
    }
}
