//! The conformance kit behind `pyve plugin test`: starts the real plugin file (an executable
//! with `--pyve-rpc`, or a dynamic library through its C ABI) and checks it against
//! docs/protocol.md, rule by rule, recording what was sent and what came back so that an
//! author in any language can act on a failure.
//!
//! Every check opens its own session, so one failure does not hide the next. The rules:
//! handshake and manifest, version negotiation, the order of messages (nothing before
//! `initialize`), unknown fields, unknown methods and notifications, malformed lines, invalid
//! params for every advertised method, nothing but protocol on stdout, `$/progress` pairing,
//! `$/cancel` answered within a bound, `shutdown` and end of input, a hook call, and for a
//! backend a real create / describe / activation / create-with-replace / remove cycle in a
//! temporary project.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};

use crate::plugins::{Candidate, Kind};
use crate::rpc::{DylibTransport, Event, ProcessTransport, Transport};

/// The outcome of one rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The plugin follows the rule.
    Pass,
    /// It does not.
    Fail,
    /// The rule could not be checked (said why).
    Skip,
}

/// One checked rule.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// The rule's short name, such as `handshake` or `invalid-params env/create`.
    pub rule: String,
    /// Pass, fail or skip.
    pub outcome: Outcome,
    /// What was found (or why it was skipped).
    pub detail: String,
    /// What the kit sent, for a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent: Option<String>,
    /// What came back, for a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub got: Option<String>,
}

/// Everything the kit found for one plugin file.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The plugin name (from the file name).
    pub plugin: String,
    /// The file.
    pub path: PathBuf,
    /// `exec` or `dylib`.
    pub kind: Kind,
    /// The plugin's version, when its handshake worked.
    pub version: Option<String>,
    /// Each rule, in the order checked.
    pub checks: Vec<Finding>,
    /// Counts.
    pub passed: usize,
    /// Counts.
    pub failed: usize,
    /// Counts.
    pub skipped: usize,
    /// How long the whole run took, in milliseconds.
    pub millis: u128,
}

/// What the kit may use.
#[derive(Clone, Debug)]
pub struct Options {
    /// The longest wait for any one answer.
    pub timeout: Duration,
    /// Files copied into the temporary project the backend cycle runs in (what the backend
    /// needs: an `environment.yml`, a `pyproject.toml`, ...).
    pub project: Option<PathBuf>,
    /// Variables for the plugin process (a channel, a cache).
    pub env: Vec<(String, std::ffi::OsString)>,
    /// Run the backend cycle (create is slow for real backends).
    pub backend_cycle: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { timeout: Duration::from_secs(30), project: None, env: Vec::new(), backend_cycle: true }
    }
}

/// A raw session: lines in and out, every line the plugin writes checked to be a message.
struct Raw {
    t: Box<dyn Transport>,
    timeout: Duration,
    next: i64,
    /// Lines on stdout that were not protocol messages.
    noise: Vec<String>,
    /// Every notification received.
    notes: Vec<Value>,
    /// The last message sent by [`Raw::finish`].
    last_sent: Option<Value>,
}

/// How a session ended: the exit status (when known), or what went wrong.
type SessionEnd = Result<Option<String>, String>;

/// How a wait for a message ended when no message came.
#[derive(Debug)]
enum NoMessage {
    Timeout,
    Closed(Option<String>),
    Broken(String),
}

impl std::fmt::Display for NoMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoMessage::Timeout => f.write_str("no answer within the time limit"),
            NoMessage::Closed(Some(s)) => write!(f, "the plugin ended the session ({s})"),
            NoMessage::Closed(None) => f.write_str("the plugin ended the session"),
            NoMessage::Broken(why) => write!(f, "the plugin broke the framing: {why}"),
        }
    }
}

/// A line as it can be shown: control characters escaped, at most 200 characters.
fn printable(line: &[u8]) -> String {
    String::from_utf8_lossy(line).chars().take(200).flat_map(char::escape_debug).collect()
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 600 { format!("{}…", &s[..s.char_indices().nth(600).map_or(s.len(), |(i, _)| i)]) } else { s }
}

impl Raw {
    fn open(c: &Candidate, opts: &Options) -> Result<Raw, String> {
        let t: Box<dyn Transport> = match c.kind {
            Kind::Exec => {
                Box::new(ProcessTransport::spawn(&c.path, &opts.env).map_err(|e| {
                    // As the resolver says for a file without an execute bit.
                    let fix = if e.kind() == std::io::ErrorKind::PermissionDenied {
                        format!("; make it executable: chmod +x {}", c.path.display())
                    } else {
                        String::new()
                    };
                    format!("cannot start it: {e}{fix}")
                })?)
            }
            Kind::Dylib => Box::new(DylibTransport::load(&c.path).map_err(|e| format!("cannot load it: {e}"))?),
        };
        Ok(Raw { t, timeout: opts.timeout, next: 0, noise: Vec::new(), notes: Vec::new(), last_sent: None })
    }

