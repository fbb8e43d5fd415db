//! What SmartScale would see: 15 s samples of the cluster series, turned into the same windowed
//! aggregates the Prometheus recording rules give (`min_over_time`, `max_over_time`,
//! `count_over_time(... offset 1s)`), and the cluster view the Kubernetes API would list.
//!
//! Window semantics follow `cdk/prometheus/rules/smartscale-rules.yml`: the aggregate covers the
//! samples in the closed range `[now − w, now]` (13 for a fully covered 3 m window), and the sample
//! count covers those older than the current one (exactly `w / interval` = 12 when fully covered).

use crate::cluster::{Cluster, NodeShape, NodeState};
use chrono::{DateTime, Duration, Utc};
use smartscale_engine::engine::capacity::CapacityType;
use smartscale_engine::model::{
    ClusterView, MetricName, MetricsSnapshot, NodeInfo, OwnerKind, PodInfo, PodPhase, Provenance,
    Windowed,
};
use smartscale_engine::Policy as Config;
use std::collections::{BTreeMap, VecDeque};

/// One recorded sample of the cluster series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Seconds since the start.
    pub t: i64,
    /// `smartscale:cpu_utilisation:ratio` (after the 1 m rate); `None` without Ready workers.
    pub cpu: Option<f64>,
    /// `smartscale:memory_utilisation:ratio`; `None` without Ready workers.
    pub memory: Option<f64>,
    /// `smartscale:pending_pods:count`.
    pub pending: f64,
}

/// Which aggregate a window takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    /// `min_over_time`.
    Min,
    /// `max_over_time`.
    Max,
}

/// The metrics history of one run.
#[derive(Debug, Clone)]
pub struct Observer {
    samples: VecDeque<Sample>,
    keep_secs: i64,
    /// Instantaneous CPU ratios of the last `rate` window, one per tick, with their time.
    cpu_ticks: VecDeque<(i64, f64)>,
    rate_window_secs: i64,
}

impl Observer {
    /// An empty history that keeps enough samples for the longest window of `config`, and
    /// averages node CPU over `rate_window_secs` as `rate(...[1m])` does.
    pub fn new(config: &Config, rate_window_secs: u64) -> Self {
        let longest = config
            .scale_up_window_secs
            .max(config.scale_down_window_secs)
            .max(config.pending_pods_window_secs)
            .max(config.error_rate_window_secs);
        Observer {
            samples: VecDeque::new(),
            keep_secs: longest as i64,
            cpu_ticks: VecDeque::new(),
            rate_window_secs: rate_window_secs as i64,
        }
    }

    /// Feeds the instantaneous mean worker CPU ratio at tick `t` (`None`: no Ready worker).
    pub fn tick(&mut self, t: i64, cpu_ratio: Option<f64>) {
        match cpu_ratio {
            Some(c) => self.cpu_ticks.push_back((t, c)),
            None => self.cpu_ticks.clear(),
        }
        while let Some(&(old, _)) = self.cpu_ticks.front() {
            if old <= t - self.rate_window_secs {
                self.cpu_ticks.pop_front();
            } else {
                break;
            }
        }
    }

    /// CPU averaged over the rate window now, as `1 - rate(idle[1m])` reads.
    pub fn cpu_rate(&self) -> Option<f64> {
        (!self.cpu_ticks.is_empty())
            .then(|| self.cpu_ticks.iter().map(|x| x.1).sum::<f64>() / self.cpu_ticks.len() as f64)
    }

    /// Records one scrape/rule evaluation at `t`.
    pub fn record(&mut self, sample: Sample) {
        self.samples.push_back(sample);
        while let Some(s) = self.samples.front() {
            if s.t < sample.t - self.keep_secs {
                self.samples.pop_front();
            } else {
                break;
            }
        }
    }

    /// The newest sample.
    pub fn latest(&self) -> Option<&Sample> {
        self.samples.back()
    }

    /// `min_over_time` or `max_over_time` of `series` over `[now − window, now]`, with the
    /// `count_over_time(...[window] offset 1s)` sample count. `None` when the window holds no
    /// sample of the series (Prometheus returns nothing).
    pub fn window(
        &self,
        now: i64,
        window_secs: u64,
        aggregate: Aggregate,
        series: impl Fn(&Sample) -> Option<f64>,
    ) -> Option<Windowed> {
        let from = now - window_secs as i64;
        let mut value: Option<f64> = None;
        let mut older = 0u32;
        for s in self.samples.iter().rev() {
            if s.t > now {
                continue;
            }
            if s.t < from {
                break;
            }
            let Some(v) = series(s) else { continue };
            value = Some(match (value, aggregate) {
                (None, _) => v,
                (Some(a), Aggregate::Min) => a.min(v),
                (Some(a), Aggregate::Max) => a.max(v),
            });
            if s.t < now {
                older += 1;
            }
        }
        value.map(|value| Windowed {
            value,
            samples: older,
        })
    }

