//! The terminal: status lines on stdout, warnings and errors on stderr (the original tool's
//! streams, see `pyve_protocol::output`), prompts, a spinner on stderr, colours (with `auto`:
//! only on a terminal and not with `NO_COLOR`), and the verbosity chosen by the user.
//!
//! Line prefixes are the original tool's: `ERROR: `, `WARNING: `, `INFO: `, `✓ `.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

pub use pyve_protocol::output::{Line, Stream};

use crate::error::Error;

/// When to use colours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set.
    #[default]
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Output settings, fixed once at start-up.
#[derive(Clone, Copy, Debug)]
pub struct Ui {
    /// Colours on stderr (also what plugins are told).
    pub color: bool,
    /// Colours on stdout (a captured stdout never gets escape codes from `auto`).
    pub color_stdout: bool,
    /// -1 quiet, 0 normal, 1 verbose, 2 debug.
    pub verbosity: i8,
}

static UI: OnceLock<Ui> = OnceLock::new();

/// Fix the output settings (the first call wins).
pub fn init(choice: ColorChoice, verbosity: i8) {
    let auto = |terminal: bool| match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && terminal,
    };
    let color = auto(std::io::stderr().is_terminal());
    let color_stdout = auto(std::io::stdout().is_terminal());
    let _ = UI.set(Ui { color, color_stdout, verbosity });
}

/// The output settings.
pub fn get() -> Ui {
    *UI.get().unwrap_or(&Ui { color: false, color_stdout: false, verbosity: 0 })
}

fn paint(code: &str, text: &str) -> String {
    if get().color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() }
}

/// Whether a spinner is drawn on the current stderr line (it is cleared before any output).
static SPINNER_LINE: Mutex<bool> = Mutex::new(false);

/// Write to `stream` with the spinner line cleared first (it is on stderr, and a line on
/// stdout would otherwise be drawn after it on a terminal showing both).
fn write_to(stream: Stream, text: &str) {
    let mut drawn = SPINNER_LINE.lock().unwrap_or_else(|e| e.into_inner());
    if *drawn {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K");
        let _ = err.flush();
        *drawn = false;
    }
    match stream {
        Stream::Stdout => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
        }
        Stream::Stderr => {
            // What was printed on stdout comes first.
            let _ = std::io::stdout().flush();
            let _ = std::io::stderr().lock().write_all(text.as_bytes());
        }
    }
}

/// Write a command's output (a report, JSON, help, the version) to stdout.
///
/// A reader that went away (`pyve doctor | head -1`) is not an error: the rest of the output
/// is dropped quietly and the command ends with its own exit code, as ripgrep and cargo do,
/// instead of panicking like `println!` ("failed printing to stdout: Broken pipe").
pub fn out(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// One status line of `kind`: its prefix, its stream (`pyve_protocol::output`, shared with
/// the plugins' SDK), shown at the current verbosity.
pub fn line(kind: Line, message: &str) {
    let ui = get();
    if kind.shown_at(ui.verbosity) {
        let color = if kind.stream() == Stream::Stdout { ui.color_stdout } else { ui.color };
        write_to(kind.stream(), &format!("{}\n", kind.render(message, color)));
    }
}

/// `ERROR: message`, its details, and `hint: ...` on stderr.
pub fn error(e: &Error) {
    line(Line::Error, &e.to_string());
    for d in e.details() {
        line(Line::Error, d);
    }
    if let Some(h) = e.hint_text() {
        hint(h);
    }
}

/// `ERROR: message` on stderr, for a message that is not a pyve error (a plugin's log).
pub fn error_line(message: &str) {
    line(Line::Error, message);
}

/// `hint: message` on stderr.
pub fn hint(message: &str) {
    line(Line::Hint, message);
}

/// `WARNING: message` on stderr.
pub fn warn(message: &str) {
    line(Line::Warning, message);
}

/// `INFO: message` on stdout (not in quiet mode).
pub fn info(message: &str) {
    line(Line::Info, message);
}

/// `✓ message` on stdout (not in quiet mode).
pub fn success(message: &str) {
    line(Line::Success, message);
}

/// A plain status line on stdout: headers, menus, summaries (not in quiet mode).
pub fn status(message: &str) {
    line(Line::Plain, message);
}

/// A detail shown with `--verbose`, on stderr.
pub fn debug(message: &str) {
    line(Line::Debug, message);
}

/// A detail shown with `--verbose --verbose`, on stderr.
pub fn trace(message: &str) {
    line(Line::Trace, message);
}

/// Why a prompt got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoAnswer {
    /// The input ended (`</dev/null`, a closed pipe, the end of a file).
    EndOfInput,
    /// Standard input is not a terminal and nothing came within the wait.
    Silent(Duration),
    /// Standard input cannot be read.
    Unreadable,
    /// Ctrl-C (or SIGTERM) while waiting: the command is cancelled (exit 130).
    Interrupted,
}

