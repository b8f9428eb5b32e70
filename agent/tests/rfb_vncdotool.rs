//! The RFB server against a real third-party VNC client, vncdotool
//! (`pip install vncdotool`): a synthetic screen served over TCP on
//! loopback must come back pixel for pixel in its screenshot, through
//! Raw and through ZRLE, and its key and mouse commands must arrive as
//! input events. zlib, which vncdotool lacks, is read by a bare client
//! on Python's own zlib.
//!
//! Skips with a note when `vncdo` is missing, unless `CI` is set (CI
//! installs it, so it never skips there silently).

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deskhand_agent::desktop::{Event, Frame, Server};

/// The text-like stripes plus pure red, green and blue squares, so a
/// swapped channel or byte order shows.
fn screen() -> Frame {
    let mut f = Frame::test_pattern(320, 240);
    for (i, colour) in [0x00ff_0000u32, 0x0000_ff00, 0x0000_00ff]
        .into_iter()
        .enumerate()
    {
        for y in 200..230 {
            for x in 20 + 40 * i..50 + 40 * i {
                f.pixels[y * 320 + x] = colour;
            }
        }
    }
    f
}

/// What the connections did: input received, and bytes of updates sent
/// by each finished connection.
#[derive(Default)]
struct Seen {
    input: Mutex<Vec<Event>>,
    update_bytes: Mutex<Vec<usize>>,
}

/// Serves `frame` to every connection on `listener`.
fn serve(listener: TcpListener, frame: Frame, seen: Arc<Seen>) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let (frame, seen) = (frame.clone(), seen.clone());
        std::thread::spawn(move || {
            let mut sent = 0;
            if let Err(e) = connection(stream, &frame, &seen.input, &mut sent) {
                eprintln!("connection ended: {e}");
            }
            if let Ok(mut all) = seen.update_bytes.lock() {
                all.push(sent);
            }
        });
    }
}

fn connection(
    mut stream: TcpStream,
    frame: &Frame,
    input: &Mutex<Vec<Event>>,
    sent: &mut usize,
) -> Result<(), Box<dyn std::error::Error>> {
    stream.set_read_timeout(Some(Duration::from_millis(20)))?;
    let mut server = Server::new("deskhand test screen", (frame.width, frame.height));
    stream.write_all(&server.hello())?;
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => {
                for event in server.on_bytes(&buf[..n])? {
                    match event {
                        Event::Send(bytes) => stream.write_all(&bytes)?,
                        other => input.lock().map_err(|_| "poisoned")?.push(other),
                    }
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => return Err(e.into()),
        }
        if let Some(update) = server.on_frame(frame)? {
            *sent += update.len();
            stream.write_all(&update)?;
        }
    }
}

/// The Python that runs `vncdo` (its script's `#!` line), which has
/// vncdotool and Pillow; None when `vncdo` is not installed.
fn vncdo_python() -> Option<String> {
    let out = Command::new("sh")
        .args(["-c", "command -v vncdo"])
        .output()
        .ok()?;
    let path = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    if path.is_empty() {
        return None;
    }
    let script = std::fs::read_to_string(&path).ok()?;
    let interp = script.lines().next()?.strip_prefix("#!")?.trim().to_owned();
    // pyenv shims and `/usr/bin/env python3` both resolve to a python3.
    Some(if interp.contains(' ') || interp.contains("shims") {
        "python3".into()
    } else {
        interp
    })
}

