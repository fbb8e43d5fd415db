//! The simulated cluster: worker nodes that boot, serve, get cordoned and drained and are
//! terminated; the workload's pods, placed by a scheduler that reads requests; and the bill.
//!
//! Time is seconds since the start of the run (`i64`), passed in by the caller. Pods of the one
//! workload are identical, so a node holds a count of them; Pending pods are a queue of their
//! creation times, so the longest wait is exact.

use crate::workload::{ReplicaController, Workload};
use smartscale_engine::model::Resources;
use std::collections::VecDeque;

/// The shape of one worker and how long it takes to join. Keys of the `[cluster]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeShape {
    /// EC2 instance type, for labels and the report (`t3.small`).
    pub instance_type: String,
    /// What the instance has: 2 vCPU and 2 GiB for a t3.small.
    pub capacity: Resources,
    /// Reserved for, and used by, the OS, containerd and the K3s agent (kubelet
    /// `system-reserved` + `kube-reserved`). Allocatable = capacity − this.
    pub system_reserved: Resources,
    /// Requested, and used, by the DaemonSet pods every worker runs (node-exporter, CNI, …).
    pub daemonset: Resources,
    /// Seconds from the EC2 launch to the node being Ready.
    pub boot_delay_secs: u64,
    /// Availability zones workers are spread over, round-robin in launch order.
    pub zones: Vec<String>,
}

impl Default for NodeShape {
    /// A t3.small K3s agent: 2 vCPU / 2 GiB, 100m + 256Mi reserved, 100m + 256Mi of DaemonSets,
    /// Ready 90 s after launch, spread over three zones.
    fn default() -> Self {
        const MIB: u64 = crate::workload::MIB;
        NodeShape {
            instance_type: "t3.small".into(),
            capacity: Resources {
                cpu_millis: 2000,
                memory_bytes: 2048 * MIB,
            },
            system_reserved: Resources {
                cpu_millis: 100,
                memory_bytes: 256 * MIB,
            },
            daemonset: Resources {
                cpu_millis: 100,
                memory_bytes: 256 * MIB,
            },
            boot_delay_secs: 90,
            zones: vec![
                "us-east-1a".into(),
                "us-east-1b".into(),
                "us-east-1c".into(),
            ],
        }
    }
}

impl NodeShape {
    /// `status.allocatable`: capacity minus the system reserve.
    pub fn allocatable(&self) -> Resources {
        Resources {
            cpu_millis: self
                .capacity
                .cpu_millis
                .saturating_sub(self.system_reserved.cpu_millis),
            memory_bytes: self
                .capacity
                .memory_bytes
                .saturating_sub(self.system_reserved.memory_bytes),
        }
    }

    /// What is left for workload pods: allocatable minus the DaemonSet requests.
    pub fn room_for_pods(&self) -> Resources {
        let a = self.allocatable();
        Resources {
            cpu_millis: a.cpu_millis.saturating_sub(self.daemonset.cpu_millis),
            memory_bytes: a.memory_bytes.saturating_sub(self.daemonset.memory_bytes),
        }
    }

    /// How many pods with `requests` fit on one empty worker (by CPU and by memory, the lower).
    pub fn pods_per_node(&self, requests: Resources) -> u32 {
        let room = self.room_for_pods();
        let by_cpu = room
            .cpu_millis
            .checked_div(requests.cpu_millis)
            .unwrap_or(u64::MAX);
        let by_mem = room
            .memory_bytes
            .checked_div(requests.memory_bytes)
            .unwrap_or(u64::MAX);
        by_cpu.min(by_mem).min(u32::MAX as u64) as u32
    }

    /// What a Ready worker uses before any workload pod: system reserve plus DaemonSets.
    pub fn overhead(&self) -> Resources {
        self.system_reserved.plus(self.daemonset)
    }
}

