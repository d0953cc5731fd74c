//! The JSON Schema of the protocol, generated from the wire types (feature `schema`).
//!
//! `docs/protocol.schema.json` in the pyve repository is this document; a test regenerates it
//! and fails when the committed copy is stale.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{Map, Value, json};

use crate::methods::{NotificationMethod, RequestMethod, notification, request};
use crate::{ErrorObject, PROTOCOL_VERSION};

/// The whole protocol as one JSON Schema document: every type under `$defs`, and under
/// `x-methods` / `x-notifications` each method with its direction and the schemas of its
/// parameters and result.
pub fn protocol_schema() -> Value {
    let mut generator = SchemaGenerator::new(SchemaSettings::draft2020_12());
    let mut methods = Map::new();
    let mut notifications = Map::new();

    fn req<M: RequestMethod>(
        generator: &mut SchemaGenerator,
        methods: &mut Map<String, Value>,
        direction: &str,
        summary: &str,
    ) where
        M::Params: JsonSchema,
        M::Result: JsonSchema,
    {
        let params = generator.subschema_for::<M::Params>();
        let result = generator.subschema_for::<M::Result>();
        methods.insert(
            M::METHOD.to_owned(),
            json!({ "direction": direction, "summary": summary, "params": params, "result": result }),
        );
    }

    fn notif<M: NotificationMethod>(
        generator: &mut SchemaGenerator,
        notifications: &mut Map<String, Value>,
        direction: &str,
        summary: &str,
    ) where
        M::Params: JsonSchema,
    {
        let params = generator.subschema_for::<M::Params>();
        notifications
            .insert(M::METHOD.to_owned(), json!({ "direction": direction, "summary": summary, "params": params }));
    }

    let (g, m, n) = (&mut generator, &mut methods, &mut notifications);
    req::<request::Initialize>(g, m, "host-to-plugin", "Handshake; the result is the plugin's manifest.");
    req::<request::Shutdown>(g, m, "host-to-plugin", "End of the session; the plugin answers null and exits.");
    req::<request::EnvCreate>(g, m, "host-to-plugin", "Backend: create the project's environment.");
    req::<request::EnvDescribe>(g, m, "host-to-plugin", "Backend: describe the environment.");
    req::<request::EnvActivation>(g, m, "host-to-plugin", "Backend: how to run commands inside the environment.");
    req::<request::EnvRemove>(g, m, "host-to-plugin", "Backend: remove the environment.");
    req::<request::DoctorChecks>(g, m, "host-to-plugin", "Backend: diagnostics for pyve doctor.");
    req::<request::HookPostCreate>(g, m, "host-to-plugin", "Hook: an environment was created.");
    req::<request::HostPrompt>(g, m, "plugin-to-host", "Ask the user a question.");
    notif::<notification::Progress>(g, n, "plugin-to-host", "Progress of a long operation.");
    notif::<notification::Log>(g, n, "plugin-to-host", "A message for the user.");
    notif::<notification::Cancel>(g, n, "host-to-plugin", "Stop working on a request.");
    let error = generator.subschema_for::<ErrorObject>();

    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/pyve-rs/pyve/blob/main/docs/protocol.schema.json",
        "title": format!("pyve plugin protocol {PROTOCOL_VERSION}"),
        "description": "Generated from the pyve-protocol crate; do not edit. Messages are JSON-RPC 2.0, one per line. See docs/protocol.md.",
        "x-protocol-version": PROTOCOL_VERSION.to_string(),
        "x-methods": methods,
        "x-notifications": notifications,
        "x-error": error,
        "$defs": generator.definitions(),
    })
}

/// The schema document as committed: pretty-printed with sorted keys, with a final newline.
pub fn protocol_schema_text() -> String {
    let mut schema = protocol_schema();
    crate::sort_keys(&mut schema);
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema is JSON");
    text.push('\n');
    text
}
