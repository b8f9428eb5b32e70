//! The operator CLI: every `deskhand NOUN VERB` except `server` is a
//! client of the HTTP API, printing a table, JSON or CSV.

use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::{
    AddOperator, AgentView, AuditView, CheckView, CreateToken, DiagEventView, DiagRunView,
    DiagTableView, ErrorBody, OperatorCreated, OperatorView, RunDiag, ServerInfo, TokenCreated,
    TokenView,
};

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns for people.
    Table,
    /// The API's JSON, for scripts.
    Json,
    /// Comma-separated values with a header row.
    Csv,
}

/// An API client for one server and operator token.
pub struct Client {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Client {
    /// A client for the server at `base` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base: &str, token: Option<String>) -> Result<Self> {
        let token = token.context(
            "no API token: pass --token or set DESKHAND_TOKEN (`deskhand server` prints the admin token)",
        )?;
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            base: base.trim_end_matches('/').to_string(),
            token,
            http,
        })
    }

    async fn call<T: DeserializeOwned>(&self, req: reqwest::RequestBuilder) -> Result<T> {
        let resp = req
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("cannot reach the deskhand server at {}; is it running? (--server / DESKHAND_SERVER)", self.base))?;
        let status = resp.status();
        let bytes = resp.bytes().await.context("reading the server's answer")?;
        if !status.is_success() {
            let msg = serde_json::from_slice::<ErrorBody>(&bytes)
                .map(|b| b.error)
                .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
            bail!("{msg} (HTTP {})", status.as_u16());
        }
        if bytes.is_empty() {
            return serde_json::from_slice(b"null").context("empty answer");
        }
        serde_json::from_slice(&bytes).context("the server's answer is not the expected JSON")
    }

    /// GET a JSON resource.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.call(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    /// POST a JSON body.
    pub async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T> {
        self.call(self.http.post(format!("{}{path}", self.base)).json(body))
            .await
    }

    /// POST a JSON body and return the response for streaming.
    async fn post_streaming<B: Serialize>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<reqwest::Response> {
        let http = reqwest::Client::builder()
            .build()
            .context("building the HTTP client")?;
        let resp = http
            .post(format!("{}{path}", self.base))
            .json(body)
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("cannot reach the deskhand server at {}", self.base))?;
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

    /// DELETE a resource.
    pub async fn delete(&self, path: &str) -> Result<()> {
        self.call::<serde_json::Value>(self.http.delete(format!("{}{path}", self.base)))
            .await
            .map(|_| ())
    }
}

/// Rows to print, in any [`OutputFormat`].
pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new(headers: Vec<&'static str>) -> Self {
        Self {
            headers,
            rows: Vec::new(),
        }
    }

    /// Adds a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Renders as aligned text.
    pub fn to_text(&self) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: Vec<&str>| {
            let mut s = String::new();
            for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
                if i + 1 == cells.len() {
                    s.push_str(cell);
                } else {
                    s.push_str(&format!("{cell:<w$}  ", w = *w));
                }
            }
            s.trim_end().to_string() + "\n"
        };
        let mut out = line(self.headers.clone());
        for row in &self.rows {
            out.push_str(&line(row.iter().map(String::as_str).collect()));
        }
        out
    }

    /// Renders as CSV with a header row.
    pub fn to_csv(&self) -> Result<String> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(&self.headers)?;
        for row in &self.rows {
            w.write_record(row)?;
        }
        Ok(String::from_utf8(
            w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?,
        )?)
    }
}

/// Prints `value` as JSON, or `table` as text or CSV.
pub fn print<T: Serialize>(
    format: OutputFormat,
    value: &T,
    table: impl FnOnce() -> Table,
) -> Result<()> {
    match format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(value)?),
        OutputFormat::Table => print!("{}", table().to_text()),
        OutputFormat::Csv => print!("{}", table().to_csv()?),
    }
    Ok(())
}

fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_else(|| "-".into())
}

fn agent_state(a: &AgentView) -> &'static str {
    if a.revoked_at.is_some() {
        "revoked"
    } else if a.online {
        "online"
    } else {
        "offline"
    }
}

/// `deskhand agents list`.
pub async fn agents_list(c: &Client, format: OutputFormat) -> Result<()> {
    let agents: Vec<AgentView> = c.get("/api/v1/agents").await?;
    print(format, &agents, || {
        let mut t = Table::new(vec![
            "ID",
            "HOSTNAME",
            "OS",
            "STATE",
            "LAST SEEN",
            "VERSION",
        ]);
        for a in &agents {
            t.row(vec![
                a.id.clone(),
                a.hostname.clone(),
                a.os.clone(),
                agent_state(a).into(),
                opt(&a.last_seen),
                a.agent_version.clone(),
            ]);
        }
        t
    })
}

/// `deskhand agents show ID`.
pub async fn agents_show(c: &Client, format: OutputFormat, key: &str) -> Result<()> {
    let a: AgentView = c
        .get(&format!("/api/v1/agents/{}", path_segment(key)))
        .await?;
    print(format, &a, || agent_detail(&a))
}

