//! The seeding cache end to end: `pyve --init` on the real CPython 3.12 and 3.13 with the venv
//! backend and the distutils shim, setuptools and wheel fetched once into pyve's wheel cache
//! (`$XDG_CACHE_HOME/pyve/wheels`, inside each test's sandbox) and linked from it afterwards.
//! The network is cut with `unshare -rn` where the kernel allows it, else the index is
//! unreachable (`PIP_INDEX_URL=http://127.0.0.1:9/simple`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use pyve_tests::{Outcome, Sandbox, python, run};

fn sandbox() -> Sandbox {
    let sb = Sandbox::new();
    sb.install(&["pyve-venv", "pyve-distutils-shim"]);
    sb
}

fn ok(out: &Outcome, what: &str) {
    assert_eq!(out.code, Some(0), "{what} failed:\nstdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
}

fn all(out: &Outcome) -> String {
    format!("{}{}", out.stdout, out.stderr)
}

/// `pyve --init` with the shim on, in `project` (created when missing).
fn init_cmd(sb: &Sandbox, project: &Path, version: &str) -> Command {
    std::fs::create_dir_all(project).unwrap();
    let mut cmd = sb.e2e();
    cmd.env_remove("PYVE_DISABLE_DISTUTILS_SHIM")
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .current_dir(project)
        .args(["--init", "--no-direnv", "--python-version", version]);
    // The machine's certificates and index settings, as a user has them.
    for var in ["SSL_CERT_FILE", "PIP_CERT", "PIP_INDEX_URL", "PIP_FIND_LINKS", "HTTPS_PROXY", "https_proxy"] {
        if let Some(v) = std::env::var_os(var) {
            cmd.env(var, v);
        }
    }
    cmd
}

/// Whether `unshare -rn` can cut the network here.
fn can_unshare() -> bool {
    Command::new("unshare").args(["-rn", "true"]).output().is_ok_and(|o| o.status.success())
}

/// `cmd` with the network cut: under `unshare -rn`, else with an index nothing answers on.
fn offline(cmd: Command) -> Command {
    if can_unshare() {
        let mut wrapped = Command::new("unshare");
        wrapped.arg("-rn").arg(cmd.get_program()).args(cmd.get_args()).env_clear();
        for (k, v) in cmd.get_envs() {
            if let Some(v) = v {
                wrapped.env(k, v);
            }
        }
        wrapped.current_dir(cmd.get_current_dir().unwrap());
        wrapped.env("PIP_RETRIES", "0").env("PIP_TIMEOUT", "3").env_remove("PIP_FIND_LINKS");
        wrapped
    } else {
        let mut cmd = cmd;
        cmd.env("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
            .env("PIP_RETRIES", "0")
            .env("PIP_TIMEOUT", "3")
            .env_remove("PIP_FIND_LINKS");
        cmd
    }
}

fn site_packages(env: &Path, version: &str) -> PathBuf {
    let short: Vec<&str> = version.split('.').take(2).collect();
    env.join("lib").join(format!("python{}", short.join("."))).join("site-packages")
}

fn py(env: &Path, args: &[&str]) -> Outcome {
    run(Command::new(env.join("bin/python"))
        .args(args)
        .env_remove("PYTHONPATH")
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1"))
}

/// The cached wheel files (`downloaded-wheels-v1/<sha256>/*.whl`).
fn cached_wheels(sb: &Sandbox) -> Vec<PathBuf> {
    let root = sb.cache().join("pyve/wheels/downloaded-wheels-v1");
    let mut found = Vec::new();
    for d in std::fs::read_dir(&root).unwrap().flatten() {
        if d.path().is_dir() && !d.file_name().to_string_lossy().starts_with('.') {
            for f in std::fs::read_dir(d.path()).unwrap().flatten() {
                found.push(f.path());
            }
        }
    }
    found.sort();
    found
}

/// The projects of wheel files, sorted.
fn wheel_names(wheels: &[PathBuf]) -> Vec<String> {
    let mut names: Vec<String> =
        wheels.iter().map(|w| w.file_name().unwrap().to_string_lossy().split('-').next().unwrap().to_owned()).collect();
    names.sort();
    names
}

/// The hidden temporary entries left in the cache's directories.
fn leftovers(sb: &Sandbox) -> Vec<String> {
    let mut left = Vec::new();
    for sub in ["downloaded-wheels-v1", "unpacked-wheels-v2"] {
        let dir = sb.cache().join("pyve/wheels").join(sub);
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                left.push(format!("{sub}/{name}"));
            }
        }
    }
    left
}

/// RECORD rows, the environment's path replaced by `ENV` in the launchers.
fn record_rows(sp: &Path, project: &str) -> BTreeSet<String> {
    let info = std::fs::read_dir(sp)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with(&format!("{project}-")) && n.ends_with(".dist-info"))
        .unwrap_or_else(|| panic!("no {project} dist-info in {}", sp.display()));
    let text = std::fs::read_to_string(sp.join(&info).join("RECORD")).unwrap();
    // The launcher's row depends on the environment's path (its shebang): compared apart.
    text.lines().filter(|l| !l.starts_with("../../../bin/")).map(str::to_owned).collect()
}

