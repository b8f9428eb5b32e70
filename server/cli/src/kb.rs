//! `deskhand kb ...`: the knowledge base's articles, their search, and
//! the articles suggested for a ticket.

use anyhow::{Context, Result, bail};

use crate::client::{Client, path_segment};
use crate::render::{OutputFormat, Table, emit, print};
use deskhand_api_types::kb::{
    ArticleCreated, ArticleDraft, ArticleSummary, ArticleView, CreateArticle, DraftQuery,
    ListQuery, SearchQuery, SuggestedArticle, UpdateArticle,
};
use deskhand_api_types::tickets::parse_number;

/// `deskhand kb`.
#[derive(Debug, clap::Subcommand)]
pub enum KbCmd {
    /// Write an article, or one drafted from a resolved ticket.
    ///
    /// Example: `deskhand kb add --title "Printer shows offline" --body-file fix.md --tag printing --applies-to cups --visibility requesters`;
    /// `deskhand kb add --from-ticket 42` (the ticket's title, description,
    /// public comments and resolution note; flags given replace the
    /// draft's title, body and visibility and add tags and names).
    Add {
        /// One line (the ticket's title with --from-ticket).
        #[arg(long, required_unless_present = "from_ticket")]
        title: Option<String>,
        /// The body, Markdown.
        #[arg(long, conflicts_with = "body_file")]
        body: Option<String>,
        /// A file holding the body, Markdown.
        #[arg(long, value_name = "FILE")]
        body_file: Option<std::path::PathBuf>,
        /// A tag (repeatable).
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
        /// Software (e.g. cups) or a hardware or model word it applies to
        /// (repeatable); tickets about that software are suggested it.
        #[arg(long = "applies-to", value_name = "NAME")]
        applies_to: Vec<String>,
        /// technicians (operators only; the default) or requesters
        /// (requesters too).
        #[arg(long)]
        visibility: Option<String>,
        /// Draft the article from this resolved ticket, which then names
        /// it in its timeline.
        #[arg(long, value_name = "TICKET")]
        from_ticket: Option<String>,
        /// With --from-ticket: quote the ticket's internal notes too.
        #[arg(long, requires = "from_ticket")]
        include_internal: bool,
    },
    /// Change an article: the fields given.
    Edit {
        /// Article number.
        id: String,
        /// A new title.
        #[arg(long)]
        title: Option<String>,
        /// A new body, Markdown.
        #[arg(long, conflicts_with = "body_file")]
        body: Option<String>,
        /// A file holding the new body.
        #[arg(long, value_name = "FILE")]
        body_file: Option<std::path::PathBuf>,
        /// New tags, replacing the old (repeatable).
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
        /// Remove every tag.
        #[arg(long, conflicts_with = "tags")]
        no_tags: bool,
        /// New names it applies to, replacing the old (repeatable).
        #[arg(long = "applies-to", value_name = "NAME")]
        applies_to: Vec<String>,
        /// technicians or requesters.
        #[arg(long)]
        visibility: Option<String>,
    },
    /// List articles, last changed first.
    List,
    /// An article with its body.
    Show {
        /// Article number.
        id: String,
    },
    /// Search: every word must match; title matches come first.
    Search {
        /// Words to search for.
        #[arg(required = true, num_args = 1..)]
        words: Vec<String>,
        /// At most this many results.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// The articles suggested for a ticket: its software, its words, its
    /// machines' software.
    Suggest {
        /// Ticket number, e.g. 42 or #42.
        ticket: String,
    },
    /// Remove an article.
    Rm {
        /// Article number.
        id: String,
    },
}

/// The article the server drafts from ticket `ticket` (resolved).
pub(crate) async fn ticket_draft(
    c: &Client,
    ticket: &str,
    include_internal: bool,
) -> Result<ArticleDraft> {
    let Ok(n) = parse_number(ticket) else {
        bail!(
            "`{ticket}` is not a ticket number; give one as `deskhand tickets list` shows it, e.g. 42"
        );
    };
    c.get_query(
        &format!("/api/v1/tickets/{n}/article-draft"),
        &DraftQuery {
            internal: include_internal.then_some(true),
        },
    )
    .await
}

fn article_path(id: &str) -> String {
    format!("/api/v1/kb/{}", path_segment(id.trim()))
}

fn body_text(body: Option<String>, file: Option<std::path::PathBuf>) -> Result<Option<String>> {
    match (body, file) {
        (Some(b), _) => Ok(Some(b)),
        (None, Some(path)) => std::fs::read_to_string(&path)
            .with_context(|| {
                format!(
                    "reading the body from {}; give a UTF-8 text file, or --body",
                    path.display()
                )
            })
            .map(Some),
        (None, None) => Ok(None),
    }
}

fn summary_table(rows: &[ArticleSummary]) -> Table {
    let mut t = Table::new(vec![
        "ID",
        "TITLE",
        "TAGS",
        "APPLIES TO",
        "VISIBILITY",
        "UPDATED",
    ]);
    for a in rows {
        t.row(vec![
            a.id.to_string(),
            a.title.clone(),
            a.tags.join(","),
            a.applies_to.join(","),
            a.visibility.clone(),
            a.updated_at.clone(),
        ]);
    }
    t
}

/// Runs one `kb` command.
pub async fn run(c: &Client, f: OutputFormat, cmd: KbCmd) -> Result<()> {
    match cmd {
        KbCmd::Add {
            title,
            body,
            body_file,
            tags,
            applies_to,
            visibility,
            from_ticket,
            include_internal,
        } => {
            let body = body_text(body, body_file)?;
            let req = match from_ticket {
                Some(ticket) => {
                    let mut d = ticket_draft(c, &ticket, include_internal).await?;
                    d.title = title.unwrap_or(d.title);
                    d.body = body.unwrap_or(d.body);
                    d.tags.extend(tags);
                    d.applies_to.extend(applies_to);
                    d.visibility = visibility.or(d.visibility);
                    d
                }
                None => CreateArticle {
                    title: title.unwrap_or_default(),
                    body: body.unwrap_or_default(),
                    tags,
                    applies_to,
                    visibility: Some(visibility.unwrap_or_else(|| "technicians".into())),
                    source_ticket: None,
                },
            };
            let from = req.source_ticket;
            let a: ArticleCreated = c.post("/api/v1/kb", &req).await?;
            if f == OutputFormat::Table {
                match from {
                    Some(n) => outln!("added article {} from ticket {n}: {}", a.id, a.title),
                    None => outln!("added article {}: {}", a.id, a.title),
                }
                return Ok(());
            }
            print(f, &a, || {
                let mut t = Table::new(vec!["ID", "TITLE"]);
                t.row(vec![a.id.to_string(), a.title.clone()]);
                t
            })
        }
        KbCmd::Edit {
            id,
            title,
            body,
            body_file,
            tags,
            no_tags,
            applies_to,
            visibility,
        } => {
            let req = UpdateArticle {
                title,
                body: body_text(body, body_file)?,
                tags: (no_tags || !tags.is_empty()).then_some(tags),
                applies_to: (!applies_to.is_empty()).then_some(applies_to),
                visibility,
            };
            let a: ArticleView = c.put(&article_path(&id), &req).await?;
            if f == OutputFormat::Table {
                outln!("article {} updated at {}: {}", a.id, a.updated_at, a.title);
                return Ok(());
            }
            print(f, &a, || show_table(&a))
        }
        KbCmd::List => {
            let rows: Vec<ArticleSummary> = c
                .get_query("/api/v1/kb", &ListQuery { limit: Some(1000) })
                .await?;
            print(f, &rows, || summary_table(&rows))
        }
        KbCmd::Show { id } => {
            let a: ArticleView = c.get(&article_path(&id)).await?;
            if f != OutputFormat::Table {
                return print(f, &a, || show_table(&a));
            }
            emit(&show_table(&a).to_text());
            outln!();
            emit(&a.body);
            if !a.body.ends_with('\n') {
                outln!();
            }
            Ok(())
        }
        KbCmd::Search { words, limit } => {
            let q = SearchQuery {
                q: words.join(" "),
                limit: Some(limit),
            };
            let rows: Vec<ArticleSummary> = c.get_query("/api/v1/kb/search", &q).await?;
            print(f, &rows, || summary_table(&rows))
        }
        KbCmd::Suggest { ticket } => {
            let Ok(n) = parse_number(&ticket) else {
                bail!(
                    "`{ticket}` is not a ticket number; give one as `deskhand tickets list` shows it, e.g. 42"
                );
            };
            let rows: Vec<SuggestedArticle> = c.get(&format!("/api/v1/tickets/{n}/kb")).await?;
            print(f, &rows, || {
                let mut t = Table::new(vec!["ID", "TITLE", "WHY"]);
                for s in &rows {
                    t.row(vec![
                        s.article.id.to_string(),
                        s.article.title.clone(),
                        s.why.join("; "),
                    ]);
                }
                t
            })
        }
        KbCmd::Rm { id } => {
            c.delete(&article_path(&id)).await?;
            if f == OutputFormat::Table {
                outln!("removed article {}", id.trim());
            }
            Ok(())
        }
    }
}

fn show_table(a: &ArticleView) -> Table {
    let mut t = Table::new(vec!["FIELD", "VALUE"]);
    for (k, v) in [
        ("id", a.id.to_string()),
        ("title", a.title.clone()),
        ("tags", a.tags.join(", ")),
        ("applies to", a.applies_to.join(", ")),
        ("visibility", a.visibility.clone()),
        ("author", a.author.clone()),
        ("created", a.created_at.clone()),
        ("updated", a.updated_at.clone()),
        (
            "from ticket",
            a.source_ticket.map(|n| n.to_string()).unwrap_or_default(),
        ),
    ] {
        t.row(vec![k.into(), v]);
    }
    t
}
