//! The HTTP side: runs the query plan against `/api/v1/query` in parallel within one time budget,
//! retrying connection errors and 5xx with backoff, with basic auth, and implements
//! [`MetricsSource`]; [`http_client`] builds the TLS client that trusts exactly the cluster's
//! Prometheus CA.
//!
//! Transport rule (docs/SECURITY_CHECKLIST.md, item 6): the basic-auth password travels only over
//! `https://` verified against the CA the master made (published in the Prometheus secret), or
//! over plain `http://` to a loopback host (the local stand-ins). Anything else is refused before
//! a request is sent.

use super::query::{plan, Query, Windows};
use super::response::{parse_answer, parse_vector, ParseError};
use super::snapshot::{assemble, Assembled, QueryFailure, QueryResult};
use crate::error::{Error, Result};
use crate::model::MetricsSnapshot;
use crate::seams::MetricsSource;
use crate::Config;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::time::Duration;
use tokio::time::Instant;

pub use crate::adapters::secrets::BasicAuth;

/// How the client talks to Prometheus.
#[derive(Debug, Clone)]
pub struct PrometheusSettings {
    /// Base URL of the HTTP API, for example `https://10.0.1.10:30090` (a path prefix is kept).
    pub base_url: url::Url,
    /// Credentials, when the endpoint has basic auth.
    pub basic_auth: Option<BasicAuth>,
    /// Total time for one snapshot, all queries and retries included (`PROMETHEUS_TIMEOUT`).
    pub budget: Duration,
    /// Retries after the first attempt, on connection errors and 5xx only.
    pub retries: u32,
    /// Wait before the first retry; doubled before each further one.
    pub backoff: Duration,
    /// Samples older than this many seconds make their input stale (`METRICS_MAX_AGE`).
    pub max_sample_age_secs: u64,
    /// Window lengths the engine decides on.
    pub windows: Windows,
}

impl PrometheusSettings {
    /// Settings from the configuration: budget, maximum age and windows, 2 retries from 200 ms.
    ///
    /// Errors: [`Error::Config`] naming `PROMETHEUS_URL` when it is unset or not a URL.
    pub fn from_config(cfg: &Config, basic_auth: Option<BasicAuth>) -> Result<Self> {
        let raw = cfg.require_prometheus_url()?;
        let problem = |problem: String| Error::Config {
            problems: vec![crate::error::ConfigProblem {
                variable: "PROMETHEUS_URL".into(),
                problem,
            }],
        };
        let base_url = url::Url::parse(raw).map_err(|e| problem(e.to_string()))?;
        transport_problem(&base_url).map_or(Ok(()), |p| Err(problem(p)))?;
        Ok(PrometheusSettings {
            base_url,
            basic_auth,
            budget: Duration::from_secs(cfg.prometheus_timeout_secs),
            retries: 2,
            backoff: Duration::from_millis(200),
            max_sample_age_secs: cfg.metrics_max_age_secs,
            windows: Windows::from_config(cfg),
        })
    }
}

/// Why `base_url` may not carry the basic-auth password, or `None` when it may: `https://`, or
/// `http://` to a loopback host.
fn transport_problem(base_url: &url::Url) -> Option<String> {
    match base_url.scheme() {
        "https" => None,
        "http" if crate::adapters::loopback::is_loopback(base_url) => None,
        "http" => Some(format!(
            "refusing plain http:// to {}: the basic-auth password would cross the network in clear text; \
             use https:// (the master serves Prometheus with TLS; only a loopback stand-in may use http://)",
            base_url.host_str().unwrap_or("?")
        )),
        other => Some(format!("scheme {other:?} is not http(s)")),
    }
}

