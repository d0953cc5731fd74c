//! The wire types and line framing of the pyve plugin protocol, version 1.
//!
//! pyve (the host) and its plugins exchange JSON-RPC 2.0 messages, one per line. Both sides
//! depend on this crate, so they cannot drift apart. It has no I/O policy: no threads, no
//! processes, no timeouts; those belong to the host and to the SDK (`pyve-sdk`). It also
//! holds the format of the status lines both sides print ([`output`]), for the same reason.
//!
//! The normative description of the protocol is `docs/protocol.md` in the pyve repository.
//!
//! ```
//! use pyve_protocol::{framing, Message, Request, methods::request::Initialize, types::*};
//!
//! let params = InitializeParams {
//!     protocol_versions: vec![pyve_protocol::PROTOCOL_VERSION],
//!     host: HostInfo { name: "pyve".into(), version: "0.1.0".into() },
//!     project: None,
//!     settings: HostSettings::default(),
//! };
//! let line = framing::encode(&Request::new::<Initialize>(1.into(), &params).into());
//! let Message::Request(back) = framing::decode(&line).unwrap() else { unreachable!() };
//! assert_eq!(back.params::<Initialize>().unwrap(), params);
//! ```

pub mod error;
pub mod exec_plan;
pub mod framing;
pub mod message;
pub mod methods;
pub mod output;
#[cfg(feature = "schema")]
pub mod schema;
pub mod types;
pub mod version;

pub use error::{ErrorData, ErrorObject};
pub use message::{Id, Message, Notification, Request, Response, sort_keys};
pub use methods::{NotificationMethod, RequestMethod};
pub use version::{PROTOCOL_VERSION, ProtocolVersion};

/// Whether `name` is a valid plugin name: `[a-z][a-z0-9-]*`.
pub fn is_valid_plugin_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z')) && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-'))
}

#[cfg(test)]
mod tests {
    #[test]
    fn plugin_names() {
        for good in ["venv", "distutils-shim", "a", "x1-2"] {
            assert!(super::is_valid_plugin_name(good), "{good}");
        }
        for bad in ["", "1x", "-a", "Venv", "a_b", "a.b", "a b", "é"] {
            assert!(!super::is_valid_plugin_name(bad), "{bad}");
        }
    }
}
