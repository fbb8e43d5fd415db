//! The simulated cluster: worker nodes that boot, serve, get cordoned and drained and are
//! terminated; the workload's pods, placed by a scheduler that reads requests; and the bill.
//!
//! Time is seconds since the start of the run (`i64`), passed in by the caller. Pods of the one
//! workload are identical, so a node holds a count of them; Pending pods are a queue of their
//! creation times, so the longest wait is exact.

use crate::market::Market;
use crate::workload::{ReplicaController, Workload};
use smartscale_engine::engine::capacity::{self, CapacityType, LaunchPlan};
use smartscale_engine::model::Resources;
use smartscale_engine::Policy as Config;
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
    /// EC2 instance type.
    pub instance_type: String,
    /// On-demand or Spot.
    pub capacity: CapacityType,
    /// When a Spot worker's interruption warning comes, as drawn at launch (it may never come:
    /// the worker may be gone first).
    pub warning_due: Option<i64>,
    /// When its interruption warning came, if it did.
    pub warned_at: Option<i64>,
    /// The worker launched to replace it after that warning (its index in [`Cluster::nodes`]),
    /// if one was: at the warning or at the termination, by [`Cluster::reaction`].
    pub replacement: Option<usize>,
    /// What the instance has (the `[cluster]` node's size, or the price table's size of a
    /// larger type); reserve and DaemonSets as the `[cluster]` node.
    pub size: Resources,
    /// Workload pods it can hold.
    pub slots: u32,
}

impl Node {
    /// What Ready workers of this size give workload pods, millicores.
    fn room_cpu_millis(&self, shape: &NodeShape) -> f64 {
        self.size
            .cpu_millis
            .saturating_sub(shape.system_reserved.cpu_millis)
            .saturating_sub(shape.daemonset.cpu_millis) as f64
    }
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

/// The on-demand choice among `types` (preference order) of SmartScale's fleet request and of an
/// Auto Scaling group without instance requirements: `prioritized`, the first type (EC2 Auto
/// Scaling's default `OnDemandAllocationStrategy` for such groups; `functions/core/src/adapters/ec2`
/// for SmartScale), not the cheapest.
fn prioritized(types: &[String]) -> &[String] {
    &types[..types.len().min(1)]
}

/// The types a launch of `kind` chooses from among `types` (preference order): the first
/// ([`prioritized`]) on-demand, every one for Spot (the market picks the pool).
fn as_bought(kind: CapacityType, types: &[String]) -> &[String] {
    match kind {
        CapacityType::OnDemand => prioritized(types),
        CapacityType::Spot => types,
    }
}

/// How new workers are bought when a policy launches without saying (every policy but
/// SmartScale, whose engine gives a [`LaunchPlan`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Buying {
    /// On-demand workers of `[cluster] instance_type`.
    OnDemand,
    /// A mixed-instances group: each new worker keeps the policy's `ON_DEMAND_BASE_CAPACITY` and
    /// `ON_DEMAND_PERCENTAGE_ABOVE_BASE` over the live workers ([`capacity::target`]), from its
    /// `WORKER_INSTANCE_TYPES`: on-demand the first of them (`prioritized`), Spot the pool
    /// [`Market::pool`] picks.
    Mix(Box<Config>),
    /// Spot first from these types (price-capacity-optimized), on-demand when no pool has Spot.
    SpotFirst(Vec<String>),
}

/// What happens on a Spot interruption warning, by policy (docs/SIMULATOR.md, "Spot and prices").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reaction {
    /// Evict the worker's pods, as the disruption budget allows, from the warning on (the
    /// worker is cordoned at the warning in every case).
    pub drain: bool,
    /// Launch a replacement at the warning (another Spot pool first, else on-demand).
    pub replace_at_warning: bool,
    /// Launch a replacement when the worker is terminated (an Auto Scaling group keeping its
    /// desired capacity).
    pub replace_at_termination: bool,
    /// Move the pods to the other workers without a pause just before the termination (the
    /// clairvoyant bound's idealised move).
    pub relocate: bool,
    /// Replacements never take the live workers (warned ones aside) past this.
    pub max_nodes: u32,
}

impl Default for Reaction {
    /// The product's path: cordon, drain, replacement at the warning, up to 10 workers.
    fn default() -> Self {
        Reaction {
            drain: true,
            replace_at_warning: true,
            replace_at_termination: false,
            relocate: false,
            max_nodes: 10,
        }
    }
}

