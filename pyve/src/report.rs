//! The reports of `pyve doctor` and `pyve --validate`: lines of checks printed as the
//! original tool printed them (`✓` / `⚠` / `✗`, an indented line for information and for what
//! to do), and the stable JSON of `--json` (schemas in `docs/schemas/`, generated from these
//! types with the `schema` feature).

use std::fmt::Write as _;

pub use pyve_protocol::types::CheckStatus;
use serde::Serialize;

/// Who made a check: the host itself.
pub const HOST: &str = "pyve";

/// One line of a report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Line {
    /// `ok` (✓), `info` (an indented line), `warn` (⚠) or `error` (✗).
    pub status: CheckStatus,
    /// What was checked, such as `Python`.
    pub label: String,
    /// What was found, such as `3.12.1`; `null` when the label says it all.
    pub detail: Option<String>,
    /// What to do about it (for warnings and errors); `null` when nothing.
    pub hint: Option<String>,
    /// `pyve` for the host's own checks, else the name of the plugin that made the check.
    pub source: String,
}

/// How many lines of each status a report holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Counts {
    /// Lines with status `ok`.
    pub ok: u32,
    /// Lines with status `info`.
    pub info: u32,
    /// Lines with status `warn`.
    pub warn: u32,
    /// Lines with status `error`.
    pub error: u32,
}

/// The lines of a report, in display order.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// The lines.
    pub lines: Vec<Line>,
}

impl Report {
    /// Add a line.
    pub fn push(
        &mut self,
        status: CheckStatus,
        label: impl Into<String>,
        detail: Option<String>,
        hint: Option<String>,
        source: &str,
    ) {
        self.lines.push(Line { status, label: label.into(), detail, hint, source: source.to_owned() });
    }

    /// A host line with a detail.
    pub fn host(&mut self, status: CheckStatus, label: &str, detail: impl Into<String>) {
        self.push(status, label, Some(detail.into()), None, HOST);
    }

    /// A host line with a detail and a hint.
    pub fn host_hint(&mut self, status: CheckStatus, label: &str, detail: impl Into<String>, hint: impl Into<String>) {
        self.push(status, label, Some(detail.into()), Some(hint.into()), HOST);
    }

    /// How many lines of each status.
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for l in &self.lines {
            match l.status {
                CheckStatus::Ok => c.ok += 1,
                CheckStatus::Info => c.info += 1,
                CheckStatus::Warn => c.warn += 1,
                CheckStatus::Error => c.error += 1,
            }
        }
        c
    }

    /// The report as text: `✓ Label: detail`, `⚠ ...`, `✗ ...`, `  Label: detail` for
    /// information, and a hint as an indented line below its check.
    pub fn text(&self) -> String {
        self.text_coloured(false)
    }

    /// [`Report::text`], with the marks coloured as `ui` colours its prefixes (green `✓`,
    /// yellow `⚠`, red `✗`) when `color` (the stream the report goes to is a terminal).
    pub fn text_coloured(&self, color: bool) -> String {
        use pyve_protocol::output::Line;
        let mut out = String::new();
        for l in &self.lines {
            let (mark, line) = match l.status {
                CheckStatus::Ok => ("✓", Line::Success),
                CheckStatus::Info => (" ", Line::Plain),
                CheckStatus::Warn => ("⚠", Line::Warning),
                CheckStatus::Error => ("✗", Line::Error),
            };
            let mark = if color && line != Line::Plain {
                format!("\x1b[{}m{mark}\x1b[0m ", line.colour())
            } else {
                format!("{mark} ")
            };
            match &l.detail {
                Some(d) => {
                    let _ = writeln!(out, "{mark}{}: {d}", l.label);
                }
                None => {
                    let _ = writeln!(out, "{mark}{}", l.label);
                }
            }
            if let Some(h) = &l.hint {
                let _ = writeln!(out, "  {h}");
            }
        }
        out
    }
}

/// A plugin the project uses, as `pyve doctor --json` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PluginUse {
    /// The plugin's name.
    pub name: String,
    /// Its version, from its manifest; `null` when unknown.
    pub version: Option<String>,
    /// `exec` or `dylib`: the file that serves the protocol.
    pub kind: String,
    /// That file.
    pub path: String,
    /// Why the project uses it: `backend` or `hook`.
    pub role: String,
}

/// What the backend says of the environment (`env/describe`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct EnvironmentJson {
    /// Whether the environment exists.
    pub exists: bool,
    /// Where it is (or would be), absolute.
    pub path: Option<String>,
    /// Its interpreter, absolute.
    pub interpreter: Option<String>,
    /// Its Python version, `X.Y.Z`.
    pub python_version: Option<String>,
    /// How many distributions are installed.
    pub package_count: Option<u64>,
    /// The lock file's state (`fresh`, `stale`, `missing`, `unchecked`, `none`), for backends with one.
    pub lock: Option<String>,
}

/// `pyve doctor --json`.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DoctorJson {
    /// The running pyve's version.
    pub pyve_version: String,
    /// The project root (absolute); `null` outside a project.
    pub project_root: Option<String>,
    /// Whether the directory belongs to an initialised project (one with `.pyve/config`).
    pub initialized: bool,
    /// The project's backend; `null` when none is recorded.
    pub backend: Option<String>,
    /// The environment as the backend describes it; `null` when the backend could not be asked.
    pub environment: Option<EnvironmentJson>,
    /// The plugins the project uses.
    pub plugins: Vec<PluginUse>,
    /// Every check, in display order.
    pub checks: Vec<Line>,
    /// How many checks of each status.
    pub counts: Counts,
    /// The exit code: 1 when any check is an error, else 0.
    pub exit_code: u8,
}

