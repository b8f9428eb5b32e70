//! One RFB connection's state machine, sans I/O: fed the client's bytes
//! ([`Server::on_bytes`]) and the screen's frames ([`Server::on_frame`]),
//! it says what to send and what input to inject. The driver around it
//! owns the stream and the capture clock.
//!
//! Updates follow RFB's pull model: a frame is sent only while the
//! client has a request outstanding, an incremental request gets only
//! what changed since the client's last picture, and an unchanged screen
//! sends nothing at all (the request waits for the next change). The
//! server keeps its own copy of what the client shows (`view`): damage is
//! computed against it, so a frame the client never saw is never assumed.

use thiserror::Error;

use super::encode::{self, EncodeError, Encoder};
use super::frame::{self, Frame, Rect};
use super::rfb::{self, ClientDecoder, ClientMessage, PixelFormat, ProtocolError, Version};

/// What the driver should do after the client's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Bytes to write to the client, in order.
    Send(Vec<u8>),
    /// A key to inject (X11 keysym).
    Key {
        /// Pressed or released.
        down: bool,
        /// The keysym.
        keysym: u32,
    },
    /// The pointer to move, with the buttons now held.
    Pointer {
        /// Horizontal position.
        x: u16,
        /// Vertical position.
        y: u16,
        /// Buttons held, bit n = button n+1.
        buttons: u8,
    },
    /// The client's clipboard text, for the user's clipboard.
    Clipboard(String),
}

/// Why the connection must end.
#[derive(Debug, Error)]
pub enum Error {
    /// The client broke the protocol.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// Compression failed.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// The client's outstanding FramebufferUpdateRequest.
#[derive(Debug, Clone, Copy)]
struct Request {
    incremental: bool,
    area: Rect,
}

/// Smallest changed region worth a scroll search (a few tiles).
const SCROLL_MIN_AREA: u64 = 4 * 64 * 64;

/// More rectangles than this are sent as their bounding box (the count
/// is a u16 on the wire, and headers add up).
const MAX_RECTS: usize = 1024;

/// One client connection.
pub struct Server {
    name: String,
    /// The size the client believes the screen has.
    size: (u16, u16),
    decoder: ClientDecoder,
    encoder: Encoder,
    version: Version,
    ready: bool,
    request: Option<Request>,
    /// What the client shows, as far as this server sent it.
    view: Option<Frame>,
}

impl Server {
    /// A connection serving a screen of `frame_size` (width, height)
    /// named `name` (shown in the viewer's title). Send [`Server::hello`]
    /// first.
    pub fn new(name: &str, frame_size: (u16, u16)) -> Server {
        Server {
            name: name.to_owned(),
            size: frame_size,
            decoder: ClientDecoder::new(),
            encoder: Encoder::new(),
            version: Version::V3_8,
            ready: false,
            request: None,
            view: None,
        }
    }

    /// The server's opening bytes (its protocol version).
    pub fn hello(&self) -> Vec<u8> {
        rfb::SERVER_VERSION.to_vec()
    }

    /// The client finished the handshake and may be sent updates.
    pub fn is_ready(&self) -> bool {
        self.ready
    }

    /// Whether the client waits for an update: a driver captures only
    /// then.
    pub fn wants_frame(&self) -> bool {
        self.ready && self.request.is_some()
    }

    /// Feeds bytes read from the client; returns what to send and inject,
    /// in order, or the error that ends the connection.
    pub fn on_bytes(&mut self, bytes: &[u8]) -> Result<Vec<Event>, Error> {
        self.decoder.push(bytes);
        let mut events = Vec::new();
        while let Some(msg) = self.decoder.next_message()? {
            match msg {
                ClientMessage::Version(v) => {
                    self.version = v;
                    events.push(Event::Send(rfb::security_offer(v)));
                }
                ClientMessage::SecurityType(_) => {
                    let ok = rfb::security_ok(self.version);
                    if !ok.is_empty() {
                        events.push(Event::Send(ok));
                    }
                }
                ClientMessage::ClientInit { .. } => {
                    // Shared or not: this connection is the session's only
                    // viewer; the agent enforces that, not RFB.
                    let (w, h) = self.size;
                    events.push(Event::Send(rfb::server_init(
                        w,
                        h,
                        &PixelFormat::RGB888,
                        &self.name,
                    )));
                    self.ready = true;
                }
                ClientMessage::SetPixelFormat(pf) => self.encoder.set_pixel_format(pf),
                ClientMessage::SetEncodings(list) => self.encoder.set_encodings(&list),
                ClientMessage::UpdateRequest {
                    incremental,
                    x,
                    y,
                    w,
                    h,
                } => {
                    let area = Rect::new(x, y, w, h);
                    self.request = Some(match self.request {
                        // Requests pile up while none is answered: one
                        // update answers them all.
                        Some(old) => Request {
                            incremental: old.incremental && incremental,
                            area: old.area.union(area),
                        },
                        None => Request { incremental, area },
                    });
                }
                ClientMessage::Key { down, keysym } => events.push(Event::Key { down, keysym }),
                ClientMessage::Pointer { buttons, x, y } => {
                    events.push(Event::Pointer { x, y, buttons })
                }
                ClientMessage::CutText(text) => events.push(Event::Clipboard(text)),
            }
        }
        Ok(events)
    }

