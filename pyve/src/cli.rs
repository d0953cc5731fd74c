//! The command line. Flag spellings follow the original shell tool (`pyve --version`, `-v`);
//! anything that is not a built-in command runs a plugin (`pyve NAME ARGS...`).

use std::ffi::OsString;

use clap::{ArgAction, Args, Parser, Subcommand};

use crate::ui::ColorChoice;

/// Names pyve serves itself; plugins never shadow them.
pub const BUILTINS: &[&str] = &[
    "completions",
    "config",
    "doctor",
    "help",
    "init",
    "install",
    "plugin",
    "purge",
    "python-version",
    "run",
    "sync",
    "uninstall",
    "validate",
];

/// pyve - Python environments in one command
#[derive(Parser, Debug)]
#[command(
    name = "pyve",
    bin_name = "pyve",
    about = "pyve - Python environments in one command",
    disable_version_flag = true,
    allow_external_subcommands = true,
    override_usage = "pyve [OPTIONS] <COMMAND> [ARGS]..."
)]
pub struct Cli {
    /// Print pyve's version
    #[arg(short = 'v', visible_short_alias = 'V', long = "version", action = ArgAction::SetTrue)]
    pub version: bool,

    /// List the installed plugins (same as `pyve plugin list`)
    #[arg(long = "list", action = ArgAction::SetTrue)]
    pub list: bool,

    /// Show more detail (repeat for debug output)
    #[arg(long = "verbose", action = ArgAction::Count, global = true, display_order = 899)]
    pub verbose: u8,

    /// Show only errors and warnings
    #[arg(short = 'q', long = "quiet", action = ArgAction::SetTrue, global = true, display_order = 900)]
    pub quiet: bool,

    /// When to use colours: auto (on a terminal, unless NO_COLOR is set), always, never
    #[arg(long = "color", value_name = "WHEN", value_enum, default_value_t = ColorChoice::Auto, hide_possible_values = true, global = true, display_order = 901)]
    pub color: ColorChoice,

    #[command(subcommand)]
    pub command: Option<Cmd>,
}

/// Built-in commands; anything else is a plugin.
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Set up the project: interpreter, environment, .envrc, .env, .gitignore, .pyve/config
    #[command(long_flag = "init", short_flag = 'i')]
    Init(crate::commands::init::InitArgs),
    /// Run a command inside the project's environment
    #[command(
        override_usage = "pyve run [OPTIONS] [--] <COMMAND> [ARGS]...",
        after_help = "pyve's options go before COMMAND (pyve run -q -- pytest); everything after it is the command's,
and a `--` before it is dropped (pyve run -- pytest -x runs pytest -x).
The exit code is the command's (128+n when it is killed by signal n); 127 when it does not exist."
    )]
    Run {
        /// The command and its arguments
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "COMMAND")]
        command: Vec<OsString>,
    },
    /// Make the environment match the project again (rebuild it when its files changed)
    #[command(after_help = "The environment is out of date when a file it is made from changed, appeared or went
