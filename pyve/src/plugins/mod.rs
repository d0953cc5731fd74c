//! Plugins: finding them (the resolver), knowing what they provide (manifests, cached), and
//! explaining both.

pub mod cache;
pub mod discovery;
pub mod install;
pub mod pins;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use pyve_protocol::types::Manifest;

use crate::env::HostEnv;
use crate::error::Error;
use crate::rpc::{Client, PluginRef, RpcError, SessionInfo, Timeouts};
pub use discovery::{Candidate, Kind, Origin, Problem, Resolution, SearchPath};

/// The state of one plugin file, as `plugin list` reports it.
#[derive(Clone, Debug)]
pub enum Status {
    /// Usable, and the one that serves its name.
    Ok,
    /// Usable, but an earlier file (or a built-in command) serves its name.
    Shadowed(String),
    /// Cannot be used (not executable, refused library, not a file).
    Unusable(Problem),
    /// Its handshake failed.
    Failed(RpcError),
    /// Usable, but its version does not match the project's pin (the requirement).
    Unpinned(String),
}

impl Status {
    /// The status word of `plugin list --json`.
    pub fn word(&self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Shadowed(_) => "shadowed",
            Status::Unusable(p) => p.status(),
            Status::Failed(e) => e.status(),
            Status::Unpinned(_) => "pin-mismatch",
        }
    }
}

/// One plugin file and what is known of it.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The file.
    pub candidate: Candidate,
    /// Its state.
    pub status: Status,
    /// Its manifest, when its handshake succeeded (now or earlier, from the cache).
    pub manifest: Option<Manifest>,
    /// What it serves when it is the winner: `rpc`, `passthrough`.
    pub serves: Vec<&'static str>,
    /// What it logged (`$/log`) during its handshake (shown by `plugin list -v`).
    pub logs: Vec<pyve_protocol::types::LogParams>,
}

/// Every plugin file on the search path.
#[derive(Debug, Default)]
pub struct Inventory {
    /// Sorted by name, then search order.
    pub entries: Vec<Entry>,
    /// The search path used.
    pub search: SearchPath,
    /// The pins of the project of the current directory, applied to `entries`.
    pub pins: pins::Pins,
    /// The project's `commands:` choices (command name -> plugin name).
    pub choices: BTreeMap<String, String>,
}

