//! Dependencies installed at init (venv backend, issue 21 item 2): `requirements.txt`,
//! `[project] dependencies`, the `dev` dependency group, the project itself editable, with pip
//! (`PYVE_NO_UV=1`) and with uv (installed from PyPI into the sandbox, put on PATH), a
//! `uv.lock` written by the real uv, `--no-install-deps`, and a failing requirement. Real
//! pyenv interpreters and real PyPI (small pure-Python packages).

use std::path::{Path, PathBuf};
use std::process::Command;

use pyve_tests::{Outcome, Sandbox, python, run};

fn sandbox() -> Sandbox {
    let sb = Sandbox::new();
    sb.install(&["pyve-venv"]);
    sb
}

fn ok(out: &Outcome, what: &str) {
    assert_eq!(out.code, Some(0), "{what} failed:\nstdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
}

fn all(out: &Outcome) -> String {
    format!("{}{}", out.stdout, out.stderr)
}

fn write(dir: &Path, files: &[(&str, &str)]) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
}

/// `pyve --init` in `project`, with the machine's certificate and index settings.
fn init(sb: &Sandbox, project: &Path, uv: Option<&Path>, extra: &[&str]) -> Outcome {
    let mut cmd = sb.e2e();
    cmd.env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env("PYVE_FORCE_YES", "1")
        .current_dir(project)
        .args(["--init", "--no-direnv", "--python-version", &python("3.11")])
        .args(extra);
    for var in ["SSL_CERT_FILE", "PIP_CERT", "PIP_INDEX_URL", "PIP_FIND_LINKS", "HTTPS_PROXY", "https_proxy"] {
        if let Some(v) = std::env::var_os(var) {
            cmd.env(var, v);
        }
    }
    if let Some(dir) = uv {
        cmd.env_remove("PYVE_NO_UV").env("PATH", format!("{}:/usr/local/bin:/usr/bin:/bin", dir.display()));
    }
    run(&mut cmd)
}

fn imports(project: &Path, module: &str) -> bool {
    run(Command::new(project.join(".venv/bin/python"))
        .args(["-c", &format!("import {module}")])
        .env_remove("PYTHONPATH"))
    .code
        == Some(0)
}

fn state(project: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(project.join(".pyve/state.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    fn find(v: &serde_json::Value) -> Option<serde_json::Value> {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(d) = m.get("deps").filter(|d| d.is_object()) {
                    return Some(d.clone());
                }
                m.values().find_map(find)
            }
            _ => None,
        }
    }
    find(&v).unwrap_or_else(|| panic!("no deps record in state.json: {text}"))
}

