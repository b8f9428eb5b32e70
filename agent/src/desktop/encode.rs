//! Rectangles of a [`Frame`] as a client asked for them: pixels converted
//! to its [`PixelFormat`] ([`PixelWriter`]), then sent in the best
//! encoding it listed ([`Encoder`]): ZRLE (16), zlib (6) or Raw (0),
//! plus CopyRect (1) for scrolls and the DesktopSize pseudo-encoding
//! (-223) for resolution changes.
//!
//! zlib and ZRLE each keep one deflate stream for the whole connection,
//! sync-flushed after every rectangle, as RFC 6143 and TigerVNC do: the
//! client's inflater carries its dictionary across rectangles, so the
//! encoder must never be reset or shared between connections.

use flate2::{Compress, Compression, FlushCompress};
use thiserror::Error;

use super::frame::{Frame, Rect};
use super::rfb::PixelFormat;
use super::zrle;

/// Raw pixels.
pub const ENC_RAW: i32 = 0;
/// A rectangle copied from elsewhere on the client's screen.
pub const ENC_COPY_RECT: i32 = 1;
/// Raw pixels through one zlib stream.
pub const ENC_ZLIB: i32 = 6;
/// Tiles of palettes and runs through one zlib stream.
pub const ENC_ZRLE: i32 = 16;
/// Pseudo-encoding: the client follows a change of screen size.
pub const ENC_DESKTOP_SIZE: i32 = -223;

/// zlib's level: 1 (fastest) keeps a scrolling 1080p window inside a
/// frame's budget on a slow CPU and loses little on screen content,
/// which is mostly runs.
const LEVEL: u32 = 1;

/// Compression failed (deflate's own state went wrong): the connection
/// cannot continue, since the client's inflater is now out of step.
#[derive(Debug, Error)]
#[error("compressing a rectangle failed: {0}")]
pub struct EncodeError(#[from] flate2::CompressError);

/// Converts `0x00RRGGBB` pixels into a client's pixel format, through a
/// table per channel (one lookup and shift per channel, not a division).
#[derive(Debug, Clone)]
pub struct PixelWriter {
    pf: PixelFormat,
    red: [u32; 256],
    green: [u32; 256],
    blue: [u32; 256],
}

impl PixelWriter {
    /// The tables for `pf`.
    pub fn new(pf: PixelFormat) -> PixelWriter {
        let table = |max: u16, shift: u8| {
            let mut t = [0u32; 256];
            for (c, v) in t.iter_mut().enumerate() {
                let scaled = (c as u32 * u32::from(max) + 127) / 255;
                *v = scaled.checked_shl(u32::from(shift)).unwrap_or(0);
            }
            t
        };
        PixelWriter {
            pf,
            red: table(pf.red_max, pf.red_shift),
            green: table(pf.green_max, pf.green_shift),
            blue: table(pf.blue_max, pf.blue_shift),
        }
    }

    /// The client's format.
    pub fn format(&self) -> &PixelFormat {
        &self.pf
    }

    /// `px` as the client's pixel value.
    pub fn convert(&self, px: u32) -> u32 {
        self.red[((px >> 16) & 0xff) as usize]
            | self.green[((px >> 8) & 0xff) as usize]
            | self.blue[(px & 0xff) as usize]
    }

    /// Appends `px` in the client's size and byte order.
    pub fn put(&self, out: &mut Vec<u8>, px: u32) {
        let v = self.convert(px);
        match (self.pf.bits_per_pixel, self.pf.big_endian) {
            (8, _) => out.push(v as u8),
            (16, false) => out.extend_from_slice(&(v as u16).to_le_bytes()),
            (16, true) => out.extend_from_slice(&(v as u16).to_be_bytes()),
            (_, false) => out.extend_from_slice(&v.to_le_bytes()),
            (_, true) => out.extend_from_slice(&v.to_be_bytes()),
        }
    }

    /// Appends the pixels of `r`, row by row (black past a short frame).
    pub fn put_rect(&self, out: &mut Vec<u8>, frame: &Frame, r: Rect) {
        out.reserve(r.area() as usize * self.pf.bytes_per_pixel());
        for y in r.y..r.y.saturating_add(r.h) {
            let row = frame.row(r.x, y, r.w);
            for &px in row {
                self.put(out, px);
            }
            for _ in row.len()..usize::from(r.w) {
                self.put(out, 0);
            }
        }
    }
}

/// The rectangle body encodings, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// ZRLE (16).
    Zrle,
    /// zlib (6).
    Zlib,
    /// Raw (0), which every client accepts.
    Raw,
}

/// One connection's encoder: the client's format and encodings, and the
/// deflate streams that live as long as the connection.
pub struct Encoder {
    writer: PixelWriter,
    body: Body,
    copy_rect: bool,
    desktop_size: bool,
    zlib: Compress,
    zrle: Compress,
    scratch: Vec<u8>,
}

