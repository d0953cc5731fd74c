//! The `post-create` hook end to end, on the real pyenv interpreters 3.11, 3.12 and 3.13, in
//! fresh virtual environments, through all three transports: in-process
//! (`pyve_sdk::testing::TestClient`), the executable (`pyve-distutils-shim --pyve-rpc`) and
//! the dynamic library (`libpyve_distutils_shim.so`, loaded with `libloading`).
//!
//! setuptools and wheel come from PyPI through the environment's `pip download` into pyve's
//! wheel cache (one per test process, in the temporary home; the offline cases use empty
//! caches of their own and make pip fail on purpose). This test has its own `main` (`harness = false`): before any thread
//! exists it points `HOME` and the XDG directories at a temporary directory, so nothing a
//! test runs (pip's cache, above all) writes to the real home, including what the in-process
//! transports start, which inherit this process's environment. A small runner at the end
//! runs the cases two at a time and reports like libtest.

use std::collections::BTreeMap;
use std::ffi::{OsString, c_void};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant, SystemTime};

use pyve_distutils_shim::Installer;
use pyve_distutils_shim::plugin::plugin;
use pyve_distutils_shim::sitecustomize::{CONTENT, MARKER};
use pyve_sdk::protocol::methods::{NotificationMethod, notification, request};
use pyve_sdk::protocol::types::*;
use pyve_sdk::protocol::{ErrorObject, Id, Message, Notification, PROTOCOL_VERSION, Request, framing};
use pyve_sdk::testing::TestClient;

// ---------------------------------------------------------------------------------------------
// Set-up

/// The interpreters the tests need, found before `HOME` is replaced.
#[derive(Clone, Debug)]
struct Pythons {
    p311: PathBuf,
    p312: PathBuf,
    p313: PathBuf,
}

fn find_pythons() -> Pythons {
    let root = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .filter(|r| r.join("versions").is_dir())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pyenv")))
        .expect("no PYENV_ROOT and no HOME");
    let find = |short: &str| -> PathBuf {
        let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir(root.join("versions"))
            .unwrap_or_else(|e| panic!("list {}/versions: {e}", root.display()))
            .filter_map(|e| {
                let name = e.ok()?.file_name().into_string().ok()?;
                let micro: u32 = name.strip_prefix(short)?.strip_prefix('.')?.parse().ok()?;
                let exe = root.join("versions").join(&name).join("bin").join(format!("python{short}"));
                exe.is_file().then_some((micro, exe))
            })
            .collect();
        found.sort();
        found.pop().unwrap_or_else(|| panic!("Python {short} is required under {}/versions", root.display())).1
    };
    Pythons { p311: find("3.11"), p312: find("3.12"), p313: find("3.13") }
}

