//! Cooldowns by last action.

use super::NoChangeReason;
use crate::config::Policy;
use crate::model::{ScaleAction, ScalingState};
use chrono::{DateTime, Utc};

/// The cooldown still running at `now`, if any.
///
/// It lasts `COOLDOWN_SCALE_UP` after a scale-up and `COOLDOWN_SCALE_DOWN` after a scale-down,
/// counted from `last_scale_time`; a recorded time without a recorded action takes the longer of
/// the two. At the exact end (remaining 0) the cooldown is over. Remaining time is rounded up to
/// whole seconds, so a cooldown that is still running never reports 0.
pub fn active(state: &ScalingState, cfg: &Policy, now: DateTime<Utc>) -> Option<NoChangeReason> {
    let last = state.last_scale_time?;
    let (after, secs) = match state.last_scale_action {
        Some(ScaleAction::ScaleUp) => (ScaleAction::ScaleUp, cfg.scale_up_cooldown_secs),
        Some(ScaleAction::ScaleDown) => (ScaleAction::ScaleDown, cfg.scale_down_cooldown_secs),
        None if cfg.scale_up_cooldown_secs > cfg.scale_down_cooldown_secs => {
            (ScaleAction::ScaleUp, cfg.scale_up_cooldown_secs)
        }
        None => (ScaleAction::ScaleDown, cfg.scale_down_cooldown_secs),
    };
    let end = last + chrono::Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX / 1000));
    let left_ms = (end - now).num_milliseconds();
    (left_ms > 0).then(|| NoChangeReason::Cooldown {
        after,
        remaining_secs: (left_ms as u64).div_ceil(1000),
    })
}

/// True when a scale-up for pods Pending over the whole `PENDING_PODS_WINDOW` may skip the running
/// cooldown: the last action was a scale-up, and since it at least `COOLDOWN_SCALE_UP_PENDING`
/// *and* a whole `PENDING_PODS_WINDOW` have passed. The second bound means the pods were Pending
/// for a whole window after the last scale-up's workers were Ready (its time is recorded when they
/// are), so the window is not still showing the demand that scale-up met: without it, the lagging
/// window re-fired on every tick until it emptied (seen in `scripts/demo.sh`: 3 workers grew to 6
/// for pods that one worker held). Pending pods are then demand the last scale-up did not meet, so
/// adding room for them cannot thrash; a scale-down after a scale-up still waits the whole
/// `COOLDOWN_SCALE_UP`.
pub(crate) fn pending_may_follow(state: &ScalingState, cfg: &Policy, now: DateTime<Utc>) -> bool {
    match (state.last_scale_action, state.last_scale_time) {
        (Some(ScaleAction::ScaleUp), Some(last)) => {
            let secs = cfg
                .scale_up_cooldown_pending_secs
                .max(cfg.pending_pods_window_secs);
            let wait = i64::try_from(secs).unwrap_or(i64::MAX / 1000);
            now >= last + chrono::Duration::seconds(wait)
        }
        _ => false,
    }
}
