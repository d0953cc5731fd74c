//! How pyve and its plugins print status lines: the prefix, the colour and the stream of each
//! kind of line. The host (`pyve`) and the SDK's terminal helper (`pyve_sdk::output`) both
//! format through this module, so a plugin running on its own terminal (passthrough) prints
//! exactly what the host prints for the same `$/log` level.
//!
//! The streams are the original shell tool's, because its users and their scripts read them:
//! `INFO:`, `✓` and plain status lines on stdout; `WARNING:`, `ERROR:` and `hint:` on stderr.
//! Details for `--verbose` are diagnostics and go to stderr. This module only formats; writing
//! (and clearing a spinner first) is the caller's.
//!
//! ```
//! use pyve_protocol::output::{Line, Stream};
//! use pyve_protocol::types::LogLevel;
//!
//! assert_eq!(Line::Info.render("Using pyenv", false), "INFO: Using pyenv");
//! assert_eq!(Line::Success.render("Created .env", false), "✓ Created .env");
//! assert_eq!(Line::from(LogLevel::Warn).stream(), Stream::Stderr);
//! assert_eq!(Line::Error.render("boom", true), "\x1b[1;31mERROR:\x1b[0m boom");
//! ```

use crate::types::LogLevel;

/// A standard stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// Standard output: what a command reports.
    Stdout,
    /// Standard error: what went wrong, and diagnostics.
    Stderr,
}

/// A kind of status line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Line {
    /// `ERROR: ...` (stderr).
    Error,
    /// `WARNING: ...` (stderr).
    Warning,
    /// `hint: ...`, the next step after an error (stderr).
    Hint,
    /// `INFO: ...` (stdout; not with `--quiet`).
    Info,
    /// `✓ ...` (stdout; not with `--quiet`).
    Success,
    /// A line without prefix: headers, report lines, menus (stdout; not with `--quiet`).
    Plain,
    /// A detail for `--verbose`, dimmed, without prefix (stderr).
    Debug,
    /// A detail for `--verbose --verbose`, dimmed, without prefix (stderr).
    Trace,
}

impl Line {
    /// The prefix, without the space that follows it (empty for plain and detail lines).
    pub const fn prefix(self) -> &'static str {
        match self {
            Line::Error => "ERROR:",
            Line::Warning => "WARNING:",
            Line::Hint => "hint:",
            Line::Info => "INFO:",
            Line::Success => "✓",
            Line::Plain | Line::Debug | Line::Trace => "",
        }
    }

    /// The stream the line goes to.
    pub const fn stream(self) -> Stream {
        match self {
            Line::Info | Line::Success | Line::Plain => Stream::Stdout,
            Line::Error | Line::Warning | Line::Hint | Line::Debug | Line::Trace => Stream::Stderr,
        }
    }

    /// The lowest verbosity (-1 quiet, 0 normal, 1 verbose, 2 debug) that shows the line.
    /// Errors, warnings and hints are shown even when quiet.
    pub const fn min_verbosity(self) -> i8 {
        match self {
            Line::Error | Line::Warning | Line::Hint => -1,
            Line::Info | Line::Success | Line::Plain => 0,
            Line::Debug => 1,
            Line::Trace => 2,
        }
    }

    /// Whether the line is shown at `verbosity`.
    pub const fn shown_at(self, verbosity: i8) -> bool {
        verbosity >= self.min_verbosity()
    }

    /// The SGR colour of the prefix (of the whole line for details).
    pub const fn colour(self) -> &'static str {
        match self {
            Line::Error => "1;31",
            Line::Warning => "1;33",
            Line::Hint => "1;36",
            Line::Info => "1;34",
            Line::Success => "1;32",
            Line::Plain => "",
            Line::Debug | Line::Trace => "2",
        }
    }

    /// The whole line, without its newline: `ERROR: message`, coloured when `color`.
    pub fn render(self, message: &str, color: bool) -> String {
        let prefix = self.prefix();
        match (prefix.is_empty(), color) {
            (true, true) if !self.colour().is_empty() => format!("\x1b[{}m{message}\x1b[0m", self.colour()),
            (true, _) => message.to_owned(),
            (false, true) => format!("\x1b[{}m{prefix}\x1b[0m {message}", self.colour()),
            (false, false) => format!("{prefix} {message}"),
        }
    }
}

impl From<LogLevel> for Line {
    /// The line a `$/log` message of this level is shown as.
    fn from(level: LogLevel) -> Line {
        match level {
            LogLevel::Error => Line::Error,
            LogLevel::Warn => Line::Warning,
            LogLevel::Success => Line::Success,
            LogLevel::Info => Line::Info,
            LogLevel::Debug => Line::Debug,
            LogLevel::Trace => Line::Trace,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_original_tools_prefixes_and_streams() {
        let cases = [
            (Line::Error, "ERROR: x", Stream::Stderr),
            (Line::Warning, "WARNING: x", Stream::Stderr),
            (Line::Hint, "hint: x", Stream::Stderr),
            (Line::Info, "INFO: x", Stream::Stdout),
            (Line::Success, "✓ x", Stream::Stdout),
            (Line::Plain, "x", Stream::Stdout),
            (Line::Debug, "x", Stream::Stderr),
            (Line::Trace, "x", Stream::Stderr),
        ];
        for (line, text, stream) in cases {
            assert_eq!(line.render("x", false), text, "{line:?}");
            assert_eq!(line.stream(), stream, "{line:?}");
        }
    }

    #[test]
    fn colours_only_when_asked() {
        assert_eq!(Line::Success.render("ok", true), "\x1b[1;32m✓\x1b[0m ok");
        assert_eq!(Line::Debug.render("d", true), "\x1b[2md\x1b[0m");
        assert_eq!(Line::Plain.render("p", true), "p");
    }

    #[test]
    fn every_log_level_has_its_line_and_verbosity() {
        assert_eq!(Line::from(LogLevel::Warn), Line::Warning);
        assert!(Line::from(LogLevel::Error).shown_at(-1));
        assert!(!Line::from(LogLevel::Info).shown_at(-1));
        assert!(Line::from(LogLevel::Info).shown_at(0));
        assert!(!Line::from(LogLevel::Debug).shown_at(0) && Line::from(LogLevel::Debug).shown_at(1));
        assert!(!Line::from(LogLevel::Trace).shown_at(1) && Line::from(LogLevel::Trace).shown_at(2));
    }
}
