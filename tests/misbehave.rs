//! A broken plugin never hangs pyve, crashes it or leaves the user without a clear message:
//! for every way the misbehaving fixture breaks, pyve exits 1 with an error naming the plugin
//! and its path, and a hint.

use std::path::PathBuf;
use std::time::Duration;

use pyve::plugins::{Candidate, Kind};
use pyve::rpc::{Client, Failure, QuietHandler, SessionInfo, Timeouts};
use pyve_protocol::methods::request;
use pyve_protocol::types::{EnvParams, HostSettings};
use pyve_tests::{Sandbox, example, example_dylib, run};

/// Generous: only here to turn a hang into a failure; the fixture's timeouts are ~1 s.
const HANG_LIMIT: Duration = Duration::from_secs(30);

fn exec_sandbox() -> (Sandbox, PathBuf) {
    let sb = Sandbox::new();
    let path = sb.add_plugin(&example("pyve-misbehave"), "pyve-misbehave");
    (sb, path)
}

fn lib_sandbox() -> (Sandbox, PathBuf) {
    let sb = Sandbox::new();
    let path = sb.add_plugin(&example_dylib("misbehave_lib"), "libpyve_misbehave_lib.so");
    (sb, path)
}

/// `pyve plugin info NAME` in `mode`; asserts the common shape of the error and returns stderr.
fn info_fails(sb: &Sandbox, name: &str, path: &std::path::Path, mode: &str) -> String {
    let out = run(sb
        .pyve_cmd()
        .args(["plugin", "info", name])
        .env("PYVE_MISBEHAVE", mode)
        .env("PYVE_HANDSHAKE_TIMEOUT", "1"));
    assert!(out.elapsed < HANG_LIMIT, "{mode}: pyve took {:?}", out.elapsed);
    assert_eq!(out.code, Some(1), "{mode}: exit code; stderr:\n{}", out.stderr);
    let named = format!("ERROR: plugin '{name}' ({})", path.display());
    assert!(out.stderr.contains(&named), "{mode}: the error names the plugin and its path:\n{}", out.stderr);
    assert!(out.stderr.contains("\nhint: "), "{mode}: a hint:\n{}", out.stderr);
    assert!(!out.stderr.contains("pyve/src"), "{mode}: pyve itself panicked:\n{}", out.stderr);
    assert!(out.stdout.is_empty(), "{mode}: nothing on stdout:\n{}", out.stdout);
    out.stderr
}

#[test]
fn exits_before_the_handshake() {
    let (sb, path) = exec_sandbox();
    let err = info_fails(&sb, "misbehave", &path, "exit-early");
    assert!(err.contains("exited before the handshake (exit status 3)"), "{err}");
    assert!(err.contains("misbehave: exiting before the handshake"), "the plugin's stderr passes through: {err}");
    assert!(err.contains("--pyve-rpc"), "the hint says how to run it by hand: {err}");
}

#[test]
fn exits_leaving_a_child_that_holds_its_output_open() {
    let (sb, path) = exec_sandbox();
    let err = info_fails(&sb, "misbehave", &path, "orphan");
    assert!(err.contains("exited before the handshake (exit status 0)"), "{err}");
}

#[test]
fn writes_garbage() {
    let (sb, path) = exec_sandbox();
    let err = info_fails(&sb, "misbehave", &path, "garbage");
    assert!(err.contains("wrote a line that is not a protocol message (the line is not valid UTF-8)"), "{err}");
    assert!(err.contains("only protocol messages to stdout"), "{err}");
}

#[test]
fn prints_noise_on_stdout() {
    let (sb, path) = exec_sandbox();
    let err = info_fails(&sb, "misbehave", &path, "noise");
    assert!(err.contains("\"Loading misbehave configuration...\""), "the offending line is quoted: {err}");
    assert!(err.contains("logs go to stderr"), "{err}");
}

#[test]
fn answers_with_an_incompatible_protocol_major() {
    let (sb, path) = exec_sandbox();
    let err = info_fails(&sb, "misbehave", &path, "protocol-2");
    assert!(err.contains("speaks protocol 2.0 (plugin version 0.0.1); pyve"), "{err}");
    assert!(err.contains("speaks protocol 1.1"), "both versions are named: {err}");
    assert!(err.contains("install a version of pyve-misbehave for protocol 1"), "what to upgrade: {err}");
}