impl Inventory {
    /// The winning entries (one or two per name: a library and an executable).
    pub fn active(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| matches!(e.status, Status::Ok))
    }

    /// The error for a pinned plugin that no installed copy matches: the pin, what was found
    /// and where, and the command that fixes it. `None` when `name` is not pinned or a copy
    /// matches.
    pub fn pin_error(&self, name: &str) -> Option<Error> {
        let pin = self.pins.get(name)?;
        let mine: Vec<&Entry> = self.entries.iter().filter(|e| e.candidate.name == name).collect();
        if mine.iter().any(|e| matches!(e.status, Status::Ok)) {
            return None;
        }
        let found: Vec<String> = mine
            .iter()
            .map(|e| {
                let v = e.manifest.as_ref().map(|m| m.version.clone()).unwrap_or_else(|| "(version unknown)".into());
                let why = match &e.status {
                    Status::Failed(err) => format!(": {}", err.summary()),
                    Status::Unusable(p) => format!(": {}", p.explain()),
                    _ => String::new(),
                };
                format!(
                    "{} {v} ({}, {}){why}",
                    e.candidate.name,
                    e.candidate.path.display(),
                    e.candidate.origin.describe()
                )
            })
            .collect();
        let mut err = Error::new(format!(
            "no installed copy of plugin '{name}' matches the pin {} ({})",
            pin.describe(),
            pin.place()
        ));
        err = if found.is_empty() {
            let near = self
                .entries
                .iter()
                .map(|e| e.candidate.name.as_str())
                .filter(|n| strsim::damerau_levenshtein(n, name) <= (name.len() / 3).max(1))
                .min_by_key(|n| strsim::damerau_levenshtein(n, name));
            match near {
                Some(n) => err.because(format!("no plugin named '{name}' is installed (did you mean '{n}'?)")),
                None => err.because(format!("no plugin named '{name}' is installed")),
            }
        } else {
            err.because(format!("found: {}", found.join("; ")))
        };
        let hint = if self.is_unsourced_script(name) {
            format!(
                "{name} is a script plugin: install a matching copy with `pyve plugin install PATH` (the script, or its directory), or record where it comes from (`{name}: {{version: \"{}\", source: PATH}}` under `plugins:`) and run `pyve plugin install`; or change the pin in .pyve/config",
                pin.req
            )
        } else {
            format!("run `{}`, or change the pin in .pyve/config", pin.install_command())
        };
        Some(err.hint(hint))
    }

    /// Whether pinned `name` is a script plugin (not in the Rust package registry) whose pin
    /// records no source: `pyve plugin install NAME@REQ` cannot fix it.
    fn is_unsourced_script(&self, name: &str) -> bool {
        self.pins.get(name).is_some_and(|p| p.source.is_none())
            && self.entries.iter().any(|e| e.candidate.name == name && is_script(&e.candidate.path))
    }

    /// The command that installs a copy matching the pin of `name`, and what it is for:
    /// `("pyve plugin install NAME@REQ", "NAME")`.
    fn pin_fix(&self, name: &str) -> Option<(String, String)> {
        let pin = self.pins.get(name)?;
        Some(if self.is_unsourced_script(name) {
            ("pyve plugin install PATH".to_owned(), format!("{name}: PATH is the script plugin or its directory"))
        } else {
            (pin.install_command(), name.to_owned())
        })
    }

    /// The plugins (with an executable) whose manifests provide command `name`, in search order.
    pub fn command_providers(&self, name: &str) -> Vec<&str> {
        let mut providers: Vec<&str> = Vec::new();
        for e in self.active() {
            let provides = e.manifest.as_ref().is_some_and(|m| m.provides.commands.iter().any(|c| c.name == name));
            let has_exec =
                self.active().any(|x| x.candidate.name == e.candidate.name && x.candidate.kind == Kind::Exec);
            if provides && has_exec && !providers.contains(&e.candidate.name.as_str()) {
                providers.push(&e.candidate.name);
            }
        }
        providers
    }

    /// The plugin whose manifest provides command `name`, with the executable to run. When
    /// several do, the project's `commands: {NAME: PLUGIN}` chooses; without a choice the first
    /// found serves it, with a warning naming all of them.
    pub fn command_provider(&self, name: &str) -> Option<&Entry> {
        let providers = self.command_providers(name);
        let first = *providers.first()?;
        let chosen = match self.choices.get(name) {
            Some(c) if providers.contains(&c.as_str()) => c.as_str(),
            Some(c) => {
                crate::ui::warn(&format!(
                    "`commands: {{{name}: {c}}}` in .pyve/config: plugin '{c}' does not provide `pyve {name}` (it is provided by {}); using pyve-{first}",
                    providers.iter().map(|p| format!("pyve-{p}")).collect::<Vec<_>>().join(", ")
                ));
                first
            }
            None if providers.len() > 1 => {
                crate::ui::warn(&format!(
                    "`pyve {name}` is provided by {}; using pyve-{first} (the first found): choose with `commands: {{{name}: PLUGIN}}` in .pyve/config",
                    providers.iter().map(|p| format!("pyve-{p}")).collect::<Vec<_>>().join(" and ")
                ));
                first
            }
            None => first,
        };
        self.active().find(|e| e.candidate.name == chosen && e.candidate.kind == Kind::Exec)
    }

    /// Every command name the active plugins provide, with its summary and plugin.
    pub fn commands(&self) -> BTreeMap<String, (String, String)> {
        let mut out = BTreeMap::new();
        for e in self.active() {
            if let Some(m) = &e.manifest {
                for c in &m.provides.commands {
                    out.entry(c.name.clone()).or_insert_with(|| (c.summary.clone(), e.candidate.name.clone()));
                }
            }
        }
        out
    }
}