    /// Offers the screen as it is now: the FramebufferUpdate to send, or
    /// None when the client has no request outstanding or nothing it
    /// asked for changed (the request then waits for a later frame).
    pub fn on_frame(&mut self, frame: &Frame) -> Result<Option<Vec<u8>>, Error> {
        let Some(mut req) = self.request.filter(|_| self.ready) else {
            return Ok(None);
        };
        let mut body = Vec::new();
        let mut count = 0usize;
        if (frame.width, frame.height) != self.size && self.encoder.desktop_size() {
            encode::desktop_size(&mut body, frame.width, frame.height);
            count += 1;
            self.size = (frame.width, frame.height);
            self.view = None;
            req = Request {
                incremental: false,
                area: frame.bounds(),
            };
        }
        // A client that cannot follow a resize keeps its size: clip to it.
        let area = req
            .area
            .intersect(Rect::new(0, 0, self.size.0, self.size.1))
            .intersect(frame.bounds());
        let mut view = match self.view.take() {
            Some(v) if v.width == frame.width && v.height == frame.height => v,
            _ => {
                req.incremental = false;
                Frame::new(frame.width, frame.height)
            }
        };
        let mut rects = if req.incremental {
            frame::damage_in(&view, frame, area)
        } else if area.is_empty() {
            Vec::new()
        } else {
            vec![area]
        };
        if req.incremental && self.encoder.copy_rect() && rects.len() <= MAX_RECTS {
            // Each changed region on its own: a scrolling window beside a
            // ticking clock is still a scroll.
            let mut scrolled = false;
            for r in &rects {
                if let Some((dst, src_y)) = scroll(&mut view, frame, *r) {
                    self.encoder.copy(&mut body, dst, dst.x, src_y);
                    count += 1;
                    scrolled = true;
                }
            }
            if scrolled {
                rects = frame::damage_in(&view, frame, area);
            }
        }
        if rects.len() > MAX_RECTS {
            rects = vec![rects.iter().fold(Rect::default(), |a, r| a.union(*r))];
        }
        if rects.is_empty() && count == 0 {
            self.view = Some(view);
            return Ok(None);
        }
        for r in &rects {
            self.encoder.rect(&mut body, frame, *r)?;
            view.copy_from(frame, *r);
        }
        count += rects.len();
        self.view = Some(view);
        self.request = None;
        let mut out = encode::update_header(u16::try_from(count).unwrap_or(u16::MAX)).to_vec();
        out.append(&mut body);
        Ok(Some(out))
    }
}

/// A vertical scroll inside the changed region `r`: applies it to `view`
/// (as the client will apply the CopyRect) and returns the CopyRect's
/// destination and source row.
fn scroll(view: &mut Frame, frame: &Frame, r: Rect) -> Option<(Rect, u16)> {
    if r.area() < SCROLL_MIN_AREA {
        return None;
    }
    let dy = frame::scroll(view, frame, r)?;
    let shift = u16::try_from(dy.unsigned_abs()).ok().filter(|s| *s < r.h)?;
    let (dst, src_y) = if dy > 0 {
        (Rect::new(r.x, r.y + shift, r.w, r.h - shift), r.y)
    } else {
        (Rect::new(r.x, r.y, r.w, r.h - shift), r.y + shift)
    };
    view.shift_rows(r, dy);
    Some((dst, src_y))
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