#[test]
fn refuses_the_offered_protocol() {
    let (sb, path) = exec_sandbox();
    let err = info_fails(&sb, "misbehave", &path, "reject-protocol");
    assert!(err.contains("no shared protocol version"), "{err}");
}

#[test]
fn calls_itself_by_another_name() {
    let (sb, path) = exec_sandbox();
    let err = info_fails(&sb, "misbehave", &path, "wrong-name");
    assert!(err.contains("calls itself 'someone-else' but its file name says 'misbehave'"), "{err}");
}

#[test]
fn hangs_past_the_handshake_timeout() {
    let (sb, path) = exec_sandbox();
    let err = info_fails(&sb, "misbehave", &path, "hang");
    assert!(err.contains("did not answer `initialize` within 1 s"), "{err}");
    assert!(err.contains("PYVE_HANDSHAKE_TIMEOUT"), "the hint names the setting: {err}");
}

#[test]
fn a_slow_plugin_is_fine_within_the_timeout() {
    let (sb, _) = exec_sandbox();
    let out = run(sb
        .pyve_cmd()
        .args(["plugin", "info", "misbehave"])
        .env("PYVE_MISBEHAVE", "slow-handshake")
        .env("PYVE_MISBEHAVE_DELAY_MS", "300")
        .env("PYVE_HANDSHAKE_TIMEOUT", "5"));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("name:         misbehave"), "{}", out.stdout);
}

fn candidate(path: PathBuf, name: &str, kind: Kind) -> Candidate {
    Candidate::from_file(path, name, kind).unwrap()
}

/// Start a client, retrying while the just-copied plugin is "text file busy" (see
/// `pyve_tests::retry_busy`).
fn start(c: &Candidate, info: &SessionInfo, timeouts: Timeouts) -> Client {
    for _ in 0..100 {
        match Client::start(c, info, timeouts) {
            Err(e) if e.summary().contains("Text file busy") => std::thread::sleep(Duration::from_millis(10)),
            other => return other.unwrap(),
        }
    }
    panic!("{} stayed busy", c.path.display())
}

fn session() -> SessionInfo {
    SessionInfo { project_root: None, settings: HostSettings::default(), env: vec![] }
}

#[test]
fn dies_in_the_middle_of_a_request() {
    let (_sb, path) = exec_sandbox();
    let mut info = session();
    info.env.push(("PYVE_MISBEHAVE".into(), "die-mid-request".into()));
    let timeouts = Timeouts { handshake: Duration::from_secs(5), call: Some(Duration::from_secs(5)) };
    let c = candidate(path.clone(), "misbehave", Kind::Exec);
    let mut client = start(&c, &info, timeouts);
    client.initialize(&info, &mut QuietHandler).expect("the handshake works");
    let params = EnvParams { project_root: "/nowhere".into(), backend: "x".into(), settings: Default::default() };
    let err = client.call::<request::EnvDescribe>(&params, &mut QuietHandler).unwrap_err();
    match &err.failure {
        Failure::Closed { method, status } => {
            assert_eq!(method, "env/describe");
            assert_eq!(status.as_deref(), Some("killed by signal 6 (SIGABRT)"));
        }
        other => panic!("unexpected failure {other:?}"),
    }
    let e = err.to_error();
    let text = e.to_string();
    assert!(
        text.starts_with(&format!("plugin 'misbehave' ({}) stopped while handling `env/describe`", path.display()))
    );
    assert!(e.hint_text().unwrap().contains("bug in the plugin"), "{:?}", e.hint_text());
}

#[test]
fn a_slow_call_times_out_and_the_plugin_is_stopped() {
    let (_sb, path) = exec_sandbox();
    let mut info = session();
    info.env.push(("PYVE_MISBEHAVE".into(), "slow".into()));
    info.env.push(("PYVE_MISBEHAVE_DELAY_MS".into(), "20000".into()));
    let timeouts = Timeouts { handshake: Duration::from_secs(5), call: Some(Duration::from_millis(300)) };
    let c = candidate(path, "misbehave", Kind::Exec);
    let mut client = start(&c, &info, timeouts);
    client.initialize(&info, &mut QuietHandler).unwrap();
    let start = std::time::Instant::now();
    let params = EnvParams { project_root: "/nowhere".into(), backend: "x".into(), settings: Default::default() };
    let err = client.call::<request::EnvDescribe>(&params, &mut QuietHandler).unwrap_err();
    assert!(start.elapsed() < HANG_LIMIT);
    assert!(matches!(err.failure, Failure::Timeout { .. }), "{err:?}");
    let e = err.to_error();
    assert!(e.to_string().contains("did not answer `env/describe` within 0.3 s"), "{e}");
    assert!(e.hint_text().unwrap().contains("PYVE_RPC_TIMEOUT"), "{:?}", e.hint_text());
}

