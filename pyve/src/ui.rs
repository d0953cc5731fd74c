//! The terminal: status lines, warnings and errors on stderr (stdout is for data), colours only
//! on a terminal and never with `NO_COLOR`, and the verbosity chosen by the user.
//!
//! Line prefixes are the original tool's: `ERROR: `, `WARNING: `, `INFO: `, `✓ `.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

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
    /// Colours on stderr.
    pub color: bool,
    /// -1 quiet, 0 normal, 1 verbose, 2 debug.
    pub verbosity: i8,
}

static UI: OnceLock<Ui> = OnceLock::new();

/// Fix the output settings (the first call wins).
pub fn init(choice: ColorChoice, verbosity: i8) {
    let color = match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
        }
    };
    let _ = UI.set(Ui { color, verbosity });
}

/// The output settings.
pub fn get() -> Ui {
    *UI.get().unwrap_or(&Ui { color: false, verbosity: 0 })
}

fn paint(code: &str, text: &str) -> String {
    if get().color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() }
}

/// Whether a spinner is drawn on the current stderr line (it is cleared before any output).
static SPINNER_LINE: Mutex<bool> = Mutex::new(false);

fn line(text: &str) {
    let mut drawn = SPINNER_LINE.lock().unwrap_or_else(|e| e.into_inner());
    let mut err = std::io::stderr().lock();
    if *drawn {
        let _ = write!(err, "\r\x1b[2K");
        *drawn = false;
    }
    let _ = writeln!(err, "{text}");
}

/// `ERROR: message` and `hint: ...` on stderr.
pub fn error(e: &Error) {
    line(&format!("{} {e}", paint("1;31", "ERROR:")));
    if let Some(hint) = e.hint_text() {
        line(&format!("{} {hint}", paint("1;36", "hint:")));
    }
}

/// `ERROR: message` on stderr, for a message that is not a pyve error (a plugin's log).
pub fn error_line(message: &str) {
    line(&format!("{} {message}", paint("1;31", "ERROR:")));
}

/// `WARNING: message` on stderr.
pub fn warn(message: &str) {
    line(&format!("{} {message}", paint("1;33", "WARNING:")));
}

/// `INFO: message` on stderr (not in quiet mode).
pub fn info(message: &str) {
    if get().verbosity >= 0 {
        line(&format!("{} {message}", paint("1;34", "INFO:")));
    }
}

/// `✓ message` on stderr (not in quiet mode).
pub fn success(message: &str) {
    if get().verbosity >= 0 {
        line(&format!("{} {message}", paint("1;32", "✓")));
    }
}

/// A plain status line on stderr (not in quiet mode).
pub fn status(message: &str) {
    if get().verbosity >= 0 {
        line(message);
    }
}

/// A detail shown with `--verbose`.
pub fn debug(message: &str) {
    if get().verbosity >= 1 {
        line(&paint("2", message));
    }
}

/// A detail shown with `--verbose --verbose`.
pub fn trace(message: &str) {
    if get().verbosity >= 2 {
        line(&paint("2", message));
    }
}

/// Whether stdin is a terminal the user can answer prompts on.
pub fn stdin_is_interactive() -> bool {
    std::io::stdin().is_terminal()
}

/// Ask a question on stderr and read one line from stdin. `choices` are `(key, label)`; an
/// empty answer takes `default`. An answer that is not a choice is asked again (three times at
/// most). End of input is an error, never an answer.
pub fn ask(question: &str, choices: &[(String, String)], default: Option<&str>) -> Result<String, String> {
    let keys: Vec<&str> = choices.iter().map(|(k, _)| k.as_str()).collect();
    let yes_no = keys == ["y", "n"];
    let mut prompt = question.to_owned();
    if yes_no {
        prompt.push_str(if default == Some("y") { " [Y/n]: " } else { " [y/N]: " });
    } else if !choices.is_empty() {
        for (k, label) in choices {
            status(&format!("  {k}. {label}"));
        }
        prompt = format!("\n{question} [{}]: ", keys.join("/"));
    } else if let Some(d) = default {
        prompt.push_str(&format!(" [{d}]: "));
    } else {
        prompt.push_str(": ");
    }
    for _ in 0..3 {
        {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "{prompt}");
            let _ = err.flush();
        }
        let mut answer = String::new();
        match std::io::stdin().lock().read_line(&mut answer) {
            Ok(0) | Err(_) => {
                line("");
                return Err("no answer: the input ended".into());
            }
            Ok(_) => {}
        }
        let answer = answer.trim();
        let answer = if answer.is_empty() { default.unwrap_or("") } else { answer };
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
        line(&format!("Please answer {}.", keys.join(", ")));
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