fn main() {
    let pythons = find_pythons();
    let home = tempfile::Builder::new().prefix("pyve-shim-home-").tempdir().expect("temporary home");
    // SAFETY: no other thread exists yet (the trials start below), so nothing reads the
    // environment while it changes.
    unsafe {
        std::env::set_var("HOME", home.path());
        for (var, sub) in
            [("XDG_CACHE_HOME", ".cache"), ("XDG_CONFIG_HOME", ".config"), ("XDG_DATA_HOME", ".local/share")]
        {
            std::env::set_var(var, home.path().join(sub));
        }
        for var in
            ["PYVE_DISABLE_DISTUTILS_SHIM", "SETUPTOOLS_USE_DISTUTILS", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"]
        {
            std::env::remove_var(var);
        }
    }

    let p = pythons;
    let uv_on_path = Installer::detect() != Installer::Pip;
    let trials = vec![
        trial("manifest_declares_the_post_create_hook", manifest),
        trial("no_interpreter_does_nothing", no_interpreter),
        trial("py311_is_left_alone", {
            let p = p.p311.clone();
            move || py311_is_left_alone(&p)
        }),
        trial("py312_in_process_installs_then_is_idempotent", {
            let p = p.p312.clone();
            move || py312_in_process(&p)
        }),
        trial("py313_through_the_executable", {
            let p = p.p313.clone();
            move || py313_executable(&p)
        }),
        trial("py312_through_the_dylib_replaces_the_original_eager_shim", {
            let p = p.p312.clone();
            move || py312_dylib(&p)
        }),
        trial("a_warm_cache_spares_both_python_starts_and_a_damaged_one_is_probed", {
            let p = p.p313.clone();
            move || warm_cache_verdict(&p)
        }),
        trial("escape_hatch_writes_nothing", {
            let p = p.p313.clone();
            move || escape_hatch(&p)
        }),
        trial("foreign_sitecustomize_is_never_overwritten", {
            let p = p.p312.clone();
            move || foreign_sitecustomize(&p)
        }),
        trial("offline_unreachable_index_warns_and_keeps_python_working", {
            let p = p.p312.clone();
            move || {
                offline(
                    &p,
                    &[("PIP_INDEX_URL", "http://127.0.0.1:9/simple/"), ("UV_INDEX_URL", "http://127.0.0.1:9/simple/")],
                )
            }
        }),
        trial("offline_no_index_warns_and_keeps_python_working", {
            let p = p.p313.clone();
            move || offline(&p, &[("PIP_NO_INDEX", "1"), ("UV_OFFLINE", "1")])
        }),
        trial("cancel_stops_a_hanging_install", {
            let p = p.p312.clone();
            move || cancel_stops_install(&p)
        }),
        trial("installs_with_uv_when_it_is_on_path", {
            let p = p.p313.clone();
            move || with_uv(&p)
        })
        .ignored_if(!uv_on_path),
    ];
    let code = runner::run(trials);
    drop(home);
    std::process::exit(code);
}

fn trial(name: &'static str, f: impl FnOnce() + Send + 'static) -> runner::Trial {
    runner::Trial { name, run: Box::new(f), ignored: false }
}

// ---------------------------------------------------------------------------------------------
// Environments and checks

/// A project with a fresh venv: `python -m venv --without-pip`, then pip unpacked from the
/// interpreter's bundled ensurepip wheel (what pyve's venv backend does; ensurepip itself
/// would take 3 s per environment).
struct Env {
    _dir: tempfile::TempDir,
    project: PathBuf,
    path: PathBuf,
    python: PathBuf,
    site_packages: PathBuf,
    short: String,
}

const SEED_PIP: &str = "import ensurepip, glob, os, sys, sysconfig, zipfile\n\
                        [wheel] = glob.glob(os.path.join(os.path.dirname(ensurepip.__file__), '_bundled', 'pip-*.whl'))\n\
                        zipfile.ZipFile(wheel).extractall(sysconfig.get_paths()['purelib'])";

impl Env {
    fn new(base: &Path) -> Env {
        let dir = tempfile::Builder::new().prefix("pyve-shim-test-").tempdir().expect("temporary directory");
        let project = dir.path().join("project");
        std::fs::create_dir(&project).unwrap();
        let path = project.join(".venv");
        let made =
            Command::new(base).args(["-m", "venv", "--without-pip"]).arg(&path).output().expect("run python -m venv");
        ok_stdout(&made, "python -m venv");
        let python = path.join("bin").join("python");
        let seeded = Command::new(&python).args(["-I", "-c", SEED_PIP]).output().expect("seed pip");
        ok_stdout(&seeded, "unpacking the bundled pip");
        let short = base.file_name().unwrap().to_str().unwrap().trim_start_matches("python").to_owned();
        let site_packages = path.join("lib").join(format!("python{short}")).join("site-packages");
        assert!(site_packages.join("pip").is_dir(), "pip in {}", site_packages.display());
        Env { project, python, path, site_packages, short, _dir: dir }
    }

    fn params(&self) -> PostCreateParams {
        PostCreateParams {
            project_root: self.project.clone(),
            backend: "venv".into(),
            env_path: self.path.clone(),
            interpreter: Some(self.python.clone()),
            python_version: Some(self.short.clone()),
            created: true,
        }
    }

    fn shim(&self) -> PathBuf {
        self.site_packages.join("sitecustomize.py")
    }

    fn has_dist(&self, name: &str) -> bool {
        std::fs::read_dir(&self.site_packages)
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .any(|f| f.starts_with(&format!("{name}-")) && f.ends_with(".dist-info"))
    }

    /// Run the environment's python in the project directory (as a user would, not `-I`).
    fn python(&self, args: &[&str]) -> Output {
        Command::new(&self.python).args(args).current_dir(&self.project).output().expect("run python")
    }
}

fn ok_stdout(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// `import distutils` works in every way a program starts, and start-up imports nothing of
/// setuptools.
fn assert_shim_works(env: &Env) {
    assert!(env.has_dist("setuptools"), "setuptools installed");
    assert!(env.has_dist("wheel"), "wheel installed");
    assert_eq!(std::fs::read_to_string(env.shim()).unwrap(), CONTENT);

    let origin = ok_stdout(
        &env.python(&["-c", "import distutils; from distutils.core import setup; print(distutils.__file__)"]),
        "python -c 'import distutils'",
    );
    assert!(origin.contains("setuptools/_distutils"), "distutils from {origin}");

    let script = env.project.join("uses_distutils.py");
    std::fs::write(&script, "import distutils.core\nfrom distutils.core import setup\nprint('script ok')\n").unwrap();
    assert_eq!(ok_stdout(&env.python(&[script.to_str().unwrap()]), "a script importing distutils"), "script ok");

    let sub = "import subprocess, sys\n\
               r = subprocess.run([sys.executable, '-c', 'import distutils; from distutils.core import setup; print(42)'],\n\
                                  capture_output=True, text=True)\n\
               sys.stderr.write(r.stderr)\n\
               print(r.returncode, r.stdout.strip())";
    assert_eq!(ok_stdout(&env.python(&["-c", sub]), "a subprocess importing distutils"), "0 42");

    let var = ok_stdout(&env.python(&["-c", "import os; print(os.environ.get('SETUPTOOLS_USE_DISTUTILS'))"]), "env");
    assert_eq!(var, "local");

    // Start-up stays light: nothing of setuptools or distutils is imported by `python -c pass`.
    let loaded = ok_stdout(
        &env.python(&[
            "-c",
            "import sys; print(sorted(m for m in sys.modules if m.split('.')[0] in ('setuptools', 'distutils')))",
        ]),
        "sys.modules at start-up",
    );
    assert_eq!(loaded, "[]", "imported at start-up");
    let out = env.python(&["-X", "importtime", "-c", "pass"]);
    ok_stdout(&out, "python -X importtime -c pass");
    let importtime = String::from_utf8_lossy(&out.stderr);
    let modules: Vec<&str> = importtime.lines().map(|l| l.rsplit('|').next().unwrap_or_default().trim()).collect();
    assert!(modules.contains(&"sitecustomize"), "the shim runs at start-up:\n{importtime}");
    for module in modules {
        assert!(
            !module.starts_with("setuptools") && !module.starts_with("distutils"),
            "start-up imports {module}:\n{importtime}"
        );
    }
    // The probe compiled the shim, so an interpreter that may not write bytecode does not
    // compile it at every start.
    let tag = format!("cpython-{}", env.short.replace('.', ""));
    assert!(env.site_packages.join("__pycache__").join(format!("sitecustomize.{tag}.pyc")).is_file(), "compiled shim");
    let hack = env.site_packages.join("_distutils_hack/__pycache__").join(format!("__init__.{tag}.pyc"));
    assert!(hack.is_file(), "setuptools' start-up hook compiled");
}

fn assert_python_still_starts(env: &Env) {
    let out = env.python(&["-c", "pass"]);
    assert!(out.status.success() && out.stderr.is_empty(), "python -c pass: {out:?}");
    let out = env.python(&["-c", "import sys; print(sys.prefix)"]);
    assert_eq!(ok_stdout(&out, "sys.prefix"), env.path.to_str().unwrap());
}

// ---------------------------------------------------------------------------------------------
// The three transports

/// What a hook run produced.
#[derive(Debug)]
struct Run {
    result: Result<HookResult, ErrorObject>,
    logs: Vec<LogParams>,
    progress: usize,
}

impl Run {
    fn ok(&self) -> &HookResult {
        self.result.as_ref().unwrap_or_else(|e| panic!("the hook failed: {e:?}\nlogs: {:#?}", self.logs))
    }

    fn has(&self, level: LogLevel, text: &str) -> bool {
        self.logs.iter().any(|l| l.level == level && l.message.contains(text))
    }

    fn assert_has(&self, level: LogLevel, text: &str) {
        assert!(self.has(level, text), "no {level:?} log containing {text:?} in {:#?}", self.logs);
    }

    fn at(&self, level: LogLevel) -> Vec<&str> {
        self.logs.iter().filter(|l| l.level == level).map(|l| l.message.as_str()).collect()
    }
}

fn in_process(p: &PostCreateParams) -> Run {
    let mut client = TestClient::start(plugin());
    client.initialize_for(Some(&p.project_root)).expect("initialize");
    let result = client.call::<request::HookPostCreate>(p);
    let logs = client.logs();
    let progress = client.notifications().iter().filter(|n| n.method == notification::Progress::METHOD).count();
    client.shutdown();
    Run { result, logs, progress }
}

fn initialize_params(project: &Path) -> InitializeParams {
    InitializeParams {
        protocol_versions: vec![PROTOCOL_VERSION],
        host: HostInfo { name: "pyve-test".into(), version: "0.0.0".into() },
        project: Some(ProjectContext { root: project.to_path_buf() }),
        settings: HostSettings { interactive: false, verbosity: 2, color: false },
    }
}

/// The session's three requests, encoded.
fn session_lines(p: &PostCreateParams) -> Vec<Vec<u8>> {
    [
        Request::new::<request::Initialize>(Id::Number(1), &initialize_params(&p.project_root)),
        Request::new::<request::HookPostCreate>(Id::Number(2), p),
        Request::new::<request::Shutdown>(Id::Number(3), &()),
    ]
    .into_iter()
    .map(|r| framing::encode(&Message::Request(r)))
    .collect()
}

/// Collect a session's messages: logs, progress, and the hook's response (id 2).
fn collect(messages: impl IntoIterator<Item = Message>) -> Run {
    let mut run = Run { result: Err(ErrorObject::internal("no response to the hook")), logs: Vec::new(), progress: 0 };
    let mut answered = Vec::new();
    for message in messages {
        match message {
            Message::Notification(n) if n.method == notification::Log::METHOD => {
                run.logs.push(n.params::<notification::Log>().unwrap())
            }
            Message::Notification(n) if n.method == notification::Progress::METHOD => run.progress += 1,
            Message::Notification(n) => panic!("unexpected notification {n:?}"),
            Message::Request(r) => panic!("unexpected request from the plugin {r:?}"),
            Message::Response(r) => {
                let id = r.id.clone().expect("response with an id");
                if id == Id::Number(2) {
                    run.result = match r.result::<request::HookPostCreate>() {
                        Ok(result) => Ok(result.expect("a HookResult")),
                        Err(e) => Err(e.clone()),
                    };
                }
                answered.push(id);
            }
        }
    }
    assert_eq!(answered, [Id::Number(1), Id::Number(2), Id::Number(3)], "every request answered, in order");
    run
}

/// Through `pyve-distutils-shim --pyve-rpc`, with `env` changes for the child. Like pyve, the
/// test keeps the plugin's stdin open until it has the hook's answer: end of input means the
/// host has gone, and cancels the running request (protocol.md section 10).
fn executable(p: &PostCreateParams, set: &[(&str, &str)], remove: &[&str]) -> Run {
    executable_session(p, set, remove, false)
}

/// [`executable`], sending `$/cancel` for the hook once it reports progress (an install).
fn executable_session(p: &PostCreateParams, set: &[(&str, &str)], remove: &[&str], cancel_on_progress: bool) -> Run {
    use std::io::{BufRead, BufReader, Read};
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pyve-distutils-shim"));
    cmd.arg("--pyve-rpc").current_dir(&p.project_root);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, v) in set {
        cmd.env(k, v);
    }
    for k in remove {
        cmd.env_remove(k);
    }
    let mut child = cmd.spawn().expect("start pyve-distutils-shim");
    let mut stderr = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let [init, hook, shutdown]: [Vec<u8>; 3] = session_lines(p).try_into().unwrap();
    stdin.write_all(&init).unwrap();
    stdin.write_all(&hook).unwrap();
    stdin.flush().unwrap();
    let mut messages = Vec::new();
    let mut line = Vec::new();
    let mut sent_shutdown = false;
    loop {
        line.clear();
        if stdout.read_until(b'\n', &mut line).expect("read the plugin's stdout") == 0 {
            break;
        }
        let message = framing::decode(line.trim_ascii_end())
            .unwrap_or_else(|e| panic!("not a protocol message ({e}): {}", String::from_utf8_lossy(&line)));
        let hook_answered = matches!(&message, Message::Response(r) if r.id == Some(Id::Number(2)));
        let progress = matches!(&message, Message::Notification(n) if n.method == notification::Progress::METHOD);
        messages.push(message);
        if progress && cancel_on_progress && !sent_shutdown {
            let cancel = Notification::new::<notification::Cancel>(&CancelParams { id: Id::Number(2) });
            stdin.write_all(&framing::encode(&Message::Notification(cancel))).unwrap();
            stdin.flush().unwrap();
        }
        if hook_answered && !sent_shutdown {
            stdin.write_all(&shutdown).unwrap();
            stdin.flush().unwrap();
            sent_shutdown = true;
        }
    }
    drop(stdin);
    let status = child.wait().expect("wait for pyve-distutils-shim");
    let stderr = stderr.join().unwrap();
    assert!(status.success(), "exit status {status}; stderr: {stderr}");
    // Children's output is captured, never passed through: nothing reaches pyve's terminal
    // but the protocol's own messages.
    assert!(stderr.is_empty(), "stderr: {stderr}");
    collect(messages)
}

/// The library, located beside this test's executable (cargo builds the crate's `cdylib`
/// with the test).
fn dylib_path() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    [deps.join("libpyve_distutils_shim.so"), deps.parent().unwrap().join("libpyve_distutils_shim.so")]
        .into_iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("libpyve_distutils_shim.so not found near {}", deps.display()))
}

