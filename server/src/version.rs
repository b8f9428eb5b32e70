//! Version ordering and constraints, the way each package ecosystem
//! orders its own versions.
//!
//! - dpkg: epoch, upstream version, Debian revision, with `~` sorting
//!   before everything (Debian Policy 5.6.12).
//! - rpm: `rpmvercmp` segments, with `~` before and `^` after.
//! - anything else: dotted numeric segments, numbers compared as numbers,
//!   other text lexically.
//!
//! A constraint is one or more comparisons joined by commas, all of which
//! must hold: `<120`, `>=3.0,<3.0.13`, `=2.10-3`.

use std::cmp::Ordering;

/// Which ecosystem's ordering to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Debian's dpkg.
    Dpkg,
    /// RPM.
    Rpm,
    /// Dotted numeric, for everything else.
    Dotted,
}

impl Scheme {
    /// The scheme for a package source name as stored (`dpkg`, `rpm`, ...).
    pub fn for_source(source: &str) -> Self {
        match source {
            "dpkg" => Scheme::Dpkg,
            "rpm" => Scheme::Rpm,
            _ => Scheme::Dotted,
        }
    }

    /// Compares two versions.
    pub fn compare(self, a: &str, b: &str) -> Ordering {
        match self {
            Scheme::Dpkg => dpkg_compare(a, b),
            Scheme::Rpm => rpm_compare(a, b),
            Scheme::Dotted => dotted_compare(a, b),
        }
    }
}

fn split_dpkg(v: &str) -> (u64, &str, &str) {
    let (epoch, rest) = match v.split_once(':') {
        Some((e, r)) if e.bytes().all(|b| b.is_ascii_digit()) && !e.is_empty() => {
            (e.parse().unwrap_or(0), r)
        }
        _ => (0, v),
    };
    match rest.rsplit_once('-') {
        Some((up, rev)) => (epoch, up, rev),
        None => (epoch, rest, ""),
    }
}

