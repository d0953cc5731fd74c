//! The host's side of exec plans (docs/protocol.md, section 3.1): `pyve NAME ARGS` first looks
//! for the plan a plugin left the last time the same command ran in the same place, and runs
//! its program directly while nothing the plan rests on changed; otherwise it offers the plugin
//! a plan file. A plan is a cache: a missing, damaged or stale one costs only the plugin's
//! start.
//!
//! A plan file is named by a hash of what pyve sees of the run: pyve itself, the command and its
//! arguments, the working directory, the variables pyve passes and those it chooses the plugin
//! by (`PATH`, `PYVE_PLUGIN_PATH`, `PYVE_HOME`, `HOME`), and which of stdin, stdout and stderr
//! are terminals. The variables the plugin read are in the plan (`vars`). Its token adds what
//! chose the plugin: the plugin file, the search directories (a new plugin earlier in the path
//! changes the answer) and the project's `.pyve/config` (pins).

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use pyve_protocol::exec_plan::{
    ExecPlan, Fnv, MAX_PLAN_BYTES, PLAN_VAR, TOKEN_VAR, fingerprint, fingerprint_following,
};

use crate::env::HostEnv;
use crate::plugins::discovery::SearchPath;

/// Set (to anything but the empty string) to neither run nor offer plans.
pub const DISABLE_VAR: &str = "PYVE_NO_EXEC_PLANS";
/// Plans kept at most; past that the directory is emptied (each is a cache entry).
const MAX_PLANS: usize = 256;

/// The variables that choose the plugin (and the section 4 variables pyve passes, which are
/// keyed by value).
const HOST_VARS: [&str; 4] = ["PATH", "PYVE_PLUGIN_PATH", "PYVE_HOME", "HOME"];

/// The plan file for one command line in one place.
#[derive(Debug)]
pub struct Offer {
    file: PathBuf,
    key: u64,
}

impl Offer {
    /// The plan file for `command args` now, or `None` when plans are off or cannot be kept.
    pub fn new(env: &HostEnv, root: Option<&Path>, command: &str, args: &[OsString]) -> Option<Offer> {
        if std::env::var_os(DISABLE_VAR).is_some_and(|v| !v.is_empty()) {
            return None;
        }
        let dir = env.cache_dir.as_ref()?.join("exec-plans");
        let cwd = std::env::current_dir().ok()?;
        let mut h = Fnv::default();
        h.field(b"pyve exec plan 1").field(crate::env::VERSION.as_bytes());
        h.field(env.exe.as_deref().map(|p| p.as_os_str().as_bytes()).unwrap_or_default());
        h.field(command.as_bytes());
        h.field(&args.len().to_le_bytes());
        for a in args {
            h.field(a.as_bytes());
        }
        h.field(cwd.as_os_str().as_bytes());
        for (k, v) in super::plugin_env(env, root, Some(command)) {
            h.field(k.as_bytes()).field(v.as_bytes());
        }
        // What the host itself reads to choose the plugin; the plugin's own variables are in
        // the plan (`vars`).
        for var in HOST_VARS {
            h.field(var.as_bytes()).field(std::env::var_os(var).as_deref().map(|v| v.as_bytes()).unwrap_or(b"\xfe"));
        }
        for fd in 0..3 {
            // SAFETY: isatty only inspects the descriptor.
            h.field(&[u8::from(unsafe { libc::isatty(fd) } == 1)]);
        }
        let key = h.finish();
        Some(Offer { file: dir.join(format!("{key:016x}.json")), key })
    }

    /// What chose `plugin` for this command, and the plugin file itself.
    fn digest(&self, env: &HostEnv, root: Option<&Path>, plugin: &Path) -> u64 {
        let mut h = Fnv::default();
        h.field(&self.key.to_le_bytes());
        if let Some(exe) = &env.exe {
            h.field(fingerprint_following(exe).as_bytes());
        }
        for dir in SearchPath::from_env(env).dirs {
            h.field(dir.path.as_os_str().as_bytes()).field(fingerprint_following(&dir.path).as_bytes());
        }
        if let Some(root) = root {
            h.field(fingerprint(&root.join(".pyve").join("config")).as_bytes());
        }
        h.field(plugin.as_os_str().as_bytes());
        h.field(fingerprint(plugin).as_bytes()).field(fingerprint_following(plugin).as_bytes());
        h.finish()
    }

