//! The forecast backfill's range query: the demand parts of
//! [`crate::engine::forecast::DemandParts`] over the last week, from the recorded series of
//! `cdk/prometheus/rules/smartscale-rules.yml` (docs/METRICS.md, "Forecast history"), in one
//! `/api/v1/query_range` whose series are told apart by [`super::query::FIELD_LABEL`].

use super::query::FIELD_LABEL;
use super::response::{parse_number, success_data, ParseError};
use crate::engine::forecast::DemandParts;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Recorded names the backfill reads (the contract with the rules file).
pub mod recorded {
    /// CPU in use over the Ready workers, in workers.
    pub const BUSY: &str = "smartscale:demand_busy:workers";
    /// CPU cores requested by workload pods (not DaemonSet), Pending or on a worker.
    pub const REQUESTS_CPU: &str = "smartscale:workload_requests_cpu:cores";
    /// Memory bytes requested by the same pods.
    pub const REQUESTS_MEMORY: &str = "smartscale:workload_requests_memory:bytes";
}

const BUSY: &str = "busy";
const CPU: &str = "requests_cpu";
const MEMORY: &str = "requests_memory";

/// The range query: each part's highest value over the `step_secs` before every step.
pub fn query(step_secs: u64) -> String {
    [
        (recorded::BUSY, BUSY),
        (recorded::REQUESTS_CPU, CPU),
        (recorded::REQUESTS_MEMORY, MEMORY),
    ]
    .iter()
    .map(|(series, field)| {
        format!(
            "label_replace(max_over_time({series}[{step_secs}s]), \"{FIELD_LABEL}\", \"{field}\", \"\", \"\")"
        )
    })
    .collect::<Vec<_>>()
    .join(" or ")
}

#[derive(Deserialize)]
struct Series {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    values: Vec<(f64, String)>,
}

/// The demand points of a range answer, oldest first: one per time at which the busy-workers
/// series has a value (the requests default to zero where their series are absent, as when no
/// workload pod exists). Non-finite or negative values are dropped.
///
/// Errors: a body that is not a matrix answer, or Prometheus's own error.
pub fn parse(body: &[u8]) -> Result<Vec<(DateTime<Utc>, DemandParts)>, ParseError> {
    let (result_type, result) = success_data(body)?;
    if result_type != "matrix" {
        return Err(ParseError::Malformed(format!(
            "expected a matrix result, got {}",
            result_type.chars().take(40).collect::<String>()
        )));
    }
    let result: Vec<Series> =
        serde_json::from_value(result).map_err(|e| ParseError::Malformed(e.to_string()))?;
    let mut at: BTreeMap<i64, (Option<f64>, f64, f64)> = BTreeMap::new();
    for series in result {
        let field = series.metric.get(FIELD_LABEL).cloned().unwrap_or_default();
        for (t, v) in series.values {
            let v = parse_number(&v)?;
            if !v.is_finite() || v < 0.0 {
                continue;
            }
            let e = at.entry(t.round() as i64).or_default();
            match field.as_str() {
                BUSY => e.0 = Some(v),
                CPU => e.1 = v,
                MEMORY => e.2 = v,
                other => {
                    return Err(ParseError::Malformed(format!(
                        "unknown {FIELD_LABEL} {other:?}"
                    )))
                }
            }
        }
    }
    Ok(at
        .into_iter()
        .filter_map(|(t, (busy, cpu, mem))| {
            Some((
                DateTime::from_timestamp(t, 0)?,
                DemandParts {
                    busy_workers: busy?,
                    requests: crate::model::Resources {
                        cpu_millis: (cpu * 1000.0).round() as u64,
                        memory_bytes: mem.round() as u64,
                    },
                },
            ))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_reads_each_recorded_part_once() {
        let q = query(600);
        for series in [
            recorded::BUSY,
            recorded::REQUESTS_CPU,
            recorded::REQUESTS_MEMORY,
        ] {
            assert_eq!(
                q.matches(&format!("max_over_time({series}[600s])")).count(),
                1,
                "{q}"
            );
        }
    }

    #[test]
    fn answers_table() {
        let matrix = |series: &str| {
            format!(
                r#"{{"status":"success","data":{{"resultType":"matrix","result":[{series}]}}}}"#
            )
        };
        let s = |field: &str, values: &str| {
            format!(r#"{{"metric":{{"{FIELD_LABEL}":"{field}"}},"values":[{values}]}}"#)
        };
        struct Case {
            name: &'static str,
            body: String,
            want: Result<Vec<(i64, f64, u64, u64)>, &'static str>,
        }
        let cases = [
            Case {
                name: "three parts at two times",
                body: matrix(
                    &[
                        s(BUSY, r#"[600,"2.5"],[1200,"3"]"#),
                        s(CPU, r#"[600,"1.25"]"#),
                        s(MEMORY, r#"[1200,"1073741824"]"#),
                    ]
                    .join(","),
                ),
                want: Ok(vec![(600, 2.5, 1250, 0), (1200, 3.0, 0, 1 << 30)]),
            },
            Case {
                name: "requests without busy workers are no point",
                body: matrix(&s(CPU, r#"[600,"1"]"#)),
                want: Ok(vec![]),
            },
            Case {
                name: "NaN dropped",
                body: matrix(&s(BUSY, r#"[600,"NaN"],[1200,"1"]"#)),
                want: Ok(vec![(1200, 1.0, 0, 0)]),
            },
            Case {
                name: "an instant vector",
                body: r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#.into(),
                want: Err("malformed response: expected a matrix result, got vector"),
            },
            Case {
                name: "Prometheus's error",
                body: r#"{"status":"error","errorType":"bad_data","error":"bad step"}"#.into(),
                want: Err("prometheus error bad_data: bad step"),
            },
        ];
        for c in cases {
            let got = parse(c.body.as_bytes())
                .map(|points| {
                    points
                        .into_iter()
                        .map(|(t, p)| {
                            (
                                t.timestamp(),
                                p.busy_workers,
                                p.requests.cpu_millis,
                                p.requests.memory_bytes,
                            )
                        })
                        .collect::<Vec<_>>()
                })
                .map_err(|e| e.to_string());
            assert_eq!(got, c.want.map_err(str::to_string), "case {}", c.name);
        }
    }
}
