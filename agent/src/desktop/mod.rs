//! Remote desktop's protocol core (issue 44): RFB (RFC 6143, the VNC
//! protocol), so any VNC viewer, and noVNC in the console, can show and
//! drive the user's screen through the agent's remote session.
//!
//! - [`frame`]: a captured screen and what changed between two of them
//!   (damaged tiles, vertical scrolls).
//! - [`rfb`]: the handshake and a sans-I/O decoder of client messages.
//! - [`encode`]: pixel formats and the Raw, CopyRect, zlib and ZRLE
//!   encodings.
//! - [`server`]: one connection's state machine: bytes and frames in,
//!   bytes to send and input to inject out.
//! - [`session`]: the driver of one viewer in the user's helper: a
//!   stream, a screen, the capture clock.
//! - [`broker`]: the agent service's side: users' helpers register,
//!   sessions are asked of them and their streams handed over.
//! - `x11` (Linux): the X11 screen as a capture source and input sink
//!   for the server, over the X protocol in pure Rust.
//! - `gdi_windows` (Windows): GDI capture of the virtual screen,
//!   SendInput; its pure rules in [`winput`].
//! - `quartz_macos` (macOS): CoreGraphics capture, CGEvent input; pure
//!   rules in [`quartz_pixels`], [`quartz_input`].
//! - `helper` (Linux): `deskhand-agent user`, the user's process that
//!   prompts, shows the banner and serves [`session`] over `x11`. The
//!   Windows and macOS screens are not wired to a helper yet.
//!
//! Architecture invariant: outside the capture sources (`x11`,
//! `gdi_windows`, `quartz_macos`), nothing here captures, injects or
//! touches a display; they are opened only in the user's helper, never
//! in the service. A capture source and a byte stream plug into
//! [`session::run`].
//! Security is RFB's None on purpose: the session carrying these bytes is
//! already authenticated and consented to by the agent's link.

pub mod broker;
pub mod encode;
pub mod frame;
#[cfg(windows)]
pub mod gdi_windows;
#[cfg(target_os = "linux")]
pub mod helper;
pub mod quartz_input;
#[cfg(target_os = "macos")]
pub mod quartz_macos;
pub mod quartz_pixels;
pub mod rfb;
pub mod server;
pub mod session;
pub mod winput;
#[cfg(target_os = "linux")]
pub mod x11;
mod zrle;

pub use frame::{Frame, Rect};
pub use server::{Event, Server};