/// The session information the host gives plugins it inspects.
pub fn inspect_session(env: &HostEnv) -> SessionInfo {
    let ui = crate::ui::get();
    SessionInfo {
        project_root: None,
        settings: pyve_protocol::types::HostSettings { interactive: false, verbosity: ui.verbosity, color: ui.color },
        env: crate::commands::plugin_env(env, None, None),
    }
}

/// Timeouts from the environment.
pub fn timeouts(env: &HostEnv) -> Timeouts {
    Timeouts { handshake: env.handshake_timeout, call: env.rpc_timeout }
}

/// Start a plugin, do the handshake, end the session.
pub fn fetch_manifest(c: &Candidate, info: &SessionInfo, timeouts: Timeouts) -> Result<Manifest, RpcError> {
    fetch_manifest_logged(c, info, timeouts).0
}

/// Keeps what a plugin logs during its handshake.
#[derive(Debug, Default)]
pub struct LogCollector(pub Vec<pyve_protocol::types::LogParams>);

impl crate::rpc::Handler for LogCollector {
    fn log(&mut self, _plugin: &crate::rpc::PluginRef, p: pyve_protocol::types::LogParams) {
        if self.0.len() < 100 {
            self.0.push(p);
        }
    }
    fn progress(&mut self, _: &crate::rpc::PluginRef, _: pyve_protocol::types::ProgressParams) {}
    fn prompt(
        &mut self,
        plugin: &crate::rpc::PluginRef,
        params: pyve_protocol::types::PromptParams,
    ) -> Result<pyve_protocol::types::PromptResult, pyve_protocol::ErrorObject> {
        crate::rpc::QuietHandler.prompt(plugin, params)
    }
}

/// [`fetch_manifest`], with what the plugin logged (`$/log`) during the handshake.
pub fn fetch_manifest_logged(
    c: &Candidate,
    info: &SessionInfo,
    timeouts: Timeouts,
) -> (Result<Manifest, RpcError>, Vec<pyve_protocol::types::LogParams>) {
    let mut logs = LogCollector::default();
    let result = Client::start(c, info, timeouts).and_then(|mut client| {
        let manifest = client.initialize(info, &mut logs)?;
        client.shutdown();
        Ok(manifest)
    });
    (result, logs.0)
}

/// Print what a plugin logged during its handshake, each line naming the plugin.
pub fn show_logs(name: &str, logs: &[pyve_protocol::types::LogParams]) {
    use pyve_protocol::types::LogLevel;
    for l in logs {
        let line = format!("{name}: {}", l.message);
        match l.level {
            LogLevel::Error => crate::ui::error_line(&line),
            LogLevel::Warn => crate::ui::warn(&line),
            LogLevel::Success => crate::ui::success(&line),
            LogLevel::Info => crate::ui::info(&line),
            LogLevel::Debug => crate::ui::debug(&line),
            LogLevel::Trace => crate::ui::trace(&line),
        }
    }
}

