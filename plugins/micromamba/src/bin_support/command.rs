//! `pyve lock [--check]` (the passthrough command `lock`): write conda-lock.yml for
//! environment.yml with the built-in engine (solved for this platform, nothing installed), or
//! check that the lock satisfies environment.yml by content.

use std::path::PathBuf;

use pyve_micromamba::engine::Builtin;
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

environment.yml's pip: entries are not locked by pyve lock (it says which); the check reports
them unmet until a lock that has them (conda-lock) is written.
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
    let packages: Vec<_> = records.iter().map(|r| lock::locked_package(r, platform)).collect();
    let path = root.join(CONDA_LOCK_YML);
    if let Err(e) = lock::write_atomic(&path, &lock::render(env, platform, &packages)) {
        out.error(&format!("cannot write {}: {e}", path.display()), None);
        return 1;
    }
    out.success(&format!("Wrote {CONDA_LOCK_YML} ({} packages for {platform})", packages.len()));
    if !env.pip.is_empty() {
        out.warn(&format!(
            "environment.yml's pip: entries are not locked (pyve lock locks conda packages only): {}",
            env.pip.iter().map(|p| p.trim()).collect::<Vec<_>>().join(", ")
        ));
        out.warn("`pyve lock --check` and `pyve --init --strict` report them unmet until a lock has them");
    }
    0
}