/// What the Spot market did to one run.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SpotTally {
    /// Interruption warnings.
    pub interruptions: u32,
    /// Pods evicted or lost because of them.
    pub pods_evicted: u32,
    /// Spot launches that found no capacity and launched on-demand instead.
    pub fallbacks: u32,
    /// Replacements launched for interrupted workers.
    pub replacements: u32,
    /// Longest time a pod displaced by an interruption waited in Pending, seconds.
    pub longest_wait_secs: i64,
}

/// The bill of one run.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Bill {
    /// Worker-seconds billed.
    pub secs: f64,
    /// Of which Spot.
    pub spot_secs: f64,
    /// Cost of the on-demand workers, USD (with the per-instance billing minimum).
    pub on_demand_usd: f64,
    /// Cost of the Spot workers, USD.
    pub spot_usd: f64,
}

impl Bill {
    /// Total cost, USD.
    pub fn total_usd(&self) -> f64 {
        self.on_demand_usd + self.spot_usd
    }
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
    /// The offers: prices, Spot capacity, interruptions.
    pub market: Market,
    /// How launches without a plan are bought.
    pub buying: Buying,
    /// What a Spot interruption warning sets off.
    pub reaction: Reaction,
    /// What the Spot market did so far.
    pub spot: SpotTally,
    /// For each Pending pod (same order as `pending`): displaced by an interruption.
    displaced: VecDeque<bool>,
    last_advance: i64,
}

