//! The machine's offset from UTC now, as the C library sees local time
//! (`localtime_r`, which follows `TZ` and /etc/localtime): the inventory's
//! one call into libc, so the agent needs no time-zone crate of its own.

use std::mem::MaybeUninit;
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds east of UTC now on this machine (`7200` in Berlin in summer);
/// `None` if the C library cannot tell or says something beyond ±18 hours.
pub(crate) fn utc_offset_now() -> Option<i32> {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
    gmtoff_at(libc::time_t::try_from(secs).ok()?)
}

#[allow(unsafe_code)]
fn gmtoff_at(at: libc::time_t) -> Option<i32> {
    let mut tm = MaybeUninit::<libc::tm>::zeroed();
    // SAFETY: `localtime_r` reads `at` and writes only into `tm`, both
    // alive for the call; it is the reentrant form, with no shared static
    // result. It returns null on failure, checked before `tm` is used.
    let filled = unsafe { libc::localtime_r(&at, tm.as_mut_ptr()) };
    if filled.is_null() {
        return None;
    }
    // SAFETY: `tm` was zeroed (a valid `tm`: integers and a nullable
    // pointer) and then filled by `localtime_r`.
    let tm = unsafe { tm.assume_init() };
    i32::try_from(tm.tm_gmtoff)
        .ok()
        .filter(|s| s.unsigned_abs() <= 18 * 3600)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offset_now_is_a_real_one() {
        let offset = utc_offset_now().expect("the C library knows local time");
        assert!(offset.abs() <= 18 * 3600, "{offset}");
        // Offsets are whole minutes in every zone since 1972.
        assert_eq!(offset % 60, 0, "{offset}");
    }
}
