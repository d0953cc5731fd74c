//! The command line of `pyve testenv` (`pyve test` has none: every argument goes to pytest).
//!
//! ```text
//! pyve testenv --init
//! pyve testenv --install [-r FILE]...
//! pyve testenv --purge
//! pyve testenv --status
//! pyve testenv run CMD [ARGS...]
//! pyve testenv --help | -h
//! pyve testenv --version | -V
//! ```
//!
//! The actions are also accepted without dashes (`pyve testenv init`), like `run`. Exactly one
//! action is required; `-r FILE` (`--requirements FILE`, `--requirements=FILE`, `-rFILE`) may be
//! repeated and belongs to `--install`. Everything after `run CMD` belongs to `CMD`. Anything
//! else is a [`UsageError`] (exit 1, as the original).

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

/// The usage line, shown with every usage error.
pub const USAGE: &str = "Usage: pyve testenv --init | --install [-r FILE] | --purge | --status | run CMD [ARGS...]";

/// What `pyve testenv` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `--init`: create the environment.
    Init,
    /// `--install [-r FILE]...`: install pytest, or the requirement files.
    Install {
        /// The `-r` files, in order (empty: install pytest).
        requirements: Vec<PathBuf>,
    },
    /// `--purge`: remove `.pyve/testenv`.
    Purge,
    /// `--status`: print the environment's state.
    Status,
    /// `run CMD [ARGS...]`: run a tool from the environment.
    Run {
        /// The command.
        program: OsString,
        /// Its arguments.
        args: Vec<OsString>,
    },
    /// `--help`, `-h`.
    Help,
    /// `--version`, `-V`.
    Version,
}

impl Action {
    fn name(&self) -> &'static str {
        match self {
            Action::Init => "--init",
            Action::Install { .. } => "--install",
            Action::Purge => "--purge",
            Action::Status => "--status",
            Action::Run { .. } => "run",
            Action::Help => "--help",
            Action::Version => "--version",
        }
    }
}

/// A command line that cannot be understood (exit 1, with the usage).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Parse the arguments after `pyve testenv`.
pub fn parse(args: &[OsString]) -> Result<Action, UsageError> {
    let mut action: Option<Action> = None;
    let mut requirements: Vec<PathBuf> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        let Some(text) = arg.to_str() else {
            return Err(UsageError(format!("Unknown testenv argument: {}", arg.to_string_lossy())));
        };
        match text {
            "-h" | "--help" => return Ok(Action::Help),
            "-V" | "--version" => return Ok(Action::Version),
            "--init" | "init" => set(&mut action, Action::Init)?,
            "--install" | "install" => set(&mut action, Action::Install { requirements: Vec::new() })?,
            "--purge" | "purge" => set(&mut action, Action::Purge)?,
            "--status" | "status" => set(&mut action, Action::Status)?,
            "run" => {
                if i < args.len() && args[i] == "--" {
                    i += 1;
                }
                let Some(program) = args.get(i).cloned() else {
                    return Err(UsageError("run requires a command: pyve testenv run CMD [ARGS...]".into()));
                };
                let run = Action::Run { program, args: args[i + 1..].to_vec() };
                set(&mut action, run)?;
                break;
            }
            "-r" | "--requirements" => match args.get(i).filter(|v| is_value(v)) {
                Some(value) => {
                    requirements.push(PathBuf::from(value));
                    i += 1;
                }
                None => return Err(UsageError(format!("{text} requires a file path"))),
            },
            _ => {
                if let Some(value) = text.strip_prefix("--requirements=").or_else(|| text.strip_prefix("-r")) {
                    let value = value.strip_prefix('=').unwrap_or(value);
                    if value.is_empty() {
                        return Err(UsageError(format!("{} requires a file path", &text[..text.len() - 1])));
                    }
                    requirements.push(PathBuf::from(value));
                } else if text.starts_with('-') {
                    return Err(UsageError(format!("Unknown testenv option: {text}")));
                } else {
                    return Err(UsageError(format!("Unknown testenv command: {text}")));
                }
            }
        }
    }
    match action {
        None => Err(UsageError("No testenv action provided".into())),
        Some(Action::Install { .. }) => Ok(Action::Install { requirements }),
        Some(other) if !requirements.is_empty() => {
            Err(UsageError(format!("-r/--requirements only goes with --install, not with {}", other.name())))
        }
        Some(other) => Ok(other),
    }
}

/// Choose `new` as the action; a different one already chosen is a usage error.
fn set(action: &mut Option<Action>, new: Action) -> Result<(), UsageError> {
    match action {
        Some(old) if *old != new => Err(UsageError(format!(
            "Only one testenv action at a time: {} and {} were both given",
            old.name(),
            new.name()
        ))),
        _ => {
            *action = Some(new);
            Ok(())
        }
    }
}

