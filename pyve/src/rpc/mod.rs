//! The host side of the protocol: one [`Transport`] trait with two implementations (a child
//! process started with `--pyve-rpc`, and a dynamic library loaded in-process), and a
//! [`Client`] that performs the handshake and typed calls over either, with timeouts, and
//! turns every way a plugin can misbehave into a clear error naming it.

mod dylib;
mod process;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use pyve_protocol::error::kind;
use pyve_protocol::methods::{NotificationMethod, RequestMethod, notification, request};
use pyve_protocol::types::*;
use pyve_protocol::{ErrorObject, Id, Message, PROTOCOL_VERSION, Request, Response, framing};

use crate::error::Error;

/// How long a plugin asked to cancel (Ctrl-C) has to answer before it is stopped.
const CANCEL_WAIT: Duration = Duration::from_secs(5);
use crate::plugins::{Candidate, Kind};

pub use dylib::DylibTransport;
pub use process::ProcessTransport;

/// Something that happened on a transport.
#[derive(Debug)]
pub enum Event {
    /// A line from the plugin (without its line ending).
    Line(Vec<u8>),
    /// The plugin ended the session; for a process, how it exited.
    Closed(Option<String>),
    /// The plugin broke the framing (a line too long, a read error).
    Broken(String),
}

/// A way to exchange protocol lines with a plugin.
pub trait Transport: Send {
    /// Send one message (without its newline).
    fn send(&mut self, line: &[u8]) -> std::io::Result<()>;
    /// The next event, or `None` when `timeout` passed without one.
    fn recv(&mut self, timeout: Duration) -> Option<Event>;
    /// End the session after `shutdown` (or an end of input): let the plugin finish within
    /// `grace`, then stop it.
    fn close(&mut self, grace: Duration);
    /// Stop the plugin now (its whole process group for an executable).
    fn kill(&mut self);
    /// Close the plugin's input (its end of input), without waiting for it to end.
    fn close_input(&mut self) {}
    /// After the plugin ended: whether processes it started are still running.
    fn orphans(&self) -> bool {
        false
    }
}

/// Which plugin a client talks to, for messages.
#[derive(Clone, Debug)]
pub struct PluginRef {
    /// The plugin's name.
    pub name: String,
    /// The file.
    pub path: PathBuf,
    /// Executable or library.
    pub kind: Kind,
}

impl PluginRef {
    /// From a resolved candidate.
    pub fn of(c: &Candidate) -> Self {
        PluginRef { name: c.name.clone(), path: c.path.clone(), kind: c.kind }
    }

    fn label(&self) -> String {
        format!("plugin '{}' ({})", self.name, self.path.display())
    }
}

/// How a plugin failed us (cached with the plugin's file: see the manifest cache).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Failure {
    /// It could not be started or loaded.
    Start(String),
    /// It ended the session before answering.
    Closed {
        /// The request it did not answer.
        method: String,
        /// How the process ended, when known.
        status: Option<String>,
    },
    /// It wrote something that is not a protocol message.
    Garbage {
        /// The offending line, shortened.
        line: String,
        /// Why it is not a message.
        why: String,
    },
    /// It stayed silent for too long.
    Timeout {
        /// The request it did not answer.
        method: String,
        /// How long pyve waited.
        after: Duration,
    },
    /// It speaks another protocol major.
    Incompatible {
        /// What the plugin said.
        detail: String,
    },
    /// Its manifest is wrong (another name than its file's).
    BadManifest(String),
    /// It answered with an error of its own (boxed: its JSON details are large when
    /// `serde_json` preserves order, as it does in a workspace build with rattler).
    Remote(Box<ErrorObject>),
    /// Its answer does not fit the method's result type.
    BadResult {
        /// The method.
        method: String,
        /// What does not fit.
        why: String,
    },
    /// The user pressed Ctrl-C.
    Interrupted,
}

/// A failure of one plugin.
#[derive(Debug, Clone)]
pub struct RpcError {
    /// Which plugin.
    pub plugin: PluginRef,
    /// What happened.
    pub failure: Failure,
}

