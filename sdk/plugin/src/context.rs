use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use pyve_protocol::error::kind;
use pyve_protocol::methods::{notification, request};
use pyve_protocol::types::*;
use pyve_protocol::{ErrorObject, Notification};

use crate::server::Session;
use crate::{Error, Result};

/// What a handler can do besides computing its result: talk to the user through the host
/// (log lines, progress, questions) and notice cancellation.
pub struct Context<'a> {
    pub(crate) session: &'a Session,
    pub(crate) cancelled: Arc<AtomicBool>,
    pub(crate) settings: HostSettings,
    pub(crate) project_root: Option<&'a Path>,
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").field("settings", &self.settings).field("project_root", &self.project_root).finish()
    }
}

impl<'a> Context<'a> {
    /// The user's session settings (interactive, verbosity, colour).
    pub fn settings(&self) -> &HostSettings {
        &self.settings
    }

    /// The project root sent with `initialize`, when there was one. Requests carry their own
    /// `project_root`, which is what handlers should use.
    pub fn project_root(&self) -> Option<&Path> {
        self.project_root
    }

    /// Send a `$/log` message.
    pub fn log(&self, level: LogLevel, message: impl Into<String>) {
        self.session.notify(Notification::new::<notification::Log>(&LogParams { level, message: message.into() }));
    }

    /// A step the user should see.
    pub fn info(&self, message: impl Into<String>) {
        self.log(LogLevel::Info, message);
    }

    /// A step completed (shown as `✓ message`).
    pub fn success(&self, message: impl Into<String>) {
        self.log(LogLevel::Success, message);
    }

    /// Something is off but work goes on.
    pub fn warn(&self, message: impl Into<String>) {
        self.log(LogLevel::Warn, message);
    }

    /// A detail shown with `--verbose`.
    pub fn debug(&self, message: impl Into<String>) {
        self.log(LogLevel::Debug, message);
    }

    /// Start reporting progress of a long operation; it ends when the returned value is
    /// dropped (or [`Progress::end`] is called).
    pub fn progress(&self, title: impl Into<String>, total: Option<u64>) -> Progress<'_> {
        let token = self.session.next_token();
        self.session.notify(Notification::new::<notification::Progress>(&ProgressParams {
            token: token.clone(),
            kind: ProgressKind::Begin,
            title: Some(title.into()),
            message: None,
            done: None,
            total,
        }));
        Progress { session: self.session, token, total, ended: false }
    }

    /// Whether the host asked to cancel the current request.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// `Err(cancelled)` once the host asked to cancel: use with `?` between steps.
    pub fn check_cancelled(&self) -> Result<()> {
        if self.is_cancelled() { Err(Error::cancelled()) } else { Ok(()) }
    }

    /// Ask the user a question through the host and wait for the answer (a choice's key, or
    /// the text typed). In a non-interactive session this fails at once with kind
    /// `not-interactive`, carrying `non_interactive_hint` as its hint.
    pub fn prompt(&self, params: PromptParams) -> Result<String> {
        if !self.settings.interactive {
            let mut e = ErrorObject::failed(
                kind::NOT_INTERACTIVE,
                format!("cannot ask \"{}\": the session is not interactive", params.message),
            );
            if let Some(hint) = &params.non_interactive_hint {
                e = e.with_hint(hint.clone());
            }
            return Err(e.into());
        }
        let response = self.session.request::<request::HostPrompt>(&params)?;
        Ok(response.answer)
    }

    /// Ask a yes/no question; `default` is taken when the user just presses Enter.
    pub fn confirm(
        &self,
        message: impl Into<String>,
        default: bool,
        non_interactive_hint: Option<&str>,
    ) -> Result<bool> {
        let answer = self.prompt(PromptParams {
            message: message.into(),
            choices: vec![
                PromptChoice { key: "y".into(), label: "yes".into() },
                PromptChoice { key: "n".into(), label: "no".into() },
            ],
            default: Some(if default { "y" } else { "n" }.into()),
            non_interactive_hint: non_interactive_hint.map(str::to_owned),
        })?;
        Ok(answer.eq_ignore_ascii_case("y") || answer.eq_ignore_ascii_case("yes"))
    }
}

/// An operation reporting progress; sends `end` when dropped.
#[derive(Debug)]
pub struct Progress<'a> {
    session: &'a Session,
    token: String,
    total: Option<u64>,
    ended: bool,
}

impl Progress<'_> {
    /// Report a step, optionally with how much is done.
    pub fn report(&self, message: impl Into<String>, done: Option<u64>) {
        self.session.notify(Notification::new::<notification::Progress>(&ProgressParams {
            token: self.token.clone(),
            kind: ProgressKind::Report,
            title: None,
            message: Some(message.into()),
            done,
            total: self.total,
        }));
    }

    /// End the operation now.
    pub fn end(mut self) {
        self.finish();
    }

    fn finish(&mut self) {
        if !self.ended {
            self.ended = true;
            self.session.notify(Notification::new::<notification::Progress>(&ProgressParams {
                token: self.token.clone(),
                kind: ProgressKind::End,
                title: None,
                message: None,
                done: None,
                total: None,
            }));
        }
    }
}

impl Drop for Progress<'_> {
    fn drop(&mut self) {
        self.finish();
    }
}
