//! `pyve lock [--check]` (the passthrough command `lock`): write conda-lock.yml for
//! environment.yml with the built-in engine (solved for this platform, nothing installed), or
//! check that the lock satisfies environment.yml by content.

use std::path::{Path, PathBuf};

use pyve_micromamba::engine::{self, Builtin, CreateRequest, Engine as _, Source};
use pyve_micromamba::envfile::{CONDA_LOCK_YML, ENVIRONMENT_YML, EnvFile};
use pyve_micromamba::lock::{self, LockFile};
use pyve_sdk::Invocation;
use pyve_sdk::output::Output;

use super::settings::cache_dir;

const USAGE: &str = "\
Write or check conda-lock.yml for the project's environment.yml (micromamba backend).

Usage: pyve lock [--check]

  (no option)  Solve environment.yml for this platform with the built-in engine (no conda or
               micromamba needed, nothing installed) and write conda-lock.yml (format version 1,
               every package with its URL, sha256 and md5, and dependencies)
  --check      Exit 1 when conda-lock.yml does not satisfy environment.yml (a spec, a channel
               or a pip entry it does not meet, named), 0 when it does
  -h, --help   Print this help

environment.yml's pip: entries are locked too: the solved packages are installed into a
temporary directory and their own pip resolves the entries there without installing them
(`pip install --dry-run --report`, so the package index must be reachable); each package pip
would add is locked with its archive's URL and sha256, which `pyve --init` checks.
";

/// Run the command; the result is the exit code.
pub fn lock(inv: Invocation) -> i32 {
    let out = Output::from_host(&inv.host);
    let args: Vec<String> = inv.args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    let mut check = false;
    for a in &args {
        match a.as_str() {
            "--help" | "-h" => {
                print!("{USAGE}");
                return 0;
            }
            "--check" => check = true,
            other => {
                out.error(&format!("unknown argument '{other}'"), Some("usage: pyve lock [--check]"));
                return 1;
            }
        }
    }
    let root = match inv.host.project_root_or_cwd() {
        Ok(r) => r,
        Err(e) => {
            out.error(&format!("cannot tell the current directory: {e}"), None);
            return 1;
        }
    };
    let yml = root.join(ENVIRONMENT_YML);
    if !yml.is_file() {
        out.error(
            &format!("no {ENVIRONMENT_YML} in {}: `pyve lock` locks a conda project's environment.yml", root.display()),
            Some("run it in the project's directory, where environment.yml is"),
        );
        return 1;
    }
    let env = match EnvFile::read(&yml) {
        Ok(e) => e,
        Err(e) => {
            out.error(&e.to_string(), Some("fix environment.yml"));
            return 1;
        }
    };
    if check { check_lock(&out, &env, root) } else { write_lock(&out, &env, root) }
}

fn check_lock(out: &Output, env: &EnvFile, root: PathBuf) -> i32 {
    let path = root.join(CONDA_LOCK_YML);
    if !path.exists() {
        out.error(&format!("no {CONDA_LOCK_YML} in {}", root.display()), Some("write it with `pyve lock`"));
        return 1;
    }
    let lock = match LockFile::read(&path) {
        Ok(l) => l,
        Err(e) => {
            out.error(&e.to_string(), Some("write it again with `pyve lock`"));
            return 1;
        }
    };
    let unmet = lock::unmet(env, &lock, lock::platform(), &root);
    if unmet.is_empty() {
        out.success(&format!("{CONDA_LOCK_YML} satisfies {ENVIRONMENT_YML} ({})", lock::platform()));
        return 0;
    }
    out.error(&format!("{CONDA_LOCK_YML} does not satisfy {ENVIRONMENT_YML} ({}):", lock::platform()), None);
    for u in &unmet {
        out.error(&format!("  {u}"), None);
    }
    out.hint("write it again with `pyve lock`");
    1
}

fn write_lock(out: &Output, env: &EnvFile, root: PathBuf) -> i32 {
    let platform = lock::platform();
    out.info(&format!("Solving {ENVIRONMENT_YML} for {platform} with the built-in engine..."));
    let records = match Builtin.solve_only(env, &root, &cache_dir()) {
        Ok(r) => r,
        Err(e) => {
            out.error(&e.to_string(), None);
            return 1;
        }
    };
    let mut packages: Vec<_> = records.iter().map(|r| lock::locked_package(r, platform)).collect();
    let conda_count = packages.len();
    if !env.pip.is_empty() {
        match lock_pip(out, env, &root, platform) {
            Ok(pip) => packages.extend(pip),
            Err(e) => {
                out.error(&e, Some("fix environment.yml's pip: entries; conda-lock.yml was left as it was"));
                return 1;
            }
        }
    }
    let path = root.join(CONDA_LOCK_YML);
    if let Err(e) = lock::write_atomic(&path, &lock::render(env, platform, &packages)) {
        out.error(&format!("cannot write {}: {e}", path.display()), None);
        return 1;
    }
    let pip_count = packages.len() - conda_count;
    let counted = if pip_count > 0 {
        format!("{conda_count} conda and {pip_count} pip packages")
    } else {
        format!("{conda_count} packages")
    };
    out.success(&format!("Wrote {CONDA_LOCK_YML} ({counted} for {platform})"));
    0
}

/// environment.yml's `pip:` entries, resolved as pip would install them into the solved
/// environment: the environment is installed into a temporary directory (from the package
/// cache the solve filled), its own pip resolves the entries without installing them
/// (`--dry-run --report`), and each package pip would add is locked with its archive's URL
/// and sha256. Packages the conda ones already provide stay conda's, as at install time.
fn lock_pip(out: &Output, env: &EnvFile, root: &Path, platform: &str) -> Result<Vec<lock::LockedPackage>, String> {
    let entries: Vec<&str> = env.pip.iter().map(|p| p.trim()).collect();
    out.info(&format!(
        "Resolving {} pip: entr{} with the environment's pip...",
        entries.len(),
        if entries.len() == 1 { "y" } else { "ies" }
    ));
    let scratch = tempfile::Builder::new()
        .prefix("pyve-lock-")
        .tempdir()
        .map_err(|e| format!("cannot make a temporary directory: {e}"))?;
    let prefix = scratch.path().join("env");
    let source = Source::EnvFile(env.clone());
    let req = CreateRequest { source: &source, target: &prefix, build_dir: &prefix, root, cache_dir: cache_dir() };
    Builtin.create(&req).map_err(|e| format!("cannot install the solved packages to resolve the pip: entries: {e}"))?;
    let report = engine::resolve_pip(&prefix, &env.pip, root).map_err(|e| e.to_string())?;
    let pip = lock::pip_packages(&report, platform)?;
    let locked: Vec<String> = pip.iter().map(|p| lock::pip_name(&p.name)).collect();
    let provided: Vec<&str> = entries.iter().copied().filter(|e| !locked.contains(&lock::pip_name(e))).collect();
    if !provided.is_empty() {
        out.warn(&format!(
            "pip: {} already provided by the conda packages, so not locked as pip packages (`pyve lock --check` reports {})",
            provided.join(", "),
            if provided.len() == 1 { "it" } else { "them" }
        ));
    }
    Ok(pip)
}