(requirements.txt, pyproject.toml, uv.lock, the version pin, environment.yml, ...: the backend
names them), when it is missing, when the last install of the project's dependencies failed,
or when .pyve/config names another backend.
Exit code with --check: 0 up to date, 1 out of date.")]
    Sync {
        /// Change nothing: say whether the environment is up to date (exit 1 when not)
        #[arg(long)]
        check: bool,
    },
    /// Remove what pyve created (keeps .pyve/testenv and a non-empty .env)
    #[command(long_flag = "purge", short_flag = 'p')]
    Purge {
        /// The environment's directory (must be the project's own)
        #[arg(value_name = "DIR")]
        dir: Option<String>,
        /// Another spelling of DIR
        #[arg(long = "venv-dir", value_name = "DIR", value_parser = clap::builder::NonEmptyStringValueParser::new())]
        venv_dir: Option<String>,
    },
    /// Pin the project's Python version (asdf or pyenv) without creating an environment
    #[command(long_flag = "python-version", name = "python-version")]
    PythonVersion {
        /// X.Y.Z or X.Y
        #[arg(value_name = "VERSION", value_parser = clap::builder::NonEmptyStringValueParser::new())]
        version: String,
    },
    /// Show the configuration: defaults, the project's config, backends and plugins
    #[command(long_flag = "config", short_flag = 'c')]
    Config {
        /// Print one JSON object (schema: docs/schemas/config.schema.json)
        #[arg(long)]
        json: bool,
    },
    /// Diagnose the project: backend, environment, interpreter, pip, direnv, .env, plugins
    #[command(after_help = "Exit code: 1 when any check fails (✗), else 0 (warnings alone exit 0).")]
    Doctor {
        /// Print one JSON object (schema: docs/schemas/doctor.schema.json)
        #[arg(long)]
        json: bool,
    },
    /// Validate the project's set-up against this pyve
    #[command(
        long_flag = "validate",
        after_help = "Exit code: 0 when everything passes, 1 when any check is an error, 2 for warnings only."
    )]
    Validate {
        /// Print one JSON object (schema: docs/schemas/validate.schema.json)
        #[arg(long)]
        json: bool,
    },
    /// Manage plugins: list, which, info, install, pin, unpin, test, new, remove
    Plugin(PluginArgs),
    /// Install pyve and its bundled plugins into ~/.local/bin and put it on PATH
    #[command(long_flag = "install")]
    Install,
    /// Remove what `pyve --install` installed (keeps a non-empty ~/.local/.env)
    #[command(long_flag = "uninstall")]
    Uninstall,
    /// Print the completion script for a shell (bash, zsh, fish)
    #[command(after_help = "The script asks pyve at each TAB, so commands of plugins installed later complete too.
`pyve --install` installs it for every shell; by hand (the directories may not exist yet):
  bash: mkdir -p ~/.local/share/bash-completion/completions
        pyve completions bash > ~/.local/share/bash-completion/completions/pyve
  zsh:  mkdir -p ~/.zfunc && pyve completions zsh > ~/.zfunc/_pyve   (~/.zfunc on fpath before compinit)
  fish: mkdir -p ~/.config/fish/completions
        pyve completions fish > ~/.config/fish/completions/pyve.fish")]
    Completions {
        /// The shell
        #[arg(value_enum)]
        shell: crate::commands::completions::Shell,
    },
    /// A plugin command: `pyve NAME ARGS...` runs the executable pyve-NAME
    #[command(external_subcommand)]
    External(Vec<OsString>),
}

/// `pyve plugin ...`
#[derive(Args, Debug)]
pub struct PluginArgs {
    #[command(subcommand)]
    pub command: PluginCmd,
}