impl RpcError {
    /// The status word for `plugin list`: `incompatible` or `broken`.
    pub fn status(&self) -> &'static str {
        match self.failure {
            Failure::Incompatible { .. } => "incompatible",
            _ => "broken",
        }
    }

    /// One line saying what happened, without naming the plugin (for listings).
    pub fn summary(&self) -> String {
        match &self.failure {
            Failure::Start(why) => format!("could not be started: {why}"),
            Failure::Closed { method, status } if method == request::Initialize::METHOD => {
                let status = status.as_ref().map(|s| format!(" ({s})")).unwrap_or_default();
                match self.plugin.kind {
                    Kind::Exec => format!("exited before the handshake{status}"),
                    Kind::Dylib => format!("ended its session before the handshake{status}"),
                }
            }
            Failure::Closed { method, status } => format!(
                "stopped while handling `{method}`{}",
                status.as_ref().map(|s| format!(" ({s})")).unwrap_or_default()
            ),
            Failure::Garbage { line, why } => format!("wrote a line that is not a protocol message ({why}): {line}"),
            Failure::Timeout { method, after } if method.starts_with("pyve_plugin_") => {
                format!("did not return from `{method}` within {}; the library is abandoned", human_duration(*after))
            }
            Failure::Timeout { method, after } => {
                format!("did not answer `{method}` within {}", human_duration(*after))
            }
            Failure::Incompatible { detail } => detail.clone(),
            Failure::BadManifest(why) => why.clone(),
            Failure::Remote(e) => e.message.clone(),
            Failure::BadResult { method, why } => format!("answered `{method}` with a malformed result: {why}"),
            Failure::Interrupted => "interrupted".into(),
        }
    }

    /// The full user-facing error, naming the plugin and its path, with a hint.
    pub fn to_error(&self) -> Error {
        let p = &self.plugin;
        let label = p.label();
        let run_it = match p.kind {
            Kind::Exec => format!("run `{} --pyve-rpc` to see what it does", p.path.display()),
            Kind::Dylib => "reinstall the plugin, or remove the library".to_owned(),
        };
        match &self.failure {
            Failure::Start(why) => Error::new(format!("{label} could not be started"))
                .because(why)
                .hint(format!("check that {} is a plugin built for this machine, or remove it", p.path.display())),
            Failure::Closed { .. } => Error::new(format!("{label} {}", self.summary()))
                .hint(format!("this is a bug in the plugin: see its messages above, if it printed any; {run_it}, and report it to its author")),
            Failure::Garbage { .. } => Error::new(format!("{label} {}", self.summary())).hint(format!(
                "a plugin must write only protocol messages to stdout (logs go to stderr); {run_it}, and report it to its author"
            )),
            Failure::Timeout { method, .. } => {
                let var = if method == request::Initialize::METHOD || method.starts_with("pyve_plugin_") {
                    "PYVE_HANDSHAKE_TIMEOUT"
                } else {
                    "PYVE_RPC_TIMEOUT"
                };
                Error::new(format!("{label} {}", self.summary()))
                    .hint(format!("if it is only slow, allow more time with {var}=<seconds>; otherwise {run_it}"))
            }
            Failure::Incompatible { .. } => Error::new(format!("{label} {}", self.summary())).hint(format!(
                "install a version of pyve-{} for protocol {}, or a pyve that speaks the plugin's protocol",
                p.name, PROTOCOL_VERSION.major
            )),
            Failure::BadManifest(why) if why.starts_with("calls itself") => Error::new(format!("{label} {}", self.summary()))
                .hint(format!("rename the file after the plugin's real name, or reinstall pyve-{}", p.name)),
            Failure::BadManifest(_) => Error::new(format!("{label} {}", self.summary()))
                .hint(format!("this is a bug in the plugin: reinstall pyve-{}, or report it to its author", p.name)),
            // The plugin is named once (the message starts with its name); its path and a
            // generic hint would only repeat what the user knows: the path with `--verbose`,
            // the plugin's own hint when it gives one.
            Failure::Remote(e) => {
                let mut err = Error::new(format!("{}: {}", p.name, e.message));
                if crate::ui::get().verbosity > 0 {
                    err = err.because(format!("reported by {label}"));
                }
                match e.hint() {
                    Some(h) => err.hint(h),
                    None => err,
                }
            }
            Failure::BadResult { .. } => Error::new(format!("{label} {}", self.summary()))
                .hint(format!("the plugin and pyve disagree on the protocol; update pyve-{} or pyve", p.name)),
            Failure::Interrupted => Error::new(format!("interrupted ({}) while waiting for {label}", crate::signals::name()))
                .exit_code(crate::signals::exit_status()),
        }
    }
}

