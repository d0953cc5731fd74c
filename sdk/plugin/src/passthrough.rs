//! Passthrough commands: `pyve NAME ARGS...` runs the plugin executable with `ARGS`, passing
//! the host's context in environment variables.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::Plugin;

/// The context pyve passes to a passthrough command in its environment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostContext {
    /// `PYVE`: the path of the running pyve (to call it back).
    pub pyve: Option<PathBuf>,
    /// `PYVE_VERSION`.
    pub pyve_version: Option<String>,
    /// `PYVE_PROJECT_ROOT`: the project root pyve found (absent outside a project).
    pub project_root: Option<PathBuf>,
    /// `PYVE_HOME`: pyve's home (`~/.pyve` by default).
    pub pyve_home: Option<PathBuf>,
    /// `PYVE_VERBOSITY`: -1 quiet, 0 normal, 1 verbose, 2 debug.
    pub verbosity: i8,
    /// `PYVE_COLOR`: `always` or `never`.
    pub color: bool,
}

impl HostContext {
    /// The project a command works on: the root pyve found, else the current directory (made
    /// absolute).
    pub fn project_root_or_cwd(&self) -> std::io::Result<PathBuf> {
        let cwd = std::env::current_dir;
        match &self.project_root {
            Some(r) if r.is_absolute() => Ok(r.clone()),
            Some(r) => Ok(cwd()?.join(r)),
            None => cwd(),
        }
    }

    /// Read the context from the environment.
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        HostContext {
            pyve: var("PYVE").map(PathBuf::from),
            pyve_version: var("PYVE_VERSION").and_then(|v| v.into_string().ok()),
            project_root: var("PYVE_PROJECT_ROOT").map(PathBuf::from),
            pyve_home: var("PYVE_HOME").map(PathBuf::from),
            verbosity: var("PYVE_VERBOSITY").and_then(|v| v.to_str()?.parse().ok()).unwrap_or(0),
            color: var("PYVE_COLOR").is_some_and(|v| v == "always"),
        }
    }
}

/// One run of a passthrough command.
#[derive(Clone, Debug)]
pub struct Invocation {
    /// The command name the user typed (`pyve NAME`).
    pub command: String,
    /// The arguments after it.
    pub args: Vec<OsString>,
    /// What pyve passed.
    pub host: HostContext,
}

/// Pick the command and run it. `PYVE_COMMAND` names it when pyve routed a command to this
/// plugin through its manifest; otherwise the command named like the plugin, or its only one.
pub(crate) fn run(plugin: &Plugin, args: Vec<OsString>) -> i32 {
    let wanted = std::env::var("PYVE_COMMAND").ok().filter(|c| !c.is_empty());
    let found = match &wanted {
        Some(name) => plugin.commands.iter().find(|(i, _)| &i.name == name),
        None => plugin
            .commands
            .iter()
            .find(|(i, _)| i.name == plugin.name)
            .or_else(|| if plugin.commands.len() == 1 { plugin.commands.first() } else { None }),
    };
    match found {
        Some((info, command)) => {
            command.run(Invocation { command: info.name.clone(), args, host: HostContext::from_env() })
        }
        None => {
            let name = &plugin.name;
            let out = crate::output::Output::from_host(&HostContext::from_env());
            let commands: Vec<&str> = plugin.commands.iter().map(|(i, _)| i.name.as_str()).collect();
            let hint = if commands.is_empty() {
                format!("it provides no commands; see what it does with `pyve plugin info {name}`")
            } else {
                format!("run one of its commands through pyve: pyve {}", commands.join(" | pyve "))
            };
            match wanted {
                Some(w) => out.error(&format!("pyve-{name} has no command `{w}`"), Some(&hint)),
                None => out
                    .error(&format!("pyve-{name} {} is a pyve plugin and is run by pyve", plugin.version), Some(&hint)),
            }
            1
        }
    }
}

#[cfg(test)]
mod project_root_tests {
    use super::*;

    #[test]
    fn the_project_root_or_the_current_directory_absolute() {
        let cwd = std::env::current_dir().unwrap();
        let mut h = HostContext::from_env();
        h.project_root = Some("/p".into());
        assert_eq!(h.project_root_or_cwd().unwrap(), PathBuf::from("/p"));
        h.project_root = Some("rel".into());
        assert_eq!(h.project_root_or_cwd().unwrap(), cwd.join("rel"));
        h.project_root = None;
        assert_eq!(h.project_root_or_cwd().unwrap(), cwd);
    }
}