type Callback = unsafe extern "C" fn(ctx: *mut c_void, msg: *const u8, len: usize);

/// The host's callback: forwards each message, and the end marker as `None`.
unsafe extern "C" fn on_message(ctx: *mut c_void, msg: *const u8, len: usize) {
    // SAFETY: `ctx` is the sender boxed by `through_dylib`, alive until the end marker.
    let tx = unsafe { &*(ctx as *const Mutex<mpsc::Sender<Option<Vec<u8>>>>) };
    let item = if msg.is_null() {
        None
    } else {
        // SAFETY: the library passes `len` readable bytes, borrowed for this call.
        Some(unsafe { std::slice::from_raw_parts(msg, len) }.to_vec())
    };
    let _ = tx.lock().unwrap().send(item);
}

/// Through the C ABI of `libpyve_distutils_shim.so`, in this process.
fn through_dylib(p: &PostCreateParams) -> Run {
    // SAFETY: the library is this crate's own cdylib; its initialisers do nothing unusual.
    let lib = unsafe { libloading::Library::new(dylib_path()) }.expect("load the library");
    // SAFETY: the symbols have the types of protocol.md section 11.
    let (abi, open, send, close) = unsafe {
        (
            *lib.get::<unsafe extern "C" fn() -> u32>(b"pyve_plugin_abi_version").unwrap(),
            *lib.get::<unsafe extern "C" fn(Callback, *mut c_void) -> *mut c_void>(b"pyve_plugin_open").unwrap(),
            *lib.get::<unsafe extern "C" fn(*mut c_void, *const u8, usize) -> i32>(b"pyve_plugin_send").unwrap(),
            *lib.get::<unsafe extern "C" fn(*mut c_void)>(b"pyve_plugin_close").unwrap(),
        )
    };
    // SAFETY: no arguments.
    assert_eq!(unsafe { abi() }, 1);
    let (tx, rx) = mpsc::channel::<Option<Vec<u8>>>();
    let ctx = Box::into_raw(Box::new(Mutex::new(tx)));
    // SAFETY: `on_message` matches the callback type and `ctx` stays valid until the end marker.
    let session = unsafe { open(on_message, ctx.cast()) };
    assert!(!session.is_null(), "pyve_plugin_open failed");
    let mut messages = Vec::new();
    let mut ended = false;
    for (i, line) in session_lines(p).into_iter().enumerate() {
        let line = line.strip_suffix(b"\n").unwrap();
        // SAFETY: a live session; the buffer is valid for the call.
        assert_eq!(unsafe { send(session, line.as_ptr(), line.len()) }, 0, "send");
        let want = Id::Number(i as i64 + 1);
        loop {
            match rx.recv_timeout(Duration::from_secs(600)).expect("the library answers") {
                Some(bytes) => {
                    let message = framing::decode(&bytes).expect("a protocol message");
                    let done = matches!(&message, Message::Response(r) if r.id.as_ref() == Some(&want));
                    messages.push(message);
                    if done {
                        break;
                    }
                }
                None => {
                    ended = true;
                    break;
                }
            }
        }
    }
    if !ended {
        assert!(
            rx.recv_timeout(Duration::from_secs(60)).expect("end marker").is_none(),
            "the end marker follows shutdown"
        );
    }
    // SAFETY: the session from `open`, closed once.
    unsafe { close(session) };
    // SAFETY: `close` has returned, so the end marker's call of `on_message` has returned too
    // and the library never calls back again (protocol.md section 11). Freeing `ctx` when the
    // marker arrives instead would race with that call, still unlocking the mutex in `ctx`.
    drop(unsafe { Box::from_raw(ctx) });
    std::mem::forget(lib); // libraries are never unloaded (protocol.md section 11)
    collect(messages)
}

