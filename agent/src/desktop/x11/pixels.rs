//! An X server's ZPixmap image to a [`Frame`]: pure, so every layout a
//! server may send is tested without one.
//!
//! The layout comes from two places the server announces once: its
//! setup (bits per pixel and scanline padding for the root's depth, the
//! image byte order) and the root visual (where red, green and blue sit
//! in a pixel). 24-bit colour in 32-bit pixels, least significant byte
//! first, is what nearly every server sends today and gets a fast path;
//! 15/16-bit and 24-bit-packed screens go through the general one.

use crate::desktop::Frame;

/// How the pixels of a ZPixmap image are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelLayout {
    /// Bits per pixel in the image: 16, 24 or 32.
    pub bits_per_pixel: u8,
    /// Each row is padded to a multiple of this many bits.
    pub scanline_pad: u8,
    /// Multi-byte pixels are stored most significant byte first.
    pub msb_first: bool,
    /// The red bits of a pixel.
    pub red_mask: u32,
    /// The green bits of a pixel.
    pub green_mask: u32,
    /// The blue bits of a pixel.
    pub blue_mask: u32,
}

impl PixelLayout {
    /// Refuses the layouts capture cannot convert, with what to do.
    pub fn check(&self) -> Result<(), String> {
        if !matches!(self.bits_per_pixel, 16 | 24 | 32) {
            return Err(format!(
                "the X screen stores {} bits per pixel, which capture does not support; \
                 run the session at 16- or 24-bit colour",
                self.bits_per_pixel
            ));
        }
        if !matches!(self.scanline_pad, 8 | 16 | 32) {
            return Err(format!(
                "the X server pads image rows to {} bits, which capture does not support",
                self.scanline_pad
            ));
        }
        let max = if self.bits_per_pixel == 32 {
            u32::MAX
        } else {
            (1u32 << self.bits_per_pixel) - 1
        };
        for mask in [self.red_mask, self.green_mask, self.blue_mask] {
            // Each channel must be one run of bits inside the pixel.
            let run = mask.checked_shr(mask.trailing_zeros()).unwrap_or(0);
            if mask == 0 || mask & !max != 0 || run & run.wrapping_add(1) != 0 {
                return Err(format!(
                    "the X screen's colour masks ({:#x}, {:#x}, {:#x}) are not a true-colour \
                     layout capture understands",
                    self.red_mask, self.green_mask, self.blue_mask
                ));
            }
        }
        Ok(())
    }

    /// Bytes in one row of a `width`-pixel image, padding included.
    pub fn stride(&self, width: u16) -> usize {
        let bits = usize::from(width) * usize::from(self.bits_per_pixel);
        let pad = usize::from(self.scanline_pad.max(8));
        bits.div_ceil(pad) * pad / 8
    }

    /// The image's pixels as a frame; an error when `data` is too short
    /// for `width` x `height` or the layout fails [`PixelLayout::check`].
    pub fn to_frame(&self, data: &[u8], width: u16, height: u16) -> Result<Frame, String> {
        self.check()?;
        let stride = self.stride(width);
        let need = stride * usize::from(height);
        if data.len() < need {
            return Err(format!(
                "the X server sent {} bytes for a {width}x{height} image, {need} expected",
                data.len()
            ));
        }
        let mut frame = Frame::new(width, height);
        if width == 0 {
            return Ok(frame);
        }
        let rows = frame.pixels.chunks_exact_mut(usize::from(width));
        let common = self.bits_per_pixel == 32
            && !self.msb_first
            && (self.red_mask, self.green_mask, self.blue_mask) == (0xff_0000, 0xff00, 0xff);
        if common {
            for (out, row) in rows.zip(data.chunks_exact(stride)) {
                for (px, b) in out.iter_mut().zip(row.chunks_exact(4)) {
                    *px = u32::from_le_bytes([b[0], b[1], b[2], 0]);
                }
            }
            return Ok(frame);
        }
        let bytes = usize::from(self.bits_per_pixel / 8);
        let channels = [
            Channel::new(self.red_mask),
            Channel::new(self.green_mask),
            Channel::new(self.blue_mask),
        ];
        for (out, row) in rows.zip(data.chunks_exact(stride)) {
            for (px, b) in out.iter_mut().zip(row.chunks_exact(bytes)) {
                let raw = if self.msb_first {
                    b.iter().fold(0u32, |v, &x| (v << 8) | u32::from(x))
                } else {
                    b.iter().rev().fold(0u32, |v, &x| (v << 8) | u32::from(x))
                };
                *px = channels
                    .iter()
                    .fold(0u32, |v, c| (v << 8) | u32::from(c.value(raw)));
            }
        }
        Ok(frame)
    }
}

/// One colour channel's place in a pixel and how to widen it to 8 bits.
#[derive(Debug, Clone, Copy)]
struct Channel {
    mask: u32,
    shift: u32,
    bits: u32,
}

