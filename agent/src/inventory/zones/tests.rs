//! The Windows-to-IANA table and the bias conversion.

use super::*;

#[test]
fn known_windows_zones_map_to_their_iana_zone() {
    for (windows, iana) in [
        ("W. Europe Standard Time", "Europe/Berlin"),
        ("Eastern Standard Time", "America/New_York"),
        ("Pacific Standard Time", "America/Los_Angeles"),
        ("India Standard Time", "Asia/Calcutta"),
        ("AUS Eastern Standard Time", "Australia/Sydney"),
        ("UTC", "Etc/UTC"),
        ("Dateline Standard Time", "Etc/GMT+12"),
        ("Line Islands Standard Time", "Pacific/Kiritimati"),
        ("Central Standard Time (Mexico)", "America/Mexico_City"),
    ] {
        assert_eq!(windows_to_iana(windows), Some(iana), "{windows}");
    }
    // Another case or stray blanks, as a hand-edited registry may have.
    assert_eq!(
        windows_to_iana(" w. europe standard time "),
        Some("Europe/Berlin")
    );
}

#[test]
fn unknown_windows_zones_map_to_nothing_and_are_reported_as_they_are() {
    assert_eq!(windows_to_iana("Mars Standard Time"), None);
    assert_eq!(windows_to_iana(""), None);
    assert_eq!(
        reported_zone("Mars Standard Time").as_deref(),
        Some("Mars Standard Time")
    );
    assert_eq!(
        reported_zone("Romance Standard Time").as_deref(),
        Some("Europe/Paris")
    );
    assert_eq!(reported_zone("  "), None);
}

#[test]
fn the_table_is_sorted_and_each_name_is_there_once() {
    assert!(
        WINDOWS_TO_IANA.windows(2).all(|w| w[0].0 < w[1].0),
        "sorted, no duplicates: the lookup is a binary search"
    );
    assert!(
        WINDOWS_TO_IANA
            .iter()
            .all(|(w, i)| !w.is_empty() && i.contains('/'))
    );
}

#[test]
fn a_bias_is_minutes_west_and_an_offset_seconds_east() {
    // Berlin in winter: UTC = local - 60 min, bias -60 (0xFFFFFFC4).
    assert_eq!(offset_from_bias(0xFFFF_FFC4), Some(3600));
    // New York in summer: bias 240.
    assert_eq!(offset_from_bias(240), Some(-14_400));
    // Kolkata: -330; Chatham in summer: -825.
    assert_eq!(offset_from_bias(u64::from((-330i32) as u32)), Some(19_800));
    assert_eq!(offset_from_bias(u64::from((-825i32) as u32)), Some(49_500));
    assert_eq!(offset_from_bias(0), Some(0));
    // Not a DWORD, or beyond any zone.
    assert_eq!(offset_from_bias(1 << 32), None);
    assert_eq!(offset_from_bias(19 * 60), None);
    assert_eq!(offset_from_bias(u64::from(i32::MIN as u32)), None);
}

#[test]
fn the_zone_of_a_localtime_link_is_its_path_under_zoneinfo() {
    for (target, zone) in [
        ("../usr/share/zoneinfo/Europe/Berlin", Some("Europe/Berlin")),
        (
            "/usr/share/zoneinfo/America/Argentina/Salta",
            Some("America/Argentina/Salta"),
        ),
        ("/var/db/timezone/zoneinfo/Asia/Tokyo", Some("Asia/Tokyo")),
        (
            "/usr/share/zoneinfo/posix/Europe/Paris",
            Some("Europe/Paris"),
        ),
        ("/usr/share/zoneinfo/right/UTC", Some("UTC")),
        ("/usr/share/zoneinfo/", None),
        ("/etc/some-other-file", None),
    ] {
        assert_eq!(zone_of_localtime_link(target).as_deref(), zone, "{target}");
    }
}

#[test]
fn offsets_are_written_as_utc_plus_or_minus_hours_and_minutes() {
    assert_eq!(format_offset(3600), "UTC+01:00");
    assert_eq!(format_offset(-12_600), "UTC-03:30");
    assert_eq!(format_offset(20_700), "UTC+05:45");
    assert_eq!(format_offset(0), "UTC+00:00");
    assert_eq!(format_offset(-43_200), "UTC-12:00");
}
