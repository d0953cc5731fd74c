//! Issue 17, class 9: no value makes pyve panic. Every environment variable pyve or a bundled
//! plugin reads, and every manifest field a plugin sends, is fed extreme values (empty, huge,
//! control characters, non-UTF-8, negative, 1e300, very long); each command must end with a
//! clear message, never a panic (exit 101, "panicked" on stderr). NUL cannot be passed in an
//! environment value (the kernel takes C strings); the control character \x01 stands for it.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

use pyve_tests::{Outcome, Sandbox, example, run};

#[track_caller]
fn no_panic(out: &Outcome, what: &str) {
    assert!(
        out.code.is_some_and(|c| c != 101) && !out.stderr.contains("panicked"),
        "{what}: exit {:?}\nstdout:\n{:.2000}\nstderr:\n{:.2000}",
        out.code,
        out.stdout,
        out.stderr
    );
}

/// The extreme values, as raw bytes.
fn values() -> Vec<OsString> {
    let mut v: Vec<OsString> = [
        "",
        "-1",
        "0",
        "1e300",
        "-1e300",
        "1e-300",
        "NaN",
        "inf",
        "18446744073709551616",
        "99999999999999999999999",
        "3.99999999999999999999",
        "\u{1}",
        "line\nbreak",
        "$(touch pwned)",
        "relative/dir",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    v.push(OsString::from("9".repeat(70_000)));
    v.push(OsString::from("x".repeat(100_000)));
    v.push(OsString::from_vec(b"\xff\xfe\x80".to_vec()));
    v
}

/// Every variable read by pyve or a bundled plugin (docs/cli.md).
const VARS: &[&str] = &[
    "PYVE_HOME",
    "PYVE_PLUGIN_PATH",
    "PYVE_HANDSHAKE_TIMEOUT",
    "PYVE_RPC_TIMEOUT",
    "PYVE_PROMPT_TIMEOUT",
    "PYVE_DEFAULT_PYTHON_VERSION",
    "PYVE_TEST_PIN_PYTHON",
    "PYVE_VERBOSITY",
    "PYVE_COLOR",
    "PYVE_PROJECT_ROOT",
    "PYVE_BACKEND",
    "PYVE_COMMAND",
    "PYVE_ENV_NAME",
    "PYVE_ENV_PATH",
    "PYVE_FORCE_YES",
    "PYVE_MICROMAMBA_ENGINE",
    "PYVE_NO_UV",
    "PYVE_DISABLE_DISTUTILS_SHIM",
    "PYVE_SKIP_VERSION_CHECK",
    "PYVE_PROMPT_PREFIX",
    "PYVE_VERSION",
    "CI",
    "NO_COLOR",
    "HOME",
    "PATH",
    "SHELL",
    "XDG_CACHE_HOME",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "PYENV_ROOT",
    "RATTLER_CACHE_DIR",
    "CONDA_PKGS_DIRS",
    "CONDA_PREFIX",
    "CONDA_DEFAULT_ENV",
    "MAMBA_ROOT_PREFIX",
];

#[test]
fn no_environment_value_makes_pyve_panic() {
    let sb = Sandbox::new();
    sb.add_plugin(&example("pyve-misbehave"), "pyve-misbehave");
    let vals = values();
    for var in VARS {
        for value in &vals {
            for args in [&["--list"][..], &["--help"], &["--config"], &["nosuch"], &["plugin", "list"]] {
                let out = run(sb.pyve_cmd().env(var, value).args(args));
                no_panic(&out, &format!("{var}={:.40} pyve {args:?}", value.to_string_lossy()));
            }
        }
    }
    assert!(!sb.project().join("pwned").exists(), "no value is run by a shell");
}

/// A huge `PYVE_PROMPT_TIMEOUT` used to panic every prompt (`Duration::from_secs_f64`).
#[test]
fn a_prompt_with_any_timeout_asks_and_ends() {
    let sb = Sandbox::new();
    std::fs::create_dir(sb.project().join(".pyve")).unwrap();
    std::fs::write(sb.project().join(".pyve/config"), "backend: venv\n").unwrap();
    for value in values() {
        let mut cmd = sb.pyve_cmd();
        cmd.env("PYVE_PROMPT_TIMEOUT", &value).arg("--init");
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        child.stdin.take().unwrap().write_all(b"3\n").unwrap();
        let o = child.wait_with_output().unwrap();
        let out = Outcome::of(o, Default::default());
        let what = format!("PYVE_PROMPT_TIMEOUT={:.40} pyve --init", value.to_string_lossy());
        no_panic(&out, &what);
        assert!(out.stdout.contains("Choose [1/2/3]"), "{what}: the menu was shown:\n{}{}", out.stdout, out.stderr);
    }
}

/// A plugin answering its handshake with `manifest` (a JSON object, `name` filled in).
fn scripted(sb: &Sandbox, name: &str, manifest: serde_json::Value) {
    let mut m = manifest;
    m["name"] = name.into();
    m.as_object_mut().unwrap().entry("version").or_insert("0.1.0".into());
    m["protocol"] = "1.0".into();
    let reply = serde_json::json!({"jsonrpc": "2.0", "id": 1, "result": m});
    let file = sb.path().join(format!("{name}.json"));
    std::fs::write(&file, format!("{reply}\n")).unwrap();
    let path = sb.plugins().join(format!("pyve-{name}"));
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nread line\ncat '{}'\nread line\nprintf '%s\\n' '{{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":null}}'\n",
            file.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn no_manifest_field_makes_pyve_panic() {
    let long = "d".repeat(70_000);
    let strings: Vec<serde_json::Value> = vec![
        "".into(),
        long.clone().into(),
        "x\ny".into(),
        "\u{1b}[31mred".into(),
        "$(touch pwned); `id`".into(),
        "../../etc".into(),
        "\u{0}".into(),
    ];
    let mut manifests = Vec::new();
    for s in &strings {
        manifests.push(serde_json::json!({"version": s}));
        manifests.push(serde_json::json!({"description": s}));
        manifests.push(serde_json::json!({"provides": {"commands": [{"name": s, "summary": "x"}]}}));
        manifests.push(serde_json::json!({"provides": {"commands": [{"name": "c", "summary": s}]}}));
        manifests.push(serde_json::json!({"provides": {"backends": [{"name": s}]}}));
        manifests.push(serde_json::json!({"provides": {"backends": [{"name": "b", "description": s}]}}));
        manifests.push(serde_json::json!({"provides": {"backends": [{"name": "b", "selectors": [s]}]}}));
        manifests.push(serde_json::json!({"provides": {"hooks": [{"event": s}]}}));
    }
    let many: Vec<_> = (0..10_000).map(|i| serde_json::json!({"name": format!("c{i}")})).collect();
    manifests.push(serde_json::json!({"provides": {"commands": many}}));
    manifests.push(serde_json::json!({"provides": {"backends": [{"name": "b", "priority": -2147483648i64}]}}));
    manifests.push(serde_json::json!({"provides": {"backends": [{"name": "b", "priority": 1e300}]}}));
    for (i, m) in manifests.into_iter().enumerate() {
        let sb = Sandbox::new();
        scripted(&sb, "odd", m.clone());
        let what = format!("manifest {i}: {:.200}", m.to_string());
        for args in [&["--list"][..], &["--help"], &["plugin", "info", "odd"], &["--config"], &["odd"]] {
            let out = run(sb.pyve_cmd().args(args));
            no_panic(&out, &format!("{what} pyve {args:?}"));
            if args != ["odd"] {
                // (`pyve odd` runs the script, which prints what it prints.)
                assert!(
                    !out.stdout.contains(&long) && !out.stderr.contains(&long),
                    "{what} pyve {args:?}: a huge field is never printed whole"
                );
            }
        }
        assert!(!sb.project().join("pwned").exists());
    }
}

/// A field beyond its bound is refused with a message naming the field and the bound.
#[test]
fn an_oversized_manifest_field_is_refused_by_name() {
    let sb = Sandbox::new();
    scripted(&sb, "odd", serde_json::json!({"description": "d".repeat(70_000)}));
    let out = run(sb.pyve_cmd().args(["plugin", "info", "odd"]));
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(out.stderr.contains("description is 70000 characters long (at most 1024)"), "{}", out.stderr);
    let out = run(sb.pyve_cmd().arg("--list"));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stderr.contains("description is 70000 characters long"), "{}", out.stderr);
    scripted(&sb, "odd", serde_json::json!({"provides": {"commands": [{"name": "a;rm -rf ~"}]}}));
    let out = run(sb.pyve_cmd().args(["plugin", "info", "odd"]));
    assert!(out.stderr.contains("command name 'a;rm -rf ~' is not a plain name"), "{}", out.stderr);
}
