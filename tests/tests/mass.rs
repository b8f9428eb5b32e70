//! Mass incidents end to end: a real server with a `[mail]` section
//! mailing a real SMTP receiver ([`SmtpSink`]), driven through the CLI.
//!
//! Three people report the mail outage; two tickets are merged into the
//! first: both merged requesters are mailed that their request continues
//! there, and a public comment on the survivor reaches all three. Two
//! more tickets are linked as its children; a dry run of a bulk resolve
//! by parent changes nothing, the bulk resolve reaches every child's
//! requester. Merging into itself, twice, a deeper child and bad filters
//! are refused, saying why.

use std::time::Duration;

use deskhand_tests::smtp::{Received, SmtpSink};
use deskhand_tests::{Server, expect_failure};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);
const FROM: &str = "helpdesk@example.org";

fn create(server: &Server, requester: &str, title: &str) -> i64 {
    let v = server.json(&[
        "tickets",
        "create",
        "--title",
        title,
        "--requester",
        requester,
        "--category",
        "email",
    ]);
    v["number"].as_i64().expect("a number")
}

/// The mail to `to` about ticket `n` whose body holds `text`.
fn wait_mail(sink: &SmtpSink, to: &str, n: i64, text: &str) -> Received {
    sink.wait_for(WAIT, &format!("the mail to {to} saying {text:?}"), |m| {
        m.to.iter().any(|t| t == to)
            && m.header("Subject")
                .is_some_and(|s| s.contains(&format!("[#{n}]")))
            && m.body().contains(text)
    })
}

/// The outcomes of a mass command's JSON: (number, outcome) each.
fn outcomes(v: &Value) -> Vec<(i64, String)> {
    v["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            (
                r["number"].as_i64().expect("number"),
                r["outcome"].as_str().expect("outcome").to_string(),
            )
        })
        .collect()
}

fn fails(server: &Server, args: &[&str], says: &str) {
    let err = expect_failure(&server.cli(args), &format!("{args:?}")).expect("refused");
    assert!(err.contains(says), "{args:?} said: {err}");
}

