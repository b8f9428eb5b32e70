//! The pixel layout a client asks for (RFC 6143 7.4): true colour only,
//! checked on arrival so the encoders never meet a channel outside its
//! pixel.

use super::ProtocolError;

/// How a client wants pixels laid out (RFC 6143 7.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelFormat {
    /// Bits per pixel: 8, 16 or 32.
    pub bits_per_pixel: u8,
    /// Useful bits.
    pub depth: u8,
    /// Multi-byte pixels are big-endian.
    pub big_endian: bool,
    /// Maximum red value (`2^n - 1`).
    pub red_max: u16,
    /// Maximum green value.
    pub green_max: u16,
    /// Maximum blue value.
    pub blue_max: u16,
    /// Shift of red within a pixel.
    pub red_shift: u8,
    /// Shift of green.
    pub green_shift: u8,
    /// Shift of blue.
    pub blue_shift: u8,
}

impl PixelFormat {
    /// The server's own format: 32 bpp, depth 24, little-endian, 0x00RRGGBB.
    pub const RGB888: PixelFormat = PixelFormat {
        bits_per_pixel: 32,
        depth: 24,
        big_endian: false,
        red_max: 255,
        green_max: 255,
        blue_max: 255,
        red_shift: 16,
        green_shift: 8,
        blue_shift: 0,
    };

    /// 16 bpp, 5-6-5, little-endian: the common low-bandwidth format, in
    /// tests of the conversions.
    #[cfg(test)]
    pub const RGB565: PixelFormat = PixelFormat {
        bits_per_pixel: 16,
        depth: 16,
        big_endian: false,
        red_max: 31,
        green_max: 63,
        blue_max: 31,
        red_shift: 11,
        green_shift: 5,
        blue_shift: 0,
    };

    /// The 16 bytes of the wire form (true colour).
    pub fn to_bytes(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[0] = self.bits_per_pixel;
        b[1] = self.depth;
        b[2] = u8::from(self.big_endian);
        b[3] = 1;
        b[4..6].copy_from_slice(&self.red_max.to_be_bytes());
        b[6..8].copy_from_slice(&self.green_max.to_be_bytes());
        b[8..10].copy_from_slice(&self.blue_max.to_be_bytes());
        b[10] = self.red_shift;
        b[11] = self.green_shift;
        b[12] = self.blue_shift;
        b
    }

    /// Parses and checks the wire form: true colour only (no colour
    /// maps), 8/16/32 bpp, every channel inside the pixel.
    pub fn from_bytes(b: &[u8; 16]) -> Result<PixelFormat, ProtocolError> {
        let be16 = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        let pf = PixelFormat {
            bits_per_pixel: b[0],
            depth: b[1],
            big_endian: b[2] != 0,
            red_max: be16(4),
            green_max: be16(6),
            blue_max: be16(8),
            red_shift: b[10],
            green_shift: b[11],
            blue_shift: b[12],
        };
        if b[3] == 0 {
            return Err(ProtocolError::Unsupported("colour-map pixel formats"));
        }
        if !matches!(pf.bits_per_pixel, 8 | 16 | 32) {
            return Err(ProtocolError::Unsupported(
                "bits per pixel other than 8, 16, 32",
            ));
        }
        let bits = |max: u16| 16 - max.leading_zeros();
        for (max, shift) in [
            (pf.red_max, pf.red_shift),
            (pf.green_max, pf.green_shift),
            (pf.blue_max, pf.blue_shift),
        ] {
            if u32::from(shift) + bits(max) > u32::from(pf.bits_per_pixel) {
                return Err(ProtocolError::Unsupported(
                    "a colour channel outside the pixel",
                ));
            }
        }
        Ok(pf)
    }

    /// Bytes per pixel on the wire.
    pub fn bytes_per_pixel(&self) -> usize {
        usize::from(self.bits_per_pixel / 8)
    }
}
