//! Write pyve plugins in Rust.
//!
//! A plugin implements one trait per role it plays — [`Backend`], [`Hook`], [`Command`] —
//! registers the implementations on a [`Plugin`], and calls [`main`] from its `main`
//! function. The same plugin becomes a dynamic library (loaded into pyve, no process spawned)
//! with [`export_dylib!`]. Its own tests talk to it in-process with [`testing::TestClient`].
//!
//! ```no_run
//! use pyve_sdk::{Context, Hook, Plugin, types::*};
//!
//! struct Greeter;
//!
//! impl Hook for Greeter {
//!     fn post_create(&self, cx: &mut Context<'_>, p: PostCreateParams) -> pyve_sdk::Result<HookResult> {
//!         cx.info(format!("hello from {}", p.env_path.display()));
//!         Ok(HookResult { changed: false, summary: None })
//!     }
//! }
//!
//! fn plugin() -> Plugin {
//!     Plugin::new("greeter", env!("CARGO_PKG_VERSION")).hook("post-create", "says hello", Greeter)
//! }
//!
//! fn main() {
//!     pyve_sdk::main(plugin())
//! }
//! ```
//!
//! The protocol is described in `docs/protocol.md`; the author's guide is `docs/plugins.md`.

mod context;
pub mod dylib;
mod error;
pub mod exec_plan;
pub mod output;
mod passthrough;
mod server;
pub mod testing;

use std::sync::Arc;

pub use pyve_protocol as protocol;
pub use pyve_protocol::types;

pub use context::{Context, Progress};
pub use error::{Error, Result};
pub use passthrough::{HostContext, Invocation};

use pyve_protocol::types::*;

/// An environment backend: creates, describes and removes a project's environment.
pub trait Backend: Send + Sync + 'static {
    /// `env/create`: create the environment, or report the one that already exists.
    fn create(&self, cx: &mut Context<'_>, params: CreateParams) -> Result<CreateResult>;
    /// `env/describe`: what exists.
    fn describe(&self, cx: &mut Context<'_>, params: EnvParams) -> Result<EnvDescription>;
    /// `env/activation`: how to run a command inside the environment.
    fn activation(&self, cx: &mut Context<'_>, params: EnvParams) -> Result<Activation>;
    /// `env/remove`: remove what the backend created.
    fn remove(&self, cx: &mut Context<'_>, params: EnvParams) -> Result<RemoveResult>;
    /// `doctor/checks`: diagnostics. None by default.
    fn doctor(&self, cx: &mut Context<'_>, params: EnvParams) -> Result<DoctorReport> {
        let _ = (cx, params);
        Ok(DoctorReport::default())
    }
}

/// A hook, called by the host at a point of its work.
pub trait Hook: Send + Sync + 'static {
    /// `hook/post-create`: an environment was created or re-initialised.
    fn post_create(&self, cx: &mut Context<'_>, params: PostCreateParams) -> Result<HookResult>;
}

/// A command run in passthrough: `pyve NAME ARGS...` executes the plugin with `ARGS`; the
/// command owns its command line and its exit code becomes pyve's.
pub trait Command: Send + Sync + 'static {
    /// Run the command; the return value is the exit code.
    fn run(&self, invocation: Invocation) -> i32;
}

impl<F> Command for F
where
    F: Fn(Invocation) -> i32 + Send + Sync + 'static,
{
    fn run(&self, invocation: Invocation) -> i32 {
        self(invocation)
    }
}

/// A plugin: its identity and the implementations of its roles.
pub struct Plugin {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) description: String,
    pub(crate) backends: Vec<(BackendInfo, Arc<dyn Backend>)>,
    pub(crate) hooks: Vec<(HookInfo, Arc<dyn Hook>)>,
    pub(crate) commands: Vec<(CommandInfo, Arc<dyn Command>)>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin").field("manifest", &self.manifest(pyve_protocol::PROTOCOL_VERSION)).finish()
    }
}

