//! The workload model shared by the what-if simulator and the cluster emulator: one web
//! Deployment whose replica count follows traffic like a HorizontalPodAutoscaler, whose pods
//! request fixed resources, and whose CPU and memory use grow with the requests each pod serves.
//!
//! The chain is: traffic (requests/s) → [`Workload::desired_replicas`] (or the stateful
//! [`ReplicaController`], which adds the HPA's scale-down stabilisation) → pods with
//! [`Workload::requests`] → per-pod use from [`Workload::pod_usage`] given how many pods are
//! serving. Everything is pure arithmetic; time is an argument.
//!
//! Limits of the model (stated in docs/SIMULATOR.md too): one workload; load spreads evenly over
//! the serving pods; no HPA tolerance band, no readiness delay for pods, no CPU limits (a pod may
//! use more than it requests, up to what its node has).

use chrono::{DateTime, Utc};
use smartscale_engine::model::{OwnerKind, PdbInfo, PodInfo, PodPhase, Resources};
use std::collections::{BTreeMap, VecDeque};

/// Mebibyte, in bytes.
pub const MIB: u64 = 1024 * 1024;

/// The web workload's constants. Every field is a scenario-file key of the `[workload]` section
/// (see docs/SIMULATOR.md); [`Workload::default`] holds the values of the built-in scenarios.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// Deployment name; pods are named `<name>-<n>`.
    pub name: String,
    /// Namespace of the Deployment, its pods and its disruption budget.
    pub namespace: String,
    /// The HPA target: requests per second one replica should serve. Must be > 0.
    pub rps_per_replica: f64,
    /// The HPA's `minReplicas` (at least 1).
    pub min_replicas: u32,
    /// The HPA's `maxReplicas` (at least `min_replicas`).
    pub max_replicas: u32,
    /// The HPA's scale-down stabilisation window: replicas follow the highest recommendation of
    /// this many seconds (Kubernetes default 300). Scale-up is immediate.
    pub scale_down_stabilization_secs: u64,
    /// Requests of one pod (200m CPU, 256Mi memory by default).
    pub requests: Resources,
    /// CPU one serving pod uses with no traffic, millicores.
    pub cpu_base_millis: f64,
    /// CPU per request/s served, millicores.
    pub cpu_millis_per_rps: f64,
    /// Memory one pod uses with no traffic, bytes.
    pub memory_base_bytes: u64,
    /// Memory per request/s the pod serves, bytes.
    pub memory_bytes_per_rps: f64,
    /// `terminationGracePeriodSeconds`: how long an evicted pod takes to stop.
    pub termination_grace_secs: u64,
    /// `maxUnavailable` of the workload's PodDisruptionBudget; `None` means no budget.
    pub pdb_max_unavailable: Option<u32>,
}

impl Default for Workload {
    /// The built-in scenarios' web tier: 220 rps per replica at 1m CPU per rps plus 15m, 200m/256Mi
    /// requests, 2–60 replicas, a budget allowing one pod down at a time.
    fn default() -> Self {
        Workload {
            name: "web".into(),
            namespace: "default".into(),
            rps_per_replica: 220.0,
            min_replicas: 2,
            max_replicas: 60,
            scale_down_stabilization_secs: 300,
            requests: Resources {
                cpu_millis: 200,
                memory_bytes: 256 * MIB,
            },
            cpu_base_millis: 15.0,
            cpu_millis_per_rps: 1.0,
            memory_base_bytes: 110 * MIB,
            memory_bytes_per_rps: 0.2 * MIB as f64,
            termination_grace_secs: 30,
            pdb_max_unavailable: Some(1),
        }
    }
}

/// What one serving pod uses at a moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PodUsage {
    /// Requests/s this pod serves.
    pub rps: f64,
    /// CPU it would use if its node had room, millicores.
    pub cpu_millis: f64,
    /// Memory it uses, bytes.
    pub memory_bytes: f64,
}

