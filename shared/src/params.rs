//! Declared job parameters: what a signed package or script accepts at run time.
//!
//! The server (and so anyone who can create a job) decides when and where
//! an approved package or script runs, never what runs. A publisher
//! therefore declares, inside the signed [`crate::jobs::Manifest`], every
//! parameter the item takes ([`ParamSpec`]: a name, a [`ParamKind`], an
//! optional pattern or list of values, a default, and how it is passed,
//! [`ParamPass`]). A job supplies only values, by name; [`resolve`] checks
//! each against its declaration and turns the whole set into the exact
//! arguments and environment variables the command gets. Nothing that is
//! not declared reaches the process: no variable named by the job, no
//! extra argument, no working directory.
//!
//! The server calls [`resolve`] to refuse a bad job before it fans out;
//! the agent calls it again on the manifest it verified, and that is the
//! check that counts. Pure code: no I/O.

use std::collections::BTreeMap;
use std::fmt;

use regex_automata::Anchored;
use regex_automata::dfa::{Automaton, dense};
use regex_automata::util::syntax;
use serde::{Deserialize, Serialize};

/// Most parameters one item may declare.
pub const MAX_PARAMS: usize = 32;
/// Longest value a parameter may take, in bytes.
pub const MAX_VALUE_BYTES: usize = 4096;
/// Longest pattern a declaration may carry, in bytes.
pub const MAX_PATTERN_BYTES: usize = 512;
/// Memory a compiled pattern may use.
const PATTERN_MEMORY: usize = 1 << 20;

/// What kind of value a parameter takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamKind {
    /// Text; a declared pattern must match all of it.
    String,
    /// A decimal integer, within `min` and `max` if declared; passed in its
    /// canonical form (`007` becomes `7`).
    Integer,
    /// One of the declared `values`, exactly.
    Enum,
    /// An absolute path (`/...`, `C:\...` or `\\server\...`) without `..`;
    /// a declared pattern must match all of it.
    Path,
}

impl ParamKind {
    /// The kind's name as declared and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            ParamKind::String => "string",
            ParamKind::Integer => "integer",
            ParamKind::Enum => "enum",
            ParamKind::Path => "path",
        }
    }
}

/// How a value reaches the command. Written as text in a declaration:
/// `arg`, `flag:--level`, `prefix:INSTALLDIR=` or `env:LOG_LEVEL`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ParamPass {
    /// One argument: the value itself, after the manifest's command, in
    /// declaration order.
    Arg,
    /// Two arguments: the flag, then the value (`--level debug`).
    Flag(String),
    /// One argument: the prefix and the value joined (`--level=debug`,
    /// `INSTALLDIR=C:\Apps`).
    Prefix(String),
    /// The environment variable of this fixed name.
    Env(String),
}

impl fmt::Display for ParamPass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamPass::Arg => f.write_str("arg"),
            ParamPass::Flag(x) => write!(f, "flag:{x}"),
            ParamPass::Prefix(x) => write!(f, "prefix:{x}"),
            ParamPass::Env(x) => write!(f, "env:{x}"),
        }
    }
}

impl From<ParamPass> for String {
    fn from(p: ParamPass) -> String {
        p.to_string()
    }
}

impl TryFrom<String> for ParamPass {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        let pass = match text.split_once(':') {
            None if text == "arg" => ParamPass::Arg,
            Some(("flag", x)) => ParamPass::Flag(x.to_string()),
            Some(("prefix", x)) => ParamPass::Prefix(x.to_string()),
            Some(("env", x)) => ParamPass::Env(x.to_string()),
            _ => {
                return Err(format!(
                    "`{text}` is not a way to pass a parameter: use arg, flag:--NAME, prefix:NAME= or env:NAME"
                ));
            }
        };
        pass.check()?;
        Ok(pass)
    }
}

impl ParamPass {
    fn check(&self) -> Result<(), String> {
        match self {
            ParamPass::Arg => Ok(()),
            ParamPass::Flag(flag) => {
                let body = flag.trim_start_matches(['-', '/']);
                if body.len() == flag.len() || body.is_empty() || !is_word(body) {
                    return Err(format!(
                        "flag `{flag}` must be a dash or slash and letters, digits, _ or -, like --level or /S"
                    ));
                }
                Ok(())
            }
            ParamPass::Prefix(prefix) => {
                if prefix.is_empty()
                    || prefix.len() > 64
                    || prefix.chars().any(|c| c.is_control() || c.is_whitespace())
                {
                    return Err(format!(
                        "prefix `{prefix}` must be 1-64 printable characters without spaces, like --level= or INSTALLDIR="
                    ));
                }
                Ok(())
            }
            ParamPass::Env(name) => check_env_name(name),
        }
    }
}