/// Where a worker is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeState {
    /// Launched, not yet Ready.
    Booting,
    /// Ready (possibly cordoned).
    Ready,
    /// Terminated; kept for the bill.
    Terminated,
}

/// One worker.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Node name, `worker-<n>`.
    pub name: String,
    /// EC2 instance id, `i-<n as 17 hex digits>`.
    pub instance_id: String,
    /// Availability zone.
    pub zone: String,
    /// Life stage.
    pub state: NodeState,
    /// Launch time (billing starts).
    pub launched_at: i64,
    /// When it is (or was) Ready.
    pub ready_at: i64,
    /// Termination time (billing ends).
    pub terminated_at: Option<i64>,
    /// Cordoned: the scheduler places nothing new here.
    pub cordoned: bool,
    /// Launched by SmartScale (tagged `ManagedBy=smartscale`); only such nodes may be removed.
    pub managed: bool,
    /// Workload pods bound here and serving.
    pub pods: u32,
    /// End times of workload pods stopping here (evicted or scaled away); they hold their requests
    /// until then.
    pub terminating: Vec<i64>,
    /// Since when the node has held no workload pod, if it holds none.
    pub idle_since: Option<i64>,
}

impl Node {
    /// Booting or Ready: it exists and is billed.
    pub fn alive(&self) -> bool {
        self.state != NodeState::Terminated
    }

    /// Ready (cordoned or not).
    pub fn ready(&self) -> bool {
        self.state == NodeState::Ready
    }

    /// Pods holding requests here: serving plus stopping.
    pub fn occupied(&self) -> u32 {
        self.pods + self.terminating.len() as u32
    }

    /// Seconds billed up to `now` (launch to termination, or to `now` if still running).
    pub fn billed_secs(&self, now: i64) -> i64 {
        (self.terminated_at.unwrap_or(now).min(now) - self.launched_at).max(0)
    }
}

/// The load at one moment, as the cluster serves it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Load {
    /// Workload pods serving.
    pub serving_pods: u32,
    /// CPU the traffic demands (workload only), millicores.
    pub demand_cpu_millis: f64,
    /// CPU actually served (a node cannot give more than it has), millicores.
    pub served_cpu_millis: f64,
    /// What Ready workers can give workload pods, millicores (room for pods × Ready workers).
    pub ready_capacity_cpu_millis: f64,
    /// Mean over Ready workers of (CPU used / CPU capacity): what node-exporter and the
    /// `smartscale:cpu_utilisation:ratio` rule would show, before the 1 m rate. `None` with no
    /// Ready worker.
    pub cpu_ratio: Option<f64>,
    /// Memory used / memory capacity over Ready workers. `None` with no Ready worker.
    pub memory_ratio: Option<f64>,
}

/// The simulated cluster: workers, the workload's pods and its HPA.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// Worker shape.
    pub shape: NodeShape,
    /// The workload.
    pub workload: Workload,
    /// Every worker ever launched, in launch order (terminated ones too, for the bill).
    pub nodes: Vec<Node>,
    /// Creation times of Pending pods, oldest first.
    pub pending: VecDeque<i64>,
    /// Replicas the HPA asks for now.
    pub desired_replicas: u32,
    /// Longest any pod has waited in Pending so far, seconds (pods still waiting included when
    /// read through [`Cluster::max_pending_secs`]).
    longest_wait_secs: i64,
    hpa: ReplicaController,
    slots: u32,
}

impl Cluster {
    /// A cluster at time 0 with `initial_nodes` Ready workers (marked managed or not) and no pods;
    /// call [`Cluster::set_traffic`] and [`Cluster::schedule`] to populate it.
    pub fn new(shape: NodeShape, workload: Workload, initial_nodes: u32, managed: bool) -> Self {
        let slots = shape.pods_per_node(workload.requests);
        let hpa = ReplicaController::new(&workload);
        let mut c = Cluster {
            shape,
            workload,
            nodes: Vec::new(),
            pending: VecDeque::new(),
            desired_replicas: 0,
            longest_wait_secs: 0,
            hpa,
            slots,
        };
        for _ in 0..initial_nodes {
            let i = c.launch(0, managed);
            c.nodes[i].state = NodeState::Ready;
            c.nodes[i].ready_at = 0;
        }
        c
    }

