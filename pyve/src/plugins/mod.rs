//! Plugins: finding them (the resolver), knowing what they provide (manifests, cached), and
//! explaining both.

pub mod cache;
pub mod discovery;
pub mod install;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use pyve_protocol::types::Manifest;

use crate::env::HostEnv;
use crate::rpc::{Client, QuietHandler, RpcError, SessionInfo, Timeouts};
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
}

impl Status {
    /// The status word of `plugin list --json`.
    pub fn word(&self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Shadowed(_) => "shadowed",
            Status::Unusable(p) => p.status(),
            Status::Failed(e) => e.status(),
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
}

/// Every plugin file on the search path.
#[derive(Debug, Default)]
pub struct Inventory {
    /// Sorted by name, then search order.
    pub entries: Vec<Entry>,
    /// The search path used.
    pub search: SearchPath,
}

impl Inventory {
    /// The winning entries (one or two per name: a library and an executable).
    pub fn active(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| matches!(e.status, Status::Ok))
    }

    /// The plugin whose manifest provides command `name`, with the executable to run.
    pub fn command_provider(&self, name: &str) -> Option<&Entry> {
        let providers: Vec<&str> = self
            .active()
            .filter(|e| e.manifest.as_ref().is_some_and(|m| m.provides.commands.iter().any(|c| c.name == name)))
            .map(|e| e.candidate.name.as_str())
            .collect();
        let plugin = providers.first()?;
        self.active().find(|e| e.candidate.name == *plugin && e.candidate.kind == Kind::Exec)
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
    let mut client = Client::start(c, info, timeouts)?;
    let manifest = client.initialize(info, &mut QuietHandler)?;
    client.shutdown();
    Ok(manifest)
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
            entries.push(Entry { candidate: c, status, manifest: None, serves });
        }
    }

    // Manifests: cached, or fetched in parallel.
    let mut todo = Vec::new();
    for (idx, e) in entries.iter_mut().enumerate() {
        if matches!(e.status, Status::Unusable(_)) {
            continue;
        }
        match cache.manifest(&e.candidate) {
            Some(m) => e.manifest = Some(m.clone()),
            None => todo.push(idx),
        }
    }
    if !todo.is_empty() {
        let info = inspect_session(env);
        let timeouts = timeouts(env);
        let results: Mutex<Vec<(usize, Result<Manifest, RpcError>)>> = Mutex::new(Vec::new());
        let next = AtomicUsize::new(0);
        let workers = todo.len().min(8);
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| {
                    loop {
                        let k = next.fetch_add(1, Ordering::SeqCst);
                        let Some(&idx) = todo.get(k) else { break };
                        let r = fetch_manifest(&entries[idx].candidate, &info, timeouts);
                        results.lock().unwrap_or_else(|e| e.into_inner()).push((idx, r));
                    }
                });
            }
        });
        for (idx, r) in results.into_inner().unwrap_or_else(|e| e.into_inner()) {
            match r {
                Ok(m) => {
                    cache.put_manifest(&entries[idx].candidate, m.clone());
                    entries[idx].manifest = Some(m);
                }
                // A shadowed file stays reported as shadowed: it serves nothing anyway.
                Err(e) if matches!(entries[idx].status, Status::Ok) => {
                    entries[idx].status = Status::Failed(e);
                    entries[idx].serves.clear();
                }
                Err(_) => {}
            }
        }
    }
    cache.retain_manifests(&candidates);
    cache.save();
    Inventory { entries, search }
}