impl Channel {
    fn new(mask: u32) -> Channel {
        Channel {
            mask,
            shift: mask.trailing_zeros().min(31),
            bits: mask.count_ones(),
        }
    }

    /// The channel of `pixel` as 0..=255: wider channels drop their low
    /// bits, narrower ones scale so full intensity stays 255 (a 5-bit
    /// 31 is white, not 248).
    fn value(&self, pixel: u32) -> u8 {
        let v = (pixel & self.mask) >> self.shift;
        let out = match self.bits {
            0 => 0,
            b if b >= 8 => v >> (b - 8),
            b => {
                let max = (1u32 << b) - 1;
                (v * 255 + max / 2) / max
            }
        };
        u8::try_from(out).unwrap_or(u8::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RGB32: PixelLayout = PixelLayout {
        bits_per_pixel: 32,
        scanline_pad: 32,
        msb_first: false,
        red_mask: 0xff_0000,
        green_mask: 0xff00,
        blue_mask: 0xff,
    };

    #[test]
    fn depth_24_in_32_bits_either_byte_order() {
        // Two pixels, 0x123456 and 0xabcdef, with garbage in the pad byte.
        let lsb = [0x56, 0x34, 0x12, 0x99, 0xef, 0xcd, 0xab, 0x77];
        let f = RGB32.to_frame(&lsb, 2, 1).expect("converts");
        assert_eq!(f.pixels, [0x12_3456, 0xab_cdef]);
        let msb = [0x99, 0x12, 0x34, 0x56, 0x77, 0xab, 0xcd, 0xef];
        let layout = PixelLayout {
            msb_first: true,
            ..RGB32
        };
        assert_eq!(
            layout.to_frame(&msb, 2, 1).expect("converts").pixels,
            [0x12_3456, 0xab_cdef]
        );
    }

    #[test]
    fn swapped_channels_follow_the_masks() {
        // A BGR visual: blue in the high byte.
        let layout = PixelLayout {
            red_mask: 0xff,
            blue_mask: 0xff_0000,
            ..RGB32
        };
        let f = layout
            .to_frame(&[0x56, 0x34, 0x12, 0], 1, 1)
            .expect("converts");
        assert_eq!(f.pixels, [0x56_3412]);
    }

    #[test]
    fn rgb565_widens_to_full_intensity() {
        let layout = PixelLayout {
            bits_per_pixel: 16,
            scanline_pad: 32,
            msb_first: false,
            red_mask: 0xf800,
            green_mask: 0x07e0,
            blue_mask: 0x001f,
        };
        // White, pure red, then pad to 32 bits: 3 pixels take 8 bytes.
        let data = [0xff, 0xff, 0x00, 0xf8, 0x1f, 0x00, 0xaa, 0xbb];
        assert_eq!(layout.stride(3), 8);
        let f = layout.to_frame(&data, 3, 1).expect("converts");
        assert_eq!(f.pixels, [0xff_ffff, 0xff_0000, 0x00_00ff]);
    }

    #[test]
    fn packed_24_bit_rows_are_padded() {
        let layout = PixelLayout {
            bits_per_pixel: 24,
            ..RGB32
        };
        // Two rows of one pixel, each padded from 3 to 4 bytes.
        let data = [0x03, 0x02, 0x01, 0xee, 0x06, 0x05, 0x04, 0xee];
        let f = layout.to_frame(&data, 1, 2).expect("converts");
        assert_eq!(f.pixels, [0x01_0203, 0x04_0506]);
    }

    #[test]
    fn ten_bit_channels_keep_their_high_bits() {
        let layout = PixelLayout {
            red_mask: 0x3ff0_0000,
            green_mask: 0x000f_fc00,
            blue_mask: 0x0000_03ff,
            ..RGB32
        };
        let px: u32 = (0x3ff << 20) | (0x200 << 10) | 0x004;
        let f = layout.to_frame(&px.to_le_bytes(), 1, 1).expect("converts");
        assert_eq!(f.pixels, [0xff_8001]);
    }

    #[test]
    fn short_data_and_odd_layouts_are_errors_not_panics() {
        assert!(RGB32.to_frame(&[0; 7], 2, 1).is_err());
        let bad = [
            PixelLayout {
                bits_per_pixel: 8,
                ..RGB32
            },
            PixelLayout {
                bits_per_pixel: 1,
                ..RGB32
            },
            PixelLayout {
                red_mask: 0,
                ..RGB32
            },
            PixelLayout {
                red_mask: 0xf0f0_0000,
                ..RGB32
            },
            PixelLayout {
                bits_per_pixel: 16,
                ..RGB32
            },
            PixelLayout {
                scanline_pad: 0,
                ..RGB32
            },
        ];
        for layout in bad {
            assert!(layout.to_frame(&[0; 64], 2, 2).is_err(), "{layout:?}");
        }
        let empty = RGB32.to_frame(&[], 0, 5).expect("an empty image converts");
        assert!(empty.pixels.is_empty());
    }
}
