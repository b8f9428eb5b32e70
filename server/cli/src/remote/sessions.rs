//! `deskhand sessions list|show|kill`: remote sessions, live and past,
//! replaying a terminal's recording on the operator's terminal, and
//! saving a recording (a terminal's asciicast, a desktop's FBS screen
//! recording) to a file.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use deskhand_api_types::remote::{RemoteSessionQuery, RemoteSessionView};
use deskhand_shared::diag::render::human_bytes;

use super::{asciicast, timestamp};
use crate::client::Client;
use crate::render::{OutputFormat, Table, opt, print};

/// `deskhand sessions`.
#[derive(Debug, Subcommand)]
pub enum SessionsCmd {
    /// List remote sessions, newest first.
    List {
        /// Only sessions open now.
        #[arg(long)]
        live: bool,
        /// Only this agent's: id, id prefix or host name.
        #[arg(long, value_name = "AGENT")]
        agent: Option<String>,
        /// Only this operator's.
        #[arg(long, value_name = "OPERATOR")]
        operator: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Show one session; with --play, replay its terminal recording;
    /// with --save, write its recording to a file.
    Show {
        /// The session's id.
        session: i64,
        /// Replay the recording on this terminal, with its timing (a
        /// terminal's only).
        #[arg(long, conflicts_with = "save")]
        play: bool,
        /// Replay this many times faster (pauses never last over 2 s; 0:
        /// no pauses at all).
        #[arg(long, default_value_t = 1.0, requires = "play")]
        speed: f64,
        /// Write the recording to FILE: a terminal's as asciicast v2, a
        /// desktop's as an FBS screen recording for a VNC player.
        #[arg(long, value_name = "FILE")]
        save: Option<PathBuf>,
    },
    /// End a live session: the operator's connection and the machine's
    /// side close.
    Kill {
        /// The session's id.
        session: i64,
    },
}

/// Runs a `deskhand sessions` command.
pub async fn run(c: &Client, format: OutputFormat, cmd: SessionsCmd) -> Result<()> {
    match cmd {
        SessionsCmd::List {
            live,
            agent,
            operator,
            limit,
        } => {
            let query = RemoteSessionQuery {
                live,
                agent,
                operator,
                limit: Some(limit),
            };
            let sessions: Vec<RemoteSessionView> =
                c.get_query("/api/v1/remote-sessions", &query).await?;
            print(format, &sessions, || session_table(&sessions))
        }
        SessionsCmd::Show {
            session,
            play,
            speed,
            save,
        } => {
            if let Some(file) = save {
                return save_recording(c, session, &file).await;
            }
            let s: RemoteSessionView = c.get(&format!("/api/v1/remote-sessions/{session}")).await?;
            if play {
                if let Some(why) = play_refusal(&s) {
                    bail!("{why}");
                }
                return play_recording(c, session, speed).await;
            }
            print(format, &s, || session_card(&s))
        }
        SessionsCmd::Kill { session } => {
            let _: serde_json::Value = c
                .post_empty(&format!("/api/v1/remote-sessions/{session}/kill"))
                .await?;
            outln!("Session {session} ended.");
            Ok(())
        }
    }
}

/// The STATE cell: live, or how it ended.
fn state(s: &RemoteSessionView) -> String {
    if s.live {
        "live".into()
    } else {
        s.end_reason.clone().unwrap_or_else(|| "ended".into())
    }
}

fn session_table(sessions: &[RemoteSessionView]) -> Table {
    let mut t = Table::new(vec![
        "ID", "STARTED", "HOST", "OPERATOR", "KIND", "DETAIL", "TICKET", "UP", "DOWN", "STATE",
    ]);
    for s in sessions {
        t.row(vec![
            s.id.to_string(),
            timestamp(s.started_at),
            s.hostname.clone(),
            s.operator.clone(),
            s.kind.clone(),
            if s.detail.is_empty() {
                "-".into()
            } else {
                s.detail.clone()
            },
            opt(&s.ticket.map(|t| t.to_string())),
            human_bytes(s.bytes_up.max(0).unsigned_abs()),
            human_bytes(s.bytes_down.max(0).unsigned_abs()),
            state(s),
        ]);
    }
    t
}

/// One session as a two-column card.
fn session_card(s: &RemoteSessionView) -> Table {
    let mut t = Table::new(vec!["FIELD", "VALUE"]);
    let rows = [
        ("id", s.id.to_string()),
        ("agent", format!("{} ({})", s.hostname, s.agent_id)),
        ("operator", s.operator.clone()),
        ("kind", s.kind.clone()),
        ("detail", s.detail.clone()),
        ("ticket", opt(&s.ticket.map(|t| t.to_string()))),
        ("started", timestamp(s.started_at)),
        ("ended", opt(&s.ended_at.map(timestamp))),
        ("state", state(s)),
        (
            "bytes",
            format!(
                "{} up, {} down",
                human_bytes(s.bytes_up.max(0).unsigned_abs()),
                human_bytes(s.bytes_down.max(0).unsigned_abs())
            ),
        ),
        ("recording", recording_cell(s)),
    ];
    for (k, v) in rows {
        t.row(vec![k.into(), v]);
    }
    t
}

/// Whether session `s` is a desktop's (its recording a screen's, FBS).
fn is_desktop(s: &RemoteSessionView) -> bool {
    s.kind == "desktop"
}

/// The card's "recording" row: whether one is kept and how to see it.
fn recording_cell(s: &RemoteSessionView) -> String {
    if !s.recorded {
        "no".into()
    } else if is_desktop(s) {
        format!(
            "yes, a screen recording (`deskhand sessions show {0} --save session-{0}.fbs`)",
            s.id
        )
    } else {
        format!("yes (`deskhand sessions show {} --play`)", s.id)
    }
}

/// Why `--play` cannot replay session `s` here, if it cannot.
fn play_refusal(s: &RemoteSessionView) -> Option<String> {
    is_desktop(s).then(|| {
        format!(
            "session {0} is a desktop session: its recording is a screen recording (FBS), \
             which a terminal cannot replay. Save it with `deskhand sessions show {0} --save \
             session-{0}.fbs` and open it in a VNC recording player (noVNC's or TightVNC's), \
             or download it from the session's page in the console.",
            s.id
        )
    })
}

/// The FBS file's first bytes (a desktop's recording).
const FBS_SIGNATURE: &[u8] = b"FBS 001.000\n";

/// What `--save` says it wrote: how much of which recording, where.
fn saved_message(session: i64, bytes: &[u8], file: &Path) -> String {
    let what = if bytes.starts_with(FBS_SIGNATURE) {
        "screen recording (FBS, for a VNC recording player)"
    } else {
        "terminal recording (asciicast v2, `--play` replays it)"
    };
    format!(
        "Wrote session {session}'s {what} to {}: {}.",
        file.display(),
        human_bytes(bytes.len() as u64)
    )
}

/// `sessions show S --save FILE`: fetches the recording, either kind,
/// and writes it to `file` as it is.
async fn save_recording(c: &Client, session: i64, file: &Path) -> Result<()> {
    let bytes = c
        .get_bytes(&format!("/api/v1/remote-sessions/{session}/recording"))
        .await?;
    std::fs::write(file, &bytes).with_context(|| {
        format!(
            "writing session {session}'s recording to {}",
            file.display()
        )
    })?;
    outln!("{}", saved_message(session, &bytes, file));
    Ok(())
}

/// `sessions show S --play`: fetches the recording and writes its output
/// to stdout on its schedule.
async fn play_recording(c: &Client, session: i64, speed: f64) -> Result<()> {
    let bytes = c
        .get_bytes(&format!("/api/v1/remote-sessions/{session}/recording"))
        .await?;
    let text = String::from_utf8(bytes)
        .context("the recording is not UTF-8 text, as asciicast must be")?;
    let cast = asciicast::parse(&text).with_context(|| format!("session {session}"))?;
    let mut stdout = std::io::stdout();
    for (wait, data) in asciicast::schedule(&cast, speed) {
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        if stdout
            .write_all(data.as_bytes())
            .and_then(|()| stdout.flush())
            .is_err()
        {
            // The reader went away (`| head`): nothing left to show.
            return Ok(());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(live: bool) -> RemoteSessionView {
        RemoteSessionView {
            id: 12,
            agent_id: "a1b2".into(),
            hostname: "PC-0042".into(),
            operator: "alice".into(),
            kind: "terminal".into(),
            detail: String::new(),
            ticket: Some(42),
            started_at: 0,
            ended_at: (!live).then_some(60),
            end_reason: (!live).then(|| "killed by bob".into()),
            bytes_up: 2048,
            bytes_down: 1 << 20,
            recorded: true,
            live,
        }
    }

    #[test]
    fn the_table_shows_state_bytes_and_ticket() {
        let text = session_table(&[view(true), view(false)]).to_text();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("ID  STARTED"), "{text}");
        assert!(
            lines[1].contains("PC-0042") && lines[1].ends_with("live"),
            "{text}"
        );
        assert!(
            lines[1].contains("2.0 KiB") && lines[1].contains("1.0 MiB"),
            "{text}"
        );
        assert!(lines[2].ends_with("killed by bob"), "{text}");
    }

    #[test]
    fn the_card_says_how_to_replay() {
        let text = session_card(&view(false)).to_text();
        assert!(text.contains("sessions show 12 --play"), "{text}");
        assert!(text.contains("1970-01-01 00:01:00"), "{text}");
        assert_eq!(play_refusal(&view(false)), None);
    }

    fn desktop() -> RemoteSessionView {
        RemoteSessionView {
            kind: "desktop".into(),
            detail: "control".into(),
            ..view(false)
        }
    }

    #[test]
    fn a_desktop_is_saved_not_played() {
        let text = session_card(&desktop()).to_text();
        assert!(
            text.contains("screen recording")
                && text.contains("sessions show 12 --save session-12.fbs"),
            "{text}"
        );
        assert!(!text.contains("--play"), "{text}");
        let why = play_refusal(&desktop()).expect("refused");
        assert!(why.contains("is a desktop session"), "{why}");
        assert!(why.contains("--save session-12.fbs"), "{why}");
        let none = RemoteSessionView {
            recorded: false,
            ..desktop()
        };
        assert_eq!(recording_cell(&none), "no");
    }

    #[test]
    fn saving_says_which_recording_and_how_much() {
        let mut fbs = FBS_SIGNATURE.to_vec();
        fbs.extend_from_slice(&[0; 2036]);
        let m = saved_message(12, &fbs, Path::new("/tmp/s.fbs"));
        assert_eq!(
            m,
            "Wrote session 12's screen recording (FBS, for a VNC recording player) \
             to /tmp/s.fbs: 2.0 KiB."
        );
        let m = saved_message(3, b"{\"version\": 2}\n", Path::new("s.cast"));
        assert!(
            m.starts_with("Wrote session 3's terminal recording (asciicast v2"),
            "{m}"
        );
        assert!(m.contains("to s.cast: "), "{m}");
    }
}
