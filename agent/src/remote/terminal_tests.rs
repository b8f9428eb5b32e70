//! The terminal on a real pseudo-terminal, and its pure choices.

use deskhand_shared::remote::{RemoteKind, RemoteReply};

use super::super::files::tests::{open_remote, start};
use super::*;

#[test]
fn accounts_shells_and_logged_in_users() {
    let passwd = "root:x:0:0:root:/root:/bin/bash\nsvc:x:998:998::/var/lib/svc:/usr/sbin/nologin\n";
    let root = passwd_account(passwd, 0).expect("root");
    assert_eq!((root.name.as_str(), root.home.as_str()), ("root", "/root"));
    assert_eq!(passwd_account(passwd, 5), None);
    let all = |_: &Path| true;
    assert_eq!(pick_shell("/bin/zsh", all), PathBuf::from("/bin/zsh"));
    assert_eq!(
        pick_shell("/usr/sbin/nologin", all),
        PathBuf::from("/bin/bash")
    );
    let no_bash = |p: &Path| p != Path::new("/bin/bash") && p != Path::new("/bin/zsh");
    assert_eq!(pick_shell("/bin/zsh", no_bash), PathBuf::from("/bin/sh"));
    let who = "root     tty1  2026-12-07 09:00\nbob      pts/0  2026-12-07 09:10 (10.0.0.2)\nalice    seat0  2026-12-07 08:00 (login screen)\n";
    assert_eq!(logged_in_user(who).as_deref(), Some("alice"));
    assert_eq!(logged_in_user("bob pts/1 x\n").as_deref(), Some("bob"));
    assert_eq!(logged_in_user("root tty1 x\n"), None);
}

#[tokio::test]
async fn a_shell_on_a_real_terminal_resizes_and_exits() {
    let mut op = start(
        &open_remote(),
        RemoteKind::Terminal {
            cols: 80,
            rows: 24,
            as_user: false,
        },
    );
    assert!(matches!(op.reply().await, RemoteReply::Accepted { .. }));
    op.send(RemoteFrame::Resize {
        cols: 100,
        rows: 40,
    })
    .await;
    op.send(RemoteFrame::Data(b"stty size; tty; exit\n".to_vec()))
        .await;
    let mut out = Vec::new();
    let mut exit = None;
    for _ in 0..1000 {
        match op.frame().await {
            Some(RemoteFrame::Data(b)) => out.extend(b),
            Some(f @ RemoteFrame::Exit { .. }) => {
                exit = Some(f);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("40 100"), "{text}");
    assert!(text.contains("/dev/pts/"), "{text}");
    assert_eq!(
        exit,
        Some(RemoteFrame::Exit {
            code: Some(0),
            signal: None
        })
    );
    op.hang_up().await;
}

#[tokio::test]
async fn a_session_that_goes_away_ends_the_shell() {
    let mut op = start(
        &open_remote(),
        RemoteKind::Terminal {
            cols: 80,
            rows: 24,
            as_user: false,
        },
    );
    assert!(matches!(op.reply().await, RemoteReply::Accepted { .. }));
    op.send(RemoteFrame::Data(
        b"echo $$ > /dev/null; sleep 600\n".to_vec(),
    ))
    .await;
    // Hanging up reaps the shell within the grace period.
    tokio::time::timeout(Duration::from_secs(8), op.hang_up())
        .await
        .expect("the shell is stopped and reaped");
}
