//! pyenv and asdf, read from their directories. Nothing here runs `pyenv` or `asdf` except
//! [`Manager::installable`] and [`Manager::install`], which are only called when a requested
//! version is missing.
//!
//! - pyenv: the root is `PYENV_ROOT` or `~/.pyenv`; it is present when the root holds
//!   `versions/` or a `pyenv` executable (`bin/pyenv`, `libexec/pyenv`). Installed
//!   interpreters are `versions/X.Y.Z/bin/pythonX.Y`.
//! - asdf: the data directory is `ASDF_DATA_DIR` or `~/.asdf`; it is present with its python
//!   plugin when `plugins/python/` exists. Installed interpreters are
//!   `installs/python/X.Y.Z/bin/pythonX.Y`. Its executable is `$ASDF_DIR/bin/asdf`,
//!   `<data>/bin/asdf` or `asdf` on `PATH`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::Environment;
use super::error::PolicyError;
use super::path::{find_on_path, is_executable_file};
use super::pin::PinFile;
use super::version::{VersionRequest, parse_release};

/// A Python version manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ManagerKind {
    /// asdf with its python plugin.
    Asdf,
    /// pyenv.
    Pyenv,
}

impl ManagerKind {
    /// `asdf` or `pyenv`.
    pub fn name(self) -> &'static str {
        match self {
            ManagerKind::Asdf => "asdf",
            ManagerKind::Pyenv => "pyenv",
        }
    }

    /// The version file it reads.
    pub fn pin_file(self) -> PinFile {
        match self {
            ManagerKind::Asdf => PinFile::ToolVersions,
            ManagerKind::Pyenv => PinFile::PythonVersion,
        }
    }
}

impl std::fmt::Display for ManagerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A version manager found on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manager {
    /// Which.
    pub kind: ManagerKind,
    /// pyenv's root, or asdf's data directory.
    pub root: PathBuf,
    /// Its executable, needed only to install (`None`: versions can be used but not installed).
    pub executable: Option<PathBuf>,
}

/// An interpreter installed by a manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledPython {
    /// `(3, 12, 1)`
    pub release: (u32, u32, u32),
    /// The directory name, `3.12.1`.
    pub name: String,
    /// `<versions>/3.12.1/bin/python3.12`
    pub executable: PathBuf,
}

/// The result of looking for version managers.
#[derive(Debug, Clone, Default)]
pub struct Detection {
    /// The manager in use: asdf when present with its python plugin, else pyenv, else none.
    pub manager: Option<Manager>,
    /// Things worth telling the user (asdf without its python plugin).
    pub notes: Vec<String>,
}

/// Find the version manager in use, from directories alone.
pub fn detect(env: &Environment) -> Detection {
    let mut notes = Vec::new();
    if let Some(data) = env.asdf_data_dir.clone().or_else(|| env.home.as_ref().map(|h| h.join(".asdf"))) {
        if data.join("plugins").join("python").is_dir() {
            let executable = asdf_executable(env, &data);
            return Detection { manager: Some(Manager { kind: ManagerKind::Asdf, root: data, executable }), notes };
        }
        if data.is_dir() {
            notes.push(format!(
                "asdf found but Python plugin not installed ({} has no plugins/python). Install with: asdf plugin add python",
                data.display()
            ));
        }
    }
    if let Some(root) = env.pyenv_root.clone().or_else(|| env.home.as_ref().map(|h| h.join(".pyenv"))) {
        let own = [root.join("bin").join("pyenv"), root.join("libexec").join("pyenv")];
        let own_exe = own.iter().find(|p| is_executable_file(p)).cloned();
        if root.join("versions").is_dir() || own_exe.is_some() {
            let executable = own_exe.or_else(|| find_on_path(env, "pyenv"));
            return Detection { manager: Some(Manager { kind: ManagerKind::Pyenv, root, executable }), notes };
        }
    }
    Detection { manager: None, notes }
}

fn asdf_executable(env: &Environment, data: &Path) -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(dir) = &env.asdf_dir {
        candidates.push(dir.join("bin").join("asdf"));
    }
    candidates.push(data.join("bin").join("asdf"));
    candidates.into_iter().find(|p| is_executable_file(p)).or_else(|| find_on_path(env, "asdf"))
}

