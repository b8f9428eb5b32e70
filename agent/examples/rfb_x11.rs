//! The X11 screen over RFB, for trying capture and input by hand before
//! the agent's session carries them: any VNC viewer pointed at
//! 127.0.0.1:PORT sees and drives `$DISPLAY` (or the display given).
//!
//! ```text
//! cargo run --release -p deskhand-agent --example rfb_x11 -- serve 5901 [:1]
//! cargo run --release -p deskhand-agent --example rfb_x11 -- bench idle|scroll SECONDS [:1]
//! ```
//!
//! `bench` measures updates per second and bytes on the wire with an
//! in-process viewer that asks for the next update as soon as one
//! arrives (what viewers do): `idle` leaves the screen alone, `scroll`
//! opens a window that scrolls a line of text-like blocks every 50 ms.

#[cfg(target_os = "linux")]
fn main() -> Result<(), String> {
    linux::main()
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("rfb_x11: X11 capture exists on Linux only");
}

#[cfg(target_os = "linux")]
mod linux {
    use std::net::{TcpListener, TcpStream};
    use std::sync::atomic::AtomicBool;
    use std::time::{Duration, Instant};

    use deskhand_agent::desktop::Server;
    use deskhand_agent::desktop::session::{self, TICK};
    use deskhand_agent::desktop::x11::X11Screen;
    use x11rb::connection::Connection;
    use x11rb::protocol::xproto::{
        ChangeGCAux, ConnectionExt as _, CreateGCAux, CreateWindowAux, Rectangle, WindowClass,
    };

