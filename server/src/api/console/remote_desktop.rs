//! A machine's screen in the console: the page (noVNC, vendored as one
//! ES module, driven by `static/desktop.js`) and its WebSocket, bridged
//! like the terminal's ([`remote_term::bridge`]) to a `desktop` session
//! whose operator side is this server, so the same checks (role, the
//! operator's permission, the agent's policy), pump, audit and session
//! list apply as to every other session. The machine answers only after
//! its user clicked Allow on the helper's prompt; until then the page
//! says it waits.
//!
//! The socket's messages: binary both ways is RFB (the VNC protocol)
//! between noVNC and the user's helper; the server's text is JSON as on
//! the terminal's (`open`, `end`, `error`), which the page's script reads
//! and keeps from noVNC; the page sends no text.

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use deskhand_api_types::remote::OpenRemote;
use maud::html;
use serde::Deserialize;

use super::remote_term::{self, Carries};
use super::{ConsoleError, ConsoleUser, PageResult, enc, page, static_path};
use crate::api::Shared;
use crate::api::error::ApiError;
use crate::store::Role;

/// `?control=&ticket=` of the screen's page.
#[derive(Debug, Default, Deserialize)]
pub(super) struct DesktopParams {
    /// Keyboard and pointer too, not only the picture.
    #[serde(default)]
    control: bool,
    /// The ticket the session is for.
    ticket: Option<i64>,
}

/// The page's socket: its path with the session's CSRF token, whether it
/// controls, and the ticket.
fn socket_url(asset: &str, csrf: &str, control: bool, ticket: Option<i64>) -> String {
    let mut ws = format!(
        "/console/assets/{}/desktop/ws?csrf={}&control={control}",
        enc(asset),
        enc(csrf)
    );
    if let Some(t) = ticket {
        ws.push_str(&format!("&ticket={t}"));
    }
    ws
}

/// The page's title: whose screen, seen or controlled.
fn title(hostname: &str, control: bool) -> String {
    if control {
        format!("Control the screen of {hostname}")
    } else {
        format!("Screen of {hostname}")
    }
}

/// `GET /console/assets/{key}/desktop`: the page; its script opens the
/// socket at once. A technician's: a viewer is refused here, before a
/// page that could only fail.
pub(super) async fn desktop(
    State(s): State<Shared>,
    user: ConsoleUser,
    Path(key): Path<String>,
    Query(p): Query<DesktopParams>,
) -> PageResult {
    user.authed().require(Role::Technician)?;
    let asset = s.store.find_asset(key).await?;
    let ws = socket_url(&asset.id, &user.csrf, p.control, p.ticket);
    let title = title(&asset.hostname, p.control);
    page(
        &user,
        &title,
        html! {
            h1 { (title) }
            p {
                a href=(format!("/console/assets/{}", asset.id)) { "Back to the machine" }
                @if let Some(t) = p.ticket {
                    " · for " a href=(format!("/console/tickets/{t}")) { "ticket " (t) }
                }
                " · the user is asked first, and the session is audited"
            }
            p.desktop-bar {
                span #desk-status role="status" aria-live="polite" { "Connecting..." }
                " "
                button #desk-end.secondary type="button" { "Disconnect" }
            }
            div #desktop data-ws=(ws) data-control=(p.control) data-host=(asset.hostname) {}
            script type="module" src=(static_path("desktop.js")) {}
        },
    )
}

/// The socket's query: the session's CSRF token, control, the ticket.
#[derive(Debug, Default, Deserialize)]
pub(super) struct SocketParams {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    control: bool,
    ticket: Option<i64>,
}

/// The session a socket asks the machine for.
fn open_request(p: &SocketParams) -> OpenRemote {
    OpenRemote {
        kind: "desktop".into(),
        control: p.control,
        ticket: p.ticket,
        ..OpenRemote::default()
    }
}

/// `GET /console/assets/{key}/desktop/ws`: the screen's WebSocket.
pub(super) async fn socket(
    State(s): State<Shared>,
    user: ConsoleUser,
    Path(key): Path<String>,
    Query(p): Query<SocketParams>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> PageResult {
    user.check(&p.csrf)?;
    if !remote_term::same_origin(&headers) {
        return Err(ConsoleError::Api(ApiError::new(
            StatusCode::FORBIDDEN,
            "a screen opens only from this server's own pages",
        )));
    }
    let op = user.authed();
    let open = open_request(&p);
    Ok(ws
        .max_message_size(64 * 1024)
        .on_upgrade(move |socket| remote_term::bridge(s, op, key, open, Carries::Desktop, socket))
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::ws::Message;
    use deskhand_shared::remote::RemoteFrame;

    #[test]
    fn the_socket_url_carries_the_token_control_and_ticket_escaped() {
        assert_eq!(
            socket_url("a b", "t&k", true, Some(7)),
            "/console/assets/a%20b/desktop/ws?csrf=t%26k&control=true&ticket=7"
        );
        assert_eq!(
            socket_url("m1", "tok", false, None),
            "/console/assets/m1/desktop/ws?csrf=tok&control=false"
        );
    }

    #[test]
    fn the_title_says_whether_the_screen_is_controlled() {
        assert_eq!(title("pc-1", false), "Screen of pc-1");
        assert_eq!(title("pc-1", true), "Control the screen of pc-1");
    }

    #[test]
    fn the_session_asked_for_is_a_desktop_with_its_control_and_ticket() {
        let p = SocketParams {
            csrf: "x".into(),
            control: true,
            ticket: Some(4),
        };
        let o = open_request(&p);
        assert_eq!(
            (o.kind.as_str(), o.control, o.ticket, o.cols),
            ("desktop", true, Some(4), None)
        );
        let seen = open_request(&SocketParams::default());
        assert!(!seen.control, "viewing only unless control is asked");
    }

    #[test]
    fn rfb_bytes_pass_and_text_from_the_page_is_refused() {
        let f = remote_term::to_frame(Carries::Desktop, Message::Binary(vec![3, 0].into()))
            .expect("read");
        assert_eq!(f, Some(RemoteFrame::Data(vec![3, 0])));
        let e = remote_term::to_frame(
            Carries::Desktop,
            Message::Text(r#"{"t":"resize","cols":80,"rows":24}"#.into()),
        )
        .expect_err("a screen takes no text");
        assert!(e.contains("does not carry"), "{e}");
        assert_eq!(
            remote_term::to_frame(Carries::Desktop, Message::Ping(Vec::new().into()))
                .expect("read"),
            None
        );
        let m = remote_term::to_socket(RemoteFrame::Data(vec![1, 2])).expect("sent");
        assert_eq!(m, Message::Binary(vec![1, 2].into()));
    }
}
