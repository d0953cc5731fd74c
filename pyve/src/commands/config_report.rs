//! `pyve --config`: what pyve would do here, and with which plugins (stdout).

use std::fmt::Write as _;

use crate::backend;
use crate::env::{HostEnv, VERSION};
use crate::error::Result;
use crate::plugins;
use crate::project::{self, Config};
use crate::report::{BackendJson, CondaEnvFileJson, ConfigJson, DetectedJson, HookJson, MicromambaJson};

/// `pyve --config [--json]`.
pub fn run(env: &HostEnv, json: bool) -> Result<u8> {
    let cwd = project::current_dir()?;
    let root = env.project_root(&cwd);
    let here = root.clone().unwrap_or_else(|| cwd.clone());
    // A config pyve cannot read is reported, not fatal: `--config` describes what is here and
    // exits 0 whatever the file holds, as the original (which never parsed it), and its
    // `--json` stays one JSON object on stdout. `pyve --validate` says what is wrong with it.
    let (config, config_error) = match root.as_deref().map(Config::load) {
        Some(Ok(c)) => (c, None),
        Some(Err(e)) => (None, Some(e.to_string())),
        None => (None, None),
    };
    let inventory = plugins::inventory(env, crate::cli::BUILTINS);
    let known = backend::known_backends(&inventory);
    let detected = backend::detect(&here, &known);
    let default_version = default_version();
    let conda = (micromamba(env, &here), conda_env_file(&here));
    if json {
        return print_json(env, &inventory, root.as_deref(), (config.as_ref(), config_error), &known, &detected, conda);
    }
    let default_python = default_version
        .map(|v| format!("{v} (PYVE_DEFAULT_PYTHON_VERSION)"))
        .unwrap_or_else(|| "the project's pin, else the newest installed".into());

    let mut out = String::new();
    let _ = writeln!(out, "pyve configuration:");
    let _ = writeln!(out, "  Version:                {VERSION}");
    let _ = writeln!(out, "  Default Python version: {default_python}");
    let _ = writeln!(out, "  Default venv directory: .venv");
    let _ = writeln!(out, "  Default backend:        {}", backend::DEFAULT_BACKEND);
    let _ = writeln!(
        out,
        "  Project root:           {}",
        root.as_ref().map(|r| r.display().to_string()).unwrap_or_else(|| "none (not in a pyve project)".into())
    );
    let config_file = match (&config, &config_error) {
        (Some(_), _) => "yes".to_owned(),
        (None, Some(e)) => format!("yes (not valid: {e}; `pyve --validate` checks it)"),
        (None, None) => "no".to_owned(),
    };
    let _ = writeln!(out, "  Config file (.pyve/config): {config_file}");
    if let Some(b) = config.as_ref().and_then(|c| c.backend.as_deref()) {
        let _ = writeln!(out, "  Config backend:         {b}");
    }
    let detected_text = match detected.as_slice() {
        [] => "none".to_owned(),
        [(name, file, _)] => format!("{name} ({file})"),
        [(name, file, p), rest @ ..] if rest.iter().all(|(_, _, q)| q < p) => {
            format!(
                "{name} ({file}; also {})",
                rest.iter().map(|(n, f, _)| format!("{f} for {n}")).collect::<Vec<_>>().join(", ")
            )
        }
        _ => format!(
            "ambiguous ({})",
            detected.iter().map(|(n, f, _)| format!("{f} for {n}")).collect::<Vec<_>>().join(", ")
        ),
    };
    let _ = writeln!(out, "  Detected backend:       {detected_text}");
    // The original's two conda lines (reference 2.9).
    let micromamba_text = match &conda.0 {
        None => "not found".to_owned(),
        Some(m) => match &m.version {
            Some(v) => format!("available ({}) v{v}", m.location),
            None if m.location == "project" => {
                "available (project; supplied by the project, not run by --config)".to_owned()
            }
            None => format!("available ({})", m.location),
        },
    };
    let _ = writeln!(out, "  Micromamba:             {micromamba_text}");
    let conda_text = match &conda.1 {
        None => "none".to_owned(),
        Some(CondaEnvFileJson { file, name: Some(n) }) => format!("{file} (name: {n})"),
        Some(CondaEnvFileJson { file, name: None }) => file.clone(),
    };
    let _ = writeln!(out, "  Conda env file:         {conda_text}");
    for (name, _, _) in &known {
        let line = match backend::plugin_for(&inventory, name) {
            Ok(e) => format!(
                "{} {} ({})",
                e.candidate.name,
                e.manifest.as_ref().map(|m| m.version.as_str()).unwrap_or("?"),
                e.candidate.path.display()
            ),
            Err(_) => format!("not installed (pyve-{name})"),
        };
        let _ = writeln!(out, "  Backend {name:<15} {line}");
    }
    // Only what serves RPC runs hooks: the executable of a library+executable pair serves
    // passthrough only, and listing it too read as if the hook ran twice.
    let hooks: Vec<String> = inventory
        .active()
        .filter(|e| e.serves.contains(&"rpc"))
        .filter_map(|e| {
            let m = e.manifest.as_ref()?;
            (!m.provides.hooks.is_empty()).then(|| format!("{} {} ({})", m.name, m.version, e.candidate.kind))
        })
        .collect();
    let _ =
        writeln!(out, "  Hooks:                  {}", if hooks.is_empty() { "none".into() } else { hooks.join(", ") });
    let _ = writeln!(out, "  Environment file:       .env");
    if let Some(d) = install_dir(env) {
        let _ = writeln!(out, "  Install directory:      {}", d.display());
    }
    if let Some(d) = env.user_plugin_dir() {
        let _ = writeln!(out, "  Plugin directory:       {}", d.display());
    }
    if let Some(d) = &env.cache_dir {
        let _ = writeln!(out, "  Cache directory:        {}", d.display());
    }
    crate::ui::out(&out);
    Ok(0)
}

