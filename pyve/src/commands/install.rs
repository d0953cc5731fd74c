//! `pyve --install` / `pyve --uninstall`: put pyve and the plugins built with it into
//! `~/.local/bin`, put that directory on `PATH` in the shell profile once (a marked block), and
//! create the `~/.local/.env` template; uninstall reverses exactly what install recorded.
//!
//! What install did is recorded in `~/.local/share/pyve/installed.json` (the files it put in
//! the bin directory, the profiles it edited and how, whether it created the template), so
//! uninstall removes only that, never a file of the same directory it did not put there.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::env::{HostEnv, VERSION};
use crate::error::{Context as _, Error, Result};
use crate::project::files;
use crate::ui;

/// The first and last lines of the block install adds to a shell profile.
const BLOCK_BEGIN: &str = "# >>> pyve installer >>>";
const BLOCK_END: &str = "# <<< pyve installer <<<";
/// The line between them (with `$HOME` literal, as the original wrote it).
const PATH_LINE: &str = "export PATH=\"$HOME/.local/bin:$PATH\"  # Added by pyve installer";
/// The same for `~/.bashrc`, adding the directory only when it is missing (a login shell may
/// read both the profile and `~/.bashrc`).
const RC_PATH_LINE: &str = "case \":$PATH:\" in *\":$HOME/.local/bin:\"*) ;; *) export PATH=\"$HOME/.local/bin:$PATH\" ;; esac  # Added by pyve installer";

/// The line for `~/.zshrc`: zsh finds completion functions only on `fpath`, which `~/.zfunc`
/// is not by default; sourcing the script after `compinit` (it ends with `compdef`) works
/// wherever the user's `compinit` is, and does nothing without zsh's completion system.
const ZSH_COMPLETION_LINE: &str =
    "(( $+functions[compdef] )) && source \"$HOME/.zfunc/_pyve\"  # Added by pyve installer";

/// What one install did, for the uninstall.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Manifest {
    /// The pyve version that installed.
    version: String,
    /// The bin directory.
    bin_dir: PathBuf,
    /// File names in `bin_dir` that install put there.
    files: Vec<String>,
    /// Profiles install added its block to.
    #[serde(default)]
    profiles: Vec<ProfileEdit>,
    /// Whether install created `~/.local/.env`.
    #[serde(default)]
    created_env_template: bool,
    /// The completion scripts and the man page install wrote (absolute paths).
    #[serde(default)]
    shell_files: Vec<PathBuf>,
    /// The directories install created (absolute paths, under the home directory): uninstall
    /// removes those that are empty, deepest first.
    #[serde(default)]
    created_dirs: Vec<PathBuf>,
}

/// The directories `dir` and its ancestors below `home` that do not exist yet, outermost first.
fn missing_dirs(dir: &Path, home: &Path) -> Vec<PathBuf> {
    let mut missing: Vec<PathBuf> = dir
        .ancestors()
        .take_while(|d| d.starts_with(home) && *d != home)
        .filter(|d| std::fs::symlink_metadata(d).is_err())
        .map(Path::to_path_buf)
        .collect();
    missing.reverse();
    missing
}

/// How a profile was edited.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct ProfileEdit {
    path: PathBuf,
    /// The profile did not exist: install created it.
    created: bool,
    /// Its last line had no newline: install added one before its block.
    added_newline: bool,
}

struct Paths {
    home: PathBuf,
    bin: PathBuf,
    manifest: PathBuf,
    template: PathBuf,
}

fn paths(env: &HostEnv) -> Result<Paths> {
    let home = env
        .home
        .clone()
        .ok_or_else(|| Error::new("cannot tell your home directory").hint("set HOME to your home directory"))?;
    Ok(Paths {
        bin: home.join(".local/bin"),
        manifest: home.join(".local/share/pyve/installed.json"),
        template: home.join(".local/.env"),
        home,
    })
}

/// The profiles that put `~/.local/bin` on `PATH`, the login profile first.
///
/// zsh (`$SHELL` contains `zsh`): `~/.zprofile`, as the original. bash: the login profile bash
/// really reads - `~/.bash_profile` or `~/.bash_login` when one exists, else `~/.profile`
/// (creating `~/.bash_profile` would make bash stop reading `~/.profile`, and through it
/// `~/.bashrc`, as on a stock Debian or Ubuntu home) - and `~/.bashrc` for interactive shells
/// that are not login shells, as rustup and uv do.
fn profiles(home: &Path) -> Vec<PathBuf> {
    if std::env::var("SHELL").is_ok_and(|s| s.contains("zsh")) {
        return vec![home.join(".zprofile")];
    }
    let login = [".bash_profile", ".bash_login"]
        .iter()
        .map(|f| home.join(f))
        .find(|p| p.exists())
        .unwrap_or_else(|| home.join(".profile"));
    vec![login, home.join(".bashrc")]
}