impl NoAnswer {
    /// The error that ends a command whose question was interrupted: exit 130, as a shell
    /// reports Ctrl-C, and nothing was changed.
    pub fn interrupted_error() -> Error {
        Error::new("interrupted at the prompt: nothing was changed").exit_code(crate::signals::exit_status())
    }
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
            NoAnswer::Interrupted => f.write_str("interrupted"),
        }
    }
}

/// How long a prompt waits for an answer that does not come from a person at a terminal
/// (`PYVE_PROMPT_TIMEOUT` seconds, default 10, at most a week: [`crate::env::prompt_seconds`]).
pub fn prompt_wait() -> Duration {
    let raw = std::env::var_os("PYVE_PROMPT_TIMEOUT").map(|v| v.to_string_lossy().into_owned());
    crate::env::prompt_seconds(raw.as_deref())
}

/// Whether stdout and stderr are the same open file (one terminal, or `2>&1` into one pipe or
/// file): a fact printed on both would be read twice.
pub fn stdout_is_stderr() -> bool {
    // SAFETY: fstat fills the zeroed structs it is given for fds 1 and 2; no other effect.
    unsafe {
        let (mut a, mut b) = (std::mem::zeroed::<libc::stat>(), std::mem::zeroed::<libc::stat>());
        libc::fstat(1, &mut a) == 0 && libc::fstat(2, &mut b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino
    }
}

/// Whether a prompt can be answered: stdin is not known to be closed. A terminal, a pipe or a
/// file may deliver an answer ([`prompt`] then decides, with a bounded wait); only a stdin
/// that is not open counts as "cannot ask" before asking.
pub fn can_prompt() -> bool {
    // SAFETY: F_GETFD on fd 0 only reads its flags.
    unsafe { libc::fcntl(0, libc::F_GETFD) != -1 }
}

/// Print `prompt` on stdout (no newline) and read one line of answer from stdin.
///
/// A person at a terminal (stdin and stdout both terminals) is waited for. Any other stdin — a
/// pipe, a file, a terminal whose output goes elsewhere — answers only with a line that arrives
/// within [`prompt_wait`]: `echo 1 | pyve --init` answers, `</dev/null` (end of input) never
/// does, and a pipe that stays silent does not hang pyve. The answer is trimmed.
pub fn prompt(prompt: &str) -> Result<String, NoAnswer> {
    write_to(Stream::Stdout, prompt);
    let person = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let answer = crate::signals::at_prompt(|| read_answer(if person { None } else { Some(prompt_wait()) }));
    if answer.is_err() {
        // End the prompt's line.
        write_to(Stream::Stdout, "\n");
    } else if !std::io::stdin().is_terminal() {
        // Show the piped answer after the prompt, as a terminal would have echoed it.
        if let Ok(a) = &answer {
            write_to(Stream::Stdout, &format!("{a}\n"));
        }
    }
    answer
}

/// Read one line from fd 0, byte by byte (nothing beyond the line is consumed: a second prompt
/// reads the next line), waiting at most `wait` in all when given.
fn read_answer(wait: Option<Duration>) -> Result<String, NoAnswer> {
    let deadline = wait.map(|w| std::time::Instant::now() + w);
    let mut bytes = Vec::new();
    loop {
        // Always wait in poll(2): unlike read(2), it is never restarted after a signal, so
        // Ctrl-C ends the wait at once (a person's wait has no limit).
        let ms = match deadline {
            Some(deadline) => {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                i32::try_from(left.as_millis()).unwrap_or(i32::MAX)
            }
            None => -1,
        };
        let mut fds = libc::pollfd { fd: 0, events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd, for the duration of the call.
        let n = unsafe { libc::poll(&mut fds, 1, ms) };
        if crate::signals::interrupted() {
            return Err(NoAnswer::Interrupted);
        }
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(NoAnswer::Unreadable);
        }
        if n == 0 {
            return Err(NoAnswer::Silent(wait.unwrap_or_default()));
        }
        let mut b = 0u8;
        // SAFETY: reading one byte into a valid, writable byte.
        let r = unsafe { libc::read(0, (&raw mut b).cast(), 1) };
        match r {
            1 if b == b'\n' => break,
            1 => bytes.push(b),
            0 if bytes.is_empty() => return Err(NoAnswer::EndOfInput),
            0 => break,
            _ if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {
                if crate::signals::interrupted() {
                    return Err(NoAnswer::Interrupted);
                }
            }
            _ => return Err(NoAnswer::Unreadable),
        }
    }
    Ok(String::from_utf8_lossy(&bytes).trim().to_owned())
}

/// Ask a question with `choices` (`(key, label)`) and return the key chosen; an empty answer
/// takes `default`. An answer that is not a choice is asked again (three times at most). No
/// answer (see [`prompt`]) is an error, never an answer.
pub fn ask(question: &str, choices: &[(String, String)], default: Option<&str>) -> Result<String, String> {
    let keys: Vec<&str> = choices.iter().map(|(k, _)| k.as_str()).collect();
    let yes_no = keys == ["y", "n"];
    let mut text = question.to_owned();
    if yes_no {
        text.push_str(if default == Some("y") { " [Y/n]: " } else { " [y/N]: " });
    } else if !choices.is_empty() {
        for (k, label) in choices {
            status(&format!("  {k}. {label}"));
        }
        text = format!("\n{question} [{}]: ", keys.join("/"));
    } else if let Some(d) = default {
        text.push_str(&format!(" [{d}]: "));
    } else {
        text.push_str(": ");
    }
    for _ in 0..3 {
        let answer = prompt(&text).map_err(|e| e.to_string())?;
        let answer = if answer.is_empty() { default.unwrap_or("") } else { answer.as_str() };
        if choices.is_empty() {
            return Ok(answer.to_owned());
        }
        let normalized = match (yes_no, answer.to_ascii_lowercase().as_str()) {
            (true, "yes") => "y".to_owned(),
            (true, "no") => "n".to_owned(),
            (_, a) => a.to_owned(),
        };
        if let Some(k) = keys.iter().find(|k| k.eq_ignore_ascii_case(&normalized)) {
            return Ok((*k).to_owned());
        }
        status(&format!("Please answer {}.", keys.join(", ")));
    }
    Err("no valid answer after three tries".into())
}

/// A spinner on stderr for an operation of unknown length (only on a terminal, not when
/// quiet). Drawn by a thread; cleared when dropped.
#[derive(Debug)]
pub struct Spinner {
    state: Arc<Mutex<String>>,
    total: Option<u64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Spinner {
    /// Start one (or nothing, when stderr is not a terminal).
    pub fn start(title: &str, total: Option<u64>) -> Option<Spinner> {
        if get().verbosity < 0 || !std::io::stderr().is_terminal() {
            return None;
        }
        let state = Arc::new(Mutex::new(title.to_owned()));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (Arc::clone(&state), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            const FRAMES: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
            let mut i = 0;
            // Do not flash a spinner for operations that end at once.
            std::thread::sleep(Duration::from_millis(300));
            while !sp.load(Ordering::SeqCst) {
                {
                    let text = st.lock().unwrap_or_else(|e| e.into_inner()).clone();
                    let mut drawn = SPINNER_LINE.lock().unwrap_or_else(|e| e.into_inner());
                    let mut err = std::io::stderr().lock();
                    let _ = write!(err, "\r\x1b[2K{} {text}", paint("36", FRAMES[i % FRAMES.len()]));
                    let _ = err.flush();
                    *drawn = true;
                }
                i += 1;
                std::thread::sleep(Duration::from_millis(80));
            }
        });
        Some(Spinner { state, stop, total, thread: Some(thread) })
    }

    /// Show the current step.
    pub fn update(&self, message: Option<&str>, done: Option<u64>) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let base = s.split(" — ").next().unwrap_or("").to_owned();
        let count = match (done, self.total) {
            (Some(d), Some(t)) => format!(" ({d}/{t})"),
            (Some(d), None) => format!(" ({d})"),
            _ => String::new(),
        };
        *s = match message {
            Some(m) => format!("{base} — {m}{count}"),
            None => format!("{base}{count}"),
        };
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let mut drawn = SPINNER_LINE.lock().unwrap_or_else(|e| e.into_inner());
        if *drawn {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
            *drawn = false;
        }
    }
}