/// `PYVE_DEFAULT_PYTHON_VERSION`, when set and not empty.
fn default_version() -> Option<String> {
    std::env::var("PYVE_DEFAULT_PYTHON_VERSION").ok().filter(|v| !v.is_empty())
}

/// The micromamba binary the micromamba backend would use for the project at `here` (the
/// plugin's own search, reference 3.2), with its version (`--version`, at most 2 s). A binary
/// the project supplies (`.pyve/bin`) is never run by a command that only reads (a clone could
/// hold anything there): its version is not asked, as doctor does.
fn micromamba(env: &HostEnv, here: &std::path::Path) -> Option<MicromambaJson> {
    use pyve_micromamba_discovery as discovery;
    let (found, _) = discovery::find(here, env.pyve_home.as_deref(), env.path.as_deref());
    let found = found?;
    let version = (found.location != discovery::Location::Project)
        .then(|| discovery::version_within(&found.path, std::time::Duration::from_secs(2)).ok())
        .flatten();
    Some(MicromambaJson {
        location: found.location.as_str().to_owned(),
        path: found.path.display().to_string(),
        version,
    })
}

/// The conda environment file at `here`: `conda-lock.yml` first, else `environment.yml` with
/// its name read as the original read it (the first line starting `name:`, its second word,
/// quotes removed: reference 3.5).
fn conda_env_file(here: &std::path::Path) -> Option<CondaEnvFileJson> {
    if here.join("conda-lock.yml").is_file() {
        return Some(CondaEnvFileJson { file: "conda-lock.yml".into(), name: None });
    }
    let path = here.join("environment.yml");
    if !path.is_file() {
        return None;
    }
    let name = pyve_fs::read_bounded_text(&path, pyve_fs::READ_LIMIT).ok().and_then(|text| {
        let line = text.lines().find(|l| l.starts_with("name:"))?;
        let word = line.split_whitespace().nth(1)?.replace(['"', '\''], "");
        (!word.is_empty()).then_some(word)
    });
    Some(CondaEnvFileJson { file: "environment.yml".into(), name })
}

/// Where `pyve --install` puts pyve (`~/.local/bin`), as the original's `--config` showed it.
fn install_dir(env: &HostEnv) -> Option<std::path::PathBuf> {
    env.home.as_ref().map(|h| h.join(".local/bin"))
}

/// `pyve --config --json`: the same facts as one JSON object.
fn print_json(
    env: &HostEnv,
    inventory: &plugins::Inventory,
    root: Option<&std::path::Path>,
    (config, config_error): (Option<&Config>, Option<String>),
    known: &[(String, Vec<String>, i32)],
    detected: &[(String, String, i32)],
    (micromamba, conda_env_file): (Option<MicromambaJson>, Option<CondaEnvFileJson>),
) -> Result<u8> {
    let best = match detected {
        [] => None,
        [(name, _, _)] => Some(name.clone()),
        [(name, _, p), rest @ ..] if rest.iter().all(|(_, _, q)| q < p) => Some(name.clone()),
        _ => None,
    };
    let backends = known
        .iter()
        .map(|(name, selectors, _)| {
            let entry = backend::plugin_for(inventory, name).ok();
            BackendJson {
                name: name.clone(),
                selectors: selectors.clone(),
                plugin: entry.as_ref().map(|e| e.candidate.name.clone()),
                version: entry.as_ref().and_then(|e| e.manifest.as_ref().map(|m| m.version.clone())),
                path: entry.as_ref().map(|e| e.candidate.path.display().to_string()),
            }
        })
        .collect();
    let hooks = inventory
        .active()
        .filter(|e| e.serves.contains(&"rpc"))
        .filter_map(|e| {
            let m = e.manifest.as_ref()?;
            (!m.provides.hooks.is_empty()).then(|| HookJson {
                plugin: m.name.clone(),
                version: m.version.clone(),
                kind: e.candidate.kind.to_string(),
                events: m.provides.hooks.iter().map(|h| h.event.clone()).collect(),
            })
        })
        .collect();
    let out = ConfigJson {
        version: VERSION.to_owned(),
        default_python_version: default_version(),
        default_venv_directory: ".venv".into(),
        default_backend: backend::DEFAULT_BACKEND.into(),
        project_root: root.map(|r| r.display().to_string()),
        config_file: config.is_some() || config_error.is_some(),
        config_error,
        config_backend: config.and_then(|c| c.backend.clone()),
        detected_backend: best,
        detected: detected
            .iter()
            .map(|(backend, file, _)| DetectedJson { backend: backend.clone(), file: file.clone() })
            .collect(),
        micromamba,
        conda_env_file,
        backends,
        hooks,
        environment_file: ".env".into(),
        install_dir: install_dir(env).map(|d| d.display().to_string()),
        plugin_dir: env.user_plugin_dir().map(|d| d.display().to_string()),
        cache_dir: env.cache_dir.as_ref().map(|d| d.display().to_string()),
    };
    crate::ui::out(&format!("{}\n", crate::json::pretty(&out)));
    Ok(0)
}
