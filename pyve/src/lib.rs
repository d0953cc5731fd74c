//! pyve, the host: a small program that finds plugins cargo-style and talks to them over a
//! documented JSON protocol (see `docs/protocol.md`).
//!
//! `main` is the one place that turns a result into output and an exit code.

pub mod backend;
pub mod cli;
pub mod commands;
pub mod conformance;
pub mod env;
pub mod error;
pub mod json;
pub mod plugins;
pub mod project;
pub mod report;
pub mod rpc;
pub mod signals;
pub mod ui;

use std::ffi::OsString;
use std::fmt::Write as _;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use cli::{BUILTINS, Cli, Cmd, PluginCmd};
use env::{HostEnv, VERSION};
use error::{EXIT_USAGE, Error, Result};

/// Run pyve with the process's arguments.
pub fn main() -> ExitCode {
    // A TAB in a shell whose completion script pyve wrote (`PYVE_COMPLETE` set): answer, exit.
    commands::completions::complete_if_asked();
    let args: Vec<OsString> = std::env::args_os().collect();
    // The man page (hidden: `pyve --install` writes it where `man pyve` finds it).
    if args.len() == 2 && args[1] == "__man" {
        use std::io::Write as _;
        let _ = std::io::stdout().write_all(&commands::completions::man_page());
        return ExitCode::SUCCESS;
    }
    // The commonest calls answer before anything else is set up.
    if args.len() == 2 && (args[1] == "--version" || args[1] == "-v" || args[1] == "-V") {
        ui::out(&format!("pyve version {VERSION}\n"));
        return ExitCode::SUCCESS;
    }
    // `pyve run CMD ...` is on the path of every command a user runs in the environment: it
    // skips building the whole command line parser (its own help still goes through clap).
    if args.get(1).is_some_and(|a| a == "run") && args.get(2).is_some_and(|a| a != "--help" && a != "-h") {
        // pyve's own -q / --verbose may come first (global flags go anywhere); from the
        // command on (or after `--`), every argument is the command's.
        let mut rest = &args[2..];
        let mut verbosity = 0i8;
        while let Some(flag) = rest.first().and_then(|a| a.to_str()) {
            match flag {
                "-q" | "--quiet" => verbosity = -1,
                "--verbose" if verbosity >= 0 => verbosity = (verbosity + 1).min(2),
                "--verbose" => {}
                _ => break,
            }
            rest = &rest[1..];
        }
        ui::init(ui::ColorChoice::Auto, verbosity);
        let env = HostEnv::from_process();
        return finish(commands::run::run(&env, rest));
    }
    // `pyve NAME ...` for a plugin: its dispatch should cost no more than starting pyve, so the
    // parser (which plugin commands do not use: the plugin owns its command line) is skipped.
    if let Some(name) = args.get(1).and_then(|a| a.to_str())
        && pyve_protocol::is_valid_plugin_name(name)
        && !BUILTINS.contains(&name)
    {
        ui::init(ui::ColorChoice::Auto, 0);
        let env = HostEnv::from_process();
        return finish(commands::external::run(&env, name, &args[2..], BUILTINS));
    }
    finish(run(args))
}

fn finish(result: Result<u8>) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            ui::error(&e);
            ExitCode::from(e.code())
        }
    }
}

