//! ZRLE's tile layer (RFC 6143 7.7.6), before deflate: the rectangle cut
//! into 64x64 tiles, each sent as whichever of solid, packed palette,
//! palette RLE, plain RLE or raw is smallest. Screens are mostly flat
//! colour and text in a few colours, which the palette and run forms
//! shrink before deflate sees them.

use super::encode::PixelWriter;
use super::frame::{Frame, Rect};

const TILE: u16 = 64;

/// How many bytes a "compressed pixel" takes: 32-bit pixels whose colour
/// bits fit in three bytes drop the fourth.
#[derive(Debug, Clone, Copy)]
enum CPixel {
    Full,
    Low3,
    High3,
}

fn cpixel_mode(w: &PixelWriter) -> CPixel {
    let pf = w.format();
    if pf.bits_per_pixel != 32 || pf.depth > 24 {
        return CPixel::Full;
    }
    let mask = |max: u16, shift: u8| u32::from(max).checked_shl(u32::from(shift)).unwrap_or(0);
    let all = mask(pf.red_max, pf.red_shift)
        | mask(pf.green_max, pf.green_shift)
        | mask(pf.blue_max, pf.blue_shift);
    if all < 1 << 24 {
        CPixel::Low3
    } else if all & 0xff == 0 {
        CPixel::High3
    } else {
        CPixel::Full
    }
}

struct Out<'a> {
    buf: &'a mut Vec<u8>,
    w: &'a PixelWriter,
    mode: CPixel,
    big_endian: bool,
}

impl Out<'_> {
    fn cpixel_len(&self) -> usize {
        match self.mode {
            CPixel::Full => self.w.format().bytes_per_pixel(),
            _ => 3,
        }
    }

    /// Appends an already converted pixel value.
    fn cpixel(&mut self, v: u32) {
        let (le, be) = (v.to_le_bytes(), v.to_be_bytes());
        match (self.mode, self.big_endian) {
            (CPixel::Low3, false) => self.buf.extend_from_slice(&le[..3]),
            (CPixel::Low3, true) => self.buf.extend_from_slice(&be[1..]),
            (CPixel::High3, false) => self.buf.extend_from_slice(&le[1..]),
            (CPixel::High3, true) => self.buf.extend_from_slice(&be[..3]),
            (CPixel::Full, _) => match self.w.format().bits_per_pixel {
                8 => self.buf.push(v as u8),
                16 if self.big_endian => self.buf.extend_from_slice(&(v as u16).to_be_bytes()),
                16 => self.buf.extend_from_slice(&(v as u16).to_le_bytes()),
                _ if self.big_endian => self.buf.extend_from_slice(&be),
                _ => self.buf.extend_from_slice(&le),
            },
        }
    }

    /// A run's length: (len - 1) as a sum of bytes, 255 meaning "more".
    fn run_length(&mut self, len: usize) {
        let mut rest = len - 1;
        while rest >= 255 {
            self.buf.push(255);
            rest -= 255;
        }
        self.buf.push(rest as u8);
    }
}

/// Appends the ZRLE tiles of `r` (not yet deflated).
pub(super) fn tiles(buf: &mut Vec<u8>, w: &PixelWriter, frame: &Frame, r: Rect) {
    let mut out = Out {
        buf,
        w,
        mode: cpixel_mode(w),
        big_endian: w.format().big_endian,
    };
    let mut px = Vec::with_capacity(usize::from(TILE) * usize::from(TILE));
    let mut ty = r.y;
    while ty < r.y.saturating_add(r.h) {
        let th = TILE.min(r.y + r.h - ty);
        let mut tx = r.x;
        while tx < r.x.saturating_add(r.w) {
            let tw = TILE.min(r.x + r.w - tx);
            px.clear();
            for y in ty..ty + th {
                let row = frame.row(tx, y, tw);
                px.extend(row.iter().map(|&p| w.convert(p)));
                px.extend((row.len()..usize::from(tw)).map(|_| w.convert(0)));
            }
            tile(&mut out, &px, usize::from(tw));
            tx += tw;
        }
        ty += th;
    }
}

fn length_bytes(len: usize) -> usize {
    (len - 1) / 255 + 1
}

/// A tile in a form without a palette: plain RLE (128) when `rle` (it
/// is smaller), else raw pixels (0).
fn plain(out: &mut Out<'_>, px: &[u32], runs: Vec<(u32, usize)>, rle: bool) {
    if rle {
        out.buf.push(128);
        for (v, n) in runs {
            out.cpixel(v);
            out.run_length(n);
        }
    } else {
        out.buf.push(0);
        px.iter().for_each(|&v| out.cpixel(v));
    }
}

/// One tile, `px` row-major with `width` pixels a row.
fn tile(out: &mut Out<'_>, px: &[u32], width: usize) {
    let cp = out.cpixel_len();
    let mut palette: Vec<u32> = Vec::with_capacity(16);
    for &p in px {
        if !palette.contains(&p) {
            palette.push(p);
            if palette.len() > 16 {
                break;
            }
        }
    }
    let runs = runs(px);
    if palette.len() == 1 {
        out.buf.push(1);
        out.cpixel(palette[0]);
        return;
    }
    let raw = px.len() * cp;
    let plain_rle: usize = runs.iter().map(|&(_, n)| cp + length_bytes(n)).sum();
    if palette.len() > 16 {
        plain(out, px, runs, plain_rle < raw);
        return;
    }
    let bits = match palette.len() {
        2 => 1,
        3 | 4 => 2,
        _ => 4,
    };
    let rows = px.len() / width.max(1);
    let packed = palette.len() * cp + rows * (width * bits).div_ceil(8);
    let palette_rle = palette.len() * cp
        + runs
            .iter()
            .map(|&(_, n)| if n == 1 { 1 } else { 1 + length_bytes(n) })
            .sum::<usize>();
    let index = |v: u32| palette.iter().position(|&p| p == v).unwrap_or(0) as u8;
    if packed.min(palette_rle) >= raw.min(plain_rle) {
        // Rare (a palette costs more than the pixels): plain forms.
        plain(out, px, runs, plain_rle < raw);
    } else if packed <= palette_rle {
        out.buf.push(palette.len() as u8);
        palette.iter().for_each(|&v| out.cpixel(v));
        for row in px.chunks(width.max(1)) {
            let (mut byte, mut used) = (0u8, 0);
            for &v in row {
                byte |= index(v) << (8 - bits - used);
                used += bits;
                if used == 8 {
                    out.buf.push(byte);
                    (byte, used) = (0, 0);
                }
            }
            if used > 0 {
                out.buf.push(byte);
            }
        }
    } else {
        out.buf.push(128 + palette.len() as u8);
        palette.iter().for_each(|&v| out.cpixel(v));
        for (v, n) in runs {
            if n == 1 {
                out.buf.push(index(v));
            } else {
                out.buf.push(index(v) | 128);
                out.run_length(n);
            }
        }
    }
}

/// Runs of equal pixels, across row ends (as ZRLE's RLE forms count them).
fn runs(px: &[u32]) -> Vec<(u32, usize)> {
    let mut out: Vec<(u32, usize)> = Vec::new();
    for &p in px {
        match out.last_mut() {
            Some((v, n)) if *v == p => *n += 1,
            _ => out.push((p, 1)),
        }
    }
    out
}
