//! A minimal RFB viewer for end-to-end tests: the 3.8 handshake with
//! security None, Raw updates in the server's own pixel format, key
//! events. Blocking, with a read timeout on every wait.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One viewer connection and the picture it holds.
pub struct Viewer {
    stream: TcpStream,
    /// Screen width.
    pub width: u16,
    /// Screen height.
    pub height: u16,
    /// The picture, 0x00RRGGBB row by row.
    pub pixels: Vec<u32>,
    /// The desktop's name, as ServerInit gave it.
    pub name: String,
    format: Format,
}

#[derive(Clone, Copy)]
struct Format {
    bytes: usize,
    big_endian: bool,
    max: [u16; 3],
    shift: [u8; 3],
}

impl Viewer {
    /// Performs the handshake on a connected stream, waiting up to
    /// `wait` for the server's first bytes (a prompt may stand between).
    pub fn handshake(mut stream: TcpStream, wait: Duration) -> Result<Viewer, String> {
        let e = |e: std::io::Error| e.to_string();
        stream.set_read_timeout(Some(wait)).map_err(e)?;
        let mut version = [0u8; 12];
        stream.read_exact(&mut version).map_err(e)?;
        if &version[..4] != b"RFB " {
            return Err(format!("not RFB: {:?}", String::from_utf8_lossy(&version)));
        }
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(e)?;
        stream.write_all(b"RFB 003.008\n").map_err(e)?;
        let count = read_u8(&mut stream)?;
        let mut types = vec![0u8; usize::from(count)];
        stream.read_exact(&mut types).map_err(e)?;
        if !types.contains(&1) {
            return Err(format!("no security None among {types:?}"));
        }
        stream.write_all(&[1]).map_err(e)?;
        let mut result = [0u8; 4];
        stream.read_exact(&mut result).map_err(e)?;
        if result != [0; 4] {
            return Err("security failed".into());
        }
        stream.write_all(&[1]).map_err(e)?;
        let mut init = [0u8; 24];
        stream.read_exact(&mut init).map_err(e)?;
        let width = u16::from_be_bytes([init[0], init[1]]);
        let height = u16::from_be_bytes([init[2], init[3]]);
        let pf = &init[4..20];
        let format = Format {
            bytes: usize::from(pf[0] / 8),
            big_endian: pf[2] != 0,
            max: [
                u16::from_be_bytes([pf[4], pf[5]]),
                u16::from_be_bytes([pf[6], pf[7]]),
                u16::from_be_bytes([pf[8], pf[9]]),
            ],
            shift: [pf[10], pf[11], pf[12]],
        };
        let len = u32::from_be_bytes([init[20], init[21], init[22], init[23]]);
        let mut name = vec![0u8; len.min(4096) as usize];
        stream.read_exact(&mut name).map_err(e)?;
        // SetEncodings: Raw only.
        stream.write_all(&[2, 0, 0, 1, 0, 0, 0, 0]).map_err(e)?;
        Ok(Viewer {
            stream,
            width,
            height,
            pixels: vec![0; usize::from(width) * usize::from(height)],
            name: String::from_utf8_lossy(&name).into_owned(),
            format,
        })
    }

    /// Asks for the whole screen and reads the update.
    pub fn refresh(&mut self) -> Result<(), String> {
        let mut ask = vec![3, 0, 0, 0, 0, 0];
        ask.extend(self.width.to_be_bytes());
        ask.extend(self.height.to_be_bytes());
        self.stream.write_all(&ask).map_err(|e| e.to_string())?;
        self.read_update()
    }

    /// Presses and releases the key of each character (keysyms are
    /// Latin-1 code points).
    pub fn type_text(&mut self, text: &str) -> Result<(), String> {
        for c in text.chars() {
            for down in [1u8, 0] {
                let mut key = vec![4, down, 0, 0];
                key.extend(u32::from(c).to_be_bytes());
                self.stream.write_all(&key).map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }

    /// Whether the server closed the connection within `wait` (bytes it
    /// sends meanwhile are read and dropped).
    pub fn closed_within(&mut self, wait: Duration) -> bool {
        let _ = self.stream.set_read_timeout(Some(wait));
        let mut buf = [0u8; 4096];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e) => return e.kind() == std::io::ErrorKind::ConnectionReset,
            }
        }
    }

    fn read_update(&mut self) -> Result<(), String> {
        loop {
            match read_u8(&mut self.stream)? {
                0 => break,
                2 => continue, // Bell
                3 => {
                    let mut head = [0u8; 7];
                    self.read(&mut head)?;
                    let len = u32::from_be_bytes([head[3], head[4], head[5], head[6]]);
                    let mut text = vec![0u8; len.min(1 << 20) as usize];
                    self.read(&mut text)?;
                }
                other => return Err(format!("unexpected server message {other}")),
            }
        }
        let mut head = [0u8; 3];
        self.read(&mut head)?;
        let count = u16::from_be_bytes([head[1], head[2]]);
        for _ in 0..count {
            let mut r = [0u8; 12];
            self.read(&mut r)?;
            let at = |i: usize| usize::from(u16::from_be_bytes([r[i], r[i + 1]]));
            let (x, y, w, h) = (at(0), at(2), at(4), at(6));
            let encoding = i32::from_be_bytes([r[8], r[9], r[10], r[11]]);
            if encoding != 0 {
                return Err(format!("asked for Raw, got encoding {encoding}"));
            }
            let mut data = vec![0u8; w * h * self.format.bytes];
            self.read(&mut data)?;
            for row in 0..h {
                for col in 0..w {
                    let i = (row * w + col) * self.format.bytes;
                    let px = self.format.pixel(&data[i..i + self.format.bytes]);
                    let at = (y + row) * usize::from(self.width) + x + col;
                    if let Some(p) = self.pixels.get_mut(at) {
                        *p = px;
                    }
                }
            }
        }
        Ok(())
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<(), String> {
        self.stream.read_exact(buf).map_err(|e| e.to_string())
    }
}

impl Format {
    /// One pixel as 0x00RRGGBB.
    fn pixel(&self, b: &[u8]) -> u32 {
        let mut v = 0u32;
        let ordered: Vec<u8> = if self.big_endian {
            b.to_vec()
        } else {
            b.iter().rev().copied().collect()
        };
        for byte in ordered {
            v = (v << 8) | u32::from(byte);
        }
        let channel = |i: usize| {
            let max = u32::from(self.max[i]).max(1);
            ((v >> self.shift[i]) & max) * 255 / max
        };
        (channel(0) << 16) | (channel(1) << 8) | channel(2)
    }
}

fn read_u8(s: &mut TcpStream) -> Result<u8, String> {
    let mut b = [0u8; 1];
    s.read_exact(&mut b).map_err(|e| e.to_string())?;
    Ok(b[0])
}