/// Scan the search path, resolve every name, and learn the manifests of usable files (from
/// the cache, or by a handshake, several at once). `builtins` are names pyve serves itself.
pub fn inventory(env: &HostEnv, builtins: &[&str]) -> Inventory {
    let search = SearchPath::from_env(env);
    let mut cache = cache::Cache::load(env.cache_dir.as_deref());
    let candidates = discovery::scan(&search, |dir| cache.plugin_files(dir));

    // Group by name (the scan is sorted by name, then search order) and resolve each.
    let mut entries: Vec<Entry> = Vec::new();
    let mut i = 0;
    while i < candidates.len() {
        let name = candidates[i].name.clone();
        let group: Vec<Candidate> = candidates[i..].iter().take_while(|c| c.name == name).cloned().collect();
        i += group.len();
        let builtin = builtins.contains(&name.as_str());
        let res = discovery::resolve(group.clone());
        let winner_of = |c: &Candidate| -> Vec<&'static str> {
            let mut serves = Vec::new();
            if res.rpc.as_ref().is_some_and(|r| r.path == c.path) {
                serves.push("rpc");
            }
            if res.exec.as_ref().is_some_and(|r| r.path == c.path) {
                serves.push("passthrough");
            }
            serves
        };
        let primary = res.primary().map(|p| p.path.display().to_string());
        for c in group {
            let serves = winner_of(&c);
            let status = if let Some(p) = &c.problem {
                Status::Unusable(p.clone())
            } else if builtin {
                Status::Shadowed(format!("the built-in command `pyve {name}`"))
            } else if serves.is_empty() {
                Status::Shadowed(primary.clone().unwrap_or_default())
            } else {
                Status::Ok
            };
            entries.push(Entry { candidate: c, status, manifest: None, serves, logs: Vec::new() });
        }
    }

    // Manifests: cached, or fetched in parallel.
    let mut todo = Vec::new();
    for (idx, e) in entries.iter_mut().enumerate() {
        if matches!(e.status, Status::Unusable(_)) {
            continue;
        }
        match cache.handshake(&e.candidate) {
            // A manifest cached by an older pyve is checked as a fresh one is (issue 17, class 9).
            Some((Ok(m), _)) if crate::rpc::check_manifest(m).is_err() => todo.push(idx),
            Some((Ok(m), logs)) => {
                e.manifest = Some(m.clone());
                e.logs = logs.to_vec();
            }
            // A handshake that timed out costs its time once: tried again when the file
            // changes (or by `pyve plugin info`).
            Some((Err(f), logs)) => {
                e.logs = logs.to_vec();
                if matches!(e.status, Status::Ok) {
                    e.status = Status::Failed(RpcError { plugin: PluginRef::of(&e.candidate), failure: f.clone() });
                    e.serves.clear();
                }
            }
            None => todo.push(idx),
        }
    }
    if !todo.is_empty() {
        let info = inspect_session(env);
        let timeouts = timeouts(env);
        type Fetched = (Result<Manifest, RpcError>, Vec<pyve_protocol::types::LogParams>);
        let results: Mutex<Vec<(usize, Fetched)>> = Mutex::new(Vec::new());
        let next = AtomicUsize::new(0);
        let workers = todo.len().min(8);
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| {
                    loop {
                        let k = next.fetch_add(1, Ordering::SeqCst);
                        let Some(&idx) = todo.get(k) else { break };
                        let r = fetch_manifest_logged(&entries[idx].candidate, &info, timeouts);
                        results.lock().unwrap_or_else(|e| e.into_inner()).push((idx, r));
                    }
                });
            }
        });
        for (idx, (r, logs)) in results.into_inner().unwrap_or_else(|e| e.into_inner()) {
            entries[idx].logs = logs.clone();
            match r {
                Ok(m) => {
                    cache.put_handshake(&entries[idx].candidate, Ok(m.clone()), logs);
                    entries[idx].manifest = Some(m);
                }
                Err(e) => {
                    // A handshake that timed out is remembered: it would cost its timeout on
                    // every listing. Other failures are cheap to see again, and their
                    // diagnosis stays fresh.
                    if matches!(e.failure, crate::rpc::Failure::Timeout { .. }) {
                        cache.put_handshake(&entries[idx].candidate, Err(e.failure.clone()), logs);
                    }
                    // A shadowed file stays reported as shadowed: it serves nothing anyway.
                    if matches!(entries[idx].status, Status::Ok) {
                        entries[idx].status = Status::Failed(e);
                        entries[idx].serves.clear();
                    }
                }
            }
        }
    }
    cache.retain_manifests(&candidates);
    cache.save();
    let config = std::env::current_dir()
        .ok()
        .and_then(|cwd| env.project_root(&cwd))
        .and_then(|root| crate::project::Config::load(&root).ok().flatten());
    let pins = config.as_ref().map(|c| c.plugins.clone()).unwrap_or_default();
    let choices = config.as_ref().map(|c| c.command_choices()).unwrap_or_default();
    apply_pins(&mut entries, &pins, builtins);
    Inventory { entries, search, pins, choices }
}