fn run(args: Vec<OsString>) -> Result<u8> {
    let env = HostEnv::from_process();
    let mut command = Cli::command();
    if wants_help(&args) {
        ui::init(ui::ColorChoice::Auto, 0);
        command = command.after_help(help_epilogue(&env));
    }
    // `pyve --init` takes the options its backends declare (from their cached manifests).
    let declared =
        if mentions_init(&args) { backend::declared_options(&plugins::inventory(&env, BUILTINS)) } else { Vec::new() };
    if !declared.is_empty() {
        command = cli::with_backend_options(command, &declared);
    }
    let matches = match command.try_get_matches_from(&args) {
        Ok(m) => m,
        Err(e) => {
            let help = help_command(&args, &e);
            return clap_failure(e, mentions_init(&args), &help);
        }
    };
    let given = matches.subcommand_matches("init").map(|m| cli::given_options(m, &declared)).unwrap_or_default();
    let cli = Cli::from_arg_matches(&matches).map_err(|e| Error::usage(e.to_string()))?;
    let verbosity = if cli.quiet { -1 } else { cli.verbose.min(2) as i8 };
    ui::init(cli.color, verbosity);

    if cli.version {
        if cli.command.is_some() || cli.list {
            return Err(version_with_command(&args));
        }
        ui::out(&format!("pyve version {VERSION}\n"));
        return Ok(0);
    }
    if cli.list {
        return commands::plugin::list(&env, BUILTINS, false, false);
    }
    match cli.command {
        Some(Cmd::Init(mut args)) => {
            args.options = given;
            commands::init::run(&env, args)
        }
        Some(Cmd::Purge { dir, venv_dir }) => {
            let dir = commands::init::venv_dir(dir, venv_dir, "--purge")?;
            commands::purge::run(&env, dir.as_deref())
        }
        Some(Cmd::PythonVersion { version }) => commands::python_version::run(&env, &version),
        Some(Cmd::Run { command }) => commands::run::run(&env, &command),
        Some(Cmd::Sync { check }) => commands::sync::run(&env, check),
        Some(Cmd::Config { json }) => commands::config_report::run(&env, json),
        Some(Cmd::Doctor { json }) => commands::doctor::run(&env, json),
        Some(Cmd::Validate { json }) => commands::validate::run(&env, json),
        Some(Cmd::Completions { shell }) => commands::completions::run(shell),
        Some(Cmd::Install) => commands::install::install(&env),
        Some(Cmd::Uninstall) => commands::install::uninstall(&env),
        Some(Cmd::Plugin(p)) => match p.command {
            PluginCmd::List { json, verbose } => {
                commands::plugin::list(&env, BUILTINS, json, verbose || cli.verbose > 0)
            }
            PluginCmd::Which { name } => commands::plugin::which(&env, BUILTINS, &name),
            PluginCmd::Info { name, json } => commands::plugin::info(&env, BUILTINS, &name, json),
            PluginCmd::Install { source: Some(source), force, registry, offline } => {
                commands::plugin::install(&env, &source, force, registry, offline)
            }
            PluginCmd::Install { source: None, force, registry, offline } => {
                if registry.is_some() {
                    return Err(Error::usage("--registry needs a SOURCE").hint(
                        "without a SOURCE the registry comes from each pin (`registry:` beside it in .pyve/config)",
                    ));
                }
                commands::plugin_pins::install_pinned(&env, force, offline)
            }
            PluginCmd::Test { target, json, project, no_backend_cycle, timeout } => {
                let opts = conformance::Options {
                    timeout: std::time::Duration::from_secs(timeout.clamp(1, 3600)),
                    project,
                    env: Vec::new(),
                    backend_cycle: !no_backend_cycle,
                };
                commands::plugin::test(&env, BUILTINS, &target, &opts, json)
            }
            PluginCmd::New { name, lang, backend, command: _, hook, dir, sdk } => {
                use commands::plugin_new::Role;
                let role = if backend {
                    Role::Backend
                } else if hook {
                    Role::Hook
                } else {
                    Role::Command
                };
                commands::plugin_new::run(&env, &name, lang, role, dir.as_deref(), sdk.as_deref())
            }
            PluginCmd::Pin { name, version } => commands::plugin_pins::pin(&env, &name, version.as_deref()),
            PluginCmd::Unpin { name } => commands::plugin_pins::unpin(&env, &name),
            PluginCmd::Remove { name } => commands::plugin::remove(&env, &name),
        },
        Some(Cmd::External(mut argv)) => {
            let name = argv.remove(0);
            let name = name.to_str().ok_or_else(|| {
                Error::usage(format!("Unknown command: {}", name.to_string_lossy()))
                    .hint("command names are plain words: `pyve --help` lists them")
            })?;
            commands::external::run(&env, name, &argv, BUILTINS)
        }
        None => {
            // As the original: the error on stderr, the whole help on stdout, exit 1.
            let mut help = Cli::command().after_help(help_epilogue(&env));
            ui::out(&help.render_help().to_string());
            Err(Error::usage("No command provided.")
                .hint("set up a project with `pyve --init`, then run commands in it with `pyve run CMD`"))
        }
    }
}

