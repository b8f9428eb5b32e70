//! Diagnostic runs stored as their rows stream in.

use deskhand_shared::diag::{DiagResult, DiagTable};

use crate::store::{DiagRun, Store};
use crate::testkit::{enroll, store};

fn started(agent: &str) -> DiagRun {
    DiagRun {
        id: 0,
        agent_id: agent.into(),
        check: "processes".into(),
        args: String::new(),
        operator: "bob".into(),
        started_at: 100,
        result: DiagResult::default(),
        finished: false,
    }
}

fn rows(n: usize) -> DiagResult {
    DiagResult {
        tables: vec![DiagTable {
            title: "top".into(),
            columns: vec!["name".into()],
            rows: (0..n).map(|i| vec![format!("p{i}")]).collect(),
        }],
        ..DiagResult::default()
    }
}

async fn stored(s: &Store, id: i64) -> DiagRun {
    s.get_diag_run(id).await.expect("the run")
}

#[tokio::test]
async fn a_run_grows_until_finished_and_then_stays() {
    let (_d, s) = store().await;
    enroll(&s, &[("a1", "pc1")]).await;
    let id = s.record_diag_run(started("a1")).await.expect("start");
    let run = stored(&s, id).await;
    assert!(!run.finished && run.result.tables.is_empty());

    assert!(
        s.update_diag_run(id, rows(1), false, 101)
            .await
            .expect("rows")
    );
    let run = stored(&s, id).await;
    assert!(!run.finished);
    assert_eq!(run.result.tables[0].rows.len(), 1);

    let mut done = rows(3);
    done.ok = true;
    done.micros = 2_000;
    assert!(
        s.update_diag_run(id, done.clone(), true, 102)
            .await
            .expect("end")
    );
    let run = stored(&s, id).await;
    assert!(run.finished);
    assert_eq!(run.result, done);

    // A finished run is not reopened nor rewritten.
    assert!(
        !s.update_diag_run(id, rows(0), false, 103)
            .await
            .expect("late")
    );
    assert_eq!(stored(&s, id).await.result, done);
    assert!(
        !s.update_diag_run(id + 100, rows(1), true, 103)
            .await
            .expect("unknown")
    );
}

#[tokio::test]
async fn runs_stored_whole_are_finished() {
    let (_d, s) = store().await;
    enroll(&s, &[("a1", "pc1")]).await;
    let id = s
        .record_diag_run(DiagRun {
            finished: true,
            result: rows(2),
            ..started("a1")
        })
        .await
        .expect("whole");
    let run = stored(&s, id).await;
    assert!(run.finished);
    assert_eq!(run.result, rows(2));
}
