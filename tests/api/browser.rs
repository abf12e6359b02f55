//! A headless Chromium for tests that need a real browser, driven over the
//! Chrome DevTools Protocol (CDP) on a WebSocket.
//!
//! ```text
//! let Some(browser) = Browser::launch().await else { return }; // no Chromium: skipped
//! let page = browser.open(&format!("{}/graphiql", app.base)).await;
//! page.wait_for("!!document.querySelector('#token-form')", WAIT).await;
//! let title = page.eval("document.title").await;
//! assert!(page.requests().iter().all(|url| url.starts_with(&app.base)));
//! ```
//!
//! The browser has no way off the machine: every request goes to a proxy
//! that is not there (`127.0.0.1:9`), except loopback ones, which Chromium
//! never proxies. Each [`Page`] lives in a browser context of its own (its
//! own cookies and storage), and records the CDP events of its target
//! ([`Page::events`], [`Page::requests`], [`Page::errors`]).
//!
//! Without Chromium (`chromium`, `chromium-browser`, `google-chrome` on the
//! PATH, or the binary `HANDOFF_CHROMIUM` names) [`Browser::launch`] says the
//! test is skipped and returns `None`, so that `cargo test` passes on a
//! machine without one; with `HANDOFF_BROWSER_TESTS=required` (as in CI) it
//! fails the test instead.