    /// Workload pods one empty worker can hold.
    pub fn pods_per_node(&self) -> u32 {
        self.slots
    }

    /// Launches one worker at `now`; it is Ready `boot_delay_secs` later (see [`Cluster::advance`]).
    /// Returns its index in [`Cluster::nodes`].
    pub fn launch(&mut self, now: i64, managed: bool) -> usize {
        let n = self.nodes.len();
        let zone = if self.shape.zones.is_empty() {
            "zone-a".to_string()
        } else {
            self.shape.zones[n % self.shape.zones.len()].clone()
        };
        self.nodes.push(Node {
            name: format!("worker-{}", n + 1),
            instance_id: format!("i-{:017x}", n + 1),
            zone,
            state: NodeState::Booting,
            launched_at: now,
            ready_at: now + self.shape.boot_delay_secs as i64,
            terminated_at: None,
            cordoned: false,
            managed,
            pods: 0,
            terminating: Vec::new(),
            idle_since: Some(now),
        });
        n
    }

    /// Moves time to `now`: booting workers whose delay has passed become Ready, stopping pods
    /// whose grace time has passed are gone.
    pub fn advance(&mut self, now: i64) {
        for node in &mut self.nodes {
            if node.state == NodeState::Booting && node.ready_at <= now {
                node.state = NodeState::Ready;
            }
            node.terminating.retain(|&end| end > now);
        }
    }

    /// The HPA observes `rps` at `now` and the ReplicaSet creates or deletes pods to match:
    /// new pods start Pending; deletions take Pending pods first (newest first), then serving
    /// pods from the worker holding most (they stop over the grace time).
    pub fn set_traffic(&mut self, now: i64, rps: f64) {
        let desired = self.hpa.observe(&self.workload, now, rps);
        self.set_replicas(now, desired);
    }

    /// Sets the replica count directly (the ReplicaSet half of [`Cluster::set_traffic`]).
    pub fn set_replicas(&mut self, now: i64, desired: u32) {
        self.desired_replicas = desired;
        let current = self.live_pods();
        if desired > current {
            self.pending
                .extend(std::iter::repeat_n(now, (desired - current) as usize));
            return;
        }
        let mut extra = current - desired;
        while extra > 0 {
            let Some(created) = self.pending.pop_back() else {
                break;
            };
            self.longest_wait_secs = self.longest_wait_secs.max(now - created);
            extra -= 1;
        }
        let grace = self.workload.termination_grace_secs as i64;
        while extra > 0 {
            let Some(node) = self
                .nodes
                .iter_mut()
                .filter(|n| n.pods > 0)
                .max_by_key(|n| n.pods)
            else {
                break;
            };
            node.pods -= 1;
            node.terminating.push(now + grace);
            if node.pods == 0 {
                node.idle_since = Some(now);
            }
            extra -= 1;
        }
    }

    /// Pods that exist and are not stopping: serving plus Pending.
    pub fn live_pods(&self) -> u32 {
        self.nodes.iter().map(|n| n.pods).sum::<u32>() + self.pending.len() as u32
    }

    /// The scheduler: places Pending pods, oldest first, each on the Ready, uncordoned worker
    /// with the fewest pods that still has room for its requests (kube-scheduler's
    /// least-allocated spreading). Pods that fit nowhere stay Pending. Returns how many it placed.
    pub fn schedule(&mut self, now: i64) -> u32 {
        let mut placed = 0;
        while let Some(&created) = self.pending.front() {
            let slots = self.slots;
            let Some(node) = self
                .nodes
                .iter_mut()
                .filter(|n| n.ready() && !n.cordoned && n.occupied() < slots)
                .min_by_key(|n| n.occupied())
            else {
                break;
            };
            node.pods += 1;
            node.idle_since = None;
            self.pending.pop_front();
            self.longest_wait_secs = self.longest_wait_secs.max(now - created);
            placed += 1;
        }
        placed
    }

