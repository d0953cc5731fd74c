//! Finding a micromamba binary (reference 3.2): `.pyve/bin/micromamba`, then
//! `$PYVE_HOME/bin/micromamba` (`~/.pyve` unless set), then `PATH`; its version from `--version`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where a binary was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// `<project>/.pyve/bin/micromamba`.
    Project,
    /// `~/.pyve/bin/micromamba`.
    User,
    /// On `PATH`.
    System,
}

impl Location {
    /// `project`, `user` or `system`, as the reference's doctor prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Location::Project => "project",
            Location::User => "user",
            Location::System => "system",
        }
    }
}

/// A found binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Its absolute path.
    pub path: PathBuf,
    /// Where.
    pub location: Location,
}

/// A file there that is not executable (doctor reports it with a `chmod` fix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotExecutable(pub PathBuf);

/// A candidate that was passed over, and why: said in a warning, never silently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skipped {
    /// A file there that is not executable (doctor reports it with a `chmod` fix).
    NotExecutable(NotExecutable),
    /// The project's `.pyve/bin/micromamba` (or `.pyve/bin`, or `.pyve`) is a symbolic link
    /// leading out of the project: not the project's binary, never run.
    LinksOut {
        /// The link, inside the project.
        link: PathBuf,
        /// What it says.
        target: PathBuf,
    },
}

impl Skipped {
    /// The warning, one line, with its next step.
    pub fn warning(&self) -> String {
        match self {
            Skipped::NotExecutable(NotExecutable(p)) => {
                format!("{} is not executable; skipped (chmod +x {})", p.display(), p.display())
            }
            Skipped::LinksOut { link, target } => format!(
                "{} is a symbolic link to {}, outside the project; the project's micromamba is skipped, never run \
                 (hint: `rm {}` removes the link only; put a real binary at .pyve/bin/micromamba, or rely on \
                 ~/.pyve/bin or PATH)",
                link.display(),
                target.display(),
                link.display()
            ),
        }
    }

    /// The file that is not executable, when that is the reason.
    pub fn not_executable(&self) -> Option<&Path> {
        match self {
            Skipped::NotExecutable(NotExecutable(p)) => Some(p),
            Skipped::LinksOut { .. } => None,
        }
    }
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The project sandbox's binary path.
pub fn project_binary(root: &Path) -> PathBuf {
    root.join(".pyve").join("bin").join("micromamba")
}

/// The user sandbox's binary path (`$PYVE_HOME/bin/micromamba`), from pyve's home.
pub fn user_binary(pyve_home: Option<&Path>) -> Option<PathBuf> {
    pyve_home.map(|h| h.join("bin").join("micromamba"))
}

/// pyve's home: `$PYVE_HOME` when set and not empty, else `$HOME/.pyve`.
pub fn pyve_home_from_env() -> Option<PathBuf> {
    match std::env::var_os("PYVE_HOME").filter(|v| !v.is_empty()) {
        Some(h) => Some(PathBuf::from(h)),
        None => std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".pyve")),
    }
}

/// Find micromamba for the project at `root`; `home` is pyve's home (`$PYVE_HOME`) and `path`
/// is `$PATH`.
pub fn find(root: &Path, home: Option<&Path>, path: Option<&std::ffi::OsStr>) -> (Option<Found>, Vec<Skipped>) {
    let mut skipped = Vec::new();
    let mut candidates = Vec::new();
    // `.pyve/bin` (and `.pyve`) linking out of the project, or a binary there that is a link
    // leading out, is not the project's binary: skipped, with a warning naming the link.
    let project = project_binary(root);
    match pyve_fs::inspect(root, &project) {
        Ok(e) => match e.leads_out() {
            None => candidates.push((project, Location::Project)),
            Some(l) => skipped.push(Skipped::LinksOut { link: project, target: l.target.clone() }),
        },
        Err(pyve_fs::Refused::LinkOnTheWay { link, target }) => skipped.push(Skipped::LinksOut { link, target }),
        Err(_) => {}
    }
    if let Some(u) = user_binary(home) {
        candidates.push((u, Location::User));
    }
    for (p, location) in candidates {
        if is_executable(&p) {
            return (Some(Found { path: p, location }), skipped);
        }
        if p.is_file() {
            skipped.push(Skipped::NotExecutable(NotExecutable(p)));
        }
    }
    if let Some(path) = path {
        for dir in std::env::split_paths(path) {
            // Relative and empty entries are skipped: the current directory is never searched.
            if !dir.is_absolute() {
                continue;
            }
            let p = dir.join("micromamba");
            if is_executable(&p) {
                return (Some(Found { path: p, location: Location::System }), skipped);
            }
        }
    }
    (None, skipped)
}

/// Find micromamba with this process's `PYVE_HOME` (else `HOME/.pyve`) and `PATH`.
pub fn find_from_env(root: &Path) -> (Option<Found>, Vec<Skipped>) {
    let home = pyve_home_from_env();
    find(root, home.as_deref(), std::env::var_os("PATH").as_deref())
}

/// The first `X.Y.Z` in `text`.
pub fn parse_version(text: &str) -> Option<String> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.')).find_map(|w| {
        let parts: Vec<&str> = w.split('.').collect();
        (parts.len() >= 3 && parts[..3].iter().all(|p| !p.is_empty())).then(|| parts[..3].join("."))
    })
}

