//! systemd readiness and watchdog notifications (`sd_notify`), for the
//! agent's and the server's `Type=notify` units.
//!
//! systemd passes a datagram socket in `NOTIFY_SOCKET` and, when the unit
//! sets `WatchdogSec=`, the interval in `WATCHDOG_USEC`. Outside systemd
//! (or on other systems) every function here does nothing. A failure to
//! notify is logged, never fatal: the service keeps running and systemd
//! reports the missing notification itself. [`stop_requested`] is the other
//! half: the stop request (SIGTERM or Ctrl-C) both binaries wait for.

use std::time::Duration;

/// Tells systemd the service is ready; does nothing outside systemd.
pub fn ready() {
    send("READY=1");
}

/// Tells systemd the service is stopping; does nothing outside systemd.
pub fn stopping() {
    send("STOPPING=1");
}

/// Starts a task that pings systemd's watchdog at half its interval, if
/// the unit has one. The pings stop when the returned guard drops. Call
/// inside a tokio runtime: the pings prove that the runtime still runs.
pub fn spawn_watchdog() -> Option<WatchdogGuard> {
    let every = watchdog_interval(std::env::var("WATCHDOG_USEC").ok().as_deref())?;
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            send("WATCHDOG=1");
        }
    });
    Some(WatchdogGuard(task))
}

/// Stops the watchdog pings when dropped.
#[derive(Debug)]
pub struct WatchdogGuard(tokio::task::JoinHandle<()>);

impl Drop for WatchdogGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Half the watchdog interval systemd gave in `WATCHDOG_USEC`, or `None`
/// when there is no (valid) watchdog.
fn watchdog_interval(usec: Option<&str>) -> Option<Duration> {
    let usec: u64 = usec?.trim().parse().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}

#[cfg(target_os = "linux")]
fn send(message: &str) {
    if let Some(path) = std::env::var_os("NOTIFY_SOCKET") {
        send_to(&path, message);
    }
}

#[cfg(target_os = "linux")]
fn send_to(path: &std::ffi::OsStr, message: &str) {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram};

    let result = (|| {
        let bytes = path.as_encoded_bytes();
        // A leading `@` names a socket in the abstract namespace.
        let addr = match bytes.strip_prefix(b"@") {
            Some(name) => SocketAddr::from_abstract_name(name)?,
            None => SocketAddr::from_pathname(path)?,
        };
        let socket = UnixDatagram::unbound()?;
        socket.send_to_addr(message.as_bytes(), &addr).map(drop)
    })();
    if let Err(e) = result {
        tracing::warn!(
            error = %e,
            socket = %path.to_string_lossy(),
            "could not notify systemd ({message}); check the unit's NotifyAccess"
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn send(_message: &str) {}

/// Waits until the service manager or the user asks the process to stop:
/// SIGTERM or Ctrl-C.
pub async fn stop_requested() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watchdog_interval_is_half_of_systemds() {
        assert_eq!(
            watchdog_interval(Some("30000000")),
            Some(Duration::from_secs(15))
        );
        assert_eq!(watchdog_interval(Some("0")), None);
        assert_eq!(watchdog_interval(Some("soon")), None);
        assert_eq!(watchdog_interval(None), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn ready_reaches_the_notify_socket() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("notify.sock");
        let socket = std::os::unix::net::UnixDatagram::bind(&path).expect("bind");
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        // `send` reads NOTIFY_SOCKET and calls this; setting the variable
        // needs `unsafe` in edition 2024, so pass the address directly.
        send_to(path.as_os_str(), "READY=1");
        let mut buf = [0u8; 64];
        let n = socket.recv(&mut buf).expect("a notification");
        assert_eq!(&buf[..n], b"READY=1");
    }
}
