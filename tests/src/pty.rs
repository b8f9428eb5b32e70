//! A real terminal for a command under test: `deskhand shell` run on the
//! slave side of a pseudo-terminal the test holds the master of, so the
//! CLI sees a terminal (raw mode, its size, SIGWINCH) exactly as on a
//! technician's desk. The test types on the master and reads what the
//! command draws; [`Pty::resize`] changes the size, which the kernel
//! signals to the command.
//!
//! The tests' only `unsafe`: openpty, the size ioctl, and making the
//! terminal the child's controlling one.
#![allow(unsafe_code)]

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// A command running on a pseudo-terminal, and everything it wrote.
pub struct Pty {
    master: std::fs::File,
    child: Child,
    screen: Arc<Mutex<Vec<u8>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Pty {
    /// Starts `command` on a new pseudo-terminal of `cols` x `rows`, as the
    /// leader of a new session whose controlling terminal it is.
    pub fn spawn(mut command: Command, cols: u16, rows: u16) -> Result<Pty> {
        let (master, slave) = open(cols, rows)?;
        let slave_fd = slave.as_raw_fd();
        command
            .stdin(Stdio::from(slave.try_clone()?))
            .stdout(Stdio::from(slave.try_clone()?))
            .stderr(Stdio::from(slave));
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            command.pre_exec(move || {
                if libc::setsid() < 0 || libc::ioctl(slave_fd, libc::TIOCSCTTY as _, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().context("starting a command on a pty")?;
        let master = std::fs::File::from(master);
        let mut reading = master.try_clone()?;
        let screen = Arc::new(Mutex::new(Vec::new()));
        let sink = screen.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            // EIO once the last slave descriptor closes: the command ended.
            while let Ok(n @ 1..) = reading.read(&mut buf) {
                sink.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend_from_slice(&buf[..n]);
            }
        });
        Ok(Pty {
            master,
            child,
            screen,
            reader: Some(reader),
        })
    }

    /// Types `bytes` as the user would.
    pub fn type_bytes(&mut self, bytes: &[u8]) {
        self.master.write_all(bytes).expect("typing on the pty");
    }

    /// Everything the command wrote so far, as text.
    pub fn screen(&self) -> String {
        let bytes = self.screen.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// How many bytes the command wrote so far.
    pub fn written(&self) -> usize {
        self.screen.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Waits until the screen, from byte `from` on, contains `text`.
    pub fn expect_after(&self, from: usize, text: &str, limit: Duration) -> Result<()> {
        let start = Instant::now();
        loop {
            {
                let bytes = self.screen.lock().unwrap_or_else(|e| e.into_inner());
                let tail = String::from_utf8_lossy(&bytes[from.min(bytes.len())..]);
                if tail.contains(text) {
                    return Ok(());
                }
            }
            if start.elapsed() > limit {
                bail!(
                    "{text:?} did not appear within {limit:?}; the screen:\n{}",
                    self.screen()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the screen contains `text` anywhere.
    pub fn expect(&self, text: &str, limit: Duration) -> Result<()> {
        self.expect_after(0, text, limit)
    }

    /// Changes the terminal's size; the kernel sends the command SIGWINCH.
    pub fn resize(&self, cols: u16, rows: u16) -> Result<()> {
        set_size(self.master.as_raw_fd(), cols, rows)
    }

    /// Waits for the command to exit, killing it after `limit`.
    pub fn wait(&mut self, limit: Duration) -> Option<ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The reader ends at EIO once the child's descriptors are gone.
        if let Some(reader) = self.reader.take()
            && reader.is_finished()
        {
            let _ = reader.join();
        }
    }
}

fn open(cols: u16, rows: u16) -> Result<(OwnedFd, OwnedFd)> {
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: openpty writes two descriptors into the pointers given.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    if rc != 0 {
        bail!("openpty: {}", std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just opened and are owned here.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    set_size(master.as_raw_fd(), cols, rows)?;
    Ok((master, slave))
}

fn set_size(fd: i32, cols: u16, rows: u16) -> Result<()> {
    let size = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize from the pointer.
    if unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &size) } != 0 {
        bail!("TIOCSWINSZ: {}", std::io::Error::last_os_error());
    }
    Ok(())
}
