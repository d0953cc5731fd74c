//! `pyve NAME ARGS...`: run a plugin's command in passthrough, like cargo's external
//! subcommands. The plugin owns its command line. pyve replaces itself with the plugin (`exec`,
//! as `pyve run` does): the caller sees the plugin's own exit status and signals, and dispatch
//! costs one process start (docs/decisions.md, "Passthrough is an `exec`").

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, ExitStatus};

use crate::env::HostEnv;
use crate::error::{Error, Result};
use crate::plugins::{self, Candidate, discovery};

/// Run `name` with `args`.
pub fn run(env: &HostEnv, name: &str, args: &[OsString], builtins: &[&str]) -> Result<u8> {
    if !pyve_protocol::is_valid_plugin_name(name) {
        return Err(unknown(env, name, builtins, None));
    }
    let search = discovery::SearchPath::from_env(env);
    // The project, looked up once: for its pins and for the plugin's PYVE_PROJECT_ROOT.
    let root = project_root(env);
    // The plan the plugin left last time, while it holds: the plugin is not started at all.
    let plan = super::exec_plans::Offer::new(env, root.as_deref(), name, args);
    if let Some(plan) = &plan {
        plan.run(env, root.as_deref(), name);
    }
    let res = if plugins::pins::Pins::for_root(root.as_deref()).get(name).is_some() {
        // A pinned name: the copy the pin selects (the inventory knows the versions, from the
        // manifest cache), or the pin's error.
        let inventory = plugins::inventory(env, builtins);
        if let Some(err) = inventory.pin_error(name) {
            return Err(err);
        }
        pinned_resolution(&inventory, name)
    } else {
        discovery::resolve_for_run(&search, name)
    };
    if let Some(exec) = &res.exec {
        return hand_over(env, root.as_deref(), exec, name, args, plan.as_ref());
    }
    if let Some(lib) = &res.rpc {
        return Err(Error::new(format!(
            "plugin '{name}' ({}) is a library: pyve loads it, but it has no command line",
            lib.path.display()
        ))
        .hint(format!("install its executable, {}, beside it to run `pyve {name}`", discovery::exec_file_name(name))));
    }
    // A command provided by a plugin of another name (`pyve test` -> pyve-testenv).
    let inventory = plugins::inventory(env, builtins);
    if let Some(entry) = inventory.command_provider(name) {
        return hand_over(env, root.as_deref(), &entry.candidate, name, args, plan.as_ref());
    }
    // A command of a pinned plugin of which no copy matches the pin.
    if let Some(err) = inventory
        .entries
        .iter()
        .filter(|e| matches!(e.status, plugins::Status::Unpinned(_)))
        .filter(|e| e.manifest.as_ref().is_some_and(|m| m.provides.commands.iter().any(|c| c.name == name)))
        .find_map(|e| inventory.pin_error(&e.candidate.name))
    {
        return Err(err);
    }
    if let Some(bad) = res.unusable.first() {
        let problem = bad.problem.as_ref().expect("unusable candidates have a problem");
        return Err(Error::new(format!(
            "plugin '{name}' ({}) cannot be run: {}",
            bad.path.display(),
            problem.explain()
        ))
        .hint(problem.hint(&bad.path)));
    }
    Err(unknown(env, name, builtins, Some(&inventory)))
}

/// How a name resolves once the project's pins are applied (the inventory did that).
pub fn pinned_resolution(inventory: &plugins::Inventory, name: &str) -> discovery::Resolution {
    let mut res = discovery::Resolution::default();
    for e in inventory.entries.iter().filter(|e| e.candidate.name == name) {
        match &e.status {
            plugins::Status::Ok => {
                if e.serves.contains(&"rpc") {
                    res.rpc = Some(e.candidate.clone());
                }
                if e.serves.contains(&"passthrough") {
                    res.exec = Some(e.candidate.clone());
                }
            }
            plugins::Status::Unusable(_) => res.unusable.push(e.candidate.clone()),
            _ => res.shadowed.push(e.candidate.clone()),
        }
    }
    res
}

/// The command that runs `plugin` for `command` with `args`: the plugin sees the command it
/// serves as its name (`pyve test` runs pyve-testenv as `test`), as cargo's external
/// subcommands and busybox applets do, and the environment pyve gives plugins.
fn plugin_command(env: &HostEnv, root: Option<&Path>, plugin: &Candidate, command: &str, args: &[OsString]) -> Command {
    let mut cmd = Command::new(&plugin.path);
    {
        use std::os::unix::process::CommandExt as _;
        cmd.arg0(command);
    }
    cmd.args(args).envs(super::plugin_env(env, root, Some(command)));
    // An offer of an exec plan is pyve's to make, never inherited from an outer run.
    cmd.env_remove(pyve_protocol::exec_plan::PLAN_VAR).env_remove(pyve_protocol::exec_plan::TOKEN_VAR);
    cmd
}

