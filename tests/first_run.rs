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

/// An initialised project (config only, as the original wrote it): `pyve --init` shows the
/// re-init menu.
fn initialised(sb: &Sandbox) -> String {
    let config = "pyve_version: \"0.8.7\"\nbackend: venv\n";
    std::fs::create_dir_all(sb.project().join(".pyve")).unwrap();
    std::fs::write(sb.project().join(".pyve/config"), config).unwrap();
    config.to_owned()
}

/// What the project holds, to show that an interrupted command changed nothing.
fn listing(sb: &Sandbox) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![sb.project()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            // The project lock every command taking it leaves (as a cancel with "3" does).
            if p.ends_with(".pyve/lock") {
                continue;
            }
            out.push(p.strip_prefix(sb.project()).unwrap().display().to_string());
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Ctrl-C at the re-init menu, typed at a real terminal (a pseudo-terminal driven by
/// python3's `pty`): the question is cancelled at once (not when Enter is pressed), pyve exits
/// 130 and the project is as it was.
#[test]
fn ctrl_c_at_a_prompt_in_a_terminal_cancels() {
    let sb = Sandbox::new();
    let config = initialised(&sb);
    let before = listing(&sb);
    let driver = r#"
import os, pty, sys, time, select
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1], "--init"])
seen = b""
deadline = time.time() + 20
while b"Choose [1/2/3]:" not in seen and time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.5)
    if r:
        try:
            seen += os.read(fd, 4096)
        except OSError:
            break
time.sleep(0.3)
os.write(fd, b"\x03")  # Ctrl-C, as the terminal's line discipline turns it into SIGINT
sent = time.time()
while True:
    r, _, _ = select.select([fd], [], [], 0.5)
    if r:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        seen += data
    elif time.time() - sent > 10:
        os.kill(pid, 9)
        break
_, status = os.waitpid(pid, 0)
sys.stdout.write(seen.decode(errors="replace"))
code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
sys.stdout.write("\nexit=%d after=%.1f\n" % (code, time.time() - sent))
"#;
    let out = python_driver(&sb).arg("-c").arg(driver).arg(sb.pyve()).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Choose [1/2/3]:"), "no menu:\n{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("\nexit=130 "), "Ctrl-C at the menu:\n{text}");
    assert!(text.contains("interrupted at the prompt"), "{text}");
    assert!(!text.contains("panicked"), "{text}");
    // One terminal for stdout and stderr: each fact of the menu is said once.
    for fact in ["Recorded version: 0.8.7", "Current version:", "Backend: venv"] {
        assert_eq!(text.matches(fact).count(), 1, "`{fact}` once on a terminal:\n{text}");
    }
    assert_eq!(listing(&sb), before, "nothing is made");
    assert_eq!(std::fs::read_to_string(sb.project().join(".pyve/config")).unwrap(), config);
}

