//! Test a plugin in-process: [`TestClient`] plays the host over in-memory channels, through
//! the very code that serves stdin/stdout and dynamic libraries, without spawning anything.
//!
//! ```
//! use pyve_sdk::{Plugin, testing::TestClient};
//!
//! let mut client = TestClient::start(Plugin::new("empty", "0.1.0"));
//! let manifest = client.initialize().unwrap();
//! assert_eq!(manifest.name, "empty");
//! client.shutdown();
//! ```

use std::path::Path;
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use pyve_protocol::error::kind;
use pyve_protocol::methods::{NotificationMethod, RequestMethod, notification, request};
use pyve_protocol::types::*;
use pyve_protocol::{ErrorObject, Id, Message, Notification, PROTOCOL_VERSION, Request, Response, framing};

use crate::Plugin;
use crate::server::{Session, Sink, serve};

/// How long a test waits for an answer before failing (instead of hanging).
const TIMEOUT: Duration = Duration::from_secs(60);

type PromptHandler = Box<dyn FnMut(&PromptParams) -> Result<String, ErrorObject> + Send>;

/// A host for tests.
pub struct TestClient {
    session: Arc<Session>,
    from_plugin: mpsc::Receiver<Vec<u8>>,
    thread: Option<JoinHandle<()>>,
    next_id: i64,
    notifications: Vec<Notification>,
    on_prompt: PromptHandler,
    interactive: bool,
}

impl std::fmt::Debug for TestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestClient").field("notifications", &self.notifications).finish_non_exhaustive()
    }
}

impl TestClient {
    /// Start serving `plugin` on a thread.
    pub fn start(plugin: Plugin) -> Self {
        let (plugin_tx, from_plugin) = mpsc::channel::<Vec<u8>>();
        let sink: Sink = Box::new(move |line: &[u8]| {
            plugin_tx.send(line.to_vec()).map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))
        });
        let (session, work) = Session::new(sink);
        let worker = Arc::clone(&session);
        let thread = std::thread::spawn(move || {
            serve(&plugin, &worker, work);
        });
        TestClient {
            session,
            from_plugin,
            thread: Some(thread),
            next_id: 1,
            notifications: Vec::new(),
            on_prompt: Box::new(|p| {
                Err(ErrorObject::failed(kind::NOT_INTERACTIVE, format!("unexpected prompt in a test: {}", p.message)))
            }),
            interactive: false,
        }
    }

    /// Answer `host/prompt` requests with `handler` (and declare the session interactive at
    /// `initialize`).
    pub fn on_prompt(
        mut self,
        handler: impl FnMut(&PromptParams) -> Result<String, ErrorObject> + Send + 'static,
    ) -> Self {
        self.on_prompt = Box::new(handler);
        self.interactive = true;
        self
    }

    /// The handshake, as pyve does it, without a project.
    pub fn initialize(&mut self) -> Result<Manifest, ErrorObject> {
        self.initialize_for(None)
    }

    /// The handshake for a project.
    pub fn initialize_for(&mut self, project_root: Option<&Path>) -> Result<Manifest, ErrorObject> {
        let params = InitializeParams {
            protocol_versions: vec![PROTOCOL_VERSION],
            host: HostInfo { name: "pyve-test".into(), version: "0.0.0".into() },
            project: project_root.map(|root| ProjectContext { root: root.to_path_buf() }),
            settings: HostSettings { interactive: self.interactive, verbosity: 0, color: false },
        };
        self.call::<request::Initialize>(&params)
    }

    /// Call a method and wait for its result, collecting notifications and answering prompts
    /// on the way.
    ///
    /// # Panics
    /// When the plugin does not answer within a minute or ends the session.
    pub fn call<M: RequestMethod>(&mut self, params: &M::Params) -> Result<M::Result, ErrorObject> {
        let id = self.send_request::<M>(params);
        let response = self.wait_for(&id);
        match response.result::<M>() {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(e)) => panic!("the result of `{}` does not fit its type: {e}", M::METHOD),
            Err(e) => Err(e.clone()),
        }
    }

    /// Send a request without waiting; returns its id (see [`TestClient::wait_for`]).
    pub fn send_request<M: RequestMethod>(&mut self, params: &M::Params) -> Id {
        let id = Id::Number(self.next_id);
        self.next_id += 1;
        self.send(Message::Request(Request::new::<M>(id.clone(), params)));
        id
    }

    /// Send a notification.
    pub fn notify<M: NotificationMethod>(&mut self, params: &M::Params) {
        self.send(Message::Notification(Notification::new::<M>(params)));
    }

    /// Ask the plugin to cancel a request sent with [`TestClient::send_request`].
    pub fn cancel(&mut self, id: &Id) {
        self.notify::<notification::Cancel>(&CancelParams { id: id.clone() });
    }

    /// Send raw bytes as one line (to test how the plugin copes with bad input).
    pub fn send_raw(&mut self, line: &[u8]) {
        self.session.route(line);
    }

    /// The next message from the plugin, whatever it is.
    ///
    /// # Panics
    /// After a minute of silence, or when the plugin ended the session.
    pub fn recv(&mut self) -> Message {
        let line = self.from_plugin.recv_timeout(TIMEOUT).expect("the plugin did not answer within a minute");
        framing::decode(&line)
            .unwrap_or_else(|e| panic!("the plugin sent a bad line ({e}): {}", String::from_utf8_lossy(&line)))
    }

    /// Wait for the response to `id`.
    pub fn wait_for(&mut self, id: &Id) -> Response {
        loop {
            match self.recv() {
                Message::Response(r) if r.id.as_ref() == Some(id) => return r,
                Message::Response(r) => panic!("a response to an unknown request: {r:?}"),
                Message::Notification(n) => self.notifications.push(n),
                Message::Request(req) => self.answer(req),
            }
        }
    }

    fn answer(&mut self, req: Request) {
        let outcome = if req.method == request::HostPrompt::METHOD {
            match req.params::<request::HostPrompt>() {
                Ok(p) => (self.on_prompt)(&p).map(|answer| serde_json::json!({ "answer": answer })),
                Err(e) => Err(ErrorObject::invalid_params(&req.method, e)),
            }
        } else {
            Err(ErrorObject::method_not_found(&req.method))
        };
        self.send(Message::Response(Response { id: Some(req.id), outcome }));
    }

    /// Every notification received so far.
    pub fn notifications(&self) -> &[Notification] {
        &self.notifications
    }

    /// The `$/log` messages received so far.
    pub fn logs(&self) -> Vec<LogParams> {
        self.notifications.iter().filter_map(|n| n.params::<notification::Log>().ok()).collect()
    }

    /// End the session with `shutdown` and wait for the plugin to stop.
    pub fn shutdown(mut self) {
        let result = self.call::<request::Shutdown>(&());
        assert!(result.is_ok(), "shutdown failed: {result:?}");
        self.finish();
    }

    fn send(&mut self, message: Message) {
        let mut line = framing::encode(&message);
        line.pop();
        self.send_raw(&line);
    }

    fn finish(&mut self) {
        self.session.close_input();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for TestClient {
    fn drop(&mut self) {
        self.session.close_input();
        // Do not join here: a test that failed mid-request must not hang on a busy plugin.
    }
}
