//! Which backend a project uses and which plugin serves it — one resolver for every command:
//! `--backend`, then `.pyve/config`, then the project's files (the selectors backends declare:
//! conda files outrank Python packaging files), then `venv`.

use std::path::Path;

use pyve_protocol::error::kind;
use pyve_protocol::types::*;
use pyve_protocol::{ErrorObject, RequestMethod};

use crate::env::HostEnv;
use crate::error::{Error, Result};
use crate::plugins::{self, Entry, Inventory, Status};
use crate::rpc::{Client, Handler, PluginRef, RpcError, SessionInfo};
use crate::ui;

/// The backend used when nothing selects another.
pub const DEFAULT_BACKEND: &str = "venv";

/// Backends pyve knows by name even when their plugin is not installed, with the files that
/// select them, so that it can say which plugin to install.
pub const WELL_KNOWN: &[(&str, &[&str], i32)] = &[
    ("micromamba", &["environment.yml", "conda-lock.yml"], 10),
    ("venv", &["pyproject.toml", "requirements*.txt", "setup.py", "setup.cfg"], 0),
];

/// Why a backend was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// `--backend`.
    Flag,
    /// `.pyve/config`.
    Config,
    /// A project file (the one named).
    File(String),
    /// Nothing selected another.
    Default,
}

/// A chosen backend and the plugin file that serves it.
#[derive(Debug, Clone)]
pub struct Choice {
    /// The backend name.
    pub name: String,
    /// Why.
    pub reason: Reason,
    /// The plugin file serving RPC for it.
    pub plugin: Entry,
}

/// Whether `file` matches a selector (`*` matches any run of characters within the name).
pub fn selector_matches(selector: &str, file: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], s) || (!s.is_empty() && go(p, &s[1..])),
            (Some(a), Some(b)) if a == b => go(&p[1..], &s[1..]),
            _ => false,
        }
    }
    go(selector.as_bytes(), file.as_bytes())
}

/// Every backend known (installed plugins' and the well-known ones), with selectors and
/// priority; installed plugins' declarations win.
pub fn known_backends(inventory: &Inventory) -> Vec<(String, Vec<String>, i32)> {
    let mut out: Vec<(String, Vec<String>, i32)> = Vec::new();
    for e in inventory.active() {
        if let Some(m) = &e.manifest {
            for b in &m.provides.backends {
                if !out.iter().any(|(n, _, _)| n == &b.name) {
                    out.push((b.name.clone(), b.selectors.clone(), b.priority));
                }
            }
        }
    }
    for (name, selectors, priority) in WELL_KNOWN {
        if !out.iter().any(|(n, _, _)| n == name) {
            out.push(((*name).to_owned(), selectors.iter().map(|s| (*s).to_owned()).collect(), *priority));
        }
    }
    out
}

/// The backends whose selectors match files in `root`, best first, with the file that matched.
pub fn detect(root: &Path, known: &[(String, Vec<String>, i32)]) -> Vec<(String, String, i32)> {
    let files: Vec<String> = std::fs::read_dir(root)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    let mut found = Vec::new();
    for (name, selectors, priority) in known {
        let mut hits: Vec<&String> =
            files.iter().filter(|f| selectors.iter().any(|s| selector_matches(s, f))).collect();
        hits.sort();
        if let Some(first) = hits.first() {
            found.push((name.clone(), (*first).clone(), *priority));
        }
    }
    found.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
    found
}

