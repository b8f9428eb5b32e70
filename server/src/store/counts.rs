//! Counts for the dashboard, each one `count(*)` rather than every row
//! loaded to be counted: on the 10,000-asset bench fleet, loading the
//! agents and the assets in service only to count them was most of the
//! console dashboard's time (bench/console-pages.sh).

use super::{Result, Store};

impl Store {
    /// Enrolled agents: those not revoked.
    pub async fn enrolled_agents(&self) -> Result<usize> {
        self.read(|c| {
            let n: i64 = c.query_row(
                "SELECT count(*) FROM agents WHERE revoked_at IS NULL",
                [],
                |r| r.get(0),
            )?;
            Ok(usize::try_from(n).unwrap_or(0))
        })
        .await
    }

    /// Assets in service (not retired): as many as the asset list shows
    /// without a filter.
    pub async fn assets_in_service(&self) -> Result<usize> {
        self.read(|c| {
            let n: i64 = c.query_row(
                "SELECT count(*) FROM assets WHERE retired_at IS NULL",
                [],
                |r| r.get(0),
            )?;
            Ok(usize::try_from(n).unwrap_or(0))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use crate::store::{AssetFilter, ManualAsset};
    use crate::testkit::{enroll, store};

    #[tokio::test]
    async fn revoked_agents_and_retired_assets_are_not_counted() {
        let (_dir, s) = store().await;
        assert_eq!(s.enrolled_agents().await.expect("count"), 0);
        assert_eq!(s.assets_in_service().await.expect("count"), 0);
        enroll(&s, &[("a1", "pc-1"), ("a2", "pc-2"), ("a3", "pc-3")]).await;
        s.revoke_agent("a2".into(), "admin".into(), 2)
            .await
            .expect("revoke");
        assert_eq!(s.enrolled_agents().await.expect("count"), 2);
        assert_eq!(s.list_agents().await.expect("agents").len(), 3);

        let mut ids = Vec::new();
        for name in ["printer 1", "printer 2", "printer 3"] {
            let asset = ManualAsset {
                name: name.into(),
                kind: "printer".into(),
                ..ManualAsset::default()
            };
            let id = s
                .add_manual_asset(asset, "admin".into(), 3)
                .await
                .expect("add");
            ids.push(id);
        }
        s.set_retired(ids[1].clone(), Some("broken".into()), "admin".into(), 4)
            .await
            .expect("retire");
        assert_eq!(s.assets_in_service().await.expect("count"), 2);
        // The same number the asset list without a filter has.
        let listed = s
            .list_assets(AssetFilter::default(), 5)
            .await
            .expect("list");
        assert_eq!(listed.len(), 2);
        assert!(listed.iter().all(|a| a.id != ids[1]));
    }
}