fn is_word(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Environment variables a declaration may not name: ones the dynamic
/// loader, a shell or an interpreter reads to decide what code runs, and
/// the ones the agent sets itself. Matched without regard to case
/// (Windows' environment ignores it).
const RESERVED_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "LANG",
    "USER",
    "LOGNAME",
    "SHELL",
    "ENV",
    "BASH_ENV",
    "IFS",
    "CDPATH",
    "GLOBIGNORE",
    "SHELLOPTS",
    "BASHOPTS",
    "PS4",
    "PROMPT_COMMAND",
    "TMPDIR",
    "NODE_OPTIONS",
    "RUBYOPT",
    "RUBYLIB",
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "CLASSPATH",
    "COMSPEC",
    "PATHEXT",
    "PSMODULEPATH",
    "SYSTEMROOT",
    "WINDIR",
    "DEBIAN_FRONTEND",
    "OPENSSL_CONF",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

/// Prefixes of reserved environment variables (see [`RESERVED_ENV`]).
const RESERVED_ENV_PREFIXES: &[&str] = &[
    "LD_",
    "DYLD_",
    "PYTHON",
    "PERL",
    "BASH_FUNC_",
    "LC_",
    "GCONV_",
    "MALLOC_",
    "GLIBC_",
    "NODE_",
    "RUBY",
    "GIT_",
    "DESKHAND_",
];

/// Checks a declared environment variable name: `[A-Z_][A-Z0-9_]*`, at
/// most 64 characters, and not one of the names that decide what runs.
pub fn check_env_name(name: &str) -> Result<(), String> {
    let ok_chars = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    if !ok_chars {
        return Err(format!(
            "environment variable `{name}` must be upper-case letters, digits and _, not starting with a digit"
        ));
    }
    let upper = name.to_ascii_uppercase();
    if RESERVED_ENV.contains(&upper.as_str())
        || RESERVED_ENV_PREFIXES.iter().any(|p| upper.starts_with(p))
    {
        return Err(format!(
            "environment variable `{name}` cannot be a parameter: the loader, a shell or an interpreter reads it to decide what runs (or the agent sets it)"
        ));
    }
    Ok(())
}

/// One declared parameter, as the publisher signs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamSpec {
    /// Its name, `[a-z][a-z0-9_]*`, at most 32 characters.
    pub name: String,
    /// What values it takes.
    pub kind: ParamKind,
    /// How the value reaches the command.
    #[serde(default = "default_pass")]
    pub pass: ParamPass,
    /// A pattern (regular expression, ASCII classes) the whole value must
    /// match; strings and paths only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// The values an enum takes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// Smallest integer allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<i64>,
    /// Largest integer allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<i64>,
    /// The value used when a job gives none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// A job must give a value (a default satisfies it too).
    #[serde(default)]
    pub required: bool,
    /// What it is for, shown by `scripts show`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

fn default_pass() -> ParamPass {
    ParamPass::Arg
}

/// Checks a list of declarations, as a manifest carries them.
pub fn check_declarations(params: &[ParamSpec]) -> Result<(), String> {
    if params.len() > MAX_PARAMS {
        return Err(format!(
            "{} parameters are declared; at most {MAX_PARAMS} are allowed",
            params.len()
        ));
    }
    let mut seen = BTreeMap::new();
    let mut envs = BTreeMap::new();
    let mut optional_positional: Option<&str> = None;
    for p in params {
        p.check()
            .map_err(|e| format!("parameter `{}`: {e}", p.name))?;
        if seen.insert(p.name.as_str(), ()).is_some() {
            return Err(format!("parameter `{}` is declared twice", p.name));
        }
        match &p.pass {
            ParamPass::Env(name) => {
                if envs.insert(name.to_ascii_uppercase(), ()).is_some() {
                    return Err(format!(
                        "two parameters are passed as environment variable {name}"
                    ));
                }
            }
            ParamPass::Arg => {
                if let Some(earlier) = optional_positional {
                    return Err(format!(
                        "parameter `{}` is passed by position after `{earlier}`, which may be left out: give `{earlier}` a default, make it required, or pass it as a flag",
                        p.name
                    ));
                }
                if !p.required && p.default.is_none() {
                    optional_positional = Some(&p.name);
                }
            }
            ParamPass::Flag(_) | ParamPass::Prefix(_) => {}
        }
    }
    Ok(())
}

impl ParamSpec {
    /// Checks one declaration: its name, its kind's constraints, its way
    /// of passing, and that its default is a value it accepts.
    pub fn check(&self) -> Result<(), String> {
        let name_ok = self.name.len() <= 32
            && self.name.starts_with(|c: char| c.is_ascii_lowercase())
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !name_ok {
            return Err(
                "a parameter's name is lower-case letters, digits and _, starting with a letter, at most 32 characters".into(),
            );
        }
        self.pass.check()?;
        if self.pattern.is_some() && !matches!(self.kind, ParamKind::String | ParamKind::Path) {
            return Err("only string and path parameters take a pattern".into());
        }
        if !self.values.is_empty() && self.kind != ParamKind::Enum {
            return Err("only enum parameters take values".into());
        }
        if (self.min.is_some() || self.max.is_some()) && self.kind != ParamKind::Integer {
            return Err("only integer parameters take min and max".into());
        }
        if let Some(p) = &self.pattern {
            compile(p)?;
        }
        match self.kind {
            ParamKind::Enum if self.values.is_empty() => {
                return Err("an enum parameter lists the values it takes".into());
            }
            ParamKind::Enum => {
                for v in &self.values {
                    check_text(v).map_err(|e| format!("value `{}`: {e}", v.escape_debug()))?;
                }
            }
            ParamKind::Integer => {
                if let (Some(min), Some(max)) = (self.min, self.max)
                    && min > max
                {
                    return Err(format!("min {min} is above max {max}"));
                }
            }
            ParamKind::String | ParamKind::Path => {}
        }
        if let Some(d) = &self.default {
            self.accept(d)
                .map_err(|e| format!("its default is not a value it accepts: {e}"))?;
        }
        Ok(())
    }

    /// The value as the command gets it, or why it is refused.
    pub fn accept(&self, value: &str) -> Result<String, String> {
        check_text(value)?;
        match self.kind {
            ParamKind::Enum => {
                if self.values.iter().any(|v| v == value) {
                    Ok(value.to_string())
                } else {
                    Err(format!("it must be one of {}", self.values.join(", ")))
                }
            }
            ParamKind::Integer => {
                let n = parse_integer(value)?;
                if let Some(min) = self.min
                    && n < min
                {
                    return Err(format!("it must be at least {min}"));
                }
                if let Some(max) = self.max
                    && n > max
                {
                    return Err(format!("it must be at most {max}"));
                }
                Ok(n.to_string())
            }
            ParamKind::String | ParamKind::Path => {
                if self.kind == ParamKind::Path {
                    check_path(value)?;
                }
                match &self.pattern {
                    Some(p) if !full_match(p, value)? => {
                        return Err(format!("it must match the pattern {p}"));
                    }
                    Some(_) => {}
                    // A value that starts with a dash could be read as an
                    // option; only a pattern the publisher signed allows it.
                    None if value.starts_with('-')
                        && matches!(self.pass, ParamPass::Arg | ParamPass::Flag(_)) =>
                    {
                        return Err(
                            "it must not start with `-`, which a command could read as an option"
                                .into(),
                        );
                    }
                    None => {}
                }
                Ok(value.to_string())
            }
        }
    }

    /// A one-line description of what it takes, for `scripts show`.
    pub fn summary(&self) -> String {
        let mut s = self.kind.as_str().to_string();
        match self.kind {
            ParamKind::Enum => s = format!("one of {}", self.values.join("|")),
            ParamKind::Integer => match (self.min, self.max) {
                (Some(a), Some(b)) => s = format!("integer {a}..{b}"),
                (Some(a), None) => s = format!("integer >= {a}"),
                (None, Some(b)) => s = format!("integer <= {b}"),
                (None, None) => {}
            },
            ParamKind::String | ParamKind::Path => {
                if let Some(p) = &self.pattern {
                    s = format!("{s} matching {p}");
                }
            }
        }
        s
    }
}

/// Refuses values no parameter takes: empty after trimming is allowed
/// only as an enum value the publisher listed; control characters,
/// invisible direction marks and overlong values never.
fn check_text(value: &str) -> Result<(), String> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(format!("it is over {MAX_VALUE_BYTES} bytes"));
    }
    if let Some(c) = value
        .chars()
        .find(|c| c.is_control() || is_invisible_control(*c))
    {
        return Err(format!(
            "it contains the control character U+{:04X}",
            u32::from(c)
        ));
    }
    Ok(())
}

