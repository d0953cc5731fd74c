//! Issue 17, class 4: files read from a project are bounded. Each project file pyve or a
//! bundled plugin reads is made, in turn, a FIFO without a writer, a huge sparse file and (where
//! the command takes input) a link to `/dev/stdin`; the command that reads it must end promptly
//! with an error naming the file and saying why, never wait on the FIFO, never read gigabytes and
//! never swallow the user's piped standard input.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pyve_tests::{Outcome, Sandbox, python, run};

/// Each command gets this long; a hang on a FIFO would take forever.
const LIMIT: Duration = Duration::from_secs(60);

/// Run `cmd` with `input` on its standard input, killing it (and failing) after [`LIMIT`].
fn run_within(cmd: &mut Command, input: &str) -> Outcome {
    let start = Instant::now();
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("the command starts");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_owned();
    // Written from a thread and kept open until the command ends: a reader of stdin never sees
    // its end, so swallowing it would show as a hang too.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
        std::thread::sleep(LIMIT);
    });
    drop(writer);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not end within {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    Outcome::of(out, start.elapsed())
}

fn mkfifo(p: &Path) {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo {}", p.display());
}

#[derive(Debug, Clone, Copy)]
enum Hostile {
    Fifo,
    Huge,
    Stdin,
}

/// Put `what` at `p` (whatever was there is removed first).
fn make(p: &Path, what: Hostile) {
    let _ = std::fs::remove_file(p);
    match what {
        Hostile::Fifo => mkfifo(p),
        Hostile::Huge => std::fs::File::create(p).unwrap().set_len(16 << 30).unwrap(),
        Hostile::Stdin => std::os::unix::fs::symlink("/dev/stdin", p).unwrap(),
    }
}

/// `name` must appear, with why it was refused, and no panic.
#[track_caller]
fn refused(out: &Outcome, name: &str, what: Hostile, ctx: &str) {
    let all = format!("{}{}", out.stdout, out.stderr);
    assert_ne!(out.code, Some(0), "{ctx}: {what:?} accepted\n{all}");
    assert!(!all.contains("panicked"), "{ctx}: panic\n{all}");
    assert!(all.contains(name), "{ctx}: {what:?}: `{name}` not named\n{all}");
    let why = match what {
        Hostile::Fifo | Hostile::Stdin => "not a regular file",
        Hostile::Huge => "larger than",
    };
    assert!(all.contains(why), "{ctx}: {what:?}: `{why}` missing\n{all}");
}

/// The command ended (within [`LIMIT`]: [`run_within`] checks) and did not panic.
#[track_caller]
fn prompt(out: &Outcome, ctx: &str) {
    assert!(
        !format!("{}{}", out.stdout, out.stderr).contains("panicked"),
        "{ctx}: panic\n{}{}",
        out.stdout,
        out.stderr
    );
}

fn initialised() -> Sandbox {
    let sb = Sandbox::new();
    sb.install(&["pyve-venv", "pyve-testenv"]);
    let out = run(sb.e2e().args(["--init", "--no-direnv", "--python-version", &python("3.12")]));
    assert_eq!(out.code, Some(0), "--init\n{}{}", out.stdout, out.stderr);
    sb
}

#[test]
fn dotenv_state_and_config_are_bounded() {
    let sb = initialised();
    let p = sb.project();
    let input = "the user's input\n";
    let echo = ["run", "python", "-c", "import sys; print('got', sys.stdin.readline())"];

    // `.env`, read by `pyve run`: the link to /dev/stdin would take the command's input.
    for what in [Hostile::Fifo, Hostile::Huge, Hostile::Stdin] {
        make(&p.join(".env"), what);
        let out = run_within(sb.e2e().args(echo), input);
        refused(&out, ".env", what, "pyve run with a hostile .env");
    }
    std::fs::remove_file(p.join(".env")).unwrap();
    std::fs::write(p.join(".env"), "A=1\n").unwrap();
    let out = run_within(sb.e2e().args(echo), input);
    assert!(out.stdout.contains("got the user's input"), "the input reaches the command\n{}{}", out.stdout, out.stderr);

    // `.pyve/state.json`, read by `pyve run` and `pyve doctor`.
    let state = std::fs::read(p.join(".pyve/state.json")).unwrap();
    for what in [Hostile::Fifo, Hostile::Huge, Hostile::Stdin] {
        make(&p.join(".pyve/state.json"), what);
        let out = run_within(sb.e2e().args(echo), input);
        refused(&out, "state.json", what, "pyve run with a hostile state");
    }
    std::fs::remove_file(p.join(".pyve/state.json")).unwrap();
    std::fs::write(p.join(".pyve/state.json"), &state).unwrap();

    // `.pyve/config`, read by `--config` (and every command that loads the project).
    let config = std::fs::read(p.join(".pyve/config")).unwrap();
    for what in [Hostile::Fifo, Hostile::Huge, Hostile::Stdin] {
        make(&p.join(".pyve/config"), what);
        let out = run_within(sb.e2e().arg("--config"), input);
        match what {
            // Not a regular file: the directory is not taken for a pyve project at all.
            Hostile::Fifo | Hostile::Stdin => prompt(&out, "--config with a config that is not a file"),
            // `--config` reports and exits 0 whatever the file holds (as the original): the
            // huge file is named as too large, unread, in the report.
            Hostile::Huge => {
                assert_eq!(out.code, Some(0), "--config always exits 0\n{}{}", out.stdout, out.stderr);
                assert!(out.stdout.contains("config") && out.stdout.contains("larger than"), "{}", out.stdout);
                assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
            }
        }
    }
    std::fs::remove_file(p.join(".pyve/config")).unwrap();
    std::fs::write(p.join(".pyve/config"), &config).unwrap();
}

#[test]
fn version_pins_are_bounded() {
    for pin in [".python-version", ".tool-versions"] {
        for what in [Hostile::Fifo, Hostile::Huge, Hostile::Stdin] {
            let sb = Sandbox::new();
            sb.install(&["pyve-venv"]);
            make(&sb.project().join(pin), what);
            let out = run_within(sb.e2e().args(["--init", "--no-direnv"]), "3.12\n");
            refused(&out, pin, what, "--init with a hostile pin");
            assert!(!sb.project().join(".venv").exists(), "{pin} {what:?}: nothing is built");
        }
    }
}

#[test]
fn the_testenv_record_is_bounded() {
    let sb = Sandbox::new();
    sb.install(&["pyve-venv", "pyve-testenv"]);
    let dir = sb.project().join(".pyve/testenv");
    std::fs::create_dir_all(&dir).unwrap();
    for what in [Hostile::Fifo, Hostile::Huge, Hostile::Stdin] {
        make(&dir.join("testenv.json"), what);
        // Without an environment the record is reported and ignored (unit tests in
        // plugins/testenv/src/record.rs check the refusal itself): the status must not wait.
        let out = run_within(sb.e2e().args(["testenv", "--status"]), "{}\n");
        prompt(&out, "testenv --status with a hostile record");
        // doctor reports, and must not wait either.
        let out = run_within(sb.e2e().arg("doctor"), "{}\n");
        prompt(&out, "doctor with a hostile record");
    }
}
