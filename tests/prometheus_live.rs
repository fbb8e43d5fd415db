//! The Prometheus client against a real Prometheus (Debian's package), started by
//! `scripts/test-metrics.sh` on 127.0.0.1 with TLS and basic auth (the shipped
//! `cdk/prometheus/web-config.yml.tmpl`, a CA and server certificate made by the script as the
//! master makes them), the shipped rules, and history backfilled by `scripts/metrics/backfill.py`
//! (whose docstring is the time line asserted here).
//!
//! The script sets `PROMETHEUS_URL` (`https://`), `PROMETHEUS_CA_FILE` (the CA that signed the
//! server certificate), `PROMETHEUS_OTHER_CA_FILE` (a CA that did not), `PROMETHEUS_USERNAME`,
//! `PROMETHEUS_PASSWORD` and `PROMETHEUS_PID` (this test freezes and finally stops that process). Without `PROMETHEUS_URL`
//! the test fails when `CI=true` and is skipped with a message otherwise. It is `#[ignore]`d so a
//! plain `cargo test --workspace` does not need a server; the script runs it with `--ignored`.

use chrono::{DateTime, TimeZone, Utc};
use smartscale_core::adapters::prometheus::cache;
use smartscale_core::adapters::prometheus::query::Windows;
use smartscale_core::adapters::prometheus::{
    http_client, BasicAuth, PrometheusClient, PrometheusSettings,
};
use smartscale_core::model::{CachedMetrics, MetricName, MetricsSnapshot, Provenance, Windowed};
use smartscale_core::seams::MetricsSource;
use smartscale_core::Error;
use std::process::Command;
use std::time::{Duration, Instant};

/// `END` of backfill.py: 2025-01-01T00:00:00Z; the history starts 45 minutes earlier (T0).
const END: i64 = 1_735_689_600;

fn at(offset_secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(END + offset_secs, 0).unwrap()
}

struct Live {
    url: String,
    ca_pem: String,
    other_ca_pem: String,
    auth: BasicAuth,
    pid: Option<String>,
}

fn live() -> Option<Live> {
    let Ok(url) = std::env::var("PROMETHEUS_URL") else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "PROMETHEUS_URL is not set: in CI this test must run; use scripts/test-metrics.sh"
            );
        }
        eprintln!("skipped: PROMETHEUS_URL is not set (run scripts/test-metrics.sh)");
        return None;
    };
    let pem = |var: &str| {
        let path = std::env::var(var).unwrap_or_else(|_| panic!("{var} is not set"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{var}={path}: {e}"))
    };
    Some(Live {
        url,
        ca_pem: pem("PROMETHEUS_CA_FILE"),
        other_ca_pem: pem("PROMETHEUS_OTHER_CA_FILE"),
        auth: BasicAuth {
            username: std::env::var("PROMETHEUS_USERNAME").unwrap_or_default(),
            password: std::env::var("PROMETHEUS_PASSWORD").unwrap_or_default(),
        },
        pid: std::env::var("PROMETHEUS_PID").ok(),
    })
}

fn client(
    live: &Live,
    auth: Option<BasicAuth>,
    budget: Duration,
    max_age_secs: u64,
    windows: Windows,
) -> PrometheusClient {
    client_trusting(live, &live.ca_pem, auth, budget, max_age_secs, windows)
}

/// A client over the deployment's transport: [`http_client`] trusting only `ca_pem`.
fn client_trusting(
    live: &Live,
    ca_pem: &str,
    auth: Option<BasicAuth>,
    budget: Duration,
    max_age_secs: u64,
    windows: Windows,
) -> PrometheusClient {
    let base_url = url::Url::parse(&live.url).unwrap();
    let http = http_client(&base_url, Some(ca_pem)).expect("the TLS client");
    let settings = PrometheusSettings {
        base_url,
        basic_auth: auth,
        budget,
        retries: 2,
        backoff: Duration::from_millis(200),
        max_sample_age_secs: max_age_secs,
        windows,
    };
    PrometheusClient::new(http, settings)
}

fn close(got: Option<f64>, want: f64, what: &str) {
    let got = got.unwrap_or_else(|| panic!("{what}: missing"));
    assert!((got - want).abs() < 1e-9, "{what}: got {got}, want {want}");
}

fn window(got: Option<Windowed>, value: f64, samples: u32, what: &str) {
    let w = got.unwrap_or_else(|| panic!("{what}: missing"));
    close(Some(w.value), value, what);
    assert_eq!(w.samples, samples, "{what}: samples");
}

fn signal(pid: &str, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, pid])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "kill {sig} {pid}");
}