/// Direction overrides and isolates, and zero-width marks, that make text
/// read differently from what it is.
fn is_invisible_control(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

fn parse_integer(value: &str) -> Result<i64, String> {
    let digits = value.strip_prefix('-').unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("it must be a whole number in decimal digits".into());
    }
    value
        .parse::<i64>()
        .map_err(|_| "it is out of the range of a 64-bit integer".into())
}

/// Checks an absolute path as a `path` parameter would (no control
/// characters, absolute, no `..`), for a manifest's working directory.
pub fn check_absolute_path(value: &str) -> Result<(), String> {
    check_text(value)?;
    check_path(value)
}

fn check_path(value: &str) -> Result<(), String> {
    let bytes = value.as_bytes();
    let unix = value.starts_with('/');
    let drive = bytes.len() >= 3
        && bytes[0].is_ascii_alphabetic()
        && bytes[1] == b':'
        && matches!(bytes[2], b'\\' | b'/');
    let unc = value.starts_with("\\\\");
    if !(unix || drive || unc) {
        return Err("it must be an absolute path (/..., C:\\... or \\\\server\\...)".into());
    }
    if value.split(['/', '\\']).any(|part| part == "..") {
        return Err("it must not contain a `..` component".into());
    }
    Ok(())
}

fn compile(pattern: &str) -> Result<dense::DFA<Vec<u32>>, String> {
    if pattern.len() > MAX_PATTERN_BYTES {
        return Err(format!("the pattern is over {MAX_PATTERN_BYTES} bytes"));
    }
    dense::Builder::new()
        .configure(
            dense::DFA::config()
                .dfa_size_limit(Some(PATTERN_MEMORY))
                .determinize_size_limit(Some(PATTERN_MEMORY)),
        )
        .syntax(syntax::Config::new().unicode(false).utf8(false))
        .build(&format!("^(?:{pattern})$"))
        .map_err(|e| {
            format!("the pattern {pattern} is not a regular expression this agent takes: {e}")
        })
}

