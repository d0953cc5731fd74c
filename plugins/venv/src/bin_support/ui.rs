//! Resolving an interpreter with the user in the loop: the same flow for the protocol backend
//! (messages as `$/log`, questions as `host/prompt`, progress as `$/progress`, cancellation by
//! `$/cancel`) and for the passthrough command (the terminal, through `pyve_sdk::output`).

use std::time::Duration;

use pyve_sdk::output::Output;
use pyve_sdk::protocol::ErrorObject;
use pyve_sdk::protocol::error::{code, kind};
use pyve_sdk::types::LogLevel;
use pyve_sdk::{Context, Error, Progress, Result};
use pyve_venv::policy::{
    InstallObserver, InstallOptions, InstallPlan, PolicyError, Request, Resolution, Resolved, detect, manager_message,
    resolve_interpreter,
};

/// Where messages and questions go.
pub trait Ui {
    /// One message line.
    fn log(&self, level: LogLevel, message: &str);
    /// Ask whether to install; `Err` when nobody can be asked.
    fn confirm_install(&self, plan: &InstallPlan) -> Result<bool>;
    /// Run the installation.
    fn install(&self, plan: InstallPlan) -> std::result::Result<Resolved, PolicyError>;
}

/// Turn a policy error into a protocol error with its kind, hint and details.
pub fn policy_error(e: PolicyError) -> Error {
    let (hint, details, k, message) = (e.hint(), e.details(), e.kind(), e.to_string());
    let mut err: Error = match k {
        kind::INVALID_PARAMS => Error::invalid_params(message),
        kind::CANCELLED => ErrorObject::new(code::CANCELLED, kind::CANCELLED, message).into(),
        other => Error::new(other, message),
    };
    if let Some(h) = hint {
        err = err.hint(h);
    }
    if let Some(d) = details {
        err = err.details(d);
    }
    err
}

/// The hint for a version that could be installed but was not allowed to be.
fn install_hint(plan: &InstallPlan) -> String {
    let v = plan.version();
    format!(
        "install it first (`{}`, or run `pyve --python-version {v}` in a terminal, which asks), \
         or set PYVE_FORCE_YES=1 to let pyve install it",
        plan.install_command()
    )
}

/// Say which manager is used, resolve, and install when needed and allowed. Does not pin.
pub fn resolve(ui: &dyn Ui, req: &Request) -> Result<Resolved> {
    let detection = detect(&req.env);
    ui.log(LogLevel::Info, &manager_message(detection.manager.as_ref()));
    for note in &detection.notes {
        ui.log(LogLevel::Warn, note);
    }
    let resolved = match resolve_interpreter(req).map_err(policy_error)? {
        Resolution::Ready(r) => r,
        Resolution::NeedsInstall(plan) => {
            let (v, manager) = (plan.version().to_string(), plan.manager().kind);
            ui.log(LogLevel::Info, &format!("Python {v} is not installed but is available via {manager}."));
            if plan.auto_approved() {
                ui.log(LogLevel::Info, "Auto-installing (CI or PYVE_FORCE_YES is set)...");
            } else if !ui.confirm_install(&plan)? {
                ui.log(LogLevel::Info, "Installation cancelled.");
                return Err(Error::new(
                    "install-declined",
                    format!("Python {v} is not installed, and installing it with {manager} was declined"),
                )
                .hint(format!(
                    "install it yourself (`{}`), or pick an installed version with --python-version",
                    plan.install_command()
                )));
            }
            ui.log(LogLevel::Info, &format!("Installing Python {v} with {manager} (this may take a few minutes)..."));
            let resolved = ui.install(plan).map_err(policy_error)?;
            ui.log(LogLevel::Success, &format!("Python {v} installed successfully."));
            resolved
        }
    };
    for note in resolved.notes.iter().filter(|n| !detection.notes.contains(n)) {
        ui.log(LogLevel::Warn, note);
    }
    // An exact version named with --python-version, from the version manager: the host's
    // header already shows it ("Python version: 3.12.1"), so the line is for --verbose only.
    let said = resolved.source == pyve_venv::policy::Source::Flag
        && resolved.requested.as_ref().is_some_and(|r| r.is_exact())
        && matches!(resolved.provider, pyve_venv::policy::Provider::Manager(_));
    ui.log(if said { LogLevel::Debug } else { LogLevel::Info }, &resolved.choice_message());
    Ok(resolved)
}

