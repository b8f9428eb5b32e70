//! The renderer's safety and its blocks and spans.

use super::*;

#[test]
fn raw_html_and_script_come_out_escaped() {
    let html = render(
        "<script>alert(1)</script>\n\n**<b>x</b>** `<img src=x onerror=y>`\n\n- <iframe>\n\n    <script>z</script>\n",
    )
    .into_string();
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("<iframe"), "{html}");
    assert!(!html.contains("<img"), "{html}");
    assert!(!html.contains("<b>"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(
        html.contains("<strong>&lt;b&gt;x&lt;/b&gt;</strong>"),
        "{html}"
    );
    assert!(
        html.contains("<pre><code>&lt;script&gt;z&lt;/script&gt;</code></pre>"),
        "{html}"
    );
}

#[test]
fn only_http_links_become_links_and_their_urls_are_escaped() {
    let html = render("[a](javascript:alert(1)) [b](https://example.com/?q=\"x\")").into_string();
    assert!(!html.contains("href=\"javascript"), "{html}");
    assert!(html.contains("[a](javascript:alert(1))"), "{html}");
    assert!(
        html.contains(r#"<a href="https://example.com/?q=&quot;x&quot;" rel="noopener noreferrer nofollow">b</a>"#),
        "{html}"
    );
}

#[test]
fn blocks_are_headings_lists_code_and_paragraphs() {
    assert_eq!(
        blocks("# Fix\n\nRestart it\nnow.\n\n1. one\n2. two\n- a\n\n```\nx < y\n```\n#nothing"),
        [
            Block::Heading(1, "Fix".into()),
            Block::Paragraph("Restart it now.".into()),
            Block::List {
                ordered: true,
                items: vec!["one".into(), "two".into()]
            },
            Block::List {
                ordered: false,
                items: vec!["a".into()]
            },
            Block::Code("x < y".into()),
            Block::Paragraph("#nothing".into()),
        ]
    );
    let html = render("Use `lpstat -t` and *then* **restart**.").into_string();
    assert_eq!(
        html,
        "<p>Use <code>lpstat -t</code> and <em>then</em> <strong>restart</strong>.</p>"
    );
}

#[test]
fn quoted_lines_are_one_quote_each_line_kept_and_escaped() {
    let b = blocks("Before\n> Yes, and\n>\n> <b>green</b>\nAfter");
    assert_eq!(
        b,
        vec![
            Block::Paragraph("Before".into()),
            Block::Quote(vec![
                "Yes, and".into(),
                String::new(),
                "<b>green</b>".into()
            ]),
            Block::Paragraph("After".into()),
        ]
    );
    let html = render("> ## not a heading\n> <script>x</script>").into_string();
    assert!(html.contains("<blockquote>## not a heading<br>"), "{html}");
    assert!(
        html.contains("&lt;script&gt;x&lt;/script&gt;</blockquote>"),
        "{html}"
    );
    assert!(!html.contains("<h3>"), "{html}");
}