fn full_match(pattern: &str, value: &str) -> Result<bool, String> {
    let dfa = compile(pattern)?;
    let input = regex_automata::Input::new(value).anchored(Anchored::Yes);
    dfa.try_search_fwd(&input)
        .map(|m| m.is_some_and(|m| m.offset() == value.len()))
        .map_err(|e| format!("matching the pattern {pattern} failed: {e}"))
}

/// What a job's values become: the arguments appended to the command and
/// the environment variables added to the agent's fixed, minimal one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolved {
    /// Arguments, in declaration order.
    pub args: Vec<String>,
    /// Declared environment variables and their values.
    pub env: Vec<(String, String)>,
}

/// Checks a job's `values` (name, value) against `declared` and returns
/// what the command gets. Refuses an undeclared name, a name given twice,
/// a value its declaration does not accept, and a required parameter with
/// no value and no default; the error names the parameter and says what
/// it takes.
pub fn resolve(
    item: &str,
    declared: &[ParamSpec],
    values: &[(String, String)],
) -> Result<Resolved, String> {
    let mut given: BTreeMap<&str, &str> = BTreeMap::new();
    for (name, value) in values {
        if !declared.iter().any(|p| &p.name == name) {
            return Err(if declared.is_empty() {
                format!(
                    "{item} declares no parameters, so it takes none (`{}` was given); its publisher can declare them and publish it again",
                    name.escape_debug()
                )
            } else {
                format!(
                    "{item} has no parameter `{}`; it takes: {}",
                    name.escape_debug(),
                    names(declared)
                )
            });
        }
        if given.insert(name, value).is_some() {
            return Err(format!("parameter `{name}` is given twice"));
        }
    }
    let mut out = Resolved::default();
    for p in declared {
        let value = match (given.get(p.name.as_str()), &p.default) {
            (Some(v), _) => p.accept(v).map_err(|e| match p.kind {
                ParamKind::Enum => format!("{item}: parameter `{}`: {e}", p.name),
                _ => format!("{item}: parameter `{}` ({}): {e}", p.name, p.summary()),
            })?,
            (None, Some(d)) => p.accept(d).map_err(|e| {
                format!(
                    "{item}: the default of parameter `{}` is refused: {e}",
                    p.name
                )
            })?,
            (None, None) if p.required => {
                return Err(format!(
                    "{item} needs parameter `{}` ({}){}",
                    p.name,
                    p.summary(),
                    if p.description.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", p.description)
                    }
                ));
            }
            (None, None) => continue,
        };
        match &p.pass {
            ParamPass::Arg => out.args.push(value),
            ParamPass::Flag(flag) => {
                out.args.push(flag.clone());
                out.args.push(value);
            }
            ParamPass::Prefix(prefix) => out.args.push(format!("{prefix}{value}")),
            ParamPass::Env(name) => out.env.push((name.clone(), value)),
        }
    }
    Ok(out)
}

