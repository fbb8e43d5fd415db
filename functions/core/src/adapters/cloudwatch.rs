//! [`MetricHistory`] on CloudWatch `GetMetricData`: one request (paged with `NextToken`) for all
//! the queries, one-minute buckets, namespace [`NAMESPACE`], dimension `ClusterId` plus each
//! query's own. `GetMetricData` has no resource-level permissions, so the role's grant is on `*`
//! (`docs/SECURITY_CHECKLIST.md`).

use crate::adapters::sdk_error::{by_status, classify_with, fault_of};
use crate::error::{Error, Result};
use crate::notify::weekly::Samples;
use crate::seams::{MetricHistory, SeriesQuery, Statistic};
use crate::telemetry::NAMESPACE;
use async_trait::async_trait;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// The bucket length, seconds: one sample per tick (ticks are at least two minutes apart).
pub const PERIOD_SECS: i32 = 60;

/// CloudWatch metric reads for one cluster.
#[derive(Debug, Clone)]
pub struct CloudWatchHistory {
    client: aws_sdk_cloudwatch::Client,
    cluster_id: String,
}

impl CloudWatchHistory {
    /// Reads the metrics of `cluster_id` through `client` (built by the caller).
    pub fn new(client: aws_sdk_cloudwatch::Client, cluster_id: impl Into<String>) -> Self {
        CloudWatchHistory {
            client,
            cluster_id: cluster_id.into(),
        }
    }

    fn query(&self, q: &SeriesQuery) -> MetricDataQuery {
        let dims = std::iter::once(("ClusterId", self.cluster_id.as_str()))
            .chain(q.dimensions.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .map(|(k, v)| Dimension::builder().name(k).value(v).build());
        let metric = Metric::builder()
            .namespace(NAMESPACE)
            .metric_name(&q.metric)
            .set_dimensions(Some(dims.collect()))
            .build();
        let stat = match q.stat {
            Statistic::Average => "Average",
            Statistic::Maximum => "Maximum",
        };
        MetricDataQuery::builder()
            .id(&q.id)
            .metric_stat(
                MetricStat::builder()
                    .metric(metric)
                    .period(PERIOD_SECS)
                    .stat(stat)
                    .build(),
            )
            .return_data(true)
            .build()
    }
}

/// The class of a CloudWatch failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Transient,
    Fatal,
}

/// Classifies a CloudWatch error by its code and HTTP status (`None` for both: no answer at all).
fn classify(code: Option<&str>, http_status: Option<u16>) -> Fault {
    match code {
        Some("Throttling" | "ThrottlingException" | "InternalServiceError") => Fault::Transient,
        c => by_status(c.is_some(), http_status, Fault::Transient, Fault::Fatal),
    }
}

classify_with!(Fault, classify, Fault::Fatal);

fn smithy_time(t: DateTime<Utc>) -> aws_smithy_types::DateTime {
    aws_smithy_types::DateTime::from_secs(t.timestamp())
}

#[async_trait]
impl MetricHistory for CloudWatchHistory {
    async fn minutely(
        &self,
        queries: &[SeriesQuery],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<BTreeMap<String, Samples>> {
        let context = format!(
            "reading {} CloudWatch series of cluster {} from {from} to {to}",
            queries.len(),
            self.cluster_id
        );
        let mut out: BTreeMap<String, Samples> = BTreeMap::new();
        if queries.is_empty() {
            return Ok(out);
        }
        let mut token: Option<String> = None;
        loop {
            let resp = self
                .client
                .get_metric_data()
                .start_time(smithy_time(from))
                .end_time(smithy_time(to))
                .scan_by(ScanBy::TimestampAscending)
                .set_metric_data_queries(Some(queries.iter().map(|q| self.query(q)).collect()))
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| {
                    let (fault, detail) = fault_of::<Fault, _>(&e);
                    match fault {
                        Fault::Transient => Error::transient(context.clone(), detail),
                        Fault::Fatal => Error::fatal(context.clone(), detail),
                    }
                })?;
            for r in resp.metric_data_results() {
                let series = out
                    .entry(r.id().unwrap_or_default().to_owned())
                    .or_default();
                for (t, v) in r.timestamps().iter().zip(r.values()) {
                    if let Some(t) = DateTime::from_timestamp(t.secs(), 0) {
                        series.insert(t, *v);
                    }
                }
            }
            match resp.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => break,
            }
        }
        Ok(out)
    }
}