/// Every profile an install may have edited (this pyve's or the original's choices).
fn all_profiles(home: &Path) -> Vec<PathBuf> {
    [".zprofile", ".zshrc", ".bash_profile", ".bash_login", ".profile", ".bashrc"]
        .iter()
        .map(|f| home.join(f))
        .collect()
}

/// The files to install from `dir`: `pyve` (the running file), the `pyve-NAME` executables and the
/// `libpyve_NAME` libraries built with it (not cargo's `.d` files, not other libraries).
fn bundled(dir: &Path) -> Result<Vec<String>> {
    let mut names = vec!["pyve".to_owned()];
    let (prefix, suffix) = (std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let Ok(entry) = entry else { continue };
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else { continue };
        let Ok(meta) = std::fs::metadata(entry.path()) else { continue };
        if !meta.is_file() {
            continue;
        }
        let plugin = name.strip_prefix("pyve-").is_some_and(pyve_protocol::is_valid_plugin_name) && {
            use std::os::unix::fs::PermissionsExt;
            meta.permissions().mode() & 0o111 != 0
        };
        let library =
            name.strip_prefix(&format!("{prefix}pyve_")).and_then(|n| n.strip_suffix(suffix)).is_some_and(|n| {
                !n.is_empty() && n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            });
        if plugin || library {
            names.push(name);
        }
    }
    names[1..].sort();
    Ok(names)
}

fn load(manifest: &Path) -> Result<Option<Manifest>> {
    match std::fs::read_to_string(manifest) {
        Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
            Error::new(format!("{} is not a pyve install record", manifest.display()))
                .because(e)
                .hint("delete it, then run pyve --install again (uninstall needs it to know what install made)")
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::new(format!("cannot read {}", manifest.display())).because(e)),
    }
}

fn save(manifest_path: &Path, manifest: &Manifest) -> Result<()> {
    if let Some(dir) = manifest_path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(manifest).expect("the manifest serializes") + "\n";
    files::write_atomic(manifest_path, text.as_bytes(), Some(0o644))
}