use std::{
    collections::HashMap,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

/// Longest a single CDP command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest Chromium may take to start.
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs in every page before its own scripts: a Content-Security-Policy
/// violation becomes a console error, which [`Page::errors`] reports.
const WATCH_CSP: &str = "document.addEventListener('securitypolicyviolation', (e) => \
     console.error('Content-Security-Policy violation: ' + e.violatedDirective + ' blocked ' + e.blockedURI));";

/// A headless Chromium, killed when dropped.
pub struct Browser {
    cdp: Cdp,
    child: Child,
    _profile: tempfile::TempDir,
}

/// One tab, in a browser context of its own.
pub struct Page {
    cdp: Cdp,
    session: String,
}

impl Browser {
    /// Starts Chromium, or returns `None` after saying on stderr that the
    /// calling test is skipped when there is none (and
    /// `HANDOFF_BROWSER_TESTS` is not `required`).
    pub async fn launch() -> Option<Browser> {
        let Some(binary) = chromium() else {
            let test = std::thread::current().name().unwrap_or("a test").to_owned();
            assert!(
                std::env::var("HANDOFF_BROWSER_TESTS").as_deref() != Ok("required"),
                "{test}: HANDOFF_BROWSER_TESTS=required but no Chromium was found: install \
                 chromium (apt-get install chromium) or set HANDOFF_CHROMIUM to its binary"
            );
            eprintln!(
                "skipped {test}: no Chromium found; install chromium (apt-get install chromium) \
                 or set HANDOFF_CHROMIUM to run the browser tests"
            );
            return None;
        };
        Some(Self::launch_binary(&binary).await)
    }

    async fn launch_binary(binary: &Path) -> Browser {
        let profile = tempfile::tempdir().expect("a profile directory");
        let mut child = Command::new(binary)
            .args([
                "--headless",
                "--remote-debugging-port=0",
                &format!("--user-data-dir={}", profile.path().display()),
                "--no-sandbox",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-extensions",
                "--disable-sync",
                "--disable-background-networking",
                "--disable-component-update",
                "--window-size=1280,900",
                // No way off the machine: every request goes to a proxy on
                // the discard port, where nothing is expected to listen,
                // except loopback ones, which Chromium never proxies
                // (`the_test_browser_reaches_loopback_and_nothing_else`).
                "--proxy-server=http://127.0.0.1:9",
                "about:blank",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {}: {e}", binary.display()));

        // Chromium prints its DevTools address on stderr; the rest of
        // stderr is kept (for the message if it never does) and drained,
        // so that a chatty browser never blocks on a full pipe.
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, rx) = oneshot::channel();
        let output = Arc::new(Mutex::new(Vec::<String>::new()));
        let kept = output.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("DevTools listening on ")
                    && let Some(tx) = tx.take()
                {
                    tx.send(url.trim().to_owned()).ok();
                }
                let mut kept = kept.lock().unwrap();
                if kept.len() < 50 {
                    kept.push(line);
                }
            }
        });
        let url = match tokio::time::timeout(LAUNCH_TIMEOUT, rx).await {
            Ok(Ok(url)) => url,
            _ => {
                child.kill().ok();
                panic!(
                    "{} did not print its DevTools address; its stderr:\n{}",
                    binary.display(),
                    output.lock().unwrap().join("\n")
                );
            }
        };
        Browser {
            cdp: Cdp::connect(&url).await,
            child,
            _profile: profile,
        }
    }

    /// Opens `url` in a new tab with its own cookies and storage, and waits
    /// for it to load.
    pub async fn open(&self, url: &str) -> Page {
        let context = self
            .cdp
            .call(None, "Target.createBrowserContext", json!({}))
            .await["browserContextId"]
            .clone();
        let target = self
            .cdp
            .call(
                None,
                "Target.createTarget",
                json!({ "url": "about:blank", "browserContextId": context }),
            )
            .await["targetId"]
            .clone();
        let session = self
            .cdp
            .call(
                None,
                "Target.attachToTarget",
                json!({ "targetId": target, "flatten": true }),
            )
            .await["sessionId"]
            .as_str()
            .expect("a session id")
            .to_owned();
        let page = Page {
            cdp: self.cdp.clone(),
            session,
        };
        for domain in ["Page.enable", "Network.enable", "Runtime.enable"] {
            page.call(domain, json!({})).await;
        }
        page.call(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({ "source": WATCH_CSP }),
        )
        .await;
        page.goto(url).await;
        page
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

impl Page {
    /// Navigates to `url` (the same one reloads it) and waits for the new
    /// document to load.
    pub async fn goto(&self, url: &str) {
        // A mark on the current document tells it from the next one.
        self.try_eval("window.__leaving = true").await.ok();
        let navigated = self.call("Page.navigate", json!({ "url": url })).await;
        if let Some(error) = navigated.get("errorText") {
            panic!("could not open {url}: {error}");
        }
        self.wait_for(
            "!window.__leaving && document.readyState === 'complete'",
            Duration::from_secs(10),
        )
        .await;
    }

    /// Evaluates a JavaScript expression in the page (awaiting it when it is
    /// a promise) and returns its value as JSON; fails the test when it
    /// throws.
    pub async fn eval(&self, js: &str) -> Value {
        self.try_eval(js)
            .await
            .unwrap_or_else(|e| panic!("{js}\nthrew: {e}"))
    }

    async fn try_eval(&self, js: &str) -> Result<Value, String> {
        let answer = self
            .try_call(
                "Runtime.evaluate",
                json!({ "expression": js, "awaitPromise": true, "returnByValue": true }),
            )
            .await?;
        if let Some(exception) = answer.get("exceptionDetails") {
            return Err(exception["exception"]["description"]
                .as_str()
                .or(exception["text"].as_str())
                .unwrap_or("an exception")
                .to_owned());
        }
        Ok(answer["result"]["value"].clone())
    }

    /// Evaluates `condition` every 50 ms until it is truthy, and returns
    /// that value (a DOM node is not JSON: ask for `!!node`). Fails the test after `timeout`, with the page's text and
    /// a screenshot.
    pub async fn wait_for(&self, condition: &str, timeout: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // While a page loads, its context may come and go: an error
            // is "not yet".
            let last = match self.try_eval(condition).await {
                Ok(value) if truthy(&value) => return value,
                Ok(value) => value,
                Err(e) => Value::String(format!("threw: {e}")),
            };
            if tokio::time::Instant::now() >= deadline {
                let text = self
                    .try_eval("document.body ? document.body.innerText.slice(0, 2000) : ''")
                    .await
                    .unwrap_or_default();
                let shot = self.save_screenshot().await;
                panic!(
                    "gave up after {timeout:?} waiting for `{condition}` (last: {last})\n\
                     page text: {text}\nscreenshot: {shot}\nerrors: {:?}",
                    self.errors()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Every URL the page requested over the network, HTTP and WebSocket,
    /// in order (`data:` URLs, which never leave the page, left out).
    pub fn requests(&self) -> Vec<String> {
        self.cdp
            .events(&self.session)
            .into_iter()
            .filter_map(|(method, params)| match method.as_str() {
                "Network.requestWillBeSent" => params["request"]["url"].as_str().map(Into::into),
                "Network.webSocketCreated" => params["url"].as_str().map(Into::into),
                _ => None,
            })
            .filter(|url: &String| !url.starts_with("data:"))
            .collect()
    }

    /// The parameters of every CDP event `method` the page sent so far
    /// (`Network.webSocketFrameSent`, ...); its Page, Network and Runtime
    /// domains are enabled.
    pub fn events(&self, method: &str) -> Vec<Value> {
        self.cdp
            .events(&self.session)
            .into_iter()
            .filter(|(m, _)| m == method)
            .map(|(_, params)| params)
            .collect()
    }

    /// Uncaught exceptions, `console.error` messages and
    /// Content-Security-Policy violations, in order.
    pub fn errors(&self) -> Vec<String> {
        self.cdp
            .events(&self.session)
            .into_iter()
            .filter_map(|(method, params)| match method.as_str() {
                "Runtime.exceptionThrown" => Some(
                    params["exceptionDetails"]["exception"]["description"]
                        .as_str()
                        .or(params["exceptionDetails"]["text"].as_str())
                        .unwrap_or("an exception")
                        .to_owned(),
                ),
                "Runtime.consoleAPICalled" if params["type"] == "error" => Some(
                    params["args"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|arg| {
                            arg["value"]
                                .as_str()
                                .map(str::to_owned)
                                .unwrap_or_else(|| arg["description"].to_string())
                        })
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
                _ => None,
            })
            .collect()
    }

    async fn try_screenshot(&self) -> Result<Vec<u8>, String> {
        let shot = self
            .try_call("Page.captureScreenshot", json!({ "format": "png" }))
            .await?;
        base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap_or_default())
            .map_err(|e| e.to_string())
    }

    /// Saves a screenshot in the temporary directory; returns where (or why
    /// not), for a failure message.
    async fn save_screenshot(&self) -> String {
        let path = std::env::temp_dir().join(format!(
            "handoff-browser-{}.png",
            uuid::Uuid::new_v4().simple()
        ));
        match self.try_screenshot().await {
            Ok(png) => match std::fs::write(&path, png) {
                Ok(()) => path.display().to_string(),
                Err(e) => format!("none ({e})"),
            },
            Err(e) => format!("none ({e})"),
        }
    }

    async fn call(&self, method: &str, params: Value) -> Value {
        self.cdp.call(Some(&self.session), method, params).await
    }

    async fn try_call(&self, method: &str, params: Value) -> Result<Value, String> {
        self.cdp.try_call(Some(&self.session), method, params).await
    }
}

/// Whether a JavaScript value is truthy.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0 && !n.is_nan()),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// The Chromium to run: `HANDOFF_CHROMIUM`, or the first of the usual names
/// on the PATH.
fn chromium() -> Option<PathBuf> {
    if let Some(binary) = std::env::var_os("HANDOFF_CHROMIUM").filter(|b| !b.is_empty()) {
        return Some(PathBuf::from(binary));
    }
    let path = std::env::var_os("PATH")?;
    [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ]
    .iter()
    .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
    .find(|candidate| candidate.is_file())
}

/// Commands waiting for their answer, by id.
type Pending = Mutex<HashMap<u64, oneshot::Sender<Result<Value, String>>>>;
/// Every event (method, params) by the session it came from.
type Events = Mutex<HashMap<String, Vec<(String, Value)>>>;

/// A CDP connection: commands matched to their answers by id, and every
/// event kept by the session it came from. Cheap to clone.
#[derive(Clone)]
struct Cdp {
    outgoing: mpsc::UnboundedSender<Message>,
    next_id: Arc<AtomicU64>,
    pending: Arc<Pending>,
    events: Arc<Events>,
}

impl Cdp {
    async fn connect(url: &str) -> Cdp {
        let (socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .unwrap_or_else(|e| panic!("could not connect to {url}: {e}"));
        let (mut sink, mut stream) = socket.split();
        let (outgoing, mut to_send) = mpsc::unbounded_channel::<Message>();
        let cdp = Cdp {
            outgoing,
            next_id: Arc::new(AtomicU64::new(1)),
            pending: Arc::default(),
            events: Arc::default(),
        };
        let (pending, events) = (cdp.pending.clone(), cdp.events.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    message = to_send.recv() => match message {
                        Some(message) => if sink.send(message).await.is_err() { break },
                        None => break,
                    },
                    frame = stream.next() => match frame {
                        Some(Ok(Message::Text(text))) => {
                            let Ok(message) = serde_json::from_str::<Value>(text.as_str()) else {
                                continue;
                            };
                            dispatch(message, &pending, &events);
                        }
                        Some(Ok(_)) => {}
                        _ => break,
                    },
                }
            }
            // The browser is gone: every command still waiting fails.
            pending.lock().unwrap().clear();
        });
        cdp
    }

    async fn call(&self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.try_call(session, method, params)
            .await
            .unwrap_or_else(|e| panic!("{method} failed: {e}"))
    }

    async fn try_call(
        &self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, String> {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap().insert(id, tx);
        let mut command = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            command["sessionId"] = session.into();
        }
        self.outgoing
            .send(Message::Text(command.to_string().into()))
            .map_err(|_| "the browser is gone".to_owned())?;
        match tokio::time::timeout(COMMAND_TIMEOUT, rx).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err("the browser is gone".into()),
            Err(_) => {
                self.pending.lock().unwrap().remove(&id);
                Err(format!("no answer in {COMMAND_TIMEOUT:?}"))
            }
        }
    }

    fn events(&self, session: &str) -> Vec<(String, Value)> {
        self.events
            .lock()
            .unwrap()
            .get(session)
            .cloned()
            .unwrap_or_default()
    }
}

/// Hands an answer to the command waiting for it, or keeps an event.
fn dispatch(message: Value, pending: &Pending, events: &Events) {
    if let Some(id) = message["id"].as_u64() {
        if let Some(tx) = pending.lock().unwrap().remove(&id) {
            let answer = match message.get("error") {
                Some(error) => Err(error.to_string()),
                None => Ok(message["result"].clone()),
            };
            tx.send(answer).ok();
        }
    } else if let (Some(method), Some(session)) =
        (message["method"].as_str(), message["sessionId"].as_str())
    {
        // The body's chunks are many and tell a test nothing.
        if method != "Network.dataReceived" {
            events
                .lock()
                .unwrap()
                .entry(session.to_owned())
                .or_default()
                .push((method.to_owned(), message["params"].clone()));
        }
    }
}

#[tokio::test]
async fn the_test_browser_reaches_loopback_and_nothing_else() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let app = crate::common::TestApp::spawn(crate::common::Backend::Sqlite).await;
    // A page without a Content-Security-Policy, which would stop requests
    // elsewhere by itself.
    let page = browser.open(&format!("{}/healthz", app.base)).await;
    assert_eq!(page.eval("fetch('/readyz').then(r => r.status)").await, 200);
    // Whether a request gets an answer; the proxy refuses at once, so 5 s
    // is only for a machine where the cut does not work.
    let reaches = async |url: &str| {
        page.eval(&format!(
            "fetch({}, {{ mode: 'no-cors', signal: AbortSignal.timeout(5000) }}) \
             .then(() => true, () => false)",
            json!(url)
        ))
        .await
            == json!(true)
    };
    // This machine's own address on another interface is not loopback:
    // a server listening there is out of the browser's reach, with or
    // without the internet.
    let listener = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    match non_loopback_address() {
        Some(ip) => {
            let port = listener.local_addr().unwrap().port();
            let url = format!("http://{}/", std::net::SocketAddr::new(ip, port));
            assert!(!reaches(&url).await, "{url} was reached");
            assert!(
                listener.accept().is_err(),
                "{url} got a connection past the proxy"
            );
        }
        None => eprintln!("no address but loopback here: nothing could leave anyway"),
    }
    for url in ["https://unpkg.com/", "http://example.com/"] {
        assert!(!reaches(url).await, "{url} was reached");
    }
}

/// This machine's address on the interface a packet to the world would
/// leave by, if it has one (a UDP "connect" picks the route, sends nothing).
fn non_loopback_address() -> Option<std::net::IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}
