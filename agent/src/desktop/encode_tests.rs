use flate2::{Decompress, FlushDecompress};

use super::*;

/// A client's inflater: one stream for the connection, like a viewer's.
pub(crate) struct Inflater(Decompress);

impl Inflater {
    pub(crate) fn new() -> Inflater {
        Inflater(Decompress::new(true))
    }

    pub(crate) fn inflate(&mut self, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() * 8 + 1024);
        let start = self.0.total_in();
        loop {
            let done = (self.0.total_in() - start) as usize;
            self.0
                .decompress_vec(&data[done..], &mut out, FlushDecompress::Sync)
                .expect("no error");
            if (self.0.total_in() - start) as usize == data.len() && out.len() < out.capacity() {
                return out;
            }
            out.reserve(out.capacity());
        }
    }
}

/// Decodes the ZRLE tiles of a `w` x `h` rectangle in 32-bit,
/// little-endian, three-byte-cpixel form back to pixel values.
pub(crate) fn unzrle(data: &[u8], w: usize, h: usize) -> Vec<u32> {
    unzrle_cpixels(data, w, h, 3)
        .into_iter()
        .map(|v| v.swap_bytes() >> 8)
        .collect()
}

/// Decodes ZRLE tiles whose compressed pixels take `cp_len` bytes; each
/// pixel comes back as its bytes read as a big-endian number.
fn unzrle_cpixels(data: &[u8], w: usize, h: usize, cp_len: usize) -> Vec<u32> {
    let mut px = vec![0u32; w * h];
    let mut i = 0;
    let mut byte = || {
        i += 1;
        data[i - 1]
    };
    for ty in (0..h).step_by(64) {
        for tx in (0..w).step_by(64) {
            let (tw, th) = (64.min(w - tx), 64.min(h - ty));
            let cp =
                |b: &mut dyn FnMut() -> u8| (0..cp_len).fold(0u32, |v, _| v << 8 | u32::from(b()));
            let mut tile = Vec::with_capacity(tw * th);
            let sub = byte();
            let run = |b: &mut dyn FnMut() -> u8| {
                let mut n = 1;
                loop {
                    let v = b();
                    n += usize::from(v);
                    if v != 255 {
                        return n;
                    }
                }
            };
            match sub {
                0 => (0..tw * th).for_each(|_| tile.push(cp(&mut byte))),
                1 => tile = vec![cp(&mut byte); tw * th],
                2..=16 => {
                    let pal: Vec<u32> = (0..sub).map(|_| cp(&mut byte)).collect();
                    let bits = match sub {
                        2 => 1,
                        3 | 4 => 2,
                        _ => 4,
                    };
                    for _ in 0..th {
                        let (mut cur, mut left) = (0u8, 0);
                        for _ in 0..tw {
                            if left == 0 {
                                cur = byte();
                                left = 8;
                            }
                            left -= bits;
                            tile.push(pal[usize::from((cur >> left) & ((1 << bits) - 1))]);
                        }
                    }
                }
                128 => {
                    while tile.len() < tw * th {
                        let v = cp(&mut byte);
                        let n = run(&mut byte);
                        tile.extend(std::iter::repeat_n(v, n));
                    }
                }
                130..=255 => {
                    let pal: Vec<u32> = (0..sub - 128).map(|_| cp(&mut byte)).collect();
                    while tile.len() < tw * th {
                        let ix = byte();
                        let n = if ix & 128 != 0 { run(&mut byte) } else { 1 };
                        tile.extend(std::iter::repeat_n(pal[usize::from(ix & 127)], n));
                    }
                }
                other => panic!("subencoding {other}"),
            }
            assert_eq!(tile.len(), tw * th, "tile at {tx},{ty}");
            for y in 0..th {
                for x in 0..tw {
                    px[(ty + y) * w + tx + x] = tile[y * tw + x];
                }
            }
        }
    }
    assert_eq!(i, data.len(), "trailing ZRLE bytes");
    px
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

#[test]
fn pixels_convert_to_any_true_colour_format() {
    let px = 0x00_ff_80_00; // orange
    let bgr16 = PixelFormat::RGB565;
    let mut out = Vec::new();
    PixelWriter::new(bgr16).put(&mut out, px);
    assert_eq!(out, ((31u16 << 11) | (32 << 5)).to_le_bytes());
    out.clear();
    PixelWriter::new(PixelFormat {
        big_endian: true,
        ..bgr16
    })
    .put(&mut out, px);
    assert_eq!(out, ((31u16 << 11) | (32 << 5)).to_be_bytes());
    let bgr233 = PixelFormat {
        bits_per_pixel: 8,
        depth: 8,
        big_endian: false,
        red_max: 7,
        green_max: 7,
        blue_max: 3,
        red_shift: 0,
        green_shift: 3,
        blue_shift: 6,
    };
    out.clear();
    PixelWriter::new(bgr233).put(&mut out, px);
    assert_eq!(out, [7 | (4 << 3)]);
    let rgbx = PixelFormat {
        red_shift: 0,
        blue_shift: 16,
        ..PixelFormat::RGB888
    };
    out.clear();
    PixelWriter::new(rgbx).put(&mut out, px);
    assert_eq!(out, [0xff, 0x80, 0x00, 0x00]);
    out.clear();
    PixelWriter::new(PixelFormat {
        big_endian: true,
        ..PixelFormat::RGB888
    })
    .put(&mut out, px);
    assert_eq!(out, [0x00, 0xff, 0x80, 0x00]);
}

#[test]
fn the_best_listed_encoding_wins() {
    let mut e = Encoder::new();
    assert_eq!(e.body(), Body::Raw);
    e.set_encodings(&[5, 6, 16, 1]);
    assert_eq!(
        (e.body(), e.copy_rect(), e.desktop_size()),
        (Body::Zlib, true, false)
    );
    e.set_encodings(&[16, -223]);
    assert_eq!(
        (e.body(), e.copy_rect(), e.desktop_size()),
        (Body::Zrle, false, true)
    );
    e.set_encodings(&[7, 5]);
    assert_eq!(e.body(), Body::Raw);
}

#[test]
fn raw_rect_is_header_then_pixels() {
    let f = Frame::test_pattern(10, 10);
    let mut out = Vec::new();
    Encoder::new()
        .rect(&mut out, &f, Rect::new(2, 3, 4, 2))
        .expect("no error");
    assert_eq!(&out[..12], &[0, 2, 0, 3, 0, 4, 0, 2, 0, 0, 0, 0]);
    assert_eq!(out.len(), 12 + 4 * 2 * 4);
    assert_eq!(&out[12..16], &f.pixel(2, 3).to_le_bytes());
}

#[test]
fn zlib_rects_share_one_stream() {
    let f = Frame::test_pattern(200, 150);
    let mut e = Encoder::new();
    e.set_encodings(&[6]);
    let mut inflater = Inflater::new();
    for r in [
        Rect::new(0, 0, 200, 150),
        Rect::new(10, 20, 30, 40),
        Rect::new(0, 0, 200, 150),
    ] {
        let mut out = Vec::new();
        e.rect(&mut out, &f, r).expect("no error");
        assert_eq!(be32(&out[8..12]) as i32, ENC_ZLIB);
        let len = be32(&out[12..16]) as usize;
        assert_eq!(out.len(), 16 + len);
        let mut want = Vec::new();
        PixelWriter::new(PixelFormat::RGB888).put_rect(&mut want, &f, r);
        assert_eq!(inflater.inflate(&out[16..]), want);
    }
}

#[test]
fn zrle_round_trips_every_tile_kind() {
    // Solid, two-colour text, a 16-colour ramp, noise (raw or RLE).
    let mut f = Frame::test_pattern(300, 140);
    let mut seed = 7u32;
    for y in 70..140 {
        for x in 0..300 {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let i = y * 300 + x;
            f.pixels[i] = match x / 100 {
                0 => 0x00_33_66_99,
                1 => (x as u32 % 16) * 0x0f_0f_0f,
                _ => seed >> 8,
            };
        }
    }
    let mut e = Encoder::new();
    e.set_encodings(&[16]);
    let mut inflater = Inflater::new();
    for r in [
        f.bounds(),
        Rect::new(5, 65, 130, 70),
        Rect::new(299, 139, 1, 1),
    ] {
        let mut out = Vec::new();
        e.rect(&mut out, &f, r).expect("no error");
        let tiles = inflater.inflate(&out[16..]);
        let got = unzrle(&tiles, usize::from(r.w), usize::from(r.h));
        let want: Vec<u32> = (r.y..r.y + r.h)
            .flat_map(|y| f.row(r.x, y, r.w).to_vec())
            .collect();
        assert_eq!(got, want, "{r:?}");
    }
}

#[test]
fn copy_rect_and_desktop_size_wire_forms() {
    let mut out = Vec::new();
    Encoder::new().copy(&mut out, Rect::new(1, 2, 3, 4), 5, 6);
    assert_eq!(out, [0, 1, 0, 2, 0, 3, 0, 4, 0, 0, 0, 1, 0, 5, 0, 6]);
    out.clear();
    desktop_size(&mut out, 800, 600);
    assert_eq!(out, [0, 0, 0, 0, 3, 32, 2, 88, 255, 255, 255, 33]);
    assert_eq!(update_header(258), [0, 0, 1, 2]);
}

#[test]
fn zrle_compressed_pixels_follow_the_format() {
    // (format, which bytes of a full pixel a compressed one keeps)
    let high = PixelFormat {
        depth: 24,
        red_shift: 24,
        green_shift: 16,
        blue_shift: 8,
        ..PixelFormat::RGB888
    };
    let bgr16 = PixelFormat::RGB565;
    let cases = [
        (PixelFormat::RGB888, 0..3),
        (
            PixelFormat {
                big_endian: true,
                ..PixelFormat::RGB888
            },
            1..4,
        ),
        (high, 1..4),
        (
            PixelFormat {
                big_endian: true,
                ..high
            },
            0..3,
        ),
        (
            PixelFormat {
                depth: 32,
                ..PixelFormat::RGB888
            },
            0..4,
        ),
        (bgr16, 0..2),
        (
            PixelFormat {
                big_endian: true,
                ..bgr16
            },
            0..2,
        ),
    ];
    let f = Frame::test_pattern(100, 70);
    for (pf, keep) in cases {
        let mut e = Encoder::new();
        e.set_encodings(&[16]);
        e.set_pixel_format(pf);
        let mut out = Vec::new();
        e.rect(&mut out, &f, f.bounds()).expect("no error");
        let tiles = Inflater::new().inflate(&out[16..]);
        let got = unzrle_cpixels(&tiles, 100, 70, keep.len());
        let writer = PixelWriter::new(pf);
        let want: Vec<u32> = f
            .pixels
            .iter()
            .map(|&p| {
                let mut full = Vec::new();
                writer.put(&mut full, p);
                full[keep.clone()]
                    .iter()
                    .fold(0u32, |v, b| v << 8 | u32::from(*b))
            })
            .collect();
        assert_eq!(got, want, "{pf:?}");
    }
}