/// `bytes` without symbols and debug information, when a `strip` is on `PATH` and
/// `PYVE_INSTALL_NO_STRIP` is not set: a build's debug information is most of its size (the
/// micromamba plugin: 140 MB, 23 MB stripped), and an installed copy needs none of it. `None`
/// (the bytes are installed as they are) when it cannot be done.
fn stripped(dir: &Path, bytes: &[u8]) -> Option<Vec<u8>> {
    if std::env::var_os("PYVE_INSTALL_NO_STRIP").is_some_and(|v| !v.is_empty()) || !bytes.starts_with(b"\x7fELF") {
        return None;
    }
    let strip = crate::commands::run::find_on_path("strip")?;
    let tmp = tempfile::Builder::new().prefix(".pyve-strip-").tempfile_in(dir).ok()?;
    std::fs::write(tmp.path(), bytes).ok()?;
    let status = std::process::Command::new(strip)
        .arg(tmp.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .ok()?;
    if !status.success() {
        return None;
    }
    std::fs::read(tmp.path()).ok().filter(|b| !b.is_empty())
}

/// Whether `dir` is on `PATH`.
fn on_path(env: &HostEnv, dir: &Path) -> bool {
    env.path.as_ref().is_some_and(|p| std::env::split_paths(p).any(|d| d == dir))
}

/// `pyve --install`.
pub fn install(env: &HostEnv) -> Result<u8> {
    let p = paths(env)?;
    let exe = env.exe.clone().ok_or_else(|| Error::new("cannot tell where the running pyve is"))?;
    let source = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    let canonical = |d: &Path| std::fs::canonicalize(d).unwrap_or_else(|_| d.to_path_buf());
    ui::status("");
    ui::status(&format!("Installing pyve to {}...", p.bin.display()));
    ui::status(&format!("Source: {}", source.display()));

    let previous = load(&p.manifest)?;
    let mut manifest = Manifest { version: VERSION.to_owned(), bin_dir: p.bin.clone(), ..Manifest::default() };
    if let Some(prev) = &previous {
        manifest.profiles = prev.profiles.clone();
        manifest.created_env_template = prev.created_env_template;
        // Files an earlier install put there stay recorded while they exist.
        manifest.files = prev.files.iter().filter(|f| p.bin.join(f).exists()).cloned().collect();
        manifest.created_dirs = prev.created_dirs.iter().filter(|d| d.is_dir()).cloned().collect();
    }
    // Every directory this install may create, recorded before any is (uninstall removes them
    // when empty, so that it reverses exactly what install did).
    let mut targets = vec![p.bin.clone()];
    targets.extend(p.template.parent().map(Path::to_path_buf));
    targets.extend(p.manifest.parent().map(Path::to_path_buf));
    targets.extend(shell_files(&p.home).into_iter().filter_map(|(f, _)| f.parent().map(Path::to_path_buf)));
    for dir in targets {
        for d in missing_dirs(&dir, &p.home) {
            if !manifest.created_dirs.contains(&d) {
                manifest.created_dirs.push(d);
            }
        }
    }

    if !p.bin.is_dir() {
        std::fs::create_dir_all(&p.bin).with_context(|| format!("cannot create {}", p.bin.display()))?;
        ui::success(&format!("Created {}", p.bin.display()));
    }
    if canonical(&source) == canonical(&p.bin) {
        // The installed copy: its files are where they belong (and are not copied onto
        // themselves). What an earlier install recorded stays recorded.
        ui::info(&format!("Running the installed pyve: the files in {} are kept as they are", p.bin.display()));
        if previous.is_none() {
            ui::warn(&format!(
                "no install record ({}): pyve --uninstall will not know which files here are pyve's",
                p.manifest.display()
            ));
        }
    } else {
        for name in bundled(&source)? {
            // pyve itself is the running file, whatever it is called.
            let from = if name == "pyve" { exe.clone() } else { source.join(&name) };
            let bytes = std::fs::read(&from).with_context(|| format!("cannot read {}", from.display()))?;
            let bytes = stripped(&p.bin, &bytes).unwrap_or(bytes);
            let mode = {
                use std::os::unix::fs::PermissionsExt;
                std::fs::metadata(&from).map(|m| m.permissions().mode() & 0o777).unwrap_or(0o755) | 0o644
            };
            // A temporary file beside the target, renamed over it: a running pyve (this one,
            // or another) keeps its file, and a failure leaves the old one whole.
            files::write_atomic(&p.bin.join(&name), &bytes, Some(mode))?;
            ui::success(&format!("Installed {name}"));
            if !manifest.files.contains(&name) {
                manifest.files.push(name);
                // Recorded as soon as it is there: an interrupted install can still be undone.
                save(&p.manifest, &manifest)?;
            }
        }
    }
    save(&p.manifest, &manifest)?;

    let mut edited = None;
    if on_path(env, &p.bin) {
        ui::info(&format!("{} already in PATH", p.bin.display()));
    } else {
        for profile in profiles(&p.home) {
            // In `~/.bashrc`, which a login shell may read after its profile, only when missing.
            let line = if profile.ends_with(".bashrc") { RC_PATH_LINE } else { PATH_LINE };
            match add_block(&profile, line)? {
                None => ui::info(&format!("PATH already configured in {}", profile.display())),
                Some(edit) => {
                    ui::success(&format!("Added {} to PATH in {}", p.bin.display(), profile.display()));
                    manifest.profiles.retain(|e| e.path != edit.path);
                    manifest.profiles.push(edit);
                    edited.get_or_insert(profile);
                }
            }
        }
    }

    if p.template.exists() {
        ui::info(&format!("{} already exists", p.template.display()));
    } else {
        if let Some(dir) = p.template.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        if files::create_new(&p.template, b"", Some(0o600))? {
            manifest.created_env_template = true;
            ui::success(&format!("Created {} template", p.template.display()));
        }
    }
    // zsh users: the completion script is sourced from `~/.zshrc` (zsh has no per-user
    // completion directory it reads by default).
    let zshrc = p.home.join(".zshrc");
    if std::env::var("SHELL").is_ok_and(|s| s.contains("zsh")) || zshrc.exists() {
        match add_block(&zshrc, ZSH_COMPLETION_LINE)? {
            None => ui::info(&format!("zsh completion already configured in {}", zshrc.display())),
            Some(edit) => {
                ui::success(&format!("Added zsh completion to {}", zshrc.display()));
                manifest.profiles.retain(|e| e.path != edit.path);
                manifest.profiles.push(edit);
                save(&p.manifest, &manifest)?;
            }
        }
    }
    for (path, text) in shell_files(&p.home) {
        write_shell_file(&path, &text)?;
        if !manifest.shell_files.contains(&path) {
            manifest.shell_files.push(path.clone());
        }
        save(&p.manifest, &manifest)?;
        ui::success(&format!("Installed {}", path.display()));
    }
    save(&p.manifest, &manifest)?;

    ui::status("");
    ui::success(&format!("pyve v{VERSION} installed successfully!"));
    if let Some(profile) = edited {
        ui::status("");
        ui::status("You may need to restart your shell or run:");
        ui::status(&format!("  source {}", profile.display()));
    }
    Ok(0)
}

/// Where each shell looks for completions, and where `man pyve` finds the page, with their text.
fn shell_files(home: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    use super::completions::{Shell, man_page, script};
    vec![
        (home.join(".local/share/bash-completion/completions/pyve"), script(Shell::Bash)),
        (home.join(".zfunc/_pyve"), script(Shell::Zsh)),
        (home.join(".config/fish/completions/pyve.fish"), script(Shell::Fish)),
        (home.join(".local/share/man/man1/pyve.1"), man_page()),
    ]
}

/// Write a completion script or the man page (through a temporary file renamed in).
fn write_shell_file(path: &Path, text: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).with_context(|| format!("cannot write in {}", dir.display()))?;
    tmp.write_all(text).with_context(|| format!("cannot write {}", path.display()))?;
    {
        use std::os::unix::fs::PermissionsExt as _;
        let _ = tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644));
    }
    tmp.persist(path).map_err(|e| Error::new(format!("cannot write {}", path.display())).because(e.error))?;
    Ok(())
}

