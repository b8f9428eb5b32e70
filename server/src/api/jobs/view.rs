//! Stored jobs as the API shows them: a job with its targets per state,
//! each target with how it ended and whether its machine awaits a
//! restart.

use crate::rfc3339;
use crate::store::{JobRow, TargetRow};
use deskhand_api_types::jobs::{JobDetail, JobView, TargetView};

/// A job as listed.
pub(super) fn job_view(j: JobRow) -> JobView {
    JobView {
        id: j.id,
        action: j.action,
        item: j.item,
        targets: j.targets_spec,
        created_at: rfc3339(j.created_at),
        created_by: j.created_by,
        deadline: rfc3339(j.deadline),
        timeout_secs: j.timeout_secs,
        args: j.args,
        cancelled_at: j.cancelled_at.map(rfc3339),
        states: j.counts,
        reboot_pending: j.reboot_pending,
    }
}

/// One target of a job.
fn target_view(t: TargetRow) -> TargetView {
    TargetView {
        asset_id: t.asset_id,
        hostname: t.hostname,
        state: t.state,
        cancel_requested: t.cancel_requested,
        started_at: t.started_at.map(rfc3339),
        finished_at: t.finished_at.map(rfc3339),
        exit_code: t.exit_code,
        reboot_pending: t.reboot_pending,
        message: t.message,
        installed_version: t.installed_version,
        stdout: t.stdout,
        stderr: t.stderr,
    }
}

/// A job with its targets, as the store reads them.
pub(super) fn detail((job, targets): (JobRow, Vec<TargetRow>)) -> JobDetail {
    JobDetail {
        job: job_view(job),
        targets: targets.into_iter().map(target_view).collect(),
    }
}
