//! Pseudo-terminals and the shell's process group: `openpty`, the
//! controlling terminal (`setsid` + `TIOCSCTTY` between fork and exec),
//! window sizes and signals. Every `unsafe` of remote access is here.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// A new pseudo-terminal of `cols` x `rows`: (master, slave), both
/// close-on-exec (the slave is dup'ed onto the shell's stdio, which
/// clears it there).
pub(super) fn open(cols: u16, rows: u16) -> io::Result<(File, OwnedFd)> {
    let mut master = -1;
    let mut slave = -1;
    // `mut`: macOS declares the pointer mutable, Linux const.
    let mut size = winsize(cols, rows);
    // SAFETY: `openpty` writes two descriptors into the two ints, alive
    // for the call; the name pointer may be null, the termios pointer is
    // null (defaults) and the winsize pointer points at a valid struct.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &raw mut size,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `openpty` succeeded: both are open descriptors that nothing
    // else owns.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    for fd in [master.as_raw_fd(), slave.as_raw_fd()] {
        // SAFETY: plain fcntl on a descriptor we own.
        if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    // SAFETY: as above; O_NONBLOCK on the master for `AsyncFd`.
    let flags = unsafe { libc::fcntl(master.as_raw_fd(), libc::F_GETFL) };
    if flags < 0
        || unsafe { libc::fcntl(master.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) } != 0
    {
        return Err(io::Error::last_os_error());
    }
    Ok((File::from(master), slave))
}

fn winsize(cols: u16, rows: u16) -> libc::winsize {
    libc::winsize {
        ws_row: rows.max(1),
        ws_col: cols.max(1),
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}

/// Tells the terminal (and so the shell, by SIGWINCH) its new size.
pub(super) fn resize(master: &File, cols: u16, rows: u16) -> io::Result<()> {
    let size = winsize(cols, rows);
    // SAFETY: TIOCSWINSZ reads one `winsize`, alive for the call, on a
    // descriptor we own.
    let rc = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &size) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Makes the child a session leader whose controlling terminal is its
/// stdin (the slave), between fork and exec.
pub(super) fn controlling_terminal(cmd: &mut tokio::process::Command) {
    // SAFETY: the closure calls only async-signal-safe functions
    // (`setsid`, `ioctl`) and allocates nothing, as `pre_exec` requires.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::ioctl(0, libc::TIOCSCTTY as _, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Sends `signal` to process group `pgid` (the shell and what it
/// started); a group already gone is not an error.
pub(super) fn signal_group(pgid: u32, signal: i32) {
    let Ok(pgid) = libc::pid_t::try_from(pgid) else {
        return;
    };
    if pgid <= 1 {
        return;
    }
    // SAFETY: `kill` takes plain integers; a negative pid names a group.
    unsafe {
        libc::kill(-pgid, signal);
    }
}

/// The effective uid of this process.
pub(super) fn euid() -> u32 {
    // SAFETY: `geteuid` cannot fail and touches no memory.
    unsafe { libc::geteuid() }
}

/// The master, registered with tokio's reactor for non-blocking I/O.
pub(super) fn async_master(master: File) -> io::Result<tokio::io::unix::AsyncFd<File>> {
    // SAFETY: the `File` owns its descriptor, which stays open and the
    // same until the `AsyncFd` (which owns the `File`) is dropped.
    unsafe { tokio::io::unix::AsyncFd::register(master) }.map_err(|e| e.into_parts().1)
}
