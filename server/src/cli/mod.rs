//! The operator CLI: every `deskhand NOUN VERB` except `server` is a
//! client of the HTTP API, printing a table, JSON or CSV.

use anyhow::{Context, Result, bail};

/// Writes to stdout; a closed pipe (`| head`) ends the program quietly
/// instead of panicking.
pub fn emit(text: &str) {
    use std::io::Write;
    if let Err(e) = std::io::stdout().lock().write_all(text.as_bytes())
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(0);
    }
}

macro_rules! out {
    ($($t:tt)*) => { emit(&format!($($t)*)) };
}

macro_rules! outln {
    () => { emit("\n") };
    ($($t:tt)*) => { emit(&(format!($($t)*) + "\n")) };
}
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::{
    AddAsset, AddOperator, AgentView, AssetCreated, AssetDetail, AssetQuery, AssetView, AuditView,
    ChangeGroupView, ChangeView, ChangesQuery, CreateLabel, CreateToken, ErrorBody, HistoryQuery,
    HistoryView, ImportReport, LabelAsset, LabelView, OperatorCreated, OperatorView, ServerInfo,
    SoftwareCountView, SoftwareQuery, TokenCreated, TokenView,
};

pub mod assets_args;
pub mod csv_output;
pub mod diag;
pub mod reports;
mod stale;
pub mod tickets;

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

pub mod jobs;
pub mod publish;

/// An API client for one server and operator token.
pub struct Client {
    base: String,
    token: String,
    http: reqwest::Client,
}