// ---------------------------------------------------------------------------------------------
// The tests

fn manifest() {
    let mut client = TestClient::start(plugin());
    let m = client.initialize().expect("initialize");
    client.shutdown();
    assert_eq!(m.name, "distutils-shim");
    assert_eq!(m.version, env!("CARGO_PKG_VERSION"));
    let hooks: Vec<&str> = m.provides.hooks.iter().map(|h| h.event.as_str()).collect();
    assert_eq!(hooks, ["post-create"]);
    assert!(m.provides.backends.is_empty() && m.provides.commands.is_empty());
}

fn no_interpreter() {
    let dir = tempfile::tempdir().unwrap();
    let p = PostCreateParams {
        project_root: dir.path().into(),
        backend: "micromamba".into(),
        env_path: dir.path().join(".pyve/envs/x"),
        interpreter: None,
        python_version: None,
        created: true,
    };
    let run = in_process(&p);
    assert!(!run.ok().changed);
    run.assert_has(LogLevel::Debug, "reported no interpreter");
    assert_eq!(run.logs.len(), 1, "{:#?}", run.logs);
}

fn py311_is_left_alone(base: &Path) {
    let env = Env::new(base);
    let before = listing(&env.site_packages);
    let run = in_process(&env.params());
    assert!(!run.ok().changed);
    assert!(run.ok().summary.as_deref().unwrap().contains("3.11"), "{:?}", run.ok());
    run.assert_has(LogLevel::Debug, "still has distutils");
    assert!(run.at(LogLevel::Warn).is_empty() && run.at(LogLevel::Info).is_empty(), "{:#?}", run.logs);
    assert!(!env.shim().exists(), "nothing written");
    assert_eq!(listing(&env.site_packages), before, "site-packages unchanged");
}

