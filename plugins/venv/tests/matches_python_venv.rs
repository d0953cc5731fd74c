//! The native layout against each interpreter's own `python -m venv`, for every pyenv
//! CPython 3.8 to 3.13: same paths (ignoring `__pycache__`/`*.pyc`), same modes, same
//! symlink targets, same `pyvenv.cfg`, byte-identical activation scripts and launchers once
//! the destination path is accounted for; and the result works.

mod common;

use std::path::Path;

use common::{check_record, diff, python_venv, pythons, run_ok, snapshot};
use pyve_venv::{CreateOptions, Interpreter, Method, MethodChoice, SeedSource, create};

fn native(python: &Path, dest: &Path, opts: &CreateOptions) -> pyve_venv::Created {
    let interp = Interpreter::inspect(python).unwrap_or_else(|e| panic!("inspect {}: {e}", python.display()));
    let opts = CreateOptions { method: MethodChoice::NativeOnly, ..opts.clone() };
    let created = create(&interp, dest, &opts).unwrap_or_else(|e| panic!("create with {}: {e}", python.display()));
    assert_eq!(created.method, Method::Native);
    created
}

fn assert_same(reference: &Path, ours: &Path) {
    let differences = diff(&snapshot(reference), &snapshot(ours));
    assert!(
        differences.is_empty(),
        "{} differs from `python -m venv` ({}):\n  {}",
        ours.display(),
        reference.display(),
        differences.join("\n  ")
    );
}

#[test]
fn without_pip_matches_python_venv_on_every_version() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().join("home");
    for py in pythons() {
        let name = format!("np-{}", py.short);
        let reference = tmp.path().join("a").join(&name);
        let ours = tmp.path().join("b").join(&name);
        python_venv(&py.path, &reference, &["--without-pip"], &home);
        let opts = CreateOptions { with_pip: false, ..CreateOptions::default() };
        let created = native(&py.path, &ours, &opts);
        assert!(created.seeded.is_empty());
        assert_same(&reference, &ours);
        assert_eq!(created.python, ours.join("bin").join(format!("python{}", py.short)));
        run_ok(&created.python, &["-c", "import sys; assert sys.prefix != sys.base_prefix, sys.prefix"], &home);

        // From 3.13 a template with nothing to substitute is copied with shutil.copy2, which
        // keeps its modification time.
        let prefix = py.path.parent().and_then(Path::parent).expect("prefix");
        let template = prefix.join(format!("lib/python{}/venv/scripts/common/Activate.ps1", py.short));
        let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).expect("mtime");
        let (r, o) = (mtime(&reference.join("bin/Activate.ps1")), mtime(&ours.join("bin/Activate.ps1")));
        assert_eq!(r == mtime(&template), o == mtime(&template), "Activate.ps1 times: {r:?} {o:?}");
    }
}

#[test]
fn paths_with_spaces_and_long_paths_match_python_venv() {
    // distlib switches the launchers to a /bin/sh trampoline for both.
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().join("home");
    let py = common::python("3.13");
    let long = "l".repeat(120);
    for name in ["with space", long.as_str()] {
        let (reference, ours) = (tmp.path().join("a").join(name), tmp.path().join("b").join(name));
        python_venv(&py.path, &reference, &[], &home);
        native(&py.path, &ours, &CreateOptions::default());
        assert_same(&reference, &ours);
        let launcher = std::fs::read_to_string(ours.join("bin/pip")).expect("read bin/pip");
        assert!(launcher.starts_with("#!/bin/sh\n'''exec' "), "{launcher}");
        let out = run_ok(&ours.join("bin/pip"), &["--version"], &home);
        assert!(out.contains(&ours.display().to_string()), "{out}");
    }
}

#[test]
fn prompts_system_site_packages_and_invocation_names_match_python_venv() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().join("home");
    for py in pythons() {
        // The prompt format, its repr in pyvenv.cfg and the command line differ by version.
        let prompt = "my 'env' \"é\"";
        let name = format!("prompt-{}", py.short);
        let (reference, ours) = (tmp.path().join("a").join(&name), tmp.path().join("b").join(&name));
        python_venv(&py.path, &reference, &["--without-pip", "--system-site-packages", "--prompt", prompt], &home);
        let opts = CreateOptions {
            with_pip: false,
            prompt: Some(prompt.to_string()),
            system_site_packages: true,
            ..CreateOptions::default()
        };
        native(&py.path, &ours, &opts);
        assert_same(&reference, &ours);

        // The links follow the name the interpreter is invoked by.
        let python3 = py.path.with_file_name("python3");
        let name = format!("python3-{}", py.short);
        let (reference, ours) = (tmp.path().join("a").join(&name), tmp.path().join("b").join(&name));
        python_venv(&python3, &reference, &["--without-pip"], &home);
        native(&python3, &ours, &CreateOptions { with_pip: false, ..CreateOptions::default() });
        assert_same(&reference, &ours);
    }
}

