//! A CoreGraphics image's pixels to a [`Frame`]: pure and compiled on
//! every platform, so each bitmap layout macOS may hand back is tested on
//! the Linux build machines too (the capture itself is `quartz_macos`).
//!
//! A `CGImage` describes its bytes with a size, a row stride, bits per
//! pixel and per component, and a `CGBitmapInfo`: where alpha sits, the
//! byte order of a pixel, and whether components are floats or packed
//! 10-bit. A display image is nearly always 8-bit BGRA (32-bit
//! little-endian, premultiplied alpha first) and gets a fast path; every
//! other 32-bit, 8-bit-per-component layout goes through shifts; the rest
//! is refused with a sentence.
//!
//! Alpha is ignored: a screen is opaque, and premultiplied components of
//! an opaque pixel are its colour.

use crate::desktop::Frame;

/// `kCGBitmapAlphaInfoMask`: the `CGImageAlphaInfo` bits.
const ALPHA_MASK: u32 = 0x1f;
/// `kCGBitmapFloatComponents`.
const FLOAT_COMPONENTS: u32 = 1 << 8;
/// `kCGBitmapByteOrderMask`.
const BYTE_ORDER_MASK: u32 = 0x7000;
/// `kCGBitmapByteOrder32Little`.
pub const BYTE_ORDER_32_LITTLE: u32 = 2 << 12;
/// `kCGBitmapByteOrder32Big`.
pub const BYTE_ORDER_32_BIG: u32 = 4 << 12;
/// `kCGImagePixelFormatMask` (macOS 10.14+): 0 is packed components.
const PIXEL_FORMAT_MASK: u32 = 0xf_0000;

/// `kCGImageAlphaPremultipliedLast`: R, G, B, A from the top byte.
pub const ALPHA_PREMULTIPLIED_LAST: u32 = 1;
/// `kCGImageAlphaPremultipliedFirst`: A, R, G, B from the top byte.
pub const ALPHA_PREMULTIPLIED_FIRST: u32 = 2;
/// `kCGImageAlphaLast`.
pub const ALPHA_LAST: u32 = 3;
/// `kCGImageAlphaFirst`.
pub const ALPHA_FIRST: u32 = 4;
/// `kCGImageAlphaNoneSkipLast`: R, G, B, unused.
pub const ALPHA_NONE_SKIP_LAST: u32 = 5;
/// `kCGImageAlphaNoneSkipFirst`: unused, R, G, B.
pub const ALPHA_NONE_SKIP_FIRST: u32 = 6;

/// What `CGImageGet*` says of an image's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageLayout {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Bytes from one row's start to the next (rows may be padded).
    pub bytes_per_row: usize,
    /// Bits per pixel.
    pub bits_per_pixel: usize,
    /// Bits per colour component.
    pub bits_per_component: usize,
    /// The image's `CGBitmapInfo`.
    pub bitmap_info: u32,
}

/// Where a pixel's colours sit in the 32-bit word its four bytes form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shifts {
    /// The word is read least significant byte first.
    little: bool,
    red: u32,
    green: u32,
    blue: u32,
}