impl Inventory {
    /// Every pin that no installed copy matches, as one error (the first pin's, with the others
    /// named, and the fix of each in the hint), after printing the pins' warnings: what
    /// `pyve --init` checks before it changes anything.
    pub fn check_pins(&self) -> crate::error::Result<()> {
        self.warn_pins();
        let names: Vec<&str> =
            self.pins.pins.keys().map(String::as_str).filter(|n| self.pin_error(n).is_some()).collect();
        let mut errors = names.iter().filter_map(|n| self.pin_error(n));
        let Some(mut err) = errors.next() else { return Ok(()) };
        if names.len() == 1 {
            return Err(err);
        }
        for other in errors {
            err = err.detail(format!("also: {other}"));
        }
        // One command per fix, with the pins it fixes (`pyve plugin install` without an
        // argument fixes every pin that records its source).
        let mut fixes: Vec<(String, Vec<String>)> = Vec::new();
        for (cmd, what) in names.iter().filter_map(|n| self.pin_fix(n)) {
            match fixes.iter_mut().find(|(c, _)| *c == cmd) {
                Some((_, names)) => names.push(what),
                None => fixes.push((cmd, vec![what])),
            }
        }
        let fixes: Vec<String> = fixes.iter().map(|(c, names)| format!("`{c}` ({})", names.join("; "))).collect();
        Err(err.hint(format!("run {}; or change the pins in .pyve/config", fixes.join(", "))))
    }

    /// Print the warnings about the `plugins:` section (unknown keys and shapes), on stderr.
    pub fn warn_pins(&self) {
        for w in &self.pins.warnings {
            crate::ui::warn(&format!(".pyve/config, {w}"));
        }
    }
}

/// Whether a plugin file is a script (starts with `#!`).
pub fn is_script(path: &std::path::Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 2];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut head)).is_ok() && &head == b"#!"
}

/// Apply the project's pins: for a pinned name, the first directory (in search order) holding
/// a copy whose version matches serves it; the copies that do not match serve nothing
/// ([`Status::Unpinned`]), and matching copies in later directories are shadowed.
fn apply_pins(entries: &mut [Entry], pins: &pins::Pins, builtins: &[&str]) {
    for (name, pin) in &pins.pins {
        if builtins.contains(&name.as_str()) {
            continue;
        }
        let usable = |e: &Entry| matches!(e.status, Status::Ok | Status::Shadowed(_));
        let matches = |e: &Entry| {
            e.manifest
                .as_ref()
                .and_then(|m| semver::Version::parse(&m.version).ok())
                .is_some_and(|v| pin.req.matches(&v))
        };
        let mine: Vec<usize> = (0..entries.len()).filter(|&i| entries[i].candidate.name == *name).collect();
        let winner_dir =
            mine.iter().map(|&i| &entries[i]).filter(|e| usable(e) && matches(e)).map(|e| e.candidate.dir_index).min();
        let in_winner = |e: &Entry| Some(e.candidate.dir_index) == winner_dir && usable(e) && matches(e);
        let has_dylib = mine.iter().any(|&i| in_winner(&entries[i]) && entries[i].candidate.kind == Kind::Dylib);
        let primary = mine
            .iter()
            .map(|&i| &entries[i])
            .filter(|e| in_winner(e))
            .min_by_key(|e| e.candidate.kind == Kind::Exec)
            .map(|e| e.candidate.path.display().to_string());
        for &i in &mine {
            let winner = in_winner(&entries[i]);
            let ok = matches(&entries[i]);
            let e = &mut entries[i];
            if !usable(e) {
                continue;
            }
            if winner {
                e.status = Status::Ok;
                e.serves = match e.candidate.kind {
                    Kind::Dylib => vec!["rpc"],
                    Kind::Exec if has_dylib => vec!["passthrough"],
                    Kind::Exec => vec!["rpc", "passthrough"],
                };
            } else if !ok {
                e.status = Status::Unpinned(pin.req.to_string());
                e.serves.clear();
            } else {
                e.status = Status::Shadowed(primary.clone().unwrap_or_default());
                e.serves.clear();
            }
        }
    }
}
