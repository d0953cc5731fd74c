//! End to end: the real `pyve-venv` executable, over the protocol (raw JSON lines) and as the
//! passthrough command, on the real pyenv CPython 3.11, 3.12 and 3.13 (`PYENV_ROOT` read
//! only, HOME a temporary directory).
//!
//! Installing a Python needs network access to python.org, which the test machine does not
//! have: the install path is tested with fake `pyenv`/`asdf` scripts in temporary roots that
//! "install" a version by linking the real installation. Everything else uses the real
//! pyenv installs.

#[path = "../common/mod.rs"]
mod common;
mod host;

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use host::*;
use serde_json::{Value, json};

/// The newest CPython 3 release in the real pyenv root: `(version, "X.Y")`.
fn newest_real() -> (String, String) {
    let mut found: Vec<((u32, u32, u32), String)> = std::fs::read_dir(pyenv_root().join("versions"))
        .expect("pyenv versions")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| {
            let parts: Vec<u32> = n.split('.').map(|p| p.parse().ok()).collect::<Option<_>>()?;
            let [3, minor, micro] = parts[..] else { return None };
            let exe = pyenv_root().join("versions").join(&n).join(format!("bin/python3.{minor}"));
            exe.is_file().then_some(((3, minor, micro), n))
        })
        .collect();
    found.sort();
    let ((_, minor, _), name) = found.pop().expect("a Python 3 in the pyenv root");
    (name, format!("3.{minor}"))
}

fn position(logs: &[String], line: &str) -> usize {
    logs.iter().position(|l| l == line).unwrap_or_else(|| panic!("no log line {line:?} in {logs:#?}"))
}

fn statuses(report: &Value) -> Vec<(String, String)> {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| (c["label"].as_str().unwrap_or("").to_string(), c["status"].as_str().unwrap_or("").to_string()))
        .collect()
}