#[test]
fn library_panics_while_handling_a_request() {
    let (sb, path) = lib_sandbox();
    let err = info_fails(&sb, "misbehave-lib", &path, "panic");
    assert!(err.contains("ended its session before the handshake"), "{err}");
    assert!(err.contains("deliberate panic while handling initialize"), "the panic message is visible: {err}");
}

#[test]
fn library_panics_and_goes_silent() {
    let (sb, path) = lib_sandbox();
    let err = info_fails(&sb, "misbehave-lib", &path, "panic-silent");
    assert!(err.contains("did not answer `initialize` within 1 s"), "{err}");
}

#[test]
fn library_panics_inside_send() {
    let (sb, path) = lib_sandbox();
    let err = info_fails(&sb, "misbehave-lib", &path, "panic-in-send");
    assert!(err.contains("the library panicked while taking the message"), "{err}");
}

#[test]
fn library_with_another_abi_version_is_refused() {
    let (sb, path) = lib_sandbox();
    let err = info_fails(&sb, "misbehave-lib", &path, "abi-2");
    assert!(
        err.contains("could not be started: it implements plugin ABI version 2; this pyve loads version 1"),
        "{err}"
    );
}

#[test]
fn a_library_that_behaves_works_in_process() {
    let (sb, _) = lib_sandbox();
    let out = run(sb.pyve_cmd().args(["plugin", "info", "misbehave-lib"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("kind:         dylib"), "{}", out.stdout);
}

#[test]
fn listing_reports_broken_plugins_and_goes_on() {
    let (sb, path) = exec_sandbox();
    sb.add_plugin(&example("pyve-hello"), "pyve-hello");
    let out = run(sb.pyve_cmd().args(["plugin", "list", "--json"]).env("PYVE_MISBEHAVE", "exit-early"));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let list: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let bad = list.as_array().unwrap().iter().find(|e| e["name"] == "misbehave").unwrap();
    assert_eq!(bad["status"], "broken");
    assert_eq!(bad["path"], path.display().to_string());
    assert!(bad["error"].as_str().unwrap().contains("exited before the handshake"));
    let good = list.as_array().unwrap().iter().find(|e| e["name"] == "hello").unwrap();
    assert_eq!(good["status"], "ok");

    let out = run(sb.pyve_cmd().args(["plugin", "list", "--json"]).env("PYVE_MISBEHAVE", "protocol-2"));
    let list: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let bad = list.as_array().unwrap().iter().find(|e| e["name"] == "misbehave").unwrap();
    assert_eq!(bad["status"], "incompatible");
}

/// A plugin that writes garbage and exits at once gets the same diagnosis every time, whether
/// pyve's `initialize` reached it before it exited or not.
#[test]
fn garbage_then_exit_is_diagnosed_the_same_every_time() {
    let sb = Sandbox::new();
    let path = sb.plugins().join("pyve-noisy");
    std::fs::write(&path, "#!/bin/sh\necho 'Loading configuration...'\nexit 0\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    for i in 0..20 {
        let out = run(sb.pyve_cmd().args(["plugin", "info", "noisy"]));
        assert_eq!(out.code, Some(1), "run {i}: {}", out.stderr);
        assert!(
            out.stderr.contains("wrote a line that is not a protocol message")
                && out.stderr.contains("Loading configuration..."),
            "run {i}: {}",
            out.stderr
        );
    }
}

/// A plugin whose handshake hangs costs its timeout once: the failure is cached with its file
/// and the plugin is not started again by listings until the file changes; `plugin info`
/// always tries again.
#[test]
fn a_hanging_handshake_is_tried_once_until_the_file_changes() {
    let (sb, path) = exec_sandbox();
    let log = sb.path().join("starts.log");
    let list = |sb: &Sandbox| {
        run(sb
            .pyve_cmd()
            .arg("--list")
            .env("PYVE_MISBEHAVE", "hang")
            .env("PYVE_MISBEHAVE_LOG", &log)
            .env("PYVE_HANDSHAKE_TIMEOUT", "1"))
    };
    let starts = || std::fs::read_to_string(&log).unwrap_or_default().lines().filter(|l| *l == "started").count();
    for _ in 0..3 {
        let out = list(&sb);
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        assert!(out.stderr.contains("did not answer `initialize` within 1 s"), "{}", out.stderr);
    }
    assert_eq!(starts(), 1, "started once for three listings");
    // A changed file is tried again.
    pyve_tests::place(&example("pyve-misbehave"), &path);
    list(&sb);
    assert_eq!(starts(), 2);
    // `plugin info` always starts it (and refreshes the cache).
    run(sb
        .pyve_cmd()
        .args(["plugin", "info", "misbehave"])
        .env("PYVE_MISBEHAVE_LOG", &log)
        .env("PYVE_HANDSHAKE_TIMEOUT", "1"));
    assert_eq!(starts(), 3);
    let out = run(sb.pyve_cmd().arg("--list").env("PYVE_MISBEHAVE_LOG", &log));
    assert!(out.stdout.contains("misbehave"), "now healthy and listed: {}", out.stdout);
    assert_eq!(starts(), 3, "the refreshed manifest answers");
}

/// What a plugin logs during its handshake is shown by `plugin info` and `plugin list -v`
/// (from the cache too), naming the plugin.
#[test]
fn logs_during_the_handshake_are_shown_by_info_and_list() {
    let sb = Sandbox::new();
    let path = sb.plugins().join("pyve-chatty");
    std::fs::write(
        &path,
        r#"#!/bin/sh
read line
printf '%s\n' '{"jsonrpc":"2.0","method":"$/log","params":{"level":"warn","message":"no config file, using defaults"}}'
printf '%s\n' '{"jsonrpc":"2.0","id":1,"result":{"name":"chatty","version":"0.1.0","protocol":"1.0","description":"Talks","provides":{"commands":[{"name":"chatty"}]}}}'
read line
printf '%s\n' '{"jsonrpc":"2.0","id":2,"result":null}'
"#,
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = run(sb.pyve_cmd().args(["plugin", "info", "chatty"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stderr.contains("WARNING: chatty: no config file, using defaults"), "{}", out.stderr);
    for _ in 0..2 {
        let out = run(sb.pyve_cmd().args(["plugin", "list", "-v"]));
        assert!(out.stderr.contains("WARNING: chatty: no config file, using defaults"), "{}", out.stderr);
    }
}

/// Issue 17, class 8: a library call that never returns (`pyve_plugin_open`, `_send` or
/// `_close`) costs its time once: pyve abandons the session with an error naming the library
/// and the call, and a listing remembers the failure until the file changes.
#[test]
fn a_library_call_that_never_returns_is_bounded_and_tried_once() {
    for (mode, call) in [("block-open", "pyve_plugin_open"), ("block-send", "pyve_plugin_send")] {
        let (sb, path) = lib_sandbox();
        let err = info_fails(&sb, "misbehave-lib", &path, mode);
        assert!(
            err.contains(&format!("did not return from `{call}` within 1 s; the library is abandoned")),
            "{mode}: {err}"
        );
        assert!(err.contains("PYVE_HANDSHAKE_TIMEOUT"), "{mode}: {err}");
        let log = sb.path().join("starts.log");
        let starts = || std::fs::read_to_string(&log).unwrap_or_default().lines().filter(|l| *l == "started").count();
        for _ in 0..3 {
            let out = run(sb
                .pyve_cmd()
                .arg("--list")
                .env("PYVE_MISBEHAVE", mode)
                .env("PYVE_MISBEHAVE_LOG", &log)
                .env("PYVE_HANDSHAKE_TIMEOUT", "1"));
            assert_eq!(out.code, Some(0), "{mode}: {}", out.stderr);
            assert!(out.stderr.contains(&format!("did not return from `{call}`")), "{mode}: {}", out.stderr);
        }
        assert_eq!(starts(), 1, "{mode}: opened once for three listings");
    }
    // A `close` that never returns: the work is done, the session is abandoned, pyve ends.
    let (sb, _) = lib_sandbox();
    let out = run(sb
        .pyve_cmd()
        .args(["plugin", "info", "misbehave-lib"])
        .env("PYVE_MISBEHAVE", "block-close")
        .env("PYVE_HANDSHAKE_TIMEOUT", "1"));
    assert!(out.elapsed < HANG_LIMIT, "block-close: pyve took {:?}", out.elapsed);
    assert_eq!(out.code, Some(0), "block-close: {}", out.stderr);
    assert!(out.stdout.contains("kind:         dylib"), "{}", out.stdout);
}