impl Plugin {
    /// A plugin named `name` (`[a-z][a-z0-9-]*`, the part after `pyve-` in its file name) at
    /// its own semver `version` (usually `env!("CARGO_PKG_VERSION")`).
    ///
    /// # Panics
    /// When the name is not a valid plugin name: that is a programming error.
    pub fn new(name: &str, version: &str) -> Self {
        assert!(pyve_protocol::is_valid_plugin_name(name), "invalid plugin name {name:?}: use [a-z][a-z0-9-]*");
        Plugin {
            name: name.to_owned(),
            version: version.to_owned(),
            description: String::new(),
            backends: Vec::new(),
            hooks: Vec::new(),
            commands: Vec::new(),
        }
    }

    /// One line saying what the plugin is for.
    pub fn description(mut self, description: &str) -> Self {
        self.description = description.to_owned();
        self
    }

    /// Add a backend. `info.selectors` lists the project files that select it.
    pub fn backend(mut self, info: BackendInfo, backend: impl Backend) -> Self {
        self.backends.push((info, Arc::new(backend)));
        self
    }

    /// Add a hook for `event`. Protocol 1.0 defines one event, `post-create`.
    ///
    /// # Panics
    /// For another event: a hook the host would never call is a programming error.
    pub fn hook(mut self, event: &str, description: &str, hook: impl Hook) -> Self {
        assert!(event == "post-create", "unknown hook event {event:?}: protocol 1.0 defines only \"post-create\"");
        let info = HookInfo { event: event.to_owned(), description: description.to_owned() };
        self.hooks.push((info, Arc::new(hook)));
        self
    }

    /// Add a passthrough command.
    pub fn command(mut self, name: &str, summary: &str, command: impl Command) -> Self {
        let info = CommandInfo { name: name.to_owned(), summary: summary.to_owned() };
        self.commands.push((info, Arc::new(command)));
        self
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The manifest sent in answer to `initialize`, for a negotiated protocol version.
    pub fn manifest(&self, protocol: pyve_protocol::ProtocolVersion) -> Manifest {
        Manifest {
            name: self.name.clone(),
            version: self.version.clone(),
            protocol,
            description: self.description.clone(),
            provides: Provides {
                backends: self.backends.iter().map(|(i, _)| i.clone()).collect(),
                commands: self.commands.iter().map(|(i, _)| i.clone()).collect(),
                hooks: self.hooks.iter().map(|(i, _)| i.clone()).collect(),
            },
            capabilities: Capabilities { cancel: true, progress: true, prompt: true },
        }
    }
}

/// SIGTERM to an RPC plugin (pyve stopping it, or the kernel when pyve ends, even by
/// `kill -9`: `PR_SET_PDEATHSIG`) ends its children too: the first SIGTERM is passed on to the
/// plugin's process group (pyve starts each RPC plugin as the leader of a group of its own, so
/// the pip or interpreter it runs is in it), and the plugin then dies of it as by default. Only
/// when this process leads its group: never the group of pyve or of a terminal. A plugin that
/// installs its own SIGTERM handler replaces this one.
#[cfg(unix)]
fn term_takes_the_group() {
    extern "C" fn on_term(_: libc::c_int) {
        // SAFETY: signal(2) and kill(2) are async-signal-safe. SIGTERM goes back to the default
        // first, so the group's SIGTERM (this process is in it) ends this process too.
        unsafe {
            libc::signal(libc::SIGTERM, libc::SIG_DFL);
            libc::kill(0, libc::SIGTERM);
        }
    }
    // SAFETY: getpgrp/getpid have no preconditions; the handler above is async-signal-safe.
    unsafe {
        if libc::getpgrp() == libc::getpid() {
            libc::signal(libc::SIGTERM, on_term as extern "C" fn(libc::c_int) as libc::sighandler_t);
        }
    }
}

#[cfg(not(unix))]
fn term_takes_the_group() {}

/// Run the plugin as an executable: with `--pyve-rpc` it speaks the protocol on stdin/stdout;
/// otherwise it runs the passthrough command the host asked for. Never returns.
pub fn main(plugin: Plugin) -> ! {
    let mut args = std::env::args_os().skip(1).peekable();
    if args.peek().is_some_and(|a| a == "--pyve-rpc") {
        term_takes_the_group();
        let code = server::serve_stdio(&plugin);
        std::process::exit(code);
    }
    let code = passthrough::run(&plugin, args.collect());
    std::process::exit(code)
}
