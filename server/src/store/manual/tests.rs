//! Fields of assets entered by hand: warranty days.

use super::*;

#[test]
fn warranty_days_are_calendar_days_written_one_way() {
    assert_eq!(day("2027-3-31").as_deref(), Some("2027-03-31"));
    assert_eq!(day("2028-02-29").as_deref(), Some("2028-02-29"));
    for bad in [
        "2027-02-29",
        "2027-13-01",
        "31/12/2026",
        "2027-03",
        "2027-03-31-1",
        "99-1-1",
        "x",
    ] {
        assert_eq!(day(bad), None, "{bad}");
    }
    assert_eq!(day_of(1_700_000_000), "2023-11-14");
    let mut v = " 2027-3-31".trim().to_string();
    check_field("warranty_until", &mut v).expect("a day");
    assert_eq!(v, "2027-03-31");
    let mut notes = "x".repeat(2001);
    assert!(check_field("notes", &mut notes).is_err());
}
