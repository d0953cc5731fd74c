//! Exec plans: a passthrough command that ends by replacing itself with another program (`pyve
//! test` runs pytest) can leave pyve a plan of that `exec`, and the files its decision rested
//! on. While none of them changed, pyve runs the program itself and the plugin's process start
//! is saved. The normative text is `docs/protocol.md`, section 3.1 ("Exec plans").
//!
//! pyve offers a plan file in two variables; a plugin that ignores them works as before.
//!
//! ```
//! use pyve_protocol::exec_plan::{ExecPlan, Watch, fingerprint};
//!
//! let dir = std::env::temp_dir();
//! let plan = ExecPlan {
//!     format: 1,
//!     token: "opaque".into(),
//!     program: "/usr/bin/env".into(),
//!     args: vec!["true".into()],
//!     cwd: None,
//!     env: [("VIRTUAL_ENV".to_owned(), Some("/p/.venv".to_owned()))].into(),
//!     vars: [("PYVE_SURELY_UNSET".to_owned(), None)].into(),
//!     watch: vec![Watch { path: dir.display().to_string(), stat: fingerprint(&dir) }],
//! };
//! let text = serde_json::to_string(&plan).unwrap();
//! let back: ExecPlan = serde_json::from_str(&text).unwrap();
//! assert_eq!(back, plan);
//! assert!(back.unchanged());
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The variable naming the file a plugin may write its plan to (absent: write none).
pub const PLAN_VAR: &str = "PYVE_EXEC_PLAN";
/// The variable holding the token the plan must carry, verbatim (opaque to plugins).
pub const TOKEN_VAR: &str = "PYVE_EXEC_PLAN_TOKEN";
/// The plan format this crate reads and writes.
pub const FORMAT: u32 = 1;
/// The most a plan file may hold; a bigger one is not a plan.
pub const MAX_PLAN_BYTES: u64 = 1 << 20;

/// What the plugin would have `exec`ed, and what that rested on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecPlan {
    /// [`FORMAT`].
    pub format: u32,
    /// `PYVE_EXEC_PLAN_TOKEN` as the plugin received it.
    pub token: String,
    /// The program, an absolute path (it is `argv[0]` too).
    pub program: String,
    /// The arguments after `argv[0]`.
    pub args: Vec<String>,
    /// The working directory, absolute; `None`: the caller's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// Changes to the environment the plugin received: a value sets a variable, `null`
    /// removes it.
    #[serde(default)]
    pub env: BTreeMap<String, Option<String>>,
    /// The variables the decision read, with their values then (`null`: unset).
    #[serde(default)]
    pub vars: BTreeMap<String, Option<String>>,
    /// The files and directories the decision rested on, with their [`fingerprint`]s when it
    /// was taken.
    pub watch: Vec<Watch>,
}

/// One watched path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Watch {
    /// The path, absolute.
    pub path: String,
    /// Its [`fingerprint`].
    pub stat: String,
}

impl ExecPlan {
    /// Whether every watched path still has the fingerprint the plan recorded, and every
    /// variable it read the same value.
    pub fn unchanged(&self) -> bool {
        self.vars
            .iter()
            .all(|(k, v)| std::env::var_os(k).as_deref().map(std::ffi::OsStr::to_str) == v.as_deref().map(Some))
            && self.watch.iter().all(|w| w.stat != UNKNOWN && fingerprint(Path::new(&w.path)) == w.stat)
    }

    /// Whether the plan is one pyve can run: its format, an absolute program, an absolute
    /// working directory, variable names without `=` or NUL, and no NUL anywhere.
    pub fn is_well_formed(&self) -> bool {
        let no_nul = |s: &str| !s.contains('\0');
        self.format == FORMAT
            && self.program.starts_with('/')
            && no_nul(&self.program)
            && self.args.iter().all(|a| no_nul(a))
            && self.cwd.as_deref().is_none_or(|c| c.starts_with('/') && no_nul(c))
            && self
                .env
                .iter()
                .chain(&self.vars)
                .all(|(k, v)| !k.is_empty() && !k.contains('=') && no_nul(k) && v.as_deref().is_none_or(no_nul))
            && self.watch.iter().all(|w| w.path.starts_with('/'))
    }
}

/// The fingerprint of `path`, from `lstat` (a symbolic link is not followed):
/// `DEV:INO:MODE:SIZE:MTIME_NS:CTIME_NS` in decimal (`MODE` in octal, with the file type
/// bits), `absent` when nothing is there, `unknown` when it cannot be looked at (a plan
/// watching such a path never counts as unchanged).
pub fn fingerprint(path: &Path) -> String {
    describe(std::fs::symlink_metadata(path))
}

/// [`fingerprint`] of what `path` leads to, following symbolic links (pyve's own view of
/// its search directories, some of which are links, such as `/bin` on merged-`/usr` systems).
pub fn fingerprint_following(path: &Path) -> String {
    describe(std::fs::metadata(path))
}

