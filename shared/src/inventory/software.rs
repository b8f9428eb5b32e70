//! The software an inventory lists: packages and where they come from,
//! OS updates, services, package repositories, firewalls and antivirus.

use serde::{Deserialize, Serialize};

/// Where a package comes from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PackageSource {
    /// Not known.
    #[default]
    Unknown,
    /// Debian/Ubuntu dpkg database.
    Dpkg,
    /// RPM database.
    Rpm,
    /// Alpine apk database.
    Apk,
    /// Flatpak.
    Flatpak,
    /// Snap.
    Snap,
    /// Windows Uninstall registry key, machine-wide.
    WindowsMachine,
    /// Windows Uninstall registry key of one user (the SID).
    WindowsUser(String),
    /// macOS application bundle.
    MacApp,
    /// macOS installer package receipt.
    MacPkg,
    /// Anything else.
    Other(String),
}

impl PackageSource {
    /// The source's name as stored and shown: `dpkg`, `rpm`, `windows`,
    /// `windows-user:S-1-5-...`, `macos-app`; an `Other` source is its own
    /// name.
    pub fn name(&self) -> std::borrow::Cow<'_, str> {
        use std::borrow::Cow;
        Cow::Borrowed(match self {
            PackageSource::Unknown => "unknown",
            PackageSource::Dpkg => "dpkg",
            PackageSource::Rpm => "rpm",
            PackageSource::Apk => "apk",
            PackageSource::Flatpak => "flatpak",
            PackageSource::Snap => "snap",
            PackageSource::WindowsMachine => "windows",
            PackageSource::WindowsUser(sid) => return Cow::Owned(format!("windows-user:{sid}")),
            PackageSource::MacApp => "macos-app",
            PackageSource::MacPkg => "macos-pkg",
            PackageSource::Other(o) => o,
        })
    }

    /// The source a name stands for (inverse of [`PackageSource::name`]).
    pub fn from_name(s: &str) -> PackageSource {
        match s {
            "unknown" => PackageSource::Unknown,
            "dpkg" => PackageSource::Dpkg,
            "rpm" => PackageSource::Rpm,
            "apk" => PackageSource::Apk,
            "flatpak" => PackageSource::Flatpak,
            "snap" => PackageSource::Snap,
            "windows" => PackageSource::WindowsMachine,
            "macos-app" => PackageSource::MacApp,
            "macos-pkg" => PackageSource::MacPkg,
            other => match other.strip_prefix("windows-user:") {
                Some(sid) => PackageSource::WindowsUser(sid.to_string()),
                None => PackageSource::Other(other.to_string()),
            },
        }
    }
}

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Package {
    /// Package name (or display name on Windows).
    pub name: String,
    /// Version string as the source reports it.
    pub version: String,
    /// Architecture.
    pub arch: Option<String>,
    /// Source database.
    pub source: PackageSource,
    /// Vendor, publisher or maintainer.
    pub vendor: Option<String>,
    /// Install time, seconds since the Unix epoch.
    pub install_date: Option<u64>,
    /// Installed size, bytes.
    pub size_bytes: Option<u64>,
    /// State when not simply installed (half-installed, unpacked, ...).
    pub state: Option<String>,
    /// Source-specific id (registry key, bundle id, flatpak ref).
    pub id: Option<String>,
}

/// The largest install date or size a package carries: a store keeps them
/// as signed 64-bit numbers, so a larger one reads as unknown.
pub const MAX_PACKAGE_NUMBER: u64 = i64::MAX as u64;

impl Package {
    /// What names a package in a software catalog: two packages with the
    /// same name, version, vendor, source and architecture are one.
    pub fn identity(&self) -> (&str, &str, Option<&str>, &PackageSource, Option<&str>) {
        (
            &self.name,
            &self.version,
            self.vendor.as_deref(),
            &self.source,
            self.arch.as_deref(),
        )
    }

    /// Whether the package is already in its one written form
    /// ([`Package::normalize`] would change nothing).
    pub fn is_normal(&self) -> bool {
        let empty = |s: &Option<String>| s.as_deref() == Some("");
        ![&self.arch, &self.vendor, &self.state, &self.id]
            .into_iter()
            .any(empty)
            && [self.install_date, self.size_bytes]
                .into_iter()
                .flatten()
                .all(|n| n <= MAX_PACKAGE_NUMBER)
            && match &self.source {
                PackageSource::Other(o) => {
                    matches!(PackageSource::from_name(o), PackageSource::Other(_))
                }
                _ => true,
            }
    }

    /// Writes the package one way only, so that what a store keeps of it
    /// reads back equal: an empty vendor, arch, state or id is none; a
    /// source named like a known one (`Other("dpkg")`) is that one; a date
    /// or size past [`MAX_PACKAGE_NUMBER`] is unknown.
    pub fn normalize(&mut self) {
        for field in [
            &mut self.arch,
            &mut self.vendor,
            &mut self.state,
            &mut self.id,
        ] {
            if field.as_deref() == Some("") {
                *field = None;
            }
        }
        for n in [&mut self.install_date, &mut self.size_bytes] {
            if n.is_some_and(|n| n > MAX_PACKAGE_NUMBER) {
                *n = None;
            }
        }
        if let PackageSource::Other(o) = &self.source {
            let known = PackageSource::from_name(o);
            if !matches!(known, PackageSource::Other(_)) {
                self.source = known;
            }
        }
    }
}

/// One installed OS update.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Update {
    /// Update id (KB5034441).
    pub id: String,
    /// Description or package name.
    pub description: Option<String>,
    /// Install time, seconds since the Unix epoch.
    pub installed_on: Option<u64>,
}

/// One service.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Service {
    /// Service name (sshd.service, Spooler, com.apple.xyz).
    pub name: String,
    /// Display name or description.
    pub description: Option<String>,
    /// Run state: running, stopped, unknown.
    pub state: String,
    /// Start mode: enabled/disabled/static/masked (systemd), auto/manual/disabled (Windows), load/disabled (launchd).
    pub start_mode: String,
    /// Manager: systemd, windows, launchd.
    pub manager: String,
}

/// One package repository.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Repository {
    /// Package system: apt, yum, zypper, apk, flatpak.
    pub kind: String,
    /// Repository id or name, when the source gives one.
    pub name: Option<String>,
    /// Base URL.
    pub url: String,
    /// Suite or distribution (bookworm, $releasever).
    pub suite: Option<String>,
    /// Components (main contrib), space-separated.
    pub components: Option<String>,
    /// Enabled.
    pub enabled: bool,
    /// File it is configured in.
    pub file: Option<String>,
}

/// One firewall and its state.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Firewall {
    /// Firewall or profile name (ufw, firewalld, nftables, Windows Domain profile, macOS ALF).
    pub name: String,
    /// Enabled, when known.
    pub enabled: Option<bool>,
}

/// One antivirus product as the OS reports it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Antivirus {
    /// Product name.
    pub name: String,
    /// Real-time protection enabled, when known.
    pub enabled: Option<bool>,
    /// Signatures up to date, when known.
    pub up_to_date: Option<bool>,
    /// Product version.
    pub version: Option<String>,
}
