//! Cooldowns by last action, and the one exception for pods Pending over a whole window.

use super::{NoChangeReason, ScaleUpReason};
use crate::config::Policy;
use crate::model::{ScaleAction, ScalingState};
use chrono::{DateTime, Duration, Utc};

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
    let left_ms = (last + seconds(secs) - now).num_milliseconds();
    (left_ms > 0).then(|| NoChangeReason::Cooldown {
        after,
        remaining_secs: (left_ms as u64).div_ceil(1000),
    })
}

/// The reason a scale-up for pods Pending over the whole `PENDING_PODS_WINDOW` may go ahead of
/// the cooldown running at `now`, or `None` when it must wait: no cooldown runs, no action is
/// recorded, or too little time has passed since the last action.
///
/// "Too little" is, after a scale-up, less than `COOLDOWN_SCALE_UP_PENDING`, after a scale-down
/// less than `COOLDOWN_SCALE_DOWN_PENDING`, and after either less than a whole
/// `PENDING_PODS_WINDOW`, so the pods were Pending over a window that lies wholly after the last
/// action. After a scale-up, whose time is recorded when its workers are Ready, the window then
/// no longer shows the demand that scale-up met (without this bound the lagging window re-fired
/// on every tick until it emptied, and `scripts/demo.sh` grew 3 workers to 6 for pods one worker
/// held); after a scale-down, it no longer shows the drained pods' moment of re-scheduling. Pods
/// Pending then fit on none of the workers there are: demand the last action did not meet, or
/// created since. Adding room for them cannot thrash, and Cluster Autoscaler never holds a
/// scale-up back for a scale-down either (its `scale-down-delay-after-*` flags delay only the
/// next scale-down). Every other action, a further scale-down and a load-driven scale-up, waits
/// the whole cooldown. See docs/SCALING_ALGORITHM.md ("Cooldowns").
pub(crate) fn pending_may_follow(
    state: &ScalingState,
    cfg: &Policy,
    now: DateTime<Utc>,
) -> Option<ScaleUpReason> {
    let NoChangeReason::Cooldown {
        after,
        remaining_secs,
    } = active(state, cfg, now)?
    else {
        return None;
    };
    let last = state.last_scale_time?;
    let shortened = match state.last_scale_action? {
        ScaleAction::ScaleUp => cfg.scale_up_cooldown_pending_secs,
        ScaleAction::ScaleDown => cfg.scale_down_cooldown_pending_secs,
    };
    let wait = shortened.max(cfg.pending_pods_window_secs);
    (now >= last + seconds(wait)).then_some(ScaleUpReason::PendingAheadOfCooldown {
        after,
        remaining_secs,
        window_secs: cfg.pending_pods_window_secs,
    })
}

/// `secs` as a duration, saturating far beyond any configured one.
fn seconds(secs: u64) -> Duration {
    Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX / 1000))
}
