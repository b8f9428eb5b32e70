//! A machine's terminal in the console: the page (xterm.js, vendored,
//! driven by `static/remote.js`) and its WebSocket, bridged to a session
//! whose operator side is this server (`crate::remote::local`), so the
//! same checks, pump, recording and audit apply as to `deskhand shell`.
//!
//! The WebSocket is opened with the console's session cookie, which a
//! browser also sends to a socket another site opens: the request must
//! carry this session's CSRF token and, when the browser names one, an
//! `Origin` that is this server. Checks that need the agent (role,
//! permission, consent) run after the upgrade, so their sentence reaches
//! the page as a message rather than a bare failed handshake.
//!
//! The socket's messages ([`to_frame`], [`to_socket`]): binary both ways
//! is the terminal's bytes; text is JSON with a `t` naming it: the page
//! sends `resize`; the server sends `open`, `exit`, `end` and `error`.
//! The screen's page (`remote_desktop`) uses the same socket checks and
//! [`bridge`], its binary messages RFB and no text from the page.

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use deskhand_api_types::remote::OpenRemote;
use deskhand_shared::remote::RemoteFrame;
use maud::html;
use serde::Deserialize;
use serde_json::json;

use super::{ConsoleError, ConsoleUser, PageResult, page, static_path};
use crate::api::Shared;
use crate::api::auth::Authed;
use crate::api::error::ApiError;

/// `?ticket=` of the terminal's page.
#[derive(Debug, Default, Deserialize)]
pub(super) struct TermParams {
    /// The ticket the session is for.
    ticket: Option<i64>,
}

/// `GET /console/assets/{key}/terminal`: the page; its script opens the
/// socket at once.
pub(super) async fn terminal(
    State(s): State<Shared>,
    user: ConsoleUser,
    Path(key): Path<String>,
    Query(p): Query<TermParams>,
) -> PageResult {
    let asset = s.store.find_asset(key).await?;
    let mut ws = format!(
        "/console/assets/{}/terminal/ws?csrf={}",
        super::enc(&asset.id),
        super::enc(&user.csrf)
    );
    if let Some(t) = p.ticket {
        ws.push_str(&format!("&ticket={t}"));
    }
    let title = format!("Terminal on {}", asset.hostname);
    let resp = page(
        &user,
        &title,
        html! {
            link rel="stylesheet" href=(static_path("xterm.css"));
            h1 { (title) }
            p {
                a href=(format!("/console/assets/{}", asset.id)) { "Back to the machine" }
                @if let Some(t) = p.ticket {
                    " · for " a href=(format!("/console/tickets/{t}")) { "ticket " (t) }
                }
                " · every keystroke is recorded and the session is audited"
            }
            p #term-status role="status" aria-live="polite" { "Connecting..." }
            div #terminal data-ws=(ws) {}
            p { button #term-end.secondary type="button" { "End session" } }
            script src=(static_path("xterm.js")) {}
            script src=(static_path("addon-fit.js")) {}
            script src=(static_path("remote.js")) {}
        },
    )?;
    Ok(with_inline_styles(resp))
}

/// xterm.js lays out its rows and colours with `<style>` elements it
/// creates: the pages that show a terminal allow inline styles (maud
/// still escapes every value, and scripts stay `'self'` only).
pub(super) fn with_inline_styles(mut resp: axum::response::Response) -> axum::response::Response {
    resp.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(
            "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    );
    resp
}

/// The socket's query: the session's CSRF token, the terminal's size.
#[derive(Debug, Default, Deserialize)]
pub(super) struct SocketParams {
    #[serde(default)]
    csrf: String,
    ticket: Option<i64>,
    cols: Option<u16>,
    rows: Option<u16>,
}

/// `GET /console/assets/{key}/terminal/ws`: the terminal's WebSocket.
pub(super) async fn socket(
    State(s): State<Shared>,
    user: ConsoleUser,
    Path(key): Path<String>,
    Query(p): Query<SocketParams>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> PageResult {
    user.check(&p.csrf)?;
    if !same_origin(&headers) {
        return Err(ConsoleError::Api(ApiError::new(
            StatusCode::FORBIDDEN,
            "a terminal opens only from this server's own pages",
        )));
    }
    let op = user.authed();
    let open = OpenRemote {
        kind: "terminal".into(),
        ticket: p.ticket,
        cols: p.cols,
        rows: p.rows,
        ..OpenRemote::default()
    };
    Ok(ws
        .max_message_size(64 * 1024)
        .on_upgrade(move |socket| bridge(s, op, key, open, Carries::Terminal, socket))
        .into_response())
}

/// Whether the request's `Origin`, when it names one, is the host it was
/// sent to (browsers always name it on a WebSocket).
pub(super) fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, rest)| rest.trim_end_matches('/'));
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

/// What a page's socket carries, which decides what the page may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Carries {
    /// A terminal: its bytes, and `resize` as text.
    Terminal,
    /// A screen: RFB bytes only.
    Desktop,
}