fn launcher(env: &Path) -> String {
    std::fs::read_to_string(env.join("bin/wheel")).unwrap().replace(env.to_str().unwrap(), "ENV")
}

fn seeded_like_pip_then_offline(minor: &str) {
    let v = python(minor);
    let sb = sandbox();
    let first = sb.path().join("first");

    // 1. The first init fetches setuptools and wheel into the cache.
    let out = run(&mut init_cmd(&sb, &first, &v));
    ok(&out, "first init");
    assert!(
        all(&out).contains("Installed setuptools, wheel (downloaded with pip into pyve's wheel cache"),
        "{}",
        all(&out)
    );
    assert!(!out.stderr.contains("WARNING"), "{}", out.stderr);
    let env1 = first.join(".venv");
    let sp1 = site_packages(&env1, &v);
    ok(&py(&env1, &["-m", "pip", "check"]), "pip check");
    let origin = py(&env1, &["-c", "import distutils.core; print(distutils.__file__)"]);
    ok(&origin, "import distutils");
    assert!(origin.stdout.contains("setuptools/_distutils"), "{}", origin.stdout);
    for f in ["distutils-precedence.pth", "_distutils_hack/__init__.py"] {
        assert!(sp1.join(f).is_file(), "{f}");
    }
    let wheels = cached_wheels(&sb);
    assert_eq!(wheel_names(&wheels), ["packaging", "setuptools", "wheel"], "wheel 0.46+ needs packaging: {wheels:?}");

    // 2. Indistinguishable from `pip install --no-compile` of the same wheels.
    let reference = sb.path().join("reference");
    let mut plain = init_cmd(&sb, &reference, &v);
    plain.env("PYVE_DISABLE_DISTUTILS_SHIM", "1");
    ok(&run(&mut plain), "init without the shim");
    let env_ref = reference.join(".venv");
    // By name from the cached files, as from an index (a path would add direct_url.json).
    let mut pip_args = vec!["-m", "pip", "install", "--no-compile", "--no-index", "-q"];
    let dirs: Vec<String> = wheels.iter().map(|w| w.parent().unwrap().display().to_string()).collect();
    for d in &dirs {
        pip_args.extend(["--find-links", d.as_str()]);
    }
    pip_args.extend(["setuptools", "wheel"]);
    ok(&py(&env_ref, &pip_args), "pip install of the cached wheels");
    let sp_ref = site_packages(&env_ref, &v);
    for project in ["setuptools", "wheel"] {
        let (ours, pips) = (record_rows(&sp1, project), record_rows(&sp_ref, project));
        let only_ours: Vec<_> = ours.difference(&pips).collect();
        let only_pips: Vec<_> = pips.difference(&ours).collect();
        assert!(
            only_ours.is_empty() && only_pips.is_empty(),
            "{project}'s RECORD: only pyve's {only_ours:#?}, only pip's {only_pips:#?}"
        );
    }
    assert_eq!(launcher(&env1), launcher(&env_ref), "bin/wheel");
    let freeze = |env: &Path| py(env, &["-m", "pip", "list", "--format=freeze"]).stdout;
    assert_eq!(freeze(&env1), freeze(&env_ref));
    let wheel_version = py(&env1, &["-m", "pip", "show", "wheel"]);
    assert!(wheel_version.stdout.contains("Name: wheel"), "{}", wheel_version.stdout);
    let installer = std::fs::read_dir(&sp1)
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("setuptools-"))
        .map(|e| std::fs::read_to_string(e.path().join("INSTALLER")).unwrap());
    assert_eq!(installer.as_deref(), Some("pip\n"));
    // As with pip: the dependency was not asked for.
    let packaging = std::fs::read_dir(&sp1)
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("packaging-"))
        .expect("packaging installed")
        .path();
    assert!(!packaging.join("REQUESTED").exists() && packaging.join("INSTALLER").is_file());
    ok(&run(Command::new(env1.join("bin/wheel")).arg("version")), "the wheel launcher runs");

    // 3. A second project with the network cut: everything from the cache, no warning.
    let second = sb.path().join("second");
    let out = run(&mut offline(init_cmd(&sb, &second, &v)));
    ok(&out, "second init, offline");
    assert!(all(&out).contains("Installed setuptools, wheel from pyve's wheel cache"), "{}", all(&out));
    assert!(!out.stderr.contains("WARNING"), "{}", out.stderr);
    let env2 = second.join(".venv");
    ok(&py(&env2, &["-c", "import distutils.core"]), "import distutils offline");
    ok(&py(&env2, &["-m", "pip", "check"]), "pip check offline");

    // 4. pip uninstall removes every file of setuptools, and leaves the cache (and the
    //    other environment) intact.
    ok(&py(&env1, &["-m", "pip", "uninstall", "-y", "-q", "setuptools"]), "pip uninstall");
    let left: Vec<String> = std::fs::read_dir(&sp1)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("setuptools") || n.starts_with("_distutils_hack") || n.starts_with("distutils-"))
        .collect();
    assert!(left.is_empty(), "left after uninstall: {left:?}");
    let pkg_resources = sp1.join("pkg_resources");
    assert!(!pkg_resources.exists(), "pkg_resources left");
    ok(&py(&env2, &["-c", "import distutils.core, setuptools"]), "the other environment");
    assert!(leftovers(&sb).is_empty(), "{:?}", leftovers(&sb));
}