#[tokio::test]
#[ignore = "needs a live Prometheus: scripts/test-metrics.sh runs it"]
async fn live_prometheus_snapshots_and_failures() {
    let Some(live) = live() else { return };
    let auth = Some(live.auth.clone());
    let c = client(
        &live,
        auth.clone(),
        Duration::from_secs(5),
        60,
        Windows::default(),
    );

    // T0+30m: the end of the steady 80% window, before the dip, no pending pods, no RabbitMQ.
    let s = c
        .snapshot(at(-15 * 60))
        .await
        .expect("steady window snapshot");
    assert_eq!(s.taken_at, at(-15 * 60));
    assert_eq!(s.provenance, Provenance::Live);
    close(s.cpu_ratio, 0.8, "cpu");
    window(s.cpu_min_up_window, 0.8, 12, "cpu min 3m");
    window(s.cpu_max_down_window, 0.8, 40, "cpu max 10m");
    close(s.memory_ratio, 0.75, "memory (master ignored)");
    close(s.pending_pods, 0.0, "pending pods");
    window(s.pending_pods_min_window, 0.0, 12, "pending min 3m");
    close(s.latency_p95_secs, 0.8125, "p95");
    close(s.error_rate_ratio, 0.1, "error rate");
    window(s.error_rate_min_window, 0.1, 8, "error rate min 2m");
    assert_eq!(s.queue_depth, None);
    assert_eq!(s.queue_depth_max_down_window, None);
    assert_eq!(
        s.missing,
        vec![MetricName::QueueDepth],
        "only the optional queue is missing"
    );
    assert!(s.stale.is_empty(), "stale: {:?}", s.stale);
    assert!(s.unusable_required().is_empty());

    // The forecast backfill's one range query over the recorded demand parts: 0.8 CPU on two
    // Ready workers, web-1's core requested throughout and pending-1's from T0+38m.
    let demand = c
        .demand_range(at(-20 * 60), at(0), 600)
        .await
        .expect("demand range");
    let got: Vec<(i64, f64, u64, u64)> = demand
        .iter()
        .map(|(t, p)| {
            (
                t.timestamp() - END,
                (p.busy_workers * 1000.0).round() / 1000.0,
                p.requests.cpu_millis,
                p.requests.memory_bytes,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (-20 * 60, 1.6, 1000, 0),
            (-10 * 60, 1.6, 1000, 0),
            (0, 1.6, 1500, 268_435_456),
        ],
        "one point per 10 minutes, each the highest of the 10 minutes before it"
    );

    // T0+34m: CPU is back at 80% but the dip (T0+30..32m) is inside the 3 minute window.
    let s = c.snapshot(at(-11 * 60)).await.expect("dip snapshot");
    close(s.cpu_ratio, 0.8, "cpu after the dip");
    window(s.cpu_min_up_window, 0.4, 12, "cpu min 3m over the dip");
    window(s.cpu_max_down_window, 0.8, 40, "cpu max 10m over the dip");

    // END (T0+45m): a pod has been Pending since T0+38m.
    let s = c.snapshot(at(0)).await.expect("pending snapshot");
    close(s.pending_pods, 1.0, "pending pods");
    window(s.pending_pods_min_window, 1.0, 12, "pending min 3m");
    window(s.cpu_min_up_window, 0.8, 12, "cpu min 3m at the end");

    // A window length the rules do not record is computed inline: 5 minutes of 80%.
    let five = Windows {
        scale_up_secs: 300,
        ..Windows::default()
    };
    let s = client(&live, auth.clone(), Duration::from_secs(5), 60, five)
        .snapshot(at(-15 * 60))
        .await
        .unwrap();
    window(s.cpu_min_up_window, 0.8, 20, "inline cpu min 5m");

    // Two minutes after the recorded history ends: samples are ~133 s old.
    let s = c.snapshot(at(120)).await.expect("stale snapshot");
    assert_eq!(
        s.stale,
        vec![
            MetricName::Cpu,
            MetricName::Memory,
            MetricName::PendingPods,
            MetricName::LatencyP95,
            MetricName::ErrorRate
        ]
    );
    close(s.cpu_ratio, 0.8, "stale cpu keeps its value");
    assert_eq!(s.unusable_required(), MetricName::REQUIRED.to_vec());
    let lenient = client(
        &live,
        auth.clone(),
        Duration::from_secs(5),
        300,
        Windows::default(),
    );
    assert!(
        lenient.snapshot(at(120)).await.unwrap().stale.is_empty(),
        "300 s maximum age accepts them"
    );

    // After the lookback (5 m) nothing is left: no series for CPU and memory, pending reads 0.
    let s = c
        .snapshot(at(15 * 60))
        .await
        .expect("reachable, partly empty");
    assert_eq!(s.cpu_ratio, None);
    assert!(s.missing.contains(&MetricName::Cpu) && s.missing.contains(&MetricName::Memory));
    close(s.pending_pods, 0.0, "no pending series is zero");

    // Basic auth is enforced: a wrong password gets 401 (no retry) on every query.
    let wrong = Some(BasicAuth {
        username: live.auth.username.clone(),
        password: "wrong".into(),
    });
    let err = client(&live, wrong, Duration::from_secs(5), 60, Windows::default())
        .snapshot(at(0))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::MetricsUnavailable { detail, .. } if detail.contains("401")),
        "{err}"
    );
    assert!(err.is_retryable());

    // TLS is verified against exactly the published CA: a certificate from another CA is refused
    // in the handshake (no request, so no password, is sent), and the error says why.
    assert!(live.url.starts_with("https://"), "{}", live.url);
    let err = client_trusting(
        &live,
        &live.other_ca_pem,
        auth.clone(),
        Duration::from_secs(5),
        60,
        Windows::default(),
    )
    .snapshot(at(0))
    .await
    .unwrap_err();
    assert!(
        matches!(&err, Error::MetricsUnavailable { detail, .. } if detail.contains("invalid peer certificate") && detail.contains("UnknownIssuer")),
        "{err}"
    );
    // Plain http:// to a host that is not loopback is refused before anything is sent.
    let remote = url::Url::parse("http://192.0.2.10:30090").unwrap();
    let err = http_client(&remote, None).unwrap_err();
    assert!(
        matches!(&err, Error::Config { .. })
            && err
                .to_string()
                .contains("PROMETHEUS_URL: refusing plain http:// to 192.0.2.10"),
        "{err}"
    );
    // And the https:// endpoint cannot be read without the CA.
    let err = http_client(&url::Url::parse(&live.url).unwrap(), None).unwrap_err();
    assert!(
        err.to_string().contains("no CA certificate to trust"),
        "{err}"
    );

    // The last good values, remembered now, are what the fallback offers later.
    let good = c.snapshot(at(0)).await.unwrap();
    let cached: Option<CachedMetrics> = cache::remember(None, &good, at(0));
    assert!(cached.is_some(), "a complete live snapshot is cached");

    let Some(pid) = live.pid.as_deref() else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("PROMETHEUS_PID is not set: the failure half of this test must run in CI");
        }
        eprintln!("PROMETHEUS_PID not set: freeze/stop checks skipped");
        return;
    };
    let budget = Duration::from_millis(1500);
    let short = client(&live, auth.clone(), budget, 60, Windows::default());

    // Frozen Prometheus (SIGSTOP): connections are accepted, nothing answers. The snapshot must
    // end as MetricsUnavailable when the budget runs out (margin for scheduling on a busy box).
    signal(pid, "-STOP");
    let started = Instant::now();
    let frozen = short.snapshot(at(0)).await;
    let took = started.elapsed();
    signal(pid, "-CONT");
    let err = frozen.unwrap_err();
    assert!(
        matches!(&err, Error::MetricsUnavailable { detail, .. } if detail.contains("budget")),
        "{err}"
    );
    assert!(
        took < budget + Duration::from_secs(2),
        "frozen: took {took:?} with a {budget:?} budget"
    );

    // Stopped Prometheus: connection refused, retried twice, then MetricsUnavailable.
    signal(pid, "-TERM");
    let addr = url::Url::parse(&live.url).unwrap();
    let addr = format!("{}:{}", addr.host_str().unwrap(), addr.port().unwrap());
    let gone = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        std::net::TcpStream::connect(&addr).is_err()
    });
    assert!(gone, "prometheus did not stop");
    let started = Instant::now();
    let down: Result<MetricsSnapshot, Error> = short.snapshot(at(0)).await;
    let took = started.elapsed();
    let err = down.unwrap_err();
    assert!(
        matches!(&err, Error::MetricsUnavailable { detail, .. } if detail.contains("3 attempts")),
        "{err}"
    );
    assert!(
        took < budget + Duration::from_secs(2),
        "stopped: took {took:?}"
    );

    // Then the cached values stand in, marked cached: the engine uses them for scale-up only.
    let fallback = cache::fallback(cached.as_ref()).expect("the remembered snapshot");
    assert_eq!(
        fallback.provenance,
        Provenance::Cached { fetched_at: at(0) }
    );
    close(fallback.pending_pods, 1.0, "cached pending pods");
}
