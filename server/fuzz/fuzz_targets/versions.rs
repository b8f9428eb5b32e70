//! Version orderings must be total orders; constraints parse or fail.
//! Input: lines `a`, `b`, `c`, `constraint` (lossy UTF-8).
#![no_main]

#[path = "common.rs"]
mod common;

use std::cmp::Ordering;

use deskhand_server::version::{Constraint, Scheme, dotted_compare, dpkg_compare, rpm_compare};
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static GUARD: common::Guard = common::Guard;

const T: &str = "versions";

fn check(name: &str, cmp: fn(&str, &str) -> Ordering, a: &str, b: &str, c: &str, data: &[u8]) {
    for x in [a, b, c] {
        let o = cmp(x, x);
        if o != Ordering::Equal {
            common::soft(T, &format!("{name}_not_reflexive"), data, || {
                format!("{x:?} vs itself: {o:?}")
            });
        }
    }
    for (x, y) in [(a, b), (b, c), (a, c)] {
        let (xy, yx) = (cmp(x, y), cmp(y, x));
        if xy != yx.reverse() {
            common::soft(T, &format!("{name}_not_antisymmetric"), data, || {
                format!("cmp({x:?},{y:?})={xy:?} but cmp({y:?},{x:?})={yx:?}")
            });
        }
    }
    let (ab, bc, ac) = (cmp(a, b), cmp(b, c), cmp(a, c));
    // a <= b <= c implies a <= c (and strict if either is strict).
    let le = |o: Ordering| o != Ordering::Greater;
    let bad = if le(ab) && le(bc) {
        !le(ac) || ((ab == Ordering::Less || bc == Ordering::Less) && ac != Ordering::Less)
    } else if !le(ab) && !le(bc) {
        ac != Ordering::Greater
    } else {
        false
    };
    if bad {
        common::soft(T, &format!("{name}_not_transitive"), data, || {
            format!("a={a:?} b={b:?} c={c:?}: a?b={ab:?} b?c={bc:?} a?c={ac:?}")
        });
    }
}

fuzz_target!(init: common::seed(seeds()), |data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(4, '\n');
    let a = parts.next().unwrap_or("");
    let b = parts.next().unwrap_or("");
    let c = parts.next().unwrap_or("");
    let k = parts.next().unwrap_or("");
    check("dpkg", dpkg_compare, a, b, c, data);
    check("rpm", rpm_compare, a, b, c, data);
    check("dotted", dotted_compare, a, b, c, data);
    // `--software NAME@CONSTRAINT`, as api::software_matches splits it.
    for spec in [k, &*text] {
        let constraint = match spec.split_once('@') {
            Some((_, c)) => c,
            None => spec,
        };
        if let Ok(con) = Constraint::parse(constraint) {
            for scheme in [Scheme::Dpkg, Scheme::Rpm, Scheme::Dotted] {
                for v in [a, b, c] {
                    let _ = con.matches(scheme, v);
                }
            }
        }
    }
});

/// Lines a, b, c and a constraint, in each ecosystem's awkward spots.
fn seeds() -> Vec<(String, Vec<u8>)> {
    [
        "1.0~rc1\n1.0\n1.0+deb12u1\n>=1.0,<2",
        "2:1.0\n1:9.9\n1.10\n<120",
        "7.88.1-10+deb12u5\n7.88.1-10+deb12u12\n3.0.11-1~deb12u2\n>=3.0,<3.0.13",
        "5.5p1\n5.5p10\n1.0^git1\n=2.10-3",
        "1.0-2.el9\n1.0-10.el9\n1:3.0.7-27.el9\n<1:3.0.13",
        "120.0.1\n99.9\n10.0.19045.3693\n!=1.2",
        "0001\n1\na\n< 120",
        "1.0a\n1.0-1ubuntu1\n1.0.1\n==4,>3",
        "~.\n~a\n1.0~.rc1\n<1.0~rc1",
    ]
    .iter()
    .enumerate()
    .map(|(i, s)| (format!("seed{i}"), s.as_bytes().to_vec()))
    .collect()
}