#[test]
fn manifest_declares_the_backend_and_the_command() {
    let sb = Sandbox::new();
    let h = sb.host(false);
    let m = h.manifest.clone();
    assert_eq!(m["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(m["protocol"], "1.0");
    assert!(m["description"].as_str().is_some_and(|d| !d.is_empty()));
    let backend = &m["provides"]["backends"][0];
    assert_eq!(backend["name"], "venv");
    assert_eq!(backend["selectors"], json!(["pyproject.toml", "requirements*.txt", "setup.py", "setup.cfg"]));
    assert_eq!(backend["priority"], 0);
    assert_eq!(
        m["provides"]["commands"],
        json!([{"name": "python-version", "summary": "Pin the project's Python version"}])
    );
    assert_eq!(m["capabilities"], json!({"cancel": true, "progress": true, "prompt": true}));
    h.shutdown();
}

#[test]
fn create_describe_activation_doctor_remove_on_312() {
    let sb = Sandbox::new();
    let (v, _) = real("3.12");
    let env = sb.project.join(".venv");
    let mut h = sb.host(false);
    let r = h.call("env/create", sb.create_params(Some(&v), json!({}), false)).expect("create");
    assert_eq!(r["env_path"], json!(env));
    assert_eq!(r["created"], true);
    assert_eq!(r["interpreter"], json!(env.join("bin/python")));
    assert_eq!(r["python_version"], v.as_str());
    let activation = json!({"set": {"VIRTUAL_ENV": env}, "unset": ["PYTHONHOME"], "path_prepend": [env.join("bin")]});
    assert_eq!(r["activation"], activation);
    assert_eq!(
        r["settings"],
        json!({"directory": ".venv", "python_version": v, "pinned": {"file": ".python-version", "version": v, "origin": "created"},
               "deps": {"installed": true, "from": "declarations", "files": {}, "groups": [], "editable": false}})
    );
    assert_eq!(r["gitignore"], json!([".venv"]));
    assert_eq!(r["created_files"], json!([".python-version"]));
    let logs = h.logs();
    let order = [
        position(&logs, "info: Using pyenv for Python version management"),
        position(&logs, &format!("success: Created .python-version with Python {v}")),
        position(&logs, "info: Creating virtual environment in '.venv'..."),
        position(&logs, "success: Created virtual environment"),
    ];
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{logs:#?}");
    assert_eq!(sb.read(".python-version"), format!("{v}\n"));
    assert_venv_works(&env, &v, &sb.home);

    let settings = r["settings"].clone();
    let d = h.call("env/describe", sb.env_params(settings.clone())).expect("describe");
    assert_eq!((d["exists"].clone(), d["python_version"].clone()), (json!(true), json!(v)));
    assert_eq!(d["interpreter"], json!(env.join("bin/python")));
    assert!(d["package_count"].as_u64().is_some_and(|n| n >= 1), "{d}");
    assert_eq!(h.call("env/activation", sb.env_params(settings.clone())).expect("activation"), activation);
    let doctor = h.call("doctor/checks", sb.env_params(settings.clone())).expect("doctor");
    let st = statuses(&doctor);
    assert!(st.iter().all(|(_, s)| s == "ok" || s == "info"), "{doctor:#}");
    for label in ["Environment", "Python", "Base interpreter", "Packages", "Version file"] {
        assert!(st.iter().any(|(l, _)| l == label), "no {label} check: {doctor:#}");
    }

    let removed = h.call("env/remove", sb.env_params(settings.clone())).expect("remove");
    assert_eq!(removed["removed"], json!([env, sb.project.join(".python-version")]));
    assert!(removed.get("kept").is_none(), "{removed}");
    assert!(sb.listing().is_empty(), "{:?}", sb.listing());
    assert_eq!(h.call("env/describe", sb.env_params(settings.clone())).expect("describe")["exists"], false);
    let err = h.call("env/activation", sb.env_params(settings.clone())).expect_err("no environment");
    assert_eq!(kind(&err), "not-found");
    assert_eq!(h.call("env/remove", sb.env_params(settings)).expect("remove again")["removed"], json!([]));
    h.shutdown();
}

#[test]
fn minor_requests_and_newest_choice_and_pyve_test_pin_python_is_not_read() {
    let (v311, _) = real("3.11");
    let (newest, _) = newest_real();
    // (name, --python-version, PYVE_TEST_PIN_PYTHON, expected version, why it was chosen).
    // PYVE_TEST_PIN_PYTHON belongs to the original tool's test harness (which always sets it
    // to 1): pyve never reads it, whatever it holds.
    let cases = [
        (
            "minor",
            Some("3.11"),
            None,
            v311.as_str(),
            "the newest installed 3.11 (requested with --python-version 3.11)",
        ),
        ("newest", None, None, newest.as_str(), "the newest installed (pass --python-version to choose)"),
        ("harness-pin", None, Some("1"), newest.as_str(), "the newest installed (pass --python-version to choose)"),
        ("harness-version", None, Some(v311.as_str()), newest.as_str(), "the newest installed"),
        ("flag-wins", Some("3.11"), Some("1"), v311.as_str(), "(requested with --python-version 3.11)"),
    ];
    for (name, flag, test_pin, expected, why) in cases {
        let mut sb = Sandbox::new();
        if let Some(p) = test_pin {
            sb.set("PYVE_TEST_PIN_PYTHON", p);
        }
        let mut h = sb.host(false);
        let r =
            h.call("env/create", sb.create_params(flag, json!({}), false)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(r["python_version"], expected, "{name}");
        assert!(
            h.logged("info", &format!("Using Python {expected}")) && h.logged("info", why),
            "{name}: {:#?}",
            h.logs()
        );
        assert_eq!(sb.read(".python-version"), format!("{expected}\n"), "{name}");
        assert_venv_works(&sb.project.join(".venv"), expected, &sb.home);
        h.shutdown();
    }
}

#[test]
fn an_existing_pin_is_honoured_and_only_updated_when_asked() {
    let sb = Sandbox::new();
    let (v311, _) = real("3.11");
    let (v312, _) = real("3.12");
    std::fs::write(sb.project.join(".python-version"), format!("{v311}\n")).expect("pin");
    let pin_path = sb.project.join(".python-version");
    let mut h = sb.host(false);
    let r = h.call("env/create", sb.create_params(None, json!({}), false)).expect("create");
    assert_eq!(r["python_version"], v311.as_str());
    assert!(r.get("created_files").is_none(), "{r}");
    assert!(r["settings"].get("pinned").is_none(), "{r}");
    assert!(h.logged("info", &format!("Using Python {v311} (pinned in .python-version)")), "{:#?}", h.logs());
    assert_eq!(sb.read(".python-version"), format!("{v311}\n"));
    let removed = h.call("env/remove", sb.env_params(r["settings"].clone())).expect("remove");
    assert_eq!(removed["kept"], json!([{"path": pin_path, "reason": "not created by pyve"}]));
    assert_eq!(sb.read(".python-version"), format!("{v311}\n"));

    // An explicit, different version updates the pin, and says so (the original kept the old
    // pin silently); the pin is still the user's file.
    h.clear();
    let r = h.call("env/create", sb.create_params(Some(&v312), json!({}), false)).expect("create");
    assert!(h.logged("success", &format!("Updated .python-version: {v311} → {v312}")), "{:#?}", h.logs());
    assert!(r.get("created_files").is_none(), "{r}");
    assert_eq!(
        r["settings"]["pinned"],
        json!({"file": ".python-version", "version": v312, "origin": "updated", "previous": v311})
    );
    assert_eq!(sb.read(".python-version"), format!("{v312}\n"));
    let removed = h.call("env/remove", sb.env_params(r["settings"].clone())).expect("remove");
    assert_eq!(removed["kept"][0]["path"], json!(pin_path));
    assert!(removed["kept"][0]["reason"].as_str().is_some_and(|r| r.contains("existed before pyve")), "{removed}");
    assert_eq!(sb.listing(), [".python-version"]);
    h.shutdown();
}

#[test]
fn an_existing_venv_is_kept_and_replace_swaps_it_keeping_the_old_on_failure() {
    let sb = Sandbox::new();
    let (v311, _) = real("3.11");
    let (v312, _) = real("3.12");
    let env = sb.project.join(".venv");
    let cfg_version = || {
        let text = std::fs::read_to_string(env.join("pyvenv.cfg")).expect("pyvenv.cfg");
        text.lines().find_map(|l| l.strip_prefix("version = ").map(str::to_string)).expect("version")
    };
    let mut h = sb.host(false);
    let first = h.call("env/create", sb.create_params(Some("3.11"), json!({}), false)).expect("create");

    h.clear();
    let kept = h.call("env/create", sb.create_params(Some("3.12"), first["settings"].clone(), false)).expect("keep");
    assert_eq!((kept["created"].clone(), kept["python_version"].clone()), (json!(false), json!(v311)));
    assert!(h.logged("info", "Virtual environment '.venv' already exists, skipping"), "{:#?}", h.logs());
    assert!(h.logged("warn", &format!("uses Python {v311}, but Python 3.12 is requested")), "{:#?}", h.logs());
    assert!(h.logged("warn", "pyve --init --force"));
    assert_eq!(kept["created_files"], json!([".python-version"]));
    assert_eq!(cfg_version(), v311);
    assert_eq!(sb.read(".python-version"), format!("{v311}\n"));

    h.clear();
    let replaced =
        h.call("env/create", sb.create_params(Some("3.12"), kept["settings"].clone(), true)).expect("replace");
    assert_eq!((replaced["created"].clone(), replaced["python_version"].clone()), (json!(true), json!(v312)));
    assert!(h.logged("success", "Replaced virtual environment '.venv'"), "{:#?}", h.logs());
    assert_eq!(cfg_version(), v312);
    assert_venv_works(&env, &v312, &sb.home);
    assert_eq!(sb.listing(), [".python-version", ".venv"], "the old environment is gone, nothing left aside");
    // pyve created the pin and updated it: it is still pyve's.
    assert_eq!(replaced["settings"]["pinned"]["origin"], "created");
    assert_eq!(replaced["created_files"], json!([".python-version"]));

    // A version that does not exist: the error names it and lists what is installed; the
    // environment and the pin are untouched.
    let err =
        h.call("env/create", sb.create_params(Some("3.99.0"), replaced["settings"].clone(), true)).expect_err("3.99.0");
    assert_eq!((kind(&err), err["code"].clone()), ("python-not-available", json!(-32000)));
    let msg = err["message"].as_str().expect("message");
    assert!(msg.contains("Python 3.99.0 (requested with --python-version) is not installed"), "{msg}");
    // The original's words for it (reference 3.10: `is not available for installation`).
    assert!(msg.contains("is not available for installation with pyenv"), "{msg}");
    assert!(msg.contains("installed with pyenv:") && msg.contains(&v311) && msg.contains(&v312), "{msg}");
    assert!(err["data"]["hint"].as_str().is_some_and(|h| h.contains("--python-version")), "{err}");
    assert_eq!(cfg_version(), v312);
    assert_venv_works(&env, &v312, &sb.home);
    assert_eq!(sb.listing(), [".python-version", ".venv"]);
    assert_eq!(sb.read(".python-version"), format!("{v312}\n"));

    let removed = h.call("env/remove", sb.env_params(replaced["settings"].clone())).expect("remove");
    assert_eq!(removed["removed"], json!([env, sb.project.join(".python-version")]));
    assert!(sb.listing().is_empty());
    h.shutdown();
}

#[test]
fn without_a_version_manager_real_interpreters_on_path_are_used() {
    let mut sb = Sandbox::new();
    let (v312, dir) = real("3.12");
    let (v311, _) = real("3.11");
    let empty = sb.path("empty-pyenv");
    let bin = sb.path("bin");
    std::fs::create_dir_all(&empty).expect("mkdir");
    std::fs::create_dir_all(&bin).expect("mkdir");
    symlink(dir.join("bin/python3.12"), bin.join("python3.12")).expect("link");
    sb.set("PYENV_ROOT", &empty);
    // A relative entry and pyenv's shims (which would cost 54 ms a call) are skipped.
    sb.set("PATH", format!("relative/bin:{}:{}", pyenv_root().join("shims").display(), bin.display()));
    let env = sb.project.join(".venv");
    let mut h = sb.host(false);
    let r = h.call("env/create", sb.create_params(None, json!({}), false)).expect("create");
    assert_eq!(r["python_version"], v312.as_str());
    assert!(h.logged("info", "No Python version manager found"), "{:#?}", h.logs());
    assert!(h.logged("info", &format!("Using Python {v312}, the newest installed on PATH")), "{:#?}", h.logs());
    assert!(r.get("created_files").is_none() && r["settings"].get("pinned").is_none(), "{r}");
    assert_eq!(sb.listing(), [".venv"], "no version file without a version manager");
    assert_eq!(std::fs::read_link(env.join("bin/python3.12")).expect("link"), bin.join("python3.12"));
    assert_venv_works(&env, &v312, &sb.home);

    h.call("env/remove", sb.env_params(r["settings"].clone())).expect("remove");
    let r = h.call("env/create", sb.create_params(Some("3.12"), json!({}), false)).expect("create 3.12");
    assert_eq!(r["python_version"], v312.as_str());

    let err = h.call("env/create", sb.create_params(Some(&v311), json!({}), true)).expect_err("no 3.11 on PATH");
    assert_eq!(kind(&err), "python-not-available");
    let msg = err["message"].as_str().expect("message");
    assert!(msg.contains(&format!("{v312} ({})", bin.join("python3.12").display())), "{msg}");
    assert_eq!(err["data"]["details"]["provider"], "PATH");
    h.shutdown();

    let out = sb.python_version(&["3.12"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no Python version manager was found"), "{stderr}");
    assert!(stderr.contains("hint: "), "{stderr}");
}

#[test]
fn invalid_directories_versions_and_roots_are_refused() {
    let sb = Sandbox::new();
    let mut h = sb.host(false);
    for dir in [
        "",
        ".",
        "..",
        ".pyve",
        ".git",
        ".env",
        ".envrc",
        ".gitignore",
        ".tool-versions",
        ".python-version",
        "a/b",
        "../x",
        "/tmp/x",
        "x y",
    ] {
        for (method, params) in [
            ("env/create", sb.create_params(None, json!({"directory": dir}), false)),
            ("env/remove", sb.env_params(json!({"directory": dir}))),
            ("env/describe", sb.env_params(json!({"directory": dir}))),
        ] {
            let err = h.call(method, params).expect_err(dir);
            assert_eq!((kind(&err), err["code"].clone()), ("invalid-params", json!(-32602)), "{method} {dir:?}: {err}");
            assert!(err["data"]["hint"].is_string(), "{err}");
        }
    }
    let err = h.call("env/create", sb.create_params(None, json!({"directory": 5}), false)).expect_err("number");
    assert_eq!(kind(&err), "invalid-params");
    for v in ["3", "3.12.1.4", "latest", "3.12.1rc1", "", " 3.12"] {
        let err = h.call("env/create", sb.create_params(Some(v), json!({}), false)).expect_err(v);
        assert_eq!(kind(&err), "invalid-params", "{v:?}");
        assert!(err["message"].as_str().is_some_and(|m| m.contains(&format!("'{v}'"))), "{err}");
    }
    let err =
        h.call("env/create", sb.create_params(None, json!({"python_version": "banana"}), false)).expect_err("config");
    assert_eq!(kind(&err), "invalid-params");
    assert!(err["message"].as_str().is_some_and(|m| m.contains(".pyve/config")), "{err}");
    let err = h
        .call("env/create", json!({"project_root": "relative/project", "backend": "venv"}))
        .expect_err("relative root");
    assert_eq!(kind(&err), "invalid-params");
    assert!(sb.listing().is_empty(), "{:?}", sb.listing());
    h.shutdown();
}

#[test]
fn what_is_not_a_venv_is_never_touched() {
    let sb = Sandbox::new();
    let dir = sb.project.join(".venv");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("keep.txt"), "mine").expect("write");
    let elsewhere = sb.path("elsewhere");
    std::fs::create_dir_all(&elsewhere).expect("mkdir");
    std::fs::write(elsewhere.join("pyvenv.cfg"), "home = /usr/bin\n").expect("write");
    symlink(&elsewhere, sb.project.join("linked")).expect("link");
    let mut h = sb.host(false);
    for replace in [false, true] {
        let err = h.call("env/create", sb.create_params(None, json!({}), replace)).expect_err("not a venv");
        assert_eq!(kind(&err), "not-a-venv", "{err}");
        assert!(err["message"].as_str().is_some_and(|m| m.contains("no pyvenv.cfg")), "{err}");
    }
    assert_eq!(kind(&h.call("env/remove", sb.env_params(json!({}))).expect_err("remove")), "not-a-venv");
    assert_eq!(kind(&h.call("env/activation", sb.env_params(json!({}))).expect_err("activation")), "not-a-venv");
    assert_eq!(h.call("env/describe", sb.env_params(json!({}))).expect("describe")["exists"], false);
    let err = h.call("env/remove", sb.env_params(json!({"directory": "linked"}))).expect_err("a symlink");
    assert!(err["message"].as_str().is_some_and(|m| m.contains("symbolic link")), "{err}");
    assert_eq!(std::fs::read_to_string(dir.join("keep.txt")).expect("kept"), "mine");
    assert!(elsewhere.join("pyvenv.cfg").is_file());
    assert_eq!(sb.listing(), [".venv", "linked"]);
    h.shutdown();
}

#[test]
fn python_version_command_pins_and_overwrites() {
    let sb = Sandbox::new();
    let (v311, _) = real("3.11");
    let (v312, _) = real("3.12");
    let text = |o: &std::process::Output| String::from_utf8_lossy(&o.stderr).into_owned();
    let report = |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).into_owned();

    let out = sb.python_version(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out),
        "ERROR: --python-version requires a version argument\nERROR: Usage: pyve --python-version <version>\n\
         ERROR: Example: pyve --python-version 3.13.7\n"
    );
    let out = sb.python_version(&["3.1x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("ERROR: Invalid Python version format '3.1x'"), "{}", text(&out));

    let out = sb.python_version(&[&v311]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(report(&out).contains(&format!("✓ Set Python {v311} in .python-version")), "{}", report(&out));
    assert!(out.stderr.is_empty(), "{}", text(&out));
    assert_eq!(sb.read(".python-version"), format!("{v311}\n"));

    let out = sb.python_version(&["3.12"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(report(&out).contains(&format!("✓ Set Python {v312} in .python-version")), "{}", report(&out));
    assert!(report(&out).contains(&format!("INFO: .python-version pinned {v311} before")), "{}", report(&out));
    assert_eq!(sb.read(".python-version"), format!("{v312}\n"));

    let out = sb.python_version(&["3.99.0"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("ERROR: Python 3.99.0 (requested with --python-version) is not installed"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("\nhint: "), "{}", text(&out));
    assert_eq!(sb.read(".python-version"), format!("{v312}\n"));

    let out = sb.python_version(&["--version"]);
    assert_eq!((out.status.code(), String::from_utf8_lossy(&out.stdout).trim()), (Some(0), "pyve-venv 0.1.0"));
    assert_eq!(sb.listing(), [".python-version"]);
}

/// A fake pyenv root: the real `short` linked as installed, and a `bin/pyenv` that offers
/// `offer` and "installs" it by linking the real installation (after `sleep` seconds).
fn fake_pyenv(sb: &mut Sandbox, installed: &str, offer: &(String, PathBuf), sleep: u32) -> PathBuf {
    let root = sb.path("fake-pyenv");
    let (v, dir) = real(installed);
    std::fs::create_dir_all(root.join("versions")).expect("mkdir");
    symlink(dir, root.join("versions").join(v)).expect("link");
    write_script(
        &root.join("bin/pyenv"),
        &format!(
            "#!/bin/sh\n# A fake pyenv for tests: it never downloads anything.\ncase \"$1 $2\" in\n\
             \x20 'install --list') printf 'Available versions:\\n  3.11.0\\n  {v}\\n  3.14-dev\\n' ;;\n\
             \x20 'install -s')\n    echo \"Downloading Python-$3.tar.xz...\"\n    echo $$ > \"$PYENV_ROOT/install.pid\"\n\
             \x20   sleep {sleep}\n    ln -s '{dir}' \"$PYENV_ROOT/versions/$3\"\n    echo \"Installed Python-$3\" ;;\n\
             \x20 *) echo \"fake pyenv: unexpected $*\" >&2; exit 2 ;;\nesac\n",
            v = offer.0,
            dir = offer.1.display()
        ),
    );
    sb.set("PYENV_ROOT", &root);
    root
}

#[test]
fn install_through_rpc_asks_or_refuses_or_installs_with_ci() {
    let offer = real("3.12");
    let v = offer.0.clone();

    // Not interactive, no CI/PYVE_FORCE_YES: refused at once, nothing installed or written.
    let mut sb = Sandbox::new();
    let root = fake_pyenv(&mut sb, "3.11", &offer, 0);
    let mut h = sb.host(false);
    let err = h.call("env/create", sb.create_params(Some("3.12"), json!({}), false)).expect_err("not interactive");
    assert_eq!(kind(&err), "not-interactive", "{err}");
    let hint = err["data"]["hint"].as_str().expect("hint");
    assert!(hint.contains(&format!("pyenv install {v}")) && hint.contains("PYVE_FORCE_YES=1"), "{hint}");
    assert!(hint.contains(&format!("pyve --python-version {v}")), "{hint}");
    assert!(h.logged("info", &format!("Python {v} is not installed but is available via pyenv.")));
    assert!(h.prompts.is_empty());
    assert!(!root.join("versions").join(&v).exists() && sb.listing().is_empty());

    // Interactive: asked; "n" declines.
    let mut h = sb.host(true);
    h.answer = Some("n".into());
    let err = h.call("env/create", sb.create_params(Some("3.12"), json!({}), false)).expect_err("declined");
    assert_eq!(kind(&err), "install-declined", "{err}");
    assert_eq!(h.prompts[0]["message"], format!("Install Python {v} now with pyenv?"));
    assert_eq!(h.prompts[0]["default"], "n");
    assert!(!root.join("versions").join(&v).exists() && sb.listing().is_empty());

    // "y" installs, with progress, the installer's output on stderr (never on stdout).
    h.answer = Some("y".into());
    h.clear();
    let r = h.call("env/create", sb.create_params(Some("3.12"), json!({}), false)).expect("installed");
    assert_eq!(r["python_version"], v.as_str());
    assert!(h.notifications.iter().any(|n| n["method"] == "$/progress"
        && n["params"]["kind"] == "begin"
        && n["params"]["title"] == format!("Installing Python {v} with pyenv")));
    assert!(h.logged("success", &format!("Python {v} installed successfully.")), "{:#?}", h.logs());
    assert!(root.join("versions").join(&v).exists());
    assert_venv_works(&sb.project.join(".venv"), &v, &sb.home);
    assert_eq!(sb.read(".python-version"), format!("{v}\n"));
    let stderr = h.shutdown();
    assert!(stderr.contains(&format!("Downloading Python-{v}.tar.xz")), "{stderr}");

    // CI: installed without asking.
    let mut sb = Sandbox::new();
    let root = fake_pyenv(&mut sb, "3.11", &offer, 0);
    sb.set("CI", "true");
    let mut h = sb.host(false);
    let r = h.call("env/create", sb.create_params(Some(&v), json!({}), false)).expect("installed in CI");
    assert_eq!(r["python_version"], v.as_str());
    assert!(h.prompts.is_empty() && h.logged("info", "Auto-installing"), "{:#?}", h.logs());
    assert!(root.join("versions").join(&v).exists());
    h.shutdown();
}

#[test]
fn install_through_the_command_refuses_without_an_answer_unless_forced() {
    let offer = real("3.12");
    let v = offer.0.clone();
    let mut sb = Sandbox::new();
    let root = fake_pyenv(&mut sb, "3.11", &offer, 0);
    let out = sb.python_version(&["3.12"]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("nobody answered whether to: the input ended before an answer"), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("Install Python {v} now with pyenv? [y/N]: ")));
    assert!(stderr.contains(&format!("hint: install it first (`pyenv install {v}`)")), "{stderr}");
    assert!(stderr.contains("PYVE_FORCE_YES=1"), "{stderr}");
    assert!(!root.join("versions").join(&v).exists() && sb.listing().is_empty());

    // Answered "n" through a pipe: declined, nothing installed.
    let out = sb.python_version_with_input(&["3.12"], "n\n");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("now with pyenv? [y/N]: n\nINFO: Installation cancelled."));
    assert!(stderr.contains("installing it with pyenv was declined"), "{stderr}");
    assert!(!root.join("versions").join(&v).exists() && sb.listing().is_empty());

    sb.set("PYVE_FORCE_YES", "1");
    let out = sb.python_version(&["3.12"]);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr).into_owned());
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains(&format!("Downloading Python-{v}.tar.xz")), "the installer's output goes to stderr");
    assert!(!stdout.contains("Downloading"), "{stdout}");
    assert!(stdout.contains(&format!("✓ Python {v} installed successfully.")), "{stdout}");
    assert!(stdout.contains(&format!("✓ Set Python {v} in .python-version")), "{stdout}");
    assert_eq!(sb.read(".python-version"), format!("{v}\n"));
}

#[test]
fn cancelling_an_install_stops_the_installer_and_leaves_nothing() {
    let offer = real("3.12");
    let v = offer.0.clone();
    let mut sb = Sandbox::new();
    let root = fake_pyenv(&mut sb, "3.11", &offer, 30);
    sb.set("CI", "1");
    let mut h = sb.host(false);
    let id = h.send("env/create", sb.create_params(Some("3.12"), json!({}), false));
    h.wait_notification(|n| n["method"] == "$/progress" && n["params"]["kind"] == "begin");
    let pid_file = root.join("install.pid");
    let started = Instant::now();
    while !pid_file.exists() && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = std::fs::read_to_string(&pid_file).expect("the installer started").trim().to_string();
    h.notify("$/cancel", json!({"id": id}));
    let err = h.wait(id).expect_err("cancelled");
    assert_eq!((kind(&err), err["code"].clone()), ("cancelled", json!(-32800)));
    assert!(started.elapsed() < Duration::from_secs(10), "cancellation took {:?}", started.elapsed());
    // Gone, or a zombie waiting to be reaped by whoever inherited it (under load that takes a
    // moment): either way no longer running.
    let running = |pid: &str| {
        std::fs::read_to_string(Path::new("/proc").join(pid).join("stat"))
            .is_ok_and(|stat| stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')))
    };
    let stopping = Instant::now();
    while running(&pid) && stopping.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!running(&pid), "the installer (pid {pid}) is still running");
    std::thread::sleep(Duration::from_millis(200));
    assert!(!root.join("versions").join(&v).exists());
    assert!(sb.listing().is_empty(), "{:?}", sb.listing());
    h.shutdown();
}

#[test]
fn asdf_wins_and_tool_versions_keeps_other_tools() {
    let mut sb = Sandbox::new();
    let (v312, dir312) = real("3.12");
    let (v311, dir311) = real("3.11");
    let data = sb.path("asdf");
    std::fs::create_dir_all(data.join("plugins/python")).expect("mkdir");
    std::fs::create_dir_all(data.join("installs/python")).expect("mkdir");
    symlink(&dir312, data.join("installs/python").join(&v312)).expect("link");
    write_script(
        &data.join("bin/asdf"),
        &format!(
            "#!/bin/sh\n# A fake asdf for tests.\ncase \"$1 $2\" in\n  'list all') printf '3.11.0\\n{v311}\\n' ;;\n\
             \x20 'install python') echo \"Downloading $3\"; ln -s '{}' \"$ASDF_DATA_DIR/installs/python/$3\" ;;\n\
             \x20 *) exit 2 ;;\nesac\n",
            dir311.display()
        ),
    );
    sb.set("ASDF_DATA_DIR", &data);
    std::fs::write(sb.project.join(".tool-versions"), "nodejs 20.11.0").expect("write");
    let mut h = sb.host(false);
    let r = h.call("env/create", sb.create_params(Some(&v312), json!({}), false)).expect("create");
    assert!(h.logged("info", "Using asdf for Python version management"), "{:#?}", h.logs());
    assert!(h.logged("success", &format!("Added Python {v312} to .tool-versions")), "{:#?}", h.logs());
    assert_eq!(sb.read(".tool-versions"), format!("nodejs 20.11.0\npython {v312}\n"));
    assert!(r.get("created_files").is_none(), "{r}");
    assert_eq!(r["settings"]["pinned"], json!({"file": ".tool-versions", "version": v312, "origin": "added"}));
    assert_eq!(
        std::fs::read_link(sb.project.join(".venv/bin/python3.12")).expect("link"),
        data.join("installs/python").join(&v312).join("bin/python3.12")
    );
    let removed = h.call("env/remove", sb.env_params(r["settings"].clone())).expect("remove");
    assert_eq!(removed["kept"][0]["path"], json!(sb.project.join(".tool-versions")));
    assert_eq!(sb.read(".tool-versions"), "nodejs 20.11.0\n");
    h.shutdown();

    // A missing version through asdf, in CI.
    sb.set("CI", "1");
    let mut h = sb.host(false);
    let r = h.call("env/create", sb.create_params(Some("3.11"), json!({}), false)).expect("installed");
    assert_eq!(r["python_version"], v311.as_str());
    assert_eq!(sb.read(".tool-versions"), format!("nodejs 20.11.0\npython {v311}\n"));
    let stderr = h.shutdown();
    assert!(stderr.contains(&format!("Downloading {v311}")), "{stderr}");
}

#[test]
fn doctor_reports_a_base_interpreter_that_was_uninstalled() {
    let mut sb = Sandbox::new();
    let (v312, dir) = real("3.12");
    let root = sb.path("fake-pyenv");
    std::fs::create_dir_all(root.join("versions")).expect("mkdir");
    symlink(&dir, root.join("versions").join(&v312)).expect("link");
    sb.set("PYENV_ROOT", &root);
    let mut h = sb.host(false);
    let r = h.call("env/create", sb.create_params(None, json!({}), false)).expect("create");
    assert_eq!(r["python_version"], v312.as_str());
    std::fs::remove_file(root.join("versions").join(&v312)).expect("uninstall");
    let report = h.call("doctor/checks", sb.env_params(r["settings"].clone())).expect("doctor");
    let base = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["label"] == "Base interpreter")
        .expect("base check")
        .clone();
    assert_eq!(base["status"], "error", "{report:#}");
    assert!(base["detail"].as_str().is_some_and(|d| d.contains("no longer exists")), "{base}");
    assert!(base["hint"].as_str().is_some_and(|h| h.contains("pyve --init --force")), "{base}");
    // The base was a pyenv install (under $PYENV_ROOT/versions): pyenv's command.
    assert!(base["hint"].as_str().is_some_and(|h| h.contains(&format!("`pyenv install {v312}`"))), "{base}");
    let pin = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["label"] == "Version file")
        .expect("pin check")
        .clone();
    assert_eq!(pin["status"], "warn", "{report:#}");
    assert!(pin["detail"].as_str().is_some_and(|d| d.contains("has not installed")), "{pin}");
    h.shutdown();
}

#[test]
fn an_interrupted_replacement_is_restored() {
    let sb = Sandbox::new();
    let (v312, _) = real("3.12");
    let mut h = sb.host(false);
    let r = h.call("env/create", sb.create_params(Some("3.12"), json!({}), false)).expect("create");
    // What a replacement killed between moving the old environment aside and renaming the
    // new one in leaves behind (a process id that cannot be running).
    let aside = sb.project.join("..venv.pyve-old-999999999-0");
    std::fs::rename(sb.project.join(".venv"), &aside).expect("rename");
    h.clear();
    let d = h.call("env/describe", sb.env_params(r["settings"].clone())).expect("describe");
    assert_eq!((d["exists"].clone(), d["python_version"].clone()), (json!(true), json!(v312)));
    assert!(h.logged("warn", "Restored virtual environment '.venv'"), "{:#?}", h.logs());
    assert_eq!(sb.listing(), [".python-version", ".venv"]);
    h.shutdown();
}
