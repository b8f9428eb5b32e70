//! A private X server for a test: [`Xvfb::start`] runs one on a free
//! display number and stops it when the guard drops (a failing assertion
//! included); [`parse_xwd`] reads the screenshots `xwd` takes of it.
//!
//! Std only, so the agent's X11 tests include this file by path
//! (`#[path = "../../tests/src/xvfb.rs"] mod xvfb;`) and the end-to-end
//! tests use it as `deskhand_tests::xvfb` without either crate depending
//! on the other. Needs `Xvfb` and `xwd` (Debian: xvfb, x11-apps); without
//! them a test is SKIPPED, except under CI (`CI` set), where a missing
//! tool is a failure.
#![allow(dead_code, unreachable_pub)]

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// An Xvfb of this test's own, stopped and its socket removed on drop.
pub struct Xvfb {
    child: Child,
    number: u32,
}

impl Xvfb {
    /// Starts one of `size` (`640x480x24`) on a free display number, or
    /// None (having printed SKIPPED) when the tools are missing outside CI.
    pub fn start(size: &str) -> Option<Xvfb> {
        for tool in ["Xvfb", "xwd"] {
            if !on_path(tool) {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "{tool} is missing: CI must install the xvfb and x11-apps packages"
                );
                eprintln!("SKIPPED: {tool} is not installed (Debian: xvfb x11-apps)");
                return None;
            }
        }
        // Distinct numbers for this process's tests; another process's
        // Xvfb shows as a lock file or a server that fails to start.
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let base = 200 + (std::process::id() % 300) * 3;
        for _ in 0..30 {
            let number = base + NEXT.fetch_add(1, Ordering::Relaxed);
            if lock_file(number).exists() || socket(number).exists() {
                continue;
            }
            let child = Command::new("Xvfb")
                .arg(format!(":{number}"))
                .args(["-screen", "0", size, "-nolisten", "tcp", "-noreset"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("Xvfb starts");
            let mut xvfb = Xvfb { child, number };
            if xvfb.wait_ready() {
                return Some(xvfb);
            }
        }
        panic!("no free display number for Xvfb");
    }

    /// Waits (at most 10 s) until the server takes connections; false
    /// when it exited, as it does when another took the number first.
    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if UnixStream::connect(socket(self.number)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("Xvfb :{} did not open its socket within 10 s", self.number);
    }

    /// The display name to connect to (`:217`).
    pub fn display(&self) -> String {
        format!(":{}", self.number)
    }

    /// A screenshot of the whole screen by `xwd`, as [`parse_xwd`] reads it.
    pub fn screenshot(&self) -> (u16, u16, Vec<u32>) {
        let shot = Command::new("xwd")
            .args(["-root", "-silent", "-display", &self.display()])
            .output()
            .expect("xwd runs");
        assert!(shot.status.success(), "xwd: {shot:?}");
        parse_xwd(&shot.stdout)
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(socket(self.number));
        let _ = std::fs::remove_file(lock_file(self.number));
    }
}

fn socket(n: u32) -> PathBuf {
    PathBuf::from(format!("/tmp/.X11-unix/X{n}"))
}

fn lock_file(n: u32) -> PathBuf {
    PathBuf::from(format!("/tmp/.X{n}-lock"))
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| Path::new(&d).join(tool).is_file()))
}

/// A screenshot as (width, height, 0x00RRGGBB pixels row by row), from
/// an XWD file (big-endian header; the pixel layout as the file says).
pub fn parse_xwd(file: &[u8]) -> (u16, u16, Vec<u32>) {
    let field = |i: usize| {
        let b = file.get(i * 4..i * 4 + 4).expect("an XWD header");
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    };
    assert_eq!(field(1), 7, "XWD version");
    assert_eq!(field(2), 2, "ZPixmap");
    let (width, height) = (field(4) as usize, field(5) as usize);
    let msb_first = field(7) == 1;
    let (bpp, stride) = (field(11) as usize, field(12) as usize);
    let masks = [field(14), field(15), field(16)];
    assert!(masks.iter().all(|m| m.count_ones() == 8), "{masks:x?}");
    assert!(bpp == 32 || bpp == 24, "{bpp} bits per pixel");
    let start = field(0) as usize + field(19) as usize * 12;
    let data = &file[start..];
    let mut pixels = Vec::with_capacity(width * height);
    for y in 0..height {
        let row = &data[y * stride..];
        for x in 0..width {
            let b = &row[x * bpp / 8..(x + 1) * bpp / 8];
            let v = if msb_first {
                b.iter().fold(0u32, |v, &x| (v << 8) | u32::from(x))
            } else {
                b.iter().rev().fold(0u32, |v, &x| (v << 8) | u32::from(x))
            };
            pixels.push(
                masks
                    .iter()
                    .fold(0, |p, m| (p << 8) | ((v & m) >> m.trailing_zeros())),
            );
        }
    }
    (width as u16, height as u16, pixels)
}