    /// The snapshot SmartScale's Prometheus adapter would assemble at `now` (seconds since the
    /// start; `at` is the same moment as a wall time). Queue depth, latency and error rate are not
    /// modelled and are reported missing, as they are on a cluster without those exporters.
    pub fn snapshot(&self, now: i64, at: DateTime<Utc>, config: &Config) -> MetricsSnapshot {
        let mut m = MetricsSnapshot::empty(at);
        m.provenance = Provenance::Live;
        m.missing = vec![
            MetricName::QueueDepth,
            MetricName::LatencyP95,
            MetricName::ErrorRate,
        ];
        let latest = self.samples.iter().rev().find(|s| s.t <= now);
        let fresh = |s: &&Sample| now - s.t <= config.metrics_max_age_secs as i64;
        m.cpu_ratio = latest.and_then(|s| s.cpu);
        m.memory_ratio = latest.and_then(|s| s.memory);
        m.pending_pods = latest.map(|s| s.pending);
        m.cpu_min_up_window =
            self.window(now, config.scale_up_window_secs, Aggregate::Min, |s| s.cpu);
        m.cpu_max_down_window =
            self.window(now, config.scale_down_window_secs, Aggregate::Max, |s| {
                s.cpu
            });
        m.pending_pods_min_window = self
            .window(now, config.pending_pods_window_secs, Aggregate::Min, |s| {
                Some(s.pending)
            })
            .or(Some(Windowed {
                value: 0.0,
                samples: 0,
            }));
        if m.cpu_ratio.is_none() {
            m.missing.push(MetricName::Cpu);
        }
        if m.memory_ratio.is_none() {
            m.missing.push(MetricName::Memory);
        }
        if m.pending_pods.is_none() {
            m.missing.push(MetricName::PendingPods);
        }
        if latest.is_some_and(|s| !fresh(&s)) {
            m.stale = vec![MetricName::Cpu, MetricName::Memory, MetricName::PendingPods];
        }
        m.missing.sort();
        m
    }
}