impl Workload {
    /// Every inconsistent constant, as `(key, problem)` pairs named by their scenario-file key.
    /// Empty when the model is usable.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut p = Vec::new();
        if !(self.rps_per_replica.is_finite() && self.rps_per_replica > 0.0) {
            p.push((
                "rps_per_replica",
                format!("{} must be a number above 0", self.rps_per_replica),
            ));
        }
        if self.min_replicas < 1 {
            p.push(("min_replicas", "must be at least 1".into()));
        }
        if self.max_replicas < self.min_replicas {
            p.push((
                "max_replicas",
                format!(
                    "{} is below min_replicas ({})",
                    self.max_replicas, self.min_replicas
                ),
            ));
        }
        for (key, v) in [
            ("cpu_base", self.cpu_base_millis),
            ("cpu_per_rps", self.cpu_millis_per_rps),
            ("memory_per_rps", self.memory_bytes_per_rps),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                p.push((key, format!("{v} must be a number >= 0")));
            }
        }
        if self.requests.cpu_millis == 0 {
            p.push((
                "cpu_request",
                "must be above 0: the scheduler places pods by requests".into(),
            ));
        }
        p
    }

    /// The replica count an HPA with this target would ask for at `rps`, ignoring stabilisation:
    /// `ceil(rps / rps_per_replica)` clamped to `[min_replicas, max_replicas]`. Negative or
    /// non-finite traffic counts as none.
    pub fn desired_replicas(&self, rps: f64) -> u32 {
        let rps = if rps.is_finite() { rps.max(0.0) } else { 0.0 };
        let raw = (rps / self.rps_per_replica).ceil();
        let raw = if raw > u32::MAX as f64 {
            u32::MAX
        } else {
            raw as u32
        };
        raw.clamp(self.min_replicas, self.max_replicas.max(self.min_replicas))
    }

    /// Use of one pod when `serving_pods` pods share `rps` evenly. With no serving pod the
    /// traffic is unserved and the result describes an idle pod.
    pub fn pod_usage(&self, rps: f64, serving_pods: u32) -> PodUsage {
        let per_pod = if serving_pods == 0 {
            0.0
        } else {
            rps.max(0.0) / serving_pods as f64
        };
        PodUsage {
            rps: per_pod,
            cpu_millis: self.cpu_base_millis + self.cpu_millis_per_rps * per_pod,
            memory_bytes: self.memory_base_bytes as f64 + self.memory_bytes_per_rps * per_pod,
        }
    }

    /// CPU the traffic demands from `serving_pods` pods together, millicores: every pod's base
    /// plus the per-request cost of all of `rps`. (With no serving pod, the cost of the traffic
    /// alone: it is demanded but nobody serves it.)
    pub fn cpu_demand_millis(&self, rps: f64, serving_pods: u32) -> f64 {
        self.cpu_base_millis * serving_pods as f64 + self.cpu_millis_per_rps * rps.max(0.0)
    }

    /// The pod `<name>-<index>` as the engine's cluster view shows it: owned by the Deployment,
    /// `workload_replicas` = `replicas`, requests from the model, labelled `app=<name>` (what the
    /// budget selects). `node` is `None` while Pending.
    pub fn pod(
        &self,
        index: u64,
        node: Option<&str>,
        replicas: u32,
        created_at: DateTime<Utc>,
    ) -> PodInfo {
        PodInfo {
            namespace: self.namespace.clone(),
            name: format!("{}-{index}", self.name),
            node_name: node.map(str::to_owned),
            phase: if node.is_some() {
                PodPhase::Running
            } else {
                PodPhase::Pending
            },
            owner_kind: Some(OwnerKind::Deployment),
            owner_name: Some(self.name.clone()),
            workload_replicas: Some(replicas),
            mirror: false,
            requests: self.requests,
            has_local_storage: false,
            labels: BTreeMap::from([("app".to_string(), self.name.clone())]),
            annotations: BTreeMap::new(),
            created_at,
        }
    }

    /// The workload's PodDisruptionBudget with `status.disruptionsAllowed` computed as the
    /// disruption controller does for `maxUnavailable`: healthy pods minus
    /// (desired − maxUnavailable), never below 0. `None` when the model has no budget.
    pub fn pdb(&self, desired: u32, healthy: u32) -> Option<PdbInfo> {
        let max_unavailable = self.pdb_max_unavailable?;
        let min_healthy = desired.saturating_sub(max_unavailable) as i64;
        Some(PdbInfo {
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            match_labels: BTreeMap::from([("app".to_string(), self.name.clone())]),
            disruptions_allowed: (healthy as i64 - min_healthy).max(0) as i32,
        })
    }
}

/// An HPA's replica count over time: scale-up follows the recommendation at once, scale-down
/// only to the highest recommendation of the last `scale_down_stabilization_secs` (the
/// Kubernetes default behaviour). Call [`ReplicaController::observe`] once per HPA sync.
#[derive(Debug, Clone)]
pub struct ReplicaController {
    /// (time, recommendation) of the recent syncs, oldest first.
    recent: VecDeque<(i64, u32)>,
    window_secs: i64,
}