    fn token(&self, env: &HostEnv, root: Option<&Path>, plugin: &Path) -> Option<String> {
        let path = plugin.to_str()?;
        Some(format!("{:016x}:{path}", self.digest(env, root, plugin)))
    }

    /// The plan on file, if it is well formed, was left for this command by the plugin that
    /// would serve it now, and nothing it watched changed. A plan that fails is removed.
    fn valid_plan(&self, env: &HostEnv, root: Option<&Path>) -> Option<ExecPlan> {
        if !private(self.file.parent()?, true) || !private(&self.file, false) {
            return None;
        }
        let bytes = pyve_fs::read_bounded(&self.file, MAX_PLAN_BYTES).ok()?;
        let plan = serde_json::from_slice::<ExecPlan>(&bytes)
            .ok()
            .filter(ExecPlan::is_well_formed)
            .filter(|plan| {
                plan.token.split_once(':').is_some_and(|(digest, plugin)| {
                    Path::new(plugin).is_absolute()
                        && digest == format!("{:016x}", self.digest(env, root, Path::new(plugin)))
                })
            })
            .filter(ExecPlan::unchanged);
        if plan.is_none() {
            let _ = std::fs::remove_file(&self.file);
        }
        plan
    }

    /// Run the plan on file in place of the plugin (`exec`); returns when there is none that
    /// holds, or its program could not be started (then the plan is dropped).
    pub fn run(&self, env: &HostEnv, root: Option<&Path>, command: &str) {
        use std::os::unix::process::CommandExt as _;
        let Some(plan) = self.valid_plan(env, root) else { return };
        let mut cmd = Command::new(&plan.program);
        cmd.args(&plan.args).envs(super::plugin_env(env, root, Some(command)));
        cmd.env_remove(PLAN_VAR).env_remove(TOKEN_VAR);
        for (k, v) in &plan.env {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        if let Some(dir) = &plan.cwd {
            cmd.current_dir(dir);
        }
        crate::ui::debug(&format!("running the exec plan {} (the plugin is not started)", self.file.display()));
        let _ = cmd.exec();
        let _ = std::fs::remove_file(&self.file);
    }

    /// Offer `plugin`, about to run for this command, the plan file.
    pub fn offer(&self, cmd: &mut Command, env: &HostEnv, root: Option<&Path>, plugin: &Path) {
        let Some(token) = self.token(env, root, plugin) else { return };
        let Some(dir) = self.file.parent() else { return };
        if !prepare(dir) {
            return;
        }
        cmd.env(PLAN_VAR, &self.file).env(TOKEN_VAR, token);
    }
}

/// Whether `path` is a directory (`dir`) or a regular file (not a link) of this user that
/// nobody else may write: a plan names a program to run, so one that another user could have
/// put there (a shared `XDG_CACHE_HOME`) is never taken.
fn private(path: &Path, dir: bool) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::symlink_metadata(path).is_ok_and(|m| {
        // SAFETY: geteuid has no preconditions.
        let me = unsafe { libc::geteuid() };
        (if dir { m.is_dir() } else { m.is_file() }) && m.uid() == me && m.mode() & 0o022 == 0
    })
}

/// The plans directory exists, private, and holds fewer than [`MAX_PLANS`] plans. Counting
/// them costs a directory read on every offer, so it is done only once the directory has grown
/// past one block (more than about 128 plan names on ext4; filesystems whose directories report
/// no size are never pruned: the plans are small).
fn prepare(dir: &Path) -> bool {
    use std::os::unix::fs::DirBuilderExt as _;
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {
            if m.len() > 4096 {
                prune(dir);
            }
            true
        }
        Ok(_) => false,
        Err(_) => std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).is_ok(),
    }
}

