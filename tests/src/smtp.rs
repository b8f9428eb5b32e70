//! A small SMTP sink for tests: it speaks enough of RFC 5321 for lettre
//! (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT; no TLS, no AUTH) and
//! keeps every message it accepts, so a test can read what the server
//! mailed. It can be stopped and started again on the same port, to play
//! a mail relay that is down for a while.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One message the sink accepted.
#[derive(Debug, Clone)]
pub struct Received {
    /// MAIL FROM.
    pub from: String,
    /// RCPT TO, each.
    pub to: Vec<String>,
    /// The message, dot-unstuffed, CRLF line ends.
    pub data: String,
}

impl Received {
    /// The first value of header `name` (unfolded), if any.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or_default();
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            if let Some(v) = value.as_mut() {
                if line.starts_with([' ', '\t']) {
                    v.push_str(line.trim_start());
                    continue;
                }
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case(name)
            {
                value = Some(v.trim().to_string());
            }
        }
        value
    }

    /// The body after the headers.
    pub fn body(&self) -> String {
        self.data
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.replace("=\r\n", ""))
            .unwrap_or_default()
    }
}

/// A running sink.
pub struct SmtpSink {
    /// Where it listens.
    pub addr: SocketAddr,
    mails: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
}

impl SmtpSink {
    /// Starts a sink on a free loopback port.
    pub fn start() -> Self {
        Self::start_at("127.0.0.1:0".parse().expect("address"), Arc::default())
    }

    /// Starts a sink on `addr`, keeping what it receives in `mails`.
    fn start_at(addr: SocketAddr, mails: Arc<Mutex<Vec<Received>>>) -> Self {
        let listener = TcpListener::bind(addr).expect("bind the SMTP sink");
        let addr = listener.local_addr().expect("address");
        let stop = Arc::new(AtomicBool::new(false));
        let (m, s) = (mails.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(conn) = conn {
                    let m = m.clone();
                    std::thread::spawn(move || {
                        let _ = session(conn, &m);
                    });
                }
            }
        });
        Self { addr, mails, stop }
    }

    /// Stops listening (connections are refused until [`SmtpSink::restart`]).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        // Until the port refuses connections.
        for _ in 0..100 {
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(100)).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Listens again on the same port, keeping what it received before.
    pub fn restart(&self) -> Self {
        Self::start_at(self.addr, self.mails.clone())
    }

    /// Everything received so far.
    pub fn mails(&self) -> Vec<Received> {
        self.mails.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Writes a server config file in `dir` whose `[mail]` section sends
    /// through this sink as `from`, retrying after 1 s; returns its path.
    pub fn server_config(&self, dir: &std::path::Path, from: &str) -> std::path::PathBuf {
        let path = dir.join("server.toml");
        std::fs::write(
            &path,
            format!(
                "[mail]\nsmtp = \"smtp://{}\"\ntls = \"none\"\nfrom = \"{from}\"\nretry_after = \"1s\"\n",
                self.addr
            ),
        )
        .expect("write the server's config");
        path
    }

    /// Waits until a mail matching `f` has arrived; panics after `limit`.
    pub fn wait_for(&self, limit: Duration, what: &str, f: impl Fn(&Received) -> bool) -> Received {
        crate::wait_for(limit, what, || self.mails().into_iter().find(|m| f(m)))
    }
}

fn session(conn: TcpStream, mails: &Mutex<Vec<Received>>) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut out = conn.try_clone()?;
    let mut lines = BufReader::new(conn);
    out.write_all(b"220 sink.test ESMTP test sink\r\n")?;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_string();
        let upper = cmd.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            out.write_all(b"250-sink.test\r\n250-8BITMIME\r\n250 SIZE 52428800\r\n")?;
        } else if upper.starts_with("HELO") {
            out.write_all(b"250 sink.test\r\n")?;
        } else if upper.starts_with("MAIL FROM:") {
            from = angle(&cmd[10..]);
            to.clear();
            out.write_all(b"250 ok\r\n")?;
        } else if upper.starts_with("RCPT TO:") {
            to.push(angle(&cmd[8..]));
            out.write_all(b"250 ok\r\n")?;
        } else if upper == "DATA" {
            out.write_all(b"354 end with .\r\n")?;
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line)? == 0 {
                    return Ok(());
                }
                let l = line.trim_end_matches(['\r', '\n']);
                if l == "." {
                    break;
                }
                data.push_str(l.strip_prefix('.').unwrap_or(l));
                data.push_str("\r\n");
            }
            if let Ok(mut m) = mails.lock() {
                m.push(Received {
                    from: from.clone(),
                    to: to.clone(),
                    data,
                });
            }
            out.write_all(b"250 queued\r\n")?;
        } else if upper == "RSET" || upper == "NOOP" {
            out.write_all(b"250 ok\r\n")?;
        } else if upper == "QUIT" {
            out.write_all(b"221 bye\r\n")?;
            return Ok(());
        } else {
            out.write_all(b"502 not implemented\r\n")?;
        }
    }
}

/// The address in `<...>` (the whole text when there are none).
fn angle(s: &str) -> String {
    let s = s.trim();
    match (s.find('<'), s.find('>')) {
        (Some(a), Some(b)) if b > a => s[a + 1..b].to_string(),
        _ => s.split_whitespace().next().unwrap_or_default().to_string(),
    }
}

/// `deskhand tickets from-email EXTRA...` with `raw` on stdin, as an MTA
/// alias runs it with a technician's token: exit code, stdout, stderr.
pub fn from_email(server: &crate::Server, raw: &[u8], extra: &[&str]) -> (i32, String, String) {
    use std::process::{Command, Stdio};
    let mut child = Command::new(crate::bin("deskhand"))
        .args(["tickets", "from-email"])
        .args(extra)
        .env("DESKHAND_SERVER", &server.api)
        .env("DESKHAND_TOKEN", &server.admin_token)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("from-email runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(raw)
        .expect("write the message");
    let out = child.wait_with_output().expect("from-email ends");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).trim().to_string(),
    )
}
