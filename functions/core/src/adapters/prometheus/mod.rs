//! The Prometheus adapter: SmartScale's [`crate::seams::MetricsSource`].
//!
//! - [`query`]: which PromQL is asked (the recorded series of `cdk/prometheus/rules/`), one
//!   query per snapshot field, each returning value, sample timestamp and window sample count.
//! - [`response`]: parsing `/api/v1/query` bodies; never panics on any input.
//! - [`snapshot`]: validation (NaN, ±Inf, negatives, ratios above 1), staleness, "no series"
//!   versus "query failed", and the `missing`/`stale` lists.
//! - [`client`]: HTTPS trusting only the cluster's CA (plain HTTP to loopback only), basic auth,
//!   parallel queries within one time budget, retries.
//! - [`demand`]: the forecast backfill's one range query over the last week, and its answer.
//! - [`cache`]: last good values for scale-up only, as pure functions over the state item.
//!
//! The client never reads the clock: the evaluation time `now` is an argument and is sent as
//! `time=`, so a snapshot is reproducible for a given Prometheus history.

pub mod cache;
pub mod client;
pub mod demand;
pub mod query;
pub mod response;
pub mod snapshot;

pub use client::{http_client, BasicAuth, PrometheusClient, PrometheusSettings};