/// uv from PyPI into a throwaway venv in the sandbox; its directory holds only `uv`.
fn uv_dir(sb: &Sandbox) -> PathBuf {
    let tools = sb.path().join("uv-venv");
    ok(&run(Command::new(pyve_tests::python_exe(&python("3.11"))).args(["-m", "venv"]).arg(&tools)), "venv for uv");
    ok(
        &run(Command::new(tools.join("bin/python")).args([
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "uv",
        ])),
        "pip install uv",
    );
    let bin = sb.path().join("uv-bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(tools.join("bin/uv"), bin.join("uv")).unwrap();
    bin
}

const PYPROJECT: &str = "[project]\nname = \"demo\"\nversion = \"0.1\"\nrequires-python = \">=3.8\"\n\
    dependencies = [\"iniconfig\"]\n\n[dependency-groups]\ndev = [{include-group = \"test\"}]\ntest = [\"tomli\"]\n";

const BUILDABLE: &str = "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n\n\
    [project]\nname = \"demo-pkg\"\nversion = \"0.1\"\ndependencies = [\"six\"]\n\n[tool.setuptools]\npackages = [\"demo_pkg\"]\n";

fn buildable(dir: &Path) {
    write(dir, &[("pyproject.toml", BUILDABLE)]);
    write(&dir.join("demo_pkg"), &[("__init__.py", "VALUE = 42\n")]);
}

/// Each declaration kind with `installer` (`None`: pip through `PYVE_NO_UV=1`).
fn declarations(sb: &Sandbox, uv: Option<&Path>, label: &str) {
    // requirements.txt
    let p = sb.path().join(format!("req-{label}"));
    write(&p, &[("requirements.txt", "six\n")]);
    let out = init(sb, &p, uv, &[]);
    ok(&out, "init with requirements.txt");
    assert!(all(&out).contains("Installed the project's dependencies"), "{}", all(&out));
    assert!(imports(&p, "six"), "six not importable");
    let rec = state(&p);
    assert_eq!(rec["installed"], true, "{rec}");
    assert_eq!(rec["installer"], if uv.is_some() { "uv" } else { "pip" }, "{rec}");
    assert_eq!(rec["files"]["requirements.txt"].as_str().unwrap().len(), 64, "{rec}");
    let config = std::fs::read_to_string(p.join(".pyve/config")).unwrap();
    assert!(!config.contains("sha") && !config.contains("deps"), "the record leaked into the config: {config}");

    // pyproject dependencies and the dev group (through an include).
    let p = sb.path().join(format!("pyproject-{label}"));
    write(&p, &[("pyproject.toml", PYPROJECT)]);
    let out = init(sb, &p, uv, &[]);
    ok(&out, "init with pyproject dependencies");
    assert!(imports(&p, "iniconfig") && imports(&p, "tomli"), "{}", all(&out));
    assert!(!p.join("demo.egg-info").exists(), "a project without [build-system] is not installed");
    assert_eq!(state(&p)["groups"], serde_json::json!(["dev"]));

    // Other groups on request: `--groups test` installs that group only.
    let p = sb.path().join(format!("groups-{label}"));
    write(&p, &[("pyproject.toml", PYPROJECT)]);
    let out = init(sb, &p, uv, &["--groups", "test"]);
    ok(&out, "init --groups test");
    assert!(imports(&p, "tomli") && imports(&p, "iniconfig"), "{}", all(&out));
    assert_eq!(state(&p)["groups"], serde_json::json!(["test"]));
    assert!(std::fs::read_to_string(p.join(".pyve/config")).unwrap().contains("groups: test"));

    // buildable: editable, importable, and its dependency.
    let p = sb.path().join(format!("pkg-{label}"));
    buildable(&p);
    let out = init(sb, &p, uv, &[]);
    ok(&out, "init of a buildable project");
    assert!(imports(&p, "demo_pkg") && imports(&p, "six"), "{}", all(&out));
    std::fs::write(p.join("demo_pkg/__init__.py"), "VALUE = 43\n").unwrap();
    let v = run(Command::new(p.join(".venv/bin/python")).args(["-c", "import demo_pkg; print(demo_pkg.VALUE)"]));
    assert_eq!(v.stdout.trim(), "43", "not editable: {}", v.stderr);
    assert_eq!(state(&p)["editable"], true);

    // The time of `pyve --init` for 3 dependencies with warm caches (the second project).
    for n in 0..2 {
        let p = sb.path().join(format!("three-{label}-{n}"));
        write(&p, &[("requirements.txt", "six\niniconfig\ntomli\n")]);
        let start = std::time::Instant::now();
        let out = init(sb, &p, uv, &[]);
        let took = start.elapsed();
        ok(&out, "init with 3 dependencies");
        assert!(imports(&p, "six") && imports(&p, "iniconfig") && imports(&p, "tomli"));
        eprintln!("pyve --init, 3 dependencies, {label}, {}: {took:.2?}", if n == 0 { "first" } else { "warm" });
    }
}

#[test]
fn with_pip() {
    let sb = sandbox();
    declarations(&sb, None, "pip");
}

#[test]
fn with_uv() {
    let sb = sandbox();
    let uv = uv_dir(&sb);
    declarations(&sb, Some(&uv), "uv");

    // A uv.lock written by the real uv is installed exactly (the locked version, not the newest).
    let p = sb.path().join("locked");
    write(
        &p,
        &[(
            "pyproject.toml",
            "[project]\nname = \"locked\"\nversion = \"0.1\"\nrequires-python = \">=3.8\"\n\
             dependencies = [\"six<1.17\"]\n\n[dependency-groups]\ndev = [\"iniconfig\"]\n",
        )],
    );
    ok(&run(Command::new(uv.join("uv")).arg("lock").current_dir(&p).env_remove("VIRTUAL_ENV")), "uv lock");
    // Loosen the declaration: the lock, not pyproject, decides.
    let text = std::fs::read_to_string(p.join("pyproject.toml")).unwrap().replace("six<1.17", "six");
    std::fs::write(p.join("pyproject.toml"), text).unwrap();
    let out = init(&sb, &p, Some(&uv), &[]);
    ok(&out, "init with uv.lock");
    let v = run(Command::new(p.join(".venv/bin/python")).args(["-c", "import six, iniconfig; print(six.__version__)"]));
    assert!(v.stdout.trim().starts_with("1.16"), "{v:?}\n{}", all(&out));
    assert!(p.join(".venv/bin/pip").exists(), "uv sync removed pip");
    assert!(!p.join(".venv.tmp").exists() && !p.join("uv.lock.tmp").exists());
    let rec = state(&p);
    assert_eq!(rec["from"], "uv.lock", "{rec}");
    assert!(rec["files"]["uv.lock"].is_string(), "{rec}");
    assert!(!out.stderr.contains("out of date"), "a loosened specifier is not a stale lock: {}", out.stderr);

    // A dependency added to pyproject.toml but not locked: the lock is installed as it is
    // (it wins), with a warning saying what is missing and how to update it.
    let text = std::fs::read_to_string(p.join("pyproject.toml")).unwrap().replace("[\"six\"]", "[\"six\", \"idna\"]");
    std::fs::write(p.join("pyproject.toml"), text).unwrap();
    let out = run(sb
        .e2e()
        .current_dir(&p)
        .env_remove("PYVE_NO_UV")
        .env("PATH", format!("{}:/usr/local/bin:/usr/bin:/bin", uv.display()))
        .arg("sync"));
    ok(&out, "sync with a stale uv.lock");
    assert!(
        out.stderr.contains("WARNING: uv.lock is out of date with pyproject.toml (pyproject.toml declares `idna`, which it does not lock)")
            && out.stderr.contains("run `uv lock` to update it, then `pyve sync`"),
        "{}",
        out.stderr
    );
    assert!(!imports(&p, "idna"), "the lock, not pyproject.toml, decides");

    // A failing requirement with uv.
    let p = sb.path().join("fail-uv");
    write(&p, &[("requirements.txt", "six\npyve-no-such-package-xyz\n")]);
    let out = init(&sb, &p, Some(&uv), &[]);
    ok(&out, "init with a failing requirement (uv)");
    let text = all(&out);
    assert!(text.contains("pyve-no-such-package-xyz") && text.contains("requirements.txt"), "{text}");
    assert!(text.contains("uv pip install -r requirements.txt"), "{text}");
    assert!(p.join(".venv/bin/python").exists());
}

#[test]
fn no_install_deps_and_failures() {
    let sb = sandbox();
    let p = sb.path().join("skip");
    write(&p, &[("requirements.txt", "six\n")]);
    let out = init(&sb, &p, None, &["--no-install-deps"]);
    ok(&out, "init --no-install-deps");
    assert!(!imports(&p, "six"), "installed despite --no-install-deps");
    assert_eq!(state(&p)["installed"], false);
    // --force reinstalls what the project declares; --auto-install-deps is accepted.
    let out = init(&sb, &p, None, &["--force", "--auto-install-deps"]);
    ok(&out, "init --force --auto-install-deps");
    assert!(imports(&p, "six"), "{}", all(&out));

    let p = sb.path().join("fail");
    write(&p, &[("requirements.txt", "six\npyve-no-such-package-xyz==1.0\n")]);
    let out = init(&sb, &p, None, &[]);
    ok(&out, "init with a failing requirement");
    let text = all(&out);
    assert!(
        text.contains("requirement 'pyve-no-such-package-xyz==1.0' from requirements.txt"),
        "the failing requirement is not named: {text}"
    );
    assert!(text.contains("pyve run pip install -r requirements.txt"), "no retry command: {text}");
    assert!(p.join(".venv/bin/python").exists(), "the environment was not kept");
    let rec = state(&p);
    assert_eq!(rec["installed"], false, "{rec}");
}

/// A local requirement whose (in-tree, dependency-free) build backend announces that it runs,
/// by creating `$SLOW_MARK`, then hangs: an interrupt is sure to land during the install.
const SLOW_BACKEND: &str = "import os, time\n\
def _hang(*a, **k):\n    open(os.environ['SLOW_MARK'], 'w').close()\n    time.sleep(120)\n\
get_requires_for_build_wheel = get_requires_for_build_editable = _hang\n";

/// Start `pyve --init` in `p`, interrupt it (SIGINT) once the dependency install has started.
fn interrupted_init(sb: &Sandbox, p: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let mark = sb.path().join("slow-started");
    let _ = std::fs::remove_file(&mark);
    let mut cmd = sb.e2e();
    cmd.env("PYVE_FORCE_YES", "1")
        .env("SLOW_MARK", &mark)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .current_dir(p)
        .args(["--init", "--no-direnv", "--python-version", &python("3.11")])
        .args(extra)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let child = pyve_tests::retry_busy(|| cmd.spawn()).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !mark.exists() {
        assert!(std::time::Instant::now() < deadline, "the install never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().filter_map(|e| e.ok()?.file_name().into_string().ok()).collect();
    v.sort();
    v
}

#[test]
fn an_init_interrupted_while_installing_dependencies_leaves_no_environment() {
    // The environment is made, then the dependencies are installed inside the same `env/create`:
    // cancelled there, the backend must take the environment and its pin back (a first init),
    // or put the previous environment back (`--force`), since pyve, told `cancelled`, does not.
    let sb = sandbox();
    let p = sb.path().join("slow-project");
    write(&p, &[("requirements.txt", "./slow\n")]);
    write(
        &p.join("slow"),
        &[
            ("pyproject.toml", "[build-system]\nrequires = []\nbuild-backend = \"slow\"\nbackend-path = [\".\"]\n"),
            ("slow.py", SLOW_BACKEND),
        ],
    );
    let (code, stderr) = interrupted_init(&sb, &p, &[]);
    assert_eq!(code, Some(130), "{stderr}");
    assert_eq!(names(&p), ["requirements.txt", "slow"], "a first init left things behind: {stderr}");

    // A whole environment, then `--force` interrupted the same way: the previous one stays.
    ok(&init(&sb, &p, None, &["--no-install-deps"]), "init --no-install-deps");
    std::fs::write(p.join(".venv/kept"), "").unwrap();
    let (code, stderr) = interrupted_init(&sb, &p, &["--force"]);
    assert_eq!(code, Some(130), "{stderr}");
    assert!(p.join(".venv/kept").exists(), "the previous environment was lost: {stderr}");
    assert!(p.join(".venv/bin/python").exists(), "{stderr}");
    assert!(!names(&p).iter().any(|n| n.contains("pyve-old") || n.contains("pyve-tmp")), "leftovers: {:?}", names(&p));
}

/// A failed install keeps the environment (docs/decisions.md), but it does not hold what the
/// project declares: `pyve sync --check`, doctor and `--validate` say so until a sync installs
/// it. A local path that does not exist fails without the network.
#[test]
fn a_failed_install_is_out_of_date_until_synced() {
    let sb = sandbox();
    let p = sb.path().join("failed");
    write(&p, &[("requirements.txt", "./no-such-dir\n")]);
    let out = init(&sb, &p, None, &[]);
    ok(&out, "init with a failing requirement");
    assert!(out.stderr.contains("Installing the project's dependencies failed"), "{}", out.stderr);
    assert!(
        out.stderr.trim_end().ends_with(
            "WARNING: the project's dependencies are not installed: the install failed (the error above; `--verbose` shows the installer's whole output); \
             fix it, then run `pyve sync`"
        ),
        "{}",
        out.stderr
    );
    let sync = |args: &[&str]| {
        let mut cmd = sb.e2e();
        cmd.current_dir(&p).args(args);
        run(&mut cmd)
    };
    let out = sync(&["sync", "--check"]);
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("INFO: Out of date: the last install of the project's dependencies failed"),
        "{}",
        out.stdout
    );
    assert!(out.stderr.contains("hint: run `pyve sync`"), "{}", out.stderr);
    let out = sync(&["doctor"]);
    assert!(
        out.stdout.contains("⚠ Environment inputs: out of date: the last install of the project's dependencies failed"),
        "{}",
        out.stdout
    );
    let out = sync(&["--validate"]);
    assert_eq!(out.code, Some(2), "warnings only: {}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("the last install of the project's dependencies failed"), "{}", out.stdout);

    // Fixed: sync installs, and the environment is up to date again.
    write(&p, &[("requirements.txt", "# nothing yet\n")]);
    let out = sync(&["sync"]);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    let out = sync(&["sync", "--check"]);
    assert_eq!((out.code, out.stdout.as_str()), (Some(0), "✓ Environment up to date\n"), "{}", out.stderr);
}

/// The files requirements.txt includes (`-r`, `-c`) are inputs too: a change in one is a
/// change in what the environment is made from.
#[test]
fn included_requirement_files_are_inputs() {
    let sb = sandbox();
    let p = sb.path().join("includes");
    write(
        &p,
        &[("requirements.txt", "-r reqs/base.txt\n--constraint constraints.txt\n"), ("constraints.txt", "# none\n")],
    );
    write(&p.join("reqs"), &[("base.txt", "-r ../common.txt\n"), ("common.txt", "# nothing\n")]);
    std::fs::write(p.join("common.txt"), "# nothing\n").unwrap();
    ok(&init(&sb, &p, None, &[]), "init with included files");
    let check = || run(sb.e2e().current_dir(&p).args(["sync", "--check"]));
    assert_eq!(check().code, Some(0), "{}", check().stdout);
    for file in ["reqs/base.txt", "common.txt", "constraints.txt"] {
        let before = std::fs::read_to_string(p.join(file)).unwrap();
        std::fs::write(p.join(file), format!("{before}# edited\n")).unwrap();
        let out = check();
        assert_eq!(out.code, Some(1), "{file}: {}", out.stdout);
        assert!(out.stdout.contains(&format!("Out of date: {file} changed")), "{}", out.stdout);
        std::fs::write(p.join(file), before).unwrap();
    }
    // reqs/common.txt is not included (base.txt includes ../common.txt): not an input.
    std::fs::write(p.join("reqs/common.txt"), "# edited\n").unwrap();
    assert_eq!(check().code, Some(0), "{}", check().stdout);
}

/// A group that is not declared (`--groups`, then recorded in .pyve/config): the error names
/// the declared ones and the way to choose them; "fix the file" would not help, since the
/// recorded choice would fail again.
#[test]
fn an_undeclared_group_says_which_are_declared() {
    let sb = sandbox();
    let p = sb.path().join("groups");
    write(
        &p,
        &[(
            "pyproject.toml",
            "[project]\nname = \"g\"\nversion = \"0.1\"\n\n[dependency-groups]\ndev = []\nlint = []\n",
        )],
    );
    let out = init(&sb, &p, None, &["--groups", "nosuch"]);
    ok(&out, "init --groups nosuch");
    assert!(
        out.stderr.contains("the dependency group `nosuch` (--groups, recorded as `groups` in .pyve/config) is not declared")
            && out.stderr.contains(
                "choose other groups with `pyve --init --force --groups G1,G2` (declared: dev, lint; `--groups \"\"` for none)"
            ),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("fix the file"), "{}", out.stderr);
    // Chosen again: installed, and up to date.
    ok(&init(&sb, &p, None, &["--force", "--groups", "lint"]), "init --force --groups lint");
    let out = run(sb.e2e().current_dir(&p).args(["sync", "--check"]));
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
}
