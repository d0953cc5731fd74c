//! The protocol conformance suite, run once over each transport and implementation: the Rust
//! example plugin as an executable and as a dynamic library, and the Python example plugin
//! (built on sdk/python). All three must behave the same on the wire.

use std::path::{Path, PathBuf};
use std::time::Duration;

use pyve::plugins::Kind;
use pyve::rpc::{
    Client, DylibTransport, Event, PluginRef, ProcessTransport, QuietHandler, SessionInfo, Timeouts, Transport,
};
use pyve_protocol::methods::request;
use pyve_protocol::types::{HostSettings, PostCreateParams};
use pyve_tests::{example, example_dylib, place, repo_root};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);

/// A plugin under test and how to open a session with it.
struct Subject {
    label: &'static str,
    path: PathBuf,
    kind: Kind,
    _dir: tempfile::TempDir,
}

impl Subject {
    fn open(&self) -> Box<dyn Transport> {
        match self.kind {
            Kind::Exec => Box::new(pyve_tests::retry_busy(|| ProcessTransport::spawn(&self.path, &[])).expect("spawn")),
            Kind::Dylib => Box::new(DylibTransport::load(&self.path).expect("load")),
        }
    }

    fn raw(&self) -> Raw {
        Raw { t: self.open(), label: self.label, next: 100 }
    }
}

struct Raw {
    t: Box<dyn Transport>,
    label: &'static str,
    next: i64,
}

impl Raw {
    fn send(&mut self, v: Value) {
        self.send_line(v.to_string().as_bytes());
    }

    fn send_line(&mut self, line: &[u8]) {
        self.t.send(line).unwrap_or_else(|e| panic!("{}: send: {e}", self.label));
    }

    fn recv(&mut self) -> Value {
        match self.t.recv(WAIT) {
            Some(Event::Line(l)) => serde_json::from_slice(&l)
                .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {}", self.label, String::from_utf8_lossy(&l))),
            other => panic!("{}: expected a message, got {other:?}", self.label),
        }
    }

    /// Send a request and return its response, skipping notifications (returned too).
    fn call(&mut self, method: &str, params: Value) -> (Value, Vec<Value>) {
        self.next += 1;
        let id = self.next;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let mut notes = Vec::new();
        loop {
            let m = self.recv();
            assert_eq!(m["jsonrpc"], "2.0", "{}: {m}", self.label);
            if m.get("id").is_some() && m.get("method").is_none() {
                assert_eq!(m["id"], id, "{}: the response carries the request's id: {m}", self.label);
                return (m, notes);
            }
            notes.push(m);
        }
    }

    fn initialize(&mut self, versions: &[&str]) -> Value {
        self.call("initialize", init_params(versions)).0
    }

    fn expect_end(&mut self) -> Option<String> {
        match self.t.recv(WAIT) {
            Some(Event::Closed(status)) => status,
            other => panic!("{}: expected the session to end, got {other:?}", self.label),
        }
    }
}

fn init_params(versions: &[&str]) -> Value {
    json!({"protocol_versions": versions, "host": {"name": "pyve", "version": "0.1.0"}, "settings": {"interactive": false, "color": false}})
}

fn error_of(m: &Value) -> (i64, String) {
    let e = &m["error"];
    assert!(e.is_object(), "expected an error response: {m}");
    assert!(e["message"].as_str().is_some_and(|s| !s.is_empty()), "an error has a message: {m}");
    (e["code"].as_i64().unwrap(), e["data"]["kind"].as_str().unwrap_or("").to_owned())
}

fn rust_exec() -> Subject {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("pyve-hello");
    place(&example("pyve-hello"), &p);
    Subject { label: "rust exec", path: p, kind: Kind::Exec, _dir: d }
}

fn rust_dylib() -> Subject {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("libpyve_hello.so");
    place(&example_dylib("hello_dylib"), &p);
    Subject { label: "rust dylib", path: p, kind: Kind::Dylib, _dir: d }
}

/// The Python example, copied with the helper beside it (as a user would install it).
fn python_exec() -> Subject {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("pyve-hello");
    let py = repo_root().join("sdk/python/examples/pyve-hello");
    place(&py, &p);
    std::fs::copy(repo_root().join("sdk/python/pyve_plugin.py"), d.path().join("pyve_plugin.py")).unwrap();
    Subject { label: "python exec", path: p, kind: Kind::Exec, _dir: d }
}

fn check_handshake(s: &Subject) {
    let mut r = s.raw();
    let m = r.initialize(&["1.0"]);
    let result = &m["result"];
    assert_eq!(result["name"], "hello", "{}: {m}", s.label);
    assert_eq!(result["protocol"], "1.0", "{}", s.label);
    assert_eq!(result["version"], "0.1.0", "{}", s.label);
    assert!(result["provides"]["commands"].as_array().unwrap().iter().any(|c| c["name"] == "hello"), "{}", s.label);
    assert!(result["provides"]["hooks"].as_array().unwrap().iter().any(|h| h["event"] == "post-create"), "{}", s.label);
    let (shut, _) = r.call("shutdown", Value::Null);
    assert_eq!(shut["result"], Value::Null, "{}: {shut}", s.label);
    assert!(shut.as_object().unwrap().contains_key("result"), "{}", s.label);
    let status = r.expect_end();
    if s.kind == Kind::Exec {
        assert_eq!(status.as_deref(), Some("exit status 0"), "{}", s.label);
    }
}

