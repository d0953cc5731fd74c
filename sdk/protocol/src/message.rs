//! JSON-RPC 2.0 messages: requests, responses and notifications.

use serde::de::DeserializeOwned;
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use crate::error::ErrorObject;
use crate::methods::{NotificationMethod, RequestMethod};

/// The value of the `jsonrpc` member of every message.
pub const JSONRPC: &str = "2.0";

/// A request id: a number or a string. Each side numbers its own requests.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(untagged)]
pub enum Id {
    /// A numeric id (the SDKs use increasing integers).
    Number(i64),
    /// A string id.
    String(String),
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Id::Number(n) => write!(f, "{n}"),
            Id::String(s) => write!(f, "{s:?}"),
        }
    }
}

impl From<i64> for Id {
    fn from(n: i64) -> Self {
        Id::Number(n)
    }
}

/// A call that expects a response.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// Chosen by the sender, echoed in the response.
    pub id: Id,
    /// The method name, such as `initialize` or `env/create`.
    pub method: String,
    /// The parameters; `null` when the message has none.
    pub params: Value,
}

/// A message that expects no response.
#[derive(Clone, Debug, PartialEq)]
pub struct Notification {
    /// The method name, such as `$/progress`.
    pub method: String,
    /// The parameters; `null` when the message has none.
    pub params: Value,
}

/// The answer to a request.
#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    /// The id of the request answered; `None` (`null` on the wire) only when the request's id
    /// could not be read.
    pub id: Option<Id>,
    /// The result, or the error.
    pub outcome: Result<Value, ErrorObject>,
}

/// Any message of the protocol.
#[derive(Clone, Debug, PartialEq)]
pub enum Message {
    /// A call.
    Request(Request),
    /// An answer.
    Response(Response),
    /// A one-way message.
    Notification(Notification),
}

impl Request {
    /// A request for a typed method.
    pub fn new<M: RequestMethod>(id: Id, params: &M::Params) -> Self {
        Request { id, method: M::METHOD.to_owned(), params: to_value(params) }
    }

    /// Decode the parameters as those of method `M`.
    pub fn params<M: RequestMethod>(&self) -> Result<M::Params, serde_json::Error> {
        from_value(&self.params)
    }
}

impl Notification {
    /// A notification for a typed method.
    pub fn new<M: NotificationMethod>(params: &M::Params) -> Self {
        Notification { method: M::METHOD.to_owned(), params: to_value(params) }
    }

    /// Decode the parameters as those of notification `M`.
    pub fn params<M: NotificationMethod>(&self) -> Result<M::Params, serde_json::Error> {
        from_value(&self.params)
    }
}

impl Response {
    /// A successful response carrying a typed result.
    pub fn ok<M: RequestMethod>(id: Id, result: &M::Result) -> Self {
        Response { id: Some(id), outcome: Ok(to_value(result)) }
    }

    /// An error response.
    pub fn err(id: Option<Id>, error: ErrorObject) -> Self {
        Response { id, outcome: Err(error) }
    }

    /// Decode the result as that of method `M` (an error response stays an error).
    pub fn result<M: RequestMethod>(&self) -> Result<Result<M::Result, serde_json::Error>, &ErrorObject> {
        match &self.outcome {
            Ok(value) => Ok(from_value(value)),
            Err(e) => Err(e),
        }
    }
}

/// Serialize a wire type. Wire types hold only strings, numbers, maps and sequences with string
/// keys, so this cannot fail; a failure would be a bug in this crate.
pub(crate) fn to_value<T: Serialize>(value: &T) -> Value {
    let mut v = serde_json::to_value(value).expect("protocol types always serialize to JSON");
    sort_keys(&mut v);
    v
}

/// Sort every object's keys, recursively, so that a message's bytes do not depend on how
/// `serde_json` was built: its `preserve_order` feature (which cargo turns on for the whole
/// build when any package asks, as rattler does) keeps insertion order instead.
pub fn sort_keys(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.sort_keys();
            m.values_mut().for_each(sort_keys);
        }
        Value::Array(a) => a.iter_mut().for_each(sort_keys),
        _ => {}
    }
}

/// Deserialize from a borrowed value. `null` means absent, everywhere: `null` parameters are
/// no parameters (so a params type whose fields all have defaults accepts it), and an object
/// member whose value is `null` is treated as missing (so an optional or defaulted field
/// accepts `null`, and a required one reports itself missing).
pub(crate) fn from_value<T: DeserializeOwned>(value: &Value) -> Result<T, serde_json::Error> {
    fn strip(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                Value::Object(m.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), strip(v))).collect())
            }
            Value::Array(a) => Value::Array(a.iter().map(strip).collect()),
            other => other.clone(),
        }
    }
    match value {
        Value::Null => T::deserialize(Value::Object(Default::default())).or_else(|_| T::deserialize(Value::Null)),
        v => {
            // Sorted, so that which bad field is reported first does not depend on the order
            // the peer sent them in (with `preserve_order`) or not.
            let mut v = strip(v);
            sort_keys(&mut v);
            T::deserialize(v)
        }
    }
}

impl Serialize for Message {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("jsonrpc", JSONRPC)?;
        match self {
            Message::Request(r) => {
                map.serialize_entry("id", &r.id)?;
                map.serialize_entry("method", &r.method)?;
                if !r.params.is_null() {
                    map.serialize_entry("params", &r.params)?;
                }
            }
            Message::Notification(n) => {
                map.serialize_entry("method", &n.method)?;
                if !n.params.is_null() {
                    map.serialize_entry("params", &n.params)?;
                }
            }
            Message::Response(r) => {
                map.serialize_entry("id", &r.id)?;
                match &r.outcome {
                    Ok(v) => map.serialize_entry("result", v)?,
                    Err(e) => map.serialize_entry("error", e)?,
                }
            }
        }
        map.end()
    }
}

impl From<Request> for Message {
    fn from(r: Request) -> Self {
        Message::Request(r)
    }
}

impl From<Response> for Message {
    fn from(r: Response) -> Self {
        Message::Response(r)
    }
}

impl From<Notification> for Message {
    fn from(n: Notification) -> Self {
        Message::Notification(n)
    }
}