impl Cluster {
    /// A cluster at time 0 with `initial_nodes` Ready workers (marked managed or not) and no pods;
    /// call [`Cluster::set_traffic`] and [`Cluster::schedule`] to populate it.
    pub fn new(shape: NodeShape, workload: Workload, initial_nodes: u32, managed: bool) -> Self {
        let slots = shape.pods_per_node(workload.requests);
        let hpa = ReplicaController::new(&workload);
        let shape_zone = shape.zones.first().cloned();
        let mut c = Cluster {
            shape,
            workload,
            nodes: Vec::new(),
            pending: VecDeque::new(),
            desired_replicas: 0,
            longest_wait_secs: 0,
            hpa,
            slots,
            market: Market::for_region(&Market::region_of(
                shape_zone.as_deref().unwrap_or("us-east-1a"),
            )),
            buying: Buying::OnDemand,
            reaction: Reaction::default(),
            spot: SpotTally::default(),
            displaced: VecDeque::new(),
            last_advance: i64::MIN,
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

    /// Launches one worker at `now`, bought as [`Cluster::buying`] says; it is Ready
    /// `boot_delay_secs` later (see [`Cluster::advance`]). Returns its index in [`Cluster::nodes`].
    pub fn launch(&mut self, now: i64, managed: bool) -> usize {
        self.launch_avoiding(now, managed, &|_, _, _| false)
    }

    /// [`Cluster::launch`], leaving out the Spot pool the market would pick when `avoid` (given
    /// the market, the new worker's launch number and the pool) is true and another pool has
    /// capacity (the clairvoyant bound leaving a pool whose coming ICE period would reclaim the
    /// worker).
    pub fn launch_avoiding(
        &mut self,
        now: i64,
        managed: bool,
        avoid: &dyn Fn(&Market, usize, &str) -> bool,
    ) -> usize {
        let (kind, types) = match self.buying.clone() {
            Buying::OnDemand => {
                let types = [self.shape.instance_type.clone()];
                return self.launch_as(now, managed, CapacityType::OnDemand, &types, None);
            }
            Buying::Mix(cfg) => (self.mix_kind(&cfg), cfg.worker_instance_types),
            Buying::SpotFirst(types) => (CapacityType::Spot, types),
        };
        let types = as_bought(kind, &types);
        let pick = self.market.pool(types, kind, now, None);
        let n = self.nodes.len();
        let avoided = pick.filter(|p| kind == CapacityType::Spot && avoid(&self.market, n, p));
        self.launch_as(now, managed, kind, types, avoided.as_deref())
    }

    /// The capacity type a mixed-instances group's next launch gets: on-demand while the live
    /// on-demand count is under the mix's target for the group's new size, else Spot.
    fn mix_kind(&self, cfg: &Config) -> CapacityType {
        let live = self.live_mix();
        let want = capacity::target(live.total() + 1, cfg);
        if live.on_demand < want.on_demand {
            CapacityType::OnDemand
        } else {
            CapacityType::Spot
        }
    }

    /// Launches what `plan` says at `now` (its on-demand workers first); an empty type list means
    /// `[cluster] instance_type`. Returns the new workers' indices.
    pub fn launch_plan(&mut self, now: i64, managed: bool, plan: &LaunchPlan) -> Vec<usize> {
        let types = if plan.instance_types.is_empty() {
            vec![self.shape.instance_type.clone()]
        } else {
            plan.instance_types.clone()
        };
        let od = (0..plan.on_demand).map(|_| {
            self.launch_as(
                now,
                managed,
                CapacityType::OnDemand,
                prioritized(&types),
                None,
            )
        });
        let od: Vec<usize> = od.collect();
        let spot = (0..plan.spot)
            .map(|_| self.launch_as(now, managed, CapacityType::Spot, &types, None))
            .collect::<Vec<_>>();
        [od, spot].concat()
    }

    /// Live workers (booting or Ready) not under an interruption warning, by capacity type.
    pub fn live_mix(&self) -> capacity::Mix {
        let mut m = capacity::Mix::default();
        for n in self
            .nodes
            .iter()
            .filter(|n| n.alive() && n.warned_at.is_none())
        {
            match n.capacity {
                CapacityType::OnDemand => m.on_demand += 1,
                CapacityType::Spot => m.spot += 1,
            }
        }
        m
    }

    /// Launches one worker of `capacity` from the pool [`Market::pool`] picks among `types`
    /// (avoiding `avoid` when another will do); Spot without capacity in any pool launches
    /// on-demand (counted in [`SpotTally::fallbacks`]), as the product's fleet request does.
    pub fn launch_as(
        &mut self,
        now: i64,
        managed: bool,
        capacity: CapacityType,
        types: &[String],
        avoid: Option<&str>,
    ) -> usize {
        let (capacity, instance_type) = match self.market.pool(types, capacity, now, avoid) {
            Some(t) => (capacity, t),
            None => {
                self.spot.fallbacks += 1;
                // On-demand as each buyer buys it: the cheapest type for Karpenter's spot-first
                // choice, the first type for SmartScale's fleet request and a group.
                let od_types = match &self.buying {
                    Buying::SpotFirst(_) => types,
                    _ => prioritized(types),
                };
                let t = self
                    .market
                    .pool(od_types, CapacityType::OnDemand, now, None)
                    .unwrap_or_else(|| self.shape.instance_type.clone());
                (CapacityType::OnDemand, t)
            }
        };
        let size = if instance_type == self.shape.instance_type {
            self.shape.capacity
        } else {
            capacity::PriceTable::shipped()
                .size(&instance_type)
                .map_or(self.shape.capacity, |s| Resources {
                    cpu_millis: s.vcpu as u64 * 1000,
                    memory_bytes: s.memory_mib * 1024 * 1024,
                })
        };
        let slots = NodeShape {
            capacity: size,
            ..self.shape.clone()
        }
        .pods_per_node(self.workload.requests);
        let n = self.nodes.len();
        let warning_due = (capacity == CapacityType::Spot)
            .then(|| self.market.time_to_warning(n, &instance_type))
            .flatten()
            .map(|s| now + s);
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
            instance_type,
            capacity,
            warning_due,
            warned_at: None,
            replacement: None,
            size,
            slots,
        });
        n
    }

    /// Moves time to `now`: booting workers whose delay has passed become Ready, stopping pods
    /// whose grace time has passed are gone; then the Spot market acts ([`Cluster::interrupt`]).
    pub fn advance(&mut self, now: i64) {
        for node in &mut self.nodes {
            if node.state == NodeState::Booting && node.ready_at <= now {
                node.state = NodeState::Ready;
            }
            node.terminating.retain(|&end| end > now);
        }
        self.interrupt(now);
        self.last_advance = now;
    }