impl Default for Encoder {
    fn default() -> Self {
        Encoder {
            writer: PixelWriter::new(PixelFormat::RGB888),
            body: Body::Raw,
            copy_rect: false,
            desktop_size: false,
            zlib: Compress::new(Compression::new(LEVEL), true),
            zrle: Compress::new(Compression::new(LEVEL), true),
            scratch: Vec::new(),
        }
    }
}

impl Encoder {
    /// Raw in the server's own format until the client says otherwise.
    pub fn new() -> Encoder {
        Encoder::default()
    }

    /// The client's SetPixelFormat.
    pub fn set_pixel_format(&mut self, pf: PixelFormat) {
        self.writer = PixelWriter::new(pf);
    }

    /// The client's SetEncodings: the first body encoding it lists that
    /// this server has wins (its list is in order of preference); Raw
    /// when it lists none.
    pub fn set_encodings(&mut self, list: &[i32]) {
        self.body = list
            .iter()
            .find_map(|e| match *e {
                ENC_ZRLE => Some(Body::Zrle),
                ENC_ZLIB => Some(Body::Zlib),
                ENC_RAW => Some(Body::Raw),
                _ => None,
            })
            .unwrap_or(Body::Raw);
        self.copy_rect = list.contains(&ENC_COPY_RECT);
        self.desktop_size = list.contains(&ENC_DESKTOP_SIZE);
    }

    /// The body encoding in use.
    pub fn body(&self) -> Body {
        self.body
    }

    /// The client takes CopyRect.
    pub fn copy_rect(&self) -> bool {
        self.copy_rect
    }

    /// The client follows screen size changes.
    pub fn desktop_size(&self) -> bool {
        self.desktop_size
    }

    /// Appends `r` of `frame` (clipped to it): its header, then its body.
    pub fn rect(&mut self, out: &mut Vec<u8>, frame: &Frame, r: Rect) -> Result<(), EncodeError> {
        let r = r.intersect(frame.bounds());
        match self.body {
            Body::Raw => {
                header(out, r, ENC_RAW);
                self.writer.put_rect(out, frame, r);
            }
            Body::Zlib => {
                header(out, r, ENC_ZLIB);
                self.scratch.clear();
                self.writer.put_rect(&mut self.scratch, frame, r);
                compressed(out, &mut self.zlib, &self.scratch)?;
            }
            Body::Zrle => {
                header(out, r, ENC_ZRLE);
                self.scratch.clear();
                zrle::tiles(&mut self.scratch, &self.writer, frame, r);
                compressed(out, &mut self.zrle, &self.scratch)?;
            }
        }
        Ok(())
    }

    /// Appends a CopyRect: `dst` takes the client's pixels at (src_x, src_y).
    pub fn copy(&self, out: &mut Vec<u8>, dst: Rect, src_x: u16, src_y: u16) {
        header(out, dst, ENC_COPY_RECT);
        out.extend_from_slice(&src_x.to_be_bytes());
        out.extend_from_slice(&src_y.to_be_bytes());
    }
}

/// Appends the DesktopSize pseudo-rectangle: the screen is now w x h.
pub fn desktop_size(out: &mut Vec<u8>, width: u16, height: u16) {
    header(out, Rect::new(0, 0, width, height), ENC_DESKTOP_SIZE);
}

/// The FramebufferUpdate header for `rects` rectangles.
pub fn update_header(rects: u16) -> [u8; 4] {
    let n = rects.to_be_bytes();
    [0, 0, n[0], n[1]]
}

fn header(out: &mut Vec<u8>, r: Rect, encoding: i32) {
    for v in [r.x, r.y, r.w, r.h] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out.extend_from_slice(&encoding.to_be_bytes());
}

/// Appends `data` deflated through `stream` and sync-flushed, after its
/// u32 length (the framing zlib and ZRLE share).
fn compressed(out: &mut Vec<u8>, stream: &mut Compress, data: &[u8]) -> Result<(), EncodeError> {
    let len_at = out.len();
    out.extend_from_slice(&[0; 4]);
    let start_in = stream.total_in();
    let start = out.len();
    loop {
        out.reserve(data.len() / 4 + 256);
        let done = (stream.total_in() - start_in) as usize;
        stream.compress_vec(&data[done.min(data.len())..], out, FlushCompress::Sync)?;
        let done = (stream.total_in() - start_in) as usize;
        // Flushed when all input is in and deflate left room unused.
        if done >= data.len() && out.len() < out.capacity() {
            break;
        }
    }
    let len = (out.len() - start) as u32;
    out[len_at..start].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

#[cfg(test)]
#[path = "encode_tests.rs"]
pub(crate) mod tests;
