//! One viewer's session in the user's helper: the driver around
//! [`Server`], over a blocking byte stream (the service's socket; a TCP
//! connection in the `rfb_x11` example) and a screen: the viewer's bytes
//! in, a capture every [`TICK`] while the viewer waits for an update,
//! updates out, and input injected only when the session has control.

use std::io::{ErrorKind, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{Event, Frame, Server};

/// How often the screen is captured while the viewer waits (10 fps).
pub const TICK: Duration = Duration::from_millis(100);

/// A screen to share: captured, and driven when the session has control.
pub trait Screen {
    /// The screen as it is now.
    fn capture(&mut self) -> Result<Frame, String>;
    /// Replays a key or pointer event.
    fn inject(&mut self, event: &Event) -> Result<(), String>;
}

#[cfg(target_os = "linux")]
impl Screen for super::x11::X11Screen {
    fn capture(&mut self) -> Result<Frame, String> {
        super::x11::X11Screen::capture(self)
    }

    fn inject(&mut self, event: &Event) -> Result<(), String> {
        super::x11::X11Screen::inject(self, event)
    }
}

/// What a session moved, for the log and the benchmark.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    /// Framebuffer updates sent.
    pub updates: u64,
    /// Bytes sent.
    pub sent: u64,
}

/// Serves one viewer on `stream` until it leaves, `stop` is set, or
/// either side fails. The stream must have a short read timeout set (the
/// loop polls `stop` and the clock between reads). With `control`
/// false, the viewer's keys, pointer and clipboard are dropped.
pub fn run<S: Read + Write>(
    stream: &mut S,
    screen: &mut dyn Screen,
    name: &str,
    control: bool,
    stop: &AtomicBool,
) -> Result<Totals, String> {
    let io = |e: std::io::Error| format!("the viewer's connection failed: {e}");
    let frame = screen.capture()?;
    let mut server = Server::new(name, (frame.width, frame.height));
    stream.write_all(&server.hello()).map_err(io)?;
    let mut totals = Totals::default();
    let mut next = Instant::now();
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                for event in server.on_bytes(&buf[..n]).map_err(|e| e.to_string())? {
                    match event {
                        Event::Send(bytes) => stream.write_all(&bytes).map_err(io)?,
                        input if control => screen.inject(&input)?,
                        _ => {}
                    }
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(io(e)),
        }
        if server.wants_frame() && Instant::now() >= next {
            next = Instant::now() + TICK;
            let frame = screen.capture()?;
            if let Some(update) = server.on_frame(&frame).map_err(|e| e.to_string())? {
                stream.write_all(&update).map_err(io)?;
                totals.updates += 1;
                totals.sent += update.len() as u64;
            }
        }
    }
    Ok(totals)
}