/// `pyve --validate --json`.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ValidateJson {
    /// The running pyve's version.
    pub pyve_version: String,
    /// The project root (absolute); `null` outside a project.
    pub project_root: Option<String>,
    /// Every check, in display order.
    pub checks: Vec<Line>,
    /// How many checks of each status.
    pub counts: Counts,
    /// `passed`, `errors` or `warnings`.
    pub result: String,
    /// 0 all passed, 1 any error, 2 warnings only.
    pub exit_code: u8,
}

/// A backend pyve knows and the plugin that serves it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BackendJson {
    /// The backend's name.
    pub name: String,
    /// The files whose presence selects it.
    pub selectors: Vec<String>,
    /// The plugin serving it; `null` when none is installed.
    pub plugin: Option<String>,
    /// That plugin's version.
    pub version: Option<String>,
    /// The plugin file.
    pub path: Option<String>,
}

/// A project file that selects a backend.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DetectedJson {
    /// The backend.
    pub backend: String,
    /// The file that selects it.
    pub file: String,
}

/// A plugin that provides hooks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct HookJson {
    /// The plugin's name.
    pub plugin: String,
    /// Its version.
    pub version: String,
    /// `exec` or `dylib`.
    pub kind: String,
    /// The events it handles, such as `post-create`.
    pub events: Vec<String>,
}

/// A micromamba binary, as `--config` reports it (reference 3.2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MicromambaJson {
    /// `project` (`.pyve/bin`), `user` (`$PYVE_HOME/bin`) or `system` (`PATH`).
    pub location: String,
    /// Its path.
    pub path: String,
    /// Its version (`X.Y.Z` from `--version`); `null` when it did not say, or for a binary the
    /// project supplies (`.pyve/bin`), which `--config` does not run.
    pub version: Option<String>,
}

/// The conda environment file the micromamba backend would use (reference 3.5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CondaEnvFileJson {
    /// `conda-lock.yml` (preferred) or `environment.yml`.
    pub file: String,
    /// The `name:` of `environment.yml`, as the original read it; `null` for a lock file or
    /// when there is none.
    pub name: Option<String>,
}

/// `pyve --config --json`.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ConfigJson {
    /// The running pyve's version.
    pub version: String,
    /// `PYVE_DEFAULT_PYTHON_VERSION` when set; `null` means the project's pin, else the newest
    /// installed.
    pub default_python_version: Option<String>,
    /// The venv directory used when none is given.
    pub default_venv_directory: String,
    /// The backend used when nothing selects another.
    pub default_backend: String,
    /// The project root (absolute); `null` outside a project.
    pub project_root: Option<String>,
    /// Whether the project has `.pyve/config` (also when it is not valid).
    pub config_file: bool,
    /// Why `.pyve/config` could not be read (malformed, too large, unreadable); `null` when it
    /// was read or is absent. Its backend is then `null`.
    pub config_error: Option<String>,
    /// The backend recorded in `.pyve/config`.
    pub config_backend: Option<String>,
    /// The backend the project's files select (the best one); `null` when none does or two
    /// of equal rank do.
    pub detected_backend: Option<String>,
    /// Every backend the project's files select, best first.
    pub detected: Vec<DetectedJson>,
    /// The micromamba binary pyve would use; `null` when none is found.
    pub micromamba: Option<MicromambaJson>,
    /// The conda environment file here; `null` when there is none.
    pub conda_env_file: Option<CondaEnvFileJson>,
    /// Every backend pyve knows and its plugin.
    pub backends: Vec<BackendJson>,
    /// The plugins that provide hooks.
    pub hooks: Vec<HookJson>,
    /// The project's environment-variables file.
    pub environment_file: String,
    /// Where `pyve --install` puts pyve (`~/.local/bin`); `null` when the home directory is
    /// unknown.
    pub install_dir: Option<String>,
    /// The user plugin directory.
    pub plugin_dir: Option<String>,
    /// pyve's cache directory.
    pub cache_dir: Option<String>,
}

/// The JSON Schemas of the reports, by file name under `docs/schemas/` (feature `schema`).
#[cfg(feature = "schema")]
pub fn schemas() -> Vec<(&'static str, String)> {
    fn one<T: schemars::JsonSchema>(title: &str) -> String {
        let mut schema = schemars::generate::SchemaSettings::draft2020_12()
            .for_serialize()
            .into_generator()
            .into_root_schema_for::<T>();
        schema.insert("title".into(), title.into());
        let mut text = crate::json::pretty(&schema);
        text.push('\n');
        text
    }
    vec![
        ("doctor.schema.json", one::<DoctorJson>("pyve doctor --json")),
        ("validate.schema.json", one::<ValidateJson>("pyve --validate --json")),
        ("config.schema.json", one::<ConfigJson>("pyve --config --json")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_print_as_the_original() {
        let mut r = Report::default();
        r.host(CheckStatus::Ok, "Backend", "venv");
        r.host(CheckStatus::Info, "Packages", "4 installed");
        r.host_hint(CheckStatus::Warn, "Direnv", ".envrc not found", "Use 'pyve run' to execute commands");
        r.push(CheckStatus::Error, "No environment found", None, Some("Run 'pyve --init'".into()), HOST);
        assert_eq!(
            r.text(),
            "✓ Backend: venv\n  Packages: 4 installed\n⚠ Direnv: .envrc not found\n  Use 'pyve run' to execute commands\n✗ No environment found\n  Run 'pyve --init'\n"
        );
        assert_eq!(r.counts(), Counts { ok: 1, info: 1, warn: 1, error: 1 });
    }
}
