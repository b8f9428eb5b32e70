//! A minimal browser for the console tests: HTTP/1.1 over loopback, a
//! cookie jar of one cookie, form posts, and the CSRF token a page's
//! forms carry. What a real browser does with the same pages is the
//! browser test's job; this checks what the server answers.

use std::io::{Read, Write};
use std::time::Duration;

/// A reply: status, headers (lower-case names) and body.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: String,
}

impl Reply {
    /// The first header of that (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The CSRF token of the page's forms.
    pub fn csrf(&self) -> Option<String> {
        let at = self.body.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
        let rest = &self.body[at..];
        Some(rest[..rest.find('"')?].to_string())
    }
}

/// A browser with one session cookie.
pub struct Browser {
    addr: String,
    /// The session cookie, `name=value`, once set.
    pub cookie: Option<String>,
}

/// Percent-encodes a form value.
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Browser {
    /// A browser for the server whose API is at `api` (`http://HOST:PORT`).
    pub fn new(api: &str) -> Self {
        Self {
            addr: api.trim_start_matches("http://").to_string(),
            cookie: None,
        }
    }

    fn request(&mut self, method: &str, path: &str, body: &str) -> Reply {
        self.request_as(
            method,
            path,
            "application/x-www-form-urlencoded",
            body.as_bytes(),
        )
    }

    fn request_as(&mut self, method: &str, path: &str, content_type: &str, body: &[u8]) -> Reply {
        let (status, headers, body) = self.exchange(method, path, content_type, body);
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    /// GET `path` for a body that need not be text (a download): status,
    /// headers (lower-case names) and the body's bytes.
    pub fn get_bytes(&mut self, path: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
        self.exchange("GET", path, "application/x-www-form-urlencoded", b"")
    }

    /// One request on a connection of its own; takes any cookie set.
    fn exchange(
        &mut self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> (u16, Vec<(String, String)>, Vec<u8>) {
        let mut s = std::net::TcpStream::connect(&self.addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let cookie = self
            .cookie
            .as_ref()
            .map_or(String::new(), |c| format!("Cookie: {c}\r\n"));
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\n{cookie}Content-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.addr,
            body.len()
        )
        .expect("send");
        s.write_all(body).expect("send the body");
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).expect("read");
        let at = raw.windows(4).position(|w| w == b"\r\n\r\n");
        let (head, body) = match at {
            Some(at) => (String::from_utf8_lossy(&raw[..at]), raw[at + 4..].to_vec()),
            None => (String::from_utf8_lossy(&raw), Vec::new()),
        };
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        for (k, v) in &headers {
            if k == "set-cookie" {
                let pair = v.split(';').next().unwrap_or("").trim().to_string();
                self.cookie = if pair.ends_with('=') {
                    None
                } else {
                    Some(pair)
                };
            }
        }
        (status, headers, body)
    }

    /// GET `path`.
    pub fn get(&mut self, path: &str) -> Reply {
        self.request("GET", path, "")
    }

    /// POSTs a form.
    pub fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect();
        self.request("POST", path, &body.join("&"))
    }

    /// POSTs a `multipart/form-data` form: text fields, then one file
    /// field (`name`, file name, bytes), its type claimed from the file
    /// name as a browser does.
    pub fn post_multipart(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        file: (&str, &str, &[u8]),
    ) -> Reply {
        let boundary = "deskhand-test-boundary-7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        for (k, v) in fields {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                )
                .as_bytes(),
            );
        }
        let (name, file_name, bytes) = file;
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: {}\r\n\r\n",
                claimed_type(file_name)
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        self.request_as(
            "POST",
            path,
            &format!("multipart/form-data; boundary={boundary}"),
            &body,
        )
    }

    /// Logs in; returns the login's reply.
    pub fn login(&mut self, name: &str, password: &str) -> Reply {
        self.post("/console/login", &[("name", name), ("password", password)])
    }
}

/// The type a browser claims for a file of this name.
fn claimed_type(file_name: &str) -> &'static str {
    match file_name.rsplit('.').next() {
        Some("png") => "image/png",
        Some("html" | "htm") => "text/html",
        Some("txt" | "log") => "text/plain",
        _ => "application/octet-stream",
    }
}