/// The longest URL an HTTP request may have (the `http` crate's limit).
const MAX_URL_BYTES: usize = u16::MAX as usize - 1;

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
            .get(crate::api::TOTAL_COUNT)
            .and_then(|v| v.to_str().ok()?.parse().ok());
        Ok((items, total))
    }

    /// POST a JSON body.
    pub async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T> {
        self.call(self.http.post(format!("{}{path}", self.base)).json(body))
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

    /// POST a JSON body and return the response for streaming.
    async fn post_streaming<B: Serialize>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<reqwest::Response> {
        let http = reqwest::Client::builder()
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

    /// PATCH a JSON body.
    pub async fn patch<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T> {
        self.call(self.http.patch(format!("{}{path}", self.base)).json(body))
            .await
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
        deskhand_shared::diag::render::align_columns(
            &self.headers,
            &self
                .rows
                .iter()
                .map(|r| r.iter().map(String::as_str).collect())
                .collect::<Vec<Vec<&str>>>(),
        )
    }

    /// Renders as CSV with a header row, every cell through
    /// [`csv_output::csv_cell`].
    pub fn to_csv(&self) -> String {
        csv_output::csv_text(&self.headers, &self.rows)
    }
}

/// Prints `value` as JSON, or `table` as text or CSV.
pub fn print<T: Serialize>(
    format: OutputFormat,
    value: &T,
    table: impl FnOnce() -> Table,
) -> Result<()> {
    match format {
        OutputFormat::Json => outln!("{}", serde_json::to_string_pretty(value)?),
        OutputFormat::Table => {
            let t = table();
            out!("{}", t.to_text());
            if t.rows.is_empty() {
                // Said on stderr: what a script reads from stdout stays
                // the header row alone.
                eprintln!("(none)");
            }
        }
        OutputFormat::Csv => out!("{}", table().to_csv()),
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
        outln!(
            "revoked {} ({}); its connection is closed and it cannot reconnect",
            a.id,
            a.hostname
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
        outln!("token:           {}", t.token);
        outln!("uses:            {}", t.uses);
        outln!("expires:         {}", t.expires_at);
        outln!("CA fingerprint:  {}", t.ca_fingerprint);
        outln!();
        outln!("Enroll a machine with:");
        outln!("  {}", t.enroll_command);
        if !t.install_command.is_empty() {
            outln!();
            outln!("Or install, enroll and start the agent in one line, next to its package:");
            outln!("  Linux:    {}", t.install_command);
            outln!("  Windows:  {}", t.install_command_windows);
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
        outln!("added operator {} ({})", o.name, o.role);
        outln!("API token (shown once): {}", o.token);
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
    outln!("removed operator {name}; their token no longer works");
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
        let db = &s.database;
        let writes = match (&db.failing_since, &db.error) {
            (Some(since), error) => format!(
                "FAILING since {since}: {}; what it refuses is not stored",
                error.as_deref().unwrap_or("see the server log")
            ),
            (None, _) => db.writes.clone(),
        };
        t.row(vec!["database writes".into(), writes]);
        t
    })
}

/// Refuses, before any work, an output format `deskhand backup` does not
/// print its summary in.
pub fn backup_format(f: OutputFormat) -> Result<()> {
    if f == OutputFormat::Csv {
        bail!("a backup's summary is printed as a table or as JSON (--output json), not CSV");
    }
    Ok(())
}

/// What `deskhand backup` copied, and how to restore it, in the format
/// [`backup_format`] let through.
pub fn print_backup(b: &crate::backup::Backup, f: OutputFormat) -> Result<()> {
    if f == OutputFormat::Json {
        out!("{}\n", serde_json::to_string_pretty(b)?);
        return Ok(());
    }
    let d = &b.database;
    out!(
        "backed up {} to {} in {:.1} s\n  \
         database: {}, checked ({} assets, {} agents, {} history events, {} tickets)\n  \
         files:    {} (CA, keys, packages), {}\n\
         To restore: stop the server and start it with --data-dir {} (or move that folder into place).\n",
        b.from.display(),
        b.to.display(),
        b.seconds,
        deskhand_shared::diag::render::human_bytes(d.bytes),
        d.assets,
        d.agents,
        d.events,
        d.tickets,
        b.files,
        deskhand_shared::diag::render::human_bytes(b.file_bytes),
        b.to.display()
    );
    for old in &b.removed {
        out!("removed the older backup {}\n", old.display());
    }
    Ok(())
}

/// A size in GiB; `-` for none (an asset entered by hand has no RAM
/// figure).
fn gib(bytes: i64) -> String {
    if bytes <= 0 {
        return "-".into();
    }
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

/// Whether an agent reports the asset and is connected.
fn asset_state(a: &AssetView) -> &'static str {
    if a.retired.is_some() {
        "retired"
    } else if a.kind != "computer" {
        "no agent"
    } else if a.online {
        "online"
    } else {
        "offline"
    }
}

/// In a list filtered by software, what each asset has of it, as a last
/// column: its header (VERSION when every match has one name, as for
/// `--software openssl`; MATCHED, with names, for `--software '*ssl*'`)
/// and its cells, each with at most `shown` packages and how many more.
/// `None` for a list not filtered by software.
fn matched_column(assets: &[AssetView], shown: usize) -> Option<(&'static str, Vec<String>)> {
    let names: std::collections::HashSet<String> = assets
        .iter()
        .flat_map(|a| &a.matched_software)
        .map(|p| p.name.to_lowercase())
        .collect();
    let one_name = match names.len() {
        0 => return None,
        n => n == 1,
    };
    let cells = assets
        .iter()
        .map(|a| {
            let mut each: Vec<String> = a
                .matched_software
                .iter()
                .take(shown)
                .map(|p| match one_name {
                    true => p.version.clone(),
                    false => format!("{} {}", p.name, p.version),
                })
                .collect();
            if a.matched_software.len() > shown {
                each.push(format!("+{} more", a.matched_software.len() - shown));
            }
            each.join(", ")
        })
        .collect();
    Some((if one_name { "VERSION" } else { "MATCHED" }, cells))
}

fn asset_table(assets: &[AssetView]) -> Table {
    let mut headers = vec![
        "ID",
        "NAME",
        "KIND",
        "OS",
        "MODEL",
        "SERIAL",
        "USER",
        "RAM",
        "PKGS",
        "STATE",
        "LAST SEEN",
    ];
    // A handful per cell: a wide wildcard on a small fleet can match
    // hundreds (JSON and the CSV export give them all).
    let mut matched = matched_column(assets, 5).map(|(header, cells)| {
        headers.push(header);
        cells.into_iter()
    });
    let mut t = Table::new(headers);
    for a in assets {
        let mut row = vec![
            a.id.clone(),
            a.hostname.clone(),
            a.kind.clone(),
            a.os.clone(),
            a.model.clone(),
            a.serial.clone(),
            a.user.clone(),
            gib(a.memory_bytes),
            a.software_count.to_string(),
            asset_state(a).into(),
            opt(&a.last_seen),
        ];
        row.extend(matched.as_mut().and_then(Iterator::next));
        t.row(row);
    }
    t
}

/// `deskhand assets list [filters]` and `assets export`.
pub async fn assets_list(c: &Client, format: OutputFormat, query: &AssetQuery) -> Result<()> {
    let assets: Vec<AssetView> =
        list_page(c, "/api/v1/assets", query, query.offset, "assets").await?;
    print(format, &assets, || asset_table(&assets))?;
    if let Some(spec) = query.software.as_deref().filter(|_| assets.is_empty())
        && let Some(hint) = software_name_hint(c, spec).await?
    {
        eprintln!("{hint}");
    }
    Ok(())
}

/// When `--software NAME...` found nothing because no package has that
/// name (`firefox`, where Windows says `Mozilla Firefox (x64 en-US)`):
/// the names that contain it, and how to ask for them.
async fn software_name_hint(c: &Client, spec: &str) -> Result<Option<String>> {
    let name = spec.split_once('@').map_or(spec, |(n, _)| n).trim();
    if name.is_empty() || name.contains('*') {
        return Ok(None);
    }
    let query = SoftwareQuery {
        name: Some(name.to_string()),
        limit: Some(200),
        ..Default::default()
    };
    let rows: Vec<SoftwareCountView> = c.get_query("/api/v1/software", &query).await?;
    if rows.iter().any(|r| r.name.eq_ignore_ascii_case(name)) {
        return Ok(None);
    }
    let mut names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    names.dedup();
    Ok(Some(match names.as_slice() {
        [] => format!("(no package is named `{name}` or has it in its name)"),
        found => {
            let shown: Vec<String> = found.iter().take(5).map(|n| format!("`{n}`")).collect();
            let more = if found.len() > 5 { ", ..." } else { "" };
            let constraint = spec
                .split_once('@')
                .map_or(String::new(), |(_, c)| format!("@{c}"));
            format!(
                "(no package is named `{name}`; names with it: {}{more}; `*` matches any text: --software '*{name}*{constraint}')",
                shown.join(", ")
            )
        }
    }))
}

/// One page of a list (`what`: "assets"), and on stderr which of how
/// many it is when that is not all of them.
async fn list_page<Q: Serialize, T: DeserializeOwned>(
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

/// `deskhand assets count --by model`: how many assets per model (OS, ...).
pub async fn assets_count(
    c: &Client,
    format: OutputFormat,
    by: crate::api::CountBy,
    query: &AssetQuery,
) -> Result<()> {
    let name = deskhand_api_types::Keyword::name(by);
    let counts: Vec<crate::api::CountView> = c
        .get_query(&format!("/api/v1/asset-counts/{name}"), query)
        .await?;
    print(format, &counts, || {
        use crate::api::CountBy;
        let header = match by {
            CountBy::Model => "MODEL",
            CountBy::Manufacturer => "MANUFACTURER",
            CountBy::Os => "OS",
            CountBy::Kind => "KIND",
            CountBy::Location => "LOCATION",
        };
        let mut t = Table::new(vec![header, "ASSETS"]);
        for g in &counts {
            let value = if g.value.is_empty() { "-" } else { &g.value };
            t.row(vec![value.to_string(), g.assets.to_string()]);
        }
        t
    })
}

/// `deskhand assets export`: every field of each asset, values as the API
/// has them (bytes, not GiB), for a spreadsheet; JSON is the API's list.
pub async fn assets_export(c: &Client, format: OutputFormat, query: &AssetQuery) -> Result<()> {
    let assets: Vec<AssetView> =
        list_page(c, "/api/v1/assets", query, query.offset, "assets").await?;
    print(format, &assets, || {
        let mut headers = vec![
            "id",
            "name",
            "kind",
            "location",
            "os",
            "model",
            "serial",
            "user",
            "ipv4",
            "memory_bytes",
            "software_count",
            "state",
            "last_seen",
            "last_inventory_at",
            "retired_at",
            "retired_by",
            "retired_reason",
            "warranty_until",
        ];
        let mut matched = matched_column(&assets, usize::MAX).map(|(_, cells)| {
            headers.push("matched_software");
            cells.into_iter()
        });
        let mut t = Table::new(headers);
        for a in &assets {
            let mut row = vec![
                a.id.clone(),
                a.hostname.clone(),
                a.kind.clone(),
                a.location.clone(),
                a.os.clone(),
                a.model.clone(),
                a.serial.clone(),
                a.user.clone(),
                a.ipv4.clone(),
                a.memory_bytes.to_string(),
                a.software_count.to_string(),
                asset_state(a).into(),
                a.last_seen.clone().unwrap_or_default(),
                a.last_inventory_at.clone(),
                a.retired
                    .as_ref()
                    .map_or_else(String::new, |r| r.at.clone()),
                a.retired
                    .as_ref()
                    .map_or_else(String::new, |r| r.by.clone()),
                a.retired
                    .as_ref()
                    .map_or_else(String::new, |r| r.reason.clone()),
                a.warranty_until.clone(),
            ];
            row.extend(matched.as_mut().and_then(Iterator::next));
            t.row(row);
        }
        t
    })
}

/// `deskhand assets show ASSET`.
pub async fn assets_show(
    c: &Client,
    format: OutputFormat,
    key: &str,
    query: &crate::api::ShowQuery,
) -> Result<()> {
    let d: AssetDetail = c
        .get_query(&format!("/api/v1/assets/{}", path_segment(key)), query)
        .await?;
    if format != OutputFormat::Table {
        return print(format, &d, || asset_table(std::slice::from_ref(&d.asset)));
    }
    let a = &d.asset;
    let mut t = Table::new(vec!["FIELD", "VALUE"]);
    for (k, v) in [
        ("id", a.id.clone()),
        ("name", a.hostname.clone()),
        ("kind", a.kind.clone()),
        ("location", a.location.clone()),
        ("notes", d.notes.clone()),
        ("fqdn", d.fqdn.clone()),
        ("state", asset_state(a).into()),
        (
            "retired",
            a.retired.as_ref().map_or_else(
                || "-".to_string(),
                |r| match r.reason.as_str() {
                    "" => format!("{} by {}", r.at, r.by),
                    why => format!("{} by {}: {why}", r.at, r.by),
                },
            ),
        ),
        ("last seen", opt(&a.last_seen)),
        ("user", a.user.clone()),
        ("os", a.os.clone()),
        ("kernel", d.kernel.clone()),
        ("model", a.model.clone()),
        ("serial", a.serial.clone()),
        (
            "warranty until",
            match a.warranty_until.as_str() {
                "" => "-".into(),
                day => day.to_string(),
            },
        ),
        ("system uuid", d.system_uuid.clone()),
        (
            "cpu",
            if d.cpu_cores > 0 {
                format!("{} ({} cores, {})", d.cpu_model, d.cpu_cores, d.arch)
            } else {
                "-".into()
            },
        ),
        ("memory", gib(a.memory_bytes)),
        ("ipv4", a.ipv4.clone()),
        ("mac", d.macs.clone()),
        ("first inventory", d.first_inventory_at.clone()),
        ("last inventory", a.last_inventory_at.clone()),
        ("last report", format!("{} bytes", d.last_report_bytes)),
        ("labels", d.labels.join(", ")),
    ] {
        t.row(vec![k.into(), v]);
    }
    out!("{}", t.to_text());
    for line in stale::lines(&d.stale) {
        outln!("{line}");
    }
    outln!("\nnetwork interfaces:");
    let mut t = Table::new(vec!["NAME", "MAC", "STATE", "ADDRESSES"]);
    for i in &d.interfaces {
        t.row(vec![
            i.name.clone(),
            opt(&i.mac),
            opt(&i.state),
            i.addresses.join(" "),
        ]);
    }
    out!("{}", t.to_text());
    // Free space changes by the minute and is not kept: the disk-usage
    // diagnostic reads it live.
    if asset_state(a) == "no agent" {
        outln!("\nstorage:");
    } else {
        let target = if a.hostname.is_empty() {
            &a.id
        } else {
            &a.hostname
        };
        outln!(
            "\nstorage (free space now: deskhand jobs run --diag disk-usage --target {target} --wait):"
        );
    }
    let mut t = Table::new(vec!["NAME", "KIND", "SIZE"]);
    for v in d.disks.iter().chain(&d.volumes) {
        t.row(vec![
            v.name.clone(),
            v.kind.clone(),
            gib(i64::try_from(v.size_bytes).unwrap_or(i64::MAX)),
        ]);
    }
    out!("{}", t.to_text());
    out!("{}", tickets::asset_tickets_text(&d.tickets));
    outln!();
    out!(
        "{}",
        tickets::changes_text(&d.changed_last_7_days, d.changes_last_7_days_total)
    );
    match query.software.as_deref().filter(|t| !t.is_empty()) {
        Some(text) => outln!(
            "\nsoftware ({} of {} packages, names containing `{text}`):",
            d.software.len(),
            a.software_count
        ),
        None => outln!("\nsoftware ({} packages):", d.software.len()),
    }
    let mut t = Table::new(vec!["NAME", "VERSION", "ARCH", "SOURCE", "VENDOR"]);
    for p in &d.software {
        t.row(vec![
            p.name.clone(),
            p.version.clone(),
            p.arch.clone(),
            p.source.clone(),
            p.vendor.clone(),
        ]);
    }
    out!("{}", t.to_text());
    Ok(())
}

/// `deskhand assets history ASSET [--since] [--category]`.
pub async fn assets_history(
    c: &Client,
    format: OutputFormat,
    key: &str,
    query: &HistoryQuery,
) -> Result<()> {
    let rows: Vec<HistoryView> = c
        .get_query(
            &format!("/api/v1/assets/{}/history", path_segment(key)),
            query,
        )
        .await?;
    print(format, &rows, || history_table(&rows))
}

/// History events as a table: when, what and from what to what.
fn history_table(rows: &[HistoryView]) -> Table {
    let mut t = Table::new(HISTORY_COLUMNS.to_vec());
    for e in rows {
        t.row(history_row(e));
    }
    t
}

const HISTORY_COLUMNS: [&str; 6] = ["AT", "CATEGORY", "ITEM", "CHANGE", "FROM", "TO"];

fn history_row(e: &HistoryView) -> Vec<String> {
    vec![
        e.at.clone(),
        e.category.clone(),
        e.item.clone(),
        e.change.clone(),
        opt(&e.old_value),
        opt(&e.new_value),
    ]
}

/// `deskhand assets changes`: what changed across the fleet in a window,
/// grouped by change with the number of assets; `each` lists the events
/// themselves, newest first, at most `query.limit`.
pub async fn assets_changes(
    c: &Client,
    format: OutputFormat,
    mut query: ChangesQuery,
    each: bool,
) -> Result<()> {
    if !each {
        let groups: Vec<ChangeGroupView> = c.get_query("/api/v1/changes/summary", &query).await?;
        return print(format, &groups, || {
            let mut t = Table::new(vec![
                "ASSETS", "CATEGORY", "ITEM", "CHANGE", "FROM", "TO", "FIRST", "LAST",
            ]);
            for g in &groups {
                t.row(vec![
                    g.assets.to_string(),
                    g.category.clone(),
                    g.item.clone(),
                    g.change.clone(),
                    opt(&g.old_value),
                    opt(&g.new_value),
                    g.first_at.clone(),
                    g.last_at.clone(),
                ]);
            }
            t
        });
    }
    // One more than asked for tells whether there were more.
    let limit = query.limit.unwrap_or(crate::api::CHANGES_LIMIT);
    query.limit = Some(limit.saturating_add(1));
    let mut rows: Vec<ChangeView> = c.get_query("/api/v1/changes", &query).await?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    print(format, &rows, || {
        // A history table with the asset after the time.
        let mut columns = HISTORY_COLUMNS.to_vec();
        columns.splice(1..1, ["HOST", "ASSET"]);
        let mut t = Table::new(columns);
        for c in &rows {
            let mut row = history_row(&c.event);
            row.splice(1..1, [c.hostname.clone(), c.asset_id.clone()]);
            t.row(row);
        }
        t
    })?;
    if more {
        eprintln!(
            "(the newest {limit}; there are more: narrow with --item, --category, --label or --until, or raise --limit)"
        );
    }
    Ok(())
}

/// `deskhand assets refresh ASSET`: ask the agent for an inventory now.
pub async fn assets_refresh(c: &Client, key: &str) -> Result<()> {
    c.post::<_, serde_json::Value>(
        &format!("/api/v1/assets/{}/refresh", path_segment(key)),
        &serde_json::json!({}),
    )
    .await?;
    outln!("asked {key} for a fresh inventory; it reports within seconds");
    Ok(())
}

/// `deskhand assets add`: an asset without an agent.
pub async fn assets_add(c: &Client, format: OutputFormat, asset: AddAsset) -> Result<()> {
    let created: AssetCreated = c.post("/api/v1/assets", &asset).await?;
    if format == OutputFormat::Table {
        outln!("added {} as {}", created.name, created.id);
        return Ok(());
    }
    print(format, &created, || {
        let mut t = Table::new(vec!["ID", "NAME"]);
        t.row(vec![created.id.clone(), created.name.clone()]);
        t
    })
}

/// `deskhand assets edit ASSET --field VALUE...`.
pub async fn assets_edit(
    c: &Client,
    format: OutputFormat,
    asset: &str,
    edit: &deskhand_api_types::assets::AssetEdit,
) -> Result<()> {
    let path = format!("/api/v1/assets/{}", path_segment(asset));
    let done: crate::api::AssetEdited = c.patch(&path, edit).await?;
    if format == OutputFormat::Table && done.changes.is_empty() {
        outln!(
            "{} ({}) already had those values; nothing changed",
            done.name,
            done.id
        );
        return Ok(());
    }
    print(format, &done, || {
        let mut t = Table::new(vec!["FIELD", "FROM", "TO"]);
        for ch in &done.changes {
            t.row(vec![ch.field.clone(), ch.old.clone(), ch.new.clone()]);
        }
        t
    })
}

/// `deskhand assets retire` (`Some(reason)`) and `deskhand assets restore`.
pub async fn assets_set_status(
    c: &Client,
    format: OutputFormat,
    asset: &str,
    reason: Option<String>,
) -> Result<()> {
    let key = path_segment(asset);
    let done: crate::api::StatusChanged = match reason {
        Some(reason) => {
            let body = crate::api::RetireAsset { reason };
            c.post(&format!("/api/v1/assets/{key}/retire"), &body)
                .await?
        }
        None => {
            c.post(&format!("/api/v1/assets/{key}/restore"), &())
                .await?
        }
    };
    let status = match done.status {
        deskhand_api_types::assets::AssetStatus::Retired => "retired",
        _ => "in service",
    };
    if format != OutputFormat::Table {
        return print(format, &done, || {
            let mut t = Table::new(vec!["id", "name", "status", "changed"]);
            t.row(vec![
                done.id.clone(),
                done.name.clone(),
                status.into(),
                done.changed.to_string(),
            ]);
            t
        });
    }
    if done.changed {
        outln!("{} ({}) is {status} now", done.name, done.id);
    } else {
        outln!(
            "{} ({}) already was {status}; nothing changed",
            done.name,
            done.id
        );
    }
    Ok(())
}

/// `deskhand assets import FILE.csv`: stores the good rows, reports the bad.
pub async fn assets_import(
    c: &Client,
    format: OutputFormat,
    file: &std::path::Path,
    check: bool,
) -> Result<()> {
    let path = "/api/v1/assets/import";
    let size = std::fs::metadata(file)
        .with_context(|| format!("reading {}", file.display()))?
        .len();
    if let Some(limit) = crate::api::body_limit::body_limit(path)
        && size > limit.bytes as u64
    {
        bail!("{} is {size} bytes: {}", file.display(), limit.message());
    }
    let body = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let path = if check {
        &format!("{path}?check=true")
    } else {
        path
    };
    let report: ImportReport = c.post_bytes(path, "text/csv", body).await?;
    match format {
        OutputFormat::Table => {
            let (added, refused) = (report.created.len(), report.failed.len());
            let (verb, check) = if report.stored {
                ("added", "")
            } else {
                ("would be added", " (a check: nothing was stored)")
            };
            outln!(
                "{added} {} {verb}, {refused} {} refused{check}",
                if added == 1 { "asset" } else { "assets" },
                if refused == 1 { "row" } else { "rows" },
            );
            for e in &report.failed {
                outln!("  line {}: {}", e.line, e.error);
            }
        }
        _ => print(format, &report, || {
            let mut t = Table::new(vec!["LINE", "ERROR"]);
            for e in &report.failed {
                t.row(vec![e.line.to_string(), e.error.clone()]);
            }
            t
        })?,
    }
    let (refused, rows) = (
        report.failed.len(),
        report.failed.len() + report.created.len(),
    );
    if refused == 0 {
        Ok(())
    } else if report.stored {
        bail!(
            "{refused} of {rows} rows were refused and nothing of them was stored; fix them and import those rows again"
        )
    } else {
        bail!("{refused} of {rows} rows would be refused; fix them, then import the file")
    }
}

/// `deskhand assets label|unlabel ASSET LABEL`.
pub async fn assets_label(c: &Client, asset: &str, label: &str, on: bool) -> Result<()> {
    let path = format!("/api/v1/assets/{}/labels", path_segment(asset));
    if on {
        c.post::<_, serde_json::Value>(
            &path,
            &LabelAsset {
                label: label.to_string(),
            },
        )
        .await?;
        outln!("labelled {asset} {label}");
    } else {
        c.delete(&format!("{path}/{}", path_segment(label))).await?;
        outln!("took {label} off {asset}");
    }
    Ok(())
}

/// `deskhand labels create NAME [--where FILTER]`.
pub async fn labels_create(c: &Client, name: String, filter: Option<String>) -> Result<()> {
    let kind = if filter.is_some() {
        "dynamic"
    } else {
        "static"
    };
    c.post::<_, serde_json::Value>(
        "/api/v1/labels",
        &CreateLabel {
            name: name.clone(),
            filter,
        },
    )
    .await?;
    outln!("created {kind} label {name}");
    Ok(())
}

/// `deskhand labels list`.
pub async fn labels_list(c: &Client, format: OutputFormat) -> Result<()> {
    let rows: Vec<LabelView> = c.get("/api/v1/labels").await?;
    print(format, &rows, || {
        let mut t = Table::new(vec!["NAME", "KIND", "ASSETS", "FILTER", "CREATED BY"]);
        for l in &rows {
            t.row(vec![
                l.name.clone(),
                l.kind.clone(),
                l.assets.to_string(),
                opt(&l.filter),
                l.created_by.clone(),
            ]);
        }
        t
    })
}

/// `deskhand labels delete NAME`.
pub async fn labels_delete(c: &Client, name: &str) -> Result<()> {
    c.delete(&format!("/api/v1/labels/{}", path_segment(name)))
        .await?;
    outln!("deleted label {name}");
    Ok(())
}

/// `deskhand software list [--name]`.
pub async fn software_list(c: &Client, format: OutputFormat, query: &SoftwareQuery) -> Result<()> {
    let rows: Vec<SoftwareCountView> =
        list_page(c, "/api/v1/software", query, query.offset, "packages").await?;
    print(format, &rows, || {
        let mut t = Table::new(vec!["NAME", "VERSION", "ARCH", "SOURCE", "ASSETS"]);
        for r in &rows {
            t.row(vec![
                r.name.clone(),
                r.version.clone(),
                r.arch.clone(),
                r.source.clone(),
                r.assets.to_string(),
            ]);
        }
        t
    })
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
    fn matched_software_is_a_last_column_of_versions_or_names() {
        let asset = |matched: &[(&str, &str)]| -> AssetView {
            let matched: Vec<_> = matched
                .iter()
                .map(|(n, v)| serde_json::json!({ "name": n, "version": v }))
                .collect();
            serde_json::from_value(serde_json::json!({
                "id": "a", "kind": "computer", "location": "", "hostname": "pc",
                "os": "", "model": "", "serial": "", "user": "", "ipv4": "",
                "memory_bytes": 0, "software_count": 0, "online": false,
                "last_seen": null, "last_inventory_at": "",
                "matched_software": matched,
            }))
            .expect("view")
        };
        assert_eq!(
            matched_column(&[asset(&[])], 5),
            None,
            "not filtered by software"
        );
        let one_name = [
            asset(&[("openssl", "3.0.11")]),
            asset(&[("OpenSSL", "3.0.9")]),
        ];
        assert_eq!(
            matched_column(&one_name, 5),
            Some(("VERSION", vec!["3.0.11".into(), "3.0.9".into()]))
        );
        let names = [
            asset(&[("libssl3", "3.0.11"), ("openssl", "3.0.11")]),
            asset(&[]),
        ];
        assert_eq!(
            matched_column(&names, 5),
            Some((
                "MATCHED",
                vec!["libssl3 3.0.11, openssl 3.0.11".into(), String::new()]
            ))
        );
        let many: Vec<(String, String)> = (0..7).map(|i| (format!("p{i}"), "1".into())).collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let (_, cells) = matched_column(&[asset(&many)], 2).expect("column");
        assert_eq!(cells, ["p0 1, p1 1, +5 more"]);
        let (_, cells) = matched_column(&[asset(&many)], usize::MAX).expect("column");
        assert_eq!(cells[0].matches(", ").count(), 6);
    }

    #[test]
    fn tables_align_and_csv_quotes() {
        let mut t = Table::new(vec!["A", "LONG HEADER"]);
        t.row(vec!["wide cell".into(), "x, \"y\"".into()]);
        let text = t.to_text();
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines[0], "A          LONG HEADER");
        assert_eq!(lines[1], "wide cell  x, \"y\"");
        assert_eq!(t.to_csv(), "A,LONG HEADER\nwide cell,\"x, \"\"y\"\"\"\n");
    }

    #[test]
    fn path_segments_are_escaped() {
        assert_eq!(path_segment("pc 1/../x"), "pc%201%2F..%2Fx");
    }
}