#[test]
fn seeded_tree_matches_python_venv_and_works_on_every_version() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().join("home");
    let cache = tmp.path().join("cache");
    for py in pythons() {
        let name = format!("venv-{}", py.short);
        let (reference, ours) = (tmp.path().join("a").join(&name), tmp.path().join("b").join(&name));
        python_venv(&py.path, &reference, &[], &home);
        let opts = CreateOptions { cache_dir: Some(cache.clone()), ..CreateOptions::default() };
        let created = native(&py.path, &ours, &opts);
        assert!(created.seeded.iter().any(|s| s.project == "pip"), "pip seeded: {:?}", created.seeded);
        assert!(created.seeded.iter().all(|s| s.source == SeedSource::CacheFilled && s.hard_linked));
        assert_eq!(
            created.seeded.iter().any(|s| s.project == "setuptools"),
            py.short.split('.').nth(1).and_then(|m| m.parse::<u32>().ok()).is_some_and(|m| m <= 11),
            "setuptools is seeded up to 3.11 only"
        );
        assert_same(&reference, &ours);
        let site_packages = ours.join("lib").join(format!("python{}", py.short)).join("site-packages");
        check_record(&site_packages);

        // A second environment from the warm cache is the same.
        let again = tmp.path().join("b").join(format!("warm-{}", py.short));
        let created = native(&py.path, &again, &opts);
        assert!(created.seeded.iter().all(|s| s.source == SeedSource::CacheHit && s.hard_linked));

        // It works: an isolated prefix, pip from the venv's site-packages, activation.
        run_ok(&created.python, &["-c", "import sys; assert sys.prefix != sys.base_prefix, sys.prefix"], &home);
        let sp = again.join("lib").join(format!("python{}", py.short)).join("site-packages");
        let expected = format!("from {}", sp.join("pip").display());
        let out = run_ok(&again.join("bin").join("pip"), &["--version"], &home);
        assert!(out.contains(&expected), "`pip --version` = {out:?}, expected {expected:?}");
        let out = run_ok(&created.python, &["-m", "pip", "--version"], &home);
        assert!(out.contains(&expected), "`python -m pip --version` = {out:?}, expected {expected:?}");
        let script = format!(
            "source {}/bin/activate && command -v python && deactivate && command -v python || echo none",
            again.display()
        );
        let out = run_ok(Path::new("bash"), &["-c", &script], &home);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.first().copied(), Some(again.join("bin/python").to_str().unwrap_or_default()), "{out}");
        assert!(lines.get(1).is_some_and(|l| !l.starts_with(again.to_str().unwrap_or_default())), "{out}");
    }
}

#[test]
fn seeding_without_cache_gives_the_same_tree() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for short in ["3.11", "3.13"] {
        let py = common::python(short);
        let name = format!("v-{short}");
        let (with_cache, without) = (tmp.path().join("a").join(&name), tmp.path().join("b").join(&name));
        native(
            &py.path,
            &with_cache,
            &CreateOptions { cache_dir: Some(tmp.path().join("cache")), ..Default::default() },
        );
        let created = native(&py.path, &without, &CreateOptions::default());
        assert!(created.seeded.iter().all(|s| s.source == SeedSource::Unpacked && !s.hard_linked));
        assert_same(&with_cache, &without);
        check_record(&without.join("lib").join(format!("python{short}")).join("site-packages"));
    }
}

/// A system CPython with distribution patches (Debian's carries the gh-124651 quoting of
/// activation scripts and WHEEL_PKG_DIR wheels), when there is one that can run
/// `python -m venv`.
#[test]
fn system_python_matches_python_venv_when_present() {
    let system = Path::new("/usr/bin/python3");
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().join("home");
    let Ok(interp) = Interpreter::inspect(system) else {
        eprintln!("no usable {}; skipped", system.display());
        return;
    };
    let usable = common::run(system, &["-c", "import ensurepip, venv"], &home).status.success();
    let in_range = interp.version.major == 3 && (8..=13).contains(&interp.version.minor);
    if !usable || !in_range {
        eprintln!("{} cannot run `python -m venv` or is out of range; skipped", system.display());
        return;
    }
    let (reference, ours) = (tmp.path().join("a").join("sys"), tmp.path().join("b").join("sys"));
    python_venv(system, &reference, &["--prompt", "it's here"], &home);
    let opts = CreateOptions {
        cache_dir: Some(tmp.path().join("cache")),
        prompt: Some("it's here".into()),
        ..Default::default()
    };
    let created = create(&interp, &ours, &opts).expect("create");
    if let Method::PythonVenv { reason } = &created.method {
        eprintln!("{} is not a verified variant ({reason}); compared through the fallback", system.display());
    }
    assert_same(&reference, &ours);
}
