//! Writing a virtual environment, exactly as the interpreter's own `python -m venv` would.
//!
//! Everything is built in a hidden temporary sibling of the destination
//! (`.<name>.pyve-tmp-<pid>-<n>`), with the *final* paths in every file, and renamed onto
//! the destination at the end. A failure removes the temporary directory; a crash leaves at
//! worst that hidden sibling (see [`cleanup_stale_temps`]), never a half-built destination.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{Error, IoContext};
use crate::flavor::{Flavor, Quoting};
use crate::interpreter::Interpreter;
use crate::util::{abspath, parse_csv, py_repr, record_hash, shlex_quote};
use pyve_wheels::Target;
use pyve_wheels::seed::{self, SeedTarget, SeededWheel};
use pyve_wheels::temp::TempDir;

/// How to create the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MethodChoice {
    /// Natively where the interpreter's `venv` is a verified one, else `python -m venv`.
    #[default]
    Auto,
    /// Natively, or fail with [`Error::NativeUnavailable`].
    NativeOnly,
    /// Always run `python -m venv` (slow; for comparison and diagnosis).
    PythonVenv,
}

/// Options of [`create`], mirroring `python -m venv`'s.
#[derive(Debug, Clone)]
pub struct CreateOptions {
    /// `--prompt`: the prompt prefix (default: the destination's name).
    pub prompt: Option<String>,
    /// Seed pip (and setuptools where that version's ensurepip does). `--without-pip` when
    /// false.
    pub with_pip: bool,
    /// `--system-site-packages`.
    pub system_site_packages: bool,
    /// Where unpacked wheels are kept between runs (hard-linked from there). `None` unpacks
    /// the wheels straight into the environment.
    pub cache_dir: Option<PathBuf>,
    /// Native or `python -m venv`.
    pub method: MethodChoice,
}

impl Default for CreateOptions {
    fn default() -> Self {
        CreateOptions {
            prompt: None,
            with_pip: true,
            system_site_packages: false,
            cache_dir: None,
            method: MethodChoice::Auto,
        }
    }
}

/// How an environment was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// Written directly by this crate.
    Native,
    /// By running `<interpreter> -m venv` (in the temporary sibling, then moved in).
    PythonVenv {
        /// Why the native layout was not used.
        reason: String,
    },
}

/// A created environment.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Created {
    /// The environment's absolute path.
    pub path: PathBuf,
    /// Its python (`<path>/bin/<name of the base interpreter's executable>`).
    pub python: PathBuf,
    /// How it was made.
    pub method: Method,
    /// What was seeded natively (empty without pip, and with the `python -m venv` method).
    pub seeded: Vec<SeededWheel>,
    /// What `python -m venv` would have logged as warnings (a template that is not UTF-8,
    /// a symlink that had to be a copy).
    pub warnings: Vec<String>,
}