/// How [`Manager::install`] runs the installer.
#[derive(Debug, Clone, Copy, Default)]
pub struct InstallOptions {
    /// Start the installer in a process group of its own and stop the whole group on
    /// cancellation (for a plugin serving RPC, which owns no terminal). In passthrough leave it
    /// `false`: the installer then stays in the terminal's foreground group and gets the
    /// user's Ctrl-C directly.
    pub own_process_group: bool,
}

/// Watches a running installation.
pub trait InstallObserver {
    /// Whether to stop the installation now.
    fn is_cancelled(&self) -> bool {
        false
    }
    /// Called every two seconds while the installer runs (to send progress).
    fn still_running(&mut self, elapsed: Duration) {
        let _ = elapsed;
    }
}

/// An observer that never cancels and reports nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct Unobserved;

impl InstallObserver for Unobserved {}

impl Manager {
    /// Where the installed versions are.
    pub fn versions_dir(&self) -> PathBuf {
        match self.kind {
            ManagerKind::Pyenv => self.root.join("versions"),
            ManagerKind::Asdf => self.root.join("installs").join("python"),
        }
    }

    /// The installed CPython releases (`X.Y.Z` directories with a `bin/pythonX.Y`), oldest
    /// first. Other entries (virtualenvs, PyPy, conda, free-threaded builds) are not listed.
    pub fn installed(&self) -> Vec<InstalledPython> {
        let dir = self.versions_dir();
        let Ok(entries) = std::fs::read_dir(&dir) else { return Vec::new() };
        let mut found: Vec<InstalledPython> = entries
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                let release = parse_release(&name)?;
                let executable = entry.path().join("bin").join(format!("python{}.{}", release.0, release.1));
                executable.is_file().then_some(InstalledPython { release, name, executable })
            })
            .collect();
        found.sort_by_key(|p| p.release);
        found
    }

    /// The installed releases satisfying `want`, newest first.
    pub fn find(&self, want: &VersionRequest) -> Vec<InstalledPython> {
        let mut found: Vec<InstalledPython> =
            self.installed().into_iter().filter(|p| want.matches(p.release)).collect();
        found.reverse();
        found
    }

    /// The command that installs `version`, as the user would type it.
    pub fn install_command(&self, version: &str) -> String {
        match self.kind {
            ManagerKind::Pyenv => format!("pyenv install {version}"),
            ManagerKind::Asdf => format!("asdf install python {version}"),
        }
    }

    /// The command that lists installable versions, as the user would type it.
    pub fn list_command(&self) -> &'static str {
        match self.kind {
            ManagerKind::Pyenv => "pyenv install --list",
            ManagerKind::Asdf => "asdf list all python",
        }
    }

    fn command(&self, env: &Environment) -> Option<Command> {
        let mut cmd = Command::new(self.executable.as_ref()?);
        match self.kind {
            ManagerKind::Pyenv => cmd.env("PYENV_ROOT", &self.root),
            ManagerKind::Asdf => cmd.env("ASDF_DATA_DIR", &self.root),
        };
        if let Some(path) = &env.path {
            cmd.env("PATH", path);
        }
        if let Some(home) = &env.home {
            cmd.env("HOME", home);
        }
        cmd.stdin(Stdio::null());
        Some(cmd)
    }

    /// The release the manager would install for `want` (for `X.Y`, the newest `X.Y.Z` it
    /// offers), by running `pyenv install --list` / `asdf list all python`. `Ok(None)`: it
    /// does not offer one; `Err`: it could not tell (the reason, for the user).
    pub fn installable(&self, want: &VersionRequest, env: &Environment) -> Result<Option<String>, String> {
        let Some(mut cmd) = self.command(env) else {
            return Err(format!("the {} executable was not found, so nothing can be installed", self.kind));
        };
        match self.kind {
            ManagerKind::Pyenv => cmd.args(["install", "--list"]),
            ManagerKind::Asdf => cmd.args(["list", "all", "python"]),
        };
        let out = cmd.output().map_err(|e| format!("`{}` could not be started: {e}", self.list_command()))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            return Err(format!("`{}` failed ({}): {}", self.list_command(), out.status, last_line(&stderr)));
        }
        let mut best: Option<((u32, u32, u32), String)> = None;
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let word = line.trim();
            if let Some(release) = parse_release(word)
                && want.matches(release)
                && best.as_ref().is_none_or(|(b, _)| release > *b)
            {
                best = Some((release, word.to_string()));
            }
        }
        Ok(best.map(|(_, name)| name))
    }

    /// Install `version` (`pyenv install -s V` / `asdf install python V`). The installer's
    /// output goes to this process's stderr (its stdout too: a plugin's stdout may be the
    /// protocol). Polls `observer` while it runs; on cancellation the installer is stopped
    /// (SIGTERM, SIGKILL after 3 s) and [`PolicyError::InstallCancelled`] returned.
    pub fn install(
        &self,
        version: &str,
        env: &Environment,
        opts: InstallOptions,
        observer: &mut dyn InstallObserver,
    ) -> Result<(), PolicyError> {
        let manager = self.kind.name();
        let failed = |reason: String| PolicyError::InstallFailed { version: version.to_string(), manager, reason };
        let mut cmd = self.command(env).ok_or_else(|| failed(format!("the {manager} executable was not found")))?;
        match self.kind {
            ManagerKind::Pyenv => cmd.args(["install", "-s", version]),
            ManagerKind::Asdf => cmd.args(["install", "python", version]),
        };
        cmd.stdout(stderr_stdio()).stderr(Stdio::inherit());
        if opts.own_process_group {
            use std::os::unix::process::CommandExt;
            cmd.process_group(0);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| failed(format!("`{}` could not be started: {e}", self.install_command(version))))?;
        let start = Instant::now();
        let mut last_report = start;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) => {}
                Err(e) => return Err(failed(format!("waiting for the installer failed: {e}"))),
            }
            if observer.is_cancelled() {
                terminate(&mut child, opts.own_process_group);
                return Err(PolicyError::InstallCancelled { version: version.to_string(), manager });
            }
            if last_report.elapsed() >= Duration::from_secs(2) {
                last_report = Instant::now();
                observer.still_running(start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        if !status.success() {
            return Err(failed(format!("`{}` exited with {status}", self.install_command(version))));
        }
        Ok(())
    }
}