fn py312_in_process(base: &Path) {
    let env = Env::new(base);
    assert!(!env.has_dist("setuptools"), "a fresh 3.12 venv has no setuptools");
    let run = in_process(&env.params());
    let result = run.ok();
    assert!(result.changed);
    assert_eq!(result.summary.as_deref(), Some("installed the distutils shim; installed setuptools, wheel"));
    let shim = env.shim();
    // The original's messages, in its order.
    let visible: Vec<(LogLevel, &str)> =
        run.logs.iter().filter(|l| l.level != LogLevel::Debug).map(|l| (l.level, l.message.as_str())).collect();
    let installed = format!("Installed distutils compatibility shim: {}", shim.display());
    // From pyve's wheel cache (shared by the tests of this process): downloaded by whichever
    // test came first, linked for the others.
    let (level, how) = visible[1];
    assert_eq!(level, LogLevel::Success);
    let downloaded = how
        == "Installed setuptools, wheel (downloaded with pip into pyve's wheel cache; later environments reuse it offline)";
    assert!(downloaded || how == "Installed setuptools, wheel from pyve's wheel cache", "{how}");
    assert_eq!(
        visible,
        [
            (LogLevel::Info, "Python >= 3.12 detected; installing distutils compatibility shim"),
            (LogLevel::Success, how),
            (LogLevel::Success, installed.as_str()),
            (LogLevel::Info, "Disable with: PYVE_DISABLE_DISTUTILS_SHIM=1"),
            (LogLevel::Success, "Distutils shim probe: SETUPTOOLS_USE_DISTUTILS=local; import distutils works"),
        ]
    );
    assert_eq!(run.progress, if downloaded { 2 } else { 0 }, "a spinner (begin, end) while pip downloads");
    assert!(shim.is_absolute());
    assert!(std::fs::read_to_string(&shim).unwrap().starts_with(MARKER));
    assert_shim_works(&env);

    // A second run changes nothing and says so.
    let first = stamp(&shim);
    let again = in_process(&env.params());
    assert!(!again.ok().changed, "{:?}", again.ok());
    assert_eq!(again.ok().summary.as_deref(), Some("distutils shim already in place"));
    again.assert_has(LogLevel::Success, &format!("Distutils compatibility shim unchanged: {}", shim.display()));
    again.assert_has(LogLevel::Debug, "setuptools and wheel already installed");
    again.assert_has(LogLevel::Success, "Distutils shim probe: SETUPTOOLS_USE_DISTUTILS=local");
    assert_eq!(again.progress, 0, "nothing installed");
    assert_eq!(stamp(&shim), first, "the file was not rewritten");

    // A user's own choice of SETUPTOOLS_USE_DISTUTILS is kept (and on 3.12 `stdlib` has none).
    let out = Command::new(&env.python)
        .args(["-c", "import os; print(os.environ['SETUPTOOLS_USE_DISTUTILS']); import distutils"])
        .env("SETUPTOOLS_USE_DISTUTILS", "stdlib")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "stdlib");
    assert!(String::from_utf8_lossy(&out.stderr).contains("No module named 'distutils'"), "{out:?}");

    // Without setuptools' .pth, the shim's own finder (last on sys.meta_path) provides
    // distutils through setuptools, then steps aside.
    std::fs::remove_file(env.site_packages.join("distutils-precedence.pth")).unwrap();
    let check = "import sys\n\
                 names = lambda: [getattr(f, '__name__', type(f).__name__) for f in sys.meta_path]\n\
                 print(names()[-1])\n\
                 import distutils.core\n\
                 print(distutils.__file__)\n\
                 print('_PyveDistutilsFinder' in names())";
    let out = ok_stdout(&env.python(&["-c", check]), "the fallback finder");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "_PyveDistutilsFinder", "{out}");
    assert!(lines[1].contains("setuptools/_distutils"), "{out}");
    assert_eq!(lines[2], "False", "{out}");
}