fn agent_detail(a: &AgentView) -> Table {
    let mut t = Table::new(vec!["FIELD", "VALUE"]);
    for (k, v) in [
        ("id", a.id.clone()),
        ("hostname", a.hostname.clone()),
        ("state", agent_state(a).into()),
        ("os", a.os.clone()),
        ("kernel", a.kernel.clone()),
        ("arch", a.arch.clone()),
        ("agent version", a.agent_version.clone()),
        ("last seen", opt(&a.last_seen)),
        ("last address", opt(&a.last_addr)),
        ("enrolled", a.enrolled_at.clone()),
        ("certificate expires", a.cert_expires_at.clone()),
        ("revoked", opt(&a.revoked_at)),
    ] {
        t.row(vec![k.into(), v]);
    }
    t
}

/// `deskhand agents revoke ID`.
pub async fn agents_revoke(c: &Client, format: OutputFormat, key: &str) -> Result<()> {
    let a: AgentView = c
        .post(
            &format!("/api/v1/agents/{}/revoke", path_segment(key)),
            &serde_json::json!({}),
        )
        .await?;
    if format == OutputFormat::Table {
        println!(
            "revoked {} ({}); its connection is closed and it cannot reconnect",
            a.id, a.hostname
        );
        return Ok(());
    }
    print(format, &a, || agent_detail(&a))
}

/// `deskhand tokens create`.
pub async fn tokens_create(
    c: &Client,
    format: OutputFormat,
    uses: u32,
    expires: std::time::Duration,
    label: String,
) -> Result<()> {
    let t: TokenCreated = c
        .post(
            "/api/v1/enrollment-tokens",
            &CreateToken {
                uses,
                expires_in_secs: expires.as_secs().max(1),
                label,
            },
        )
        .await?;
    if format == OutputFormat::Table {
        println!("token:           {}", t.token);
        println!("uses:            {}", t.uses);
        println!("expires:         {}", t.expires_at);
        println!("CA fingerprint:  {}", t.ca_fingerprint);
        println!();
        println!("Enroll a machine with:");
        println!("  {}", t.enroll_command);
        if !t.install_command.is_empty() {
            println!();
            println!("Or install, enroll and start the agent in one line, next to its package:");
            println!("  Linux:    {}", t.install_command);
            println!("  Windows:  {}", t.install_command_windows);
        }
        return Ok(());
    }
    print(format, &t, || {
        let mut tb = Table::new(vec!["TOKEN", "USES", "EXPIRES", "CA FINGERPRINT"]);
        tb.row(vec![
            t.token.clone(),
            t.uses.to_string(),
            t.expires_at.clone(),
            t.ca_fingerprint.clone(),
        ]);
        tb
    })
}

/// `deskhand tokens list`.
pub async fn tokens_list(c: &Client, format: OutputFormat) -> Result<()> {
    let tokens: Vec<TokenView> = c.get("/api/v1/enrollment-tokens").await?;
    print(format, &tokens, || {
        let mut t = Table::new(vec!["ID", "LABEL", "USES LEFT", "EXPIRES", "CREATED BY"]);
        for k in &tokens {
            t.row(vec![
                k.id.to_string(),
                k.label.clone(),
                format!("{}/{}", k.uses_left, k.uses_total),
                if k.expired {
                    format!("{} (expired)", k.expires_at)
                } else {
                    k.expires_at.clone()
                },
                k.created_by.clone(),
            ]);
        }
        t
    })
}

/// `deskhand operators add NAME`.
pub async fn operators_add(
    c: &Client,
    format: OutputFormat,
    name: String,
    role: String,
) -> Result<()> {
    let o: OperatorCreated = c
        .post("/api/v1/operators", &AddOperator { name, role })
        .await?;
    if format == OutputFormat::Table {
        println!("added operator {} ({})", o.name, o.role);
        println!("API token (shown once): {}", o.token);
        return Ok(());
    }
    print(format, &o, || {
        let mut t = Table::new(vec!["NAME", "ROLE", "TOKEN"]);
        t.row(vec![o.name.clone(), o.role.clone(), o.token.clone()]);
        t
    })
}

/// `deskhand operators list`.
pub async fn operators_list(c: &Client, format: OutputFormat) -> Result<()> {
    let ops: Vec<OperatorView> = c.get("/api/v1/operators").await?;
    print(format, &ops, || {
        let mut t = Table::new(vec!["NAME", "ROLE", "CREATED"]);
        for o in &ops {
            t.row(vec![o.name.clone(), o.role.clone(), o.created_at.clone()]);
        }
        t
    })
}

/// `deskhand operators remove NAME`.
pub async fn operators_remove(c: &Client, name: &str) -> Result<()> {
    c.delete(&format!("/api/v1/operators/{}", path_segment(name)))
        .await?;
    println!("removed operator {name}; their token no longer works");
    Ok(())
}

