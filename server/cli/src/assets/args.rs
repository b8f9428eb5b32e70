//! The options of `assets` and `software`: the filters, order and page of
//! a list, and the values of `--status`, `--sort`, `--by` and the fields of
//! `assets edit`, each turned into the API's own type.

use deskhand_api_types::Keyword;
use deskhand_api_types::assets::{AssetEdit, AssetQuery, AssetSort, AssetStatus, CountBy};
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

/// Filters shared by `assets list` and `assets export`.
#[derive(Debug, Clone, clap::Args)]
pub struct AssetFilters {
    /// Text in the host name, serial, model, user, IP or MAC (any case; * matches any text).
    #[arg(long)]
    search: Option<String>,
    /// Assets with this package, optionally version-constrained: firefox, firefox@<120,
    /// openssl@>=3.0,<3.0.13. The name is matched in any case; * matches any text
    /// ('Mozilla Firefox*@<120'). Each asset listed says which versions it has.
    #[arg(long, value_name = "NAME[@CONSTRAINT]")]
    software: Option<String>,
    /// Substring of OS name and version.
    #[arg(long)]
    os: Option<String>,
    /// Substring of manufacturer and model.
    #[arg(long)]
    model: Option<String>,
    /// Seen within this long, e.g. 7d.
    #[arg(long, value_name = "DURATION")]
    seen_within: Option<String>,
    /// Not seen for this long, e.g. 30d.
    #[arg(long, value_name = "DURATION")]
    not_seen_for: Option<String>,
    /// Carrying this label (static or dynamic). A dynamic label whose filter
    /// names software says, as --software does, which versions each asset has.
    #[arg(long)]
    label: Option<String>,
    /// Assets in service (the default), retired ones, or all.
    #[arg(long, value_enum, value_name = "STATUS")]
    status: Option<StatusArg>,
    /// Warranty still running and ending within this long, e.g. 90d.
    #[arg(long, value_name = "DURATION")]
    warranty_ends_within: Option<String>,
    /// Only assets whose warranty has ended.
    #[arg(long)]
    out_of_warranty: bool,
}

impl AssetFilters {
    pub(crate) fn query(self) -> AssetQuery {
        AssetQuery {
            search: self.search,
            software: self.software,
            os: self.os,
            model: self.model,
            seen_within: self.seen_within,
            not_seen_for: self.not_seen_for,
            label: self.label,
            status: self
                .status
                .map(|s| Keyword::name(AssetStatus::from(s)).to_string()),
            warranty_ends_within: self.warranty_ends_within,
            out_of_warranty: self.out_of_warranty.then(|| "true".to_string()),
            ..Default::default()
        }
    }
}

/// The filters of `assets list` and `assets export`, and the order and
/// page of the answer.
#[derive(Debug, Clone, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    filters: AssetFilters,
    /// Sort by this (ties by name).
    #[arg(long, value_enum, value_name = "KEY", default_value_t)]
    sort: SortArg,
    #[command(flatten)]
    page: PageArgs,
}

impl ListArgs {
    pub(crate) fn query(self) -> AssetQuery {
        AssetQuery {
            sort: Some(Keyword::name(AssetSort::from(self.sort)).to_string()),
            order: self.page.order(),
            limit: self.page.limit,
            offset: self.page.offset(),
            ..self.filters.query()
        }
    }
}

/// The direction and page of a sorted list.
#[derive(Debug, Clone, clap::Args)]
pub struct PageArgs {
    /// Largest, latest or last first (values that are missing stay last).
    #[arg(long)]
    desc: bool,
    /// At most this many.
    #[arg(long, value_name = "N")]
    pub(crate) limit: Option<usize>,
    /// Skip this many first (with --limit: the next page).
    #[arg(long, value_name = "N", default_value_t = 0)]
    offset: usize,
}

impl PageArgs {
    /// The API's `order`.
    pub(crate) fn order(&self) -> Option<String> {
        self.desc.then(|| "desc".to_string())
    }

    /// The API's `offset`.
    pub(crate) fn offset(&self) -> Option<usize> {
        (self.offset > 0).then_some(self.offset)
    }
}