/// Create a virtual environment at `dest` from `interp`. `dest` must not exist; its parent
/// directories are created like `python -m venv` does.
pub fn create(interp: &Interpreter, dest: &Path, opts: &CreateOptions) -> Result<Created, Error> {
    let dest = abspath(dest).ctx("resolve the absolute path of", dest)?;
    let invalid = |reason: &str| Error::InvalidDestination { path: dest.clone(), reason: reason.to_string() };
    let dest_str = dest.to_str().ok_or_else(|| invalid("the path is not valid UTF-8"))?.to_string();
    let name = dest.file_name().and_then(|n| n.to_str()).ok_or_else(|| invalid("the path has no final component"))?;
    let parent = dest.parent().ok_or_else(|| invalid("the path has no parent directory"))?;
    if fs::symlink_metadata(&dest).is_ok() {
        return Err(Error::DestinationExists { path: dest });
    }
    interp.executable.to_str().ok_or_else(|| Error::NotAnInterpreter {
        path: interp.executable.clone(),
        reason: "its path is not valid UTF-8".into(),
    })?;

    let native = match opts.method {
        MethodChoice::PythonVenv => Err("the python -m venv method was requested".to_string()),
        MethodChoice::Auto | MethodChoice::NativeOnly => match Flavor::detect(interp) {
            Ok(flavor) => match (opts.with_pip, interp.wheels_for_seeding()) {
                (true, Err(reason)) => Err(reason),
                _ => Ok(flavor),
            },
            Err(Ok(reason)) => Err(reason),
            Err(Err(e)) => return Err(e),
        },
    };
    if let (Err(reason), MethodChoice::NativeOnly) = (&native, opts.method) {
        return Err(Error::NativeUnavailable { interpreter: interp.executable.clone(), reason: reason.clone() });
    }
    if let Ok(flavor) = &native
        && flavor.reject_pathsep
        && dest_str.contains(':')
    {
        return Err(Error::InvalidDestination {
            path: dest.clone(),
            reason: "it contains the PATH separator `:`, which would break activation".into(),
        });
    }

    fs::create_dir_all(parent).ctx("create the parent directory", parent)?;
    // Best effort: what crashed creators left here is not this call's failure.
    let _ = cleanup_stale_temps(parent);
    let tmp = TempDir::create(parent, name)?;
    let exe_name = interp.executable.file_name().and_then(|n| n.to_str()).unwrap_or("python").to_string();
    let python = dest.join("bin").join(&exe_name);
    let (method, seeded, warnings) = match native {
        Ok(flavor) => {
            let (seeded, warnings) = build_native(interp, &flavor, tmp.path(), &dest_str, opts)?;
            (Method::Native, seeded, warnings)
        }
        Err(reason) => {
            run_python_venv(interp, tmp.path(), &dest_str, opts)?;
            (Method::PythonVenv { reason }, Vec::new(), Vec::new())
        }
    };
    // `rename` replaces an empty directory: re-check just before, and map the failure of a
    // non-empty one created meanwhile to the same error.
    if fs::symlink_metadata(&dest).is_ok() {
        return Err(Error::DestinationExists { path: dest });
    }
    match fs::rename(tmp.path(), &dest) {
        Ok(()) => tmp.disarm(),
        Err(_) if fs::symlink_metadata(&dest).is_ok() => return Err(Error::DestinationExists { path: dest }),
        Err(e) => return Err(Error::io("move into place", dest, e)),
    }
    Ok(Created { path: dest, python, method, seeded, warnings })
}

/// The values `venv` substitutes into templates and writes into `pyvenv.cfg`.
struct Context {
    env_dir: String,
    env_name: String,
    /// `context.prompt` (with the parentheses up to 3.12).
    prompt: String,
    /// `self.prompt` (`--prompt` after `.` was expanded), for `pyvenv.cfg`.
    cfg_prompt: Option<String>,
    bin_name: String,
    env_exe: String,
}