/// How long `<binary> --version` may take before it is killed and reported.
pub const VERSION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Run `<binary> --version`: the version, or why it failed. A binary that does not answer
/// within [`VERSION_TIMEOUT`] is killed and reported (it costs that time once); at most 64 KiB
/// of its output is read.
pub fn version(binary: &Path) -> Result<String, String> {
    version_within(binary, VERSION_TIMEOUT)
}

/// [`version`] with its own time limit.
pub fn version_within(binary: &Path, limit: std::time::Duration) -> Result<String, String> {
    use std::io::Read;
    let mut child = Command::new(binary)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {} --version: {e}", binary.display()))?;
    let mut stdout = child.stdout.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = (&mut stdout).take(64 << 10).read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    let start = std::time::Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() < limit => std::thread::sleep(std::time::Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{} --version did not answer within {} s", binary.display(), limit.as_secs()));
            }
        }
    };
    // A child it left behind may keep the pipe open: wait for the output a little only.
    let out = rx.recv_timeout(std::time::Duration::from_secs(1)).unwrap_or_default();
    let text = String::from_utf8_lossy(&out);
    if !status.success() {
        return Err(format!("{} --version failed ({status})", binary.display()));
    }
    parse_version(&text).ok_or_else(|| format!("{} --version printed no version: {:?}", binary.display(), text.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_pyve_bin_linking_out_of_the_project_is_not_searched() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("project");
        let outside = d.path().join("outside");
        std::fs::create_dir_all(root.join(".pyve")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        let bin = outside.join("micromamba");
        std::fs::write(&bin, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::symlink(&outside, root.join(".pyve/bin")).unwrap();
        let (found, skipped) = find(&root, None, None);
        assert_eq!(found, None, "a .pyve/bin link out is skipped");
        assert_eq!(skipped, [Skipped::LinksOut { link: root.join(".pyve/bin"), target: outside.clone() }]);
        assert!(skipped[0].warning().contains("outside the project"), "{}", skipped[0].warning());
        std::fs::remove_file(root.join(".pyve/bin")).unwrap();
        std::fs::create_dir_all(root.join(".pyve/bin")).unwrap();
        std::os::unix::fs::symlink(&bin, root.join(".pyve/bin/micromamba")).unwrap();
        let (found, skipped) = find(&root, None, None);
        assert_eq!(found, None, "a binary linking out is skipped");
        assert_eq!(skipped, [Skipped::LinksOut { link: root.join(".pyve/bin/micromamba"), target: bin.clone() }]);
        std::fs::remove_file(root.join(".pyve/bin/micromamba")).unwrap();
        std::fs::copy(&bin, root.join(".pyve/bin/micromamba")).unwrap();
        assert_eq!(find(&root, None, None).0.map(|f| f.location), Some(Location::Project));
    }

    fn script(p: &Path, body: &str, mode: u32) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn versions_in_both_formats() {
        assert_eq!(parse_version("micromamba 1.5.3\n").as_deref(), Some("1.5.3"));
        assert_eq!(parse_version("2.0.5").as_deref(), Some("2.0.5"));
        assert_eq!(parse_version("libmamba 2.0.5.1").as_deref(), Some("2.0.5"));
        assert_eq!(parse_version("version 2.0"), None);
    }

    #[test]
    fn project_then_user_then_path() {
        let d = tempfile::tempdir().unwrap();
        let (root, home, bin) = (d.path().join("p"), d.path().join("h"), d.path().join("bin"));
        std::fs::create_dir_all(&root).unwrap();
        let path = std::env::join_paths([Path::new("relative"), &bin]).unwrap();
        assert_eq!(find(&root, Some(&home), Some(&path)).0, None);
        script(&bin.join("micromamba"), "echo 1.0.0", 0o755);
        assert_eq!(find(&root, Some(&home), Some(&path)).0.unwrap().location, Location::System);
        script(&user_binary(Some(&home)).unwrap(), "echo 1.0.1", 0o644);
        let (found, skipped) = find(&root, Some(&home), Some(&path));
        assert_eq!(found.unwrap().location, Location::System);
        assert_eq!(skipped, [Skipped::NotExecutable(NotExecutable(user_binary(Some(&home)).unwrap()))]);
        script(&user_binary(Some(&home)).unwrap(), "echo 1.0.1", 0o755);
        assert_eq!(find(&root, Some(&home), Some(&path)).0.unwrap().location, Location::User);
        script(&project_binary(&root), "echo micromamba 2.0.5", 0o755);
        let f = find(&root, Some(&home), Some(&path)).0.unwrap();
        assert_eq!((f.location, f.path.clone()), (Location::Project, project_binary(&root)));
        assert_eq!(version(&f.path).unwrap(), "2.0.5");
        script(&f.path, "exit 3", 0o755);
        assert!(version(&f.path).unwrap_err().contains("--version failed"));
    }

    #[test]
    fn a_binary_that_hangs_on_version_costs_the_timeout_once() {
        let d = tempfile::tempdir().unwrap();
        let bin = d.path().join("micromamba");
        std::fs::write(&bin, "#!/bin/sh\nsleep 30\n").unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let start = std::time::Instant::now();
        let e = version_within(&bin, std::time::Duration::from_millis(300)).unwrap_err();
        assert!(e.contains("did not answer"), "{e}");
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
    }
}