/// Append pyve's block to `profile` unless it is there; `None` when it was.
fn add_block(profile: &Path, line: &str) -> Result<Option<ProfileEdit>> {
    let existing = match std::fs::read(profile) {
        Ok(b) => Some(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::new(format!("cannot read {}", profile.display())).because(e)),
    };
    let text = existing.as_deref().map(String::from_utf8_lossy).unwrap_or_default();
    if text.lines().any(|l| l == BLOCK_BEGIN) {
        return Ok(None);
    }
    let added_newline = !text.is_empty() && !text.ends_with('\n');
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(profile)
        .with_context(|| format!("cannot write {}", profile.display()))?;
    let block = format!("{}{BLOCK_BEGIN}\n{line}\n{BLOCK_END}\n", if added_newline { "\n" } else { "" });
    f.write_all(block.as_bytes()).with_context(|| format!("cannot write {}", profile.display()))?;
    Ok(Some(ProfileEdit { path: profile.to_path_buf(), created: existing.is_none(), added_newline }))
}

/// Take pyve's block out of `profile`, exactly; `true` when there was one.
fn remove_block(profile: &Path, edit: Option<&ProfileEdit>) -> Result<bool> {
    let Ok(text) = std::fs::read_to_string(profile) else { return Ok(false) };
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let Some(begin) = lines.iter().position(|l| l.trim_end_matches('\n') == BLOCK_BEGIN) else { return Ok(false) };
    let end = lines[begin..].iter().position(|l| l.trim_end_matches('\n') == BLOCK_END).map(|i| begin + i).ok_or_else(
        || {
            Error::new(format!("{} has pyve's block start ({BLOCK_BEGIN}) but no end", profile.display()))
                .hint(format!("remove the lines pyve added from {} by hand", profile.display()))
        },
    )?;
    let mut kept: String = lines[..begin].concat() + &lines[end + 1..].concat();
    if edit.is_some_and(|e| e.added_newline) && end + 1 == lines.len() && begin > 0 && kept.ends_with('\n') {
        // The block was last and install had ended the user's last line: undo that too.
        kept.pop();
    }
    if kept.is_empty() && edit.is_some_and(|e| e.created) {
        std::fs::remove_file(profile).with_context(|| format!("cannot remove {}", profile.display()))?;
    } else {
        files::write_atomic(profile, kept.as_bytes(), file_mode(profile))?;
    }
    Ok(true)
}

fn file_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).ok().map(|m| m.permissions().mode() & 0o7777)
}