/// The last non-blank line of a command's output.
fn last_line(text: &str) -> &str {
    text.lines().rev().map(str::trim).find(|l| !l.is_empty()).unwrap_or("no output")
}

/// A duplicate of our stderr, for a child's stdout.
fn stderr_stdio() -> Stdio {
    use std::os::fd::AsFd;
    std::io::stderr().as_fd().try_clone_to_owned().map(Stdio::from).unwrap_or_else(|_| Stdio::inherit())
}

/// Stop a child (and its process group when it has one): SIGTERM, then SIGKILL after 3 s.
fn terminate(child: &mut Child, group: bool) {
    let Ok(pid) = i32::try_from(child.id()) else { return };
    let target = if group { -pid } else { pid };
    // SAFETY: kill(2) only sends a signal. The child has not been reaped, so its pid (and the
    // process group it leads) cannot have been reused by another process.
    unsafe { libc::kill(target, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: as above; the child is still unreaped (try_wait returned no status).
    unsafe { libc::kill(target, libc::SIGKILL) };
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn fake_install(root: &Path, sub: &str, name: &str) {
        let (major, minor) = {
            let mut p = name.split('.');
            (p.next().unwrap().to_string(), p.next().unwrap().to_string())
        };
        let bin = root.join(sub).join(name).join("bin");
        fs::create_dir_all(&bin).unwrap();
        fs::write(bin.join(format!("python{major}.{minor}")), "").unwrap();
    }

    fn env_with_home(home: &Path) -> Environment {
        Environment { home: Some(home.to_path_buf()), path: Some("".into()), ..Environment::default() }
    }

    #[test]
    fn detects_pyenv_and_lists_releases_only() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join(".pyenv");
        for v in ["3.11.7", "3.12.1", "3.12.10", "3.9.18", "2.7.18"] {
            fake_install(&root, "versions", v);
        }
        // Not CPython releases, or not complete: ignored.
        fs::create_dir_all(root.join("versions/pypy3.10-7.3.12/bin")).unwrap();
        fs::create_dir_all(root.join("versions/3.13.0t/bin")).unwrap();
        fs::create_dir_all(root.join("versions/3.13.1/bin")).unwrap();
        fs::create_dir_all(root.join("versions/myenv")).unwrap();
        let d = detect(&env_with_home(tmp.path()));
        let m = d.manager.expect("pyenv");
        assert_eq!(m.kind, ManagerKind::Pyenv);
        assert_eq!(m.executable, None);
        let names: Vec<String> = m.installed().into_iter().map(|p| p.name).collect();
        assert_eq!(names, ["2.7.18", "3.9.18", "3.11.7", "3.12.1", "3.12.10"]);
        let newest_312: Vec<String> =
            m.find(&VersionRequest::parse("3.12").unwrap()).into_iter().map(|p| p.name).collect();
        assert_eq!(newest_312, ["3.12.10", "3.12.1"]);
        assert!(m.find(&VersionRequest::parse("3.12.2").unwrap()).is_empty());
        assert!(m.find(&VersionRequest::parse("3.11.7").unwrap())[0].executable.ends_with("3.11.7/bin/python3.11"));

        // PYENV_ROOT wins over ~/.pyenv; an empty root is no pyenv.
        let empty = tmp.path().join("empty");
        fs::create_dir_all(&empty).unwrap();
        let env = Environment { pyenv_root: Some(empty), ..env_with_home(tmp.path()) };
        assert!(detect(&env).manager.is_none());
    }

    #[test]
    fn asdf_with_python_plugin_wins_over_pyenv() {
        let tmp = tempfile::tempdir().unwrap();
        fake_install(&tmp.path().join(".pyenv"), "versions", "3.12.1");
        let data = tmp.path().join("asdf-data");
        fs::create_dir_all(&data).unwrap();
        let env = Environment { asdf_data_dir: Some(data.clone()), ..env_with_home(tmp.path()) };
        // Without its python plugin asdf is skipped, with a note.
        let d = detect(&env);
        assert_eq!(d.manager.as_ref().map(|m| m.kind), Some(ManagerKind::Pyenv));
        // The original's words (reference 3.10), so that its users' checks still match.
        assert!(d.notes[0].starts_with("asdf found but Python plugin not installed"), "{:?}", d.notes);
        assert!(d.notes[0].contains("Install with: asdf plugin add python"), "{:?}", d.notes);

        fs::create_dir_all(data.join("plugins/python")).unwrap();
        fake_install(&data, "installs/python", "3.11.7");
        fs::create_dir_all(data.join("bin")).unwrap();
        fs::write(data.join("bin/asdf"), "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(data.join("bin/asdf"), fs::Permissions::from_mode(0o755)).unwrap();
        let d = detect(&env);
        let m = d.manager.expect("asdf");
        assert_eq!((m.kind, m.executable.clone()), (ManagerKind::Asdf, Some(data.join("bin/asdf"))));
        assert_eq!(m.installed()[0].name, "3.11.7");
        assert!(d.notes.is_empty());
        assert_eq!(m.install_command("3.12.1"), "asdf install python 3.12.1");
        assert_eq!(m.kind.pin_file(), PinFile::ToolVersions);
    }

    #[test]
    fn installable_reads_the_managers_list() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("pyenv");
        fs::create_dir_all(root.join("bin")).unwrap();
        let exe = root.join("bin/pyenv");
        fs::write(&exe, "#!/bin/sh\n[ \"$1 $2\" = 'install --list' ] || exit 3\nprintf 'Available versions:\\n  3.11.9\\n  3.12.0\\n  3.12.4\\n  3.13.0t\\n  pypy3.10-7.3.12\\n'\n")
            .unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&exe, fs::Permissions::from_mode(0o755)).unwrap();
        let env = Environment { pyenv_root: Some(root.clone()), ..env_with_home(tmp.path()) };
        let m = detect(&env).manager.expect("pyenv");
        let ask = |v: &str| m.installable(&VersionRequest::parse(v).unwrap(), &env);
        assert_eq!(ask("3.12"), Ok(Some("3.12.4".into())));
        assert_eq!(ask("3.11.9"), Ok(Some("3.11.9".into())));
        assert_eq!(ask("3.13.0"), Ok(None));
        fs::write(&exe, "#!/bin/sh\necho 'pyenv: broken' >&2\nexit 1\n").unwrap();
        let err = ask("3.12").unwrap_err();
        assert!(err.contains("pyenv install --list") && err.contains("pyenv: broken"), "{err}");
    }
}
