//! Supervisors' goals (table `goals`, migration 35 in
//! [`super::report_schedules`]): one target per team or technician and
//! metric. Setting one checks that the technician is an operator (or the
//! team exists) in the same transaction; every change is audited.

use crate::store::sql::{Conn, params};
use crate::tickets::goals::{Goal, Metric, Scope};

use super::{Result, Store, StoreError, audit};

/// A goal as stored: the goal, who set it and when.
#[derive(Debug, Clone, PartialEq)]
pub struct GoalRecord {
    /// The goal.
    pub goal: Goal,
    /// Who set it.
    pub set_by: String,
    /// When.
    pub set_at: i64,
}

fn goal_row(r: &crate::store::sql::Row<'_>) -> crate::store::sql::Result<GoalRecord> {
    let scope: String = r.get(0)?;
    let scope =
        Scope::parse(&scope).map_err(|e| crate::store::sql::damaged("goals", "scope", e))?;
    let metric: String = r.get(2)?;
    let metric =
        Metric::parse(&metric).map_err(|e| crate::store::sql::damaged("goals", "metric", e))?;
    Ok(GoalRecord {
        goal: Goal {
            scope,
            name: r.get(1)?,
            metric,
            target: r.get(3)?,
        },
        set_by: r.get(4)?,
        set_at: r.get(5)?,
    })
}

/// Refuses a goal for a technician who is not an operator, or a team
/// that does not exist.
fn check_subject(tx: &Conn, scope: Scope, name: &str) -> Result<()> {
    let (sql, missing) = match scope {
        Scope::Technician => (
            "SELECT EXISTS(SELECT 1 FROM operators WHERE name = ?1)",
            format!("no operator named `{name}`; see `deskhand operators list`"),
        ),
        Scope::Team => (
            "SELECT EXISTS(SELECT 1 FROM teams WHERE name = ?1)",
            format!("no team named `{name}`; see `deskhand teams list`"),
        ),
    };
    let known: bool = tx.query_row(sql, [name], |r| r.get(0))?;
    if !known {
        return Err(StoreError::NotFound(missing));
    }
    Ok(())
}

impl Store {
    /// Sets (or replaces) `(metric, target)` goals of `name`, audited.
    pub async fn set_goals(
        &self,
        scope: Scope,
        name: String,
        targets: Vec<(Metric, f64)>,
        by: String,
        now: i64,
    ) -> Result<()> {
        self.write_at(now, move |tx| {
            check_subject(tx, scope, &name)?;
            let mut detail = Vec::new();
            for (metric, target) in &targets {
                tx.execute(
                    "INSERT INTO goals (scope, name, metric, target, set_by, set_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (scope, name, metric)
                     DO UPDATE SET target = excluded.target, set_by = excluded.set_by, set_at = excluded.set_at",
                    params![scope.as_str(), name, metric.as_str(), *target, by, now],
                )?;
                detail.push(format!("{metric}={}", metric.show(*target)));
            }
            audit(
                tx,
                now,
                &by,
                "goal.set",
                &format!("{} {name}", scope.as_str()),
                &detail.join(" "),
            )
        })
        .await
    }

    /// Removes the goals of `name` (only `metric`'s if given), audited;
    /// how many. None to remove is an error that says so.
    pub async fn clear_goals(
        &self,
        scope: Scope,
        name: String,
        metric: Option<Metric>,
        by: String,
        now: i64,
    ) -> Result<usize> {
        self.write_at(now, move |tx| {
            let n = match metric {
                Some(m) => tx.execute(
                    "DELETE FROM goals WHERE scope = ?1 AND name = ?2 AND metric = ?3",
                    params![scope.as_str(), name, m.as_str()],
                )?,
                None => tx.execute(
                    "DELETE FROM goals WHERE scope = ?1 AND name = ?2",
                    params![scope.as_str(), name],
                )?,
            };
            if n == 0 {
                let what = metric.map_or(String::new(), |m| format!(" for {m}"));
                return Err(StoreError::NotFound(format!(
                    "{} {name} has no goal{what}; see `deskhand goals list`",
                    scope.as_str()
                )));
            }
            audit(
                tx,
                now,
                &by,
                "goal.clear",
                &format!("{} {name}", scope.as_str()),
                metric.map_or("all", Metric::as_str),
            )?;
            Ok(n)
        })
        .await
    }

