//! The host's commands.

pub mod completions;
pub mod config_report;
pub mod doctor;
pub mod exec_plans;
pub mod external;
pub mod init;
pub mod install;
pub mod plugin;
pub mod plugin_new;
pub mod plugin_pins;
pub mod purge;
pub mod python_version;
pub mod run;
pub mod sync;
pub mod validate;

use std::ffi::OsString;
use std::path::Path;

use crate::env::HostEnv;

/// The variables a plugin receives: `PYVE`, `PYVE_VERSION`, `PYVE_HOME`, `PYVE_PROJECT_ROOT`,
/// `PYVE_VERBOSITY`, `PYVE_COLOR`, and `PYVE_COMMAND` for a routed command.
pub fn plugin_env(env: &HostEnv, project_root: Option<&Path>, command: Option<&str>) -> Vec<(String, OsString)> {
    let ui = crate::ui::get();
    let mut vars = vec![
        ("PYVE_VERSION".to_owned(), OsString::from(crate::env::VERSION)),
        ("PYVE_VERBOSITY".to_owned(), OsString::from(ui.verbosity.to_string())),
        ("PYVE_COLOR".to_owned(), OsString::from(if ui.color { "always" } else { "never" })),
        ("PYVE_PROJECT_ROOT".to_owned(), project_root.map(|p| p.as_os_str().to_owned()).unwrap_or_default()),
        ("PYVE_COMMAND".to_owned(), command.map(OsString::from).unwrap_or_default()),
    ];
    if let Some(exe) = &env.exe {
        vars.push(("PYVE".to_owned(), exe.as_os_str().to_owned()));
    }
    if let Some(home) = &env.pyve_home {
        vars.push(("PYVE_HOME".to_owned(), home.as_os_str().to_owned()));
    }
    vars
}
