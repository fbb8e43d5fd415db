//! `decide` latency on a 10-node cluster (9 workers and the control plane) with 300 pods, and on
//! a 500-worker cluster with 15,000 pods (the scale target: ≤ 20 ms), on its three paths:
//! a scale-down (every node and pod checked against the "never remove" rules, then the
//! preference order), a scale-up (triggers and the urgency sum over Pending pods), and a steady
//! no-change. Run: `cargo bench -p smartscale-engine --bench decide`.

use chrono::{DateTime, Duration, TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use smartscale_engine::engine::forecast::codec;
use smartscale_engine::engine::{decide, decide_with, select_candidate, DemandHistory, Inputs};
use smartscale_engine::fixtures::worker_node;
use smartscale_engine::model::*;
use smartscale_engine::Policy;
use std::collections::BTreeMap;
use std::hint::black_box;

const MI: u64 = 1024 * 1024;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 12, 0, 0).unwrap()
}

/// Node `i`: the control plane for 0 (unmanaged), else a worker, in zones a, b, c in turn.
fn node(i: usize) -> NodeInfo {
    let zone = ["us-east-1a", "us-east-1b", "us-east-1c"][i % 3];
    NodeInfo {
        control_plane: i == 0,
        managed: i != 0,
        ..worker_node(
            &format!("ip-10-0-{}-{i}", i % 3),
            &format!("i-{i:017x}"),
            zone,
            now() - Duration::hours(i as i64),
        )
    }
}

/// Pod `i`: mostly Deployment replicas under a budget, with DaemonSet, kube-system and a few
/// StatefulSet pods mixed in, spread over the workers; `pending` of them unscheduled. Requests are
/// small enough (25m / 16Mi) that most workers' pods fit on the others.
fn pod(i: usize, workers: usize, pending: usize) -> PodInfo {
    let (namespace, owner) = match i % 10 {
        0 => ("kube-system", OwnerKind::DaemonSet),
        1 => ("monitoring", OwnerKind::DaemonSet),
        2 if i % 50 == 2 => ("data", OwnerKind::StatefulSet),
        _ => ("shop", OwnerKind::Deployment),
    };
    let app = format!("app-{}", i % 7);
    PodInfo {
        namespace: namespace.into(),
        name: format!("{app}-{i}"),
        node_name: (i >= pending)
            .then(|| format!("ip-10-0-{}-{}", (i % workers + 1) % 3, i % workers + 1)),
        phase: if i < pending {
            PodPhase::Pending
        } else {
            PodPhase::Running
        },
        owner_kind: Some(owner),
        owner_name: Some(app.clone()),
        workload_replicas: Some(4),
        mirror: false,
        requests: Resources {
            cpu_millis: 25,
            memory_bytes: 16 * MI,
        },
        has_local_storage: false,
        labels: BTreeMap::from([("app".to_string(), app)]),
        annotations: BTreeMap::new(),
        created_at: now() - Duration::minutes(i as i64),
    }
}

fn cluster(workers: usize, pods: usize, pending: usize) -> ClusterView {
    ClusterView {
        nodes: (0..=workers).map(node).collect(),
        pods: (0..pods).map(|i| pod(i, workers, pending)).collect(),
        pdbs: (0..7)
            .map(|a| PdbInfo {
                namespace: "shop".into(),
                name: format!("app-{a}"),
                match_labels: BTreeMap::from([("app".to_string(), format!("app-{a}"))]),
                disruptions_allowed: 1,
            })
            .collect(),
    }
}

fn metrics(cpu: f64, memory: f64, pending: f64) -> MetricsSnapshot {
    let w = |value, samples| Some(Windowed { value, samples });
    MetricsSnapshot {
        cpu_ratio: Some(cpu),
        cpu_min_up_window: w(cpu, 12),
        cpu_max_down_window: w(cpu, 40),
        memory_ratio: Some(memory),
        pending_pods: Some(pending),
        pending_pods_min_window: w(pending, 12),
        missing: vec![
            MetricName::QueueDepth,
            MetricName::LatencyP95,
            MetricName::ErrorRate,
        ],
        ..MetricsSnapshot::empty(now())
    }
}

fn bench(c: &mut Criterion) {
    // MAX_NODES above both sizes, so the 500-worker cluster may still scale up.
    let cfg = Policy {
        max_nodes: 1000,
        ..Policy::default()
    };
    let state = ScalingState::new("bench");
    let mut cases = Vec::new();
    for (size, workers, pods) in [
        ("10_nodes_300_pods", 9, 300),
        ("500_workers_15000_pods", 500, 15_000),
    ] {
        cases.push((
            format!("decide/scale_down_{size}"),
            Inputs {
                metrics: metrics(0.1, 0.2, 0.0),
                cluster: cluster(workers, pods, 0),
            },
            "scale_down",
        ));
        cases.push((
            format!("decide/scale_up_{size}"),
            Inputs {
                metrics: metrics(0.95, 0.6, 12.0),
                cluster: cluster(workers, pods, 12),
            },
            "scale_up",
        ));
        cases.push((
            format!("decide/steady_{size}"),
            Inputs {
                metrics: metrics(0.5, 0.6, 0.0),
                cluster: cluster(workers, pods, 0),
            },
            "none",
        ));
    }
    for (name, inputs, action) in &cases {
        let d = decide(inputs, &state, &cfg, now());
        assert_eq!(d.action(), *action, "{name}: {d}");
        c.bench_function(name.as_str(), |b| {
            b.iter(|| {
                decide(
                    black_box(inputs),
                    black_box(&state),
                    black_box(&cfg),
                    black_box(now()),
                )
            })
        });
    }
    // The forecast: a week and a day of history, 2 min apart, as Evaluate would keep it.
    let mut history = DemandHistory::default();
    let mut t = now() - Duration::days(8);
    while t < now() {
        let hour = (t.timestamp() / 3600) % 24;
        history.record(t, if (8..21).contains(&hour) { 5.0 } else { 2.0 }, 0);
        t += Duration::minutes(2);
    }
    let steady = Inputs {
        metrics: metrics(0.5, 0.6, 0.0),
        cluster: cluster(9, 300, 0),
    };
    c.bench_function("forecast/decide_with_steady_10_nodes_300_pods", |b| {
        b.iter(|| {
            decide_with(
                black_box(&steady),
                black_box(Some(&history)),
                black_box(&state),
                black_box(&cfg),
                black_box(now()),
            )
        })
    });
    c.bench_function("forecast/record_and_predict", |b| {
        b.iter(|| {
            let mut h = history.clone();
            h.record(black_box(now()), black_box(4.2), 0);
            h.predict(black_box(now()), black_box(&cfg))
        })
    });
    // The stored form Evaluate reads and writes once per tick (the DynamoDB item's text).
    let text = codec::encode(&history);
    eprintln!("forecast history stored text: {} bytes", text.len());
    c.bench_function("forecast/codec_encode_week", |b| {
        b.iter(|| codec::encode(black_box(&history)))
    });
    c.bench_function("forecast/codec_decode_week", |b| {
        b.iter(|| codec::decode(black_box(&text)))
    });
    for (size, workers, pods) in [
        ("10_nodes_300_pods", 9, 300),
        ("500_workers_15000_pods", 500, 15_000),
    ] {
        let view = cluster(workers, pods, 0);
        c.bench_function(&format!("select_candidate/{size}"), |b| {
            b.iter(|| select_candidate(black_box(&view), black_box(&cfg), black_box(now())))
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