fn py313_executable(base: &Path) {
    let env = Env::new(base);
    let run = executable(&env.params(), &[], &[]);
    assert!(run.ok().changed);
    run.assert_has(LogLevel::Success, &format!("Installed distutils compatibility shim: {}", env.shim().display()));
    run.assert_has(LogLevel::Success, "Distutils shim probe: SETUPTOOLS_USE_DISTUTILS=local");
    assert!(run.at(LogLevel::Warn).is_empty(), "{:#?}", run.logs);
    assert_shim_works(&env);
}

fn py312_dylib(base: &Path) {
    let env = Env::new(base);
    // An environment made by the original tool: its eager shim carries the same marker.
    let original = "# pyve-managed: distutils shim\nimport os\n\
                    os.environ.setdefault(\"SETUPTOOLS_USE_DISTUTILS\", \"local\")\nimport setuptools  # noqa: F401\n";
    std::fs::write(env.shim(), original).unwrap();
    let vars: BTreeMap<OsString, OsString> = std::env::vars_os().collect();
    let cwd = std::env::current_dir().unwrap();

    let run = through_dylib(&env.params());

    assert!(run.ok().changed);
    run.assert_has(LogLevel::Success, &format!("Installed distutils compatibility shim: {}", env.shim().display()));
    run.assert_has(LogLevel::Success, "Distutils shim probe: SETUPTOOLS_USE_DISTUTILS=local");
    assert!(run.at(LogLevel::Warn).is_empty(), "{:#?}", run.logs);
    // In-process, the library left the process's environment and directory as they were.
    assert_eq!(std::env::vars_os().collect::<BTreeMap<_, _>>(), vars, "environment changed");
    assert_eq!(std::env::current_dir().unwrap(), cwd, "working directory changed");
    assert_shim_works(&env);
}

/// With the version reported as `X.Y.Z`, the interpreter is not queried; once an environment
/// made the same way passed the probe, the next one links the kept bytecode instead of
/// probing; a damaged kept file is caught and the probe runs (and keeps its verdict) again.
fn warm_cache_verdict(base: &Path) {
    // A wheel cache of its own: the other tests' runs cannot add or replace a verdict in it.
    let cache = tempfile::tempdir().unwrap();
    let set = [("XDG_CACHE_HOME", cache.path().to_str().unwrap())];
    let run_in = |env: &Env| {
        let version = ok_stdout(&env.python(&["-c", "import platform; print(platform.python_version())"]), "version");
        let params = PostCreateParams { python_version: Some(version), ..env.params() };
        let run = executable(&params, &set, &[]);
        assert!(run.ok().changed);
        assert!(run.at(LogLevel::Warn).is_empty(), "{:#?}", run.logs);
        run.assert_has(LogLevel::Debug, "as the backend reported (its site-packages is there): not queried");
        run.assert_has(
            LogLevel::Success,
            "Distutils shim probe: SETUPTOOLS_USE_DISTUTILS=local; import distutils works",
        );
        assert_shim_works(env);
        run
    };
    let first = run_in(&Env::new(base));
    first.assert_has(LogLevel::Debug, "running the probe: no verdict to reuse (no record");
    let second = run_in(&Env::new(base));
    second.assert_has(LogLevel::Debug, "passed in an environment made the same way");

    let records: Vec<PathBuf> = std::fs::read_dir(cache.path().join("pyve/wheels/distutils-shim-v1"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("record.txt").is_file())
        .collect();
    assert_eq!(records.len(), 1, "{records:?}");
    let kept = records[0].join("_distutils_hack.pyc");
    let len = std::fs::metadata(&kept).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&kept).unwrap().set_len(len / 2).unwrap();
    let third = run_in(&Env::new(base));
    third.assert_has(LogLevel::Debug, "running the probe: no verdict to reuse (_distutils_hack.pyc is damaged)");
    let fourth = run_in(&Env::new(base));
    fourth.assert_has(LogLevel::Debug, "passed in an environment made the same way");
}