    /// Forgets the longest wait so far (the end of a warm-up); pods still Pending keep their
    /// creation time.
    pub fn reset_longest_wait(&mut self) {
        self.longest_wait_secs = 0;
    }

    /// Longest time any pod has spent Pending, counting pods still Pending at `now`.
    pub fn max_pending_secs(&self, now: i64) -> i64 {
        let waiting = self.pending.front().map_or(0, |&c| now - c);
        self.longest_wait_secs.max(waiting)
    }

    /// Marks worker `i` unschedulable.
    pub fn cordon(&mut self, i: usize) {
        self.nodes[i].cordoned = true;
    }

    /// Makes worker `i` schedulable again (an aborted drain).
    pub fn uncordon(&mut self, i: usize) {
        self.nodes[i].cordoned = false;
    }

    /// Evicts up to `count` serving pods from worker `i` at `now`: each stops over the grace time
    /// and the ReplicaSet creates its replacement, Pending, at once. Returns how many it evicted.
    pub fn evict(&mut self, i: usize, count: u32, now: i64) -> u32 {
        let grace = self.workload.termination_grace_secs as i64;
        let node = &mut self.nodes[i];
        let n = count.min(node.pods);
        node.pods -= n;
        node.terminating
            .extend(std::iter::repeat_n(now + grace, n as usize));
        if node.pods == 0 {
            node.idle_since.get_or_insert(now);
        }
        self.pending.extend(std::iter::repeat_n(now, n as usize));
        n
    }

    /// Moves the serving pods of worker `i` onto the other Ready, uncordoned workers with room,
    /// fewest pods first, without a pause in service (what no real cluster can do: the clairvoyant
    /// bound's idealised move). Pods that fit nowhere stay. Returns how many moved.
    pub fn relocate(&mut self, i: usize) -> u32 {
        let slots = self.slots;
        let mut moved = 0;
        while self.nodes[i].pods > 0 {
            let Some(to) = (0..self.nodes.len())
                .filter(|&j| {
                    let n = &self.nodes[j];
                    j != i && n.ready() && !n.cordoned && n.occupied() < slots
                })
                .min_by_key(|&j| self.nodes[j].occupied())
            else {
                break;
            };
            self.nodes[i].pods -= 1;
            self.nodes[to].pods += 1;
            self.nodes[to].idle_since = None;
            moved += 1;
        }
        moved
    }

    /// Terminates worker `i` at `now`. Pods still bound to it are lost and replaced (Pending).
    pub fn terminate(&mut self, i: usize, now: i64) {
        let node = &mut self.nodes[i];
        if !node.alive() {
            return;
        }
        let lost = node.pods;
        node.pods = 0;
        node.terminating.clear();
        node.state = NodeState::Terminated;
        node.terminated_at = Some(now);
        self.pending.extend(std::iter::repeat_n(now, lost as usize));
    }

    /// Workers that exist (booting or Ready).
    pub fn alive_count(&self) -> u32 {
        self.nodes.iter().filter(|n| n.alive()).count() as u32
    }

    /// Ready workers.
    pub fn ready_count(&self) -> u32 {
        self.nodes.iter().filter(|n| n.ready()).count() as u32
    }

    /// Workers still booting.
    pub fn booting_count(&self) -> u32 {
        self.nodes
            .iter()
            .filter(|n| n.state == NodeState::Booting)
            .count() as u32
    }