impl ImageLayout {
    /// The image's bytes (`CFDataGetBytePtr`/`CFDataGetLength` of the
    /// image's data provider) as a frame, or why they cannot be.
    pub fn to_frame(&self, data: &[u8]) -> Result<Frame, String> {
        let shifts = self.shifts()?;
        let (width, height) = match (u16::try_from(self.width), u16::try_from(self.height)) {
            (Ok(w), Ok(h)) if w > 0 && h > 0 => (w, h),
            _ => {
                return Err(format!(
                    "the display's image is {}x{} pixels; sharing supports 1 to 65535 a side",
                    self.width, self.height
                ));
            }
        };
        let row_bytes = self.width * 4;
        let needed = (self.height - 1)
            .checked_mul(self.bytes_per_row)
            .and_then(|n| n.checked_add(row_bytes));
        if self.bytes_per_row < row_bytes || needed.is_none_or(|n| data.len() < n) {
            return Err(format!(
                "the display's image is shorter than its size says ({} bytes for {}x{} at \
                 {} bytes a row); capture it again",
                data.len(),
                self.width,
                self.height,
                self.bytes_per_row
            ));
        }
        let mut pixels = Vec::with_capacity(self.width * self.height);
        for row in data.chunks(self.bytes_per_row).take(self.height) {
            let row = row.get(..row_bytes).unwrap_or(&[]);
            let words = row.chunks_exact(4).map(|b| {
                let b = [b[0], b[1], b[2], b[3]];
                if shifts.little {
                    u32::from_le_bytes(b)
                } else {
                    u32::from_be_bytes(b)
                }
            });
            if (shifts.red, shifts.green, shifts.blue) == (16, 8, 0) {
                // BGRA little-endian (the usual) and ARGB big-endian.
                pixels.extend(words.map(|w| w & 0x00ff_ffff));
            } else {
                pixels.extend(words.map(|w| {
                    ((w >> shifts.red) & 0xff) << 16
                        | ((w >> shifts.green) & 0xff) << 8
                        | ((w >> shifts.blue) & 0xff)
                }));
            }
        }
        Ok(Frame {
            width,
            height,
            pixels,
        })
    }

