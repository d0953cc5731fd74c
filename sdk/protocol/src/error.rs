//! Errors on the wire: JSON-RPC error objects whose `data` carries a stable `kind`, a `hint`
//! and details.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// JSON-RPC error codes used by the protocol.
pub mod code {
    /// The line was not JSON.
    pub const PARSE_ERROR: i64 = -32700;
    /// The JSON was not a valid request.
    pub const INVALID_REQUEST: i64 = -32600;
    /// The receiver does not implement the method.
    pub const METHOD_NOT_FOUND: i64 = -32601;
    /// The parameters do not fit the method.
    pub const INVALID_PARAMS: i64 = -32602;
    /// A bug or an unexpected failure in the receiver.
    pub const INTERNAL_ERROR: i64 = -32603;
    /// The request was understood but failed; `data.kind` says how.
    pub const FAILED: i64 = -32000;
    /// No protocol version is shared (answer to `initialize`).
    pub const INCOMPATIBLE_PROTOCOL: i64 = -32001;
    /// The request was cancelled with `$/cancel`.
    pub const CANCELLED: i64 = -32800;
}

/// Stable values of `data.kind` defined by the protocol. Plugins may add their own kinds
/// (lowercase words separated by `-`); receivers treat an unknown kind like `failed`.
pub mod kind {
    /// The line was not JSON.
    pub const PARSE_ERROR: &str = "parse-error";
    /// The JSON was not a valid request.
    pub const INVALID_REQUEST: &str = "invalid-request";
    /// The receiver does not implement the method.
    pub const METHOD_NOT_FOUND: &str = "method-not-found";
    /// The parameters do not fit the method.
    pub const INVALID_PARAMS: &str = "invalid-params";
    /// A bug in the receiver (a panic, an exception).
    pub const INTERNAL: &str = "internal";
    /// A generic failure.
    pub const FAILED: &str = "failed";
    /// No protocol version is shared.
    pub const INCOMPATIBLE_PROTOCOL: &str = "incompatible-protocol";
    /// The request was cancelled.
    pub const CANCELLED: &str = "cancelled";
    /// A `host/prompt` could not be shown because the session is not interactive.
    pub const NOT_INTERACTIVE: &str = "not-interactive";
    /// Something the request names does not exist (an environment, a file, an interpreter).
    pub const NOT_FOUND: &str = "not-found";
    /// A file-system or process operation failed.
    pub const IO: &str = "io";
}

/// The `error` member of a response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ErrorObject {
    /// A JSON-RPC error code (see [`code`]).
    pub code: i64,
    /// One sentence saying what failed and why.
    pub message: String,
    /// Structured details; pyve's peers send an [`ErrorData`] object. Kept as raw JSON so that a
    /// peer sending something else still yields a readable error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

/// The structured `data` of an error.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ErrorData {
    /// A stable, machine-readable kind (see [`kind`]).
    pub kind: String,
    /// The next step for the user, as one sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// Anything else worth showing or acting on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

impl ErrorObject {
    /// An error with a code, a kind and a message.
    pub fn new(code: i64, kind: &str, message: impl Into<String>) -> Self {
        let data = ErrorData { kind: kind.to_owned(), hint: None, details: None };
        ErrorObject { code, message: message.into(), data: Some(crate::message::to_value(&data)) }
    }

    /// A request that failed (`code::FAILED`) with a kind of its own.
    pub fn failed(kind: &str, message: impl Into<String>) -> Self {
        Self::new(code::FAILED, kind, message)
    }

    /// The method is not implemented.
    pub fn method_not_found(method: &str) -> Self {
        Self::new(code::METHOD_NOT_FOUND, kind::METHOD_NOT_FOUND, format!("unknown method `{method}`"))
    }

    /// The parameters do not fit the method.
    pub fn invalid_params(method: &str, why: impl std::fmt::Display) -> Self {
        Self::new(code::INVALID_PARAMS, kind::INVALID_PARAMS, format!("invalid parameters for `{method}`: {why}"))
    }

    /// An unexpected failure in the receiver.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(code::INTERNAL_ERROR, kind::INTERNAL, message)
    }

    /// The request was cancelled.
    pub fn cancelled() -> Self {
        Self::new(code::CANCELLED, kind::CANCELLED, "the request was cancelled")
    }

    /// Attach a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        let mut data = self.data();
        data.hint = Some(hint.into());
        self.data = Some(crate::message::to_value(&data));
        self
    }

    /// Attach details.
    pub fn with_details(mut self, details: Value) -> Self {
        let mut data = self.data();
        data.details = Some(details);
        self.data = Some(crate::message::to_value(&data));
        self
    }

    /// The structured data, read leniently: a peer that sent no `data`, or `data` of another
    /// shape, yields a kind derived from the code (and the raw data as details).
    pub fn data(&self) -> ErrorData {
        match &self.data {
            Some(v) => match ErrorData::deserialize(v) {
                Ok(d) => d,
                Err(_) => ErrorData { kind: self.default_kind().to_owned(), hint: None, details: Some(v.clone()) },
            },
            None => ErrorData { kind: self.default_kind().to_owned(), hint: None, details: None },
        }
    }

    /// The stable kind of this error.
    pub fn kind(&self) -> String {
        self.data().kind
    }

    /// The hint, if the peer sent one.
    pub fn hint(&self) -> Option<String> {
        self.data().hint
    }

    fn default_kind(&self) -> &'static str {
        match self.code {
            code::PARSE_ERROR => kind::PARSE_ERROR,
            code::INVALID_REQUEST => kind::INVALID_REQUEST,
            code::METHOD_NOT_FOUND => kind::METHOD_NOT_FOUND,
            code::INVALID_PARAMS => kind::INVALID_PARAMS,
            code::INTERNAL_ERROR => kind::INTERNAL,
            code::INCOMPATIBLE_PROTOCOL => kind::INCOMPATIBLE_PROTOCOL,
            code::CANCELLED => kind::CANCELLED,
            _ => kind::FAILED,
        }
    }
}

impl std::fmt::Display for ErrorObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ErrorObject {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn data_is_read_leniently() {
        let e =
            ErrorObject::failed("python-not-found", "no python").with_hint("install it").with_details(json!({"v": 1}));
        assert_eq!(e.kind(), "python-not-found");
        assert_eq!(e.hint().as_deref(), Some("install it"));
        assert_eq!(e.data().details, Some(json!({"v": 1})));

        let foreign = ErrorObject { code: code::METHOD_NOT_FOUND, message: "nope".into(), data: Some(json!("text")) };
        assert_eq!(foreign.kind(), kind::METHOD_NOT_FOUND);
        assert_eq!(foreign.data().details, Some(json!("text")));
        let bare = ErrorObject { code: 17, message: "x".into(), data: None };
        assert_eq!(bare.kind(), kind::FAILED);
    }
}
