//! Every method and notification of protocol 1, as marker types tying a name to its parameter
//! and result types.
//!
//! ```
//! use pyve_protocol::methods::{RequestMethod, request::Initialize};
//! assert_eq!(Initialize::METHOD, "initialize");
//! ```

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A request: a method name with typed parameters and a typed result.
pub trait RequestMethod {
    /// The method name on the wire.
    const METHOD: &'static str;
    /// What the request carries.
    type Params: Serialize + DeserializeOwned + Send + 'static;
    /// What a successful response carries.
    type Result: Serialize + DeserializeOwned + Send + 'static;
}

/// A notification: a method name with typed parameters and no response.
pub trait NotificationMethod {
    /// The method name on the wire.
    const METHOD: &'static str;
    /// What the notification carries.
    type Params: Serialize + DeserializeOwned + Send + 'static;
}

macro_rules! request {
    ($(#[$doc:meta])* $ty:ident, $name:literal, $params:ty => $result:ty) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub enum $ty {}
        impl $crate::methods::RequestMethod for $ty {
            const METHOD: &'static str = $name;
            type Params = $params;
            type Result = $result;
        }
    };
}

macro_rules! notification {
    ($(#[$doc:meta])* $ty:ident, $name:literal, $params:ty) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub enum $ty {}
        impl $crate::methods::NotificationMethod for $ty {
            const METHOD: &'static str = $name;
            type Params = $params;
        }
    };
}

/// Requests, by the role that receives them.
pub mod request {
    use crate::types::*;

    request!(
        /// Host → plugin, first message of every session: the plugin answers with its manifest.
        Initialize, "initialize", InitializeParams => Manifest
    );
    request!(
        /// Host → plugin, last message of a session: the plugin answers `null`, then exits (an
        /// executable) or stops serving (a library).
        Shutdown, "shutdown", () => ()
    );
    request!(
        /// Host → backend: create the project's environment (or report the one that exists).
        EnvCreate, "env/create", CreateParams => CreateResult
    );
    request!(
        /// Host → backend: describe the project's environment.
        EnvDescribe, "env/describe", EnvParams => EnvDescription
    );
    request!(
        /// Host → backend: what to set to run a command inside the environment.
        EnvActivation, "env/activation", EnvParams => Activation
    );
    request!(
        /// Host → backend: remove the environment (and only what the backend created).
        EnvRemove, "env/remove", EnvParams => RemoveResult
    );
    request!(
        /// Host → backend: diagnostics for `pyve doctor`.
        DoctorChecks, "doctor/checks", EnvParams => DoctorReport
    );
    request!(
        /// Host → hook: an environment was just created (or re-initialised).
        HookPostCreate, "hook/post-create", PostCreateParams => HookResult
    );
    request!(
        /// Plugin → host: ask the user a question. Fails with kind `not-interactive` when the
        /// session is not interactive.
        HostPrompt, "host/prompt", PromptParams => PromptResult
    );
}

/// Notifications.
pub mod notification {
    use crate::types::*;

    notification!(
        /// Plugin → host: progress of a long operation.
        Progress, "$/progress", ProgressParams
    );
    notification!(
        /// Plugin → host: a message for the user or the log.
        Log, "$/log", LogParams
    );
    notification!(
        /// Host → plugin: stop working on a request; it then answers with kind `cancelled`.
        Cancel, "$/cancel", CancelParams
    );
}

/// The names of every request method, for documentation and the schema.
pub const REQUESTS: &[&str] = &[
    "initialize",
    "shutdown",
    "env/create",
    "env/describe",
    "env/activation",
    "env/remove",
    "doctor/checks",
    "hook/post-create",
    "host/prompt",
];

/// The names of every notification, for documentation and the schema.
pub const NOTIFICATIONS: &[&str] = &["$/progress", "$/log", "$/cancel"];