/// dpkg's order of a non-digit character: `~` first, then end of string,
/// then letters, then everything else.
fn dpkg_char_order(c: Option<u8>) -> i32 {
    match c {
        Some(b'~') => -1,
        None => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

fn dpkg_part(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        // Non-digit prefix.
        loop {
            let ca = a.get(i).copied().filter(|c| !c.is_ascii_digit());
            let cb = b.get(j).copied().filter(|c| !c.is_ascii_digit());
            if ca.is_none() && cb.is_none() {
                break;
            }
            let (oa, ob) = (dpkg_char_order(ca), dpkg_char_order(cb));
            if oa != ob {
                return oa.cmp(&ob);
            }
            i += usize::from(ca.is_some());
            j += usize::from(cb.is_some());
        }
        // Digit run, compared as numbers.
        let start_a = i;
        while a.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let start_b = j;
        while b.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        let ord = numeric(&a[start_a..i], &b[start_b..j]);
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

/// Compares digit strings as numbers of any length.
fn numeric(a: &[u8], b: &[u8]) -> Ordering {
    let trim = |s: &[u8]| -> usize { s.iter().take_while(|c| **c == b'0').count() };
    let (a, b) = (&a[trim(a)..], &b[trim(b)..]);
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Debian's version comparison.
pub fn dpkg_compare(a: &str, b: &str) -> Ordering {
    let (ea, ua, ra) = split_dpkg(a);
    let (eb, ub, rb) = split_dpkg(b);
    ea.cmp(&eb)
        .then_with(|| dpkg_part(ua, ub))
        .then_with(|| dpkg_part(ra, rb))
}

/// RPM's `rpmvercmp`, applied to `[epoch:]version[-release]`.
pub fn rpm_compare(a: &str, b: &str) -> Ordering {
    let (ea, va, ra) = split_dpkg(a);
    let (eb, vb, rb) = split_dpkg(b);
    ea.cmp(&eb)
        .then_with(|| rpmvercmp(va, vb))
        .then_with(|| rpmvercmp(ra, rb))
}

fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    loop {
        while i < a.len() && !a[i].is_ascii_alphanumeric() && a[i] != b'~' && a[i] != b'^' {
            i += 1;
        }
        while j < b.len() && !b[j].is_ascii_alphanumeric() && b[j] != b'~' && b[j] != b'^' {
            j += 1;
        }
        // As rpm does: a separator both share is consumed and the loop
        // starts over, so separators after it are skipped too.
        let (ta, tb) = (a.get(i) == Some(&b'~'), b.get(j) == Some(&b'~'));
        if ta || tb {
            // `~` sorts before anything, the end included.
            match (ta, tb) {
                (false, _) => return Ordering::Greater,
                (_, false) => return Ordering::Less,
                _ => {
                    i += 1;
                    j += 1;
                    continue;
                }
            }
        }
        let (ca, cb) = (a.get(i) == Some(&b'^'), b.get(j) == Some(&b'^'));
        if ca || cb {
            // `^` sorts after the end but before more text.
            if i >= a.len() {
                return Ordering::Less;
            }
            if j >= b.len() {
                return Ordering::Greater;
            }
            if !ca {
                return Ordering::Greater;
            }
            if !cb {
                return Ordering::Less;
            }
            i += 1;
            j += 1;
            continue;
        }
        if i >= a.len() || j >= b.len() {
            break;
        }
        let digits = a[i].is_ascii_digit();
        let take = |s: &[u8], mut k: usize| {
            let start = k;
            while k < s.len()
                && (if digits {
                    s[k].is_ascii_digit()
                } else {
                    s[k].is_ascii_alphabetic()
                })
            {
                k += 1;
            }
            (start, k)
        };
        let (sa, ea) = take(a, i);
        let (sb, eb) = take(b, j);
        if sb == eb {
            // Different segment kinds: numbers are newer than letters.
            return if digits {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let ord = if digits {
            numeric(&a[sa..ea], &b[sb..eb])
        } else {
            a[sa..ea].cmp(&b[sb..eb])
        };
        if ord != Ordering::Equal {
            return ord;
        }
        i = ea;
        j = eb;
    }
    (i < a.len()).cmp(&(j < b.len()))
}

/// Dotted numeric order: `1.10 > 1.9`, `1.2 < 1.2.1`, text lexically.
pub fn dotted_compare(a: &str, b: &str) -> Ordering {
    let seg = |s: &str| -> Vec<String> {
        s.split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect()
    };
    let (sa, sb) = (seg(a), seg(b));
    for (x, y) in sa.iter().zip(&sb) {
        let ord = match (x.parse::<u128>(), y.parse::<u128>()) {
            (Ok(n), Ok(m)) => n.cmp(&m),
            (Ok(_), Err(_)) => Ordering::Greater,
            (Err(_), Ok(_)) => Ordering::Less,
            _ => x.cmp(y),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    sa.len().cmp(&sb.len())
}

fn has_epoch(v: &str) -> bool {
    v.split_once(':')
        .is_some_and(|(e, _)| !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()))
}

fn strip_epoch(v: &str) -> &str {
    if has_epoch(v) {
        v.split_once(':').map_or(v, |(_, rest)| rest)
    } else {
        v
    }
}

/// One comparison of a constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    op: Op,
    version: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

/// A conjunction of comparisons, e.g. `>=3.0,<3.0.13`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint(Vec<Comparison>);

impl Constraint {
    /// Parses a constraint; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut out = Vec::new();
        for part in text.split(',').map(str::trim) {
            let (op, rest) = [
                ("<=", Op::Le),
                (">=", Op::Ge),
                ("!=", Op::Ne),
                ("==", Op::Eq),
                ("<", Op::Lt),
                (">", Op::Gt),
                ("=", Op::Eq),
            ]
            .iter()
            .find_map(|(p, op)| part.strip_prefix(p).map(|r| (*op, r)))
            .unwrap_or((Op::Eq, part));
            let version = rest.trim();
            if version.starts_with(['~', '^']) {
                return Err(format!(
                    "`{}`: ranges written with ~ or ^ are not supported; give both ends, e.g. >=3,<4",
                    crate::said(text)
                ));
            }
            // A version never holds an operator or a space: `>>3` or
            // `=<4` is a typo, not a version to compare with.
            if version.is_empty() || version.contains(['<', '>', '=', '!', ' ', '\t']) {
                return Err(format!(
                    "`{}` is not a version constraint: write e.g. <120, >=3.0,<3.0.13 or =2.10-3",
                    crate::said(text)
                ));
            }
            out.push(Comparison {
                op,
                version: version.to_string(),
            });
        }
        Ok(Self(out))
    }

    /// Whether `version` satisfies every comparison under `scheme`.
    ///
    /// A comparison written without an epoch ignores the package's epoch:
    /// `openssl@<3.0.13` means upstream 3.0.x below 13, and RHEL's
    /// `1:3.0.7-27.el9` is such a version.
    pub fn matches(&self, scheme: Scheme, version: &str) -> bool {
        self.0.iter().all(|c| {
            let candidate = if has_epoch(&c.version) {
                version
            } else {
                strip_epoch(version)
            };
            let ord = scheme.compare(candidate, &c.version);
            match c.op {
                Op::Lt => ord == Ordering::Less,
                Op::Le => ord != Ordering::Greater,
                Op::Gt => ord == Ordering::Greater,
                Op::Ge => ord != Ordering::Less,
                Op::Eq => ord == Ordering::Equal,
                Op::Ne => ord != Ordering::Equal,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn dpkg_orders_like_dpkg() {
        // Pairs checked with `dpkg --compare-versions`.
        for (a, b, want) in [
            ("1.0", "1.0", Equal),
            ("1.0~rc1", "1.0", Less),
            ("1.0", "1.0+deb12u1", Less),
            ("2:1.0", "1:9.9", Greater),
            ("1.10", "1.9", Greater),
            ("7.88.1-10+deb12u5", "7.88.1-10+deb12u12", Less),
            ("3.0.11-1~deb12u2", "3.0.11-1", Less),
            ("1.0a", "1.0", Greater),
            ("1.0-1", "1.0-1ubuntu1", Less),
            ("0001", "1", Equal),
        ] {
            assert_eq!(dpkg_compare(a, b), want, "{a} vs {b}");
            assert_eq!(dpkg_compare(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn rpm_orders_like_rpmvercmp() {
        for (a, b, want) in [
            ("1.0", "1.0", Equal),
            ("1.0", "1.0.1", Less),
            ("2.0.1a", "2.0.1", Greater),
            ("5.5p1", "5.5p10", Less),
            ("1.0~rc1", "1.0", Less),
            ("1.0^git1", "1.0", Greater),
            ("1.0^git1", "1.0.1", Less),
            ("1.0-2.el9", "1.0-10.el9", Less),
            ("1:1.0", "2.0", Greater),
            ("a", "1", Less),
            // Separators after a shared `~` are skipped, as rpm does
            // (fuzzing found both orders of these answering Less).
            ("~.", "~a", Less),
            ("1.0~.rc1", "1.0~rc1", Equal),
            ("1.0~~", "1.0~", Less),
            ("1.0^", "1.0", Greater),
        ] {
            assert_eq!(rpm_compare(a, b), want, "{a} vs {b}");
            assert_eq!(rpm_compare(b, a), want.reverse(), "{b} vs {a}");
        }
        // Every pair of awkward versions answers opposite ways round.
        let odd = [
            "", "~", "^", ".", "~.", "~a", "^.", "^a", "1~", "1^", "1.~", "1~.a", "a~1", "1.0",
            "1.0~rc1", "1.0^git", "1..0", "1.a", "1a", "a1", "~~", "^^", "~^", "^~",
        ];
        for a in odd {
            assert_eq!(rpm_compare(a, a), Equal, "{a:?}");
            for b in odd {
                assert_eq!(
                    rpm_compare(a, b),
                    rpm_compare(b, a).reverse(),
                    "{a:?} vs {b:?}"
                );
            }
        }
    }

    #[test]
    fn dotted_is_numeric_per_segment() {
        assert_eq!(dotted_compare("120.0.1", "99.9"), Greater);
        assert_eq!(dotted_compare("1.2", "1.2.1"), Less);
        assert_eq!(dotted_compare("10.0.19045.3693", "10.0.19045.3693"), Equal);
    }

    #[test]
    fn constraints_combine_with_commas() {
        let c = Constraint::parse(">=3.0,<3.0.13").expect("parse");
        assert!(c.matches(Scheme::Dpkg, "3.0.11-1~deb12u2"));
        assert!(!c.matches(Scheme::Dpkg, "3.0.13-1"));
        assert!(!c.matches(Scheme::Dpkg, "1.1.1w-0+deb11u1"));
        let c = Constraint::parse("<120").expect("parse");
        assert!(c.matches(Scheme::Dotted, "119.0.1"));
        assert!(!c.matches(Scheme::Dotted, "120.0"));
        assert!(
            Constraint::parse("2.10-3")
                .expect("bare = ")
                .matches(Scheme::Dpkg, "2.10-3")
        );
        let c = Constraint::parse("<3.0.13").expect("parse");
        assert!(
            c.matches(Scheme::Rpm, "1:3.0.7-27.el9"),
            "an epoch-less constraint ignores the epoch"
        );
        assert!(
            !Constraint::parse("<1:3.0.13")
                .expect("parse")
                .matches(Scheme::Rpm, "2:1.0")
        );
        assert!(Constraint::parse(">=").is_err());
        assert!(Constraint::parse("<1,").is_err());
    }

    #[test]
    fn typos_and_unsupported_ranges_are_refused() {
        for bad in [">>3", "=<4", "<=>1", "< 1 2", "!3", ">=3,,<4"] {
            let e = Constraint::parse(bad).expect_err(bad);
            assert!(e.contains("is not a version constraint"), "{bad}: {e}");
        }
        for range in ["~3", "^1.2", ">=~3"] {
            let e = Constraint::parse(range).expect_err(range);
            assert!(e.contains("give both ends"), "{range}: {e}");
        }
        // Versions that merely contain ~ (dpkg's pre-release marker) are
        // versions.
        assert!(Constraint::parse("<3.0.13-1~deb12u1").is_ok());
        assert!(Constraint::parse("< 120").is_ok());
    }
}