/// The HTTP client for Prometheus at `base_url`, built once in `main`.
///
/// Over `https://` it trusts exactly `ca_pem` (the PEM CA certificate from the Prometheus secret,
/// [`crate::adapters::secrets::PrometheusSecret`]): no built-in or platform root, so a
/// certificate from any other issuer is refused during the handshake. Over `http://` (loopback
/// only) there is no TLS to set up.
///
/// Errors: [`Error::Config`] naming `PROMETHEUS_URL` for plain `http://` to a non-loopback host
/// or another scheme; [`Error::InvalidInput`] when an `https://` URL has no CA to trust (the
/// master has not written it yet) or the CA is not a PEM certificate.
pub fn http_client(base_url: &url::Url, ca_pem: Option<&str>) -> Result<reqwest::Client> {
    let context = format!("building the Prometheus client for {base_url}");
    if let Some(problem) = transport_problem(base_url) {
        return Err(Error::Config {
            problems: vec![crate::error::ConfigProblem {
                variable: "PROMETHEUS_URL".into(),
                problem,
            }],
        });
    }
    let builder = reqwest::Client::builder();
    let builder = match (base_url.scheme(), ca_pem) {
        ("https", None) => {
            return Err(Error::invalid_input(
                context,
                "no CA certificate to trust: the Prometheus secret has no \"ca\" key yet \
                 (the master writes it when it makes Prometheus's certificate at boot)",
            ))
        }
        (_, Some(pem)) => {
            let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
                .ok()
                .filter(|c| !c.is_empty())
                .ok_or_else(|| {
                    Error::invalid_input(
                        context.clone(),
                        "the \"ca\" of the Prometheus secret is not a PEM certificate",
                    )
                })?;
            builder.tls_certs_only(certs)
        }
        (_, None) => builder,
    };
    builder
        .build()
        .map_err(|e| Error::fatal(context, error_chain(&e)))
}

/// The Prometheus [`MetricsSource`]. Build the `reqwest::Client` with [`http_client`] in `main`
/// and share it.
#[derive(Debug, Clone)]
pub struct PrometheusClient {
    http: reqwest::Client,
    settings: PrometheusSettings,
    plan: Vec<Query>,
}

impl PrometheusClient {
    /// A client for `settings` over `http`.
    pub fn new(http: reqwest::Client, settings: PrometheusSettings) -> Self {
        let plan = plan(&settings.windows);
        PrometheusClient {
            http,
            settings,
            plan,
        }
    }

    /// The queries one snapshot runs.
    pub fn plan(&self) -> &[Query] {
        &self.plan
    }

    /// Runs every query for evaluation time `now` and assembles the snapshot with its problems.
    /// Never fails: what went wrong is in [`Assembled::problems`].
    pub async fn fetch(&self, now: DateTime<Utc>) -> Assembled {
        let deadline = Instant::now() + self.settings.budget;
        let time = format_time(now);
        let runs = self
            .plan
            .iter()
            .map(|q| self.run(&q.promql, &time, deadline));
        let results: Vec<QueryResult> = futures::future::join_all(runs).await;
        assemble(&self.plan, results, now, self.settings.max_sample_age_secs)
    }

    async fn run(&self, promql: &str, time: &str, deadline: Instant) -> QueryResult {
        let url = self.query_url();
        let mut backoff = self.settings.backoff;
        let mut last = QueryFailure {
            answered: false,
            detail: "not attempted".into(),
        };
        for attempt in 0..=self.settings.retries {
            if attempt > 0 {
                if Instant::now() + backoff >= deadline {
                    break;
                }
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
            let mut req = self
                .http
                .get(url.clone())
                .query(&[("query", promql), ("time", time)]);
            if let Some(auth) = &self.settings.basic_auth {
                req = req.basic_auth(&auth.username, Some(&auth.password));
            }
            let exchange = async {
                let resp = req.send().await?;
                let status = resp.status();
                let body = resp.bytes().await?;
                Ok::<_, reqwest::Error>((status, body))
            };
            match tokio::time::timeout_at(deadline, exchange).await {
                Err(_) => {
                    return Err(QueryFailure {
                        answered: last.answered,
                        detail: format!(
                            "time budget of {:?} exhausted on attempt {} (last: {})",
                            self.settings.budget,
                            attempt + 1,
                            last.detail
                        ),
                    });
                }
                Ok(Err(e)) => {
                    // Connection refused/reset, DNS, TLS, body cut off: all worth another try.
                    last = QueryFailure {
                        answered: false,
                        detail: format!("attempt {}: {}", attempt + 1, error_chain(&e)),
                    };
                }
                Ok(Ok((status, body))) if status.is_server_error() => {
                    last = QueryFailure {
                        answered: true,
                        detail: format!(
                            "attempt {}: HTTP {status}{}",
                            attempt + 1,
                            prometheus_message(&body)
                        ),
                    };
                }
                Ok(Ok((status, body))) if !status.is_success() => {
                    // 4xx: a bad query (400/422) or bad credentials (401) will not get better.
                    return Err(QueryFailure {
                        answered: true,
                        detail: format!("HTTP {status}{}", prometheus_message(&body)),
                    });
                }
                Ok(Ok((_, body))) => {
                    return parse_answer(&body).map_err(|e| QueryFailure {
                        answered: true,
                        detail: e.to_string(),
                    });
                }
            }
        }
        Err(QueryFailure {
            answered: last.answered,
            detail: format!(
                "{} attempts failed; last: {}",
                self.settings.retries + 1,
                last.detail
            ),
        })
    }

    fn query_url(&self) -> url::Url {
        let mut url = self.settings.base_url.clone();
        let path = format!("{}/api/v1/query", url.path().trim_end_matches('/'));
        url.set_path(&path);
        url
    }
}

#[async_trait]
impl MetricsSource for PrometheusClient {
    async fn snapshot(&self, now: DateTime<Utc>) -> Result<MetricsSnapshot> {
        let assembled = self.fetch(now).await;
        for p in &assembled.problems {
            tracing::warn!(input = p.metric.label(), slot = ?p.slot, problem = %p.problem, "prometheus input not used as is");
        }
        let context = format!(
            "querying Prometheus at {} for {}",
            self.settings.base_url,
            now.to_rfc3339()
        );
        let first = || {
            assembled
                .problems
                .first()
                .map(|p| p.problem.to_string())
                .unwrap_or_default()
        };
        if assembled.answered == 0 {
            return Err(Error::MetricsUnavailable {
                context,
                detail: format!("no query answered: {}", first()),
            });
        }
        let required = crate::model::MetricName::REQUIRED;
        if required
            .iter()
            .all(|m| assembled.snapshot.missing.contains(m))
        {
            return Err(Error::MetricsUnavailable {
                context,
                detail: format!(
                    "no usable value for any required input (CPU, memory, pending pods): {}",
                    first()
                ),
            });
        }
        Ok(assembled.snapshot)
    }