/// `deskhand audit list`.
pub async fn audit_list(c: &Client, format: OutputFormat, limit: u32) -> Result<()> {
    let rows: Vec<AuditView> = c.get(&format!("/api/v1/audit?limit={limit}")).await?;
    print(format, &rows, || {
        let mut t = Table::new(vec!["AT", "OPERATOR", "ACTION", "TARGET", "DETAIL"]);
        for e in &rows {
            t.row(vec![
                e.at.clone(),
                e.operator.clone(),
                e.action.clone(),
                e.target.clone(),
                e.detail.clone(),
            ]);
        }
        t
    })
}

/// `deskhand status`: which server, which operator.
pub async fn status(c: &Client, format: OutputFormat) -> Result<()> {
    let s: ServerInfo = c.get("/api/v1/server").await?;
    print(format, &s, || {
        let mut t = Table::new(vec!["FIELD", "VALUE"]);
        t.row(vec!["version".into(), s.version.clone()]);
        t.row(vec!["operator".into(), s.operator.clone()]);
        t.row(vec!["agents endpoint".into(), s.agents_endpoint.clone()]);
        t.row(vec!["agents online".into(), s.agents_online.to_string()]);
        t.row(vec!["CA fingerprint".into(), s.ca_fingerprint.clone()]);
        t
    })
}

/// `deskhand diag list`.
pub async fn diag_list(c: &Client, format: OutputFormat) -> Result<()> {
    let checks: Vec<CheckView> = c.get("/api/v1/diag/checks").await?;
    print(format, &checks, || {
        let mut t = Table::new(vec!["CHECK", "ARGUMENTS", "SUMMARY"]);
        for k in &checks {
            let args: Vec<String> = k
                .args
                .iter()
                .map(|a| match &a.default {
                    Some(d) => format!("[--{} {d}]", a.name),
                    None => format!("--{} <{}>", a.name, a.name.to_uppercase()),
                })
                .chain(k.follows.then(|| "[--follow]".to_string()))
                .collect();
            t.row(vec![k.name.clone(), args.join(" "), k.summary.clone()]);
        }
        t
    })
}

fn diag_table(t: &DiagTableView) -> deskhand_shared::diag::DiagTable {
    deskhand_shared::diag::DiagTable {
        title: t.title.clone(),
        columns: t.columns.clone(),
        rows: t.rows.clone(),
    }
}

/// `deskhand diag run AGENT CHECK [--name value]... [--follow]`.
pub async fn diag_run(
    c: &Client,
    format: OutputFormat,
    agent: &str,
    check: String,
    args: Vec<(String, String)>,
    follow: bool,
) -> Result<()> {
    let body = RunDiag {
        check,
        args,
        follow,
    };
    let path = format!("/api/v1/agents/{}/diag", path_segment(agent));
    if follow {
        return diag_follow(c, format, &path, &body).await;
    }
    let run: DiagRunView = c.post(&path, &body).await?;
    match format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&run)?),
        OutputFormat::Table => {
            for t in &run.tables {
                println!("{}", deskhand_agent::diag::render_table(&diag_table(t)));
            }
            print!("{}", run.text);
            eprintln!(
                "({} on {} in {:.0} ms, run {})",
                run.check, run.agent_id, run.duration_ms, run.id
            );
        }
        OutputFormat::Csv => {
            for t in &run.tables {
                let mut w = csv::Writer::from_writer(std::io::stdout());
                w.write_record(&t.columns)?;
                for r in &t.rows {
                    w.write_record(r)?;
                }
                w.flush()?;
            }
        }
    }
    match run.error {
        Some(e) => bail!("{e}"),
        None => Ok(()),
    }
}

async fn diag_follow(c: &Client, format: OutputFormat, path: &str, body: &RunDiag) -> Result<()> {
    let mut resp = c.post_streaming(path, body).await?;
    let mut pending = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .context("reading the diagnostic stream")?
    {
        pending.extend_from_slice(&chunk);
        while let Some(nl) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=nl).collect();
            if line.iter().all(u8::is_ascii_whitespace) {
                continue; // keep-alive
            }
            let event: DiagEventView =
                serde_json::from_slice(&line).context("the server sent an unreadable event")?;
            if format == OutputFormat::Json {
                println!("{}", serde_json::to_string(&event)?);
                continue;
            }
            match event {
                DiagEventView::Table(t) => {
                    println!("{}", deskhand_agent::diag::render_table(&diag_table(&t)))
                }
                DiagEventView::Text(t) => print!("{t}"),
                DiagEventView::Done { error: Some(e), .. } => bail!("{e}"),
                DiagEventView::Done { .. } => return Ok(()),
            }
        }
    }
    Ok(())
}

/// Escapes a user-given key for use as one URL path segment.
fn path_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_and_csv_quotes() {
        let mut t = Table::new(vec!["A", "LONG HEADER"]);
        t.row(vec!["wide cell".into(), "x, \"y\"".into()]);
        let text = t.to_text();
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines[0], "A          LONG HEADER");
        assert_eq!(lines[1], "wide cell  x, \"y\"");
        assert_eq!(
            t.to_csv().expect("csv"),
            "A,LONG HEADER\nwide cell,\"x, \"\"y\"\"\"\n"
        );
    }

    #[test]
    fn path_segments_are_escaped() {
        assert_eq!(path_segment("pc 1/../x"), "pc%201%2F..%2Fx");
    }
}