/// `pyve -v init`: the original's `-v` is `--version`, which people type for "verbose". With a
/// command after it, it is an error that says so rather than a version and nothing done.
fn version_with_command(args: &[OsString]) -> Error {
    let flag = args
        .iter()
        .skip(1)
        .find(|a| *a == "-v" || *a == "-V" || *a == "--version")
        .map_or("--version".to_owned(), |a| a.to_string_lossy().into_owned());
    let verbose: Vec<String> = args
        .iter()
        .skip(1)
        .map(|a| if a == "-v" || a == "-V" { "--verbose".to_owned() } else { a.to_string_lossy().into_owned() })
        .collect();
    let error = Error::usage(format!("`{flag}` prints pyve's version and takes no command"));
    // `--version` spelled out is not a mistyped `--verbose`.
    if flag == "--version" {
        return error.hint("run `pyve --version` alone, or the command without it");
    }
    error.hint(format!("for more detail use `--verbose`: pyve {}", verbose.join(" ")))
}

/// Whether the command line is `pyve --init ...` (in any spelling).
fn mentions_init(args: &[OsString]) -> bool {
    args.iter().skip(1).any(|a| a == "--init" || a == "-i" || a == "init")
}

fn wants_help(args: &[OsString]) -> bool {
    args.iter()
        .skip(1)
        .take_while(|a| a.to_str().is_some_and(|s| s.starts_with('-')))
        .any(|a| a == "-h" || a == "--help")
        || args.get(1).is_some_and(|a| a == "help") && args.len() == 2
}

/// The part of `--help` that depends on what is installed: the plugins' commands.
fn help_epilogue(env: &HostEnv) -> String {
    let inventory = plugins::inventory(env, BUILTINS);
    let commands = inventory.commands();
    let mut text = String::new();
    if !commands.is_empty() {
        let width = commands.keys().map(|k| k.chars().count()).max().unwrap_or(0);
        text.push_str("Plugin commands:\n");
        for (name, (summary, plugin)) in &commands {
            // Padded by hand: a `{:<w$}` width above 65 535 panics.
            let pad = " ".repeat(width.saturating_sub(name.chars().count()));
            let _ = writeln!(text, "  {name}{pad}  {summary} [{plugin}]");
        }
        text.push('\n');
    }
    text.push_str(
        "Any executable named pyve-NAME on PYVE_PLUGIN_PATH, in ~/.pyve/plugins or on PATH adds `pyve NAME`.\n\
         `pyve --list` shows the plugins found; docs/cli.md describes every command.\n",
    );
    text
}

/// The help that lists the options of the command a usage error is about: `pyve doctor
/// --help` for `pyve doctor --jsn`, `pyve plugin info --help` for `pyve plugin info`, `pyve
/// --help` for `pyve --frobnicate` (`pyve --help` alone lists no command's options). The
/// command is the last built-in command spelled on the line before the offending argument.
fn help_command(args: &[OsString], e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue};
    let offending = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => Some(s.split('=').next().unwrap_or(s).to_owned()),
        _ => None,
    };
    let root = Cli::command();
    let mut level = &root;
    let mut words = vec!["pyve".to_owned()];
    for arg in args.iter().skip(1) {
        let Some(arg) = arg.to_str() else { break };
        if offending.as_deref() == Some(arg.split('=').next().unwrap_or(arg)) {
            break;
        }
        let found = level.get_subcommands().find(|sc| {
            sc.get_name() == arg
                || sc.get_long_flag().is_some_and(|l| arg.strip_prefix("--") == Some(l))
                || sc.get_short_flag().is_some_and(|c| arg.strip_prefix('-') == Some(c.encode_utf8(&mut [0; 4])))
        });
        if let Some(sc) = found {
            words.push(sc.get_long_flag().map_or_else(|| sc.get_name().to_owned(), |l| format!("--{l}")));
            level = sc;
        }
    }
    words.push("--help".to_owned());
    words.join(" ")
}