fn escape_hatch(base: &Path) {
    let env = Env::new(base);
    let before = listing(&env.site_packages);
    let run = executable(&env.params(), &[("PYVE_DISABLE_DISTUTILS_SHIM", "1")], &[]);
    assert!(!run.ok().changed);
    let visible: Vec<&LogParams> = run.logs.iter().filter(|l| l.level != LogLevel::Debug).collect();
    assert_eq!(visible.len(), 1, "{:#?}", run.logs);
    assert_eq!(visible[0].level, LogLevel::Info);
    assert_eq!(visible[0].message, "Distutils shim disabled (PYVE_DISABLE_DISTUTILS_SHIM=1)");
    assert!(!env.shim().exists(), "no sitecustomize.py");
    assert_eq!(listing(&env.site_packages), before, "nothing installed");
}

fn foreign_sitecustomize(base: &Path) {
    let env = Env::new(base);
    let foreign = "# my company's start-up hook\nimport os\nos.environ.setdefault('MY_SETTING', '1')\n";
    std::fs::write(env.shim(), foreign).unwrap();
    let stamp_before = stamp(&env.shim());
    let before = listing(&env.site_packages);
    let run = in_process(&env.params());
    assert!(!run.ok().changed);
    assert_eq!(run.at(LogLevel::Warn), ["sitecustomize.py exists and is not pyve-managed; skipping distutils shim"]);
    assert!(run.at(LogLevel::Success).is_empty(), "{:#?}", run.logs);
    assert_eq!(std::fs::read_to_string(env.shim()).unwrap(), foreign);
    assert_eq!(stamp(&env.shim()), stamp_before);
    assert_eq!(listing(&env.site_packages), before, "nothing installed either");
}

/// pip (and uv) cannot reach any index: the hook warns, still succeeds, and python works.
fn offline(base: &Path, settings: &[(&str, &str)]) {
    let env = Env::new(base);
    // An empty wheel cache of its own (the process's one may be filled by other tests).
    let cache = tempfile::tempdir().unwrap();
    let cache_dir = cache.path().to_str().unwrap();
    let mut set = vec![
        ("PIP_RETRIES", "0"),
        ("PIP_TIMEOUT", "5"),
        ("PIP_NO_CACHE_DIR", "1"),
        ("UV_NO_CACHE", "1"),
        ("XDG_CACHE_HOME", cache_dir),
    ];
    set.extend_from_slice(settings);
    let started = Instant::now();
    let run = executable(&env.params(), &set, &["PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_DEFAULT_TIMEOUT"]);
    let took = started.elapsed();
    let result = run.ok();
    assert!(result.changed, "the shim itself is written");
    assert!(result.summary.as_deref().unwrap().contains("could not install setuptools, wheel"), "{result:?}");
    let warnings = run.at(LogLevel::Warn);
    // pip, or uv when it is on PATH (the executable inherits this PATH).
    let installer = Installer::detect();
    let manual = installer.manual_command(&env.python, &["setuptools", "wheel"]);
    assert!(
        warnings.iter().any(|w| w.starts_with("Could not install setuptools, wheel (")
            && w.contains(&manual)
            && w.contains("when the package index can be reached")),
        "{warnings:#?}"
    );
    assert!(
        warnings.iter().any(|w| w.starts_with("Distutils shim probe failed (could not import distutils")
            && w.contains("setuptools and wheel could not be installed")),
        "{warnings:#?}"
    );
    run.assert_has(LogLevel::Debug, if installer == Installer::Pip { "pip download said:" } else { "uv said:" });
    assert!(env.shim().is_file());
    assert!(!env.has_dist("setuptools"));
    assert_python_still_starts(&env);
    // Without setuptools the finder finds nothing: the usual error, nothing worse.
    let out = env.python(&["-c", "import distutils"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("No module named 'distutils'"), "{out:?}");
    assert!(took < Duration::from_secs(120), "offline took {took:?}");
}

/// An index that accepts connections and never answers: pip waits; `$/cancel` stops it.
fn cancel_stops_install(base: &Path) {
    let env = Env::new(base);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/simple/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn); // never answered, closed when the test process ends
        }
    });
    let cache = tempfile::tempdir().unwrap();
    let set = [
        ("XDG_CACHE_HOME", cache.path().to_str().unwrap()),
        ("PIP_INDEX_URL", url.as_str()),
        ("PIP_TIMEOUT", "300"),
        ("PIP_RETRIES", "0"),
        ("PIP_NO_CACHE_DIR", "1"),
        ("UV_INDEX_URL", url.as_str()),
        ("UV_HTTP_TIMEOUT", "300"),
        ("UV_NO_CACHE", "1"),
    ];
    let started = Instant::now();
    let run = executable_session(
        &env.params(),
        &set,
        &["PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_DEFAULT_TIMEOUT"],
        true,
    );
    let took = started.elapsed();
    let error = run.result.as_ref().expect_err("the hook was cancelled");
    assert_eq!(error.code, -32800, "{error:?}");
    assert!(took < Duration::from_secs(60), "cancellation took {took:?}");
    assert!(run.progress >= 2, "the spinner began and ended: {run:?}");
    assert!(!env.shim().exists(), "nothing written after the cancelled install");
    assert!(!env.has_dist("setuptools"));
    // The installer was stopped, not left running.
    let needle = env.path.to_str().unwrap().as_bytes();
    let survivors: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            cmdline
                .windows(needle.len())
                .any(|w| w == needle)
                .then(|| String::from_utf8_lossy(&cmdline).replace('\0', " "))
        })
        .collect();
    assert!(survivors.is_empty(), "still running: {survivors:?}");
    assert_python_still_starts(&env);
}

