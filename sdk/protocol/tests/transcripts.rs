//! Golden transcripts: every line of `tests/transcripts/*.jsonl` decodes, its parameters and
//! result decode into the typed structures of its method, and (except in `*compat*` files,
//! which hold messages from a newer peer) encode back to exactly the same JSON.

use std::collections::HashMap;
use std::path::Path;

use pyve_protocol::methods::{NotificationMethod, RequestMethod, notification as n, request as r};
use pyve_protocol::{Id, Message, framing};
use serde_json::Value;

/// Decode `value` as `T` and encode it again.
fn through<T: serde::Serialize + serde::de::DeserializeOwned>(value: &Value) -> Result<Value, String> {
    let v = if value.is_null() { Value::Null } else { value.clone() };
    let typed: T = serde_json::from_value(v).map_err(|e| e.to_string())?;
    Ok(serde_json::to_value(typed).unwrap())
}

macro_rules! dispatch {
    ($method:expr, $value:expr, $part:ident; requests: $($req:ty),*; notifications: $($not:ty),*) => {{
        let method: &str = $method;
        $( if method == <$req as RequestMethod>::METHOD { return Some(dispatch!(@$part $req, $value)); } )*
        $( if method == <$not as NotificationMethod>::METHOD { return Some(dispatch!(@params_n $not, $value)); } )*
        None
    }};
    (@params $t:ty, $v:expr) => { through::<<$t as RequestMethod>::Params>($v) };
    (@result $t:ty, $v:expr) => { through::<<$t as RequestMethod>::Result>($v) };
    (@params_n $t:ty, $v:expr) => { through::<<$t as NotificationMethod>::Params>($v) };
}

fn params(method: &str, value: &Value) -> Option<Result<Value, String>> {
    dispatch!(method, value, params;
        requests: r::Initialize, r::Shutdown, r::EnvCreate, r::EnvDescribe, r::EnvActivation,
                  r::EnvRemove, r::DoctorChecks, r::HookPostCreate, r::HostPrompt;
        notifications: n::Progress, n::Log, n::Cancel)
}

fn result(method: &str, value: &Value) -> Option<Result<Value, String>> {
    dispatch!(method, value, result;
        requests: r::Initialize, r::Shutdown, r::EnvCreate, r::EnvDescribe, r::EnvActivation,
                  r::EnvRemove, r::DoctorChecks, r::HookPostCreate, r::HostPrompt;
        notifications: )
}

#[test]
fn golden_transcripts_round_trip() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(files.len() >= 4, "transcripts missing in {}", dir.display());
    let mut seen_methods = std::collections::BTreeSet::new();

    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let compat = name.contains("compat");
        let text = std::fs::read_to_string(&file).unwrap();
        // Pending requests per direction: id -> method, to type the responses.
        let mut pending: HashMap<(char, Id), String> = HashMap::new();

        for (n, line) in text.lines().enumerate() {
            let at = format!("{name}:{}", n + 1);
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let (dir, json) = line.split_at(1);
            let dir = dir.chars().next().unwrap();
            assert!(dir == '>' || dir == '<', "{at}: a line starts with > or <");
            let (must_not_fit, json) = match json.strip_prefix('!') {
                Some(rest) => (true, rest.trim_start()),
                None => (false, json.trim_start()),
            };
            let original: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{at}: {e}"));
            let message = framing::decode(json.as_bytes()).unwrap_or_else(|e| panic!("{at}: {e}"));

            // The typed view of the payload, re-encoded.
            let typed = match &message {
                Message::Request(req) => {
                    seen_methods.insert(req.method.clone());
                    pending.insert((dir, req.id.clone()), req.method.clone());
                    params(&req.method, &req.params)
                }
                Message::Notification(not) => {
                    seen_methods.insert(not.method.clone());
                    params(&not.method, &not.params)
                }
                Message::Response(resp) => {
                    let asker = if dir == '<' { '>' } else { '<' };
                    let method = resp.id.as_ref().and_then(|id| pending.remove(&(asker, id.clone())));
                    match (&resp.outcome, method) {
                        (Ok(value), Some(method)) => result(&method, value),
                        (Err(e), _) => {
                            assert!(!e.kind().is_empty(), "{at}: error without kind");
                            None
                        }
                        (Ok(_), None) => {
                            assert!(compat, "{at}: a response to no request");
                            None
                        }
                    }
                }
            };
            let typed = match typed {
                Some(Ok(_)) if must_not_fit => panic!("{at}: the payload was meant to be rejected"),
                Some(Err(_)) if must_not_fit => None,
                Some(Ok(v)) => Some(v),
                Some(Err(e)) => panic!("{at}: the payload does not fit its method's type: {e}"),
                None => None, // unknown method (allowed) or an error response
            };

            if compat {
                continue;
            }
            // Byte-level round trip of the whole message.
            let reencoded: Value = serde_json::from_slice(&framing::encode(&message)).unwrap();
            assert_eq!(reencoded, normalize(original.clone()), "{at}: message round trip");
            // Typed round trip of the payload.
            if let Some(typed) = typed {
                let payload = original.get("params").or_else(|| original.get("result")).cloned().unwrap_or(Value::Null);
                assert_eq!(typed, payload, "{at}: typed round trip changed the payload");
            }
        }
    }

    for method in pyve_protocol::methods::REQUESTS.iter().chain(pyve_protocol::methods::NOTIFICATIONS) {
        assert!(seen_methods.contains(*method), "no transcript shows `{method}`");
    }
}

/// `"params": null` is the same as no params; the encoder omits it.
fn normalize(mut v: Value) -> Value {
    if let Some(obj) = v.as_object_mut()
        && obj.get("params") == Some(&Value::Null)
    {
        obj.remove("params");
    }
    v
}