#[test]
fn an_outage_merged_linked_and_resolved_in_bulk_tells_every_requester() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sink = SmtpSink::start();
    let cfg = sink.server_config(dir.path(), FROM);
    let cfg = cfg.to_string_lossy().to_string();
    let server = Server::start_env(
        &dir.path().join("server"),
        &[("DESKHAND_CONFIG", cfg.as_str())],
    )
    .expect("server");

    let a = create(&server, "ann@example.com", "Mail is down");
    let b = create(&server, "bob@example.com", "cannot send mail");
    let c = create(&server, "carl@example.com", "Outlook offline");
    let (sa, sb, sc) = (a.to_string(), b.to_string(), c.to_string());

    // Merged: each duplicate closed, its requester told where it goes on.
    let merged = server.json(&[
        "tickets",
        "merge",
        &sb,
        &sc,
        "--into",
        &sa,
        "--note",
        "same outage",
    ]);
    assert_eq!(
        outcomes(&merged),
        vec![(b, "changed".into()), (c, "changed".into())]
    );
    for (to, n) in [("bob@example.com", b), ("carl@example.com", c)] {
        let m = wait_mail(&sink, to, n, &format!("Merged into #{a}: same outage"));
        assert!(
            m.body().contains("continues as that ticket"),
            "{}",
            m.body()
        );
    }
    let shown_b = server.json(&["tickets", "show", &sb]);
    assert_eq!(shown_b["ticket"]["status"], "closed");
    assert_eq!(shown_b["relations"]["merged_into"], a);
    let text = server.ok_as(&server.admin_token, &["tickets", "show", &sb]);
    assert!(text.contains(&format!("merged into #{a}")), "{text}");
    let shown_a = server.json(&["tickets", "show", &sa]);
    let followers: Vec<&str> = shown_a["relations"]["followers"]
        .as_array()
        .expect("followers")
        .iter()
        .map(|f| f["requester"].as_str().expect("requester"))
        .collect();
    assert_eq!(followers, ["bob@example.com", "carl@example.com"]);
    let text = server.ok_as(&server.admin_token, &["tickets", "show", &sa]);
    assert!(
        text.contains("followers:") && text.contains("merged tickets:"),
        "{text}"
    );
    fails(
        &server,
        &["tickets", "merge", &sa, "--into", &sa],
        "cannot be merged into itself",
    );
    fails(
        &server,
        &["tickets", "merge", &sb, "--into", &sa],
        &format!("already merged into #{a}"),
    );

    // A public comment on the survivor reaches its requester and followers.
    server.ok_as(
        &server.admin_token,
        &[
            "tickets",
            "comment",
            &sa,
            "We are restoring the mail server",
        ],
    );
    for to in ["ann@example.com", "bob@example.com", "carl@example.com"] {
        wait_mail(&sink, to, a, "We are restoring the mail server");
    }

    // Children, one level deep.
    let d = create(&server, "dan@example.com", "no mail on phone");
    let e = create(&server, "eve@example.com", "mail bounces");
    let (sd, se) = (d.to_string(), e.to_string());
    let linked = server.json(&["tickets", "link-child", &sa, &sd, &se]);
    assert_eq!(
        outcomes(&linked),
        vec![(d, "changed".into()), (e, "changed".into())]
    );
    fails(
        &server,
        &["tickets", "link-child", &sd, &sa],
        "one level deep",
    );
    let listed: Vec<i64> = server
        .json(&["tickets", "list", "--parent", &sa])
        .as_array()
        .expect("list")
        .iter()
        .map(|t| t["number"].as_i64().expect("number"))
        .collect();
    assert_eq!(listed, [e, d]);
    let text = server.ok_as(&server.admin_token, &["tickets", "show", &sd]);
    assert!(text.contains(&format!("parent: #{a}")), "{text}");

    // A dry run lists what would change and changes nothing.
    let filter = format!("parent={a}");
    let dry = server.json(&[
        "tickets",
        "bulk",
        "resolve",
        "--where",
        &filter,
        "--note",
        "mail restored",
        "--dry-run",
    ]);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(
        outcomes(&dry),
        vec![(d, "would change".into()), (e, "would change".into())]
    );
    for n in [&sd, &se] {
        assert_eq!(
            server.json(&["tickets", "show", n])["ticket"]["status"],
            "new"
        );
    }

    // The bulk resolve reaches every child's requester.
    let done = server.json(&[
        "tickets",
        "bulk",
        "resolve",
        "--where",
        &filter,
        "--note",
        "mail restored",
    ]);
    assert_eq!(
        outcomes(&done),
        vec![(d, "changed".into()), (e, "changed".into())]
    );
    wait_mail(&sink, "dan@example.com", d, "mail restored");
    wait_mail(&sink, "eve@example.com", e, "mail restored");
    // Again: each refuses (already resolved), reported, and nothing changed.
    fails(
        &server,
        &[
            "tickets",
            "bulk",
            "resolve",
            "--where",
            &format!("{filter},status=resolved"),
            "--note",
            "again",
        ],
        "every ticket refused",
    );

    // Bad filters and actions are refused, naming what is accepted.
    fails(
        &server,
        &[
            "tickets",
            "bulk",
            "comment",
            "--where",
            "colour=red",
            "--text",
            "x",
        ],
        "the keys are parent, status",
    );
    fails(
        &server,
        &[
            "tickets",
            "bulk",
            "assign",
            "--where",
            "status=opened",
            "--to",
            "bob",
        ],
        "use new, open, pending",
    );
    fails(
        &server,
        &[
            "tickets",
            "bulk",
            "resolve",
            "--where",
            "parent=56",
            "--note",
            " ",
        ],
        "needs a note",
    );

    // An internal bulk note by category mails nobody new.
    let before = sink.mails().len();
    let noted = server.json(&[
        "tickets",
        "bulk",
        "comment",
        "--where",
        "category=email,status=new|open",
        "--text",
        "tracking in the outage log",
        "--internal",
    ]);
    assert_eq!(outcomes(&noted), vec![(a, "changed".into())]);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(sink.mails().len(), before, "internal notes are not mailed");
    server.stop();
    sink.stop();
}