    pub(crate) fn main() -> Result<(), String> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let arg = |i: usize| args.get(i).map(String::as_str);
        match (arg(0), arg(1)) {
            (Some("serve"), Some(port)) => serve(port, arg(2)),
            (Some("bench"), Some(mode @ ("idle" | "scroll"))) => {
                let secs = arg(2).and_then(|s| s.parse().ok()).unwrap_or(10);
                bench(mode == "scroll", secs, arg(3))
            }
            _ => Err(
                "usage: rfb_x11 serve PORT [DISPLAY] | bench idle|scroll SECONDS [DISPLAY]"
                    .to_owned(),
            ),
        }
    }

    fn serve(port: &str, display: Option<&str>) -> Result<(), String> {
        let listener = TcpListener::bind(format!("127.0.0.1:{port}")).map_err(|e| e.to_string())?;
        let mut screen = X11Screen::open(display)?;
        eprintln!("serving the X screen on 127.0.0.1:{port}");
        for stream in listener.incoming() {
            let stream = stream.map_err(|e| e.to_string())?;
            match connection(&mut screen, stream) {
                Ok(()) => eprintln!("viewer left"),
                Err(e) => eprintln!("viewer dropped: {e}"),
            }
        }
        Ok(())
    }

    /// One viewer, with control, through the helper's own session loop.
    fn connection(screen: &mut X11Screen, mut stream: TcpStream) -> Result<(), String> {
        stream
            .set_read_timeout(Some(Duration::from_millis(10)))
            .map_err(|e| e.to_string())?;
        let start = Instant::now();
        let stop = AtomicBool::new(false);
        let t = session::run(&mut stream, screen, "deskhand X11", true, &stop)?;
        let secs = start.elapsed().as_secs_f64();
        eprintln!("{} updates, {} bytes in {secs:.1} s", t.updates, t.sent);
        Ok(())
    }

    /// A viewer's opening and its standing request, as bytes: version
    /// 3.8, security None, shared, encodings ZRLE, CopyRect, zlib, Raw
    /// and DesktopSize.
    fn viewer_hello(w: u16, h: u16) -> Vec<u8> {
        let mut b = b"RFB 003.008\n".to_vec();
        b.extend([1, 1]);
        b.extend([2, 0, 0, 5]);
        for enc in [16i32, 1, 6, 0, -223] {
            b.extend(enc.to_be_bytes());
        }
        b.extend(update_request(false, w, h));
        b
    }

    fn update_request(incremental: bool, w: u16, h: u16) -> Vec<u8> {
        let mut b = vec![3, u8::from(incremental), 0, 0, 0, 0];
        b.extend(w.to_be_bytes());
        b.extend(h.to_be_bytes());
        b
    }

    fn bench(scroll: bool, secs: u64, display: Option<&str>) -> Result<(), String> {
        let mut screen = X11Screen::open(display)?;
        let frame = screen.capture()?;
        let (w, h) = (frame.width, frame.height);
        let scroller = if scroll {
            let display = display.map(str::to_owned);
            Some(std::thread::spawn(move || {
                scroll_window(display.as_deref(), secs)
            }))
        } else {
            None
        };
        let mut server = Server::new("bench", (w, h));
        server
            .on_bytes(&viewer_hello(w, h))
            .map_err(|e| e.to_string())?;
        let (mut capture_time, mut captures) = (Duration::ZERO, 0u32);
        let (mut updates, mut bytes, mut first) = (0u32, 0usize, None);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(secs) {
            let tick = Instant::now();
            let frame = screen.capture()?;
            capture_time += tick.elapsed();
            captures += 1;
            if let Some(update) = server.on_frame(&frame).map_err(|e| e.to_string())? {
                match first {
                    None => first = Some(update.len()),
                    Some(_) => {
                        updates += 1;
                        bytes += update.len();
                    }
                }
                server
                    .on_bytes(&update_request(true, w, h))
                    .map_err(|e| e.to_string())?;
            }
            std::thread::sleep(TICK.saturating_sub(tick.elapsed()));
        }
        if let Some(t) = scroller {
            t.join()
                .map_err(|_| "the scrolling window failed".to_owned())??;
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{}x{h} {}: first update {} bytes; then {updates} updates in {secs:.1} s \
             ({:.1}/s), {bytes} bytes ({:.0} bytes/s); capture {:.1} ms on average",
            w,
            if scroll { "scrolling" } else { "idle" },
            first.unwrap_or(0),
            f64::from(updates) / secs,
            bytes as f64 / secs,
            capture_time.as_secs_f64() * 1000.0 / f64::from(captures.max(1)),
        );
        Ok(())
    }

    /// An 800x600 window scrolling up one 16-pixel line of text-like
    /// blocks every 50 ms, as a terminal printing a log does.
    fn scroll_window(display: Option<&str>, secs: u64) -> Result<(), String> {
        let e = |e: &dyn std::fmt::Display| e.to_string();
        let (conn, n) = x11rb::connect(display).map_err(|x| e(&x))?;
        let root = conn.setup().roots[n].root;
        let win = conn.generate_id().map_err(|x| e(&x))?;
        let aux = CreateWindowAux::new()
            .background_pixel(0xf0_f0f0)
            .override_redirect(1);
        conn.create_window(
            0,
            win,
            root,
            100,
            100,
            800,
            600,
            0,
            WindowClass::INPUT_OUTPUT,
            0,
            &aux,
        )
        .map_err(|x| e(&x))?;
        conn.map_window(win).map_err(|x| e(&x))?;
        let gc = conn.generate_id().map_err(|x| e(&x))?;
        conn.create_gc(gc, win, &CreateGCAux::new().graphics_exposures(0))
            .map_err(|x| e(&x))?;
        let start = Instant::now();
        let mut line = 0u32;
        while start.elapsed() < Duration::from_secs(secs) {
            conn.copy_area(win, win, gc, 0, 16, 0, 0, 800, 584)
                .map_err(|x| e(&x))?;
            conn.change_gc(gc, &ChangeGCAux::new().foreground(0xf0_f0f0))
                .map_err(|x| e(&x))?;
            let strip = Rectangle {
                x: 0,
                y: 584,
                width: 800,
                height: 16,
            };
            conn.poly_fill_rectangle(win, gc, &[strip])
                .map_err(|x| e(&x))?;
            conn.change_gc(gc, &ChangeGCAux::new().foreground(0x10_2030 + line % 32))
                .map_err(|x| e(&x))?;
            let glyphs: Vec<Rectangle> = (0..90u32)
                .filter(|g| (g * 7 + line * 3) % 5 < 3)
                .map(|g| Rectangle {
                    x: (g * 8) as i16 + 4,
                    y: 587,
                    width: 6,
                    height: 10,
                })
                .collect();
            conn.poly_fill_rectangle(win, gc, &glyphs)
                .map_err(|x| e(&x))?;
            conn.flush().map_err(|x| e(&x))?;
            line += 1;
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }
}
