//! The HTTP API's request and response types, as JSON: what the server's
//! `api` handlers answer and the `deskhand-cli` client sends and reads.
//!
//! One module per area of the API ([`assets`], [`asset_page`], [`software`], [`changes`],
//! [`labels`], [`agents`], [`operators`], [`diag`], [`jobs`], [`tickets`] (and
//! [`mass`]: merges, parents, bulk changes), [`kb`], [`reports`], [`goals`]
//! (goals, the report by group, scheduled reports), [`rollouts`], [`teams`],
//! [`shifts`], [`routing`], [`remote`] (remote-access sessions), [`import`], [`server`], [`replies`]). These types know
//! serde: no store, no clap, no HTTP framework. With the `openapi`
//! feature (the server's; the CLI leaves it off) they also derive
//! utoipa's `ToSchema` (bodies) and `IntoParams` (queries) for the
//! server's OpenAPI document. Enumerated query values (`sort=`,
//! `status=`, `by=`) implement [`Keyword`], which spells them as the API
//! takes them.

pub mod agents;
pub mod asset_page;
pub mod assets;
pub mod changes;
pub mod diag;
pub mod goals;
pub mod import;
pub mod jobs;
pub mod kb;
pub mod labels;
pub mod limits;
pub mod mail;
pub mod mass;
pub mod operators;
pub mod remote;
pub mod replies;
pub mod reports;
pub mod rollouts;
pub mod routing;
pub mod server;
pub mod shifts;
pub mod software;
pub mod teams;
pub mod tickets;

/// A closed set of values a query parameter takes (`sort=last-seen`),
/// spelled in kebab-case as the API documents them.
pub trait Keyword: Sized + Copy + 'static {
    /// Every value, in the order an error message lists them.
    const ALL: &'static [Self];

    /// The value as the API spells it (`last-seen`).
    fn name(self) -> &'static str;

    /// The value named `text`, in any case.
    fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|v| v.name().eq_ignore_ascii_case(text))
    }
}

/// Spells out a [`Keyword`] enum's `name` and `ALL` from its variants and names.
macro_rules! keyword {
    ($ty:ty { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $crate::Keyword for $ty {
            const ALL: &'static [Self] = &[$(<$ty>::$variant),+];
            fn name(self) -> &'static str {
                match self {
                    $(<$ty>::$variant => $name),+
                }
            }
        }
    };
}
pub(crate) use keyword;

/// `order=` of a sorted list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SortOrder {
    /// Smallest, earliest or first first (the default).
    #[default]
    Asc,
    /// Largest, latest or last first.
    Desc,
}

keyword!(SortOrder { Asc => "asc", Desc => "desc" });

/// Schemas utoipa does not derive as serde reads the type (feature
/// `openapi`).
#[cfg(feature = "openapi")]
pub(crate) mod schemas {
    use utoipa::openapi::schema::{Array, ArrayBuilder, ArrayItems, Object, Type};

    /// A list of pairs `[first, second]`. utoipa writes a tuple's item
    /// types but not that it has exactly two items, which serde requires
    /// of a tuple: a generated `[x]` would be documented as valid.
    fn pairs(first: Type, second: Type, description: &str) -> Array {
        let pair = ArrayBuilder::new()
            .prefix_items([Object::with_type(first), Object::with_type(second)])
            .items(ArrayItems::False)
            .min_items(Some(2))
            .max_items(Some(2))
            .build();
        ArrayBuilder::new()
            .items(ArrayItems::RefOrSchema(Box::new(pair.into())))
            .description(Some(description))
            .build()
    }

    /// `[["name", "value"], ...]`.
    pub(crate) fn name_value_pairs() -> Array {
        pairs(
            Type::String,
            Type::String,
            "Arguments as name/value pairs, e.g. `[[\"unit\", \"ssh\"]]`.",
        )
    }

    /// `[["state", count], ...]`.
    pub(crate) fn state_counts() -> Array {
        pairs(
            Type::String,
            Type::Integer,
            "Targets per state, e.g. `[[\"succeeded\", 3], [\"queued\", 1]]`.",
        )
    }
}