/// `pyve --uninstall`.
pub fn uninstall(env: &HostEnv) -> Result<u8> {
    let p = paths(env)?;
    ui::status("");
    ui::status("Uninstalling pyve...");
    let manifest = load(&p.manifest)?;
    if manifest.is_none() {
        ui::info(&format!(
            "No install record ({}): no files are removed from {}",
            p.manifest.display(),
            p.bin.display()
        ));
    }
    if let Some(m) = &manifest {
        for name in &m.files {
            let path = m.bin_dir.join(name);
            match std::fs::remove_file(&path) {
                Ok(()) => ui::success(&format!("Removed {}", path.display())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::new(format!("cannot remove {}", path.display())).because(e)),
            }
        }
    }
    // The completion scripts and the man page, exactly those recorded.
    for path in manifest.as_ref().map(|m| m.shell_files.clone()).unwrap_or_default() {
        match std::fs::remove_file(&path) {
            Ok(()) => ui::success(&format!("Removed {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::new(format!("cannot remove {}", path.display())).because(e)),
        }
    }
    // The marked block, wherever it is (both profiles, as the original).
    for profile in all_profiles(&p.home) {
        let edit = manifest.as_ref().and_then(|m| m.profiles.iter().find(|e| e.path == profile));
        if remove_block(&profile, edit)? {
            ui::success(&format!("Removed PATH entry from {}", profile.display()));
        }
    }
    if p.template.is_file() {
        let empty = std::fs::metadata(&p.template).map(|m| m.len() == 0).unwrap_or(false);
        if !empty {
            ui::warn(&format!("{} preserved (contains data). Delete manually if desired.", p.template.display()));
        } else if manifest.as_ref().is_some_and(|m| m.created_env_template) {
            std::fs::remove_file(&p.template).with_context(|| format!("cannot remove {}", p.template.display()))?;
            ui::success(&format!("Removed {} (was empty)", p.template.display()));
        }
    }
    if manifest.is_some() {
        std::fs::remove_file(&p.manifest).with_context(|| format!("cannot remove {}", p.manifest.display()))?;
        ui::success(&format!("Removed {}", p.manifest.display()));
        if let Some(dir) = p.manifest.parent() {
            let _ = std::fs::remove_dir(dir); // only when empty
        }
    }
    // The directories install created, deepest first, each only when empty.
    let mut dirs = manifest.as_ref().map(|m| m.created_dirs.clone()).unwrap_or_default();
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for dir in dirs.iter().filter(|d| d.starts_with(&p.home)) {
        let _ = std::fs::remove_dir(dir); // only when empty
    }
    ui::status("");
    ui::success("pyve uninstalled.");
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_block_comes_out_exactly_wherever_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(".bash_profile");
        std::fs::write(&p, "a\nb").unwrap();
        let edit = add_block(&p, PATH_LINE).unwrap().expect("added");
        assert!(edit.added_newline && !edit.created);
        assert!(add_block(&p, PATH_LINE).unwrap().is_none(), "once");
        // The user appended a line after pyve's block.
        let mut text = std::fs::read_to_string(&p).unwrap();
        text.push_str("c\n");
        std::fs::write(&p, &text).unwrap();
        assert!(remove_block(&p, Some(&edit)).unwrap());
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "a\nb\nc\n", "the newline is the user's line's now");
        assert!(!remove_block(&p, Some(&edit)).unwrap(), "nothing left to remove");
    }

    #[test]
    fn a_block_without_its_end_is_left_alone_with_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(".zprofile");
        let text = format!("x\n{BLOCK_BEGIN}\n{PATH_LINE}\n");
        std::fs::write(&p, &text).unwrap();
        let e = remove_block(&p, None).unwrap_err();
        assert!(e.to_string().contains("has pyve's block start"), "{e}");
        assert!(e.hint_text().unwrap().contains("by hand"));
        assert_eq!(std::fs::read_to_string(&p).unwrap(), text);
    }

    #[test]
    fn only_pyve_and_its_plugins_are_bundled() {
        let dir = tempfile::tempdir().unwrap();
        use std::os::unix::fs::PermissionsExt;
        for (name, mode) in [
            ("pyve-venv", 0o755),
            ("pyve-venv.d", 0o644),
            ("pyve-noexec", 0o644),
            ("pyve-Bad", 0o755),
            ("libpyve_distutils_shim.so", 0o644),
            ("libpyve.rlib", 0o644),
            ("libpyve_sdk.rlib", 0o644),
            ("other", 0o755),
        ] {
            let f = dir.path().join(name);
            std::fs::write(&f, "x").unwrap();
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        assert_eq!(bundled(dir.path()).unwrap(), ["pyve", "libpyve_distutils_shim.so", "pyve-venv"]);
    }
}
