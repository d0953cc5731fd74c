//! The terminal of a passthrough command (`pyve NAME ARGS...`): status lines with pyve's
//! prefixes and streams, and prompts. In RPC mode a plugin reports through [`crate::Context`]
//! (`$/log`, `host/prompt`) and the host prints; in passthrough mode it prints itself, through
//! this module, which formats with the same code as the host ([`pyve_protocol::output`]): the
//! two cannot drift apart.
//!
//! Streams are the original tool's: `INFO:`, `✓`, plain lines and prompts on stdout;
//! `WARNING:`, `ERROR:`, `hint:` and `--verbose` details on stderr.
//!
//! ```no_run
//! use pyve_sdk::output::Output;
//! use pyve_sdk::HostContext;
//!
//! let out = Output::from_host(&HostContext::from_env());
//! out.info("Using pyenv for Python version management");
//! out.success("Created .python-version with Python 3.12.1");
//! out.error("cannot write .python-version: permission denied", Some("check the directory's permissions"));
//! ```

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

pub use pyve_protocol::output::{Line, Stream};
use pyve_protocol::types::LogLevel;

use crate::HostContext;

/// Where a passthrough command's lines go, with the verbosity and colours pyve passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Output {
    /// -1 quiet, 0 normal, 1 verbose, 2 debug (`PYVE_VERBOSITY`).
    pub verbosity: i8,
    /// Colour the prefixes (`PYVE_COLOR=always`); on stdout only when it is a terminal.
    pub color: bool,
}

impl Output {
    /// The settings pyve passed in the environment.
    pub fn from_host(host: &HostContext) -> Output {
        Output { verbosity: host.verbosity, color: host.color }
    }

    /// One line of `kind` (not shown below its verbosity).
    pub fn line(&self, kind: Line, message: &str) {
        if !kind.shown_at(self.verbosity) {
            return;
        }
        match kind.stream() {
            Stream::Stdout => {
                let color = self.color && std::io::stdout().is_terminal();
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{}", kind.render(message, color));
                let _ = out.flush();
            }
            Stream::Stderr => {
                let _ = std::io::stdout().flush();
                let _ = writeln!(std::io::stderr().lock(), "{}", kind.render(message, self.color));
            }
        }
    }

    /// A `$/log`-level message, as the host would show it.
    pub fn log(&self, level: LogLevel, message: &str) {
        self.line(Line::from(level), message);
    }

    /// `INFO: message` (stdout).
    pub fn info(&self, message: &str) {
        self.line(Line::Info, message);
    }

    /// `✓ message` (stdout).
    pub fn success(&self, message: &str) {
        self.line(Line::Success, message);
    }

    /// A plain line: headers, reports, menus (stdout).
    pub fn status(&self, message: &str) {
        self.line(Line::Plain, message);
    }

    /// `WARNING: message` (stderr).
    pub fn warn(&self, message: &str) {
        self.line(Line::Warning, message);
    }

    /// `hint: message` (stderr).
    pub fn hint(&self, message: &str) {
        self.line(Line::Hint, message);
    }

    /// A detail for `--verbose` (stderr).
    pub fn debug(&self, message: &str) {
        self.line(Line::Debug, message);
    }

    /// `ERROR: message` and, when given, `hint: ...` (stderr).
    pub fn error(&self, message: &str, hint: Option<&str>) {
        self.line(Line::Error, message);
        if let Some(h) = hint {
            self.hint(h);
        }
    }

    /// Print `text` on stdout (no newline) and read one line of answer: see [`prompt`].
    pub fn prompt(&self, text: &str) -> Result<String, NoAnswer> {
        prompt(text)
    }

    /// Ask a yes/no question (`QUESTION [y/N]: `): `Ok(true)` only for `y`/`yes`.
    pub fn confirm(&self, question: &str) -> Result<bool, NoAnswer> {
        let answer = prompt(&format!("{question} [y/N]: "))?;
        Ok(matches!(answer.to_ascii_lowercase().as_str(), "y" | "yes"))
    }
}

/// Why a prompt got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoAnswer {
    /// The input ended (`</dev/null`, a closed pipe, the end of a file).
    EndOfInput,
    /// Standard input is not a person at a terminal and nothing came within the wait.
    Silent(Duration),
    /// Standard input cannot be read.
    Unreadable,
}

impl std::fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoAnswer::EndOfInput => f.write_str("the input ended before an answer"),
            NoAnswer::Silent(d) => {
                write!(
                    f,
                    "standard input and output are not both a terminal, and the input gave no answer within {} s",
                    d.as_secs()
                )
            }
            NoAnswer::Unreadable => f.write_str("standard input cannot be read"),
        }
    }
}

impl std::error::Error for NoAnswer {}

/// How long a prompt waits for an answer that does not come from a person at a terminal:
/// `PYVE_PROMPT_TIMEOUT` seconds, default 10 (as the host).
pub fn prompt_wait() -> Duration {
    let secs = std::env::var("PYVE_PROMPT_TIMEOUT").ok().and_then(|v| v.trim().parse::<f64>().ok());
    // At most a week, as the host (a larger value would overflow a `Duration` or a deadline).
    Duration::from_secs_f64(secs.filter(|s| s.is_finite() && *s >= 0.0).unwrap_or(10.0).min(7.0 * 24.0 * 3600.0))
}

/// Print `text` on stdout (no newline) and read one line of answer from stdin, trimmed.
///
/// The rule is the host's (docs/decisions.md, "Interactive means"): a person at a terminal
/// (stdin and stdout both terminals) is waited for; any other stdin answers only with a line
/// that arrives within [`prompt_wait`]. End of input is never an answer.
pub fn prompt(text: &str) -> Result<String, NoAnswer> {
    {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }
    let person = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let answer = read_line(if person { None } else { Some(prompt_wait()) });
    let mut out = std::io::stdout().lock();
    match &answer {
        Err(_) => {
            let _ = writeln!(out);
        }
        // Show a piped answer after its prompt, as a terminal would have echoed it.
        Ok(a) if !std::io::stdin().is_terminal() => {
            let _ = writeln!(out, "{a}");
        }
        Ok(_) => {}
    }
    let _ = out.flush();
    answer
}

/// Read one line from fd 0 byte by byte (nothing after it is consumed), within `wait` in all
/// when given.
fn read_line(wait: Option<Duration>) -> Result<String, NoAnswer> {
    let deadline = wait.map(|w| Instant::now() + w);
    let mut bytes = Vec::new();
    loop {
        if let Some(deadline) = deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            let mut fds = libc::pollfd { fd: 0, events: libc::POLLIN, revents: 0 };
            let ms = i32::try_from(left.as_millis()).unwrap_or(i32::MAX);
            // SAFETY: one valid pollfd, for the duration of the call.
            let n = unsafe { libc::poll(&mut fds, 1, ms) };
            if n < 0 {
                if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(NoAnswer::Unreadable);
            }
            if n == 0 {
                return Err(NoAnswer::Silent(wait.unwrap_or_default()));
            }
        }
        let mut b = 0u8;
        // SAFETY: reading one byte into a valid, writable byte.
        let r = unsafe { libc::read(0, (&raw mut b).cast(), 1) };
        match r {
            1 if b == b'\n' => break,
            1 => bytes.push(b),
            0 if bytes.is_empty() => return Err(NoAnswer::EndOfInput),
            0 => break,
            _ if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {}
            _ => return Err(NoAnswer::Unreadable),
        }
    }
    Ok(String::from_utf8_lossy(&bytes).trim().to_owned())
}
