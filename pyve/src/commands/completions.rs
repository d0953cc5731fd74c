//! `pyve completions SHELL` and the completion requests its scripts make; `pyve __man`.
//!
//! Completion is dynamic (docs/decisions.md): the script `pyve completions SHELL` prints is a
//! small registration that, at each TAB, runs `PYVE_COMPLETE=SHELL pyve -- WORDS...`. pyve then
//! completes from the same clap definition it parses with, plus the commands of the installed
//! plugins and the `--init` options of the installed backends (from the cached manifests), so
//! a plugin installed later completes without regenerating anything.

use std::io::Write as _;

use clap::CommandFactory as _;
use clap_complete::env::EnvCompleter;

use crate::cli::{BUILTINS, Cli};
use crate::env::HostEnv;
use crate::error::{Error, Result};

/// The variable the scripts set to ask for completions.
pub const VAR: &str = "PYVE_COMPLETE";

/// The shells pyve writes completions for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    /// bash (with bash-completion)
    Bash,
    /// zsh
    Zsh,
    /// fish
    Fish,
}

impl Shell {
    fn completer(self) -> &'static dyn EnvCompleter {
        match self {
            Shell::Bash => &clap_complete::env::Bash,
            Shell::Zsh => &clap_complete::env::Zsh,
            Shell::Fish => &clap_complete::env::Fish,
        }
    }

    /// Every shell, in the order install reports them.
    pub const ALL: [Shell; 3] = [Shell::Bash, Shell::Zsh, Shell::Fish];
}

/// The script for `shell`.
pub fn script(shell: Shell) -> Vec<u8> {
    let mut buf = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = shell.completer().write_registration(VAR, "pyve", "pyve", "pyve", &mut buf);
    buf
}

/// `pyve completions SHELL`.
pub fn run(shell: Shell) -> Result<u8> {
    let mut out = std::io::stdout().lock();
    match out.write_all(&script(shell)).and_then(|_| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::new("cannot write the completion script").because(e))
        }
        _ => Ok(0),
    }
}

/// The command line completion works from: pyve's own, the installed backends' `--init`
/// options, and one subcommand per plugin command (its summary as help).
pub fn command(env: &HostEnv) -> clap::Command {
    let inventory = crate::plugins::inventory(env, BUILTINS);
    let declared = crate::backend::declared_options(&inventory);
    let mut cmd = Cli::command();
    if !declared.is_empty() {
        cmd = crate::cli::with_backend_options(cmd, &declared);
    }
    let backends: Vec<String> = {
        let mut v: Vec<String> = declared.iter().map(|d| d.backend.clone()).collect();
        for e in inventory.active() {
            if let Some(m) = &e.manifest {
                v.extend(m.provides.backends.iter().map(|b| b.name.clone()));
            }
        }
        v.push("auto".into());
        v.sort();
        v.dedup();
        v
    };
    cmd = cmd.mut_subcommand("init", |sc| {
        sc.mut_arg("backend", |a| a.value_parser(clap::builder::PossibleValuesParser::new(backends.clone())))
    });
    for (name, (summary, plugin)) in inventory.commands() {
        if BUILTINS.contains(&name.as_str()) || cmd.find_subcommand(&name).is_some() {
            continue;
        }
        let about = if summary.is_empty() { format!("(pyve-{plugin})") } else { format!("{summary} (pyve-{plugin})") };
        cmd = cmd.subcommand(
            clap::Command::new(name).about(about).arg(
                clap::Arg::new("args")
                    .num_args(0..)
                    .trailing_var_arg(true)
                    .allow_hyphen_values(true)
                    .value_hint(clap::ValueHint::AnyPath),
            ),
        );
    }
    cmd
}

/// Answer a completion request when `PYVE_COMPLETE` is set (then exit); else return.
pub fn complete_if_asked() {
    if std::env::var_os(VAR).is_none_or(|v| v.is_empty() || v == "0") {
        return;
    }
    crate::ui::init(crate::ui::ColorChoice::Never, -1);
    let env = HostEnv::from_process();
    let args = flag_commands_as_words(std::env::args_os().collect());
    let cwd = std::env::current_dir().ok();
    match clap_complete::CompleteEnv::with_factory(move || command(&env)).var(VAR).try_complete(args, cwd.as_deref()) {
        Ok(_) => std::process::exit(0),
        Err(e) => e.exit(),
    }
}

/// clap's completion engine knows subcommands by name only: `pyve --init --backend <TAB>`
/// completes as `pyve init --backend <TAB>`. The first command flag (`--init`, `-i`, `--purge`,
/// ...) among the words, other than the one being completed, becomes its command's name.
fn flag_commands_as_words(mut args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let Some(dash) = args.iter().position(|a| a == "--") else { return args };
    let cursor = std::env::var("_CLAP_COMPLETE_INDEX").ok().and_then(|i| i.parse::<usize>().ok());
    let last = args.len().saturating_sub(1);
    let cli = Cli::command();
    let mut flags: Vec<(String, String)> = Vec::new();
    for sc in cli.get_subcommands() {
        if let Some(l) = sc.get_long_flag() {
            flags.push((format!("--{l}"), sc.get_name().to_owned()));
        }
        if let Some(s) = sc.get_short_flag() {
            flags.push((format!("-{s}"), sc.get_name().to_owned()));
        }
    }
    // Words: args[dash + 1] is `pyve`, then its arguments.
    for (i, arg) in args.iter_mut().enumerate().skip(dash + 2) {
        if i == last || cursor.is_some_and(|c| dash + 1 + c == i) {
            continue;
        }
        let Some(word) = arg.to_str() else { continue };
        if let Some((_, name)) = flags.iter().find(|(f, _)| f == word) {
            *arg = name.into();
            break;
        }
        if !word.starts_with('-') {
            break;
        }
    }
    args
}

/// `pyve __man`: the man page, generated from the command line.
pub fn man_page() -> Vec<u8> {
    let mut buf = Vec::new();
    let cmd = Cli::command().after_help(
        "Any executable named pyve-NAME on PYVE_PLUGIN_PATH, in ~/.pyve/plugins or on PATH adds `pyve NAME`.",
    );
    // Writing to a Vec cannot fail.
    let _ = clap_mangen::Man::new(cmd).render(&mut buf);
    buf
}
