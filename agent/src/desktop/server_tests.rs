use super::*;
use crate::desktop::encode::tests::{Inflater, unzrle};
use crate::desktop::encode::{ENC_COPY_RECT, ENC_DESKTOP_SIZE, ENC_RAW, ENC_ZLIB, ENC_ZRLE};

/// A minimal viewer: applies updates to its own framebuffer (32-bit
/// RGB888 little-endian, the server's default), so tests can compare it
/// with the frame served.
struct Viewer {
    screen: Frame,
    zlib: Inflater,
    zrle: Inflater,
    rects_seen: Vec<i32>,
}

fn be16(b: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([b[i], b[i + 1]])
}

fn be32(b: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

impl Viewer {
    fn new(w: u16, h: u16) -> Viewer {
        Viewer {
            screen: Frame::new(w, h),
            zlib: Inflater::new(),
            zrle: Inflater::new(),
            rects_seen: Vec::new(),
        }
    }

    fn apply(&mut self, update: &[u8]) {
        assert_eq!(update[0], 0);
        let n = be16(update, 2);
        let mut i = 4;
        for _ in 0..n {
            let r = Rect::new(
                be16(update, i),
                be16(update, i + 2),
                be16(update, i + 4),
                be16(update, i + 6),
            );
            let enc = be32(update, i + 8) as i32;
            self.rects_seen.push(enc);
            i += 12;
            let pixels: Vec<u32> = match enc {
                ENC_RAW => {
                    let len = r.area() as usize * 4;
                    let px = raw(&update[i..i + len]);
                    i += len;
                    px
                }
                ENC_ZLIB | ENC_ZRLE => {
                    let len = be32(update, i) as usize;
                    let data = &update[i + 4..i + 4 + len];
                    i += 4 + len;
                    if enc == ENC_ZLIB {
                        raw(&self.zlib.inflate(data))
                    } else {
                        unzrle(&self.zrle.inflate(data), usize::from(r.w), usize::from(r.h))
                    }
                }
                ENC_COPY_RECT => {
                    let (sx, sy) = (be16(update, i), be16(update, i + 2));
                    i += 4;
                    let src = self.screen.clone();
                    (0..r.h)
                        .flat_map(|y| src.row(sx, sy + y, r.w).to_vec())
                        .collect()
                }
                ENC_DESKTOP_SIZE => {
                    self.screen = Frame::new(r.w, r.h);
                    continue;
                }
                other => panic!("encoding {other}"),
            };
            let mut src = Frame::new(self.screen.width, self.screen.height);
            for (k, p) in pixels.into_iter().enumerate() {
                let (x, y) = (
                    r.x + (k % usize::from(r.w)) as u16,
                    r.y + (k / usize::from(r.w)) as u16,
                );
                let at = usize::from(y) * usize::from(src.width) + usize::from(x);
                src.pixels[at] = p;
            }
            self.screen.copy_from(&src, r);
        }
        assert_eq!(i, update.len(), "trailing bytes in the update");
    }
}

fn raw(b: &[u8]) -> Vec<u32> {
    b.chunks(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn sends(events: Vec<Event>) -> Vec<u8> {
    events
        .into_iter()
        .flat_map(|e| match e {
            Event::Send(b) => b,
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}

/// A server past the handshake with the given encodings.
fn connected(size: (u16, u16), encodings: &[i32]) -> Server {
    let mut s = Server::new("pc-0042", size);
    assert_eq!(s.hello(), b"RFB 003.008\n");
    assert_eq!(
        sends(s.on_bytes(b"RFB 003.008\n").expect("no error")),
        [1, 1]
    );
    assert_eq!(sends(s.on_bytes(&[1]).expect("no error")), [0, 0, 0, 0]);
    let init = sends(s.on_bytes(&[1]).expect("no error"));
    assert_eq!(&init[24..], b"pc-0042");
    let mut set = vec![2, 0];
    set.extend_from_slice(&(encodings.len() as u16).to_be_bytes());
    encodings
        .iter()
        .for_each(|e| set.extend_from_slice(&e.to_be_bytes()));
    assert!(s.on_bytes(&set).expect("no error").is_empty());
    s
}

fn request(s: &mut Server, incremental: bool, (w, h): (u16, u16)) {
    let mut req = vec![3, u8::from(incremental), 0, 0, 0, 0];
    req.extend_from_slice(&w.to_be_bytes());
    req.extend_from_slice(&h.to_be_bytes());
    assert!(s.on_bytes(&req).expect("no error").is_empty());
}

#[test]
fn every_encoding_shows_the_frame_and_its_changes() {
    for encodings in [
        &[ENC_RAW][..],
        &[ENC_ZLIB, ENC_COPY_RECT],
        &[ENC_ZRLE, ENC_COPY_RECT],
    ] {
        let size = (300, 200);
        let mut s = connected(size, encodings);
        let mut v = Viewer::new(300, 200);
        let mut f = Frame::test_pattern(300, 200);
        assert_eq!(
            s.on_frame(&f).expect("no error"),
            None,
            "no request, no update"
        );
        request(&mut s, false, size);
        v.apply(&s.on_frame(&f).expect("no error").expect("an update"));
        assert_eq!(v.screen, f);
        // Incremental: nothing until something changes.
        request(&mut s, true, size);
        assert_eq!(s.on_frame(&f).expect("no error"), None);
        f.pixels[150 * 300 + 7] = 0x00_ff_00_00;
        v.apply(&s.on_frame(&f).expect("no error").expect("an update"));
        assert_eq!(v.screen, f);
        // A scrolled window.
        request(&mut s, true, size);
        f.shift_rows(Rect::new(20, 10, 250, 180), -16);
        v.apply(&s.on_frame(&f).expect("no error").expect("an update"));
        assert_eq!(v.screen, f, "{encodings:?}");
        assert_eq!(
            v.rects_seen.contains(&ENC_COPY_RECT),
            encodings.contains(&ENC_COPY_RECT)
        );
    }
}

#[test]
fn input_and_clipboard_become_events() {
    let mut s = connected((100, 100), &[]);
    let events = s
        .on_bytes(&[
            4, 1, 0, 0, 0, 0, 0, 0x61, 5, 1, 0, 10, 0, 20, 6, 0, 0, 0, 0, 0, 0, 2, b'o', b'k',
        ])
        .expect("no error");
    assert_eq!(
        events,
        vec![
            Event::Key {
                down: true,
                keysym: 0x61
            },
            Event::Pointer {
                x: 10,
                y: 20,
                buttons: 1
            },
            Event::Clipboard("ok".into()),
        ]
    );
    assert!(s.on_bytes(&[200]).is_err());
}

#[test]
fn old_versions_handshake() {
    let mut s = Server::new("pc", (8, 8));
    assert_eq!(
        sends(s.on_bytes(b"RFB 003.003\n").expect("no error")),
        [0, 0, 0, 1]
    );
    assert!(!s.is_ready());
    assert_eq!(sends(s.on_bytes(&[0]).expect("no error")).len(), 24 + 2);
    assert!(s.is_ready());
    let mut s = Server::new("pc", (8, 8));
    assert_eq!(
        sends(s.on_bytes(b"RFB 003.007\n\x01\x01").expect("no error")),
        [
            vec![1, 1],
            rfb::server_init(8, 8, &PixelFormat::RGB888, "pc")
        ]
        .concat()
    );
}

#[test]
fn a_resize_is_followed_when_the_client_can() {
    let mut s = connected((100, 80), &[ENC_RAW, ENC_DESKTOP_SIZE]);
    let mut v = Viewer::new(100, 80);
    request(&mut s, true, (100, 80));
    let f = Frame::test_pattern(120, 90);
    v.apply(&s.on_frame(&f).expect("no error").expect("an update"));
    assert_eq!(v.screen, f);
    // Without the pseudo-encoding the client keeps its size.
    let mut s = connected((100, 80), &[ENC_RAW]);
    let mut v = Viewer::new(100, 80);
    request(&mut s, false, (100, 80));
    v.apply(&s.on_frame(&f).expect("no error").expect("an update"));
    assert_eq!(v.screen.pixel(99, 79), f.pixel(99, 79));
}

/// Bytes on the wire for a 1080p screen: idle for a second at 30 frames
/// a second, then a window scrolling 10 lines of text (16 rows each),
/// one line per frame, while a clock in a corner ticks. Printed for the
/// benchmark (`--nocapture`; the times mean something in `--release`).
#[test]
fn bandwidth_1080p_idle_and_scrolling() {
    let size = (1920, 1080);
    for (label, encodings) in [
        ("raw", &[ENC_RAW][..]),
        ("zlib+copyrect", &[ENC_ZLIB, ENC_COPY_RECT]),
        ("zrle+copyrect", &[ENC_ZRLE, ENC_COPY_RECT]),
        ("zrle", &[ENC_ZRLE]),
    ] {
        let mut s = connected(size, encodings);
        let mut v = Viewer::new(size.0, size.1);
        let mut f = Frame::test_pattern(size.0, size.1);
        request(&mut s, false, size);
        let first = s.on_frame(&f).expect("no error").expect("an update");
        v.apply(&first);
        let mut idle = 0;
        let started = std::time::Instant::now();
        for _ in 0..30 {
            request(&mut s, true, size);
            idle += s.on_frame(&f).expect("no error").map_or(0, |u| u.len());
        }
        assert_eq!(idle, 0);
        let idle_frame = started.elapsed() / 30;
        let window = Rect::new(300, 150, 1200, 800);
        let mut scrolled = 0;
        let started = std::time::Instant::now();
        for tick in 0..10u32 {
            for y in 1050..1062 {
                for x in 1850..1900 {
                    f.pixels[y * 1920 + x] = if (x as u32 + tick) % 7 < 3 {
                        0
                    } else {
                        0x00_ff_ff_ff
                    };
                }
            }
            f.shift_rows(window, -16);
            // The newly exposed line at the window's bottom.
            for y in window.y + window.h - 16..window.y + window.h {
                for x in window.x..window.x + window.w {
                    let i = usize::from(y) * 1920 + usize::from(x);
                    f.pixels[i] = if (x / 5 + y / 16) % 3 == 0 {
                        0x00_20_20_20
                    } else {
                        0x00_f0_f0_f0
                    };
                }
            }
            request(&mut s, true, size);
            let u = s.on_frame(&f).expect("no error").expect("an update");
            v.apply(&u);
            scrolled += u.len();
        }
        assert_eq!(v.screen, f);
        let scroll_frame = started.elapsed() / 10;
        println!(
            "bandwidth {label}: first frame {} B, idle second {idle} B ({idle_frame:?} a frame), \
             10-line scroll {scrolled} B ({scroll_frame:?} a frame)",
            first.len()
        );
    }
}

/// Random client messages (valid and not, any pixel format, any request
/// rectangle) between random frames, including resizes: the server
/// either answers or ends with an error, never panics.
#[test]
fn random_clients_never_panic() {
    use crate::desktop::rfb::tests::Rng;
    let mut rng = Rng(0x5eed);
    for _ in 0..300 {
        let mut s = connected((64, 48), &[]);
        let mut frame = Frame::test_pattern(64, 48);
        for _ in 0..20 {
            let mut msg = match rng.below(5) {
                0 => {
                    // SetPixelFormat with random fields, true colour.
                    let mut m = vec![0, 0, 0, 0];
                    m.extend((0..16).map(|_| rng.next() as u8));
                    m[4] = [8, 16, 32][rng.below(3)];
                    m[7] = 1;
                    m
                }
                1 => {
                    let all = [
                        ENC_RAW,
                        ENC_COPY_RECT,
                        ENC_ZLIB,
                        ENC_ZRLE,
                        ENC_DESKTOP_SIZE,
                        7,
                        -239,
                    ];
                    let n = rng.below(5);
                    let mut m = vec![2, 0, 0, n as u8];
                    (0..n).for_each(|_| {
                        m.extend_from_slice(&all[rng.below(all.len())].to_be_bytes())
                    });
                    m
                }
                2 => {
                    let mut m = vec![3, rng.below(2) as u8];
                    m.extend((0..8).map(|_| {
                        if rng.below(3) == 0 {
                            rng.next() as u8
                        } else {
                            rng.below(40) as u8
                        }
                    }));
                    m
                }
                3 => (0..rng.below(12)).map(|_| rng.next() as u8).collect(),
                _ => vec![5, 0, 0, 1, 0, 2],
            };
            if rng.below(4) == 0 {
                let (w, h) = (1 + rng.below(90) as u16, 1 + rng.below(70) as u16);
                frame = Frame::test_pattern(w, h);
            } else if rng.below(2) == 0 {
                let n = frame.pixels.len();
                frame.pixels[rng.below(n)] = rng.next() as u32;
            }
            let split = rng.below(msg.len() + 1);
            let rest = msg.split_off(split);
            if s.on_bytes(&msg).is_err() || s.on_bytes(&rest).is_err() {
                break;
            }
            let _ = s.on_frame(&frame).expect("encoding never fails");
        }
    }
}