/// SIGINT to a pyve waiting at the menu for a pipe that stays open (no terminal): cancelled
/// at once, exit 130, nothing changed.
#[test]
fn sigint_at_a_prompt_reading_a_pipe_cancels() {
    use std::io::Read;
    let sb = Sandbox::new();
    let config = initialised(&sb);
    let before = listing(&sb);
    let mut child = sb
        .pyve_cmd()
        .arg("--init")
        .env("PYVE_PROMPT_TIMEOUT", "60")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let _stdin = child.stdin.take();
    let mut stdout = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("Choose [1/2/3]:") {
        let n = stdout.read(&mut buf).unwrap();
        assert!(n > 0, "pyve ended before its menu: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    let sent = std::time::Instant::now();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert_eq!(status.code(), Some(130), "stderr:\n{stderr}");
    assert!(sent.elapsed().as_secs() < 5, "cancelled at once, not after the prompt's wait");
    assert!(stderr.contains("ERROR: interrupted at the prompt: nothing was changed"), "{stderr}");
    assert_eq!(listing(&sb), before);
    assert_eq!(std::fs::read_to_string(sb.project().join(".pyve/config")).unwrap(), config);
}

/// `pyve --init` below a directory that is a project says so instead of making a second
/// project; `--here` makes one anyway; below a git repository alone it warns and goes on.
#[test]
fn init_below_a_project_names_the_project() {
    let sb = pyve_tests::Sandbox::new();
    sb.install(&["pyve-venv"]);
    let repo = sb.project();
    std::fs::write(repo.join("pyproject.toml"), "[project]\nname = \"demo\"\nversion = \"0.1.0\"\n").unwrap();
    let src = repo.join("src");
    std::fs::create_dir_all(&src).unwrap();
    let out = pyve_tests::run(sb.e2e().current_dir(&src).args(["--init", "--no-direnv", "--no-install-deps"]));
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "{} is inside the project at {} (it holds pyproject.toml): pyve would make a second project in src",
            src.display(),
            repo.display()
        )),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("or pass --here"), "{}", out.stderr);
    assert!(!src.join(".venv").exists() && !src.join(".pyve").exists());

    let out =
        pyve_tests::run(sb.e2e().current_dir(&src).args(["--init", "--no-direnv", "--here", "--no-install-deps"]));
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(src.join(".venv").is_dir() && src.join(".pyve/config").is_file());

    // Only a git repository above: a warning, and the project is made here.
    let git_repo = sb.path().join("gitrepo");
    let sub = git_repo.join("tools");
    std::fs::create_dir_all(git_repo.join(".git")).unwrap();
    std::fs::create_dir_all(&sub).unwrap();
    let out = pyve_tests::run(sb.e2e().current_dir(&sub).args(["--init", "--no-direnv", "--no-install-deps"]));
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("is inside the git repository"), "{}", out.stderr);
    assert!(sub.join(".venv").is_dir());
}

/// The menu with stdout and stderr into one pipe (`2>&1`): the facts once, the menu whole.
#[test]
fn the_menu_into_one_stream_says_each_fact_once() {
    let sb = Sandbox::new();
    initialised(&sb);
    let mut cmd = Command::new("bash");
    sb.isolate(&mut cmd);
    let out = cmd.arg("-c").arg(r#"echo 3 | "$0" --init 2>&1"#).arg(sb.pyve()).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    for fact in ["Recorded version: 0.8.7", "Current version:", "Backend: venv"] {
        assert_eq!(text.matches(fact).count(), 1, "`{fact}` once:\n{text}");
    }
    assert!(text.contains("What would you like to do?") && text.contains("INFO: Initialization cancelled"), "{text}");
}

/// A terminal for stdin but not for stdout (`pyve --init | tee log` typed at a terminal, an
/// install hook whose output is captured): nobody sees the question, so the wait is bounded,
/// and the message does not claim that stdin is not a terminal (it is).
#[test]
fn a_terminal_stdin_with_captured_stdout_is_not_waited_for() {
    let sb = Sandbox::new();
    let config = initialised(&sb);
    let driver = r#"
import os, pty, subprocess, sys
master, slave = pty.openpty()
p = subprocess.run([sys.argv[1], "--init"], stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
sys.stdout.write(p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace") + "\nexit=%d\n" % p.returncode)
"#;
    let out = python_driver(&sb).env("PYVE_PROMPT_TIMEOUT", "1").arg("-c").arg(driver).arg(sb.pyve()).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Choose [1/2/3]:"), "no menu:\n{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("\nexit=1\n"), "{text}");
    assert!(
        text.contains("standard input and output are not both a terminal, and the input gave no answer within 1 s"),
        "{text}"
    );
    assert!(!text.contains("standard input is not a terminal"), "{text}");
    assert_eq!(std::fs::read_to_string(sb.project().join(".pyve/config")).unwrap(), config);
}

/// `python3` for a driver script, isolated like pyve; python3 may be a pyenv shim, so it keeps
/// the caller's PATH and pyenv settings.
fn python_driver(sb: &Sandbox) -> Command {
    let mut cmd = Command::new("python3");
    sb.isolate(&mut cmd);
    for var in ["PATH", "PYENV_ROOT", "PYENV_VERSION"] {
        if let Some(v) = std::env::var_os(var) {
            cmd.env(var, v);
        }
    }
    cmd
}