    /// One attempt, no retry (a retried range query would be a second query on the tick), within
    /// the snapshot's time budget.
    async fn demand_range(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        step_secs: u64,
    ) -> Result<Vec<(DateTime<Utc>, crate::engine::forecast::DemandParts)>> {
        let context = format!(
            "reading the last week's demand from Prometheus at {} ({} to {})",
            self.settings.base_url,
            from.to_rfc3339(),
            to.to_rfc3339()
        );
        let unavailable = |detail: String| Error::MetricsUnavailable {
            context: context.clone(),
            detail,
        };
        let mut url = self.settings.base_url.clone();
        let path = format!("{}/api/v1/query_range", url.path().trim_end_matches('/'));
        url.set_path(&path);
        let step = step_secs.to_string();
        let mut req = self.http.get(url).query(&[
            ("query", super::demand::query(step_secs).as_str()),
            ("start", format_time(from).as_str()),
            ("end", format_time(to).as_str()),
            ("step", step.as_str()),
        ]);
        if let Some(auth) = &self.settings.basic_auth {
            req = req.basic_auth(&auth.username, Some(&auth.password));
        }
        let exchange = async {
            let resp = req.send().await?;
            let status = resp.status();
            Ok::<_, reqwest::Error>((status, resp.bytes().await?))
        };
        let (status, body) = tokio::time::timeout(self.settings.budget, exchange)
            .await
            .map_err(|_| unavailable(format!("no answer within {:?}", self.settings.budget)))?
            .map_err(|e| unavailable(error_chain(&e)))?;
        if !status.is_success() {
            return Err(unavailable(format!(
                "HTTP {status}{}",
                prometheus_message(&body)
            )));
        }
        super::demand::parse(&body).map_err(|e| unavailable(e.to_string()))
    }
}

/// `now` as the `time=` parameter: Unix seconds with milliseconds.
pub fn format_time(now: DateTime<Utc>) -> String {
    let ms = now.timestamp_millis();
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

fn prometheus_message(body: &[u8]) -> String {
    match parse_vector(body) {
        Err(ParseError::Prometheus { error_type, error }) => format!(" ({error_type}: {error})"),
        _ => String::new(),
    }
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn time_parameter_table() {
        let cases = [
            (
                "whole second",
                Utc.timestamp_opt(1_735_689_600, 0).unwrap(),
                "1735689600.000",
            ),
            (
                "milliseconds",
                Utc.timestamp_millis_opt(1_735_689_600_250).unwrap(),
                "1735689600.250",
            ),
            (
                "before the epoch",
                Utc.timestamp_millis_opt(-1_500).unwrap(),
                "-2.500",
            ),
        ];
        for (name, t, want) in cases {
            assert_eq!(format_time(t), want, "case {name}");
        }
    }

    #[test]
    fn query_url_keeps_a_path_prefix() {
        let mk = |base: &str| {
            let cfg = Config {
                prometheus_url: Some(base.into()),
                ..Config::default()
            };
            PrometheusClient::new(
                reqwest::Client::new(),
                PrometheusSettings::from_config(&cfg, None).unwrap(),
            )
            .query_url()
            .to_string()
        };
        assert_eq!(
            mk("https://10.0.1.10:30090"),
            "https://10.0.1.10:30090/api/v1/query"
        );
        assert_eq!(
            mk("https://h:9090/prometheus/"),
            "https://h:9090/prometheus/api/v1/query"
        );
    }

    #[test]
    fn transport_table() {
        // A throw-away self-signed CA certificate (no key kept), for parsing only.
        const PEM: &str = include_str!("test-ca.pem");
        /// name, URL, CA, expected outcome (the error text it contains)
        type Case<'a> = (&'a str, &'a str, Option<&'a str>, Result<(), &'a str>);
        let cases: &[Case] = &[
            (
                "https with the CA",
                "https://10.0.1.10:30090",
                Some(PEM),
                Ok(()),
            ),
            (
                "https before the master wrote the CA",
                "https://10.0.1.10:30090",
                None,
                Err("no CA certificate to trust"),
            ),
            (
                "a CA that is no certificate",
                "https://10.0.1.10:30090",
                Some("not pem"),
                Err("not a PEM certificate"),
            ),
            (
                "plain http to a remote host",
                "http://10.0.1.10:30090",
                None,
                Err("PROMETHEUS_URL: refusing plain http:// to 10.0.1.10"),
            ),
            (
                "plain http to a loopback stand-in",
                "http://127.0.0.1:9090",
                None,
                Ok(()),
            ),
            (
                "another scheme",
                "ftp://10.0.1.10",
                None,
                Err("not http(s)"),
            ),
        ];
        for (name, url, ca, want) in cases {
            let got = http_client(&url::Url::parse(url).unwrap(), *ca);
            match (want, got) {
                (Ok(()), Ok(_)) => {}
                (Err(text), Err(e)) => assert!(e.to_string().contains(text), "case {name}: {e}"),
                (want, got) => panic!("case {name}: want {want:?}, got {:?}", got.map(|_| ())),
            }
        }
        let remote = Config {
            prometheus_url: Some("http://10.0.1.10:30090".into()),
            ..Config::default()
        };
        let err = PrometheusSettings::from_config(&remote, None).unwrap_err();
        assert!(
            err.to_string()
                .contains("PROMETHEUS_URL: refusing plain http://"),
            "{err}"
        );
    }

    #[test]
    fn settings_follow_the_config() {
        let mut cfg = Config {
            prometheus_url: Some("http://127.0.0.1:1".into()),
            prometheus_timeout_secs: 7,
            ..Config::default()
        };
        cfg.metrics_max_age_secs = 90;
        let s = PrometheusSettings::from_config(&cfg, None).unwrap();
        assert_eq!(
            (s.budget, s.retries, s.max_sample_age_secs),
            (Duration::from_secs(7), 2, 90)
        );
        let no_url = Config {
            prometheus_url: None,
            ..Config::default()
        };
        assert!(matches!(
            PrometheusSettings::from_config(&no_url, None),
            Err(Error::Config { .. })
        ));
        let auth = BasicAuth {
            username: "u".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{auth:?}").contains("hunter2"));
    }

    /// Serves canned answers on 127.0.0.1, one per connection, and records each request's head.
    /// Only for what a real Prometheus cannot be made to send on demand (5xx, garbage bodies).
    async fn canned(
        answers: Vec<(u16, &'static str)>,
    ) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            for n in 0.. {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let mut buf = vec![0u8; 16 * 1024];
                let len = sock.read(&mut buf).await.unwrap_or(0);
                log.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&buf[..len]).into_owned());
                let (status, body) = answers[n.min(answers.len() - 1)];
                let head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(body.as_bytes()).await;
            }
        });
        (url, seen)
    }

    const OK: &str = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"0.5"]}]}}"#;
    const BAD: &str = r#"{"status":"error","errorType":"bad_data","error":"parse error"}"#;

    #[tokio::test]
    async fn retries_table() {
        /// name, canned (status, body) per attempt, attempts expected, expected failure text
        type Case = (
            &'static str,
            Vec<(u16, &'static str)>,
            usize,
            Option<&'static str>,
        );
        let cases: [Case; 6] = [
            (
                "503 twice then 200: answered on the third attempt",
                vec![(503, ""), (503, ""), (200, OK)],
                3,
                None,
            ),
            (
                "500 three times: fails after 3 attempts",
                vec![(500, "")],
                3,
                Some("3 attempts failed"),
            ),
            (
                "400 bad query: no retry",
                vec![(400, BAD)],
                1,
                Some("HTTP 400 Bad Request (bad_data: parse error)"),
            ),
            (
                "401: no retry",
                vec![(401, "Unauthorized")],
                1,
                Some("HTTP 401"),
            ),
            (
                "422 execution error: no retry",
                vec![(422, BAD)],
                1,
                Some("HTTP 422"),
            ),
            (
                "200 with garbage: failed, not retried",
                vec![(200, "<html>")],
                1,
                Some("malformed response"),
            ),
        ];
        for (name, answers, attempts, failure) in cases {
            let (url, seen) = canned(answers).await;
            let cfg = Config {
                prometheus_url: Some(url),
                ..Config::default()
            };
            let auth = BasicAuth {
                username: "smartscale".into(),
                password: "s3cret".into(),
            };
            let mut settings = PrometheusSettings::from_config(&cfg, Some(auth)).unwrap();
            settings.backoff = Duration::from_millis(10);
            let c = PrometheusClient::new(reqwest::Client::new(), settings);
            let got = c
                .run(
                    "up",
                    "1735689600.000",
                    Instant::now() + Duration::from_secs(5),
                )
                .await;
            assert_eq!(
                seen.lock().unwrap().len(),
                attempts,
                "case {name}: attempts"
            );
            match (failure, got) {
                (None, Ok(a)) => assert_eq!(a.value, Some(0.5), "case {name}"),
                (Some(want), Err(f)) => {
                    assert!(f.answered, "case {name}: prometheus answered");
                    assert!(f.detail.contains(want), "case {name}: {}", f.detail);
                }
                (want, got) => panic!("case {name}: want failure {want:?}, got {got:?}"),
            }
            let first = seen.lock().unwrap()[0].clone();
            assert!(
                first.starts_with("GET /api/v1/query?query=up&time=1735689600.000 "),
                "case {name}: {first}"
            );
            // base64("smartscale:s3cret")
            assert!(
                first.to_ascii_lowercase().contains("authorization: basic ")
                    && first.contains("c21hcnRzY2FsZTpzM2NyZXQ="),
                "case {name}"
            );
        }
    }

    #[tokio::test]
    async fn refused_connections_are_retried_then_fail_unanswered() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let cfg = Config {
            prometheus_url: Some(format!("http://127.0.0.1:{port}")),
            ..Config::default()
        };
        let mut settings = PrometheusSettings::from_config(&cfg, None).unwrap();
        settings.backoff = Duration::from_millis(10);
        let c = PrometheusClient::new(reqwest::Client::new(), settings);
        let err = c
            .snapshot(Utc.timestamp_opt(1_735_689_600, 0).unwrap())
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::MetricsUnavailable { detail, .. } if detail.contains("no query answered") && detail.contains("3 attempts")),
            "{err}"
        );
    }

    #[tokio::test]
    async fn budget_stops_retries_that_would_overrun_it() {
        // Backoff (10 s) longer than the budget: one attempt, no sleep past the deadline.
        let (url, seen) = canned(vec![(503, "")]).await;
        let cfg = Config {
            prometheus_url: Some(url),
            ..Config::default()
        };
        let mut settings = PrometheusSettings::from_config(&cfg, None).unwrap();
        settings.backoff = Duration::from_secs(10);
        let c = PrometheusClient::new(reqwest::Client::new(), settings);
        let got = c
            .run("up", "0.000", Instant::now() + Duration::from_secs(2))
            .await;
        assert_eq!(seen.lock().unwrap().len(), 1);
        assert!(got.unwrap_err().detail.contains("HTTP 503"));
    }
}
