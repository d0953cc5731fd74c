//! Leave pyve an exec plan from a passthrough command that ends by `exec`ing a program
//! (docs/protocol.md, section 3.1): while the watched paths do not change, pyve runs that program
//! itself and this plugin is not started.
//!
//! ```no_run
//! use std::os::unix::process::CommandExt as _;
//! use std::process::Command;
//!
//! let mut plan = pyve_sdk::exec_plan::Recorder::offered();
//! let env = std::path::Path::new("/project/.venv");
//! if let Some(p) = plan.as_mut() {
//!     // Watch before reading: what the decision below rests on.
//!     p.watch(env.join("pyvenv.cfg")).watch(env.join("bin/python"));
//! }
//! let mut cmd = Command::new(env.join("bin/python"));
//! cmd.arg("-m").arg("pytest").env("VIRTUAL_ENV", env);
//! // Nothing was printed: the same run next time would do exactly this.
//! pyve_sdk::exec_plan::commit(plan, &mut cmd);
//! let _ = cmd.exec();
//! ```

use std::ffi::OsStr;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use pyve_protocol::exec_plan::{ExecPlan, FORMAT, PLAN_VAR, TOKEN_VAR, UNKNOWN, Watch, fingerprint};

/// The plan pyve offered this run, and the paths watched so far.
#[derive(Debug)]
pub struct Recorder {
    file: PathBuf,
    token: String,
    watch: Vec<Watch>,
    vars: std::collections::BTreeMap<String, Option<String>>,
    /// A variable that cannot be written down (not UTF-8) was read: no plan.
    unwritable: bool,
}

impl Recorder {
    /// The offer in `PYVE_EXEC_PLAN` and `PYVE_EXEC_PLAN_TOKEN`; `None` when pyve made none
    /// (an older pyve, plans disabled, or not run by pyve).
    pub fn offered() -> Option<Recorder> {
        let file = std::env::var_os(PLAN_VAR).filter(|v| !v.is_empty()).map(PathBuf::from)?;
        let token = std::env::var(TOKEN_VAR).ok().filter(|v| !v.is_empty())?;
        file.is_absolute().then_some(Recorder {
            file,
            token,
            watch: Vec::new(),
            vars: Default::default(),
            unwritable: false,
        })
    }

    /// Read the variable `name` and remember its value: a plan holds only while it is the
    /// same (unset stays unset). Use it for every variable the decision reads.
    pub fn var(&mut self, name: &str) -> Option<std::ffi::OsString> {
        let value = std::env::var_os(name);
        match value.as_deref().map(OsStr::to_str) {
            None => {
                self.vars.insert(name.to_owned(), None);
            }
            Some(Some(v)) => {
                self.vars.insert(name.to_owned(), Some(v.to_owned()));
            }
            Some(None) => self.unwritable = true,
        }
        value
    }

    /// Watch `path` (made absolute against the current directory): its fingerprint now. Watch
    /// a path before reading what it holds, and a missing one too (its appearing matters).
    pub fn watch(&mut self, path: impl AsRef<Path>) -> &mut Self {
        let path = path.as_ref();
        let abs = if path.is_absolute() {
            path.to_path_buf()
        } else {
            match std::env::current_dir() {
                Ok(cwd) => cwd.join(path),
                Err(_) => {
                    // Unwatchable: the plan can never be written.
                    self.watch.push(Watch { path: String::new(), stat: UNKNOWN.to_owned() });
                    return self;
                }
            }
        };
        let stat = fingerprint(&abs);
        self.watch.push(Watch { path: abs.to_string_lossy().into_owned(), stat });
        self
    }

    /// The plan `cmd` stands for, if every watched path still has the fingerprint it had
    /// when watched and the command can be written down (UTF-8, an absolute program).
    fn plan(&self, cmd: &Command) -> Option<ExecPlan> {
        if self.unwritable {
            return None;
        }
        let text = |s: &OsStr| s.to_str().map(str::to_owned);
        let program = text(cmd.get_program())?;
        let args = cmd.get_args().map(text).collect::<Option<Vec<_>>>()?;
        let cwd = match cmd.get_current_dir() {
            None => None,
            Some(d) if d.is_absolute() => Some(text(d.as_os_str())?),
            Some(d) => Some(text(std::env::current_dir().ok()?.join(d).as_os_str())?),
        };
        let mut env = std::collections::BTreeMap::new();
        for (k, v) in cmd.get_envs() {
            env.insert(
                text(k)?,
                match v {
                    Some(v) => Some(text(v)?),
                    None => None,
                },
            );
        }
        let plan = ExecPlan {
            format: FORMAT,
            token: self.token.clone(),
            program,
            args,
            cwd,
            env,
            vars: self.vars.clone(),
            watch: self.watch.clone(),
        };
        // The host's own checks: what it would refuse, or find changed, is not written.
        (plan.is_well_formed() && plan.unchanged()).then_some(plan)
    }