#[test]
fn py312_seeded_like_pip_then_offline() {
    seeded_like_pip_then_offline("3.12");
}

#[test]
fn py313_seeded_like_pip_then_offline() {
    seeded_like_pip_then_offline("3.13");
}

#[test]
fn a_damaged_cache_entry_is_rebuilt_never_linked() {
    let v = python("3.13");
    let sb = sandbox();
    ok(&run(&mut init_cmd(&sb, &sb.path().join("a"), &v)), "first init");
    // Truncate a file of the unpacked setuptools, and remove another.
    let unpacked = sb.cache().join("pyve/wheels/unpacked-wheels-v2");
    let entry = std::fs::read_dir(&unpacked)
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("setuptools-"))
        .unwrap()
        .path();
    let init_py = entry.join("files/setuptools/__init__.py");
    let good = std::fs::read(&init_py).unwrap();
    // A new inode: the environment linked from the entry keeps the good file.
    std::fs::remove_file(&init_py).unwrap();
    std::fs::write(&init_py, &good[..good.len() / 2]).unwrap();
    std::fs::remove_file(entry.join("files/distutils-precedence.pth")).unwrap();

    let b = sb.path().join("b");
    let out = run(&mut offline(init_cmd(&sb, &b, &v)));
    ok(&out, "init over a damaged entry");
    assert!(!out.stderr.contains("WARNING"), "{}", out.stderr);
    let sp = site_packages(&b.join(".venv"), &v);
    assert_eq!(std::fs::read(sp.join("setuptools/__init__.py")).unwrap(), good, "the rebuilt file");
    assert!(sp.join("distutils-precedence.pth").is_file());
    assert_eq!(std::fs::read(&init_py).unwrap(), good, "the entry was rebuilt");
    ok(&py(&b.join(".venv"), &["-m", "pip", "check"]), "pip check");
    ok(&py(&b.join(".venv"), &["-c", "import distutils.core, setuptools"]), "import");

    // A damaged download (same size, other bytes) with no unpacked entry is fetched again.
    std::fs::remove_dir_all(&unpacked).unwrap();
    for w in cached_wheels(&sb) {
        let len = std::fs::metadata(&w).unwrap().len() as usize;
        std::fs::remove_file(&w).unwrap();
        std::fs::write(&w, vec![b'x'; len]).unwrap();
    }
    let c = sb.path().join("c");
    let out = run(&mut init_cmd(&sb, &c, &v));
    ok(&out, "init over a damaged download");
    assert!(all(&out).contains("Installed setuptools, wheel (downloaded"), "{}", all(&out));
    ok(&py(&c.join(".venv"), &["-c", "import distutils.core"]), "import");
    assert!(leftovers(&sb).is_empty(), "{:?}", leftovers(&sb));
}

#[test]
fn concurrent_inits_share_the_cache() {
    let v = python("3.12");
    let sb = sandbox();
    let projects: Vec<PathBuf> = (0..3).map(|i| sb.path().join(format!("p{i}"))).collect();
    let children: Vec<_> = projects
        .iter()
        .map(|p| {
            let mut cmd = init_cmd(&sb, p, &v);
            cmd.stdin(std::process::Stdio::null());
            pyve_tests::retry_busy(|| {
                cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn()
            })
            .unwrap()
        })
        .collect();
    for (child, p) in children.into_iter().zip(&projects) {
        let out = child.wait_with_output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{}: {text}", p.display());
        assert!(!text.contains("WARNING"), "{text}");
        let env = p.join(".venv");
        ok(&py(&env, &["-m", "pip", "check"]), "pip check");
        ok(&py(&env, &["-c", "import distutils.core"]), "import distutils");
    }
    let wheels = cached_wheels(&sb);
    assert_eq!(wheel_names(&wheels), ["packaging", "setuptools", "wheel"], "one copy of each: {wheels:?}");
    assert!(leftovers(&sb).is_empty(), "{:?}", leftovers(&sb));
}

#[test]
fn offline_with_an_empty_cache_makes_the_environment_and_says_what_is_missing() {
    let v = python("3.12");
    let sb = sandbox();
    let p = sb.path().join("p");
    let out = run(&mut offline(init_cmd(&sb, &p, &v)));
    ok(&out, "offline init");
    let env = p.join(".venv");
    assert!(site_packages(&env, &v).join("sitecustomize.py").is_file(), "the shim is written");
    let python = env.join("bin/python");
    let expected = "Could not install setuptools, wheel (pip download failed (exit status 1): ";
    assert!(out.stderr.contains(expected), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "run `{} -m pip install setuptools wheel` when the package index can be reached",
            python.display()
        )),
        "{}",
        out.stderr
    );
    ok(&py(&env, &["-c", "pass"]), "python starts");
}