    /// The Spot market at `now`: warnings that are due (drawn at launch, or an ICE period starting
    /// that reclaims the worker) cordon the worker and, by [`Cluster::reaction`], launch its
    /// replacement; warned workers are drained as the budget allows; a worker whose warning is
    /// [`Market::warning_secs`] old is terminated (after its pods are relocated, by the
    /// reaction), its remaining pods lost and replaced.
    fn interrupt(&mut self, now: i64) {
        for i in 0..self.nodes.len() {
            let n = &self.nodes[i];
            if !n.alive() || n.capacity != CapacityType::Spot || n.warned_at.is_some() {
                continue;
            }
            let due = n.warning_due.is_some_and(|t| t <= now);
            let reclaimed = self
                .market
                .reclaim_at(i, &n.instance_type, n.launched_at)
                .is_some_and(|s| self.last_advance < s && s <= now);
            if due || reclaimed {
                self.warn(i, now);
            }
        }
        let warning = self.market.warning_secs;
        for i in 0..self.nodes.len() {
            let Some(at) = self.nodes[i].warned_at.filter(|_| self.nodes[i].alive()) else {
                continue;
            };
            if now - at >= warning {
                if self.reaction.relocate {
                    self.relocate(i);
                }
                self.spot.pods_evicted += self.nodes[i].pods;
                self.terminate_displacing(i, now);
                if self.reaction.replace_at_termination {
                    self.replace(i, now);
                }
            } else if self.reaction.drain {
                let allowed = crate::policy::evictable(self);
                let evicted = self.evict_displacing(i, allowed, now);
                self.spot.pods_evicted += evicted;
            }
        }
    }

    /// Worker `i` gets its interruption warning at `now`.
    fn warn(&mut self, i: usize, now: i64) {
        self.nodes[i].warned_at = Some(now);
        self.nodes[i].cordoned = true;
        self.spot.interruptions += 1;
        if self.reaction.replace_at_warning {
            self.replace(i, now);
        }
    }

