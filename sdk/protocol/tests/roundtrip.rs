//! Every message of the protocol, built from the typed structures, survives encode -> decode
//! unchanged; and messages with every optional field left out still decode.

use std::collections::BTreeMap;
use std::fmt::Debug;

use pyve_protocol::methods::{NotificationMethod, RequestMethod, notification as n, request as r};
use pyve_protocol::types::*;
use pyve_protocol::{ErrorObject, Id, Message, Notification, PROTOCOL_VERSION, Request, Response, framing};
use serde_json::json;

fn request_round_trip<M: RequestMethod>(params: M::Params, result: M::Result)
where
    M::Params: PartialEq + Debug,
    M::Result: PartialEq + Debug,
{
    let req = Message::from(Request::new::<M>(Id::Number(7), &params));
    let Message::Request(back) = framing::decode(&framing::encode(&req)).unwrap() else { panic!("not a request") };
    assert_eq!(back.method, M::METHOD);
    assert_eq!(back.params::<M>().unwrap(), params, "{} params", M::METHOD);

    let resp = Message::from(Response::ok::<M>(Id::String("x".into()), &result));
    let Message::Response(back) = framing::decode(&framing::encode(&resp)).unwrap() else { panic!("not a response") };
    assert_eq!(back.id, Some(Id::String("x".into())));
    assert_eq!(back.result::<M>().unwrap().unwrap(), result, "{} result", M::METHOD);
}

fn notification_round_trip<M: NotificationMethod>(params: M::Params)
where
    M::Params: PartialEq + Debug,
{
    let msg = Message::from(Notification::new::<M>(&params));
    let Message::Notification(back) = framing::decode(&framing::encode(&msg)).unwrap() else { panic!() };
    assert_eq!(back.method, M::METHOD);
    assert_eq!(back.params::<M>().unwrap(), params);
}

fn manifest() -> Manifest {
    Manifest {
        name: "venv".into(),
        version: "0.1.0".into(),
        protocol: PROTOCOL_VERSION,
        description: "venv environments".into(),
        provides: Provides {
            backends: vec![BackendInfo {
                name: "venv".into(),
                selectors: vec!["pyproject.toml".into()],
                priority: 0,
                description: String::new(),
                options: vec![OptionInfo {
                    name: "env-name".into(),
                    kind: OptionKind::String,
                    setting: "env_name".into(),
                    ..Default::default()
                }],
            }],
            commands: vec![CommandInfo { name: "venv-info".into(), summary: "show".into() }],
            hooks: vec![HookInfo { event: "post-create".into(), description: "shim".into() }],
        },
        capabilities: Capabilities { cancel: true, progress: true, prompt: false },
    }
}

fn env_params() -> EnvParams {
    EnvParams {
        project_root: "/p".into(),
        backend: "venv".into(),
        settings: BTreeMap::from([("directory".into(), json!(".venv"))]),
    }
}

#[test]
fn every_request_round_trips() {
    request_round_trip::<r::Initialize>(
        InitializeParams {
            protocol_versions: vec![PROTOCOL_VERSION],
            host: HostInfo { name: "pyve".into(), version: "0.1.0".into() },
            project: Some(ProjectContext { root: "/p".into() }),
            settings: HostSettings { interactive: true, verbosity: -1, color: true },
        },
        manifest(),
    );
    request_round_trip::<r::Shutdown>((), ());
    let activation = Activation {
        set: BTreeMap::from([("VIRTUAL_ENV".into(), "/p/.venv".into())]),
        unset: vec!["PYTHONHOME".into()],
        path_prepend: vec!["/p/.venv/bin".into()],
    };
    request_round_trip::<r::EnvCreate>(
        CreateParams {
            project_root: "/p".into(),
            backend: "venv".into(),
            python_version: Some("3.12.1".into()),
            settings: BTreeMap::from([("directory".into(), json!(".venv"))]),
            replace: true,
        },
        CreateResult {
            env_path: "/p/.venv".into(),
            created: true,
            interpreter: Some("/p/.venv/bin/python".into()),
            python_version: Some("3.12.1".into()),
            activation: activation.clone(),
            settings: BTreeMap::from([("directory".into(), json!(".venv"))]),
            gitignore: vec![".venv".into()],
            created_files: vec![".python-version".into()],
            inputs: vec!["requirements.txt".into()],
        },
    );
    request_round_trip::<r::EnvDescribe>(
        env_params(),
        EnvDescription {
            exists: true,
            env_path: Some("/p/.venv".into()),
            interpreter: Some("/p/.venv/bin/python".into()),
            python_version: Some("3.12.1".into()),
            package_count: Some(3),
            lock: Some(LockStatus { state: "stale".into(), file: Some("conda-lock.yml".into()), detail: None }),
        },
    );
    request_round_trip::<r::EnvActivation>(env_params(), activation);
    request_round_trip::<r::EnvRemove>(
        env_params(),
        RemoveResult {
            removed: vec!["/p/.venv".into()],
            kept: vec![KeptPath { path: "/p/.tool-versions".into(), reason: "not ours".into() }],
        },
    );
    request_round_trip::<r::DoctorChecks>(
        env_params(),
        DoctorReport {
            checks: vec![
                Check { status: CheckStatus::Ok, label: "Python".into(), detail: Some("3.12.1".into()), hint: None },
                Check { status: CheckStatus::Error, label: "Env".into(), detail: None, hint: Some("init".into()) },
                Check { status: CheckStatus::Warn, label: "W".into(), detail: None, hint: None },
                Check { status: CheckStatus::Info, label: "I".into(), detail: None, hint: None },
            ],
        },
    );
    request_round_trip::<r::HookPostCreate>(
        PostCreateParams {
            project_root: "/p".into(),
            backend: "venv".into(),
            env_path: "/p/.venv".into(),
            interpreter: Some("/p/.venv/bin/python".into()),
            python_version: Some("3.13.0".into()),
            created: true,
        },
        HookResult { changed: true, summary: Some("installed".into()) },
    );
    request_round_trip::<r::HostPrompt>(
        PromptParams {
            message: "Continue?".into(),
            choices: vec![PromptChoice { key: "y".into(), label: "yes".into() }],
            default: Some("y".into()),
            non_interactive_hint: Some("pass --force".into()),
        },
        PromptResult { answer: "y".into() },
    );
}