/// Print a clap error in pyve's style (`ERROR:` / `hint:`), or help/version on stdout.
fn clap_failure(e: clap::Error, init: bool, help: &str) -> Result<u8> {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            ui::out(&e.render().to_string());
            Ok(0)
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            ui::out(&e.render().to_string());
            Ok(EXIT_USAGE)
        }
        _ => {
            let rendered = e.render().to_string();
            let mut lines = rendered.lines().filter(|l| !l.trim().is_empty());
            let first = lines.next().unwrap_or("invalid arguments");
            let original = original_wording(&e, help);
            let mut err = Error::usage(match &original {
                Some((message, _)) => message.clone(),
                None => first.trim_start_matches("error: ").trim_end_matches(':').to_owned(),
            });
            let own_words = original.is_some();
            let mut hints: Vec<String> = original.and_then(|(_, hint)| hint).into_iter().collect();
            let own_usage = !hints.is_empty();
            for line in lines {
                let line = line.trim();
                if let Some(tip) = line.strip_prefix("tip: ") {
                    // clap's "to pass '--x' as a value, use '-- --x'" misleads more than it
                    // helps: pyve's positional arguments are never option-like.
                    if !tip.starts_with("to pass '") {
                        hints.push(tip.to_owned());
                    }
                } else if let Some(usage) = line.strip_prefix("Usage: ") {
                    if !own_usage {
                        hints.push(format!("usage: {usage}"));
                    }
                } else if !own_words && !line.starts_with("For more information") {
                    err = err.because(line);
                }
            }
            if let Some(hint) = uninstalled_backend_option(&e).filter(|_| init) {
                hints.insert(0, hint);
            } else if let Some(hint) = similar_flag(&e) {
                hints.insert(0, hint);
            }
            hints.push(format!("`{help}` shows every option"));
            Err(err.hint(hints.join("; ")))
        }
    }
}

/// The original's words for the usage errors its scripts and tests know (reference 1.1-1.4):
/// `Unknown option: --frob` (`Unknown command: --frob` before any command), `--python-version
/// requires a version argument` and the other missing values, `Invalid --bootstrap-to value`.
/// The message, and a hint to put first.
fn original_wording(e: &clap::Error, help: &str) -> Option<(String, Option<String>)> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let arg = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => s.clone(),
        Some(ContextValue::Strings(v)) => v.first()?.clone(),
        _ => return None,
    };
    // `--python-version <VERSION>`, `--bootstrap-to=<WHERE>`: the flag alone.
    let flag = arg.split([' ', '=']).next().unwrap_or(&arg).to_owned();
    let value = match e.get(ContextKind::InvalidValue) {
        Some(ContextValue::String(v)) => v.clone(),
        _ => String::new(),
    };
    let missing = |what: &str| Some((format!("{flag} {what}"), None));
    match e.kind() {
        ErrorKind::UnknownArgument if flag.starts_with('-') => {
            let what = if help == "pyve --help" { "command" } else { "option" };
            Some((format!("Unknown {what}: {flag}"), None))
        }
        ErrorKind::InvalidValue | ErrorKind::MissingRequiredArgument | ErrorKind::NoEquals if value.is_empty() => {
            match flag.as_str() {
                "--python-version" | "<VERSION>" => Some((
                    "--python-version requires a version argument".to_owned(),
                    Some(
                        "usage: pyve --python-version <version>, for example: pyve --python-version 3.13.7".to_owned(),
                    ),
                )),
                "--backend" => missing("requires a backend type (venv, micromamba, auto)"),
                "--env-name" => missing("requires an environment name"),
                "--bootstrap-to" => missing("requires a location (project, user)"),
                // `pyve --init ''` (reference 3.15).
                "[DIR]" | "<DIR>" => Some(("Virtual environment directory name cannot be empty.".to_owned(), None)),
                "--venv-dir" => missing("requires a directory name"),
                _ => None,
            }
        }
        ErrorKind::InvalidValue if flag == "--bootstrap-to" => {
            Some((format!("Invalid --bootstrap-to value: {value}"), Some("Must be 'project' or 'user'".to_owned())))
        }
        _ => None,
    }
}