    fn send(&mut self, v: &Value) {
        let _ = self.t.send(v.to_string().as_bytes());
    }

    /// The next message, answering the plugin's own requests and collecting notifications
    /// when `skip_notes`.
    fn recv(&mut self, skip_notes: bool, timeout: Duration) -> Result<Value, NoMessage> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.t.recv(left) {
                None => return Err(NoMessage::Timeout),
                Some(Event::Closed(s)) => return Err(NoMessage::Closed(s)),
                Some(Event::Broken(why)) => return Err(NoMessage::Broken(why)),
                Some(Event::Line(l)) => {
                    let Ok(m) = serde_json::from_slice::<Value>(&l) else {
                        self.noise.push(printable(&l));
                        continue;
                    };
                    if !m.is_object() || m["jsonrpc"] != "2.0" {
                        self.noise.push(short(&m));
                        continue;
                    }
                    let is_request = m.get("method").is_some() && m.get("id").is_some();
                    if is_request {
                        // The kit is not interactive: a prompt is refused as the host would.
                        self.send(&json!({"jsonrpc": "2.0", "id": m["id"], "error": {"code": -32000, "message": "the conformance kit does not answer prompts", "data": {"kind": "not-interactive"}}}));
                        continue;
                    }
                    if m.get("method").is_some() {
                        self.notes.push(m.clone());
                        if skip_notes {
                            continue;
                        }
                    }
                    return Ok(m);
                }
            }
        }
    }

    /// Send a request, return its response (notifications in between are collected).
    fn call(&mut self, method: &str, params: Value) -> (Value, Result<Value, NoMessage>) {
        self.call_within(method, params, self.timeout)
    }

    fn call_within(&mut self, method: &str, params: Value, timeout: Duration) -> (Value, Result<Value, NoMessage>) {
        self.next += 1;
        let msg = json!({"jsonrpc": "2.0", "id": self.next, "method": method, "params": params});
        self.send(&msg);
        let id = self.next;
        let got = loop {
            match self.recv(true, timeout) {
                Ok(m) if m.get("id") == Some(&json!(id)) => break Ok(m),
                Ok(_) => continue, // an answer to something else (an earlier line): not ours
                Err(e) => break Err(e),
            }
        };
        (msg, got)
    }

    fn initialize(&mut self, versions: &[&str]) -> (Value, Result<Value, NoMessage>) {
        self.call("initialize", init_params(versions))
    }

    /// `shutdown`, then wait for the session to end; the exit status for an executable.
    fn finish(&mut self) -> (Result<Value, NoMessage>, Option<SessionEnd>) {
        let (sent, answer) = self.call("shutdown", Value::Null);
        self.last_sent = Some(sent);
        let end = self.wait_end();
        (answer, end)
    }

    /// For an executable: how its process ended (it must end by itself).
    fn wait_end(&mut self) -> Option<SessionEnd> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match self.t.recv(deadline.saturating_duration_since(Instant::now())) {
                Some(Event::Closed(status)) => return Some(Ok(status)),
                Some(Event::Line(l)) => {
                    // Lines after `shutdown`'s answer: must still be protocol.
                    if serde_json::from_slice::<Value>(&l).is_err() {
                        self.noise.push(printable(&l));
                    }
                }
                Some(Event::Broken(why)) => return Some(Err(why)),
                None => {
                    self.t.kill();
                    return Some(Err("it did not exit within 5 s of `shutdown` (pyve stopped it)".into()));
                }
            }
        }
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        self.t.kill();
    }
}

fn init_params(versions: &[&str]) -> Value {
    json!({
        "protocol_versions": versions,
        "host": {"name": "pyve", "version": crate::env::VERSION},
        "settings": {"interactive": false, "color": false}
    })
}

/// The kit's run over one file.
struct Kit<'a> {
    c: &'a Candidate,
    opts: &'a Options,
    checks: Vec<Finding>,
}

