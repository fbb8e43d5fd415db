//! Evaluate's forecast half: one read of the forecast item, a Prometheus backfill only when
//! [`crate::forecast::backfill_due`], this tick's need recorded, and after the decision the floor
//! and `forecast-only` notices; the caller writes the item once. The budget this keeps (at most
//! one Prometheus query and one DynamoDB read per tick) is tested in `evaluate`'s tests and
//! explained in docs/SCALING_ALGORITHM.md ("Forecast history").

use super::Deps;
use crate::engine::forecast::{self, Prediction, BUCKET_SECS};
use crate::engine::increment::new_worker_room;
use crate::engine::{Decision, ForecastMode, Inputs};
use crate::forecast::{backfill_due, floor_notices, summarise_day, ForecastRecord, Notice};
use crate::model::{ScaleAction, ScalingState};
use chrono::{DateTime, Duration, Utc};

/// The forecast as one tick sees it.
#[derive(Debug, Clone)]
pub(crate) struct Tick {
    /// The record, this tick's need recorded.
    pub record: ForecastRecord,
    /// The forecast made this tick (`None` with the forecast off).
    pub prediction: Option<Prediction>,
    /// This tick's need, workers.
    pub need: Option<f64>,
}

/// From the forecast item `loaded` (the store's `load_forecast`, which the caller reads beside
/// its other reads): backfills it when due, takes the boot-to-Ready time of the scale-up it was
/// waiting for when `state` recorded it finished, and records this tick's need. A failed backfill
/// is logged and waits for [`crate::forecast::BACKFILL_RETRY_SECS`].
pub(crate) async fn begin(
    deps: &Deps,
    loaded: Option<ForecastRecord>,
    state: &ScalingState,
    inputs: &Inputs,
    now: DateTime<Utc>,
) -> Tick {
    let cfg = &deps.config;
    let due = backfill_due(loaded.as_ref(), cfg, now);
    let mut record = loaded.unwrap_or_default();
    if due {
        let bucket = BUCKET_SECS;
        let to = DateTime::from_timestamp(now.timestamp() / bucket * bucket, 0).unwrap_or(now);
        let from = to - Duration::days(7);
        match deps.metrics.demand_range(from, to, bucket as u64).await {
            Ok(points) => {
                let room = new_worker_room(&inputs.cluster, cfg);
                // A point is the highest over the bucket before it: it belongs to that bucket.
                let needs: Vec<(i64, f64)> = points
                    .iter()
                    .map(|(t, p)| (t.timestamp() - 1, forecast::need_of(p, room, cfg)))
                    .collect();
                let filled = record.history.backfill(&needs, cfg.cluster_utc_offset_secs);
                tracing::info!(
                    points = needs.len(),
                    filled,
                    "forecast history backfilled from Prometheus"
                );
            }
            Err(e) => {
                tracing::warn!(error = %e, "forecast backfill failed: the history fills from the ticks")
            }
        }
        record.backfilled_at = Some(now);
    }
    if let Some(started) = record.launch_started.take() {
        if let (Some(ScaleAction::ScaleUp), Some(done)) =
            (state.last_scale_action, state.last_scale_time)
        {
            if done > started {
                record.history.boot_to_ready_secs = Some((done - started).num_seconds() as u64);
            }
        }
    }
    let need = forecast::workers_needed(inputs, cfg);
    let prediction = record.history.observe(inputs, cfg, now);
    Tick {
        record,
        prediction,
        need,
    }
}

/// After the decision: the floor notices, the `forecast-only` day summary when a day ended (what
/// the forecast on would have decided is [`crate::engine::decide_with`] under `FORECAST_MODE=on`),
/// and a scale-up remembered for its boot-to-Ready time.
pub(crate) fn after_decision(
    tick: &mut Tick,
    inputs: &Inputs,
    state: &ScalingState,
    decision: &Decision,
    deps: &Deps,
    now: DateTime<Utc>,
) -> Vec<Notice> {
    let cfg = &deps.config;
    let mut out = floor_notices(&mut tick.record, cfg, now);
    if cfg.forecast_mode == ForecastMode::ForecastOnly {
        let mut on = cfg.policy.clone();
        on.forecast_mode = ForecastMode::On;
        let would = crate::engine::decide_with(inputs, Some(&tick.record.history), state, &on, now);
        out.extend(summarise_day(
            &mut tick.record,
            tick.prediction.as_ref(),
            tick.need,
            decision,
            &would,
            cfg,
            now,
        ));
    }
    if matches!(decision, Decision::ScaleUp { .. }) {
        tick.record.launch_started = Some(now);
    }
    out
}