    /// How the cluster serves `rps` now. Traffic spreads evenly over serving pods; each worker
    /// gives its pods at most its room for pods (capacity − reserve − DaemonSets); stopping pods
    /// use the workload's base CPU and memory.
    pub fn load(&self, rps: f64) -> Load {
        let w = &self.workload;
        let serving: u32 = self
            .nodes
            .iter()
            .filter(|n| n.ready())
            .map(|n| n.pods)
            .sum();
        let usage = w.pod_usage(rps, serving);
        let room = self.shape.room_for_pods().cpu_millis as f64;
        let overhead = self.shape.overhead();
        let cap = self.shape.capacity;
        let (mut served, mut ratio_sum, mut mem_used, mut ready) = (0.0, 0.0, 0.0, 0u32);
        for n in self.nodes.iter().filter(|n| n.ready()) {
            let stopping = n.terminating.len() as f64;
            let pods_cpu = (n.pods as f64 * usage.cpu_millis).min(room);
            served += pods_cpu;
            let used = overhead.cpu_millis as f64 + pods_cpu + stopping * w.cpu_base_millis;
            ratio_sum += (used / cap.cpu_millis.max(1) as f64).min(1.0);
            mem_used += overhead.memory_bytes as f64
                + n.pods as f64 * usage.memory_bytes
                + stopping * w.memory_base_bytes as f64;
            ready += 1;
        }
        let mem_cap = ready as f64 * cap.memory_bytes.max(1) as f64;
        Load {
            serving_pods: serving,
            demand_cpu_millis: w.cpu_demand_millis(rps, serving),
            served_cpu_millis: served,
            ready_capacity_cpu_millis: ready as f64 * room,
            cpu_ratio: (ready > 0).then(|| ratio_sum / ready as f64),
            memory_ratio: (ready > 0).then(|| (mem_used / mem_cap).min(1.0)),
        }
    }

    /// Worker-seconds billed up to `now` and their cost: per-second billing with a minimum of
    /// `minimum_billed_secs` per instance (EC2 Linux: 60 s), at `hourly_usd` per worker-hour.
    pub fn bill(&self, now: i64, hourly_usd: f64, minimum_billed_secs: u64) -> (f64, f64) {
        self.bill_from(0, now, hourly_usd, minimum_billed_secs)
    }

