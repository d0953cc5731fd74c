//! A minimal host for the tests: starts the real `pyve-venv --pyve-rpc` in a sandbox (empty
//! environment, temporary HOME) and speaks the protocol in raw JSON lines. Any stdout line
//! that is not a protocol message fails the test.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_pyve-venv");

/// The real pyenv root (read only).
pub fn pyenv_root() -> PathBuf {
    crate::common::pyenv_root().expect("a pyenv root with Python 3.11-3.13 is required")
}

/// The newest real pyenv release of `short` ("3.12"): `(version, install dir)`.
pub fn real(short: &str) -> (String, PathBuf) {
    let p = crate::common::python(short);
    let dir = p.path.parent().and_then(Path::parent).expect("install dir").to_path_buf();
    (p.version, dir)
}

/// A temporary machine: HOME, a project, and the variables the plugin sees (nothing else).
pub struct Sandbox {
    pub tmp: tempfile::TempDir,
    pub home: PathBuf,
    pub project: PathBuf,
    vars: Vec<(String, OsString)>,
}

impl Sandbox {
    /// HOME and the project in a temporary directory, `PYENV_ROOT` the real pyenv root, a
    /// wheel cache shared by the tests, and no CI or PYVE_FORCE_YES.
    pub fn new() -> Sandbox {
        let tmp = tempfile::tempdir().expect("tempdir");
        let home = tmp.path().join("home");
        let project = tmp.path().join("project");
        std::fs::create_dir_all(&home).expect("home");
        std::fs::create_dir_all(&project).expect("project");
        let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pyve-venv-tests-cache");
        let mut s = Sandbox { tmp, home: home.clone(), project, vars: Vec::new() };
        s.set("HOME", &home);
        s.set("PATH", "/usr/bin:/bin");
        s.set("PYENV_ROOT", pyenv_root());
        s.set("XDG_CACHE_HOME", cache);
        s
    }