// ---------------------------------------------------------------------------------------------
// the protocol

/// The host, through the protocol.
pub struct RpcUi<'c, 'a> {
    /// The request's context.
    pub cx: &'c Context<'a>,
}

impl Ui for RpcUi<'_, '_> {
    fn log(&self, level: LogLevel, message: &str) {
        self.cx.log(level, message);
    }

    fn confirm_install(&self, plan: &InstallPlan) -> Result<bool> {
        let (v, manager) = (plan.version(), plan.manager().kind);
        if !self.cx.settings().interactive {
            return Err(Error::new(
                kind::NOT_INTERACTIVE,
                format!(
                    "Python {v} is not installed; {manager} can install it, but the session is not interactive, \
                     so pyve cannot ask whether to"
                ),
            )
            .hint(install_hint(plan)));
        }
        self.cx.confirm(format!("Install Python {v} now with {manager}?"), false, Some(&install_hint(plan)))
    }

    fn install(&self, plan: InstallPlan) -> std::result::Result<Resolved, PolicyError> {
        let progress =
            self.cx.progress(format!("Installing Python {} with {}", plan.version(), plan.manager().kind), None);
        let mut observer = RpcObserver { cx: self.cx, progress: &progress };
        plan.install(InstallOptions { own_process_group: true }, &mut observer)
    }
}

struct RpcObserver<'p, 'c, 'a> {
    cx: &'c Context<'a>,
    progress: &'p Progress<'c>,
}

impl InstallObserver for RpcObserver<'_, '_, '_> {
    fn is_cancelled(&self) -> bool {
        self.cx.is_cancelled()
    }

    fn still_running(&mut self, elapsed: Duration) {
        // Also keeps the host's timeout of silence from expiring.
        self.progress.report(format!("{} s", elapsed.as_secs()), None);
    }
}

// ---------------------------------------------------------------------------------------------
// the terminal

/// The user's terminal, through the SDK's output helper (pyve's prefixes and streams), with
/// questions answered on stdin (a terminal, or a pipe that delivers the answer in time).
pub struct TerminalUi {
    /// What pyve passed (`PYVE_VERBOSITY`, `PYVE_COLOR`).
    pub out: Output,
}

impl TerminalUi {
    /// Print an error and its hint.
    pub fn error(&self, e: Error) {
        let object = e.into_object();
        self.out.error(&object.message, object.hint().as_deref());
    }
}

impl Ui for TerminalUi {
    fn log(&self, level: LogLevel, message: &str) {
        self.out.log(level, message);
    }

    fn confirm_install(&self, plan: &InstallPlan) -> Result<bool> {
        let (v, manager) = (plan.version(), plan.manager().kind);
        match self.out.confirm(&format!("Install Python {v} now with {manager}?")) {
            Ok(yes) => Ok(yes),
            Err(why) => Err(Error::new(
                kind::NOT_INTERACTIVE,
                format!("Python {v} is not installed; {manager} can install it, but nobody answered whether to: {why}"),
            )
            .hint(format!(
                "install it first (`{}`), or set PYVE_FORCE_YES=1 to let pyve install it",
                plan.install_command()
            ))),
        }
    }

    fn install(&self, plan: InstallPlan) -> std::result::Result<Resolved, PolicyError> {
        // The installer stays in the terminal's process group: Ctrl-C reaches it directly.
        plan.install(InstallOptions { own_process_group: false }, &mut pyve_venv::policy::Unobserved)
    }
}