/// The longest one-line text of a manifest (a description or a summary), in characters.
pub const MAX_MANIFEST_TEXT: usize = 1024;
/// The longest name in a manifest (a version, a command, a backend, a hook event), in characters.
pub const MAX_MANIFEST_NAME: usize = 64;
/// The longest selector (a file name or a pattern), in characters.
pub const MAX_SELECTOR: usize = 255;
/// The most entries of each list of a manifest (backends, commands, hooks, selectors).
pub const MAX_MANIFEST_ENTRIES: usize = 64;

/// Check the bounds and shapes of a manifest (docs/security.md, "Plugins' output"): every text
/// is one line without control characters and within its bound, every name is a plain word
/// (`[A-Za-z0-9][A-Za-z0-9._-]*`, nothing a shell or a terminal would read specially), every
/// selector a plain file name (a `*` allowed), every list within [`MAX_MANIFEST_ENTRIES`].
/// The error says which field is wrong, without repeating it whole.
pub fn check_manifest(m: &Manifest) -> Result<(), String> {
    fn text(field: &str, v: &str, max: usize) -> Result<(), String> {
        let n = v.chars().count();
        if n > max {
            return Err(format!("sent a manifest whose {field} is {n} characters long (at most {max})"));
        }
        if let Some(c) = v.chars().find(|c| c.is_control()) {
            return Err(format!(
                "sent a manifest whose {field} holds the control character {:?} (one line of text expected)",
                c
            ));
        }
        Ok(())
    }
    fn name(field: &str, v: &str) -> Result<(), String> {
        text(field, v, MAX_MANIFEST_NAME)?;
        let plain = v.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
            && v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !plain {
            return Err(format!(
                "sent a manifest whose {field} '{:.64}' is not a plain name ([A-Za-z0-9][A-Za-z0-9._-]*)",
                v.escape_debug()
            ));
        }
        Ok(())
    }
    fn count(field: &str, n: usize) -> Result<(), String> {
        if n > MAX_MANIFEST_ENTRIES {
            return Err(format!("sent a manifest with {n} {field} (at most {MAX_MANIFEST_ENTRIES})"));
        }
        Ok(())
    }
    text("version", &m.version, MAX_MANIFEST_NAME)?;
    text("description", &m.description, MAX_MANIFEST_TEXT)?;
    let p = &m.provides;
    count("backends", p.backends.len())?;
    count("commands", p.commands.len())?;
    count("hooks", p.hooks.len())?;
    for b in &p.backends {
        name("backend name", &b.name)?;
        text("backend description", &b.description, MAX_MANIFEST_TEXT)?;
        count("selectors", b.selectors.len())?;
        for s in &b.selectors {
            text("selector", s, MAX_SELECTOR)?;
            if s.is_empty() || s == "." || s == ".." || s.contains(['/', '\\']) {
                return Err(format!("sent a manifest whose selector '{:.64}' is not a file name", s.escape_debug()));
            }
        }
    }
    for c in &p.commands {
        name("command name", &c.name)?;
        text("command summary", &c.summary, MAX_MANIFEST_TEXT)?;
    }
    for h in &p.hooks {
        name("hook event", &h.event)?;
        text("hook description", &h.description, MAX_MANIFEST_TEXT)?;
    }
    Ok(())
}

