//! A small W3C WebDriver client for the console's browser test: it starts
//! Debian's `chromedriver` on a free loopback port, opens headless
//! Chromium, and speaks the protocol's JSON over HTTP/1.1 (the few
//! commands the test needs: navigate, find, type, click, read, screenshot).
//! Both processes are stopped when the [`Browser`] is dropped.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};

/// Where Debian puts them (`apt-get install chromium chromium-driver`).
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// The driver.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The W3C key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Whether Chromium and its driver are installed.
pub fn available() -> bool {
    Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists()
}

/// Whether a browser test can run here: true with Chromium installed;
/// without it, false after saying the test `what` was skipped, and a
/// failure in CI (which installs it), so CI never skips one silently.
pub fn ready(what: &str) -> bool {
    if available() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{what} must run in CI: install chromium and chromium-driver"
    );
    eprintln!("SKIPPED: {what} needs Chromium: apt-get install chromium chromium-driver");
    false
}

/// Waits up to 10 s for `want` in the page's text and returns the text;
/// else fails with a screenshot and what the page said.
pub fn wait_text(b: &Browser, want: &str) -> String {
    for _ in 0..100 {
        let t = b.text().unwrap_or_default();
        if t.contains(want) {
            return t;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let shot = b.screenshot("failure").ok();
    panic!(
        "`{want}` never showed (screenshot: {shot:?}) on {}:\n{}",
        b.url().unwrap_or_default(),
        b.text().unwrap_or_default()
    );
}

/// A headless Chromium session driven through chromedriver.
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
    _profile: tempfile::TempDir,
    /// Where screenshots go.
    pub shots: PathBuf,
}

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

impl Browser {
    /// Starts chromedriver and a headless Chromium; screenshots go to `shots`.
    pub fn start(shots: &Path) -> Result<Self> {
        std::fs::create_dir_all(shots)?;
        let port = free_port()?;
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting chromedriver")?;
        let profile = tempfile::tempdir()?;
        let mut b = Browser {
            driver,
            port,
            session: String::new(),
            _profile: profile,
            shots: shots.to_path_buf(),
        };
        // The driver answers once it listens (bounded wait).
        let mut up = false;
        for _ in 0..100 {
            if b.call("GET", "/status", None).is_ok() {
                up = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if !up {
            bail!("chromedriver did not answer on port {port}");
        }
        let args = [
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--window-size=1280,900".into(),
            format!("--user-data-dir={}", b._profile.path().display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args}
        }}});
        let v = b.call("POST", "/session", Some(caps))?;
        b.session = v["sessionId"]
            .as_str()
            .ok_or_else(|| anyhow!("no session id in {v}"))?
            .to_string();
        Ok(b)
    }

    /// One command; its `value`, or the driver's error.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port))?;
        s.set_read_timeout(Some(Duration::from_secs(60)))?;
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        )?;
        // chromedriver says `Connection: close` but keeps the socket open:
        // read the head, then exactly Content-Length bytes.
        let mut raw = Vec::new();
        let mut buf = [0u8; 65536];
        let head_end = loop {
            if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = s.read(&mut buf)?;
            if n == 0 {
                bail!("{path}: the driver closed the connection");
            }
            raw.extend_from_slice(&buf[..n]);
        };
        let head = String::from_utf8_lossy(&raw[..head_end]).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok());
        let body = match length {
            Some(n) => {
                while raw.len() < head_end + n {
                    let got = s.read(&mut buf)?;
                    if got == 0 {
                        break;
                    }
                    raw.extend_from_slice(&buf[..got]);
                }
                String::from_utf8_lossy(&raw[head_end..(head_end + n).min(raw.len())]).into_owned()
            }
            None => {
                // Chunked: read to the closing chunk.
                while !raw.ends_with(b"0\r\n\r\n") {
                    let got = s.read(&mut buf)?;
                    if got == 0 {
                        break;
                    }
                    raw.extend_from_slice(&buf[..got]);
                }
                dechunk(&String::from_utf8_lossy(&raw[head_end..]))
            }
        };
        let v: Value = serde_json::from_str(&body).with_context(|| format!("reply to {path}"))?;
        if let Some(err) = v["value"]["error"].as_str() {
            bail!("{path}: {err}: {}", v["value"]["message"]);
        }
        Ok(v.get("value").cloned().unwrap_or(v))
    }

    fn at(&self, path: &str) -> String {
        format!("/session/{}{path}", self.session)
    }

    /// Opens a URL.
    pub fn go(&self, url: &str) -> Result<()> {
        self.call("POST", &self.at("/url"), Some(json!({ "url": url })))?;
        Ok(())
    }

    /// The current URL.
    pub fn url(&self) -> Result<String> {
        Ok(self
            .call("GET", &self.at("/url"), None)?
            .as_str()
            .unwrap_or_default()
            .to_string())
    }

    /// The page's HTML as the browser has it now.
    pub fn source(&self) -> Result<String> {
        Ok(self
            .call("GET", &self.at("/source"), None)?
            .as_str()
            .unwrap_or_default()
            .to_string())
    }

    /// The visible text of the page. A page that a click or a redirect
    /// replaces while it is read (WebDriver's "stale element reference",
    /// or no body yet) is read again, a few times at most; anything else,
    /// an open alert among them, is an error.
    pub fn text(&self) -> Result<String> {
        let mut tries = 0;
        loop {
            let read = self.find("body").and_then(|body| {
                self.call("GET", &self.at(&format!("/element/{body}/text")), None)
            });
            match read {
                Ok(v) => return Ok(v.as_str().unwrap_or_default().to_string()),
                Err(e)
                    if tries < 5
                        && ["stale element", "no element", "no such element"]
                            .iter()
                            .any(|m| e.to_string().contains(m)) =>
                {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The first element a CSS selector finds.
    pub fn find(&self, css: &str) -> Result<String> {
        let v = self.call(
            "POST",
            &self.at("/element"),
            Some(json!({"using": "css selector", "value": css})),
        )?;
        v[ELEMENT]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| anyhow!("no element `{css}`"))
    }

    /// Types into the element `css` finds.
    pub fn type_into(&self, css: &str, text: &str) -> Result<()> {
        let e = self.find(css)?;
        self.call(
            "POST",
            &self.at(&format!("/element/{e}/value")),
            Some(json!({ "text": text })),
        )?;
        Ok(())
    }

    /// Clicks the element `css` finds.
    pub fn click(&self, css: &str) -> Result<()> {
        let e = self.find(css)?;
        self.call(
            "POST",
            &self.at(&format!("/element/{e}/click")),
            Some(json!({})),
        )?;
        Ok(())
    }

    /// Sets the window's size in CSS pixels (a tablet's, a laptop's).
    pub fn set_window(&self, width: u32, height: u32) -> Result<()> {
        self.call(
            "POST",
            &self.at("/window/rect"),
            Some(json!({ "width": width, "height": height })),
        )?;
        Ok(())
    }

    /// Runs `script` (a function body; `return` gives its value) in the page.
    pub fn eval(&self, script: &str) -> Result<Value> {
        self.call(
            "POST",
            &self.at("/execute/sync"),
            Some(json!({ "script": script, "args": [] })),
        )
    }

    /// Presses the Tab key, as a keyboard user moving on does.
    pub fn press_tab(&self) -> Result<()> {
        const TAB: &str = "\u{E004}";
        self.call(
            "POST",
            &self.at("/actions"),
            Some(json!({ "actions": [{
                "type": "key",
                "id": "keyboard",
                "actions": [{ "type": "keyDown", "value": TAB }, { "type": "keyUp", "value": TAB }],
            }]})),
        )?;
        Ok(())
    }

    /// Runs `script` first in every document loaded from now on, before
    /// the page's own scripts (Chromium's DevTools protocol, through
    /// chromedriver): a test's stand-in for what the page talks to.
    pub fn before_each_page(&self, script: &str) -> Result<()> {
        self.call(
            "POST",
            &self.at("/goog/cdp/execute"),
            Some(json!({
                "cmd": "Page.addScriptToEvaluateOnNewDocument",
                "params": { "source": script },
            })),
        )?;
        Ok(())
    }

    /// Saves a screenshot as `NAME.png`; returns its path.
    pub fn screenshot(&self, name: &str) -> Result<PathBuf> {
        let v = self.call("GET", &self.at("/screenshot"), None)?;
        let png = base64_decode(v.as_str().unwrap_or_default())?;
        let path = self.shots.join(format!("{name}.png"));
        std::fs::write(&path, png)?;
        Ok(path)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.call("DELETE", &format!("/session/{}", self.session), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Standard base64 (what WebDriver screenshots are).
fn base64_decode(text: &str) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
    {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => bail!("not base64: {:?}", c as char),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Ok(out)
}