    pub fn set(&mut self, key: &str, value: impl Into<OsString>) {
        self.vars.retain(|(k, _)| k != key);
        self.vars.push((key.to_string(), value.into()));
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.env_clear().envs(self.vars.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// Run the passthrough command `python-version ARGS` with stdin closed.
    pub fn python_version(&self, args: &[&str]) -> Output {
        self.command()
            .args(args)
            .env("PYVE_COMMAND", "python-version")
            .env("PYVE_PROJECT_ROOT", &self.project)
            .stdin(Stdio::null())
            .output()
            .expect("run pyve-venv")
    }

    /// Run the passthrough command `python-version ARGS` with `input` piped on stdin.
    pub fn python_version_with_input(&self, args: &[&str], input: &str) -> Output {
        use std::io::Write;
        let mut child = self
            .command()
            .args(args)
            .env("PYVE_COMMAND", "python-version")
            .env("PYVE_PROJECT_ROOT", &self.project)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run pyve-venv");
        child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write the answer");
        child.wait_with_output().expect("wait for pyve-venv")
    }

    /// Start an RPC session.
    pub fn host(&self, interactive: bool) -> Host {
        Host::start(self.command(), interactive, &self.project)
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.project.join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    /// The names in the project directory, sorted.
    pub fn listing(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.project)
            .expect("list project")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// `env/create` params.
    pub fn create_params(&self, version: Option<&str>, settings: Value, replace: bool) -> Value {
        let mut p = json!({"project_root": self.project, "backend": "venv", "settings": settings, "replace": replace});
        if let Some(v) = version {
            p["python_version"] = json!(v);
        }
        p
    }

    /// Env params.
    pub fn env_params(&self, settings: Value) -> Value {
        json!({"project_root": self.project, "backend": "venv", "settings": settings})
    }
}

/// The test's side of a session.
pub struct Host {
    child: Child,
    stdin: Option<ChildStdin>,
    rx: Receiver<Value>,
    stderr: Arc<Mutex<String>>,
    stderr_reader: Option<std::thread::JoinHandle<()>>,
    next_id: i64,
    /// Every notification received.
    pub notifications: Vec<Value>,
    /// Every `host/prompt` received.
    pub prompts: Vec<Value>,
    /// The answer to prompts (`None`: fail them as not interactive).
    pub answer: Option<String>,
    /// The manifest the plugin answered `initialize` with.
    pub manifest: Value,
}

impl Host {
    fn start(mut cmd: Command, interactive: bool, project: &Path) -> Host {
        let mut child = cmd
            .arg("--pyve-rpc")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start pyve-venv --pyve-rpc");
        let (tx, rx) = channel();
        let stdout = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("pyve-venv wrote a non-protocol line on stdout ({e}): {line:?}"));
                assert_eq!(v["jsonrpc"], "2.0", "not JSON-RPC: {line}");
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        let err = child.stderr.take().expect("stderr");
        let stderr_reader = std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                let mut s = sink.lock().unwrap_or_else(|e| e.into_inner());
                s.push_str(&line);
                s.push('\n');
            }
        });
        let stdin = child.stdin.take();
        let mut host = Host {
            child,
            stdin,
            rx,
            stderr,
            stderr_reader: Some(stderr_reader),
            next_id: 1,
            notifications: Vec::new(),
            prompts: Vec::new(),
            answer: None,
            manifest: Value::Null,
        };
        let manifest = host
            .call(
                "initialize",
                json!({
                    "protocol_versions": ["1.0"],
                    "host": {"name": "pyve", "version": "0.1.0"},
                    "project": {"root": project},
                    "settings": {"interactive": interactive, "color": false},
                }),
            )
            .expect("initialize");
        assert_eq!(manifest["name"], "venv");
        host.manifest = manifest;
        host
    }

    fn write(&mut self, msg: &Value) {
        let stdin = self.stdin.as_mut().expect("session open");
        writeln!(stdin, "{msg}").expect("write to the plugin");
        stdin.flush().expect("flush");
    }

    /// Send a request; returns its id.
    pub fn send(&mut self, method: &str, params: Value) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        self.write(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        id
    }

    pub fn notify(&mut self, method: &str, params: Value) {
        self.write(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Handle one incoming message (notifications are kept, prompts answered); returns it.
    fn next(&mut self, deadline: Instant) -> Value {
        let left = deadline.saturating_duration_since(Instant::now());
        let msg = self
            .rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no message from pyve-venv in time; stderr:\n{}", self.stderr()));
        if msg.get("method").is_some() && msg.get("id").is_some() {
            assert_eq!(msg["method"], "host/prompt", "unexpected request {msg}");
            self.prompts.push(msg["params"].clone());
            let reply = match &self.answer {
                Some(a) => json!({"jsonrpc": "2.0", "id": msg["id"], "result": {"answer": a}}),
                None => {
                    json!({"jsonrpc": "2.0", "id": msg["id"], "error": {"code": -32000, "message": "not interactive", "data": {"kind": "not-interactive"}}})
                }
            };
            self.write(&reply);
        } else if msg.get("method").is_some() {
            self.notifications.push(msg.clone());
        }
        msg
    }

    /// Wait for the response to `id`: `Ok(result)` or `Err(error)`.
    pub fn wait(&mut self, id: i64) -> Result<Value, Value> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let msg = self.next(deadline);
            if msg.get("method").is_none() {
                assert_eq!(msg["id"], id, "a response to another request: {msg}");
                return match msg.get("error") {
                    Some(e) => Err(e.clone()),
                    None => Ok(msg["result"].clone()),
                };
            }
        }
    }

    /// Wait until a notification satisfies `pred`.
    pub fn wait_notification(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        if let Some(n) = self.notifications.iter().find(|n| pred(n)) {
            return n.clone();
        }
        loop {
            let msg = self.next(deadline);
            assert!(msg.get("method").is_some(), "a response while waiting for a notification: {msg}");
            if pred(&msg) {
                return msg;
            }
        }
    }

    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        let id = self.send(method, params);
        self.wait(id)
    }

    /// The `$/log` lines so far, as `level: message`.
    pub fn logs(&self) -> Vec<String> {
        self.notifications
            .iter()
            .filter(|n| n["method"] == "$/log")
            .map(|n| {
                format!(
                    "{}: {}",
                    n["params"]["level"].as_str().unwrap_or("?"),
                    n["params"]["message"].as_str().unwrap_or("?")
                )
            })
            .collect()
    }

    /// Whether some log line is `level: message` containing `text`.
    pub fn logged(&self, level: &str, text: &str) -> bool {
        self.logs().iter().any(|l| l.starts_with(&format!("{level}: ")) && l.contains(text))
    }

    pub fn clear(&mut self) {
        self.notifications.clear();
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// `shutdown`, then wait for the process to exit 0; returns its stderr.
    pub fn shutdown(mut self) -> String {
        assert_eq!(self.call("shutdown", Value::Null), Ok(Value::Null));
        drop(self.stdin.take());
        let status = self.child.wait().expect("wait");
        assert!(status.success(), "pyve-venv exited with {status}");
        // Everything has been read once the pipe closes (bounded: an orphaned grandchild could
        // hold it open).
        if let Some(reader) = self.stderr_reader.take() {
            let deadline = Instant::now() + Duration::from_secs(5);
            while !reader.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        self.stderr()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        drop(self.stdin.take());
        if matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(200));
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// The error's `data.kind`.
pub fn kind(e: &Value) -> &str {
    e["data"]["kind"].as_str().unwrap_or("?")
}

/// Run an environment's python with `-c CODE` in a clean environment; returns its stdout.
pub fn run_python(python: &Path, code: &str, home: &Path) -> String {
    let out = Command::new(python)
        .args(["-c", code])
        .env_clear()
        .env("HOME", home)
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", python.display()));
    assert!(out.status.success(), "{} -c {code:?} failed: {}", python.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A working environment: inside a venv, running the expected version.
pub fn assert_venv_works(env: &Path, version: &str, home: &Path) {
    let out = run_python(
        &env.join("bin/python"),
        "import sys, platform; assert sys.prefix != sys.base_prefix, sys.prefix; print(sys.prefix); print(platform.python_version())",
        home,
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines, [env.to_str().expect("utf-8"), version], "{}", env.display());
}

/// A fake version manager executable (a shell script) at `path`.
pub fn write_script(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}