fn names(declared: &[ParamSpec]) -> String {
    declared
        .iter()
        .map(|p| p.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Splits `NAME=VALUE` words, as the CLI and the API take them.
pub fn split_assignments(words: &[String]) -> Result<Vec<(String, String)>, String> {
    words
        .iter()
        .map(|w| {
            w.split_once('=')
                .filter(|(k, _)| !k.is_empty())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| {
                    format!(
                        "`{}` is not NAME=VALUE (a job passes only the parameters its item declares)",
                        w.escape_debug()
                    )
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, kind: ParamKind, pass: &str) -> ParamSpec {
        ParamSpec {
            name: name.into(),
            kind,
            pass: ParamPass::try_from(pass.to_string()).expect("pass"),
            pattern: None,
            values: Vec::new(),
            min: None,
            max: None,
            default: None,
            required: false,
            description: String::new(),
        }
    }

    fn vals(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn an_enum_accepts_its_values_and_nothing_else() {
        let mut level = spec("level", ParamKind::Enum, "env:LOG_LEVEL");
        level.values = vec!["debug".into(), "info".into()];
        level.default = Some("info".into());
        check_declarations(std::slice::from_ref(&level)).expect("valid");
        let r = resolve(
            "s",
            std::slice::from_ref(&level),
            &vals(&[("level", "debug")]),
        )
        .expect("debug");
        assert_eq!(r.env, vals(&[("LOG_LEVEL", "debug")]));
        let r = resolve("s", std::slice::from_ref(&level), &[]).expect("default");
        assert_eq!(r.env, vals(&[("LOG_LEVEL", "info")]));
        let e = resolve("s", &[level], &vals(&[("level", "$(id)")])).expect_err("refused");
        assert!(e.contains("one of debug, info"), "{e}");
    }

    #[test]
    fn a_pattern_must_match_the_whole_value() {
        let mut printer = spec("printer", ParamKind::String, "arg");
        printer.pattern = Some("[A-Za-z0-9_-]{1,32}".into());
        printer.required = true;
        let p = std::slice::from_ref(&printer);
        assert_eq!(
            resolve("s", p, &vals(&[("printer", "HP_4th")]))
                .expect("ok")
                .args,
            ["HP_4th"]
        );
        for bad in ["HP 4th", "HP;id", "x$(id)", "", &"a".repeat(33)] {
            let e = resolve("s", p, &vals(&[("printer", bad)])).expect_err(bad);
            assert!(e.contains("pattern"), "{bad}: {e}");
        }
        let e = resolve("s", p, &[]).expect_err("required");
        assert!(e.contains("needs parameter `printer`"), "{e}");
    }

    #[test]
    fn undeclared_names_are_refused_and_items_without_declarations_take_nothing() {
        let e = resolve("benign", &[], &vals(&[("BASH_ENV", "x")])).expect_err("none");
        assert!(e.contains("declares no parameters"), "{e}");
        let n = spec("n", ParamKind::Integer, "arg");
        let e = resolve("s", &[n], &vals(&[("m", "1")])).expect_err("unknown");
        assert!(e.contains("it takes: n"), "{e}");
        assert_eq!(
            resolve("s", &[], &[]).expect("nothing"),
            Resolved::default()
        );
    }

    #[test]
    fn integers_are_checked_and_passed_canonically() {
        let mut n = spec("days", ParamKind::Integer, "flag:--days");
        n.min = Some(1);
        n.max = Some(90);
        let p = std::slice::from_ref(&n);
        assert_eq!(
            resolve("s", p, &vals(&[("days", "007")])).expect("ok").args,
            ["--days", "7"]
        );
        for bad in ["0", "91", "1e3", "+5", "5 ", "0x10", "99999999999999999999"] {
            assert!(resolve("s", p, &vals(&[("days", bad)])).is_err(), "{bad}");
        }
    }

    #[test]
    fn paths_are_absolute_without_dot_dot() {
        let mut p = spec("log", ParamKind::Path, "prefix:--log=");
        p.pattern = Some("/var/log/.*".into());
        let d = std::slice::from_ref(&p);
        assert_eq!(
            resolve("s", d, &vals(&[("log", "/var/log/cups/error_log")]))
                .expect("ok")
                .args,
            ["--log=/var/log/cups/error_log"]
        );
        for bad in [
            "var/log/x",
            "/var/log/../../etc/shadow",
            "/etc/shadow",
            "-rf",
        ] {
            assert!(resolve("s", d, &vals(&[("log", bad)])).is_err(), "{bad}");
        }
        let win = spec("dir", ParamKind::Path, "prefix:INSTALLDIR=");
        assert!(win.accept("C:\\Apps\\Tool").is_ok());
        assert!(win.accept("\\\\srv\\share").is_ok());
        assert!(win.accept("C:\\Apps\\..\\Windows").is_err());
    }

    #[test]
    fn control_characters_and_option_lookalikes_are_refused() {
        let s = spec("name", ParamKind::String, "arg");
        for bad in ["a\0b", "a\nb", "evil\u{202e}txt", "\u{7f}", "--all", "-x"] {
            assert!(s.accept(bad).is_err(), "{bad:?}");
        }
        assert!(s.accept("plain words are fine").is_ok());
        // As an environment variable, a leading dash is only text.
        let e = spec("name", ParamKind::String, "env:NAME");
        assert!(e.accept("-x").is_ok());
        assert!(e.accept("a\0b").is_err());
    }

    #[test]
    fn declarations_cannot_name_variables_that_decide_what_runs() {
        for name in [
            "BASH_ENV",
            "ENV",
            "LD_PRELOAD",
            "LD_LIBRARY_PATH",
            "PATH",
            "PYTHONSTARTUP",
            "PYTHONPATH",
            "PERL5OPT",
            "PERL5LIB",
            "NODE_OPTIONS",
            "DYLD_INSERT_LIBRARIES",
            "BASH_FUNC_x%%",
            "IFS",
            "Path",
            "ComSpec",
        ] {
            assert!(
                ParamPass::try_from(format!("env:{name}")).is_err(),
                "{name} accepted"
            );
        }
        assert!(ParamPass::try_from("env:LOG_LEVEL".to_string()).is_ok());
        assert!(ParamPass::try_from("shell:x".to_string()).is_err());
        assert!(ParamPass::try_from("flag:level".to_string()).is_err());
        assert!(ParamPass::try_from("flag:--level".to_string()).is_ok());
    }

    #[test]
    fn declarations_are_checked_as_a_whole() {
        let mut a = spec("a", ParamKind::String, "arg");
        let b = spec("b", ParamKind::String, "arg");
        assert!(check_declarations(&[a.clone(), b.clone()]).is_err());
        a.required = true;
        assert!(check_declarations(&[a.clone(), b.clone()]).is_ok());
        assert!(check_declarations(&[a.clone(), a.clone()]).is_err());
        let mut e = spec("e", ParamKind::Enum, "arg");
        assert!(check_declarations(std::slice::from_ref(&e)).is_err());
        e.values = vec!["x".into()];
        e.default = Some("y".into());
        assert!(check_declarations(&[e]).is_err());
        let mut bad = spec("Bad", ParamKind::String, "arg");
        assert!(bad.check().is_err());
        bad.name = "ok".into();
        bad.pattern = Some("(".into());
        assert!(bad.check().is_err());
        let mut n = spec("n", ParamKind::Integer, "arg");
        n.pattern = Some("x".into());
        assert!(n.check().is_err());
    }

    #[test]
    fn declarations_round_trip_through_json_with_a_readable_pass() {
        let mut p = spec("level", ParamKind::Enum, "env:LOG_LEVEL");
        p.values = vec!["debug".into()];
        let json = serde_json::to_string(&p).expect("json");
        assert!(json.contains("\"pass\":\"env:LOG_LEVEL\""), "{json}");
        let back: ParamSpec = serde_json::from_str(&json).expect("back");
        assert_eq!(back, p);
        let bad = json.replace("env:LOG_LEVEL", "env:LD_PRELOAD");
        assert!(serde_json::from_str::<ParamSpec>(&bad).is_err());
    }

    #[test]
    fn assignments_split_on_the_first_equals_sign() {
        let words = vec!["a=b=c".to_string(), "empty=".to_string()];
        assert_eq!(
            split_assignments(&words).expect("ok"),
            vals(&[("a", "b=c"), ("empty", "")])
        );
        assert!(split_assignments(&["--all".to_string()]).is_err());
        assert!(split_assignments(&["=x".to_string()]).is_err());
    }
}