#[test]
fn every_notification_round_trips() {
    for kind in [ProgressKind::Begin, ProgressKind::Report, ProgressKind::End] {
        notification_round_trip::<n::Progress>(ProgressParams {
            token: "t".into(),
            kind,
            title: Some("Creating".into()),
            message: Some("step".into()),
            done: Some(1),
            total: Some(2),
        });
    }
    for level in [LogLevel::Error, LogLevel::Warn, LogLevel::Success, LogLevel::Info, LogLevel::Debug, LogLevel::Trace]
    {
        notification_round_trip::<n::Log>(LogParams { level, message: "hello".into() });
    }
    notification_round_trip::<n::Cancel>(CancelParams { id: Id::Number(3) });
    notification_round_trip::<n::Cancel>(CancelParams { id: Id::String("a".into()) });
}

#[test]
fn error_responses_round_trip() {
    let errors = [
        ErrorObject::method_not_found("x/y"),
        ErrorObject::invalid_params("env/create", "missing field `backend`"),
        ErrorObject::internal("panicked"),
        ErrorObject::cancelled(),
        ErrorObject::failed("python-not-available", "no 3.99").with_hint("install it").with_details(json!({"a": [1]})),
    ];
    for e in errors {
        for id in [Some(Id::Number(1)), None] {
            let msg = Message::from(Response::err(id.clone(), e.clone()));
            let Message::Response(back) = framing::decode(&framing::encode(&msg)).unwrap() else { panic!() };
            assert_eq!(back.id, id);
            assert_eq!(back.outcome, Err(e.clone()));
        }
    }
}

#[test]
fn minimal_messages_decode_with_defaults() {
    let m: Manifest = serde_json::from_value(json!({"name": "x", "version": "1.0.0", "protocol": "1.0"})).unwrap();
    assert!(m.provides.is_empty());
    assert_eq!(m.capabilities, Capabilities::default());
    let p: InitializeParams =
        serde_json::from_value(json!({"protocol_versions": ["1.0"], "host": {"name": "pyve", "version": "0"}}))
            .unwrap();
    assert!(!p.settings.interactive);
    let c: CreateResult = serde_json::from_value(json!({"env_path": "/e", "created": false})).unwrap();
    assert_eq!(c.activation, Activation::default());
    let d: EnvDescription = serde_json::from_value(json!({"exists": false})).unwrap();
    assert_eq!(d, EnvDescription::default());
    let h: HookResult = serde_json::from_value(json!({})).unwrap();
    assert!(!h.changed);
}

#[test]
fn null_means_absent() {
    let req = framing::decode(
        br#"{"jsonrpc":"2.0","id":1,"method":"env/create","params":{"project_root":"/p","backend":"venv","python_version":null,"settings":null,"replace":null}}"#,
    )
    .unwrap();
    let Message::Request(req) = req else { panic!() };
    let p = req.params::<r::EnvCreate>().unwrap();
    assert_eq!((p.python_version, p.settings.len(), p.replace), (None, 0, false));
    let req = framing::decode(
        br#"{"jsonrpc":"2.0","id":1,"method":"env/create","params":{"project_root":null,"backend":"venv"}}"#,
    )
    .unwrap();
    let Message::Request(req) = req else { panic!() };
    let err = req.params::<r::EnvCreate>().unwrap_err().to_string();
    assert!(err.contains("missing field `project_root`"), "{err}");
}

#[test]
fn enumerations_reject_unknown_values_clearly() {
    let err = serde_json::from_value::<CheckStatus>(json!("fatal")).unwrap_err().to_string();
    assert!(err.contains("unknown variant `fatal`"), "{err}");
    let err = serde_json::from_value::<Manifest>(json!({"name": "x", "version": "1", "protocol": "one"}))
        .unwrap_err()
        .to_string();
    assert!(err.contains("invalid protocol version `one`"), "{err}");
}