/// Empty the plans directory when it holds [`MAX_PLANS`] entries or more.
fn prune(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir)
        && entries.count() >= MAX_PLANS
        && let Ok(entries) = std::fs::read_dir(dir)
    {
        for e in entries.filter_map(Result::ok) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(dir: &Path) -> HostEnv {
        let mut env = HostEnv::from_process();
        env.cache_dir = Some(dir.join("cache"));
        env.plugin_path = Some(dir.join("plugins").into_os_string());
        env
    }

    #[test]
    fn the_key_follows_the_command_line_and_the_token_the_plugin() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("plugins")).unwrap();
        let env = env(dir.path());
        let a = Offer::new(&env, None, "test", &["-q".into()]).unwrap();
        assert_eq!(a.key, Offer::new(&env, None, "test", &["-q".into()]).unwrap().key);
        assert_ne!(a.key, Offer::new(&env, None, "test", &["-x".into()]).unwrap().key);
        assert_ne!(a.key, Offer::new(&env, None, "test", &["-q".into(), String::new().into()]).unwrap().key);
        assert_ne!(a.key, Offer::new(&env, None, "testenv", &["-q".into()]).unwrap().key);
        let plugin = dir.path().join("plugins/pyve-testenv");
        std::fs::write(&plugin, "one").unwrap();
        let t1 = a.token(&env, None, &plugin).unwrap();
        assert_eq!(t1, a.token(&env, None, &plugin).unwrap());
        assert!(t1.ends_with(&format!(":{}", plugin.display())), "{t1}");
        std::fs::write(&plugin, "a rebuilt plugin").unwrap();
        assert_ne!(t1, a.token(&env, None, &plugin).unwrap());
        let t2 = a.token(&env, None, &plugin).unwrap();
        std::fs::write(dir.path().join("plugins/pyve-test"), "a new plugin on the path").unwrap();
        assert_ne!(t2, a.token(&env, None, &plugin).unwrap());
    }

    #[test]
    fn a_plan_that_does_not_hold_is_removed_and_a_full_directory_emptied() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("plugins")).unwrap();
        let env = env(dir.path());
        let offer = Offer::new(&env, None, "test", &[]).unwrap();
        let plans = offer.file.parent().unwrap().to_path_buf();
        assert!(prepare(&plans));
        std::fs::write(&offer.file, "not a plan").unwrap();
        assert!(offer.valid_plan(&env, None).is_none());
        assert!(!offer.file.exists());
        let plugin = dir.path().join("plugins/pyve-testenv");
        std::fs::write(&plugin, "x").unwrap();
        let watched = dir.path().join("watched");
        let plan = ExecPlan {
            format: 1,
            token: offer.token(&env, None, &plugin).unwrap(),
            program: "/bin/true".into(),
            args: vec![],
            cwd: None,
            env: Default::default(),
            vars: Default::default(),
            watch: vec![pyve_protocol::exec_plan::Watch {
                path: watched.display().to_string(),
                stat: fingerprint(&watched),
            }],
        };
        std::fs::write(&offer.file, serde_json::to_vec(&plan).unwrap()).unwrap();
        assert_eq!(offer.valid_plan(&env, None), Some(plan.clone()));
        std::fs::write(&watched, "appeared").unwrap();
        assert!(offer.valid_plan(&env, None).is_none());
        assert!(!offer.file.exists());
        // A plan others may write is never taken (a shared cache).
        let mut plan = plan;
        plan.watch[0].stat = fingerprint(&watched);
        std::fs::write(&offer.file, serde_json::to_vec(&plan).unwrap()).unwrap();
        let mode =
            |p: &Path, m: u32| std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(m)).unwrap();
        mode(&offer.file, 0o666);
        assert!(offer.valid_plan(&env, None).is_none());
        mode(&offer.file, 0o600);
        mode(&plans, 0o777);
        assert!(offer.valid_plan(&env, None).is_none());
        mode(&plans, 0o700);
        assert!(offer.valid_plan(&env, None).is_some());
        std::fs::remove_file(&offer.file).unwrap();
        for i in 0..MAX_PLANS - 1 {
            std::fs::write(plans.join(format!("{i:016x}.json")), "{}").unwrap();
        }
        assert!(prepare(&plans));
        assert_eq!(std::fs::read_dir(&plans).unwrap().count(), MAX_PLANS - 1, "not full yet");
        std::fs::write(plans.join("full.json"), "{}").unwrap();
        prune(&plans);
        assert_eq!(std::fs::read_dir(&plans).unwrap().count(), 0);
        // A directory that has grown past one block is pruned by `prepare` itself (where
        // directories report their size, as ext4 and tmpfs do).
        for i in 0..MAX_PLANS {
            std::fs::write(plans.join(format!("{i:016x}.json")), "{}").unwrap();
        }
        assert!(prepare(&plans));
        if std::fs::metadata(&plans).unwrap().len() > 4096 {
            assert_eq!(std::fs::read_dir(&plans).unwrap().count(), 0);
        }
    }
}