/// Opens the session and passes messages until either side ends.
pub(super) async fn bridge(
    s: Shared,
    op: Authed,
    key: String,
    open: OpenRemote,
    carries: Carries,
    mut socket: WebSocket,
) {
    let (mut from, mut to, info) = match crate::api::remote::open_local(&s, &op, key, open).await {
        Ok(opened) => opened,
        Err(e) => {
            let m = json!({"t": "error", "status": e.status.as_u16(), "message": e.message});
            let _ = socket.send(Message::Text(m.to_string().into())).await;
            let _ = socket.send(Message::Close(None)).await;
            return;
        }
    };
    let hello =
        json!({"t": "open", "session": info.id, "ticket": info.ticket, "host": info.hostname});
    if socket
        .send(Message::Text(hello.to_string().into()))
        .await
        .is_err()
    {
        return to.close().await;
    }
    loop {
        tokio::select! {
            m = socket.recv() => match m {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(m)) => match to_frame(carries, m) {
                    Ok(Some(frame)) => {
                        if to.send(&frame).await.is_err() {
                            break;
                        }
                    }
                    Ok(None) => {}
                    Err(why) => {
                        let m = json!({"t": "error", "status": 400, "message": why});
                        let _ = socket.send(Message::Text(m.to_string().into())).await;
                        break;
                    }
                },
            },
            f = from.recv() => match f {
                Ok(Some(frame)) => {
                    if let Some(m) = to_socket(frame)
                        && socket.send(m).await.is_err()
                    {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let m = json!({"t": "end", "reason": e});
                    let _ = socket.send(Message::Text(m.to_string().into())).await;
                    break;
                }
            },
        }
    }
    to.close().await;
    let _ = socket.send(Message::Close(None)).await;
}

/// What the page sends, as a frame for the machine: its bytes (a
/// terminal's keystrokes, a viewer's RFB), a terminal's resize; `None`
/// for what needs no frame (pings); an error names what could not be
/// read.
pub(super) fn to_frame(carries: Carries, m: Message) -> Result<Option<RemoteFrame>, String> {
    match m {
        Message::Binary(b) => Ok(Some(RemoteFrame::Data(b.to_vec()))),
        Message::Text(_) if carries == Carries::Desktop => {
            Err("the page sent text, which a screen's socket does not carry".to_string())
        }
        Message::Text(t) => {
            #[derive(Deserialize)]
            struct Resize {
                t: String,
                cols: u16,
                rows: u16,
            }
            let r: Resize = serde_json::from_str(t.as_str())
                .map_err(|e| format!("the page sent a message this server does not know ({e})"))?;
            if r.t != "resize" || r.cols == 0 || r.rows == 0 {
                return Err(format!(
                    "the page sent a message this server does not know ({})",
                    r.t
                ));
            }
            Ok(Some(RemoteFrame::Resize {
                cols: r.cols,
                rows: r.rows,
            }))
        }
        Message::Ping(_) | Message::Pong(_) | Message::Close(_) => Ok(None),
    }
}

/// What the page is sent for a frame from the machine; `None` for frames
/// a page does not carry.
pub(super) fn to_socket(frame: RemoteFrame) -> Option<Message> {
    let text = match frame {
        RemoteFrame::Data(bytes) => return Some(Message::Binary(bytes.into())),
        RemoteFrame::Exit { code, signal } => json!({"t": "exit", "code": code, "signal": signal}),
        RemoteFrame::End { reason } => json!({"t": "end", "reason": reason}),
        _ => return None,
    };
    Some(Message::Text(text.to_string().into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keystrokes_and_resizes_become_frames() {
        let f =
            to_frame(Carries::Terminal, Message::Binary(b"ls\r".to_vec().into())).expect("read");
        assert_eq!(f, Some(RemoteFrame::Data(b"ls\r".to_vec())));
        let f = to_frame(
            Carries::Terminal,
            Message::Text(r#"{"t":"resize","cols":120,"rows":40}"#.into()),
        )
        .expect("read");
        assert_eq!(
            f,
            Some(RemoteFrame::Resize {
                cols: 120,
                rows: 40
            })
        );
        assert_eq!(
            to_frame(Carries::Terminal, Message::Ping(Vec::new().into())).expect("read"),
            None
        );
    }

    #[test]
    fn unknown_or_zero_sized_messages_are_refused_with_a_sentence() {
        for bad in [
            r#"{"t":"resize","cols":0,"rows":40}"#,
            r#"{"t":"exec","cols":1,"rows":1}"#,
            "not json",
            r#"{"t":"resize","cols":70000,"rows":1}"#,
        ] {
            let e = to_frame(Carries::Terminal, Message::Text(bad.into())).expect_err("refused");
            assert!(e.contains("does not know"), "{bad}: {e}");
        }
    }

    #[test]
    fn output_exit_and_end_reach_the_page() {
        let m = to_socket(RemoteFrame::Data(b"hi".to_vec())).expect("read");
        assert_eq!(m, Message::Binary(b"hi".to_vec().into()));
        let Some(Message::Text(t)) = to_socket(RemoteFrame::Exit {
            code: Some(3),
            signal: None,
        }) else {
            panic!("exit is text")
        };
        let v: serde_json::Value = serde_json::from_str(t.as_str()).expect("read");
        assert_eq!(
            (v["t"].as_str(), v["code"].as_i64()),
            (Some("exit"), Some(3))
        );
        let Some(Message::Text(t)) = to_socket(RemoteFrame::End {
            reason: "consent <ended>".into(),
        }) else {
            panic!("end is text")
        };
        let v: serde_json::Value = serde_json::from_str(t.as_str()).expect("read");
        assert_eq!(v["reason"], "consent <ended>");
        assert!(to_socket(RemoteFrame::Eof).is_none());
    }

    #[test]
    fn a_socket_from_another_site_is_refused() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "127.0.0.1:8443".parse().expect("read"));
        assert!(
            same_origin(&h),
            "no Origin: not a browser's cross-site socket"
        );
        h.insert(
            header::ORIGIN,
            "https://127.0.0.1:8443".parse().expect("read"),
        );
        assert!(same_origin(&h));
        h.insert(
            header::ORIGIN,
            "https://evil.example".parse().expect("read"),
        );
        assert!(!same_origin(&h));
        h.insert(header::ORIGIN, "null".parse().expect("read"));
        assert!(!same_origin(&h));
    }
}
