//! A real headless Chromium, driven over the W3C WebDriver protocol by
//! `chromedriver` (Debian's `chromium` and `chromium-driver`, installed by
//! `make test`). Just the commands the payment page tests need: open a
//! URL, find an element (waiting for it up to the session's implicit
//! wait), type, click, read the URL. The browser and its driver stop when
//! the [`Browser`] is dropped.

use payledger_e2e::ChildGuard;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The key under which WebDriver names an element.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long a find waits for its element to appear.
const IMPLICIT_WAIT_MS: u64 = 20_000;

pub struct Browser {
    http: reqwest::blocking::Client,
    session: String,
    _driver: ChildGuard,
}

/// A free port on 127.0.0.1 for chromedriver (it has no "pick one").
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

impl Browser {
    pub fn start() -> Self {
        let port = free_port();
        let mut child = ChildGuard::spawn(
            Command::new("chromedriver")
                .arg(format!("--port={port}"))
                .stdout(Stdio::piped())
                .stderr(Stdio::null()),
        );
        // chromedriver prints one line once it listens.
        let stdout = child.0.stdout.take().expect("chromedriver stdout");
        let mut lines = BufReader::new(stdout).lines();
        loop {
            let line = lines
                .next()
                .expect("chromedriver exited before listening")
                .expect("read chromedriver output");
            if line.contains("started successfully") {
                break;
            }
        }
        // Keep reading its output so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .expect("client");
        let base = format!("http://127.0.0.1:{port}");
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1000,800"],
            },
        }}});
        let created: Value = http
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .expect("new session")
            .json()
            .expect("session JSON");
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_owned();
        let browser = Self {
            http,
            session: format!("{base}/session/{session}"),
            _driver: child,
        };
        browser.command("timeouts", &json!({"implicit": IMPLICIT_WAIT_MS}));
        browser
    }

    fn command(&self, path: &str, body: &Value) -> Value {
        let answer: Value = self
            .http
            .post(format!("{}/{path}", self.session))
            .json(body)
            .send()
            .unwrap_or_else(|e| panic!("WebDriver {path}: {e}"))
            .json()
            .expect("WebDriver JSON");
        assert!(
            answer["value"]["error"].is_null(),
            "WebDriver {path}: {answer}"
        );
        answer["value"].clone()
    }

    pub fn open(&self, url: &str) {
        self.command("url", &json!({"url": url}));
    }

    pub fn url(&self) -> String {
        let answer: Value = self
            .http
            .get(format!("{}/url", self.session))
            .send()
            .expect("url")
            .json()
            .expect("url JSON");
        answer["value"].as_str().unwrap_or_default().to_owned()
    }

    /// The element `css` selects, waiting for it to appear.
    pub fn find(&self, css: &str) -> Element<'_> {
        self.find_by("css selector", css)
    }

    /// The element an XPath selects, waiting for it to appear.
    pub fn find_xpath(&self, xpath: &str) -> Element<'_> {
        self.find_by("xpath", xpath)
    }

    fn find_by(&self, using: &str, value: &str) -> Element<'_> {
        let found = self.command("element", &json!({"using": using, "value": value}));
        Element {
            browser: self,
            id: found[ELEMENT]
                .as_str()
                .unwrap_or_else(|| panic!("no element {value}: {found}"))
                .to_owned(),
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.http.delete(&self.session).send();
    }
}

pub struct Element<'a> {
    browser: &'a Browser,
    id: String,
}

impl Element<'_> {
    pub fn type_text(&self, text: &str) {
        self.browser.command(
            &format!("element/{}/value", self.id),
            &json!({"text": text}),
        );
    }

    pub fn click(&self) {
        self.browser
            .command(&format!("element/{}/click", self.id), &json!({}));
    }

    pub fn text(&self) -> String {
        let answer: Value = self
            .browser
            .http
            .get(format!("{}/element/{}/text", self.browser.session, self.id))
            .send()
            .expect("text")
            .json()
            .expect("text JSON");
        answer["value"].as_str().unwrap_or_default().to_owned()
    }
}