    /// A replacement for interrupted worker `i`, recorded as its [`Node::replacement`]: Spot
    /// from another pool first, else on-demand. An Auto Scaling group's replacement at the
    /// termination is one of its launches instead (as [`Cluster::launch`] buys for a group):
    /// on-demand while the group is under its mix's base, which CA's removals may have left it.
    /// None when the live workers (warned ones aside) are at the reaction's maximum.
    fn replace(&mut self, i: usize, now: i64) {
        if self.live_mix().total() >= self.reaction.max_nodes {
            return;
        }
        let managed = self.nodes[i].managed;
        let avoid = self.nodes[i].instance_type.clone();
        let (kind, types) = match self.buying.clone() {
            Buying::Mix(cfg) if self.reaction.replace_at_termination => {
                let kind = self.mix_kind(&cfg);
                (kind, as_bought(kind, &cfg.worker_instance_types).to_vec())
            }
            Buying::Mix(cfg) => (CapacityType::Spot, cfg.worker_instance_types),
            Buying::SpotFirst(types) => (CapacityType::Spot, types),
            Buying::OnDemand => (CapacityType::Spot, vec![self.shape.instance_type.clone()]),
        };
        let j = self.launch_as(now, managed, kind, &types, Some(&avoid));
        self.nodes[i].replacement = Some(j);
        self.spot.replacements += 1;
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
            self.add_pending(now, desired - current, false);
            return;
        }
        let mut extra = current - desired;
        while extra > 0 {
            let Some(created) = self.pending.pop_back() else {
                break;
            };
            self.displaced.pop_back();
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
            let Some(node) = self
                .nodes
                .iter_mut()
                .filter(|n| n.ready() && !n.cordoned && n.occupied() < n.slots)
                .min_by_key(|n| n.occupied())
            else {
                break;
            };
            node.pods += 1;
            node.idle_since = None;
            self.pending.pop_front();
            if self.displaced.pop_front() == Some(true) {
                self.spot.longest_wait_secs = self.spot.longest_wait_secs.max(now - created);
            }
            self.longest_wait_secs = self.longest_wait_secs.max(now - created);
            placed += 1;
        }
        placed
    }

    /// Adds `count` Pending pods created at `now`, `displaced` by an interruption or not.
    fn add_pending(&mut self, now: i64, count: u32, displaced: bool) {
        self.pending
            .extend(std::iter::repeat_n(now, count as usize));
        self.displaced
            .extend(std::iter::repeat_n(displaced, count as usize));
    }

    /// Pending pods displaced by a Spot interruption.
    pub fn displaced_pending(&self) -> u32 {
        self.displaced.iter().filter(|&&d| d).count() as u32
    }

    /// Longest time a pod displaced by an interruption has spent Pending, counting those still
    /// Pending at `now`.
    pub fn max_displaced_secs(&self, now: i64) -> i64 {
        let waiting = self
            .pending
            .iter()
            .zip(&self.displaced)
            .filter(|(_, &d)| d)
            .map(|(&c, _)| now - c)
            .max()
            .unwrap_or(0);
        self.spot.longest_wait_secs.max(waiting)
    }

    /// Forgets the longest waits and the Spot tally so far (the end of a warm-up); pods still
    /// Pending keep their creation time.
    pub fn reset_longest_wait(&mut self) {
        self.longest_wait_secs = 0;
        self.spot = SpotTally::default();
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
        self.evict_as(i, count, now, false)
    }

    fn evict_displacing(&mut self, i: usize, count: u32, now: i64) -> u32 {
        self.evict_as(i, count, now, true)
    }

    fn evict_as(&mut self, i: usize, count: u32, now: i64, displaced: bool) -> u32 {
        let grace = self.workload.termination_grace_secs as i64;
        let node = &mut self.nodes[i];
        let n = count.min(node.pods);
        node.pods -= n;
        node.terminating
            .extend(std::iter::repeat_n(now + grace, n as usize));
        if node.pods == 0 {
            node.idle_since.get_or_insert(now);
        }
        self.add_pending(now, n, displaced);
        n
    }

    /// Moves the serving pods of worker `i` onto the other Ready, uncordoned workers with room,
    /// fewest pods first, without a pause in service (what no real cluster can do: the clairvoyant
    /// bound's idealised move). Pods that fit nowhere stay. Returns how many moved.
    pub fn relocate(&mut self, i: usize) -> u32 {
        let mut moved = 0;
        while self.nodes[i].pods > 0 {
            let Some(to) = (0..self.nodes.len())
                .filter(|&j| {
                    let n = &self.nodes[j];
                    j != i && n.ready() && !n.cordoned && n.occupied() < n.slots
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
        self.terminate_as(i, now, false)
    }

    fn terminate_displacing(&mut self, i: usize, now: i64) {
        self.terminate_as(i, now, true)
    }

    fn terminate_as(&mut self, i: usize, now: i64, displaced: bool) {
        let node = &mut self.nodes[i];
        if !node.alive() {
            return;
        }
        let lost = node.pods;
        node.pods = 0;
        node.terminating.clear();
        node.state = NodeState::Terminated;
        node.terminated_at = Some(now);
        self.add_pending(now, lost, displaced);
    }

    /// Workers that exist (booting or Ready).
    pub fn alive_count(&self) -> u32 {
        self.nodes.iter().filter(|n| n.alive()).count() as u32
    }

    /// Ready workers.
    pub fn ready_count(&self) -> u32 {
        self.nodes.iter().filter(|n| n.ready()).count() as u32
    }

    /// Workload pods serving: those running on Ready workers.
    pub fn serving_pods(&self) -> u32 {
        self.nodes
            .iter()
            .filter(|n| n.ready())
            .map(|n| n.pods)
            .sum()
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
        let serving = self.serving_pods();
        let usage = w.pod_usage(rps, serving);
        let overhead = self.shape.overhead();
        let (mut served, mut ratio_sum, mut mem_used, mut ready) = (0.0, 0.0, 0.0, 0u32);
        let (mut room_sum, mut mem_cap) = (0.0, 0.0);
        for n in self.nodes.iter().filter(|n| n.ready()) {
            let room = n.room_cpu_millis(&self.shape);
            let cap = n.size;
            room_sum += room;
            mem_cap += cap.memory_bytes.max(1) as f64;
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
        Load {
            serving_pods: serving,
            demand_cpu_millis: w.cpu_demand_millis(rps, serving),
            served_cpu_millis: served,
            ready_capacity_cpu_millis: room_sum,
            cpu_ratio: (ready > 0).then(|| ratio_sum / ready as f64),
            memory_ratio: (ready > 0).then(|| (mem_used / mem_cap).min(1.0)),
        }
    }

    /// Worker-seconds billed up to `now` and their cost: per-second billing with a minimum of
    /// `minimum_billed_secs` per instance (EC2 Linux: 60 s), each worker at the market's hourly
    /// price of its instance type and capacity type.
    pub fn bill(&self, now: i64, minimum_billed_secs: u64) -> Bill {
        self.bill_from(0, now, minimum_billed_secs)
    }

    /// [`Cluster::bill`] of the time from `from` to `now` only (a worker running across `from` is
    /// billed from `from`; the minimum applies to each worker billed in the stretch).
    pub fn bill_from(&self, from: i64, now: i64, minimum_billed_secs: u64) -> Bill {
        let mut b = Bill::default();
        for n in &self.nodes {
            let end = n.terminated_at.unwrap_or(now).min(now);
            if end <= from && from > 0 {
                continue;
            }
            let s = (end - n.launched_at.max(from)).max(0) as f64;
            let usd = s.max(minimum_billed_secs as f64) / 3600.0
                * self.market.price(&n.instance_type, n.capacity);
            b.secs += s;
            match n.capacity {
                CapacityType::OnDemand => b.on_demand_usd += usd,
                CapacityType::Spot => {
                    b.spot_secs += s;
                    b.spot_usd += usd;
                }
            }
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::MIB;

    fn cluster(nodes: u32) -> Cluster {
        Cluster::new(NodeShape::default(), Workload::default(), nodes, true)
    }

    /// Advances `cl` from `from` to `to` in 5-second steps, scheduling after each.
    fn step(cl: &mut Cluster, from: i64, to: i64) {
        let mut t = from;
        while t < to {
            t += 5;
            cl.advance(t);
            cl.schedule(t);
        }
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
        assert_eq!(c.bill(7200, 60).secs, 3600.0 + 7200.0);
    }

    #[test]
    fn billing_is_per_second_with_a_minimum() {
        let mut c = cluster(0);
        let a = c.launch(0, true);
        let b = c.launch(0, true);
        c.terminate(a, 1);
        c.terminate(b, 5400);
        c.market.offers.get_mut("t3.small").unwrap().on_demand = 3.6;
        let bill = c.bill(10_000, 60);
        assert_eq!(bill.secs, 5401.0);
        let cost = bill.total_usd();
        assert!((cost - (60.0 + 5400.0) / 1000.0).abs() < 1e-9, "{cost}");
        assert_eq!(bill.spot_usd, 0.0);
    }

    /// A Spot worker warned at 1000 s under each policy's reaction: cordoned at once, drained
    /// (or not), replaced at the warning or at the end, terminated 120 s later; the displaced pods
    /// are counted and the bill splits by capacity type.
    #[test]
    fn interruptions_follow_the_reaction() {
        use crate::market::Ice;
        struct Case {
            name: &'static str,
            reaction: Reaction,
            /// Workers alive just after the warning, and just after the termination.
            alive: (u32, u32),
            /// Pods displaced by the interruption in all.
            evicted: u32,
        }
        let product = Reaction::default();
        let cases = [
            Case {
                name: "the product: replacement at the warning",
                reaction: product,
                alive: (3, 2),
                evicted: 3,
            },
            Case {
                name: "an Auto Scaling group: replacement at the end",
                reaction: Reaction {
                    replace_at_warning: false,
                    replace_at_termination: true,
                    ..product
                },
                alive: (2, 2),
                evicted: 3,
            },
            Case {
                name: "the bound: pods moved, none displaced",
                reaction: Reaction {
                    drain: false,
                    relocate: true,
                    ..product
                },
                alive: (3, 2),
                evicted: 0,
            },
        ];
        for c in cases {
            let mut cl = cluster(1);
            cl.market = Market::for_region("us-east-1");
            cl.market.interruption_rate_pct = Some(0.0);
            cl.market.ice.push(Ice {
                instance_type: "t3.small".into(),
                start: 1000,
                end: 1100,
                reclaim: 1.0,
            });
            cl.reaction = c.reaction;
            let types = ["t3.small".to_string(), "t3a.small".to_string()];
            let spot = cl.launch_as(0, true, CapacityType::Spot, &types[..1], None);
            cl.advance(90);
            cl.set_replicas(90, 6);
            cl.schedule(90);
            assert_eq!(cl.nodes[spot].pods, 3, "case {}", c.name);
            cl.advance(1000);
            assert!(cl.nodes[spot].cordoned, "case {}", c.name);
            assert_eq!(cl.alive_count(), c.alive.0, "case {}", c.name);
            if c.reaction.replace_at_warning {
                let r = cl.nodes.last().unwrap();
                assert_eq!(
                    (r.capacity, r.instance_type.as_str()),
                    (CapacityType::OnDemand, "t3.small"),
                    "case {}: no Spot left in the only type: on-demand",
                    c.name
                );
                assert_eq!(cl.spot.fallbacks, 1, "case {}", c.name);
            }
            step(&mut cl, 1000, 1120);
            assert!(!cl.nodes[spot].alive(), "case {}: gone after 120 s", c.name);
            assert_eq!(cl.spot.interruptions, 1, "case {}", c.name);
            assert_eq!(cl.spot.pods_evicted, c.evicted, "case {}", c.name);
            let alive = cl.alive_count();
            assert_eq!(alive, c.alive.1, "case {}", c.name);
            let bill = cl.bill(3600, 60);
            assert!(
                bill.spot_usd > 0.0 && bill.on_demand_usd > 0.0,
                "case {}",
                c.name
            );
            // The interrupted worker's 1120 s, plus a Spot replacement launched after the ICE.
            let want = if c.reaction.replace_at_termination {
                1120.0 + 3600.0 - 1120.0
            } else {
                1120.0
            };
            assert!(
                (bill.spot_secs - want).abs() < 1e-9,
                "case {}: {}",
                c.name,
                bill.spot_secs
            );
        }
    }

    /// With no Spot capacity in any pool, the fallback buys on-demand as the buyer does: the first
    /// type for SmartScale's fleet request and a group (`prioritized`), the cheapest for
    /// Karpenter's spot-first choice.
    #[test]
    fn the_spot_fallback_buys_on_demand_as_the_buyer_does() {
        let types = vec!["t3.small".to_string(), "t3a.small".to_string()];
        let cases = [
            ("SmartScale's fleet request", Buying::OnDemand, "t3.small"),
            (
                "a mixed-instances group",
                Buying::Mix(Box::new(Config {
                    worker_instance_types: types.clone(),
                    ..Config::default()
                })),
                "t3.small",
            ),
            (
                "Karpenter's spot-first choice",
                Buying::SpotFirst(types.clone()),
                "t3a.small",
            ),
        ];
        for (name, buying, want) in cases {
            let mut cl = cluster(0);
            cl.market = Market::for_region("us-east-1");
            for t in &types {
                cl.market.ice.push(crate::market::Ice {
                    instance_type: t.clone(),
                    start: 0,
                    end: 100,
                    reclaim: 0.0,
                });
            }
            cl.buying = buying;
            let i = cl.launch_as(10, true, CapacityType::Spot, &types, None);
            let n = &cl.nodes[i];
            assert_eq!(
                (n.capacity, n.instance_type.as_str()),
                (CapacityType::OnDemand, want),
                "case {name}"
            );
            assert_eq!(cl.spot.fallbacks, 1, "case {name}");
        }
    }

    /// An Auto Scaling group replaces a worker reclaimed at the end of its warning as it launches
    /// any worker: on-demand while the group is under its on-demand base (CA's removals may
    /// have left it there), Spot from another pool once the base is kept.
    #[test]
    fn a_group_replaces_a_reclaimed_spot_worker_as_it_launches() {
        struct Case {
            name: &'static str,
            /// On-demand workers alive beside the Spot one.
            on_demand: u32,
            want: (CapacityType, &'static str),
        }
        let cases = [
            Case {
                name: "under the base: the replacement restores it",
                on_demand: 0,
                want: (CapacityType::OnDemand, "t3.small"),
            },
            Case {
                name: "at the base: Spot from the other pool",
                on_demand: 1,
                want: (CapacityType::Spot, "t3a.small"),
            },
        ];
        for c in cases {
            let mut cl = cluster(c.on_demand);
            cl.market = Market::for_region("us-east-1");
            cl.market.interruption_rate_pct = Some(0.0);
            cl.reaction = Reaction {
                replace_at_warning: false,
                replace_at_termination: true,
                ..Reaction::default()
            };
            let types = vec!["t3.small".to_string(), "t3a.small".to_string()];
            cl.buying = Buying::Mix(Box::new(Config {
                worker_instance_types: types.clone(),
                on_demand_base_capacity: 1,
                on_demand_percentage_above_base_pct: 0.0,
                ..Config::default()
            }));
            let spot = cl.launch_as(0, true, CapacityType::Spot, &types[..1], None);
            cl.advance(90);
            cl.nodes[spot].warning_due = Some(1000);
            step(&mut cl, 90, 1200);
            assert!(!cl.nodes[spot].alive(), "case {}", c.name);
            assert_eq!(cl.spot.replacements, 1, "case {}", c.name);
            let r = cl.nodes.last().unwrap();
            assert_eq!(
                (r.capacity, r.instance_type.as_str()),
                c.want,
                "case {}",
                c.name
            );
        }
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
