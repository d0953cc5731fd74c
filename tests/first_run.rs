//! The first minutes of a new user: output piped into a reader that stops early (`| head -1`)
//! and Ctrl-C at a prompt.

use std::process::Command;

use pyve_tests::Sandbox;

/// The printing commands, each run as `pyve ARGS | READER` where the reader has closed the
/// pipe before pyve writes: pyve stops writing quietly (no panic, no "Broken pipe") and ends
/// with the exit code it has when its output is read.
#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    let sb = Sandbox::new();
    let cases: &[&[&str]] = &[
        &["doctor"],
        &["doctor", "--json"],
        &["--validate"],
        &["--config"],
        &["--config", "--json"],
        &["--list"],
        &["--help"],
        &["-v"],
        &["--version"],
        &["-q", "--version"],
        &[],
    ];
    for args in cases {
        let mut read = sb.pyve_cmd();
        read.args(*args);
        let expected = read.output().unwrap().status.code();

        // The reader closes its end at once; pyve starts a moment later, so that its first
        // write meets a pipe without a reader (EPIPE) every time.
        let script = r#"{ sleep 0.2; exec "$0" "$@"; } 2>"$STDERR_FILE" | { exec <&-; sleep 0.5; }
echo "status=${PIPESTATUS[0]}""#;
        let stderr_file = sb.path().join("stderr");
        let mut cmd = Command::new("bash");
        sb.isolate(&mut cmd);
        cmd.env("STDERR_FILE", &stderr_file).arg("-c").arg(script).arg(sb.pyve()).args(*args);
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = std::fs::read_to_string(&stderr_file).unwrap();
        assert_eq!(
            stdout.trim(),
            format!("status={}", expected.unwrap()),
            "pyve {args:?} into a closed pipe: stderr:\n{stderr}"
        );
        assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "pyve {args:?}:\n{stderr}");
    }
}

/// The same with `head -1`, as a user types it (the reader may or may not have gone when pyve
/// writes; either way nothing panics).
#[test]
fn piping_into_head_never_panics() {
    let sb = Sandbox::new();
    for args in ["doctor", "--validate", "--config --json", "--list", "--help"] {
        let mut cmd = Command::new("bash");
        sb.isolate(&mut cmd);
        cmd.arg("-c").arg(format!(r#""$0" {args} | head -c1 >/dev/null; echo "${{PIPESTATUS[0]}}""#)).arg(sb.pyve());
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let status: i32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        assert_ne!(status, 101, "pyve {args} | head -c1:\n{stderr}");
        assert!(!stderr.contains("panicked"), "pyve {args} | head -c1:\n{stderr}");
    }
}

/// A project with a hand-made environment: `.pyve/config`, `.pyve/state.json` and `.venv/bin`.
fn project_with_env(sb: &Sandbox) {
    let root = sb.project();
    std::fs::create_dir_all(root.join(".pyve")).unwrap();
    std::fs::create_dir_all(root.join(".venv/bin")).unwrap();
    std::fs::write(root.join(".pyve/config"), "pyve_version: \"0.9.2\"\nbackend: venv\n").unwrap();
    let state = serde_json::json!({
        "format": 1,
        "pyve_version": "0.9.2",
        "project_root": root,
        "backend": "venv",
        "plugin": "venv",
        "plugin_version": "0.1.0",
        "env_path": root.join(".venv"),
        "activation": {"set": {"VIRTUAL_ENV": root.join(".venv")}, "path_prepend": [root.join(".venv/bin")]},
    });
    std::fs::write(root.join(".pyve/state.json"), state.to_string()).unwrap();
}

/// `pyve run -- CMD` runs CMD, as `uv run --`, `cargo run --` and `npm run --` do; also with
/// pyve's options before `run`.
#[test]
fn run_accepts_a_double_dash_before_the_command() {
    let sb = Sandbox::new();
    project_with_env(&sb);
    for args in [
        &["run", "--"][..],
        &["--verbose", "run", "--"],
        &["-q", "run", "--"],
        &["run"],
        &["run", "--verbose", "--"],
        &["run", "-q"],
    ] {
        let out = sb.pyve_cmd().args(args).args(["sh", "-c", "echo \"ran in $VIRTUAL_ENV\"; exit 3"]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "pyve {args:?} sh ...:\n{stderr}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("ran in {}\n", sb.project().join(".venv").display()),
            "pyve {args:?} sh ...:\n{stderr}"
        );
    }
}
