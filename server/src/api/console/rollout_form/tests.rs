//! The rollout form read into the API's request: lists split, empty
//! fields left to the server's defaults, and mistakes named.

use super::RolloutForm;

fn form(action: &str, item: &str, targets: &str) -> RolloutForm {
    RolloutForm {
        action: action.into(),
        item: item.into(),
        targets: targets.into(),
        ..RolloutForm::default()
    }
}

#[test]
fn a_filled_form_becomes_the_request_the_cli_would_send() {
    let mut f = form("install", " firefox@128.0 ", "PC-1, label:desktops\nPC-2");
    f.canary = "PC-IT-01,label:it-staff".into();
    f.waves = "10%,100%".into();
    f.min_wave_size = " 5 ".into();
    f.pause_if_failures_exceed = "5%".into();
    f.soak = "2h".into();
    f.max_in_flight = "20".into();
    f.window = "Mon-Fri 19:00-06:00".into();
    f.approve_waves = Some("1".into());
    f.on_abort = "uninstall".into();
    f.pause_if_tickets_exceed = "3".into();
    f.params = "channel=esr\n\n  lang=de  \n".into();
    let r = f.request().expect("a request");
    assert_eq!(r.action, "install");
    assert_eq!(r.item, "firefox@128.0");
    assert_eq!(r.targets, ["PC-1", "label:desktops", "PC-2"]);
    assert_eq!(r.canary, ["PC-IT-01", "label:it-staff"]);
    assert_eq!(r.waves.as_deref(), Some("10%,100%"));
    assert_eq!(r.min_wave_size, Some(5));
    assert_eq!(r.pause_if_failures_exceed.as_deref(), Some("5%"));
    assert_eq!(r.soak.as_deref(), Some("2h"));
    assert_eq!(r.max_in_flight, Some(20));
    assert_eq!(r.window.as_deref(), Some("Mon-Fri 19:00-06:00"));
    assert!(r.approve_waves);
    assert_eq!(r.on_abort.as_deref(), Some("uninstall"));
    assert_eq!(r.pause_if_tickets_exceed, Some(3));
    assert_eq!(r.args, ["channel=esr", "lang=de"]);
    assert!(!r.all);
}

#[test]
fn empty_fields_are_left_to_the_servers_defaults() {
    let mut f = form("script", "cleanup", "all");
    f.all = Some("1".into());
    f.soak = "   ".into();
    let r = f.request().expect("a request");
    assert_eq!(r.action, "script");
    assert!(r.all);
    assert_eq!(r.waves, None);
    assert_eq!(r.soak, None);
    assert_eq!(r.min_wave_size, None);
    assert_eq!(r.on_abort, None, "leave is the server's default");
    assert!(r.canary.is_empty() && r.args.is_empty());
    assert!(!r.approve_waves);
    // A filter alone names the targets.
    let mut f = form("install", "x@1", "");
    f.filter = "os=Windows".into();
    let r = f.request().expect("a request");
    assert_eq!(r.filter.as_deref(), Some("os=Windows"));
    assert!(r.targets.is_empty());
}

#[test]
fn mistakes_are_named_with_what_to_write() {
    let e = form("reboot", "x@1", "PC-1").request().expect_err("action");
    assert!(e.contains("install, uninstall or script"), "{e}");
    let e = form("install", "  ", "PC-1").request().expect_err("item");
    assert!(e.contains("NAME@VERSION"), "{e}");
    let e = form("install", "x@1", " , ")
        .request()
        .expect_err("targets");
    assert!(e.contains("name the targets"), "{e}");
    let mut f = form("install", "x@1", "PC-1");
    f.max_in_flight = "ten".into();
    let e = f.request().expect_err("count");
    assert!(e.contains("`ten` is not a whole number"), "{e}");
    let mut f = form("install", "x@1", "PC-1");
    f.min_wave_size = "-1".into();
    assert!(f.request().is_err(), "no negative sizes");
    let mut f = form("script", "x@1", "PC-1");
    f.params = "verbose".into();
    let e = f.request().expect_err("param");
    assert!(e.contains("`verbose` has no value"), "{e}");
    // An unchecked box is off even when a browser sends it empty.
    let mut f = form("install", "x@1", "PC-1");
    f.all = Some(String::new());
    assert!(!f.request().expect("ok").all);
}