fn build_native(
    interp: &Interpreter,
    flavor: &Flavor,
    tmp: &Path,
    dest: &str,
    opts: &CreateOptions,
) -> Result<(Vec<SeededWheel>, Vec<String>), Error> {
    let v = &interp.version;
    let short = v.short();
    let exe = interp.executable.to_string_lossy().into_owned();
    let exe_name = interp.executable.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let python_dir = interp.executable.parent().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
    let env_name = Path::new(dest).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let cfg_prompt = match opts.prompt.as_deref() {
        Some(".") if flavor.dot_prompt_is_cwd => {
            let cwd = std::env::current_dir().ctx("read", Path::new("."))?;
            Some(cwd.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())
        }
        other => other.map(str::to_string),
    };
    let shown = cfg_prompt.clone().unwrap_or_else(|| env_name.clone());
    let ctx = Context {
        env_dir: dest.to_string(),
        env_name,
        prompt: if flavor.prompt_in_parens { format!("({shown}) ") } else { shown },
        cfg_prompt,
        bin_name: "bin".into(),
        env_exe: format!("{dest}/bin/{exe_name}"),
    };
    let mut warnings = Vec::new();

    // ensure_directories
    let include =
        if flavor.include_subdir { tmp.join("include").join(format!("python{short}")) } else { tmp.join("include") };
    fs::create_dir_all(&include).ctx("create directory", &include)?;
    let site_packages = tmp.join("lib").join(format!("python{short}")).join("site-packages");
    fs::create_dir_all(&site_packages).ctx("create directory", &site_packages)?;
    if interp.pointer_width_64 {
        let lib64 = tmp.join("lib64");
        std::os::unix::fs::symlink("lib", &lib64).ctx("create the symlink", &lib64)?;
    }
    let bin = tmp.join("bin");
    fs::create_dir(&bin).ctx("create directory", &bin)?;
    if flavor.gitignore {
        let path = tmp.join(".gitignore");
        fs::write(&path, "# Created by venv; see https://docs.python.org/3/library/venv.html\n*\n")
            .ctx("write", &path)?;
    }

    // create_configuration
    let mut cfg = format!(
        "home = {python_dir}\ninclude-system-site-packages = {}\nversion = {}.{}.{}\n",
        if opts.system_site_packages { "true" } else { "false" },
        v.major,
        v.minor,
        v.micro
    );
    if let Some(p) = &ctx.cfg_prompt {
        cfg.push_str(&format!("prompt = {}\n", py_repr(p)));
    }
    if flavor.cfg_command {
        cfg.push_str(&format!("executable = {}\n", interp.real_executable.to_string_lossy()));
        let mut args: Vec<String> = Vec::new();
        if !opts.with_pip {
            args.push("--without-pip".into());
        }
        if opts.system_site_packages {
            args.push("--system-site-packages".into());
        }
        if let Some(p) = &opts.prompt {
            args.push(format!("--prompt=\"{p}\""));
        }
        args.push(dest.to_string());
        cfg.push_str(&format!("command = {exe} -m venv {}\n", args.join(" ")));
    }
    let cfg_path = tmp.join("pyvenv.cfg");
    fs::write(&cfg_path, cfg).ctx("write", &cfg_path)?;

    // setup_python: bin/<exe name> -> the interpreter, the other names -> bin/<exe name>.
    let env_exe = bin.join(&exe_name);
    symlink_or_copy(&interp.executable, Path::new(&exe), &env_exe, &mut warnings)?;
    let mut names = vec!["python".to_string(), "python3".to_string()];
    if flavor.link_minor {
        names.push(format!("python3.{}", v.minor));
    }
    for n in names {
        let path = bin.join(&n);
        if !path.exists() {
            symlink_or_copy(&env_exe, Path::new(&exe_name), &path, &mut warnings)?;
        }
    }

    // _setup_pip
    let mut seeded = Vec::new();
    if opts.with_pip {
        let wheels = interp
            .wheels_for_seeding()
            .map_err(|reason| Error::Wheel { path: interp.stdlib.join("ensurepip"), reason })?;
        let target = SeedTarget {
            env: Target {
                site_packages: &site_packages,
                bin_dir: &bin,
                python: &ctx.env_exe,
                major: v.major,
                minor: v.minor,
            },
            cache_dir: opts.cache_dir.as_deref(),
            requested: true,
        };
        seeded = seed::seed(wheels, &target)?;
    }

    // setup_scripts
    install_scripts(&interp.stdlib.join("venv").join("scripts"), &bin, flavor, &ctx, &mut warnings)?;
    Ok((seeded, warnings))
}

/// `symlink_or_copy`: a symlink to `target`, or (where symlinks fail) a copy of `source`
/// with mode 0o755.
fn symlink_or_copy(source: &Path, target: &Path, dst: &Path, warnings: &mut Vec<String>) -> Result<(), Error> {
    if std::os::unix::fs::symlink(target, dst).is_ok() {
        return Ok(());
    }
    warnings.push(format!("Unable to symlink {} to {}", target.display(), dst.display()));
    fs::copy(source, dst).ctx("copy the interpreter to", dst)?;
    fs::set_permissions(dst, fs::Permissions::from_mode(0o755)).ctx("set the mode of", dst)
}