fn human_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 1.0 && (s - s.round()).abs() < 0.05 { format!("{} s", s.round()) } else { format!("{s:.1} s") }
}

/// What the host does with the plugin's messages during a call.
pub trait Handler {
    /// A `$/log` message.
    fn log(&mut self, plugin: &PluginRef, params: LogParams);
    /// A `$/progress` notification.
    fn progress(&mut self, plugin: &PluginRef, params: ProgressParams);
    /// A `host/prompt` request.
    fn prompt(&mut self, plugin: &PluginRef, params: PromptParams) -> Result<PromptResult, ErrorObject>;
}

/// Prints logs like the host's own messages, ignores progress, refuses prompts (used for
/// listing and inspecting).
#[derive(Debug, Default)]
pub struct QuietHandler;

impl Handler for QuietHandler {
    fn log(&mut self, plugin: &PluginRef, params: LogParams) {
        crate::ui::debug(&format!("{}: {}", plugin.name, params.message));
    }
    fn progress(&mut self, _: &PluginRef, _: ProgressParams) {}
    fn prompt(&mut self, _: &PluginRef, params: PromptParams) -> Result<PromptResult, ErrorObject> {
        Err(ErrorObject::failed(kind::NOT_INTERACTIVE, format!("cannot ask \"{}\" here", params.message)))
    }
}

/// How long the host waits for a plugin.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// For `initialize`.
    pub handshake: Duration,
    /// For every other request: the longest silence allowed (any message from the plugin
    /// restarts the clock). `None`: each method's default.
    pub call: Option<Duration>,
}

impl Timeouts {
    /// The silence allowed while waiting for `method`.
    pub fn for_method(&self, method: &str) -> Duration {
        if method == request::Initialize::METHOD {
            return self.handshake;
        }
        if let Some(t) = self.call {
            return t;
        }
        match method {
            m if m == request::Shutdown::METHOD => Duration::from_secs(5),
            // May install an interpreter or packages; progress messages restart the clock.
            m if m == request::EnvCreate::METHOD || m == request::HookPostCreate::METHOD => {
                Duration::from_secs(30 * 60)
            }
            m if m == request::EnvRemove::METHOD => Duration::from_secs(10 * 60),
            _ => Duration::from_secs(60),
        }
    }
}

/// A session with one plugin.
pub struct Client {
    transport: Box<dyn Transport>,
    plugin: PluginRef,
    timeouts: Timeouts,
    next_id: i64,
    /// The session ended (or broke): nothing more can be sent.
    ended: bool,
    /// Watch for Ctrl-C and cancel the request when it comes.
    cancellable: bool,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("plugin", &self.plugin).finish_non_exhaustive()
    }
}

/// What the host tells a plugin about itself and the session.
#[derive(Clone, Debug)]
pub struct SessionInfo {
    /// The project, if any.
    pub project_root: Option<PathBuf>,
    /// Interactive, verbosity, colour.
    pub settings: HostSettings,
    /// Environment variables for an executable plugin (`PYVE`, `PYVE_HOME`, ...).
    pub env: Vec<(String, std::ffi::OsString)>,
}

impl Client {
    /// Start the plugin (spawn it or load it) without talking to it yet.
    pub fn start(candidate: &Candidate, info: &SessionInfo, timeouts: Timeouts) -> Result<Self, RpcError> {
        let plugin = PluginRef::of(candidate);
        let transport: Box<dyn Transport> = match candidate.kind {
            Kind::Exec => Box::new(
                ProcessTransport::spawn(&candidate.path, &info.env)
                    .map_err(|e| RpcError { plugin: plugin.clone(), failure: Failure::Start(e.to_string()) })?,
            ),
            // Every call into the library is bounded by the handshake's time (a library call
            // must return at once): one that does not costs it once (cached like a handshake
            // that timed out) and the library is abandoned.
            Kind::Dylib => {
                Box::new(dylib::DylibTransport::load_within(&candidate.path, timeouts.handshake).map_err(|e| {
                    let failure = match e {
                        dylib::LoadError::Timeout { call, after } => Failure::Timeout { method: call.into(), after },
                        dylib::LoadError::Failed(why) => Failure::Start(why),
                    };
                    RpcError { plugin: plugin.clone(), failure }
                })?)
            }
        };
        Ok(Client { transport, plugin, timeouts, next_id: 1, ended: false, cancellable: false })
    }