    /// The shifts of a supported layout; a sentence for the others.
    fn shifts(&self) -> Result<Shifts, String> {
        let info = self.bitmap_info;
        let refuse = |what: &str| {
            Err(format!(
                "the display's image is {what} ({} bits per pixel, {} per component, \
                 bitmap info {info:#x}); screen sharing reads 32-bit pixels of 8-bit \
                 components only",
                self.bits_per_pixel, self.bits_per_component
            ))
        };
        if self.bits_per_pixel != 32 || self.bits_per_component != 8 {
            return refuse("not 8-bit colour in 32-bit pixels");
        }
        if info & FLOAT_COMPONENTS != 0 {
            return refuse("in floating-point components");
        }
        if info & PIXEL_FORMAT_MASK != 0 {
            return refuse("in a packed 10- or 16-bit pixel format");
        }
        let little = match info & BYTE_ORDER_MASK {
            BYTE_ORDER_32_LITTLE => true,
            // Default order is big-endian: bytes in component order.
            0 | BYTE_ORDER_32_BIG => false,
            _ => return refuse("in a 16-bit byte order"),
        };
        let (red, green, blue) = match info & ALPHA_MASK {
            ALPHA_PREMULTIPLIED_FIRST | ALPHA_FIRST | ALPHA_NONE_SKIP_FIRST => (16, 8, 0),
            ALPHA_PREMULTIPLIED_LAST | ALPHA_LAST | ALPHA_NONE_SKIP_LAST => (24, 16, 8),
            _ => return refuse("without 4 components per pixel"),
        };
        Ok(Shifts {
            little,
            red,
            green,
            blue,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 2x2 image of `pixels` (as bytes, per pixel) with `pad` spare
    /// bytes at each row's end.
    fn layout(info: u32, pad: usize) -> ImageLayout {
        ImageLayout {
            width: 2,
            height: 2,
            bytes_per_row: 8 + pad,
            bits_per_pixel: 32,
            bits_per_component: 8,
            bitmap_info: info,
        }
    }

    fn bytes(pixels: [[u8; 4]; 4], pad: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for row in pixels.chunks(2) {
            for px in row {
                out.extend_from_slice(px);
            }
            out.extend(std::iter::repeat_n(0xee, pad));
        }
        out
    }

    const WANT: [u32; 4] = [0x11_22_33, 0x44_55_66, 0x77_88_99, 0xaa_bb_cc];

    #[test]
    fn bgra_little_endian_premultiplied_first_is_the_usual_screen() {
        let l = layout(BYTE_ORDER_32_LITTLE | ALPHA_PREMULTIPLIED_FIRST, 8);
        let data = bytes(
            [
                [0x33, 0x22, 0x11, 0xff],
                [0x66, 0x55, 0x44, 0xff],
                [0x99, 0x88, 0x77, 0xff],
                [0xcc, 0xbb, 0xaa, 0xff],
            ],
            8,
        );
        let frame = l.to_frame(&data).expect("converted");
        assert_eq!((frame.width, frame.height), (2, 2));
        assert_eq!(frame.pixels, WANT);
    }

    #[test]
    fn every_32_bit_order_gives_the_same_colours() {
        let argb = [
            [0xff, 0x11, 0x22, 0x33],
            [0xff, 0x44, 0x55, 0x66],
            [0xff, 0x77, 0x88, 0x99],
            [0xff, 0xaa, 0xbb, 0xcc],
        ];
        let rgba = argb.map(|[a, r, g, b]| [r, g, b, a]);
        let abgr = argb.map(|[a, r, g, b]| [a, b, g, r]);
        let cases = [
            (BYTE_ORDER_32_BIG | ALPHA_PREMULTIPLIED_FIRST, argb),
            (ALPHA_NONE_SKIP_FIRST, argb),
            (BYTE_ORDER_32_BIG | ALPHA_LAST, rgba),
            (ALPHA_PREMULTIPLIED_LAST, rgba),
            (BYTE_ORDER_32_LITTLE | ALPHA_NONE_SKIP_LAST, abgr),
            (
                BYTE_ORDER_32_LITTLE | ALPHA_FIRST,
                argb.map(|[a, r, g, b]| [b, g, r, a]),
            ),
        ];
        for (info, px) in cases {
            let frame = layout(info, 0).to_frame(&bytes(px, 0));
            assert_eq!(frame.map(|f| f.pixels), Ok(WANT.to_vec()), "{info:#x}");
        }
    }

    #[test]
    fn layouts_other_than_8_bit_in_32_are_refused_with_a_sentence() {
        let ok = BYTE_ORDER_32_LITTLE | ALPHA_PREMULTIPLIED_FIRST;
        let data = vec![0u8; 64];
        let mut cases = vec![
            (
                ImageLayout {
                    bits_per_pixel: 24,
                    ..layout(ok, 0)
                },
                "32-bit",
            ),
            (
                ImageLayout {
                    bits_per_pixel: 16,
                    ..layout(ok, 0)
                },
                "32-bit",
            ),
            (
                ImageLayout {
                    bits_per_pixel: 64,
                    bits_per_component: 16,
                    ..layout(ok, 0)
                },
                "8-bit",
            ),
            (layout(ok | FLOAT_COMPONENTS, 0), "floating-point"),
            (layout(ok | (3 << 16), 0), "10- or 16-bit"),
            (
                layout(ALPHA_PREMULTIPLIED_FIRST | (1 << 12), 0),
                "16-bit byte order",
            ),
            (layout(BYTE_ORDER_32_LITTLE, 0), "4 components"),
        ];
        // kCGImageAlphaOnly: no colour at all.
        cases.push((layout(BYTE_ORDER_32_LITTLE | 7, 0), "4 components"));
        for (l, why) in cases {
            let err = l.to_frame(&data).expect_err("refused");
            assert!(err.contains(why), "{l:?}: {err}");
            assert!(err.contains("screen sharing reads 32-bit pixels"), "{err}");
        }
    }

    #[test]
    fn short_data_and_bad_sizes_are_errors_not_panics() {
        let l = layout(BYTE_ORDER_32_LITTLE | ALPHA_PREMULTIPLIED_FIRST, 4);
        // The last row needs no padding: 12 + 8 bytes is enough.
        assert!(l.to_frame(&[0; 20]).is_ok());
        let err = l.to_frame(&[0; 19]).expect_err("short");
        assert!(err.contains("shorter"), "{err}");
        let narrow = ImageLayout {
            bytes_per_row: 4,
            ..l
        };
        assert!(narrow.to_frame(&[0; 64]).is_err());
        for (w, h) in [(0, 2), (2, 0), (70_000, 1)] {
            let err = ImageLayout {
                width: w,
                height: h,
                bytes_per_row: w * 4,
                ..l
            }
            .to_frame(&[0; 64])
            .expect_err("size");
            assert!(err.contains("65535"), "{err}");
        }
        let huge = ImageLayout {
            height: usize::MAX,
            bytes_per_row: 8,
            ..l
        };
        assert!(huge.to_frame(&[0; 64]).is_err());
    }
}