/// `install_scripts`: render `scripts/common` and `scripts/posix` into `bin/`.
fn install_scripts(
    root: &Path,
    bin: &Path,
    flavor: &Flavor,
    ctx: &Context,
    warnings: &mut Vec<String>,
) -> Result<(), Error> {
    for entry in fs::read_dir(root).ctx("list", root)? {
        let entry = entry.ctx("list", root)?;
        let name = entry.file_name();
        if (name == "common" || name == "posix") && entry.path().is_dir() {
            walk_scripts(&entry.path(), bin, flavor, ctx, warnings)?;
        }
    }
    Ok(())
}

/// One directory of `os.walk`: its files first, then its sub-directories (not followed
/// through symlinks).
fn walk_scripts(
    dir: &Path,
    dst_dir: &Path,
    flavor: &Flavor,
    ctx: &Context,
    warnings: &mut Vec<String>,
) -> Result<(), Error> {
    let mut subdirs = Vec::new();
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).ctx("list", dir)? {
        let entry = entry.ctx("list", dir)?;
        let path = entry.path();
        if path.is_dir() {
            if !entry.file_type().ctx("inspect", &path)?.is_symlink() {
                subdirs.push(entry.file_name());
            }
        } else {
            files.push(entry.file_name());
        }
    }
    if !files.is_empty() && !dst_dir.exists() {
        fs::create_dir_all(dst_dir).ctx("create directory", dst_dir)?;
    }
    for f in files {
        let src = dir.join(&f);
        let dst = dst_dir.join(&f);
        let data = fs::read(&src).ctx("read", &src)?;
        let meta = fs::metadata(&src).ctx("inspect", &src)?;
        let name = f.to_string_lossy();
        let raw = flavor.raw_exe_pdb && (name.ends_with(".exe") || name.ends_with(".pdb"));
        let new_data = if raw {
            data.clone()
        } else {
            match std::str::from_utf8(&data) {
                Ok(text) => replace_variables(text, ctx, flavor.quoting, &src.to_string_lossy()).into_bytes(),
                Err(e) => {
                    warnings.push(format!("unable to copy script {}, may be binary: {e}", src.display()));
                    continue;
                }
            }
        };
        fs::write(&dst, &new_data).ctx("write", &dst)?;
        fs::set_permissions(&dst, fs::Permissions::from_mode(meta.mode() & 0o7777)).ctx("set the mode of", &dst)?;
        if flavor.copy2_unchanged && !raw && new_data == data {
            // shutil.copy2 keeps the template's timestamps.
            let times = fs::FileTimes::new()
                .set_accessed(meta.accessed().ctx("inspect", &src)?)
                .set_modified(meta.modified().ctx("inspect", &src)?);
            fs::File::options()
                .write(true)
                .open(&dst)
                .and_then(|f| f.set_times(times))
                .ctx("set the times of", &dst)?;
        }
    }
    for d in subdirs {
        walk_scripts(&dir.join(&d), &dst_dir.join(&d), flavor, ctx, warnings)?;
    }
    Ok(())
}

/// `EnvBuilder.replace_variables` of the flavor.
fn replace_variables(text: &str, ctx: &Context, quoting: Quoting, script_path: &str) -> String {
    let values = [
        ("__VENV_DIR__", &ctx.env_dir),
        ("__VENV_NAME__", &ctx.env_name),
        ("__VENV_PROMPT__", &ctx.prompt),
        ("__VENV_BIN_NAME__", &ctx.bin_name),
        ("__VENV_PYTHON__", &ctx.env_exe),
    ];
    let mut out = text.to_string();
    for (key, value) in values {
        let quoted = match quoting {
            Quoting::Plain => value.clone(),
            Quoting::Shell if script_path.ends_with(".ps1") => format!("'{}'", value.replace('\'', "''")),
            Quoting::Shell if script_path.ends_with(".bat") => value.clone(),
            Quoting::Shell => shlex_quote(value),
        };
        out = out.replace(key, &quoted);
    }
    out
}

