//! The HTTP client of the API: one server, one operator token, the API's
//! JSON error bodies turned into errors that say what to do. An
//! `https://` server is checked as its [`ServerTrust`] says.

use anyhow::{Context, Result, bail};
use deskhand_api_types::server::ErrorBody;
use serde::Serialize;
use serde::de::DeserializeOwned;

mod trust;

pub use trust::ServerTrust;

/// An API client for one server and operator token.
pub struct Client {
    base: String,
    token: String,
    http: reqwest::Client,
    trust: ServerTrust,
    tls: Option<rustls::ClientConfig>,
}

/// The longest URL an HTTP request may have (the `http` crate's limit).
const MAX_URL_BYTES: usize = u16::MAX as usize - 1;

impl Client {
    /// A client for the server at `base` (e.g. `http://127.0.0.1:8080`),
    /// trusting the CAs built in for `https://`.
    pub fn new(base: &str, token: Option<String>) -> Result<Self> {
        Self::with_trust(base, token, ServerTrust::BuiltInRoots)
    }

    /// A client for the server at `base` whose certificate, for an
    /// `https://` URL, is checked as `trust` says.
    pub fn with_trust(base: &str, token: Option<String>, trust: ServerTrust) -> Result<Self> {
        let token = token.context(
            "no API token: pass --token or set DESKHAND_TOKEN (`deskhand server` prints the admin token)",
        )?;
        let tls = trust.tls_config()?;
        let http = http_builder(&tls)
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            base: base.trim_end_matches('/').to_string(),
            token,
            http,
            trust,
            tls,
        })
    }

    /// PUT a large body (an artifact's bytes) with `timeout` to send it.
    pub(crate) async fn put_bytes<T: DeserializeOwned>(
        &self,
        path: &str,
        body: impl Into<reqwest::Body>,
        timeout: std::time::Duration,
    ) -> Result<T> {
        self.call(
            self.http
                .put(format!("{}{path}", self.base))
                .timeout(timeout)
                .body(body),
        )
        .await
    }

    /// Sends a request with the operator's token. A URL longer than HTTP
    /// allows (a filter value of tens of kilobytes) is refused here, saying
    /// so, rather than by the HTTP library in its own words.
    async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response> {
        let (http, req) = req.bearer_auth(&self.token).build_split();
        let req = req.map_err(|e| self.unsent(e))?;
        let len = req.url().as_str().len();
        if len > MAX_URL_BYTES {
            bail!(
                "the request would need a URL of {len} bytes, more than the {MAX_URL_BYTES} bytes a URL may hold: a value given is too long"
            );
        }
        http.execute(req).await.map_err(|e| self.unsent(e))
    }

    /// Why a request got no answer: the server could not be reached, did
    /// not answer in time, or the request could not be made at all, which
    /// no server would fix. The URL is left out: it may be that
    /// long value.
    fn unsent(&self, e: reqwest::Error) -> anyhow::Error {
        if let Some(msg) = self.trust.explain(&self.base, &e) {
            return anyhow::anyhow!(msg);
        }
        let why = std::error::Error::source(&e).map_or_else(|| e.to_string(), |s| s.to_string());
        if e.is_builder() {
            anyhow::anyhow!("the request could not be made: {why}")
        } else if e.is_connect() {
            anyhow::anyhow!(
                "cannot reach the deskhand server at {}; is it running? (--server / DESKHAND_SERVER): {why}",
                self.base
            )
        } else if e.is_timeout() {
            anyhow::anyhow!(
                "the deskhand server at {} did not answer in time: {why}",
                self.base
            )
        } else if self.base.starts_with("http://") {
            // What a TLS server answers to plain HTTP is no HTTP.
            anyhow::anyhow!(
                "the request to the deskhand server at {} failed: {why}; if it serves HTTPS, give an https:// URL in --server",
                self.base
            )
        } else {
            anyhow::anyhow!(
                "the request to the deskhand server at {} failed: {why}",
                self.base
            )
        }
    }

    async fn call<T: DeserializeOwned>(&self, req: reqwest::RequestBuilder) -> Result<T> {
        Ok(self.call_with_headers(req).await?.1)
    }

    /// Sends a request; the answer's headers and its JSON body.
    async fn call_with_headers<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<(reqwest::header::HeaderMap, T)> {
        let resp = self.send(req).await?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.context("reading the server's answer")?;
        if !status.is_success() {
            let msg = serde_json::from_slice::<ErrorBody>(&bytes)
                .map(|b| b.error)
                .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
            bail!("{msg} (HTTP {})", status.as_u16());
        }
        let body = if bytes.is_empty() {
            serde_json::from_slice(b"null").context("empty answer")?
        } else {
            serde_json::from_slice(&bytes)
                .context("the server's answer is not the expected JSON")?
        };
        Ok((headers, body))
    }

    /// GET a JSON resource.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.call(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    /// GET a JSON resource with a query string.
    pub async fn get_query<Q: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        query: &Q,
    ) -> Result<T> {
        self.call(self.http.get(format!("{}{path}", self.base)).query(query))
            .await
    }

    /// GET a list with a query string, and how many items matched in all
    /// (the `X-Total-Count` header; `None` from a server that does not
    /// send it).
    pub async fn get_list<Q: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        query: &Q,
    ) -> Result<(Vec<T>, Option<usize>)> {
        let (headers, items) = self
            .call_with_headers(self.http.get(format!("{}{path}", self.base)).query(query))
            .await?;
        let total = headers
            .get(deskhand_api_types::assets::TOTAL_COUNT)
            .and_then(|v| v.to_str().ok()?.parse().ok());
        Ok((items, total))
    }

    /// POST a JSON body.
    pub async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T> {
        self.call(self.http.post(format!("{}{path}", self.base)).json(body))
            .await
    }

    /// POST with no body (an action on a resource, e.g. `.../pause`).
    pub async fn post_empty<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.call(self.http.post(format!("{}{path}", self.base)))
            .await
    }

    /// POST raw bytes (a CSV file), waiting up to 10 minutes for the
    /// answer: a large import takes longer than the usual 30 s.
    pub async fn post_bytes<T: DeserializeOwned>(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<T> {
        self.call(
            self.http
                .post(format!("{}{path}", self.base))
                .timeout(std::time::Duration::from_secs(600))
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(body),
        )
        .await
    }

    /// POST raw bytes; a refusal comes back as its HTTP status and the
    /// server's message rather than as an error, so that a caller can tell
    /// a message refused from a server not reached (the error).
    pub async fn post_bytes_answer<T: DeserializeOwned>(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<Result<T, (u16, String)>> {
        let resp = self
            .send(
                self.http
                    .post(format!("{}{path}", self.base))
                    .timeout(std::time::Duration::from_secs(120))
                    .header(reqwest::header::CONTENT_TYPE, content_type)
                    .body(body),
            )
            .await?;
        let status = resp.status();
        let bytes = resp.bytes().await.context("reading the server's answer")?;
        if !status.is_success() {
            let msg = serde_json::from_slice::<ErrorBody>(&bytes)
                .map(|b| b.error)
                .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
            return Ok(Err((status.as_u16(), msg)));
        }
        Ok(Ok(serde_json::from_slice(&bytes)
            .context("the server's answer is not the expected JSON")?))
    }

    /// POST a JSON body and return the response for streaming.
    pub(crate) async fn post_streaming<B: Serialize>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<reqwest::Response> {
        let http = http_builder(&self.tls)
            .build()
            .context("building the HTTP client")?;
        let resp = self
            .send(http.post(format!("{}{path}", self.base)).json(body))
            .await?;
        if !resp.status().is_success() {
            let status = resp.status();
            let bytes = resp.bytes().await.unwrap_or_default();
            let msg = serde_json::from_slice::<ErrorBody>(&bytes)
                .map(|b| b.error)
                .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
            bail!("{msg} (HTTP {})", status.as_u16());
        }
        Ok(resp)
    }

    /// GET a resource that is not JSON (a recording): its bytes.
    pub(crate) async fn get_bytes(&self, path: &str) -> Result<Vec<u8>> {
        let resp = self
            .send(
                self.http
                    .get(format!("{}{path}", self.base))
                    .timeout(std::time::Duration::from_secs(600)),
            )
            .await?;
        let status = resp.status();
        let bytes = resp.bytes().await.context("reading the server's answer")?;
        if !status.is_success() {
            bail!("{}", answer_error(status, &bytes));
        }
        Ok(bytes.to_vec())
    }

    /// Opens an upgraded connection (a remote session): GET `path` with
    /// `query`, `Connection: Upgrade` and `Upgrade: protocol`, on a
    /// client of its own that speaks HTTP/1.1 only (an upgrade has no
    /// HTTP/2 form) and has no overall timeout (a session lasts as long
    /// as the operator wants), waiting `wait` for the answer. Anything
    /// but `101 Switching Protocols` is the server's error, worded as for
    /// every other call. The answer's headers and the connection.
    pub(crate) async fn upgrade<Q: Serialize>(
        &self,
        path: &str,
        query: &Q,
        protocol: &str,
        wait: std::time::Duration,
    ) -> Result<(reqwest::header::HeaderMap, reqwest::Upgraded)> {
        use reqwest::header::{CONNECTION, UPGRADE};
        // The upgrade needs HTTP/1.1 end to end: say so in TLS too.
        let tls = self.tls.clone().map(|mut config| {
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            config
        });
        let http = http_builder(&tls)
            .http1_only()
            // Keystrokes go out at once (reqwest's default, said here).
            .tcp_nodelay(true)
            .connect_timeout(std::time::Duration::from_secs(30))
            .build()
            .context("building the HTTP client")?;
        let req = http
            .get(format!("{}{path}", self.base))
            .query(query)
            .header(CONNECTION, "Upgrade")
            .header(UPGRADE, protocol);
        let resp = tokio::time::timeout(wait, self.send(req))
            .await
            .map_err(|_| {
                anyhow::anyhow!(
                    "the deskhand server at {} did not answer in {} s",
                    self.base,
                    wait.as_secs()
                )
            })??;
        let status = resp.status();
        if status != reqwest::StatusCode::SWITCHING_PROTOCOLS {
            let bytes = resp.bytes().await.unwrap_or_default();
            if status.is_success() {
                bail!(
                    "the deskhand server at {} answered HTTP {} instead of opening the session; is it older than this CLI?",
                    self.base,
                    status.as_u16()
                );
            }
            bail!("{}", answer_error(status, &bytes));
        }
        let headers = resp.headers().clone();
        let io = resp
            .upgrade()
            .await
            .context("taking over the connection for the session")?;
        Ok((headers, io))
    }

    /// PATCH a JSON body.
    pub async fn patch<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T> {
        self.call(self.http.patch(format!("{}{path}", self.base)).json(body))
            .await
    }

    /// PUT a JSON body.
    pub async fn put<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T> {
        self.call(self.http.put(format!("{}{path}", self.base)).json(body))
            .await
    }

    /// DELETE a resource.
    pub async fn delete(&self, path: &str) -> Result<()> {
        self.call::<serde_json::Value>(self.http.delete(format!("{}{path}", self.base)))
            .await
            .map(|_| ())
    }
}

/// The text of an error answer: the JSON body's `error` sentence (or the
/// body itself) and the status, as every call words it.
fn answer_error(status: reqwest::StatusCode, body: &[u8]) -> String {
    let msg = serde_json::from_slice::<ErrorBody>(body)
        .map(|b| b.error)
        .unwrap_or_else(|_| String::from_utf8_lossy(body).into_owned());
    format!("{msg} (HTTP {})", status.as_u16())
}

/// A reqwest builder with the TLS configuration of a [`ServerTrust`].
fn http_builder(tls: &Option<rustls::ClientConfig>) -> reqwest::ClientBuilder {
    let builder = reqwest::Client::builder();
    match tls {
        Some(config) => builder.use_preconfigured_tls(config.clone()),
        None => builder,
    }
}

/// Escapes a user-given key for use as one URL path segment.
pub(crate) fn path_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One page of a list (`what`: "assets"), and on stderr which of how
/// many it is when that is not all of them.
pub(crate) async fn list_page<Q: Serialize, T: DeserializeOwned>(
    c: &Client,
    path: &str,
    query: &Q,
    offset: Option<usize>,
    what: &str,
) -> Result<Vec<T>> {
    let (items, total) = c.get_list(path, query).await?;
    let offset = offset.unwrap_or(0);
    if let Some(total) = total.filter(|t| items.len() < *t) {
        let next = offset + items.len();
        if items.is_empty() && offset >= total {
            eprintln!("(all {total} {what} come before --offset {offset})");
        } else if items.is_empty() {
            eprintln!("({total} {what} match)");
        } else if next < total {
            eprintln!(
                "({}-{next} of {total} {what}; --offset {next} for the next ones)",
                offset + 1
            );
        } else {
            eprintln!("({}-{next} of {total} {what})", offset + 1);
        }
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_too_long_for_a_url_is_refused_before_it_is_sent() {
        // Loopback port 9: nothing listens there.
        let client = Client::new("http://127.0.0.1:9", Some("t".into())).expect("client");
        let assets = format!("{}/api/v1/assets", client.base);
        let long = "x".repeat(70_000);
        let err = client
            .send(client.http.get(&assets).query(&[("search", &long)]))
            .await
            .expect_err("too long");
        assert!(
            err.to_string()
                .starts_with("the request would need a URL of 70"),
            "{err}"
        );
        let err = client
            .send(client.http.get(&assets))
            .await
            .expect_err("nobody listens");
        assert!(
            err.to_string()
                .starts_with("cannot reach the deskhand server at http://127.0.0.1:9"),
            "{err}"
        );
    }

    #[test]
    fn path_segments_are_escaped() {
        assert_eq!(path_segment("pc 1/../x"), "pc%201%2F..%2Fx");
    }
}