    /// Start a client on any transport (tests use this to run the conformance suite).
    pub fn with_transport(transport: Box<dyn Transport>, plugin: PluginRef, timeouts: Timeouts) -> Self {
        Client { transport, plugin, timeouts, next_id: 1, ended: false, cancellable: false }
    }

    /// Cancel the running request on Ctrl-C (`$/cancel`, then `shutdown`, then kill).
    pub fn cancel_on_interrupt(&mut self) {
        crate::signals::catch_interrupts();
        self.cancellable = true;
    }

    /// The plugin.
    pub fn plugin(&self) -> &PluginRef {
        &self.plugin
    }

    /// The handshake: offer protocol 1, receive and check the manifest.
    pub fn initialize(&mut self, info: &SessionInfo, handler: &mut dyn Handler) -> Result<Manifest, RpcError> {
        let params = InitializeParams {
            protocol_versions: vec![PROTOCOL_VERSION],
            host: HostInfo { name: "pyve".into(), version: crate::env::VERSION.into() },
            project: info.project_root.clone().map(|root| ProjectContext { root }),
            settings: info.settings.clone(),
        };
        let manifest = match self.call::<request::Initialize>(&params, handler) {
            Ok(m) => m,
            Err(RpcError { failure: Failure::Remote(e), plugin }) if e.kind() == kind::INCOMPATIBLE_PROTOCOL => {
                return Err(RpcError { plugin, failure: Failure::Incompatible { detail: e.message } });
            }
            Err(RpcError { failure: Failure::BadResult { why, .. }, plugin }) => {
                // A manifest that does not parse is most often one of another protocol major.
                return Err(RpcError {
                    plugin,
                    failure: Failure::BadManifest(format!("sent a malformed manifest: {why}")),
                });
            }
            Err(e) => return Err(e),
        };
        if manifest.protocol.major != PROTOCOL_VERSION.major {
            self.kill();
            return Err(self.fail(Failure::Incompatible {
                detail: format!(
                    "speaks protocol {} (plugin version {}); pyve {} speaks protocol {PROTOCOL_VERSION}",
                    manifest.protocol,
                    manifest.version,
                    crate::env::VERSION
                ),
            }));
        }
        if manifest.name != self.plugin.name {
            self.kill();
            return Err(self.fail(Failure::BadManifest(format!(
                "calls itself '{:.64}' but its file name says '{}'",
                manifest.name.escape_debug(),
                self.plugin.name
            ))));
        }
        if let Err(why) = check_manifest(&manifest) {
            self.kill();
            return Err(self.fail(Failure::BadManifest(why)));
        }
        Ok(manifest)
    }

    fn fail(&self, failure: Failure) -> RpcError {
        RpcError { plugin: self.plugin.clone(), failure }
    }

