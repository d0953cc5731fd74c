//! The backend's settings: its section of `.pyve/config` (`env_name`, `engine`) plus the
//! flags the host hands on (`env_name`, `strict`, `auto_bootstrap`, `bootstrap_to`).

use std::path::{Path, PathBuf};

use pyve_micromamba::engine::EngineChoice;
use pyve_sdk::types::Settings;
use pyve_sdk::{Error, Result};
use serde_json::Value;

/// The environment variable that chooses the engine, over `.pyve/config`.
pub const ENGINE_VAR: &str = "PYVE_MICROMAMBA_ENGINE";

/// The settings this backend knows.
#[derive(Debug, Clone, Default)]
pub struct MambaSettings {
    /// `--env-name` or `micromamba.env_name`.
    pub env_name: Option<String>,
    /// `micromamba.engine` (or [`ENGINE_VAR`]).
    pub engine: EngineChoice,
    /// Where the engine choice came from.
    pub engine_source: &'static str,
    /// `--strict`.
    pub strict: bool,
    /// `--auto-bootstrap`.
    pub auto_bootstrap: bool,
    /// `--bootstrap-to`.
    pub bootstrap_to: Option<String>,
    /// Install the project's Python declarations: not `--no-install-deps` (or the config),
    /// unless `--auto-install-deps`.
    pub install_deps: bool,
    /// `--groups a,b` (`None`: `dev` when declared).
    pub groups: Option<Vec<String>>,
}

fn string(settings: &Settings, key: &str) -> Result<Option<String>> {
    match settings.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => {
            Err(Error::invalid_params(format!("the micromamba setting `{key}` must be a string, not {other}"))
                .hint(format!("fix `{key}` under `micromamba:` in .pyve/config")))
        }
    }
}

fn flag(settings: &Settings, key: &str) -> bool {
    matches!(settings.get(key), Some(Value::Bool(true)))
}

impl MambaSettings {
    /// Read and check the settings; `engine_env` is [`ENGINE_VAR`]'s value.
    pub fn parse(settings: &Settings, engine_env: Option<&str>) -> Result<MambaSettings> {
        let (engine_text, engine_source) = match engine_env.filter(|v| !v.trim().is_empty()) {
            Some(v) => (Some(v.to_string()), ENGINE_VAR),
            None => (string(settings, "engine")?, ".pyve/config"),
        };
        let engine = match &engine_text {
            None => EngineChoice::Auto,
            Some(t) => EngineChoice::parse(t).ok_or_else(|| {
                Error::invalid_params(format!(
                    "unknown micromamba engine '{t}' (from {engine_source}): expected auto, builtin or micromamba"
                ))
                .hint(format!("set `engine: auto` under `micromamba:` in .pyve/config, or unset {ENGINE_VAR}"))
            })?,
        };
        let bootstrap_to = string(settings, "bootstrap_to")?;
        if let Some(b) = &bootstrap_to
            && b != "project"
            && b != "user"
        {
            return Err(Error::invalid_params(format!("--bootstrap-to must be project or user, not '{b}'"))
                .hint("pass --bootstrap-to project or --bootstrap-to user"));
        }
        let groups = match settings.get("groups") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(pyve_pyproject::parse_groups(s)),
            Some(other) => {
                return Err(Error::invalid_params(format!(
                    "the micromamba setting `groups` must be a comma-separated list such as \"dev,docs\", not {other}"
                ))
                .hint("fix `groups` under `micromamba:` in .pyve/config, or pass --groups"));
            }
        };
        Ok(MambaSettings {
            install_deps: flag(settings, "auto_install_deps") || !flag(settings, "no_install_deps"),
            groups,
            env_name: string(settings, "env_name")?,
            engine,
            engine_source: if engine_text.is_some() { engine_source } else { "default" },
            strict: flag(settings, "strict"),
            auto_bootstrap: flag(settings, "auto_bootstrap"),
            bootstrap_to,
        })
    }
}

/// The request's project root, checked.
pub fn project_root(root: &Path) -> Result<PathBuf> {
    if !root.is_absolute() || !root.is_dir() {
        return Err(Error::invalid_params(format!(
            "the project root {} is not an absolute path to a directory",
            root.display()
        )));
    }
    Ok(root.to_path_buf())
}

/// The package and repodata cache: `RATTLER_CACHE_DIR`, else `$XDG_CACHE_HOME/pyve/conda`, else
/// `~/.cache/pyve/conda`.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("RATTLER_CACHE_DIR").filter(|v| !v.is_empty()) {
        return PathBuf::from(d);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("pyve").join("conda")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: Value) -> Settings {
        v.as_object().unwrap().clone().into_iter().collect()
    }

    #[test]
    fn reads_flags_and_engine() {
        let m =
            MambaSettings::parse(&s(serde_json::json!({"env_name": "x", "strict": true, "engine": "builtin"})), None)
                .unwrap();
        assert_eq!((m.env_name.as_deref(), m.strict, m.engine), (Some("x"), true, EngineChoice::Builtin));
        let m = MambaSettings::parse(&s(serde_json::json!({"engine": "builtin"})), Some("micromamba")).unwrap();
        assert_eq!((m.engine, m.engine_source), (EngineChoice::Micromamba, ENGINE_VAR));
        let e = MambaSettings::parse(&s(serde_json::json!({"engine": "conda"})), None).unwrap_err();
        assert!(e.into_object().message.contains("unknown micromamba engine 'conda'"));
        assert!(MambaSettings::parse(&s(serde_json::json!({"bootstrap_to": "elsewhere"})), None).is_err());
    }
}