/// Whether `v` can be the value of an option: not empty, not another option.
fn is_value(v: &OsStr) -> bool {
    !v.is_empty() && !v.as_encoded_bytes().starts_with(b"-")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Action, UsageError> {
        parse(&args.iter().map(OsString::from).collect::<Vec<_>>())
    }

    fn err(args: &[&str]) -> String {
        p(args).unwrap_err().0
    }

    #[test]
    fn actions() {
        assert_eq!(p(&["--init"]), Ok(Action::Init));
        assert_eq!(p(&["init"]), Ok(Action::Init));
        assert_eq!(p(&["--init", "--init"]), Ok(Action::Init));
        assert_eq!(p(&["--purge"]), Ok(Action::Purge));
        assert_eq!(p(&["--status"]), Ok(Action::Status));
        assert_eq!(p(&["--install"]), Ok(Action::Install { requirements: vec![] }));
        assert_eq!(p(&["-h"]), Ok(Action::Help));
        assert_eq!(p(&["--init", "--help"]), Ok(Action::Help));
        assert_eq!(p(&["--version"]), Ok(Action::Version));
    }

    #[test]
    fn requirements() {
        let want = |files: &[&str]| Ok(Action::Install { requirements: files.iter().map(PathBuf::from).collect() });
        assert_eq!(p(&["--install", "-r", "req.txt"]), want(&["req.txt"]));
        assert_eq!(p(&["-r", "req.txt", "--install"]), want(&["req.txt"]));
        assert_eq!(
            p(&["--install", "--requirements", "a.txt", "-rb.txt", "--requirements=c.txt"]),
            want(&["a.txt", "b.txt", "c.txt"])
        );
        assert_eq!(p(&["install", "-r=dev/req.txt"]), want(&["dev/req.txt"]));
        assert_eq!(err(&["--install", "-r"]), "-r requires a file path");
        assert_eq!(err(&["--install", "--requirements"]), "--requirements requires a file path");
        assert_eq!(err(&["--install", "-r", "--purge"]), "-r requires a file path");
        assert_eq!(err(&["--install", "-r", ""]), "-r requires a file path");
        assert_eq!(err(&["--install", "--requirements="]), "--requirements requires a file path");
        assert_eq!(err(&["--init", "-r", "req.txt"]), "-r/--requirements only goes with --install, not with --init");
    }

    #[test]
    fn run_takes_the_rest() {
        let run = |program: &str, args: &[&str]| {
            Ok(Action::Run { program: program.into(), args: args.iter().map(OsString::from).collect() })
        };
        assert_eq!(p(&["run", "ruff", "check", "--fix", "-h"]), run("ruff", &["check", "--fix", "-h"]));
        assert_eq!(p(&["run", "--", "--weird", "x"]), run("--weird", &["x"]));
        assert_eq!(p(&["run", "mypy", "--init"]), run("mypy", &["--init"]));
        assert_eq!(err(&["run"]), "run requires a command: pyve testenv run CMD [ARGS...]");
        assert_eq!(err(&["run", "--"]), "run requires a command: pyve testenv run CMD [ARGS...]");
        assert_eq!(
            err(&["--init", "run", "ruff"]),
            "Only one testenv action at a time: --init and run were both given"
        );
        assert_eq!(err(&["-r", "x", "run", "ruff"]), "-r/--requirements only goes with --install, not with run");
    }

    #[test]
    fn usage_errors() {
        assert_eq!(err(&[]), "No testenv action provided");
        assert_eq!(err(&["--bogus"]), "Unknown testenv option: --bogus");
        assert_eq!(err(&["-x"]), "Unknown testenv option: -x");
        assert_eq!(err(&["bogus"]), "Unknown testenv command: bogus");
        assert_eq!(
            err(&["--init", "--purge"]),
            "Only one testenv action at a time: --init and --purge were both given"
        );
        assert_eq!(
            err(&["--install", "--status"]),
            "Only one testenv action at a time: --install and --status were both given"
        );
        // An unknown option before --help is reported; --help first wins.
        assert_eq!(err(&["--bogus", "--help"]), "Unknown testenv option: --bogus");
        assert_eq!(p(&["--help", "--bogus"]), Ok(Action::Help));
    }

    #[test]
    fn non_utf8_arguments_are_usage_errors() {
        use std::os::unix::ffi::OsStringExt;
        let bad = OsString::from_vec(vec![b'-', 0xff]);
        assert!(parse(&[bad]).unwrap_err().0.starts_with("Unknown testenv argument"));
        // ...but they may be a tool's arguments.
        let arg = OsString::from_vec(vec![0xff]);
        let out = parse(&["run".into(), "tool".into(), arg.clone()]).unwrap();
        assert_eq!(out, Action::Run { program: "tool".into(), args: vec![arg] });
    }
}