impl Kit<'_> {
    fn pass(&mut self, rule: &str, detail: impl Into<String>) {
        self.checks.push(Finding {
            rule: rule.into(),
            outcome: Outcome::Pass,
            detail: detail.into(),
            sent: None,
            got: None,
        });
    }

    fn skip(&mut self, rule: &str, detail: impl Into<String>) {
        self.checks.push(Finding {
            rule: rule.into(),
            outcome: Outcome::Skip,
            detail: detail.into(),
            sent: None,
            got: None,
        });
    }

    fn fail(&mut self, rule: &str, detail: impl Into<String>, sent: Option<&Value>, got: Option<String>) {
        self.checks.push(Finding {
            rule: rule.into(),
            outcome: Outcome::Fail,
            detail: detail.into(),
            sent: sent.map(short),
            got,
        });
    }

    fn open(&mut self, rule: &str) -> Option<Raw> {
        match Raw::open(self.c, self.opts) {
            Ok(r) => Some(r),
            Err(e) => {
                self.fail(rule, e, None, None);
                None
            }
        }
    }

    /// Open a session and complete the handshake.
    fn session(&mut self, rule: &str) -> Option<Raw> {
        let mut r = self.open(rule)?;
        let (sent, got) = r.initialize(&["1.0"]);
        match got {
            Ok(m) if m.get("result").is_some_and(Value::is_object) => Some(r),
            Ok(m) => {
                self.fail(rule, "the handshake failed", Some(&sent), Some(short(&m)));
                None
            }
            Err(e) => {
                self.fail(rule, format!("the handshake failed: {e}"), Some(&sent), None);
                None
            }
        }
    }

    /// Check that `got` is an error response of `code` and `kind`, with a message.
    fn expect_error(&mut self, rule: &str, sent: &Value, got: Result<Value, NoMessage>, code: i64, kind: &str) {
        let m = match got {
            Ok(m) => m,
            Err(e) => return self.fail(rule, format!("expected a {kind} error ({code}): {e}"), Some(sent), None),
        };
        let e = &m["error"];
        let ok_shape = e.is_object()
            && e["code"].as_i64() == Some(code)
            && e["message"].as_str().is_some_and(|s| !s.is_empty())
            && e["data"]["kind"] == kind
            && m.get("result").is_none();
        if ok_shape {
            self.pass(rule, format!("answered error {code} `{kind}`"));
        } else {
            self.fail(
                rule,
                format!("expected an error response with code {code}, a message and data.kind \"{kind}\""),
                Some(sent),
                Some(short(&m)),
            );
        }
    }

    fn run(mut self) -> (Option<pyve_protocol::types::Manifest>, Vec<Finding>) {
        let manifest = self.handshake();
        if manifest.is_none() {
            return (None, self.checks);
        }
        let m = manifest.clone().expect("checked");
        self.negotiation();
        self.order_and_errors();
        self.invalid_params(&m);
        self.end_of_input();
        if !m.provides.hooks.is_empty() {
            self.hook();
        }
        if !m.provides.backends.is_empty() {
            if self.opts.backend_cycle {
                for b in &m.provides.backends {
                    self.backend_cycle(&b.name);
                }
            } else {
                self.skip("backend cycle", "not run (--no-backend-cycle)");
            }
        }
        self.cancel(&m);
        (manifest, self.checks)
    }

    fn handshake(&mut self) -> Option<pyve_protocol::types::Manifest> {
        let mut r = self.open("handshake")?;
        let (sent, got) = r.initialize(&["1.0"]);
        let m = match got {
            Ok(m) => m,
            Err(e) => {
                self.fail("handshake", format!("no answer to `initialize`: {e}"), Some(&sent), None);
                self.noise_check(&r);
                return None;
            }
        };
        let Some(result) = m.get("result") else {
            self.fail("handshake", "`initialize` was answered with an error", Some(&sent), Some(short(&m)));
            return None;
        };
        if m["id"] != sent["id"] {
            self.fail("handshake", "the response does not carry the request's id", Some(&sent), Some(short(&m)));
        }
        let manifest: pyve_protocol::types::Manifest = match serde_json::from_value(result.clone()) {
            Ok(man) => man,
            Err(e) => {
                self.fail(
                    "manifest",
                    format!("the manifest does not have the documented shape: {e}"),
                    Some(&sent),
                    Some(short(&m)),
                );
                return None;
            }
        };
        self.pass("handshake", format!("`initialize` answered: {} {}", manifest.name, manifest.version));
        // The manifest.
        if manifest.name == self.c.name {
            self.pass("manifest name", format!("`{}` matches the file name", manifest.name));
        } else {
            self.fail(
                "manifest name",
                format!("the manifest says `{}` but the file is named for `{}`", manifest.name, self.c.name),
                None,
                Some(short(result)),
            );
        }
        match semver::Version::parse(&manifest.version) {
            Ok(_) => self.pass("manifest version", format!("{} is a semantic version", manifest.version)),
            Err(e) => self.fail(
                "manifest version",
                format!("`{}` is not a semantic version: {e}", manifest.version),
                None,
                None,
            ),
        }
        if manifest.protocol.major == 1 {
            // Say what was offered: a bare "chose 1.0" reads as if pyve spoke 1.0.
            self.pass("manifest protocol", format!("chose {} when offered only 1.0", manifest.protocol));
        } else {
            self.fail(
                "manifest protocol",
                format!("chose {} although the host offered only 1.0", manifest.protocol),
                Some(&sent),
                Some(short(result)),
            );
        }
        let d = manifest.description.trim();
        if d.is_empty() {
            self.fail(
                "manifest description",
                "no `description`: `pyve --list` and `plugin info` show one line about the plugin",
                None,
                None,
            );
        } else if d.contains('\n') || d.chars().count() > 200 {
            self.fail(
                "manifest description",
                "the description is not one short line (at most 200 characters)",
                None,
                Some(d.chars().take(80).collect()),
            );
        } else {
            self.pass("manifest description", "one line");
        }
        let options: Vec<&pyve_protocol::types::OptionInfo> =
            manifest.provides.backends.iter().flat_map(|b| b.options.iter()).collect();
        if !options.is_empty() {
            let mut problems: Vec<String> = options.iter().filter_map(|o| crate::backend::option_problem(o)).collect();
            if options.iter().filter(|o| o.positional).count() > 1 {
                problems.push("more than one option claims the positional argument".into());
            }
            if problems.is_empty() {
                self.pass("manifest options", format!("{} option(s) pyve --init can offer", options.len()));
            } else {
                self.fail("manifest options", problems.join("; "), None, None);
            }
        }
        if manifest.provides.is_empty() {
            self.fail(
                "manifest provides",
                "the plugin provides no backend, command or hook",
                None,
                Some(short(result)),
            );
        } else {
            self.pass("manifest provides", "provides something");
        }
        // `shutdown`, then the end of the session.
        let (answer, end) = r.finish();
        self.noise_check(&r);
        match answer {
            Ok(a) if a.as_object().is_some_and(|o| o.contains_key("result")) && a["result"].is_null() => {
                self.pass("shutdown", "answered with a null result")
            }
            Ok(a) => self.fail(
                "shutdown",
                "`shutdown` must be answered with `\"result\": null`",
                r.last_sent.as_ref(),
                Some(short(&a)),
            ),
            Err(e) => self.fail("shutdown", format!("no answer to `shutdown`: {e}"), r.last_sent.as_ref(), None),
        }
        if self.c.kind == Kind::Exec {
            match end {
                Some(Ok(Some(s))) if s == "exit status 0" => self.pass("exit", "exited with status 0 after `shutdown`"),
                Some(Ok(Some(s))) => {
                    self.fail("exit", format!("after `shutdown` it ended with {s}, not status 0"), None, None)
                }
                Some(Ok(None)) => self.pass("exit", "closed its output after `shutdown`"),
                Some(Err(e)) => self.fail("exit", e, None, None),
                None => {}
            }
            if r.t.orphans() {
                self.fail("no orphans", "processes the plugin started were still running after it exited", None, None);
            } else {
                self.pass("no orphans", "nothing it started outlived it");
            }
        }
        Some(manifest)
    }

    fn noise_check(&mut self, r: &Raw) {
        if let Some(first) = r.noise.first() {
            self.fail(
                "stdout is protocol only",
                format!("{} line(s) on stdout are not JSON-RPC 2.0 messages (print to stderr instead)", r.noise.len()),
                None,
                Some(first.clone()),
            );
        }
    }

    fn negotiation(&mut self) {
        for (offer, want, what) in [
            (&["1.3"][..], "1.", "a host speaking only a newer minor (1.3)"),
            (&["2.0", "1.1"][..], "1.", "a host speaking 2.0 and 1.1"),
        ] {
            let rule = "negotiation";
            let Some(mut r) = self.open(rule) else { return };
            let (sent, got) = r.initialize(offer);
            match got {
                Ok(m) if m["result"]["protocol"].as_str().is_some_and(|p| p.starts_with(want)) => {
                    self.pass(rule, format!("{what}: chose {}", m["result"]["protocol"].as_str().unwrap_or("?")))
                }
                Ok(m) => self.fail(rule, format!("{what}: expected a 1.x protocol"), Some(&sent), Some(short(&m))),
                Err(e) => self.fail(rule, format!("{what}: {e}"), Some(&sent), None),
            }
        }
        let rule = "incompatible major";
        let Some(mut r) = self.open(rule) else { return };
        let (sent, got) = r.initialize(&["2.0"]);
        self.expect_error(rule, &sent, got, -32001, "incompatible-protocol");
        if let Some(last) = self.checks.last()
            && last.outcome == Outcome::Pass
        {
            // The error must tell the user what to upgrade.
            let (sent, got) = {
                let Some(mut r) = self.open(rule) else { return };
                r.initialize(&["2.0"])
            };
            if !got.as_ref().is_ok_and(|m| m["error"]["data"]["hint"].as_str().is_some_and(|h| !h.is_empty())) {
                self.fail(
                    "incompatible major hint",
                    "the error has no `data.hint` saying what to upgrade",
                    Some(&sent),
                    got.ok().map(|m| short(&m)),
                );
            }
        }
    }

    fn order_and_errors(&mut self) {
        let Some(mut r) = self.open("before initialize") else { return };
        let r = &mut r;
        let (sent, got) = r.call("env/describe", json!({"project_root": "/p", "backend": "x"}));
        self.expect_error("before initialize", &sent, got, -32600, "invalid-request");

        let mut params = init_params(&["1.0"]);
        params["future_field"] = json!({"x": 1});
        params["settings"]["theme"] = json!("dark");
        params["host"]["build"] = json!("ci");
        let (sent, got) = r.call("initialize", params);
        match got {
            Ok(m) if m["result"].is_object() => self.pass("unknown fields", "fields from a newer host are ignored"),
            Ok(m) => {
                return self.fail(
                    "unknown fields",
                    "`initialize` with unknown fields was refused: they must be ignored",
                    Some(&sent),
                    Some(short(&m)),
                );
            }
            Err(e) => {
                return self.fail(
                    "unknown fields",
                    format!("`initialize` with unknown fields: {e}"),
                    Some(&sent),
                    None,
                );
            }
        }
        let (sent, got) = r.call("env/frobnicate", json!({}));
        self.expect_error("unknown method", &sent, got, -32601, "method-not-found");
        // An unknown notification: no answer; the next request is answered normally.
        r.send(&json!({"jsonrpc": "2.0", "method": "$/telemetry", "params": {"a": 1}}));
        let (sent, got) = r.call("env/frobnicate", json!({}));
        match got {
            Ok(m) if m["error"]["data"]["kind"] == "method-not-found" => {
                self.pass("unknown notification", "ignored, without an answer")
            }
            Ok(m) => self.fail(
                "unknown notification",
                "an unknown notification must be ignored (no answer)",
                Some(&sent),
                Some(short(&m)),
            ),
            Err(e) => {
                self.fail("unknown notification", format!("after an unknown notification: {e}"), Some(&sent), None)
            }
        }
        // A line that is not JSON: answered with id null; the session goes on.
        let _ = r.t.send(b"this is not json");
        let sent = json!("this is not json");
        match r.recv(true, self.opts.timeout) {
            Ok(m)
                if m["id"].is_null() && m["error"]["code"] == -32700 && m["error"]["data"]["kind"] == "parse-error" =>
            {
                self.pass("parse error", "answered error -32700 `parse-error` with id null")
            }
            Ok(m) => self.fail(
                "parse error",
                "a line that is not JSON is answered with error -32700, kind parse-error, id null",
                Some(&sent),
                Some(short(&m)),
            ),
            Err(e) => self.fail("parse error", format!("a line that is not JSON: {e}"), Some(&sent), None),
        }
        let bad = json!({"jsonrpc": "1.0", "id": 77, "method": "initialize"});
        r.send(&bad);
        match r.recv(true, self.opts.timeout) {
            Ok(m)
                if m["id"] == 77 && m["error"]["code"] == -32600 && m["error"]["data"]["kind"] == "invalid-request" =>
            {
                self.pass("invalid request", "JSON that is not JSON-RPC 2.0 is answered -32600 with its id")
            }
            Ok(m) => self.fail(
                "invalid request",
                "expected error -32600 `invalid-request` carrying id 77",
                Some(&bad),
                Some(short(&m)),
            ),
            Err(e) => self.fail("invalid request", e.to_string(), Some(&bad), None),
        }
        let (answer, end) = r.finish();
        self.noise_check(r);
        if answer.is_err() {
            self.fail(
                "session survives errors",
                "after the errors above the plugin no longer answers `shutdown`",
                None,
                None,
            );
        } else {
            self.pass("session survives errors", "still answering after every error");
        }
        let _ = end;
    }

    fn invalid_params(&mut self, m: &pyve_protocol::types::Manifest) {
        let mut methods: Vec<(&str, Value)> = Vec::new();
        if !m.provides.backends.is_empty() {
            for method in ["env/create", "env/describe", "env/activation", "env/remove", "doctor/checks"] {
                methods.push((method, json!({"backend": 7})));
            }
        }
        if !m.provides.hooks.is_empty() {
            methods.push(("hook/post-create", json!({"project_root": "/p", "backend": "venv"})));
        }
        if methods.is_empty() {
            return;
        }
        let Some(mut r) = self.session("invalid params") else { return };
        for (method, params) in methods {
            let (sent, got) = r.call(method, params);
            self.expect_error(&format!("invalid params {method}"), &sent, got, -32602, "invalid-params");
        }
        self.noise_check(&r);
        self.progress_check(&r);
    }

    fn end_of_input(&mut self) {
        if self.c.kind != Kind::Exec {
            return;
        }
        let Some(mut r) = self.session("end of input") else { return };
        // Close stdin without `shutdown`: the plugin must end by itself.
        let start = Instant::now();
        drop_stdin(&mut r);
        match r.wait_end() {
            Some(Ok(_)) => {
                self.pass("end of input", format!("ended {} ms after its input closed", start.elapsed().as_millis()))
            }
            Some(Err(e)) => {
                self.fail("end of input", format!("when its input closes the plugin must exit: {e}"), None, None)
            }
            None => {}
        }
    }

    fn hook(&mut self) {
        let rule = "hook/post-create";
        let Some(mut r) = self.session(rule) else { return };
        let project = tempfile::tempdir().ok();
        let env = tempfile::tempdir().ok();
        let (Some(project), Some(env)) = (project, env) else { return self.skip(rule, "no temporary directory") };
        let params = json!({"project_root": project.path(), "backend": "venv", "env_path": env.path(), "created": true, "future": 1});
        let (sent, got) = r.call(rule, params);
        match got {
            Ok(m) if m["result"].is_object() && m["result"]["changed"].is_boolean() => {
                self.pass(rule, "answered {changed: bool, ...} for a new (empty) environment")
            }
            Ok(m) if m["error"].is_object() => {
                let shaped = m["error"]["data"]["kind"].is_string() && m["error"]["message"].is_string();
                if shaped {
                    self.pass(
                        rule,
                        format!("answered a documented error for an empty environment: {}", short(&m["error"])),
                    )
                } else {
                    self.fail(rule, "the error lacks a message or data.kind", Some(&sent), Some(short(&m)))
                }
            }
            Ok(m) => self.fail(
                rule,
                "expected a result {\"changed\": bool, \"summary\"?: string}",
                Some(&sent),
                Some(short(&m)),
            ),
            Err(e) => self.fail(rule, e.to_string(), Some(&sent), None),
        }
        self.noise_check(&r);
        self.progress_check(&r);
    }

    fn progress_check(&mut self, r: &Raw) {
        let mut open: Vec<String> = Vec::new();
        let mut problems = Vec::new();
        for n in r.notes.iter().filter(|n| n["method"] == "$/progress") {
            let token = n["params"]["token"].to_string();
            match n["params"]["kind"].as_str() {
                Some("begin") => open.push(token),
                Some("report") if !open.contains(&token) => {
                    problems.push(format!("report without begin: {}", short(n)))
                }
                Some("end") => match open.iter().position(|t| *t == token) {
                    Some(i) => {
                        open.remove(i);
                    }
                    None => problems.push(format!("end without begin: {}", short(n))),
                },
                Some("report") => {}
                _ => problems.push(format!("unknown kind: {}", short(n))),
            }
        }
        for n in r.notes.iter().filter(|n| n["method"] == "$/log") {
            let level = n["params"]["level"].as_str().unwrap_or("");
            if !["error", "warn", "success", "info", "debug", "trace"].contains(&level)
                || !n["params"]["message"].is_string()
            {
                problems.push(format!("a $/log without a documented level and a message: {}", short(n)));
            }
        }
        problems.extend(open.iter().map(|t| format!("begin {t} never ended")));
        if problems.is_empty() {
            if r.notes.iter().any(|n| n["method"] == "$/progress" || n["method"] == "$/log") {
                self.pass("notifications", "every $/progress begin ends; $/log levels are documented ones");
            }
        } else {
            self.fail("notifications", problems.join("; "), None, None);
        }
    }

    fn backend_cycle(&mut self, backend: &str) {
        let rule = format!("backend {backend}");
        let Ok(dir) = tempfile::Builder::new().prefix("pyve-plugin-test-").tempdir() else {
            return self.skip(&rule, "no temporary directory");
        };
        let root = dir.path().join("project");
        if let Err(e) = std::fs::create_dir_all(&root) {
            return self.skip(&rule, format!("cannot create the project: {e}"));
        }
        if let Some(src) = &self.opts.project
            && let Err(e) = copy_tree(src, &root)
        {
            return self.fail(
                &rule,
                format!("cannot copy {} into the temporary project: {e}", src.display()),
                None,
                None,
            );
        }
        let Some(mut r) = self.session(&rule) else { return };
        let base = json!({"project_root": root, "backend": backend});
        let long = self.opts.timeout.max(Duration::from_secs(600));
        let (sent, got) = r.call_within("env/create", json!({"project_root": root, "backend": backend}), long);
        let created = match got {
            Ok(m) if m["result"].is_object() => m["result"].clone(),
            Ok(m) if m["error"].is_object() => {
                let shaped = m["error"]["data"]["kind"].is_string() && m["error"]["message"].is_string();
                if shaped {
                    self.skip(
                        &format!("{rule}: create"),
                        format!(
                            "env/create in an empty project answered an error ({}); give the files it needs with --project DIR to run the cycle",
                            m["error"]["message"].as_str().unwrap_or("")
                        ),
                    );
                } else {
                    self.fail(
                        &format!("{rule}: create"),
                        "the error lacks a message or data.kind",
                        Some(&sent),
                        Some(short(&m)),
                    );
                }
                return;
            }
            Ok(m) => return self.fail(&format!("{rule}: create"), "expected a result", Some(&sent), Some(short(&m))),
            Err(e) => return self.fail(&format!("{rule}: create"), e.to_string(), Some(&sent), None),
        };
        let env_path = created["env_path"].as_str().map(PathBuf::from);
        match (&env_path, created["created"].as_bool()) {
            (Some(p), Some(true)) if p.exists() && p.starts_with(&root) => {
                self.pass(&format!("{rule}: create"), format!("made {}", p.display()))
            }
            (Some(p), Some(true)) if p.exists() => {
                self.pass(&format!("{rule}: create"), format!("made {} (outside the project)", p.display()))
            }
            _ => {
                return self.fail(
                    &format!("{rule}: create"),
                    "expected {\"env_path\": an existing directory, \"created\": true, ...}",
                    Some(&sent),
                    Some(short(&created)),
                );
            }
        }
        let env_path = env_path.expect("checked");
        let mut with_settings = base.clone();
        if created["settings"].is_object() {
            with_settings["settings"] = created["settings"].clone();
        }
        let (sent, got) = r.call("env/describe", with_settings.clone());
        match got {
            Ok(m)
                if m["result"]["exists"] == true
                    && m["result"]["env_path"].as_str().map(PathBuf::from) == Some(env_path.clone()) =>
            {
                self.pass(&format!("{rule}: describe"), "exists, at the path create returned")
            }
            Ok(m) => self.fail(
                &format!("{rule}: describe"),
                "after create: expected exists true and the same env_path",
                Some(&sent),
                Some(short(&m)),
            ),
            Err(e) => self.fail(&format!("{rule}: describe"), e.to_string(), Some(&sent), None),
        }
        let (sent, got) = r.call("env/activation", with_settings.clone());
        match got {
            Ok(m) if m["result"].is_object() => self.pass(&format!("{rule}: activation"), "answered"),
            Ok(m) => {
                self.fail(&format!("{rule}: activation"), "expected an activation object", Some(&sent), Some(short(&m)))
            }
            Err(e) => self.fail(&format!("{rule}: activation"), e.to_string(), Some(&sent), None),
        }
        let (sent, got) = r.call("doctor/checks", with_settings.clone());
        match got {
            Ok(m) if m["result"]["checks"].is_array() || m["error"]["data"]["kind"] == "method-not-found" => {
                self.pass(&format!("{rule}: doctor/checks"), "answered")
            }
            Ok(m) => self.fail(
                &format!("{rule}: doctor/checks"),
                "expected {\"checks\": [...]}",
                Some(&sent),
                Some(short(&m)),
            ),
            Err(e) => self.fail(&format!("{rule}: doctor/checks"), e.to_string(), Some(&sent), None),
        }
        // `replace: true` rebuilds: `created` must be true.
        let mut replace = with_settings.clone();
        replace["replace"] = json!(true);
        let (sent, got) = r.call_within("env/create", replace, long);
        match got {
            Ok(m)
                if m["result"]["created"] == true
                    && m["result"]["env_path"].as_str().is_some_and(|p| Path::new(p).exists()) =>
            {
                self.pass(&format!("{rule}: replace"), "replace: true rebuilt the environment (created: true)")
            }
            Ok(m) => self.fail(
                &format!("{rule}: replace"),
                "with replace: true the backend must rebuild the environment and answer created: true",
                Some(&sent),
                Some(short(&m)),
            ),
            Err(e) => self.fail(&format!("{rule}: replace"), e.to_string(), Some(&sent), None),
        }
        let (sent, got) = r.call("env/remove", with_settings.clone());
        match got {
            Ok(m) if m["result"]["removed"].is_array() && !env_path.exists() => {
                self.pass(&format!("{rule}: remove"), "removed, and said what")
            }
            Ok(m) if m["result"].is_object() => self.fail(
                &format!("{rule}: remove"),
                format!("after env/remove {} still exists, or `removed` is not a list", env_path.display()),
                Some(&sent),
                Some(short(&m)),
            ),
            Ok(m) => self.fail(
                &format!("{rule}: remove"),
                "expected {\"removed\": [...], \"kept\"?: [...]}",
                Some(&sent),
                Some(short(&m)),
            ),
            Err(e) => self.fail(&format!("{rule}: remove"), e.to_string(), Some(&sent), None),
        }
        let (sent, got) = r.call("env/describe", with_settings);
        match got {
            Ok(m) if m["result"]["exists"] == false => {
                self.pass(&format!("{rule}: describe after remove"), "exists: false")
            }
            Ok(m) => self.fail(
                &format!("{rule}: describe after remove"),
                "expected exists: false",
                Some(&sent),
                Some(short(&m)),
            ),
            Err(e) => self.fail(&format!("{rule}: describe after remove"), e.to_string(), Some(&sent), None),
        }
        self.noise_check(&r);
        self.progress_check(&r);
        let (answer, _) = r.finish();
        if answer.is_err() {
            self.fail(&format!("{rule}: shutdown"), "no answer to `shutdown` after the cycle", None, None);
        }
        // Nothing outside the project was left in the temporary directory.
        let stray: Vec<String> = std::fs::read_dir(dir.path())
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name() != "project")
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        if !stray.is_empty() {
            self.fail(
                &format!("{rule}: stays in the project"),
                format!("wrote beside the project: {}", stray.join(", ")),
                None,
                None,
            );
        }
    }

    fn cancel(&mut self, m: &pyve_protocol::types::Manifest) {
        let rule = "$/cancel";
        let Some(mut r) = self.session(rule) else { return };
        // A request that is running or queued, then its cancellation: it must be answered
        // (a result when it finished first, else error -32800 `cancelled`) within 5 s.
        let (method, params) = if let Some(b) = m.provides.backends.first() {
            ("env/describe", json!({"project_root": std::env::temp_dir(), "backend": b.name}))
        } else if !m.provides.hooks.is_empty() {
            (
                "hook/post-create",
                json!({"project_root": "/nonexistent", "backend": "venv", "env_path": "/nonexistent/env", "created": false}),
            )
        } else {
            ("env/frobnicate", json!({}))
        };
        r.next += 1;
        let id = r.next;
        let sent = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        r.send(&sent);
        r.send(&json!({"jsonrpc": "2.0", "method": "$/cancel", "params": {"id": id}}));
        let start = Instant::now();
        let got = loop {
            match r.recv(true, Duration::from_secs(5)) {
                Ok(a) if a["id"] == id => break Ok(a),
                Ok(_) => continue,
                Err(e) => break Err(e),
            }
        };
        match got {
            Ok(a) if a.get("result").is_some() || a["error"]["data"]["kind"].is_string() => {
                self.pass(rule, format!("answered {} ms after the cancellation", start.elapsed().as_millis()))
            }
            Ok(a) => {
                self.fail(rule, "the answer has neither a result nor a documented error", Some(&sent), Some(short(&a)))
            }
            Err(e) => self.fail(
                rule,
                format!("a cancelled request must still be answered within 5 s: {e}"),
                Some(&sent),
                None,
            ),
        }
    }
}

