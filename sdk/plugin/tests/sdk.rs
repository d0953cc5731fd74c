//! The SDK's behaviour, tested in-process with `TestClient` (no process is spawned).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use pyve_protocol::Message;
use pyve_protocol::error::{code, kind};
use pyve_protocol::methods::{notification, request};
use pyve_protocol::types::*;
use pyve_sdk::testing::TestClient;
use pyve_sdk::{Backend, Context, Error, Hook, Plugin, Result};

struct Demo {
    saw_cancel: Arc<AtomicBool>,
}

impl Backend for Demo {
    fn create(&self, cx: &mut Context<'_>, p: CreateParams) -> Result<CreateResult> {
        match p.python_version.as_deref() {
            Some("ask") => {
                let answer = cx.prompt(PromptParams {
                    message: "Which directory?".into(),
                    choices: vec![],
                    default: Some(".venv".into()),
                    non_interactive_hint: Some("pass --venv-dir".into()),
                })?;
                return Ok(result(&p.project_root.join(answer)));
            }
            Some("wait-for-cancel") => {
                for _ in 0..2000 {
                    if cx.is_cancelled() {
                        self.saw_cancel.store(true, Ordering::SeqCst);
                        return Err(Error::cancelled());
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                return Err(Error::new("failed", "never cancelled"));
            }
            Some("panic") => panic!("boom {}", 42),
            Some("progress") => {
                let progress = cx.progress("Creating", Some(2));
                progress.report("one", Some(1));
                progress.report("two", Some(2));
                drop(progress);
                cx.warn("careful");
            }
            Some("fail") => {
                return Err(Error::new("python-not-available", "Python 3.99 is not installed").hint("install it"));
            }
            _ => {}
        }
        Ok(result(&p.project_root.join(".venv")))
    }
    fn describe(&self, _: &mut Context<'_>, _: EnvParams) -> Result<EnvDescription> {
        Ok(EnvDescription { exists: true, ..Default::default() })
    }
    fn activation(&self, _: &mut Context<'_>, _: EnvParams) -> Result<Activation> {
        Ok(Activation::default())
    }
    fn remove(&self, _: &mut Context<'_>, _: EnvParams) -> Result<RemoveResult> {
        Ok(RemoveResult::default())
    }
}

fn result(path: &std::path::Path) -> CreateResult {
    CreateResult {
        env_path: path.to_path_buf(),
        created: true,
        interpreter: None,
        python_version: None,
        activation: Activation::default(),
        settings: Default::default(),
        gitignore: vec![],
        created_files: vec![],
        inputs: vec![],
    }
}

struct Note(&'static str);

impl Hook for Note {
    fn post_create(&self, _: &mut Context<'_>, _: PostCreateParams) -> Result<HookResult> {
        Ok(HookResult { changed: self.0 == "a", summary: Some(self.0.into()) })
    }
}

fn plugin(flag: Arc<AtomicBool>) -> Plugin {
    Plugin::new("demo", "1.2.3")
        .description("demo")
        .backend(
            BackendInfo {
                name: "demo".into(),
                selectors: vec!["demo.toml".into()],
                priority: 3,
                description: "".into(),
                options: Vec::new(),
            },
            Demo { saw_cancel: flag },
        )
        .hook("post-create", "first", Note("a"))
        .hook("post-create", "second", Note("b"))
}

fn create(version: &str) -> CreateParams {
    CreateParams {
        project_root: "/p".into(),
        backend: "demo".into(),
        python_version: Some(version.into()),
        settings: Default::default(),
        replace: false,
    }
}

#[test]
fn manifest_lists_every_role() {
    let mut c = TestClient::start(plugin(Arc::default()));
    let m = c.initialize().unwrap();
    assert_eq!((m.name.as_str(), m.version.as_str(), m.protocol.to_string().as_str()), ("demo", "1.2.3", "1.1"));
    assert_eq!(m.provides.backends[0].priority, 3);
    assert_eq!(m.provides.hooks.len(), 2);
    assert!(m.capabilities.cancel && m.capabilities.progress && m.capabilities.prompt);
    c.shutdown();
}

#[test]
fn requests_before_initialize_are_refused() {
    let mut c = TestClient::start(plugin(Arc::default()));
    let e = c.call::<request::EnvCreate>(&create("")).unwrap_err();
    assert_eq!((e.code, e.kind().as_str()), (code::INVALID_REQUEST, kind::INVALID_REQUEST));
    c.initialize().unwrap();
    c.call::<request::EnvCreate>(&create("")).unwrap();
}

#[test]
fn unknown_backend_is_invalid_params() {
    let mut c = TestClient::start(plugin(Arc::default()));
    c.initialize().unwrap();
    let mut p = create("");
    p.backend = "conda".into();
    let e = c.call::<request::EnvCreate>(&p).unwrap_err();
    assert_eq!(e.kind(), kind::INVALID_PARAMS);
    assert!(e.message.contains("no backend `conda` (it provides: demo)"), "{}", e.message);
}

#[test]
fn errors_keep_kind_and_hint() {
    let mut c = TestClient::start(plugin(Arc::default()));
    c.initialize().unwrap();
    let e = c.call::<request::EnvCreate>(&create("fail")).unwrap_err();
    assert_eq!((e.code, e.kind().as_str()), (code::FAILED, "python-not-available"));
    assert_eq!(e.hint().as_deref(), Some("install it"));
}

#[test]
fn a_panic_becomes_an_internal_error_and_the_session_goes_on() {
    let mut c = TestClient::start(plugin(Arc::default()));
    c.initialize().unwrap();
    let e = c.call::<request::EnvCreate>(&create("panic")).unwrap_err();
    assert_eq!(e.kind(), kind::INTERNAL);
    assert!(e.message.contains("plugin `demo` panicked while handling `env/create`: boom 42"), "{}", e.message);
    assert!(
        c.call::<request::EnvDescribe>(&EnvParams {
            project_root: "/p".into(),
            backend: "demo".into(),
            settings: Default::default()
        })
        .unwrap()
        .exists
    );
}

#[test]
fn progress_and_logs_are_notifications() {
    let mut c = TestClient::start(plugin(Arc::default()));
    c.initialize().unwrap();
    c.call::<request::EnvCreate>(&create("progress")).unwrap();
    let kinds: Vec<ProgressKind> =
        c.notifications().iter().filter_map(|n| n.params::<notification::Progress>().ok()).map(|p| p.kind).collect();
    assert_eq!(kinds, [ProgressKind::Begin, ProgressKind::Report, ProgressKind::Report, ProgressKind::End]);
    assert_eq!(c.logs(), [LogParams { level: LogLevel::Warn, message: "careful".into() }]);
}

#[test]
fn prompts_go_through_the_host() {
    let mut c = TestClient::start(plugin(Arc::default())).on_prompt(|p| {
        assert_eq!(p.default.as_deref(), Some(".venv"));
        Ok("env".into())
    });
    c.initialize().unwrap();
    let r = c.call::<request::EnvCreate>(&create("ask")).unwrap();
    assert_eq!(r.env_path, std::path::Path::new("/p/env"));
}

#[test]
fn prompts_fail_at_once_when_not_interactive() {
    let mut c = TestClient::start(plugin(Arc::default()));
    c.initialize().unwrap();
    let e = c.call::<request::EnvCreate>(&create("ask")).unwrap_err();
    assert_eq!(e.kind(), kind::NOT_INTERACTIVE);
    assert_eq!(e.hint().as_deref(), Some("pass --venv-dir"));
    assert!(c.notifications().is_empty(), "no prompt was sent");
}

#[test]
fn cancel_reaches_the_running_request() {
    let saw = Arc::new(AtomicBool::new(false));
    let mut c = TestClient::start(plugin(Arc::clone(&saw)));
    c.initialize().unwrap();
    let id = c.send_request::<request::EnvCreate>(&create("wait-for-cancel"));
    std::thread::sleep(Duration::from_millis(50));
    c.cancel(&id);
    let r = c.wait_for(&id);
    let e = r.outcome.unwrap_err();
    assert_eq!((e.code, e.kind().as_str()), (code::CANCELLED, kind::CANCELLED));
    assert!(saw.load(Ordering::SeqCst));
}

#[test]
fn hooks_of_one_event_all_run() {
    let mut c = TestClient::start(plugin(Arc::default()));
    c.initialize().unwrap();
    let r = c
        .call::<request::HookPostCreate>(&PostCreateParams {
            project_root: "/p".into(),
            backend: "demo".into(),
            env_path: "/p/.venv".into(),
            interpreter: None,
            python_version: None,
            created: true,
        })
        .unwrap();
    assert!(r.changed);
    assert_eq!(r.summary.as_deref(), Some("b"));
}

#[test]
fn bad_lines_get_error_responses() {
    let mut c = TestClient::start(plugin(Arc::default()));
    c.send_raw(b"{not json");
    let Message::Response(r) = c.recv() else { panic!() };
    assert_eq!(r.id, None);
    assert_eq!(r.outcome.unwrap_err().kind(), kind::PARSE_ERROR);
    c.send_raw(br#"{"jsonrpc":"2.0","id":9}"#);
    let Message::Response(r) = c.recv() else { panic!() };
    assert_eq!(r.id, Some(9.into()));
    assert_eq!(r.outcome.unwrap_err().kind(), kind::INVALID_REQUEST);
}

#[test]
fn offering_only_another_major_is_refused_with_both_versions() {
    let mut c = TestClient::start(plugin(Arc::default()));
    let e = c
        .call::<request::Initialize>(&InitializeParams {
            protocol_versions: vec!["2.1".parse().unwrap()],
            host: HostInfo { name: "pyve".into(), version: "3.0.0".into() },
            project: None,
            settings: HostSettings::default(),
        })
        .unwrap_err();
    assert_eq!(e.code, code::INCOMPATIBLE_PROTOCOL);
    assert!(e.message.contains("pyve 3.0.0 speaks 2.1, plugin demo 1.2.3 speaks 1.1"), "{}", e.message);
    assert!(e.hint().unwrap().contains("pyve-demo built for protocol 2"), "{:?}", e.hint());
}