    /// Write the plan file (a temporary file renamed into place); false when it could not be.
    fn write(&self, plan: &ExecPlan) -> bool {
        let Some(dir) = self.file.parent() else { return false };
        let Some(name) = self.file.file_name() else { return false };
        let tmp = dir.join(format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id()));
        let done = (|| {
            // Private: pyve takes no plan that others could have written.
            let mut f = {
                use std::os::unix::fs::OpenOptionsExt as _;
                std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?
            };
            f.write_all(serde_json::to_string(plan).map_err(std::io::Error::other)?.as_bytes())?;
            std::fs::rename(&tmp, &self.file)
        })();
        if done.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        done.is_ok()
    }
}

/// Before `exec`ing `cmd`: keep pyve's offer from reaching the program, and, when pyve made
/// one (`plan`), write the plan of `cmd` if nothing it watched changed. Call it only when this
/// run printed nothing and changed nothing, so that running the plan instead is the same
/// thing. Returns whether a plan was written. A plan cannot express `Command::env_clear`.
pub fn commit(plan: Option<Recorder>, cmd: &mut Command) -> bool {
    strip(cmd);
    plan.as_ref().and_then(|r| r.plan(cmd).map(|p| r.write(&p))).unwrap_or(false)
}

/// Keep pyve's offer (`PYVE_EXEC_PLAN`, `PYVE_EXEC_PLAN_TOKEN`) from reaching `cmd`.
pub fn strip(cmd: &mut Command) {
    cmd.env_remove(PLAN_VAR).env_remove(TOKEN_VAR);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorder(dir: &Path) -> Recorder {
        Recorder {
            file: dir.join("plan.json"),
            token: "tok".into(),
            watch: Vec::new(),
            vars: Default::default(),
            unwritable: false,
        }
    }

    #[test]
    fn a_committed_plan_is_the_command_and_what_was_watched() {
        let dir = tempfile::tempdir().unwrap();
        let watched = dir.path().join("env");
        std::fs::create_dir(&watched).unwrap();
        let mut r = recorder(dir.path());
        r.watch(watched.join("cfg")).watch(&watched);
        assert_eq!(r.var("PYVE_SURELY_UNSET"), None);
        let path = r.var("PATH");
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg("-m").arg("pytest").env("VIRTUAL_ENV", "/v").env_remove("PYTHONHOME").current_dir("/tmp");
        let plan = r.plan(&cmd).unwrap();
        assert_eq!(plan.program, "/usr/bin/python3");
        assert_eq!(plan.args, ["-m", "pytest"]);
        assert_eq!(plan.cwd.as_deref(), Some("/tmp"));
        assert_eq!(plan.env.get("VIRTUAL_ENV"), Some(&Some("/v".to_owned())));
        assert_eq!(plan.env.get("PYTHONHOME"), Some(&None));
        assert_eq!(plan.token, "tok");
        assert_eq!(plan.watch.len(), 2);
        assert_eq!(plan.vars.get("PYVE_SURELY_UNSET"), Some(&None));
        assert_eq!(plan.vars.get("PATH").cloned().flatten(), path.map(|p| p.into_string().unwrap()));
        cmd.env(PLAN_VAR, "inherited");
        assert!(commit(Some(r), &mut cmd));
        let back: ExecPlan = serde_json::from_slice(&std::fs::read(dir.path().join("plan.json")).unwrap()).unwrap();
        // The offer's variables never reach the program.
        assert_eq!(back.env.get(PLAN_VAR), Some(&None));
        assert!(back.unchanged());
    }

    #[test]
    fn no_plan_when_a_watched_path_changed_or_the_command_is_relative() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = recorder(dir.path());
        r.watch(dir.path().join("cfg"));
        std::fs::write(dir.path().join("cfg"), "changed while deciding").unwrap();
        let mut cmd = Command::new("/bin/true");
        assert!(!commit(Some(r), &mut cmd));
        assert!(!dir.path().join("plan.json").exists());
        let r = recorder(dir.path());
        assert!(r.plan(&Command::new("python")).is_none(), "a program looked up on PATH");
        assert!(!commit(None, &mut Command::new("/bin/true")));
    }
}