fn describe(meta: std::io::Result<std::fs::Metadata>) -> String {
    match meta {
        #[cfg(unix)]
        Ok(m) => {
            use std::os::unix::fs::MetadataExt as _;
            let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
            format!(
                "{}:{}:{:o}:{}:{}:{}",
                m.dev(),
                m.ino(),
                m.mode(),
                m.size(),
                ns(m.mtime(), m.mtime_nsec()),
                ns(m.ctime(), m.ctime_nsec())
            )
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => ABSENT.to_owned(),
        _ => UNKNOWN.to_owned(),
    }
}

/// The fingerprint of a path with nothing at it.
pub const ABSENT: &str = "absent";
/// The fingerprint of a path that cannot be looked at; a plan watching one is never written.
pub const UNKNOWN: &str = "unknown";

/// 64-bit FNV-1a, for keys of plan files (stable across builds and platforms, unlike std's
/// hasher).
#[derive(Clone, Copy, Debug)]
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    /// Feed `bytes`, then a separator byte that no UTF-8 text holds (so `"ab","c"` and
    /// `"a","bc"` differ).
    pub fn field(&mut self, bytes: &[u8]) -> &mut Self {
        for b in bytes.iter().chain(&[0xff]) {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
        self
    }

    /// The hash so far.
    pub fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(dir: &Path) -> ExecPlan {
        ExecPlan {
            format: FORMAT,
            token: "t".into(),
            program: "/bin/true".into(),
            args: vec!["-x".into(), "a b".into()],
            cwd: Some(dir.display().to_string()),
            env: [("A".to_owned(), Some("1".to_owned())), ("B".to_owned(), None)].into(),
            vars: [("PATH".to_owned(), std::env::var("PATH").ok()), ("PYVE_SURELY_UNSET".to_owned(), None)].into(),
            watch: vec![Watch { path: dir.join("f").display().to_string(), stat: fingerprint(&dir.join("f")) }],
        }
    }

    #[test]
    fn a_plan_round_trips_and_says_when_a_watched_path_changed() {
        let dir = tempfile::tempdir().unwrap();
        let p = plan(dir.path());
        assert_eq!(p.watch[0].stat, ABSENT);
        let text = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<ExecPlan>(&text).unwrap(), p);
        assert!(p.unchanged() && p.is_well_formed());
        std::fs::write(dir.path().join("f"), "x").unwrap();
        assert!(!p.unchanged(), "a file that appeared");
        let p = plan(dir.path());
        assert!(p.unchanged());
        std::fs::write(dir.path().join("f"), "xy").unwrap();
        assert!(!p.unchanged(), "a file that grew");
        let p = plan(dir.path());
        std::fs::remove_file(dir.path().join("f")).unwrap();
        std::fs::write(dir.path().join("f"), "xy").unwrap();
        assert!(!p.unchanged(), "a file replaced by another (a new inode)");
        let mut p = plan(dir.path());
        assert!(p.unchanged());
        p.vars.insert("PATH".into(), Some("/elsewhere".into()));
        assert!(!p.unchanged(), "a variable with another value");
        let mut p = plan(dir.path());
        p.vars.insert("PATH".into(), None);
        assert!(!p.unchanged(), "a variable set that was unset");
    }

    #[test]
    fn plans_pyve_cannot_run_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let good = plan(dir.path());
        type Damage = Box<dyn Fn(&mut ExecPlan)>;
        let bad: Vec<Damage> = vec![
            Box::new(|p| p.format = 2),
            Box::new(|p| p.program = "python".into()),
            Box::new(|p| p.args.push("a\0b".into())),
            Box::new(|p| p.cwd = Some("rel".into())),
            Box::new(|p| {
                p.env.insert("A=B".into(), None);
            }),
            Box::new(|p| {
                p.env.insert(String::new(), Some("x".into()));
            }),
            Box::new(|p| p.watch.push(Watch { path: "rel".into(), stat: ABSENT.into() })),
            Box::new(|p| {
                p.vars.insert("A=B".into(), None);
            }),
        ];
        for (i, f) in bad.iter().enumerate() {
            let mut p = good.clone();
            f(&mut p);
            assert!(!p.is_well_formed(), "case {i}");
        }
        let unknown_field = serde_json::to_string(&good).unwrap().replacen('{', "{\"extra\":1,", 1);
        assert!(serde_json::from_str::<ExecPlan>(&unknown_field).is_err());
    }

    #[test]
    fn fnv_separates_fields() {
        let h = |parts: &[&str]| {
            let mut f = Fnv::default();
            for p in parts {
                f.field(p.as_bytes());
            }
            f.finish()
        };
        assert_ne!(h(&["ab", "c"]), h(&["a", "bc"]));
        assert_eq!(h(&["a"]), h(&["a"]));
        // The published FNV-1a value of "a" followed by our separator, computed by hand.
        let mut expect: u64 = 0xcbf2_9ce4_8422_2325;
        for b in [b'a', 0xff] {
            expect = (expect ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        assert_eq!(h(&["a"]), expect);
    }
}