/// For an unknown argument of `pyve --init` that belongs to a backend pyve knows by name whose
/// plugin is not installed (`--env-name` without pyve-micromamba, `DIR` without pyve-venv):
/// how to install it.
fn uninstalled_backend_option(e: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if e.kind() != ErrorKind::UnknownArgument {
        return None;
    }
    let Some(ContextValue::String(given)) = e.get(ContextKind::InvalidArg) else { return None };
    let env = HostEnv::from_process();
    let installed = |backend: &str| {
        backend::declared_options(&plugins::inventory(&env, BUILTINS)).iter().any(|d| d.backend == backend)
    };
    match given.split('=').next().and_then(|g| g.strip_prefix("--")) {
        Some(name) => {
            let (_, backend) = backend::WELL_KNOWN_OPTIONS.iter().find(|(o, _)| *o == name)?;
            (!installed(backend)).then(|| {
                format!(
                    "--{name} is an option of the {backend} backend, whose plugin is not installed: `pyve plugin install {backend}` (or put pyve-{backend} on the plugin path)"
                )
            })
        }
        None if !given.starts_with('-') && !installed("venv") => Some(format!(
            "`pyve --init {given}` names the venv directory of the venv backend, whose plugin is not installed: `pyve plugin install venv` (or put pyve-venv on the plugin path)"
        )),
        None => None,
    }
}

/// For an unknown `--flag`, the closest long flag pyve knows: its options and its commands'
/// flag spellings (`--innit` → `--init`), which clap does not suggest for subcommand flags.
fn similar_flag(e: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if e.kind() != ErrorKind::UnknownArgument {
        return None;
    }
    // clap's own suggestion, when it has one, is already a tip.
    if e.get(ContextKind::SuggestedArg).is_some() {
        return None;
    }
    let Some(ContextValue::String(given)) = e.get(ContextKind::InvalidArg) else { return None };
    let given = given.split('=').next()?.strip_prefix("--")?;
    let top = Cli::command();
    let mut known: Vec<String> = Vec::new();
    // The flag exactly, on another command (`pyve --purge --force`): "did you mean `--force`?"
    // would suggest what was just refused; name the command it belongs to instead.
    let mut owners: Vec<String> = Vec::new();
    for cmd in std::iter::once(&top).chain(top.get_subcommands()) {
        known.extend(cmd.get_long_flag().map(str::to_owned));
        known.extend(cmd.get_arguments().filter_map(|a| a.get_long()).map(str::to_owned));
        if cmd.get_arguments().any(|a| a.get_long() == Some(given)) && !std::ptr::eq(cmd, &top) {
            owners.push(cmd.get_long_flag().map_or_else(|| cmd.get_name().to_owned(), |f| format!("--{f}")));
        }
    }
    if let Some(owner) = owners.first() {
        return Some(format!("`--{given}` is an option of `pyve {owner}`, not of this command"));
    }
    known
        .iter()
        .map(|k| (strsim::damerau_levenshtein(given, k), k))
        .filter(|(d, k)| *d <= (given.len().max(k.len()) / 3).max(1))
        .min()
        .map(|(_, k)| format!("did you mean `--{k}`?"))
}