/// The plugin entry serving backend `name`. The inventory has applied the project's pins, so
/// a pinned plugin that no installed copy matches serves nothing: that is an error naming the
/// pin and the command that fixes it.
pub fn plugin_for(inventory: &Inventory, name: &str) -> Result<Entry> {
    let provides = |e: &&Entry| e.manifest.as_ref().is_some_and(|m| m.provides.backends.iter().any(|b| b.name == name));
    let serves_rpc = |e: &&Entry| matches!(e.status, Status::Ok) && e.serves.contains(&"rpc");
    // The plugin named like the backend first, then any other providing it.
    let mut providers: Vec<&Entry> = inventory.entries.iter().filter(serves_rpc).filter(provides).collect();
    providers.sort_by_key(|e| e.candidate.name != name);
    if let Some(first) = providers.first() {
        return Ok((*first).clone());
    }
    // Excluded by a pin: the plugin named like the backend, or one whose other copies provide it.
    let pinned = std::iter::once(name.to_owned())
        .chain(inventory.entries.iter().filter(provides).map(|e| e.candidate.name.clone()))
        .find(|n| inventory.pins.get(n).is_some());
    if let Some(err) = pinned.and_then(|n| inventory.pin_error(&n)) {
        return Err(err);
    }
    let broken = inventory
        .entries
        .iter()
        .find(|e| e.candidate.name == name && matches!(e.status, Status::Failed(_) | Status::Unusable(_)));
    if let Some(b) = broken {
        let why = match &b.status {
            Status::Failed(e) => e.summary(),
            Status::Unusable(p) => p.explain(),
            _ => String::new(),
        };
        return Err(Error::new(format!(
            "backend '{name}' needs the plugin pyve-{name}, which cannot be used: {} {why}",
            b.candidate.path.display()
        ))
        .hint(format!(
            "`pyve plugin info {name}` shows the full error; reinstall it (`pyve plugin install SOURCE --force`)"
        )));
    }
    let dir = inventory
        .search
        .dirs
        .iter()
        .find(|d| d.origin == crate::plugins::Origin::UserDir)
        .map(|d| d.path.display().to_string())
        .unwrap_or_else(|| "$PYVE_HOME/plugins".into());
    Err(Error::new(format!("backend '{name}' needs the plugin pyve-{name}, which is not installed")).hint(format!(
        "install it with `pyve plugin install {name}` (from the Rust package registry) or `pyve plugin install PATH` (a built pyve-{name}, a script or a crate directory) into {dir}; or choose another backend with --backend"
    )))
}

/// Choose the backend for `root`. `configured` is the backend recorded in `.pyve/config` (when
/// it is to be honoured).
pub fn choose(inventory: &Inventory, root: &Path, flag: Option<&str>, configured: Option<&str>) -> Result<Choice> {
    let known = known_backends(inventory);
    let (name, reason) = if let Some(f) = flag.filter(|f| *f != "auto") {
        (f.to_owned(), Reason::Flag)
    } else if let Some(c) = configured {
        (c.to_owned(), Reason::Config)
    } else {
        let found = detect(root, &known);
        match found.as_slice() {
            [] => (DEFAULT_BACKEND.to_owned(), Reason::Default),
            [(name, file, _)] => (name.clone(), Reason::File(file.clone())),
            [(name, file, p), rest @ ..] => {
                let others: Vec<String> = rest.iter().map(|(n, f, _)| format!("{f} ({n})")).collect();
                let listed = format!("{file} ({name}) and {}", others.join(", "));
                if name == "micromamba" && rest.iter().all(|(n, _, _)| n == "venv") {
                    // The original's words for this case (reference 3.1), which scripts match.
                    ui::warn(&format!("Both conda and Python package files detected: {listed}"));
                } else {
                    ui::warn(&format!("Both {listed} found"));
                }
                if rest.iter().any(|(_, _, q)| q == p) {
                    ui::warn("Please specify the backend explicitly with --backend or in .pyve/config");
                } else {
                    ui::warn(&format!(
                        "Using {name}; choose another with --backend (for example --backend {})",
                        rest[0].0
                    ));
                }
                (name.clone(), Reason::File(file.clone()))
            }
        }
    };
    let plugin = plugin_for(inventory, &name)?;
    Ok(Choice { name, reason, plugin })
}

/// The names `--backend` accepts.
pub fn valid_names(inventory: &Inventory) -> Vec<String> {
    let mut names: Vec<String> = known_backends(inventory).into_iter().map(|(n, _, _)| n).collect();
    names.sort();
    names.dedup();
    names.push("auto".into());
    names
}

/// Prints a plugin's messages like pyve's own, shows progress, asks the user for plugins.
#[derive(Debug)]
pub struct UiHandler {
    /// Whether the user can be asked.
    pub interactive: bool,
    spinner: Option<ui::Spinner>,
}

impl UiHandler {
    /// A handler for a session.
    pub fn new(interactive: bool) -> Self {
        UiHandler { interactive, spinner: None }
    }
}

impl Handler for UiHandler {
    fn log(&mut self, _plugin: &PluginRef, p: LogParams) {
        match p.level {
            LogLevel::Error => ui::error_line(&p.message),
            LogLevel::Warn => ui::warn(&p.message),
            LogLevel::Success => ui::success(&p.message),
            LogLevel::Info => ui::info(&p.message),
            LogLevel::Debug => ui::debug(&p.message),
            LogLevel::Trace => ui::trace(&p.message),
        }
    }