/// The `python -m venv` fallback: run it on the temporary directory, then rewrite the
/// temporary path to the final one wherever venv and pip wrote it.
fn run_python_venv(interp: &Interpreter, tmp: &Path, dest: &str, opts: &CreateOptions) -> Result<(), Error> {
    let mut cmd = Command::new(&interp.executable);
    cmd.args(["-m", "venv"]);
    if !opts.with_pip {
        cmd.arg("--without-pip");
    }
    if opts.system_site_packages {
        cmd.arg("--system-site-packages");
    }
    if let Some(p) = &opts.prompt {
        cmd.arg("--prompt").arg(p);
    }
    cmd.arg(tmp).stdin(Stdio::null());
    let shown = format!("{} -m venv ... {}", interp.executable.display(), tmp.display());
    let out = cmd.output().map_err(|source| Error::Spawn { program: interp.executable.clone(), source })?;
    if !out.status.success() {
        let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stdout));
        let tail: String = text.trim().chars().rev().take(2000).collect::<Vec<_>>().into_iter().rev().collect();
        return Err(Error::PythonVenv { command: shown, status: out.status.to_string(), stderr: tail });
    }
    relocate(tmp, dest)
}

/// Rewrite every mention of the temporary directory (full path, then bare name) into the
/// final one: in text files, symlink targets, launcher shebangs and the RECORD rows of the
/// files that changed.
fn relocate(tmp: &Path, dest: &str) -> Result<(), Error> {
    let old = tmp.to_string_lossy().into_owned();
    let old_name = tmp.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let new_name = Path::new(dest).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut changed: Vec<PathBuf> = Vec::new();
    relocate_dir(tmp, &old, dest, &old_name, &new_name, &mut changed)?;

    let bin = tmp.join("bin");
    for path in changed.iter().filter(|p| p.parent() == Some(bin.as_path())) {
        let data = fs::read(path).ctx("read", path)?;
        if let Some(fixed) = fix_shebang(&data) {
            fs::write(path, fixed).ctx("write", path)?;
        }
    }
    if changed.is_empty() {
        return Ok(());
    }
    // RECORD files of what pip installed.
    let lib = tmp.join("lib");
    let Ok(lib_entries) = fs::read_dir(&lib) else { return Ok(()) };
    for lib_entry in lib_entries {
        let sp = lib_entry.ctx("list", &lib)?.path().join("site-packages");
        let Ok(entries) = fs::read_dir(&sp) else { continue };
        for entry in entries {
            let record = entry.ctx("list", &sp)?.path().join("RECORD");
            if record.is_file() {
                fix_record(&record, &sp, &changed)?;
            }
        }
    }
    Ok(())
}

fn relocate_dir(
    dir: &Path,
    old: &str,
    new: &str,
    old_name: &str,
    new_name: &str,
    changed: &mut Vec<PathBuf>,
) -> Result<(), Error> {
    for entry in fs::read_dir(dir).ctx("list", dir)? {
        let entry = entry.ctx("list", dir)?;
        let path = entry.path();
        let ft = entry.file_type().ctx("inspect", &path)?;
        if ft.is_symlink() {
            let target = fs::read_link(&path).ctx("read the symlink", &path)?;
            let t = target.to_string_lossy();
            if t.contains(old) {
                let new_target = t.replace(old, new);
                fs::remove_file(&path).ctx("replace the symlink", &path)?;
                std::os::unix::fs::symlink(&new_target, &path).ctx("create the symlink", &path)?;
            }
        } else if ft.is_dir() {
            if entry.file_name() != "__pycache__" {
                relocate_dir(&path, old, new, old_name, new_name, changed)?;
            }
        } else if ft.is_file() && path.extension().is_none_or(|e| e != "pyc") {
            let data = fs::read(&path).ctx("read", &path)?;
            let Ok(text) = std::str::from_utf8(&data) else { continue };
            if text.contains(old_name) {
                let fixed = text.replace(old, new).replace(old_name, new_name);
                fs::write(&path, fixed).ctx("write", &path)?;
                changed.push(path);
            }
        }
    }
    Ok(())
}