    /// Call a method and wait for its result, handling the plugin's notifications and
    /// requests on the way. Any failure ends the session (the plugin is stopped).
    pub fn call<M: RequestMethod>(
        &mut self,
        params: &M::Params,
        handler: &mut dyn Handler,
    ) -> Result<M::Result, RpcError> {
        if self.ended {
            return Err(
                self.fail(Failure::Closed { method: M::METHOD.into(), status: Some("session already ended".into()) })
            );
        }
        let id = Id::Number(self.next_id);
        self.next_id += 1;
        let line = framing::encode(&Message::Request(Request::new::<M>(id.clone(), params)));
        if let Err(e) = self.transport.send(line.strip_suffix(b"\n").unwrap_or(&line)) {
            if e.kind() == std::io::ErrorKind::TimedOut {
                // A library whose `pyve_plugin_send` did not return: abandoned.
                return Err(self
                    .end_with(Failure::Timeout { method: "pyve_plugin_send".into(), after: self.timeouts.handshake }));
            }
            // The plugin is gone, or refused the message. What it wrote before it went decides
            // the diagnosis, the same whichever came first (our write or its exit): a line that
            // is not a message is garbage; otherwise its end says how it exited.
            let deadline = Instant::now() + Duration::from_millis(500);
            let mut status = None;
            while let Some(event) = self.transport.recv(deadline.saturating_duration_since(Instant::now())) {
                match event {
                    Event::Line(l) => {
                        if let Err(why) = framing::decode(&l) {
                            return Err(self.end_with(Failure::Garbage { line: excerpt(&l), why: why.to_string() }));
                        }
                    }
                    Event::Broken(why) => return Err(self.end_with(Failure::Garbage { line: String::new(), why })),
                    Event::Closed(s) => {
                        status = s;
                        break;
                    }
                }
            }
            if status.is_none() && e.kind() == std::io::ErrorKind::Other {
                status = Some(e.to_string());
            }
            return Err(self.end_with(Failure::Closed { method: M::METHOD.into(), status }));
        }
        let response = self.wait::<M>(&id, handler)?;
        match response.result::<M>() {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(e)) => Err(self.fail(Failure::BadResult { method: M::METHOD.into(), why: e.to_string() })),
            Err(e) => Err(self.fail(Failure::Remote(Box::new(e.clone())))),
        }
    }

    fn end_with(&mut self, failure: Failure) -> RpcError {
        self.kill();
        self.fail(failure)
    }

    fn wait<M: RequestMethod>(&mut self, id: &Id, handler: &mut dyn Handler) -> Result<Response, RpcError> {
        let limit = self.timeouts.for_method(M::METHOD);
        let mut deadline = Instant::now() + limit;
        let mut cancelled_at: Option<Instant> = None;
        loop {
            if self.cancellable && cancelled_at.is_none() && crate::signals::interrupted() {
                // Ask the plugin to stop; it answers `cancelled` and cleans up its half-made work.
                cancelled_at = Some(Instant::now());
                crate::signals::reset();
                crate::ui::info(&format!(
                    "Interrupted: asking plugin '{}' to stop and clean up (up to {} s; press Ctrl-C again to stop it now)",
                    self.plugin.name,
                    CANCEL_WAIT.as_secs()
                ));
                let cancel = pyve_protocol::Notification::new::<notification::Cancel>(&CancelParams { id: id.clone() });
                let line = framing::encode(&Message::Notification(cancel));
                let _ = self.transport.send(line.strip_suffix(b"\n").unwrap_or(&line));
            }
            if let Some(at) = cancelled_at {
                let again = crate::signals::interrupted();
                if again || at.elapsed() > CANCEL_WAIT {
                    // No polite shutdown now: it would wait again. SIGTERM to the plugin's
                    // group (its clean-up runs), then SIGKILL.
                    crate::ui::info(&format!(
                        "{}: stopping plugin '{}' (SIGTERM, then SIGKILL)",
                        if again { "Interrupted again" } else { "No answer to the cancellation" },
                        self.plugin.name
                    ));
                    self.ended = true;
                    self.transport.kill();
                    return Err(self.fail(Failure::Interrupted));
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(self.end_with(Failure::Timeout { method: M::METHOD.into(), after: limit }));
            }
            let slice = (deadline - now).min(Duration::from_millis(if self.cancellable { 100 } else { 1000 }));
            let Some(event) = self.transport.recv(slice) else { continue };
            match event {
                Event::Closed(status) => {
                    self.ended = true;
                    return Err(self.fail(Failure::Closed { method: M::METHOD.into(), status }));
                }
                Event::Broken(why) => return Err(self.end_with(Failure::Garbage { line: String::new(), why })),
                Event::Line(line) => {
                    deadline = Instant::now() + limit;
                    let message = match framing::decode(&line) {
                        Ok(m) => m,
                        Err(e) => {
                            return Err(self.end_with(Failure::Garbage { line: excerpt(&line), why: e.to_string() }));
                        }
                    };
                    match message {
                        Message::Response(r) if r.id.as_ref() == Some(id) => {
                            // After a cancel, a success means the work finished first: it is
                            // done and whole, so it stands. Anything else is the interruption.
                            if cancelled_at.is_some() && r.outcome.is_err() {
                                self.shutdown_quietly();
                                return Err(self.fail(Failure::Interrupted));
                            }
                            return Ok(r);
                        }
                        Message::Response(r) if r.id.is_none() => {
                            // The plugin could not read something we sent.
                            let why = match &r.outcome {
                                Err(e) => e.message.clone(),
                                Ok(_) => "a response without an id".into(),
                            };
                            return Err(self.end_with(Failure::BadResult { method: M::METHOD.into(), why }));
                        }
                        Message::Response(r) => {
                            let why = format!(
                                "an answer to request {} that pyve never sent",
                                r.id.map(|i| i.to_string()).unwrap_or_default()
                            );
                            return Err(self.end_with(Failure::Garbage { line: excerpt(&line), why }));
                        }
                        Message::Notification(n) => self.notification(n, handler),
                        Message::Request(req) => self.answer(req, handler),
                    }
                }
            }
        }
    }

    fn notification(&mut self, n: pyve_protocol::Notification, handler: &mut dyn Handler) {
        if n.method == notification::Log::METHOD {
            if let Ok(p) = n.params::<notification::Log>() {
                handler.log(&self.plugin, p);
            }
        } else if n.method == notification::Progress::METHOD
            && let Ok(p) = n.params::<notification::Progress>()
        {
            handler.progress(&self.plugin, p);
        }
        // Unknown notifications are ignored (forward compatibility).
    }

    fn answer(&mut self, req: Request, handler: &mut dyn Handler) {
        let outcome = if req.method == request::HostPrompt::METHOD {
            match req.params::<request::HostPrompt>() {
                Ok(p) => handler.prompt(&self.plugin, p).map(|r| serde_json::to_value(r).unwrap_or_default()),
                Err(e) => Err(ErrorObject::invalid_params(&req.method, e)),
            }
        } else {
            Err(ErrorObject::method_not_found(&req.method))
        };
        let line = framing::encode(&Message::Response(Response { id: Some(req.id), outcome }));
        let _ = self.transport.send(line.strip_suffix(b"\n").unwrap_or(&line));
    }

    /// End the session politely: `shutdown`, then close. Problems at this point are only
    /// reported in verbose mode: the work is done.
    pub fn shutdown(mut self) {
        self.shutdown_quietly();
    }

    fn shutdown_quietly(&mut self) {
        if self.ended {
            return;
        }
        let grace = self.timeouts.for_method(request::Shutdown::METHOD);
        let saved = self.cancellable;
        self.cancellable = false;
        let result = self.call::<request::Shutdown>(&(), &mut QuietHandler);
        self.cancellable = saved;
        match result {
            Ok(()) => {
                self.ended = true;
                self.transport.close(grace);
            }
            Err(e) => {
                crate::ui::debug(&format!("{}: shutdown: {}", self.plugin.name, e.summary()));
                self.kill();
            }
        }
    }

    /// Stop the plugin now.
    pub fn kill(&mut self) {
        self.ended = true;
        self.transport.kill();
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if !self.ended {
            self.transport.kill();
        }
    }
}

/// A line as it can be shown: control characters and invalid UTF-8 escaped, at most 80
/// characters, quoted.
fn excerpt(line: &[u8]) -> String {
    let mut out = String::new();
    for chunk in line.utf8_chunks() {
        out.extend(chunk.valid().chars().flat_map(char::escape_debug));
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    if out.chars().count() > 80 {
        out = out.chars().take(80).collect::<String>() + "…";
    }
    format!("\"{out}\"")
}