    fn progress(&mut self, _plugin: &PluginRef, p: ProgressParams) {
        match p.kind {
            ProgressKind::Begin => self.spinner = ui::Spinner::start(p.title.as_deref().unwrap_or("working"), p.total),
            ProgressKind::Report => {
                if let Some(s) = &self.spinner {
                    s.update(p.message.as_deref(), p.done);
                }
            }
            ProgressKind::End => self.spinner = None,
        }
    }

    fn prompt(&mut self, plugin: &PluginRef, p: PromptParams) -> std::result::Result<PromptResult, ErrorObject> {
        self.spinner = None;
        if !self.interactive {
            let mut e = ErrorObject::failed(
                kind::NOT_INTERACTIVE,
                format!("plugin '{}' asked \"{}\" but pyve is not running interactively", plugin.name, p.message),
            );
            if let Some(h) = p.non_interactive_hint {
                e = e.with_hint(h);
            }
            return Err(e);
        }
        let choices: Vec<(String, String)> = p.choices.iter().map(|c| (c.key.clone(), c.label.clone())).collect();
        match ui::ask(&p.message, &choices, p.default.as_deref()) {
            Ok(answer) => Ok(PromptResult { answer }),
            // Ctrl-C at the question: the plugin's request is cancelled (the client sees the
            // interrupt and sends `$/cancel`: the plugin cleans up, pyve exits 130).
            Err(_) if crate::signals::interrupted() => Err(ErrorObject::cancelled()),
            Err(why) => {
                let mut e = ErrorObject::failed(
                    kind::NOT_INTERACTIVE,
                    format!("plugin '{}' asked \"{}\" and got no answer: {why}", plugin.name, p.message),
                );
                if let Some(h) = p.non_interactive_hint {
                    e = e.with_hint(h);
                }
                Err(e)
            }
        }
    }
}

/// A session with the plugin of an entry: started, handshake done.
pub struct Session {
    /// The client.
    pub client: Client,
    /// The plugin's manifest.
    pub manifest: Manifest,
    handler: UiHandler,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("plugin", &self.manifest.name).finish_non_exhaustive()
    }
}

impl Session {
    /// Start the plugin of `entry` for the project at `root`.
    pub fn open(env: &HostEnv, entry: &Entry, root: &Path) -> Result<Session> {
        let interactive = ui::can_prompt();
        let u = ui::get();
        let info = SessionInfo {
            project_root: Some(root.to_path_buf()),
            settings: HostSettings { interactive, verbosity: u.verbosity, color: u.color },
            env: crate::commands::plugin_env(env, Some(root), None),
        };
        let mut handler = UiHandler::new(interactive);
        let mut client = Client::start(&entry.candidate, &info, plugins::timeouts(env)).map_err(|e| e.to_error())?;
        client.cancel_on_interrupt();
        let manifest = client.initialize(&info, &mut handler).map_err(|e| e.to_error())?;
        Ok(Session { client, manifest, handler })
    }

    /// Call a method.
    pub fn call<M: RequestMethod>(&mut self, params: &M::Params) -> std::result::Result<M::Result, RpcError> {
        let r = self.client.call::<M>(params, &mut self.handler);
        self.handler.spinner = None;
        r
    }

    /// End the session.
    pub fn close(self) {
        self.client.shutdown();
    }
}

/// A session with the backend `.pyve/config` names, and the params that ask it about the
/// project's environment from the config's settings: for a project whose `.pyve/state.json`
/// records nothing (set up by the original tool, or a fresh clone). `None` when the config
/// names no backend.
pub fn configured_session(
    env: &HostEnv,
    root: &Path,
    config: &crate::project::Config,
) -> Result<Option<(Entry, EnvParams, Session)>> {
    let Some(name) = config.backend.clone() else { return Ok(None) };
    let entry = plugin_for(&plugins::inventory(env, crate::cli::BUILTINS), &name)?;
    let params =
        EnvParams { project_root: root.to_path_buf(), settings: config.backend_settings(&name), backend: name };
    let session = Session::open(env, &entry, root)?;
    Ok(Some((entry, params, session)))
}