    /// Every goal, by scope, name and metric.
    pub async fn goals(&self) -> Result<Vec<GoalRecord>> {
        self.read(|c| {
            let mut st = c.prepare(
                "SELECT scope, name, metric, target, set_by, set_at FROM goals ORDER BY scope, name, metric",
            )?;
            let rows = st.query_map([], goal_row)?;
            let mut v: Vec<GoalRecord> = rows.collect::<Result<_, _>>()?;
            // The metrics in the reports' order, not the alphabet's.
            v.sort_by(|a, b| {
                (a.goal.scope, &a.goal.name, a.goal.metric).cmp(&(
                    b.goal.scope,
                    &b.goal.name,
                    b.goal.metric,
                ))
            });
            Ok(v)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn goals_are_set_replaced_listed_and_cleared() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = crate::testkit::open(&dir.path().join("db")).expect("open");
        store
            .add_operator(
                "alice".into(),
                crate::store::Role::Technician,
                "hash".into(),
                "admin".into(),
                10,
            )
            .await
            .expect("operator");
        let fr = Metric::FirstResponseP90;
        let sat = Metric::Satisfaction;
        store
            .set_goals(
                Scope::Technician,
                "alice".into(),
                vec![(fr, 3600.0), (sat, 4.5)],
                "admin".into(),
                20,
            )
            .await
            .expect("set");
        store
            .set_goals(
                Scope::Technician,
                "alice".into(),
                vec![(fr, 1800.0)],
                "boss".into(),
                30,
            )
            .await
            .expect("replace");
        let all = store.goals().await.expect("list");
        let got: Vec<(Metric, f64, &str)> = all
            .iter()
            .map(|g| (g.goal.metric, g.goal.target, g.set_by.as_str()))
            .collect();
        assert_eq!(got, [(fr, 1800.0, "boss"), (sat, 4.5, "admin")]);

        let e = store
            .set_goals(
                Scope::Technician,
                "nobody".into(),
                vec![(fr, 60.0)],
                "admin".into(),
                40,
            )
            .await
            .expect_err("refused");
        assert!(e.to_string().contains("no operator named `nobody`"), "{e}");

        assert_eq!(
            store
                .clear_goals(
                    Scope::Technician,
                    "alice".into(),
                    Some(sat),
                    "admin".into(),
                    50
                )
                .await
                .expect("clear one"),
            1
        );
        let e = store
            .clear_goals(
                Scope::Technician,
                "alice".into(),
                Some(sat),
                "admin".into(),
                60,
            )
            .await
            .expect_err("refused");
        assert!(matches!(e, StoreError::NotFound(_)), "{e}");
        assert_eq!(
            store
                .clear_goals(Scope::Technician, "alice".into(), None, "admin".into(), 70)
                .await
                .expect("clear all"),
            1
        );
        assert!(store.goals().await.expect("list").is_empty());
        let audit = store.list_audit(100).await.expect("audit");
        let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
        assert_eq!(
            actions.iter().filter(|a| a.starts_with("goal.")).count(),
            4,
            "{actions:?}"
        );
    }

    #[tokio::test]
    async fn a_damaged_metric_is_an_error_that_names_its_column() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = crate::testkit::open(&dir.path().join("db")).expect("open");
        let e = store
            .set_goals(
                Scope::Team,
                "desktop".into(),
                vec![(Metric::BacklogAge, 60.0)],
                "admin".into(),
                1,
            )
            .await
            .expect_err("no such team");
        assert!(e.to_string().contains("no team named `desktop`"), "{e}");
        store
            .add_operator(
                "alice".into(),
                crate::store::Role::Technician,
                "hash".into(),
                "admin".into(),
                1,
            )
            .await
            .expect("operator");
        store
            .set_goals(
                Scope::Technician,
                "alice".into(),
                vec![(Metric::BacklogAge, 60.0)],
                "admin".into(),
                1,
            )
            .await
            .expect("set");
        store
            .write_at(2, |tx| {
                tx.execute("UPDATE goals SET metric = 'speed'", [])?;
                Ok(())
            })
            .await
            .expect("damage");
        let e = store.goals().await.expect_err("refused");
        assert!(e.to_string().contains("goals.metric"), "{e}");
    }
}
