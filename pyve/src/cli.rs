//! The command line. Flag spellings follow the original shell tool (`pyve --version`, `-v`);
//! anything that is not a built-in command runs a plugin (`pyve NAME ARGS...`).

use std::ffi::OsString;

use clap::{ArgAction, Args, Parser, Subcommand};

use crate::ui::ColorChoice;

/// Names pyve serves itself; plugins never shadow them.
pub const BUILTINS: &[&str] = &["help", "plugin"];

/// pyve - Python environments in one command
#[derive(Parser, Debug)]
#[command(
    name = "pyve",
    bin_name = "pyve",
    about = "pyve - Python environments in one command",
    disable_version_flag = true,
    allow_external_subcommands = true,
    override_usage = "pyve [OPTIONS] <COMMAND> [ARGS]...",
    next_display_order = None
)]
pub struct Cli {
    /// Print pyve's version
    #[arg(short = 'v', long = "version", action = ArgAction::SetTrue)]
    pub version: bool,

    /// List the installed plugins (same as `pyve plugin list`)
    #[arg(long = "list", action = ArgAction::SetTrue)]
    pub list: bool,

    /// Show more detail (repeat for debug output)
    #[arg(long = "verbose", action = ArgAction::Count)]
    pub verbose: u8,

    /// Show only errors and warnings
    #[arg(short = 'q', long = "quiet", action = ArgAction::SetTrue, conflicts_with = "verbose")]
    pub quiet: bool,

    /// When to use colours: auto, always, never (NO_COLOR turns them off)
    #[arg(long = "color", value_name = "WHEN", value_enum, default_value_t = ColorChoice::Auto, hide_possible_values = true)]
    pub color: ColorChoice,

    #[command(subcommand)]
    pub command: Option<Cmd>,
}

/// Built-in commands; anything else is a plugin.
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Inspect plugins: list them, explain which file serves a name, show a manifest
    Plugin(PluginArgs),
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
        /// Also list shadowed files, one row per file
        #[arg(short = 'v', long = "verbose")]
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
}