/// The project the current directory belongs to, if any.
fn project_root(env: &HostEnv) -> Option<std::path::PathBuf> {
    std::env::current_dir().ok().and_then(|cwd| env.project_root(&cwd))
}

fn start_error(plugin: &Candidate, e: &std::io::Error) -> Error {
    Error::new(format!("could not run plugin '{}' ({})", plugin.name, plugin.path.display()))
        .because(e)
        .hint(format!("check that {} is a program built for this machine, or remove it", plugin.path.display()))
}

/// Replace pyve with the plugin (passthrough): its exit status and signals are the caller's to
/// see, a signal meant for `pyve NAME` reaches it, and no orphan is possible. Returns only when
/// the plugin cannot be started. With `plan`, the plugin is offered the plan file.
fn hand_over(
    env: &HostEnv,
    root: Option<&Path>,
    plugin: &Candidate,
    command: &str,
    args: &[OsString],
    plan: Option<&super::exec_plans::Offer>,
) -> Result<u8> {
    use std::io::Write as _;
    use std::os::unix::process::CommandExt as _;
    let mut cmd = plugin_command(env, root, plugin, command, args);
    if let Some(plan) = plan {
        plan.offer(&mut cmd, env, root, &plugin.path);
    }
    let _ = std::io::stdout().flush();
    let e = cmd.exec();
    Err(start_error(plugin, &e))
}

/// Run a plugin executable with the user's stdio and wait for it, for a command pyve goes on
/// with afterwards (`pyve python-version`): pyve survives Ctrl-C while it runs (the plugin, in
/// the terminal's group, gets it and decides) and passes SIGTERM and SIGHUP on to it, so that
/// a pyve that is told to end never leaves the plugin running.
pub fn exec_plugin(env: &HostEnv, plugin: &Candidate, command: &str, args: &[OsString]) -> Result<u8> {
    let mut cmd = plugin_command(env, project_root(env).as_deref(), plugin, command, args);
    let status = crate::signals::run_foreground(&mut cmd).map_err(|e| start_error(plugin, &e))?;
    Ok(exit_code(status))
}

/// The exit code that stands for a child's status: its own code, or 128+n when killed by
/// signal n (as shells report it).
pub fn exit_code(status: ExitStatus) -> u8 {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return (128 + sig).clamp(0, 255) as u8;
        }
    }
    status.code().map(|c| (c & 0xff) as u8).unwrap_or(1)
}

/// `Unknown command: NAME`, with a suggestion when something close exists (exit 1, as the original).
fn unknown(env: &HostEnv, name: &str, builtins: &[&str], inventory: Option<&plugins::Inventory>) -> Error {
    let owned;
    let inventory = match inventory {
        Some(i) => i,
        None => {
            owned = plugins::inventory(env, builtins);
            &owned
        }
    };
    let mut known: Vec<String> = builtins.iter().map(|s| (*s).to_owned()).collect();
    known.extend(inventory.active().map(|e| e.candidate.name.clone()));
    known.extend(inventory.commands().into_keys());
    let best = known
        .iter()
        .map(|k| (strsim::damerau_levenshtein(name, k), k))
        .filter(|(d, k)| *d <= (name.len().max(k.len()) / 3).max(1))
        .min();
    let err = Error::usage(format!("Unknown command: {name}"));
    // What people type by habit from other tools, where pyve has a flag (as the original).
    let habit = match name {
        "update" => Some("pyve --init --update"),
        "list" => Some("pyve --list"),
        "version" => Some("pyve --version"),
        _ => None,
    };
    if let Some(cmd) = habit {
        return err.hint(format!("did you mean `{cmd}`? (`pyve --help` lists commands, `pyve --list` plugins)"));
    }
    if let Some((_, plugin)) = crate::backend::WELL_KNOWN_COMMANDS.iter().find(|(c, _)| *c == name) {
        return err.hint(format!(
            "`pyve {name}` is a command of the {plugin} plugin, which is not installed: `pyve plugin install {plugin}` (or put pyve-{plugin} on the plugin path)"
        ));
    }
    if !pyve_protocol::is_valid_plugin_name(name) && best.is_none() {
        // `pyve-Upper` on PATH would be ignored: never suggest a file name that cannot work.
        return err.hint(
            "`pyve --help` lists commands and `pyve --list` installed plugins; plugin names are lowercase \
             letters, digits and dashes (an executable named pyve-NAME on PATH)",
        );
    }
    match best {
        Some((_, k)) => err.hint(format!("did you mean `pyve {k}`? (`pyve --help` lists commands, `pyve --list` plugins)")),
        None => err.hint(format!(
            "`pyve --help` lists commands and `pyve --list` installed plugins; a plugin providing it would be an executable named {} on PATH",
            discovery::exec_file_name(name)
        )),
    }
}