fn check_negotiation(s: &Subject) {
    let mut r = s.raw();
    assert_eq!(r.initialize(&["1.3"])["result"]["protocol"], "1.1", "{}: lower minor wins", s.label);
    let mut r = s.raw();
    assert_eq!(r.initialize(&["2.0", "1.1"])["result"]["protocol"], "1.1", "{}: shared major", s.label);
    let mut r = s.raw();
    assert_eq!(r.initialize(&["1.0"])["result"]["protocol"], "1.0", "{}: an older host's minor", s.label);
    let mut r = s.raw();
    let m = r.initialize(&["2.0"]);
    let (code, kind) = error_of(&m);
    assert_eq!((code, kind.as_str()), (-32001, "incompatible-protocol"), "{}: {m}", s.label);
    assert!(m["error"]["data"]["hint"].as_str().is_some_and(|h| !h.is_empty()), "{}: a hint: {m}", s.label);
}

fn check_errors(s: &Subject) {
    let mut r = s.raw();
    // Before the handshake.
    let (m, _) = r.call("env/describe", json!({"project_root": "/p", "backend": "x"}));
    assert_eq!(error_of(&m), (-32600, "invalid-request".into()), "{}: {m}", s.label);
    // The handshake, with fields from a newer host.
    let mut params = init_params(&["1.0"]);
    params["future_field"] = json!({"x": 1});
    params["settings"]["theme"] = json!("dark");
    let (m, _) = r.call("initialize", params);
    assert_eq!(m["result"]["name"], "hello", "{}: unknown fields are ignored: {m}", s.label);
    // Unknown method.
    let (m, _) = r.call("env/frobnicate", json!({}));
    assert_eq!(error_of(&m), (-32601, "method-not-found".into()), "{}: {m}", s.label);
    // Unknown notification: no answer; the next request is answered normally.
    r.send(json!({"jsonrpc": "2.0", "method": "$/telemetry", "params": {"a": 1}}));
    // Invalid params.
    let (m, _) = r.call("hook/post-create", json!({"project_root": "/p", "backend": "venv"}));
    assert_eq!(error_of(&m), (-32602, "invalid-params".into()), "{}: {m}", s.label);
    // A line that is not JSON: answered with id null, and the session goes on.
    r.send_line(b"this is not json");
    let m = r.recv();
    assert_eq!(m["id"], Value::Null, "{}: {m}", s.label);
    assert_eq!(error_of(&m), (-32700, "parse-error".into()), "{}: {m}", s.label);
    // JSON that is not JSON-RPC 2.0: answered with its id.
    r.send(json!({"jsonrpc": "1.0", "id": 77, "method": "initialize"}));
    let m = r.recv();
    assert_eq!(m["id"], 77, "{}: {m}", s.label);
    assert_eq!(error_of(&m), (-32600, "invalid-request".into()), "{}: {m}", s.label);
    // Still alive.
    let (m, _) = r.call("shutdown", Value::Null);
    assert!(m.as_object().unwrap().contains_key("result"), "{}: {m}", s.label);
}

fn check_hook(s: &Subject) {
    let env = tempfile::tempdir().unwrap();
    let mut r = s.raw();
    r.initialize(&["1.0"]);
    let (m, notes) = r.call(
        "hook/post-create",
        json!({"project_root": "/p", "backend": "venv", "env_path": env.path(), "created": true, "extra": 1}),
    );
    assert_eq!(m["result"], json!({"changed": true, "summary": "greeted the environment"}), "{}: {m}", s.label);
    let file = env.path().join("hello.txt");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "hello from the venv backend\n", "{}", s.label);
    let log = notes.iter().find(|n| n["method"] == "$/log").unwrap_or_else(|| panic!("{}: no $/log", s.label));
    assert_eq!(log["params"], json!({"level": "info", "message": format!("wrote {}", file.display())}), "{}", s.label);
    assert!(log.get("id").is_none(), "{}: notifications have no id", s.label);
}

fn check_end_of_input(s: &Subject) {
    let mut r = s.raw();
    r.initialize(&["1.0"]);
    if s.kind == Kind::Exec {
        // Closing stdin without `shutdown` ends the plugin cleanly.
        r.t.close(WAIT);
    }
}

fn check_typed_client(s: &Subject) {
    let info = SessionInfo { project_root: None, settings: HostSettings::default(), env: vec![] };
    let plugin = PluginRef { name: "hello".into(), path: s.path.clone(), kind: s.kind };
    let timeouts = Timeouts { handshake: WAIT, call: Some(WAIT) };
    let mut client = Client::with_transport(s.open(), plugin, timeouts);
    let manifest = client.initialize(&info, &mut QuietHandler).unwrap();
    assert_eq!(manifest.name, "hello");
    let env = tempfile::tempdir().unwrap();
    let params = PostCreateParams {
        project_root: "/p".into(),
        backend: "micromamba".into(),
        env_path: env.path().into(),
        interpreter: None,
        python_version: None,
        created: true,
    };
    let result = client.call::<request::HookPostCreate>(&params, &mut QuietHandler).unwrap();
    assert!(result.changed);
    assert!(Path::new(&env.path().join("hello.txt")).exists());
    client.shutdown();
}

fn conforms(s: &Subject) {
    check_handshake(s);
    check_negotiation(s);
    check_errors(s);
    check_hook(s);
    check_end_of_input(s);
    check_typed_client(s);
}

#[test]
fn rust_executable_conforms() {
    conforms(&rust_exec());
}

#[test]
fn rust_dynamic_library_conforms() {
    conforms(&rust_dylib());
}

#[test]
fn python_executable_conforms() {
    conforms(&python_exec());
}
