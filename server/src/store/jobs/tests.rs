//! Stored jobs read back: a damaged value is an error that names its
//! column, never an empty default.

use crate::store::sql::Conn;

use crate::store::{Store, StoreError};

fn store() -> (tempfile::TempDir, Store, Conn) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("deskhand.db");
    let s = crate::testkit::open(&path).expect("open");
    let raw = s.raw_conn();
    (dir, s, raw)
}

#[tokio::test]
async fn damaged_job_arguments_are_an_error_naming_the_column() {
    let (_dir, s, raw) = store();
    raw.execute_batch(
        "INSERT INTO jobs (id, action, args, timeout_secs, deadline, targets_spec, created_at, created_by)
         VALUES ('j1', 'inventory', 'not json', 60, 100, 'all', 1, 'alice');",
    )
    .expect("raw insert");
    let err = s.list_jobs(10).await.expect_err("a damaged value");
    assert!(
        matches!(
            &err,
            StoreError::Corrupt {
                table: "jobs",
                column: "args",
                ..
            }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("jobs.args"), "{message}");
    assert!(message.contains("deskhand backup"), "{message}");
    let err = s
        .order_parts("j1".into())
        .await
        .expect_err("the same value");
    assert!(
        matches!(&err, StoreError::Corrupt { column: "args", .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_unknown_target_state_is_an_error_naming_the_column() {
    let (_dir, s, raw) = store();
    raw.execute_batch(crate::store::sql::testing::without_foreign_keys(&raw))
        .expect("no foreign keys");
    raw.execute_batch(
        "INSERT INTO jobs (id, action, timeout_secs, deadline, targets_spec, created_at, created_by)
         VALUES ('j1', 'inventory', 60, 100, 'all', 1, 'alice');
         INSERT INTO job_targets (job_id, asset_id, agent_id, hostname, state, updated_at)
         VALUES ('j1', 'a1', 'a1', 'pc1', 'running', 1);
         UPDATE job_targets SET state = 'half-done';",
    )
    .expect("raw insert");
    // Not an unfinished state: not pending, so not read as one.
    assert!(
        s.agent_pending_jobs("a1".into())
            .await
            .expect("pending")
            .is_empty()
    );
    let err = s
        .cancel_job("j1".into(), "alice".into(), 2)
        .await
        .expect_err("a damaged state");
    assert!(
        matches!(
            &err,
            StoreError::Corrupt {
                table: "job_targets",
                column: "state",
                ..
            }
        ),
        "{err:?}"
    );
}

/// An asset's page lists the jobs it was a target of, newest first, with
/// its own target's state, and how many there were.
#[tokio::test]
async fn asset_jobs_are_the_assets_targets_newest_first() {
    let (_dir, s, raw) = store();
    // Only the job tables matter here: no agents or assets behind them.
    raw.execute_batch(crate::store::sql::testing::without_foreign_keys(&raw))
        .expect("no foreign keys");
    raw.execute_batch(
        "INSERT INTO content_items (id, kind, name, version, manifest, signature, publisher, published_at, published_by)
             VALUES (1, 'package', 'curl', '8.5', '{}', 'sig', 'k', 1, 'alice');
         INSERT INTO jobs (id, action, item_id, diag_check, timeout_secs, deadline, targets_spec, created_at, created_by) VALUES
             ('j1', 'install', 1, NULL, 60, 100, 'all', 10, 'alice'),
             ('j2', 'diag', NULL, 'disk-usage', 60, 100, 'all', 20, 'alice'),
             ('j3', 'inventory', NULL, NULL, 60, 100, 'pc-2', 30, 'alice');
         INSERT INTO job_targets (job_id, asset_id, agent_id, hostname, state, updated_at, finished_at, exit_code) VALUES
             ('j1', 'a1', 'a1', 'pc-1', 'succeeded', 12, 12, 0),
             ('j1', 'a2', 'a2', 'pc-2', 'failed', 12, 12, 1),
             ('j2', 'a1', 'a1', 'pc-1', 'running', 21, NULL, NULL),
             ('j3', 'a2', 'a2', 'pc-2', 'queued', 30, NULL, NULL);",
    )
    .expect("raw insert");
    let (jobs, total) = s.read(|r| r.asset_jobs("a1", 10)).await.expect("jobs");
    assert_eq!(total, 2);
    let seen: Vec<String> = jobs
        .iter()
        .map(|j| {
            format!(
                "{} {} {} {} {:?} {:?}",
                j.job_id, j.action, j.item, j.state, j.exit_code, j.finished_at
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            "j2 diag disk-usage running None None",
            "j1 install curl 8.5 succeeded Some(0) Some(12)",
        ]
    );
    let (one, total) = s.read(|r| r.asset_jobs("a2", 1)).await.expect("limited");
    assert_eq!((one.len(), total), (1, 2));
    assert_eq!(one[0].job_id, "j3");
    let (none, total) = s.read(|r| r.asset_jobs("nobody", 10)).await.expect("none");
    assert!(none.is_empty() && total == 0);
}

/// A finished result is stored with whether the machine awaits a restart:
/// a success with an exit code the item's manifest lists as a reboot code,
/// nothing else (another code, a failure, a manifest without the lists).
#[tokio::test]
async fn a_success_with_a_reboot_code_of_its_manifest_awaits_a_restart() {
    use deskhand_shared::jobs::{JobProgress, JobResult, Outcome};
    let (_dir, s, raw) = store();
    raw.execute_batch(crate::store::sql::testing::without_foreign_keys(&raw))
        .expect("no foreign keys");
    let manifest = |extra: &str| {
        format!(
            r#"{{"format":1,"kind":"script","name":"patch","version":"1","artifact":null,"install":["sh","{{file}}"],"uninstall":[],"check":null,"publisher":"k"{extra}}}"#
        )
    };
    raw.execute(
        "INSERT INTO content_items (id, kind, name, version, manifest, signature, publisher, published_at, published_by)
         VALUES (1, 'script', 'patch', '1', ?1, 'sig', 'k', 1, 'alice'),
                (2, 'script', 'patch', '2', ?2, 'sig', 'k', 1, 'alice')",
        [manifest(r#","reboot_exit_codes":[3010,1641]"#), manifest("")],
    )
    .expect("items");
    raw.execute_batch(
        "INSERT INTO jobs (id, action, item_id, timeout_secs, deadline, targets_spec, created_at, created_by) VALUES
             ('j1', 'script', 1, 60, 100, 'all', 10, 'alice'),
             ('j2', 'script', 2, 60, 100, 'all', 10, 'alice'),
             ('j3', 'inventory', NULL, 60, 100, 'all', 10, 'alice');
         INSERT INTO job_targets (job_id, asset_id, agent_id, hostname, state, updated_at) VALUES
             ('j1', 'a1', 'a1', 'pc-1', 'running', 11),
             ('j1', 'a2', 'a2', 'pc-2', 'running', 11),
             ('j1', 'a3', 'a3', 'pc-3', 'running', 11),
             ('j2', 'a1', 'a1', 'pc-1', 'running', 11),
             ('j3', 'a1', 'a1', 'pc-1', 'running', 11);",
    )
    .expect("jobs");
    let finish = |job: &'static str, agent: &'static str, outcome, code| {
        let mut r = JobResult::new(outcome, "done");
        r.exit_code = Some(code);
        r.finished_at = 20;
        s.apply_job_update(agent.into(), job.into(), JobProgress::Finished(r), 20)
    };
    finish("j1", "a1", Outcome::Succeeded, 3010)
        .await
        .expect("a1");
    finish("j1", "a2", Outcome::Succeeded, 0).await.expect("a2");
    finish("j1", "a3", Outcome::Failed, 3010).await.expect("a3");
    finish("j2", "a1", Outcome::Succeeded, 3010)
        .await
        .expect("j2");
    finish("j3", "a1", Outcome::Succeeded, 3010)
        .await
        .expect("j3");
    let flags = |job: &'static str| {
        let s = s.clone();
        async move {
            let (row, targets) = s.get_job(job.into()).await.expect("job");
            let flags: Vec<(String, String, bool)> = targets
                .into_iter()
                .map(|t| (t.asset_id, t.state, t.reboot_pending))
                .collect();
            (row.reboot_pending, flags)
        }
    };
    let t = |a: &str, st: &str, r| (a.to_string(), st.to_string(), r);
    assert_eq!(
        flags("j1").await,
        (
            1,
            vec![
                t("a1", "succeeded", true),
                t("a2", "succeeded", false),
                t("a3", "failed", false),
            ]
        )
    );
    assert_eq!(flags("j2").await, (0, vec![t("a1", "succeeded", false)]));
    assert_eq!(flags("j3").await, (0, vec![t("a1", "succeeded", false)]));
    let (jobs, _) = s.read(|r| r.asset_jobs("a1", 10)).await.expect("jobs");
    let on_a1: Vec<(String, bool)> = jobs
        .into_iter()
        .map(|j| (j.job_id, j.reboot_pending))
        .collect();
    assert!(on_a1.contains(&("j1".into(), true)), "{on_a1:?}");
    assert!(on_a1.contains(&("j2".into(), false)), "{on_a1:?}");
    let rebooting = s
        .read(|r| r.reboot_pending_assets("j1"))
        .await
        .expect("assets");
    assert_eq!(rebooting, ["a1".to_string()].into());
    let listed = s.list_jobs(10).await.expect("list");
    let j1 = listed.iter().find(|j| j.id == "j1").expect("j1");
    assert_eq!(j1.reboot_pending, 1);
}
