//! Placeholder until the time-zone branch lands: no zones known.

use super::{Result, Store};

impl Store {
    /// Each asset's reported time zone and UTC offset.
    pub async fn machine_zones(
        &self,
        _asset_ids: Vec<String>,
    ) -> Result<Vec<(String, Option<String>, Option<i32>)>> {
        Ok(Vec::new())
    }
}
