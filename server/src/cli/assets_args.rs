//! The command-line values of `assets` and `software` (`--status`,
//! `--sort`, `--by`, the fields of `assets edit`), each turned into the
//! API's own type.

use deskhand_api_types::assets::{AssetEdit, AssetSort, AssetStatus, CountBy};
use deskhand_api_types::software::SoftwareSort;

/// Whether an asset is in service or retired (disposed, lost, given away).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum StatusArg {
    /// In service: what lists, counts and job targets mean by default.
    #[default]
    InService,
    /// Retired, kept for its history.
    Retired,
    /// Both.
    All,
}

impl From<StatusArg> for AssetStatus {
    fn from(s: StatusArg) -> Self {
        match s {
            StatusArg::InService => AssetStatus::InService,
            StatusArg::Retired => AssetStatus::Retired,
            StatusArg::All => AssetStatus::All,
        }
    }
}

/// What a list of assets is sorted by. Ties, and assets without the value
/// (never seen, no warranty date), go by name and id, ascending.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum SortArg {
    /// Host name (or a manual asset's name).
    #[default]
    Name,
    /// Asset id.
    Id,
    /// computer, printer, monitor, ...
    Kind,
    /// Where it is.
    Location,
    /// OS name and version.
    Os,
    /// Manufacturer and model.
    Model,
    /// Serial number.
    Serial,
    /// Logged-in or last user.
    User,
    /// Memory size.
    Ram,
    /// Number of installed packages.
    Packages,
    /// Last heard from.
    LastSeen,
    /// First inventory.
    FirstSeen,
    /// Last day of the warranty.
    Warranty,
}

impl From<SortArg> for AssetSort {
    fn from(s: SortArg) -> Self {
        match s {
            SortArg::Name => AssetSort::Name,
            SortArg::Id => AssetSort::Id,
            SortArg::Kind => AssetSort::Kind,
            SortArg::Location => AssetSort::Location,
            SortArg::Os => AssetSort::Os,
            SortArg::Model => AssetSort::Model,
            SortArg::Serial => AssetSort::Serial,
            SortArg::User => AssetSort::User,
            SortArg::Ram => AssetSort::Ram,
            SortArg::Packages => AssetSort::Packages,
            SortArg::LastSeen => AssetSort::LastSeen,
            SortArg::FirstSeen => AssetSort::FirstSeen,
            SortArg::Warranty => AssetSort::Warranty,
        }
    }
}

/// What `software list` is sorted by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum SoftwareSortArg {
    /// Name, then version.
    #[default]
    Name,
    /// How many assets have it (ties by name and version).
    Assets,
}

impl From<SoftwareSortArg> for SoftwareSort {
    fn from(s: SoftwareSortArg) -> Self {
        match s {
            SoftwareSortArg::Name => SoftwareSort::Name,
            SoftwareSortArg::Assets => SoftwareSort::Assets,
        }
    }
}

/// What `assets count --by` groups assets by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CountByArg {
    /// Manufacturer and model.
    Model,
    /// Manufacturer.
    Manufacturer,
    /// OS name and version.
    Os,
    /// computer, printer, monitor, ...
    Kind,
    /// Where it is.
    Location,
}

impl From<CountByArg> for CountBy {
    fn from(b: CountByArg) -> Self {
        match b {
            CountByArg::Model => CountBy::Model,
            CountByArg::Manufacturer => CountBy::Manufacturer,
            CountByArg::Os => CountBy::Os,
            CountByArg::Kind => CountBy::Kind,
            CountByArg::Location => CountBy::Location,
        }
    }
}

/// Fields of an asset to change (`deskhand assets edit`); a field left out
/// stays as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
#[group(required = true, multiple = true)]
#[command(next_help_heading = "Fields to set (at least one)")]
pub struct EditFields {
    /// New name (entered by hand only).
    #[arg(long)]
    pub name: Option<String>,
    /// What it is: printer, monitor, phone, ... (entered by hand only).
    #[arg(long)]
    pub kind: Option<String>,
    /// Serial number (entered by hand only); "" clears it.
    #[arg(long)]
    pub serial: Option<String>,
    /// Manufacturer (entered by hand only).
    #[arg(long)]
    pub manufacturer: Option<String>,
    /// Model (entered by hand only).
    #[arg(long)]
    pub model: Option<String>,
    /// Where it is.
    #[arg(long)]
    pub location: Option<String>,
    /// Who uses it (entered by hand only).
    #[arg(long)]
    pub user: Option<String>,
    /// Free text; "" clears it.
    #[arg(long)]
    pub notes: Option<String>,
    /// Last day of the warranty, e.g. 2027-03-31; "" clears it.
    #[arg(long, value_name = "DATE")]
    pub warranty_until: Option<String>,
}

impl From<EditFields> for AssetEdit {
    fn from(e: EditFields) -> Self {
        AssetEdit {
            name: e.name,
            kind: e.kind,
            serial: e.serial,
            manufacturer: e.manufacturer,
            model: e.model,
            location: e.location,
            user: e.user,
            notes: e.notes,
            warranty_until: e.warranty_until,
        }
    }
}