fn run(program: &str, args: &[&str]) -> Vec<u8> {
    let out = Command::new("timeout")
        .arg("60")
        .arg(program)
        .args(args)
        .output()
        .expect("run timeout(1)");
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The PNG's pixels as 0x00RRGGBB, via Pillow.
fn png_pixels(python: &str, png: &Path) -> (u32, u32, Vec<u32>) {
    let code = "import sys; from PIL import Image\n\
                im = Image.open(sys.argv[1]).convert('RGB')\n\
                sys.stdout.buffer.write(b'%d %d\\n' % im.size + im.tobytes())";
    let out = run(python, &["-c", code, png.to_str().expect("utf-8 path")]);
    let nl = out.iter().position(|&b| b == b'\n').expect("a size line");
    let size = String::from_utf8_lossy(&out[..nl]).to_string();
    let mut it = size.split(' ').map(|n| n.parse::<u32>().expect("a number"));
    let (w, h) = (it.next().expect("width"), it.next().expect("height"));
    let px = out[nl + 1..]
        .chunks(3)
        .map(|c| u32::from(c[0]) << 16 | u32::from(c[1]) << 8 | u32::from(c[2]))
        .collect();
    (w, h, px)
}

fn assert_same(what: &str, (w, h, got): (u32, u32, Vec<u32>), want: &Frame) {
    assert_eq!(
        (w, h),
        (u32::from(want.width), u32::from(want.height)),
        "{what}: size"
    );
    let bad = got.iter().zip(&want.pixels).position(|(g, w)| g != w);
    if let Some(i) = bad {
        panic!(
            "{what}: pixel {i} (x {}, y {}) is {:06x}, not {:06x}",
            i % usize::from(want.width),
            i / usize::from(want.width),
            got[i],
            want.pixels[i]
        );
    }
}

/// A bare RFB 3.8 client in Python asking for zlib (6), which vncdotool
/// does not decode: two full updates through one stream, inflated by
/// Python's zlib (C zlib, not the crate that deflated them). Prints the
/// screen as the server's own pixels, B G R X.
const ZLIB_CLIENT: &str = r#"
import socket, struct, sys, zlib
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
def rd(n):
    b = b''
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise SystemExit('the server closed the connection')
        b += c
    return b
rd(12); s.sendall(b'RFB 003.008\n')
rd(rd(1)[0]); s.sendall(b'\x01')
assert rd(4) == b'\0\0\0\0'
s.sendall(b'\x01')
w, h = struct.unpack('>HH', rd(4)); rd(16); rd(struct.unpack('>I', rd(4))[0])
s.sendall(struct.pack('>BBHi', 2, 0, 1, 6))
z = zlib.decompressobj()
fb = bytearray(w * h * 4)
for _ in range(2):
    s.sendall(struct.pack('>BBHHHH', 3, 0, 0, 0, w, h))
    _, _, n = struct.unpack('>BBH', rd(4))
    for _ in range(n):
        x, y, rw, rh, enc = struct.unpack('>HHHHi', rd(12))
        assert enc == 6, enc
        data = z.decompress(rd(struct.unpack('>I', rd(4))[0]))
        assert len(data) == rw * rh * 4, len(data)
        for row in range(rh):
            o = ((y + row) * w + x) * 4
            fb[o:o + rw * 4] = data[row * rw * 4:(row + 1) * rw * 4]
sys.stdout.buffer.write(bytes(fb))
"#;

#[test]
fn vncdotool_sees_the_screen_and_sends_input() {
    let Some(python) = vncdo_python() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "the RFB end-to-end test must run in CI: pip install vncdotool"
        );
        eprintln!("SKIPPED: rfb_vncdotool needs vncdo: pip install vncdotool");
        return;
    };
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().expect("local address").port();
    let target = format!("127.0.0.1::{port}");
    let frame = screen();
    let seen = Arc::new(Seen::default());
    {
        let (frame, seen) = (frame.clone(), seen.clone());
        std::thread::spawn(move || serve(listener, frame, seen));
    }
    // Bytes of updates the last finished connection sent (its end is
    // seen a moment after the client exits).
    let last_sent = || {
        std::thread::sleep(Duration::from_millis(300));
        seen.update_bytes
            .lock()
            .expect("sizes")
            .last()
            .copied()
            .unwrap_or(0)
    };
    let raw_size = usize::from(frame.width) * usize::from(frame.height) * 4;
    let dir = tempfile::tempdir().expect("temp dir");

    // Raw, vncdo's own encoding, in its RGBX format (red at shift 0).
    let raw_png = dir.path().join("raw.png");
    run(
        "vncdo",
        &[
            "-s",
            &target,
            "capture",
            raw_png.to_str().expect("utf-8 path"),
        ],
    );
    assert_same("raw capture", png_pixels(&python, &raw_png), &frame);
    assert!(
        last_sent() >= raw_size,
        "raw: the whole screen, uncompressed"
    );

    // ZRLE through vncdotool's own decoder.
    let zrle_png = dir.path().join("zrle.png");
    let code = "import sys\n\
                from vncdotool import api, rfb\n\
                from vncdotool.client import VNCDoToolClient\n\
                VNCDoToolClient.encoding = rfb.Encoding.ZRLE\n\
                c = api.connect(sys.argv[1])\n\
                c.captureScreen(sys.argv[2])\n\
                c.disconnect()\n\
                api.shutdown()";
    run(
        &python,
        &["-c", code, &target, zrle_png.to_str().expect("utf-8 path")],
    );
    assert_same("zrle capture", png_pixels(&python, &zrle_png), &frame);
    let zrle_sent = last_sent();
    assert!(
        zrle_sent < raw_size / 10,
        "zrle: {zrle_sent} bytes is not compressed"
    );

    let bgrx = run(&python, &["-c", ZLIB_CLIENT, &port.to_string()]);
    let zlib: Vec<u32> = bgrx
        .chunks(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], 0]))
        .collect();
    assert_same("zlib updates", (320, 240, zlib), &frame);

    run("vncdo", &["-s", &target, "key", "a"]);
    run("vncdo", &["-s", &target, "move", "10", "10", "click", "1"]);
    last_sent();
    let got = seen.input.lock().expect("input").clone();
    let keys: Vec<&Event> = got
        .iter()
        .filter(|e| matches!(e, Event::Key { .. }))
        .collect();
    assert_eq!(
        keys,
        [
            &Event::Key {
                down: true,
                keysym: 0x61
            },
            &Event::Key {
                down: false,
                keysym: 0x61
            }
        ],
        "{got:?}"
    );
    let pointer: Vec<&Event> = got
        .iter()
        .filter(|e| matches!(e, Event::Pointer { .. }))
        .collect();
    assert!(
        pointer.contains(&&Event::Pointer {
            x: 10,
            y: 10,
            buttons: 1
        }),
        "{got:?}"
    );
    assert_eq!(
        pointer.last(),
        Some(&&Event::Pointer {
            x: 10,
            y: 10,
            buttons: 0
        }),
        "{got:?}"
    );
}