impl ReplicaController {
    /// A controller with no history, for `workload`'s stabilisation window.
    pub fn new(workload: &Workload) -> Self {
        ReplicaController {
            recent: VecDeque::new(),
            window_secs: workload.scale_down_stabilization_secs as i64,
        }
    }

    /// The replica count at `now_secs` (seconds on any monotonic scale) for traffic `rps`.
    /// Times must not go backwards.
    pub fn observe(&mut self, workload: &Workload, now_secs: i64, rps: f64) -> u32 {
        let rec = workload.desired_replicas(rps);
        while let Some(&(t, _)) = self.recent.front() {
            if t < now_secs - self.window_secs {
                self.recent.pop_front();
            } else {
                break;
            }
        }
        // Older recommendations no higher than this one can never be the maximum again.
        while let Some(&(_, r)) = self.recent.back() {
            if r <= rec {
                self.recent.pop_back();
            } else {
                break;
            }
        }
        self.recent.push_back((now_secs, rec));
        self.recent.front().map_or(rec, |&(_, r)| r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_follow_traffic_within_bounds() {
        let w = Workload {
            rps_per_replica: 200.0,
            ..Workload::default()
        };
        let cases = [
            ("no traffic is the minimum", 0.0, 2),
            ("negative traffic counts as none", -5.0, 2),
            ("just above one replica's target", 201.0, 2),
            ("exactly three replicas' target", 600.0, 3),
            ("one request more needs another", 601.0, 4),
            ("capped at the maximum", 1e9, 60),
            ("NaN counts as none", f64::NAN, 2),
        ];
        for (name, rps, want) in cases {
            assert_eq!(w.desired_replicas(rps), want, "case {name}");
        }
    }

    #[test]
    fn use_grows_with_the_requests_each_pod_serves() {
        let w = Workload::default();
        let u = w.pod_usage(1000.0, 5);
        assert_eq!(u.rps, 200.0);
        assert_eq!(u.cpu_millis, 215.0);
        assert!((u.memory_bytes - (150 * MIB) as f64).abs() < 1.0);
        assert_eq!(w.cpu_demand_millis(1000.0, 5), 1075.0);
        let idle = w.pod_usage(1000.0, 0);
        assert_eq!((idle.rps, idle.cpu_millis), (0.0, 15.0));
        assert_eq!(w.cpu_demand_millis(1000.0, 0), 1000.0);
    }

    #[test]
    fn pods_and_budget_as_the_engine_sees_them() {
        let w = Workload::default();
        let t = DateTime::<Utc>::UNIX_EPOCH;
        let p = w.pod(7, Some("w1"), 9, t);
        assert_eq!(p.key(), "default/web-7");
        assert_eq!(p.phase, PodPhase::Running);
        assert_eq!(p.workload_replicas, Some(9));
        assert_eq!(p.requests.cpu_millis, 200);
        assert_eq!(w.pod(8, None, 9, t).phase, PodPhase::Pending);
        let pdb = w.pdb(9, 9).unwrap();
        assert!(pdb.selects(&p));
        assert_eq!(pdb.disruptions_allowed, 1);
        assert_eq!(w.pdb(9, 8).unwrap().disruptions_allowed, 0);
        assert_eq!(w.pdb(9, 3).unwrap().disruptions_allowed, 0);
        let none = Workload {
            pdb_max_unavailable: None,
            ..Workload::default()
        };
        assert!(none.pdb(9, 9).is_none());
    }

    #[test]
    fn scale_down_waits_for_the_stabilisation_window() {
        let w = Workload {
            rps_per_replica: 200.0,
            ..Workload::default()
        };
        let mut hpa = ReplicaController::new(&w);
        assert_eq!(hpa.observe(&w, 0, 2000.0), 10);
        assert_eq!(hpa.observe(&w, 15, 4000.0), 20, "scale-up is immediate");
        assert_eq!(hpa.observe(&w, 30, 400.0), 20);
        assert_eq!(
            hpa.observe(&w, 315, 400.0),
            20,
            "the 20 of t=15 is 300 s old"
        );
        assert_eq!(hpa.observe(&w, 316, 400.0), 2, "the window has passed");
    }

    #[test]
    fn problems_name_the_key() {
        let w = Workload {
            rps_per_replica: 0.0,
            min_replicas: 3,
            max_replicas: 2,
            cpu_millis_per_rps: -1.0,
            ..Workload::default()
        };
        let keys: Vec<_> = w.problems().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["rps_per_replica", "max_replicas", "cpu_per_rps"]);
        assert!(Workload::default().problems().is_empty());
    }
}