/// Re-decide a launcher's shebang for its (new) interpreter path, as distlib would have.
fn fix_shebang(data: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(data).ok()?;
    let (exe, rest) = if let Some(r) = text.strip_prefix("#!/bin/sh\n'''exec' ") {
        let (line, rest) = r.split_once("\n' '''\n")?;
        let exe = line.strip_suffix(" \"$0\" \"$@\"")?;
        (exe.trim_matches('"').to_string(), rest)
    } else {
        let r = text.strip_prefix("#!")?;
        let (line, rest) = r.split_once('\n')?;
        if !line.contains("python") || line.contains(' ') {
            return None;
        }
        (line.to_string(), rest)
    };
    let fixed = format!("{}{rest}", seed::shebang(&exe));
    (fixed != text).then(|| fixed.into_bytes())
}

/// Update the hash and size of the rows of `record` whose files are in `changed`.
fn fix_record(record: &Path, sp: &Path, changed: &[PathBuf]) -> Result<(), Error> {
    let text = fs::read_to_string(record).ctx("read", record)?;
    let mut rows = parse_csv(&text);
    let mut any = false;
    for row in &mut rows {
        let Some(rel) = row.first() else { continue };
        let Ok(file) = abspath(&sp.join(rel)) else { continue };
        if changed.contains(&file) {
            let data = fs::read(&file).ctx("read", &file)?;
            row.resize(3, String::new());
            row[1] = record_hash(&data);
            row[2] = data.len().to_string();
            any = true;
        }
    }
    if any {
        let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
        let mut out = String::with_capacity(text.len());
        for row in rows {
            out.push_str(&row.iter().map(|f| crate::util::csv_field(f)).collect::<Vec<_>>().join(","));
            out.push_str(eol);
        }
        fs::write(record, out).ctx("write", record)?;
    }
    Ok(())
}

/// Remove the temporary directories that crashed creators left in `parent`: those whose
/// process is gone, and those older than a minute (a creator finishes in milliseconds, or
/// seconds with the `python -m venv` fallback). The current process's own are kept.
/// Returns what was removed.
pub fn cleanup_stale_temps(parent: &Path) -> Result<Vec<PathBuf>, Error> {
    Ok(pyve_wheels::temp::cleanup_stale_temps(parent)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebangs_are_re_decided() {
        let long = format!("/{}/bin/python", "y".repeat(130));
        let fixed = fix_shebang(format!("#!{long}\n# body\n").as_bytes()).unwrap();
        assert_eq!(
            String::from_utf8(fixed).unwrap(),
            format!("#!/bin/sh\n'''exec' {long} \"$0\" \"$@\"\n' '''\n# body\n")
        );
        let back = fix_shebang(b"#!/bin/sh\n'''exec' /short/bin/python \"$0\" \"$@\"\n' '''\n# body\n").unwrap();
        assert_eq!(back, b"#!/short/bin/python\n# body\n");
        assert!(fix_shebang(b"#!/short/bin/python\n# body\n").is_none());
    }

    #[test]
    fn quoting_variants() {
        let ctx = Context {
            env_dir: "/a b/v".into(),
            env_name: "v".into(),
            prompt: "(v) ".into(),
            cfg_prompt: None,
            bin_name: "bin".into(),
            env_exe: "/a b/v/bin/python".into(),
        };
        let t = "D=__VENV_DIR__ P=__VENV_PROMPT__ B=__VENV_BIN_NAME__";
        assert_eq!(replace_variables(t, &ctx, Quoting::Plain, "activate"), "D=/a b/v P=(v)  B=bin");
        assert_eq!(replace_variables(t, &ctx, Quoting::Shell, "activate"), "D='/a b/v' P='(v) ' B=bin");
        assert_eq!(replace_variables(t, &ctx, Quoting::Shell, "Activate.ps1"), "D='/a b/v' P='(v) ' B='bin'");
    }
}