fn with_uv(base: &Path) {
    let env = Env::new(base);
    let run = in_process(&env.params());
    assert!(run.ok().changed);
    // pyve's wheel cache comes first; uv installs only what it cannot provide.
    assert!(
        run.has(LogLevel::Success, "Installed setuptools, wheel with uv")
            || run.has(LogLevel::Success, "Installed setuptools, wheel from pyve's wheel cache")
            || run.has(LogLevel::Success, "Installed setuptools, wheel (downloaded"),
        "{:#?}",
        run.logs
    );
    assert_shim_works(&env);
}

// ---------------------------------------------------------------------------------------------

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

fn stamp(path: &Path) -> (SystemTime, u64) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).unwrap();
    (m.modified().unwrap(), m.ino())
}

// ---------------------------------------------------------------------------------------------

/// A minimal test runner printing libtest's lines. Arguments: filters (substrings of test
/// names; `--exact` for whole names), `--include-ignored`, `--ignored`, `--list`,
/// `--test-threads N`; others (`--quiet`, `--nocapture`, ...) are accepted and ignored.
mod runner {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::sync::mpsc;
    use std::time::Instant;

    pub struct Trial {
        pub name: &'static str,
        pub run: Box<dyn FnOnce() + Send>,
        pub ignored: bool,
    }

    impl Trial {
        pub fn ignored_if(mut self, ignored: bool) -> Self {
            self.ignored = ignored;
            self
        }
    }

    /// Run the trials; returns the process exit code.
    pub fn run(trials: Vec<Trial>) -> i32 {
        let mut filters = Vec::new();
        let (mut exact, mut list, mut include_ignored, mut only_ignored) = (false, false, false, false);
        let mut threads = 2;
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--exact" => exact = true,
                "--list" => list = true,
                "--include-ignored" => include_ignored = true,
                "--ignored" => only_ignored = true,
                "--test-threads" => threads = args.next().and_then(|n| n.parse().ok()).unwrap_or(threads),
                a if a.starts_with("--test-threads=") => threads = a[15..].parse().unwrap_or(threads),
                a if a.starts_with('-') => {}
                filter => filters.push(filter.to_owned()),
            }
        }
        let total = trials.len();
        let selected: Vec<Trial> = trials
            .into_iter()
            .filter(|t| {
                filters.is_empty()
                    || filters.iter().any(|f| if exact { t.name == f } else { t.name.contains(f.as_str()) })
            })
            .collect();
        let filtered_out = total - selected.len();
        if list {
            for t in &selected {
                println!("{}: test", t.name);
            }
            return 0;
        }
        let width = selected.iter().map(|t| t.name.len()).max().unwrap_or(0);
        println!("\nrunning {} tests", selected.len());
        let started = Instant::now();
        let (mut ignored, mut passed, mut failed) = (0, 0, Vec::new());
        let (tx, rx) = mpsc::channel::<(&'static str, bool)>();
        let mut pending = selected.into_iter();
        let mut running = 0;
        loop {
            while running < threads.max(1) {
                let Some(trial) = pending.next() else { break };
                if trial.ignored != only_ignored && !include_ignored {
                    println!("test {:width$} ... ignored", trial.name);
                    ignored += 1;
                    continue;
                }
                let tx = tx.clone();
                let name = trial.name;
                let run = trial.run;
                std::thread::Builder::new()
                    .name(name.to_owned())
                    .spawn(move || {
                        let ok = catch_unwind(AssertUnwindSafe(run)).is_ok();
                        let _ = tx.send((name, ok));
                    })
                    .expect("start a test thread");
                running += 1;
            }
            if running == 0 {
                break;
            }
            let (name, ok) = rx.recv().expect("a test thread reports");
            running -= 1;
            println!("test {name:width$} ... {}", if ok { "ok" } else { "FAILED" });
            if ok {
                passed += 1;
            } else {
                failed.push(name);
            }
        }
        if !failed.is_empty() {
            println!("\nfailures (their panic messages are above):");
            for name in &failed {
                println!("    {name}");
            }
        }
        println!(
            "\ntest result: {}. {passed} passed; {} failed; {ignored} ignored; 0 measured; {filtered_out} filtered out; finished in {:.2}s\n",
            if failed.is_empty() { "ok" } else { "FAILED" },
            failed.len(),
            started.elapsed().as_secs_f64()
        );
        if failed.is_empty() { 0 } else { 101 }
    }
}