/// `pyve plugin` subcommands.
#[derive(Subcommand, Debug)]
pub enum PluginCmd {
    /// List every plugin found, with version, kind, status, what it provides and its path
    List {
        /// Print a JSON array (name, version, kind, path, provides, status, ...)
        #[arg(long)]
        json: bool,
        /// Also list shadowed files, one row per file (also `--verbose`)
        #[arg(short = 'v', id = "shadowed")]
        verbose: bool,
    },
    /// Explain which file serves a name, and what it shadows or skipped
    Which {
        /// A plugin name or a plugin command
        name: String,
    },
    /// Start a plugin, perform the handshake and show its manifest
    Info {
        /// The plugin name
        name: String,
        /// Print the manifest as JSON
        #[arg(long)]
        json: bool,
    },
    /// Install a plugin into the user plugin directory ($PYVE_HOME/plugins)
    #[command(after_help = "SOURCE is one of:
  ./pyve-NAME, ./libpyve_NAME.so  a built executable or library (with its sibling of the other kind)
  ./pyve-NAME (starting with #!)  a script plugin; a Python one gets pyve's helper pyve_plugin.py
  ./DIR                           a crate (Cargo.toml: `cargo install --path`), or a script with its helpers
  git+URL                         a git repository, cloned, then installed as a directory
  NAME[@REQ], pyve-NAME[@REQ]     the Rust package registry (`cargo install pyve-NAME --version REQ`)
  (nothing)                       the project's pins (.pyve/config `plugins:`) that nothing installed matches

The plugin is staged and its handshake checked before anything is replaced; a receipt
($PYVE_HOME/plugins/.receipts/NAME.json) records its source, version and checksums.")]
    Install {
        /// What to install (see below); without it, every plugin the project pins that no
        /// installed copy matches, from the source recorded beside its pin
        source: Option<String>,
        /// Reinstall the same version, or replace a file pyve did not install
        #[arg(long)]
        force: bool,
        /// The cargo registry to install from (`cargo install --registry`)
        #[arg(long, value_name = "REGISTRY")]
        registry: Option<String>,
        /// Run cargo without network access (`cargo --offline`)
        #[arg(long)]
        offline: bool,
    },
    /// Pin a plugin of the project to the version in use (and where it was installed from)
    #[command(after_help = "The pin goes under `plugins:` in .pyve/config, in cargo's requirement syntax
(`^VERSION` of the copy in use unless --version says otherwise), with the source the plugin
was installed from when `pyve plugin install` recorded one; `pyve plugin install` (no
argument) then installs it on a teammate's machine. Every command honours pins.")]
    Pin {
        /// The plugin (or a command it provides, such as `test`)
        name: String,
        /// The requirement to write instead of ^VERSION-in-use, such as "~0.2" or "=0.2.1"
        #[arg(long, value_name = "REQ")]
        version: Option<String>,
    },
    /// Remove the pin of a plugin from the project's .pyve/config
    #[command(after_help = "The pin's lines go; comments and every other line of .pyve/config are kept.
The plugin stays installed: every command then uses the first copy found, as for a plugin
the project does not pin.")]
    Unpin {
        /// The pinned plugin
        name: String,
    },
    /// Check a plugin against the protocol: start the real file and test it rule by rule
    #[command(after_help = "Checks the handshake and version negotiation, the manifest, errors for bad input
(their code, message and data.kind), unknown fields and methods, nothing but protocol on
stdout, $/progress pairing, $/cancel, shutdown and end of input, a hook call, and for a
backend a create / describe / activation / replace / remove cycle in a temporary project.
Each failure names the rule, what was sent and what came back. Exit 1 on any failure.")]
    Test {
        /// A plugin file (./pyve-NAME, ./libpyve_NAME.so), or the name of an installed plugin
        /// (both its library and its executable are tested)
        target: String,
        /// Print the reports as JSON
        #[arg(long)]
        json: bool,
        /// Files to copy into the temporary project of the backend cycle (an environment.yml, ...)
        #[arg(long, value_name = "DIR")]
        project: Option<std::path::PathBuf>,
        /// Do not create environments (skip the backend cycle)
        #[arg(long)]
        no_backend_cycle: bool,
        /// Longest wait for one answer, in seconds
        #[arg(long, value_name = "SECONDS", default_value_t = 30)]
        timeout: u64,
    },
    /// Write a new plugin that builds, passes `pyve plugin test` and installs
    #[command(after_help = "Rust: a crate pyve-NAME/ on pyve-sdk (an executable and the dynamic library pyve loads
in-process). Python: pyve-NAME/pyve-NAME on the helper pyve_plugin.py, written beside it.
The skeleton is a command unless --backend or --hook says otherwise.")]
    New {
        /// The plugin's name: lowercase letters, digits and dashes
        name: String,
        /// The language
        #[arg(long, value_enum, default_value_t = crate::commands::plugin_new::Lang::Rust)]
        lang: crate::commands::plugin_new::Lang,
        /// A backend (an environment kind for `pyve --init --backend NAME`)
        #[arg(long, conflicts_with_all = ["command", "hook"])]
        backend: bool,
        /// A command `pyve NAME` (the default)
        #[arg(long, conflicts_with = "hook")]
        command: bool,
        /// A post-create hook
        #[arg(long)]
        hook: bool,
        /// Where to write it (default: ./pyve-NAME)
        #[arg(long, value_name = "DIR")]
        dir: Option<std::path::PathBuf>,
        /// The pyve-sdk crate to depend on, as a path (default: this pyve's checkout when it
        /// was built in one, else the git repository)
        #[arg(long, value_name = "PATH")]
        sdk: Option<std::path::PathBuf>,
    },
    /// Remove a plugin `pyve plugin install` installed: exactly the files of its receipt
    Remove {
        /// The plugin name
        name: String,
    },
}