fn drop_stdin(r: &mut Raw) {
    // Closing the input is the transport's `close` without the wait: ask it to close with a
    // zero grace, which shuts stdin; the end is then observed by `wait_end`.
    r.t.close_input();
}

fn copy_tree(src: &Path, dest: &Path) -> std::io::Result<()> {
    for e in std::fs::read_dir(src)? {
        let e = e?;
        let to = dest.join(e.file_name());
        if e.file_type()?.is_dir() {
            std::fs::create_dir_all(&to)?;
            copy_tree(&e.path(), &to)?;
        } else {
            std::fs::copy(e.path(), &to)?;
        }
    }
    Ok(())
}

/// Run the kit on one plugin file.
pub fn check(c: &Candidate, opts: &Options) -> Report {
    let start = Instant::now();
    let kit = Kit { c, opts, checks: Vec::new() };
    let (manifest, checks) = kit.run();
    let count = |o: Outcome| checks.iter().filter(|f| f.outcome == o).count();
    Report {
        plugin: c.name.clone(),
        path: c.path.clone(),
        kind: c.kind,
        version: manifest.map(|m| m.version),
        passed: count(Outcome::Pass),
        failed: count(Outcome::Fail),
        skipped: count(Outcome::Skip),
        checks,
        millis: start.elapsed().as_millis(),
    }
}