/// The cluster as SmartScale's Kubernetes and EC2 reads would show it now (`start` is second 0
/// of the run as a wall time): the control-plane node, every live worker with its
/// DaemonSet pod and workload pods, Pending pods, and the workload's disruption budget.
pub fn cluster_view(cluster: &Cluster, start: DateTime<Utc>) -> ClusterView {
    let at = |secs: i64| start + Duration::seconds(secs);
    let shape = &cluster.shape;
    let w = &cluster.workload;
    let replicas = cluster.desired_replicas;
    let mut view = ClusterView::default();
    view.nodes.push(NodeInfo {
        name: "k3s-master".into(),
        provider_id: None,
        instance_id: None,
        zone: shape.zones.first().cloned(),
        instance_type: Some(shape.instance_type.clone()),
        capacity_type: CapacityType::OnDemand,
        ready: true,
        unschedulable: false,
        control_plane: true,
        managed: false,
        created_at: start - Duration::days(30),
        idle_since: None,
        allocatable: shape.allocatable(),
        labels: BTreeMap::from([(
            "node-role.kubernetes.io/control-plane".to_string(),
            "true".to_string(),
        )]),
        annotations: BTreeMap::new(),
        addresses: Vec::new(),
    });
    let mut index = 0u64;
    let mut healthy = 0u32;
    for n in cluster.nodes.iter().filter(|n| n.alive()) {
        view.nodes.push(NodeInfo {
            name: n.name.clone(),
            provider_id: Some(smartscale_engine::model::provider_id(
                &n.zone,
                &n.instance_id,
            )),
            instance_id: Some(n.instance_id.clone()),
            zone: Some(n.zone.clone()),
            instance_type: Some(n.instance_type.clone()),
            capacity_type: n.capacity,
            ready: n.state == NodeState::Ready,
            unschedulable: n.cordoned,
            control_plane: false,
            managed: n.managed,
            created_at: at(n.launched_at),
            idle_since: n.idle_since.map(at),
            allocatable: NodeShape {
                capacity: n.size,
                ..shape.clone()
            }
            .allocatable(),
            labels: BTreeMap::from([
                ("topology.kubernetes.io/zone".to_string(), n.zone.clone()),
                (
                    "node.kubernetes.io/instance-type".to_string(),
                    n.instance_type.clone(),
                ),
            ]),
            annotations: BTreeMap::new(),
            addresses: Vec::new(),
        });
        if n.state != NodeState::Ready {
            continue;
        }
        view.pods.push(PodInfo {
            namespace: "kube-system".into(),
            name: format!("node-agents-{}", n.name),
            node_name: Some(n.name.clone()),
            phase: PodPhase::Running,
            owner_kind: Some(OwnerKind::DaemonSet),
            owner_name: Some("node-agents".into()),
            workload_replicas: None,
            mirror: false,
            requests: shape.daemonset,
            has_local_storage: false,
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            created_at: at(n.ready_at),
        });
        for _ in 0..n.pods {
            index += 1;
            view.pods
                .push(w.pod(index, Some(&n.name), replicas, at(n.launched_at)));
        }
        healthy += n.pods;
    }
    for &created in &cluster.pending {
        index += 1;
        view.pods.push(w.pod(index, None, replicas, at(created)));
    }
    view.pdbs.extend(w.pdb(replicas, healthy));
    view
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observer() -> (Observer, Config) {
        let c = Config::default();
        (Observer::new(&c, 60), c)
    }

    fn cpu_sample(t: i64, cpu: f64) -> Sample {
        Sample {
            t,
            cpu: Some(cpu),
            memory: Some(0.4),
            pending: 0.0,
        }
    }

    #[test]
    fn windows_match_hand_computed_values() {
        let (mut o, c) = observer();
        // CPU 0.80 every 15 s from t=0, except 0.72 at t=90.
        for i in 0..=20 {
            let t = i * 15;
            o.record(cpu_sample(t, if t == 90 { 0.72 } else { 0.80 }));
        }
        let cases = [
            // (name, now, window, aggregate, value, samples)
            (
                "full 3 m window at 300 s",
                300,
                180,
                Aggregate::Min,
                0.80,
                12,
            ),
            (
                "3 m window holding the dip",
                180,
                180,
                Aggregate::Min,
                0.72,
                12,
            ),
            (
                "one sample short at 165 s",
                165,
                180,
                Aggregate::Min,
                0.72,
                11,
            ),
            (
                "history shorter than 10 m",
                300,
                600,
                Aggregate::Max,
                0.80,
                20,
            ),
        ];
        for (name, now, w, agg, value, samples) in cases {
            let got = o.window(now, w, agg, |s| s.cpu).unwrap();
            assert_eq!(got.value, value, "case {name}");
            assert_eq!(got.samples, samples, "case {name}");
        }
        assert_eq!(c.required_samples(180), 12);
        let snap = o.snapshot(165, DateTime::<Utc>::UNIX_EPOCH, &c);
        let w = snap.cpu_min_up_window.unwrap();
        assert!(
            w.samples < c.required_samples(c.scale_up_window_secs),
            "one sample short ⇒ the window is not met"
        );
        assert!(snap.unusable_required().is_empty());
    }

    #[test]
    fn cpu_is_averaged_over_the_rate_window() {
        let (mut o, _) = observer();
        for t in (0..60).step_by(5) {
            o.tick(t, Some(if t < 30 { 0.2 } else { 0.8 }));
        }
        assert!((o.cpu_rate().unwrap() - 0.5).abs() < 1e-12);
        o.tick(60, Some(0.8));
        assert!(
            (o.cpu_rate().unwrap() - 0.55).abs() < 1e-12,
            "t=0 left the window"
        );
        o.tick(65, None);
        assert_eq!(o.cpu_rate(), None);
    }

    #[test]
    fn stale_and_missing_inputs_are_reported() {
        let (mut o, c) = observer();
        o.record(Sample {
            t: 0,
            cpu: None,
            memory: None,
            pending: 3.0,
        });
        let snap = o.snapshot(0, DateTime::<Utc>::UNIX_EPOCH, &c);
        assert_eq!(
            snap.unusable_required(),
            [MetricName::Cpu, MetricName::Memory]
        );
        let later = o.snapshot(120, DateTime::<Utc>::UNIX_EPOCH, &c);
        assert!(later.unusable_required().contains(&MetricName::PendingPods));
    }

    #[test]
    fn the_view_lists_nodes_pods_and_budget() {
        use crate::cluster::{Cluster, NodeShape};
        use crate::workload::Workload;
        let mut cl = Cluster::new(NodeShape::default(), Workload::default(), 2, true);
        cl.set_replicas(0, 14);
        cl.schedule(0);
        cl.launch(10, true);
        let v = cluster_view(&cl, DateTime::<Utc>::UNIX_EPOCH);
        assert_eq!(v.workers().count(), 3);
        assert_eq!(v.workers().filter(|n| n.ready).count(), 2);
        assert_eq!(v.pending_pods().count(), 2);
        assert_eq!(
            v.pods_on("worker-1").count(),
            7,
            "6 web pods and a DaemonSet pod"
        );
        assert_eq!(v.pdbs[0].disruptions_allowed, 0, "2 of 14 are not running");
    }
}