/// The id of the positional argument of `pyve --init` a backend may claim (`DIR`).
pub const POSITIONAL_OPTION: &str = "backend-positional";

/// The arg id of a backend option.
pub fn option_id(name: &str) -> String {
    format!("backend-option-{name}")
}

/// `pyve --init` with the options the installed backends declare, grouped by backend in its
/// help. An option several backends declare is one flag (its value goes to whichever is
/// chosen); one positional argument may be claimed (the first declaration wins).
pub fn with_backend_options(cmd: clap::Command, declared: &[crate::backend::Declared]) -> clap::Command {
    use clap::builder::{NonEmptyStringValueParser, PossibleValuesParser};
    use pyve_protocol::types::OptionKind;
    cmd.mut_subcommand("init", |mut sc| {
        let mut seen: Vec<&str> = Vec::new();
        let mut positional = false;
        for d in declared {
            if seen.contains(&d.info.name.as_str()) {
                continue;
            }
            seen.push(&d.info.name);
            let others: Vec<&str> = declared
                .iter()
                .filter(|o| o.info.name == d.info.name && o.backend != d.backend)
                .map(|o| o.backend.as_str())
                .collect();
            let mut help = d.info.help.clone();
            if let Some(def) = &d.info.default {
                help = format!("{help} [default: {def}]");
            }
            if !others.is_empty() {
                help = format!("{help} (also backend {})", others.join(", "));
            }
            let heading = format!("Options of backend {} ({} {})", d.backend, d.plugin, d.version);
            let value_name = d.info.value_name.clone().unwrap_or_else(|| d.info.name.to_uppercase());
            let mut arg = clap::Arg::new(option_id(&d.info.name))
                .long(d.info.name.clone())
                .help(help.clone())
                .help_heading(heading.clone());
            arg = match d.info.kind {
                OptionKind::Flag => arg.action(clap::ArgAction::SetTrue),
                OptionKind::Enum => {
                    arg.value_name(value_name.clone()).value_parser(PossibleValuesParser::new(d.info.choices.clone()))
                }
                _ => arg.value_name(value_name.clone()).value_parser(NonEmptyStringValueParser::new()),
            };
            sc = sc.arg(arg);
            if d.info.positional && !positional && d.info.kind != OptionKind::Flag {
                positional = true;
                sc = sc.arg(
                    clap::Arg::new(POSITIONAL_OPTION)
                        .value_name(value_name)
                        .index(1)
                        .value_parser(NonEmptyStringValueParser::new())
                        .help(format!("Same as --{}", d.info.name))
                        .help_heading(heading),
                );
            }
        }
        sc
    })
}

/// The backend options given to `pyve --init`, from its matches.
pub fn given_options(
    matches: &clap::ArgMatches,
    declared: &[crate::backend::Declared],
) -> Vec<crate::commands::init::GivenOption> {
    use pyve_protocol::types::OptionKind;
    let mut out: Vec<crate::commands::init::GivenOption> = Vec::new();
    let owners = |name: &str| -> Vec<String> {
        let mut v: Vec<String> = declared.iter().filter(|d| d.info.name == name).map(|d| d.backend.clone()).collect();
        v.dedup();
        v
    };
    for d in declared {
        if out.iter().any(|g| g.name == d.info.name && !g.positional) {
            continue;
        }
        let id = option_id(&d.info.name);
        let value = match d.info.kind {
            OptionKind::Flag => matches.get_flag(&id).then_some(serde_json::Value::Bool(true)),
            _ => matches.get_one::<String>(&id).map(|v| serde_json::Value::String(v.clone())),
        };
        if let Some(value) = value {
            out.push(crate::commands::init::GivenOption {
                name: d.info.name.clone(),
                positional: false,
                value,
                owners: owners(&d.info.name),
            });
        }
    }
    if let Ok(Some(v)) = matches.try_get_one::<String>(POSITIONAL_OPTION)
        && let Some(d) = declared.iter().find(|d| d.info.positional)
    {
        out.push(crate::commands::init::GivenOption {
            name: d.info.name.clone(),
            positional: true,
            value: serde_json::Value::String(v.clone()),
            owners: declared.iter().filter(|o| o.info.positional).map(|o| o.backend.clone()).collect(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
