//! A small Markdown renderer for knowledge-base articles, safe by
//! construction: the source is parsed into blocks (headings, paragraphs,
//! lists, code, `>` quotes) and inline spans (code, strong, `*emphasis*`, http(s) links)
//! and every piece of text goes into maud, which escapes it. Raw HTML in
//! the source is shown as text, never passed through; a link to anything
//! but `http://` or `https://` stays text.

use maud::{Markup, html};

/// One block of the source.
#[derive(Debug, PartialEq, Eq)]
enum Block {
    /// `#` to `######`, and the text.
    Heading(usize, String),
    /// Lines joined by spaces.
    Paragraph(String),
    /// `- a` / `* a` items, or `1. a` when ordered.
    List { ordered: bool, items: Vec<String> },
    /// Fenced or indented code, as written.
    Code(String),
    /// `> ` lines, each kept a line (someone's words, quoted).
    Quote(Vec<String>),
}

/// One inline span.
#[derive(Debug, PartialEq, Eq)]
enum Span {
    Text(String),
    Code(String),
    Strong(String),
    Emphasis(String),
    Link { text: String, url: String },
}

/// A quoted line's text: `> text`, or `>` alone for an empty line.
fn quoted(line: &str) -> Option<&str> {
    let rest = line.trim_start().strip_prefix('>')?;
    Some(rest.strip_prefix(' ').unwrap_or(rest))
}

fn list_item(line: &str) -> Option<(bool, &str)> {
    let t = line.trim_start();
    if let Some(rest) = t.strip_prefix("- ").or_else(|| t.strip_prefix("* ")) {
        return Some((false, rest));
    }
    let digits = t.chars().take_while(char::is_ascii_digit).count();
    if digits > 0 && digits < 10 {
        return t[digits..].strip_prefix(". ").map(|rest| (true, rest));
    }
    None
}

fn heading(line: &str) -> Option<(usize, &str)> {
    let level = line.chars().take_while(|c| *c == '#').count();
    if (1..=6).contains(&level) {
        line[level..].strip_prefix(' ').map(|t| (level, t.trim()))
    } else {
        None
    }
}

fn blocks(source: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut para: Vec<&str> = Vec::new();
    let flush = |para: &mut Vec<&str>, out: &mut Vec<Block>| {
        if !para.is_empty() {
            out.push(Block::Paragraph(para.join(" ")));
            para.clear();
        }
    };
    let lines: Vec<&str> = source.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.trim_start().starts_with("```") {
            flush(&mut para, &mut out);
            let mut code = Vec::new();
            i += 1;
            while i < lines.len() && !lines[i].trim_start().starts_with("```") {
                code.push(lines[i]);
                i += 1;
            }
            out.push(Block::Code(code.join("\n")));
            i += 1;
        } else if para.is_empty() && (line.starts_with("    ") || line.starts_with('\t')) {
            let mut code = Vec::new();
            while i < lines.len()
                && (lines[i].starts_with("    ")
                    || lines[i].starts_with('\t')
                    || lines[i].trim().is_empty())
            {
                let l = lines[i];
                code.push(
                    l.strip_prefix("    ")
                        .or(l.strip_prefix('\t'))
                        .unwrap_or(""),
                );
                i += 1;
            }
            while code.last().is_some_and(|l| l.is_empty()) {
                code.pop();
            }
            out.push(Block::Code(code.join("\n")));
        } else if line.trim().is_empty() {
            flush(&mut para, &mut out);
            i += 1;
        } else if quoted(line).is_some() {
            flush(&mut para, &mut out);
            let mut quote = Vec::new();
            while let Some(text) = lines.get(i).and_then(|l| quoted(l)) {
                quote.push(text.to_string());
                i += 1;
            }
            out.push(Block::Quote(quote));
        } else if let Some((level, text)) = heading(line) {
            flush(&mut para, &mut out);
            out.push(Block::Heading(level, text.to_string()));
            i += 1;
        } else if let Some((ordered, _)) = list_item(line) {
            flush(&mut para, &mut out);
            let mut items = Vec::new();
            while let Some((o, text)) = lines.get(i).and_then(|l| list_item(l)) {
                if o != ordered {
                    break;
                }
                items.push(text.trim().to_string());
                i += 1;
            }
            out.push(Block::List { ordered, items });
        } else {
            para.push(line.trim());
            i += 1;
        }
    }
    flush(&mut para, &mut out);
    out
}

/// The text up to `close` after `from`, and the index past it.
fn until<'a>(text: &'a str, from: usize, close: &str) -> Option<(&'a str, usize)> {
    let rest = text.get(from..)?;
    let end = rest.find(close)?;
    (end > 0).then(|| (&rest[..end], from + end + close.len()))
}

fn spans(text: &str) -> Vec<Span> {
    let mut out = Vec::new();
    let mut plain = String::new();
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        let found = if rest.starts_with('`') {
            until(text, i + 1, "`").map(|(c, end)| (Span::Code(c.into()), end))
        } else if rest.starts_with("**") {
            until(text, i + 2, "**").map(|(c, end)| (Span::Strong(c.into()), end))
        } else if rest.starts_with('*') {
            until(text, i + 1, "*").map(|(c, end)| (Span::Emphasis(c.into()), end))
        } else if rest.starts_with('[') {
            until(text, i + 1, "](").and_then(|(label, mid)| {
                until(text, mid, ")").and_then(|(url, end)| {
                    (url.starts_with("https://") || url.starts_with("http://")).then(|| {
                        (
                            Span::Link {
                                text: label.into(),
                                url: url.into(),
                            },
                            end,
                        )
                    })
                })
            })
        } else {
            None
        };
        match found {
            Some((span, end)) => {
                if !plain.is_empty() {
                    out.push(Span::Text(std::mem::take(&mut plain)));
                }
                out.push(span);
                i = end;
            }
            None => {
                let c = rest.chars().next().unwrap_or(' ');
                plain.push(c);
                i += c.len_utf8();
            }
        }
    }
    if !plain.is_empty() {
        out.push(Span::Text(plain));
    }
    out
}

fn inline(text: &str) -> Markup {
    html! {
        @for s in spans(text) {
            @match s {
                Span::Text(t) => (t),
                Span::Code(t) => code { (t) },
                Span::Strong(t) => strong { (t) },
                Span::Emphasis(t) => em { (t) },
                Span::Link { text, url } => a href=(url) rel="noopener noreferrer nofollow" { (text) },
            }
        }
    }
}

/// Markdown as HTML, every piece of text escaped. Headings start at
/// `h2` (the page has its `h1`).
pub(in crate::api) fn render(source: &str) -> Markup {
    html! {
        @for b in blocks(source) {
            @match b {
                Block::Heading(level, t) => @match level {
                    1 => h2 { (inline(&t)) },
                    2 => h3 { (inline(&t)) },
                    3 => h4 { (inline(&t)) },
                    4 => h5 { (inline(&t)) },
                    _ => h6 { (inline(&t)) },
                },
                Block::Paragraph(t) => p { (inline(&t)) },
                Block::List { ordered: true, items } => ol { @for i in &items { li { (inline(i)) } } },
                Block::List { ordered: false, items } => ul { @for i in &items { li { (inline(i)) } } },
                Block::Code(t) => pre { code { (t) } },
                Block::Quote(lines) => blockquote {
                    @for (n, l) in lines.iter().enumerate() {
                        @if n > 0 { br; }
                        (inline(l))
                    }
                },
            }
        }
    }
}

#[cfg(test)]
mod tests;