    /// [`Cluster::bill`] of the time from `from` to `now` only (a worker running across `from` is
    /// billed from `from`; the minimum applies to each worker billed in the stretch).
    pub fn bill_from(
        &self,
        from: i64,
        now: i64,
        hourly_usd: f64,
        minimum_billed_secs: u64,
    ) -> (f64, f64) {
        let mut secs = 0.0;
        let mut charged = 0.0;
        for n in &self.nodes {
            let end = n.terminated_at.unwrap_or(now).min(now);
            if end <= from && from > 0 {
                continue;
            }
            let s = (end - n.launched_at.max(from)).max(0) as f64;
            secs += s;
            charged += s.max(minimum_billed_secs as f64);
        }
        (secs, charged / 3600.0 * hourly_usd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::MIB;

    fn cluster(nodes: u32) -> Cluster {
        Cluster::new(NodeShape::default(), Workload::default(), nodes, true)
    }

    #[test]
    fn a_t3_small_holds_six_default_pods() {
        let s = NodeShape::default();
        assert_eq!(s.allocatable().cpu_millis, 1900);
        assert_eq!(s.room_for_pods().cpu_millis, 1800);
        assert_eq!(s.room_for_pods().memory_bytes, 1536 * MIB);
        let cases = [
            ("seed requests: memory binds", (200, 256), 6),
            ("cpu binds", (500, 64), 3),
            ("exact fit", (1800, 1536), 1),
            ("too big", (1900, 64), 0),
        ];
        for (name, (cpu, mem), want) in cases {
            let r = Resources {
                cpu_millis: cpu,
                memory_bytes: mem * MIB,
            };
            assert_eq!(s.pods_per_node(r), want, "case {name}");
        }
    }

    #[test]
    fn scheduler_places_by_requests_and_leaves_the_rest_pending() {
        let mut c = cluster(2);
        c.set_replicas(0, 15);
        assert_eq!(c.schedule(0), 12, "2 workers × 6 pods");
        assert_eq!(c.pending.len(), 3);
        assert_eq!(
            c.nodes.iter().map(|n| n.pods).collect::<Vec<_>>(),
            [6, 6],
            "spread evenly"
        );
        c.cordon(0);
        c.set_replicas(0, 11);
        assert_eq!(c.pending.len(), 0, "pending pods are deleted first");
        assert_eq!(c.nodes[1].pods, 5, "then from the fullest node");
        c.set_replicas(10, 12);
        assert_eq!(
            c.schedule(10),
            0,
            "the freed slot still holds a stopping pod"
        );
        c.advance(40);
        assert_eq!(c.schedule(40), 1, "after the grace time it is free");
        assert_eq!(c.nodes[0].pods, 6, "nothing lands on the cordoned node");
        assert_eq!(c.max_pending_secs(40), 30);
    }

    #[test]
    fn launched_workers_serve_only_after_the_boot_delay() {
        let mut c = cluster(1);
        c.set_replicas(0, 8);
        c.schedule(0);
        let i = c.launch(100, true);
        c.advance(189);
        assert_eq!(c.schedule(189), 0);
        assert_eq!(c.nodes[i].state, NodeState::Booting);
        c.advance(190);
        assert_eq!(c.nodes[i].state, NodeState::Ready);
        assert_eq!(c.schedule(190), 2);
        assert_eq!(c.max_pending_secs(190), 190);
        assert_eq!((c.alive_count(), c.ready_count()), (2, 2));
    }

    #[test]
    fn eviction_replaces_pods_and_termination_stops_billing() {
        let mut c = cluster(2);
        c.set_replicas(0, 6);
        c.schedule(0);
        c.cordon(0);
        assert_eq!(c.evict(0, 10, 50), 3);
        assert_eq!(c.pending.len(), 3);
        c.schedule(50);
        assert_eq!((c.nodes[0].pods, c.nodes[1].pods), (0, 6));
        assert_eq!(c.live_pods(), 6);
        c.terminate(0, 3600);
        let (secs, _) = c.bill(7200, 0.0208, 60);
        assert_eq!(secs, 3600.0 + 7200.0);
    }

    #[test]
    fn billing_is_per_second_with_a_minimum() {
        let mut c = cluster(0);
        let a = c.launch(0, true);
        let b = c.launch(0, true);
        c.terminate(a, 1);
        c.terminate(b, 5400);
        let (secs, cost) = c.bill(10_000, 3.6, 60);
        assert_eq!(secs, 5401.0);
        assert!((cost - (60.0 + 5400.0) / 1000.0).abs() < 1e-9, "{cost}");
    }

    #[test]
    fn load_follows_the_served_requests() {
        let mut c = cluster(5);
        c.set_replicas(0, 30);
        c.schedule(0);
        let l = c.load(6000.0);
        assert_eq!(l.serving_pods, 30);
        assert_eq!(l.demand_cpu_millis, 6000.0 + 30.0 * 15.0);
        assert_eq!(l.served_cpu_millis, l.demand_cpu_millis);
        assert_eq!(l.ready_capacity_cpu_millis, 9000.0);
        let cpu = l.cpu_ratio.unwrap();
        assert!((cpu - (200.0 + 6.0 * 215.0) / 2000.0).abs() < 1e-9, "{cpu}");
        // Three times the traffic: each worker gives its pods at most 1800m.
        let hot = c.load(18_000.0);
        assert_eq!(hot.served_cpu_millis, 9000.0);
        assert_eq!(hot.cpu_ratio, Some(1.0));
        assert_eq!(cluster(0).load(100.0).cpu_ratio, None);
    }
}