/// Run the `post-create` hooks of every plugin that declares one. A failing hook is a warning:
/// the environment is made.
///
/// A hook that fails is reported and the environment stands without it; a hook that is
/// interrupted (Ctrl-C, SIGTERM) ends the init: its error (exit 130) is returned, so that
/// nothing half-made is reported as initialised.
pub fn run_post_create_hooks(env: &HostEnv, inventory: &Inventory, params: &PostCreateParams) -> Result<()> {
    let hooks: Vec<&Entry> = inventory
        .active()
        .filter(|e| e.serves.contains(&"rpc"))
        .filter(|e| e.manifest.as_ref().is_some_and(|m| m.provides.hooks.iter().any(|h| h.event == "post-create")))
        .collect();
    for entry in hooks {
        let result = Session::open(env, entry, &params.project_root).and_then(|mut s| {
            let r = s.call::<pyve_protocol::methods::request::HookPostCreate>(params).map_err(|e| e.to_error());
            if r.is_ok() {
                s.close();
            }
            r
        });
        // An interrupt seen while the hook ran (or before) ends the init, whatever the hook
        // answered: an interrupted hook is never a success.
        if crate::signals::received().is_some() {
            ui::warn(&format!("post-create hook of {} interrupted", entry.candidate.name));
            return Err(match result {
                Err(e) if e.code() >= 128 => e,
                _ => crate::signals::interrupted_error(),
            });
        }
        match result {
            Ok(r) => {
                if let Some(summary) = r.summary {
                    ui::debug(&format!("{}: {summary}", entry.candidate.name));
                }
            }
            Err(e) => {
                ui::warn(&format!(
                    "the post-create hook of plugin '{}' failed; the environment is ready without it",
                    entry.candidate.name
                ));
                ui::warn(&e.to_string());
                if let Some(h) = e.hint_text() {
                    ui::hint(h);
                }
            }
        }
    }
    Ok(())
}

/// An option a backend declares for `pyve --init` (protocol 1.1), with who declares it.
#[derive(Clone, Debug)]
pub struct Declared {
    /// The backend.
    pub backend: String,
    /// The plugin providing it, and its version.
    pub plugin: String,
    /// Its version.
    pub version: String,
    /// The option.
    pub info: OptionInfo,
}

/// `pyve --init`'s own options: a backend cannot take these names.
pub const HOST_INIT_FLAGS: &[&str] = &[
    "python-version",
    "backend",
    "local-env",
    "no-direnv",
    "update",
    "force",
    "help",
    "quiet",
    "verbose",
    "color",
    "version",
    "list",
];

/// Options of backends pyve knows by name, for the hint when their plugin is not installed.
pub const WELL_KNOWN_OPTIONS: &[(&str, &str)] = &[
    ("env-name", "micromamba"),
    ("strict", "micromamba"),
    ("auto-bootstrap", "micromamba"),
    ("bootstrap-to", "micromamba"),
    ("venv-dir", "venv"),
];

/// Commands of the bundled plugins, for the hint when their plugin is not installed (`pyve
/// lock` after the README's build, which leaves pyve-micromamba out).
pub const WELL_KNOWN_COMMANDS: &[(&str, &str)] = &[("lock", "micromamba"), ("test", "testenv"), ("testenv", "testenv")];

/// Why a declared option cannot be offered, if it cannot.
pub fn option_problem(o: &OptionInfo) -> Option<String> {
    if !pyve_protocol::is_valid_plugin_name(&o.name) {
        return Some(format!("`{}` is not an option name (lowercase letters, digits and dashes)", o.name));
    }
    if HOST_INIT_FLAGS.contains(&o.name.as_str()) {
        return Some(format!("--{} is one of pyve's own options", o.name));
    }
    if o.setting.trim().is_empty() {
        return Some(format!("--{} names no `setting`", o.name));
    }
    match o.kind {
        OptionKind::Enum if o.choices.is_empty() => Some(format!("--{} is an enum without `choices`", o.name)),
        OptionKind::Unknown => Some(format!("--{} has a kind this pyve does not know", o.name)),
        _ => None,
    }
}

/// Every option the installed backends declare, from their (cached) manifests, in search
/// order; options that cannot be offered are left out (`pyve plugin test` says why).
pub fn declared_options(inventory: &Inventory) -> Vec<Declared> {
    let mut out = Vec::new();
    for e in inventory.active().filter(|e| e.serves.contains(&"rpc")) {
        let Some(m) = &e.manifest else { continue };
        for b in &m.provides.backends {
            for o in &b.options {
                if option_problem(o).is_some() {
                    ui::debug(&format!(
                        "{}: option --{} of backend {} is not offered",
                        e.candidate.name, o.name, b.name
                    ));
                    continue;
                }
                out.push(Declared {
                    backend: b.name.clone(),
                    plugin: e.candidate.name.clone(),
                    version: m.version.clone(),
                    info: o.clone(),
                });
            }
        }
    }
    out
}
