//! One function per section of a scenario file: each reads its keys with a [`Reader`], checks
//! what belongs to that section alone, and returns its settings (defaults for absent keys).

use super::reader::{line_of, Entries, Reader};
use super::{CaSettings, Interpolation, KarpenterSettings, Pricing, Simulation};
use crate::cluster::NodeShape;
use crate::market::{Ice, Market};
use crate::workload::Workload;
use smartscale_engine::engine::capacity::{Band, Offer};
use smartscale_engine::model::Resources;
use smartscale_engine::{Error as CoreError, Policy as Config};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use toml::Value;

/// What `[scenario]` says.
pub(crate) struct ScenarioSection {
    pub name: String,
    pub description: String,
    pub trace: Option<String>,
    pub start: Option<String>,
    pub interpolation: Interpolation,
}

/// `[scenario]`: name, description, trace, start, interpolation.
pub(crate) fn scenario(r: &mut Reader<'_>, s: Entries, line: usize) -> ScenarioSection {
    let name = r.string(&s, "name", "scenario");
    let description = r.string(&s, "description", "");
    let trace = r.opt_string(&s, "trace");
    let start = r.opt_string(&s, "start");
    let interpolation = match r.string(&s, "interpolation", "linear").as_str() {
        "linear" => Interpolation::Linear,
        "step" => Interpolation::Step,
        other => {
            let at = r.line_of_key(&s, "interpolation", line);
            r.bad(at, format!("interpolation `{other}` is not linear or step"));
            Interpolation::Linear
        }
    };
    r.finish(s, "scenario");
    ScenarioSection {
        name,
        description,
        trace,
        start,
        interpolation,
    }
}

/// `[simulation]`: the clock and its intervals, each longer than 0 and a multiple of the tick.
pub(crate) fn simulation(r: &mut Reader<'_>, m: Entries) -> Simulation {
    let d = Simulation::default();
    let simulation = Simulation {
        tick_secs: r.duration(&m, "tick", d.tick_secs),
        metrics_interval_secs: r.duration(&m, "metrics_interval", d.metrics_interval_secs),
        cpu_rate_window_secs: r.duration(&m, "cpu_rate_window", d.cpu_rate_window_secs),
        evaluation_interval_secs: r.duration(&m, "evaluation_interval", d.evaluation_interval_secs),
        drain_poll_secs: r.duration(&m, "drain_poll_interval", d.drain_poll_secs),
        overload_ratio: r.number(&m, "overload_ratio", d.overload_ratio),
        warm_up_secs: r.duration(&m, "warm_up", d.warm_up_secs),
    };
    let tick = simulation.tick_secs;
    for (key, v) in [
        ("tick", simulation.tick_secs),
        ("metrics_interval", simulation.metrics_interval_secs),
        ("cpu_rate_window", simulation.cpu_rate_window_secs),
        ("evaluation_interval", simulation.evaluation_interval_secs),
        ("drain_poll_interval", simulation.drain_poll_secs),
    ] {
        let line = r.line_of_key(&m, key, 1);
        if v == 0 {
            r.bad(line, format!("{key} must be longer than 0s"));
        } else if tick > 0 && !v.is_multiple_of(tick) {
            r.bad(
                line,
                format!("{key} ({v}s) must be a multiple of tick ({tick}s)"),
            );
        }
    }
    r.finish(m, "simulation");
    simulation
}

/// `[cluster]`: the worker shape and the workers at the start (count, managed or not).
pub(crate) fn cluster(r: &mut Reader<'_>, c: Entries) -> (NodeShape, u32, bool) {
    let dn = NodeShape::default();
    let node = NodeShape {
        instance_type: r.string(&c, "instance_type", &dn.instance_type),
        capacity: Resources {
            cpu_millis: r.cpu(&c, "node_cpu", dn.capacity.cpu_millis),
            memory_bytes: r.memory(&c, "node_memory", dn.capacity.memory_bytes),
        },
        system_reserved: Resources {
            cpu_millis: r.cpu(&c, "system_reserved_cpu", dn.system_reserved.cpu_millis),
            memory_bytes: r.memory(
                &c,
                "system_reserved_memory",
                dn.system_reserved.memory_bytes,
            ),
        },
        daemonset: Resources {
            cpu_millis: r.cpu(&c, "daemonset_cpu", dn.daemonset.cpu_millis),
            memory_bytes: r.memory(&c, "daemonset_memory", dn.daemonset.memory_bytes),
        },
        boot_delay_secs: r.duration(&c, "boot_delay", dn.boot_delay_secs),
        zones: r.string_list(&c, "zones", &dn.zones),
    };
    let initial_nodes = r.count(&c, "initial_nodes", 5);
    let managed = r.boolean(&c, "initial_nodes_managed", true);
    r.finish(c, "cluster");
    (node, initial_nodes, managed)
}

/// `[workload]`: the Deployment, its HPA, requests, usage and budget; a pod must fit on an
/// empty `node`.
pub(crate) fn workload(r: &mut Reader<'_>, w: Entries, line: usize, node: &NodeShape) -> Workload {
    let dw = Workload::default();
    let workload = Workload {
        name: r.string(&w, "name", &dw.name),
        namespace: r.string(&w, "namespace", &dw.namespace),
        rps_per_replica: r.number(&w, "rps_per_replica", dw.rps_per_replica),
        min_replicas: r.count(&w, "min_replicas", dw.min_replicas),
        max_replicas: r.count(&w, "max_replicas", dw.max_replicas),
        scale_down_stabilization_secs: r.duration(
            &w,
            "scale_down_stabilization",
            dw.scale_down_stabilization_secs,
        ),
        requests: Resources {
            cpu_millis: r.cpu(&w, "cpu_request", dw.requests.cpu_millis),
            memory_bytes: r.memory(&w, "memory_request", dw.requests.memory_bytes),
        },
        cpu_base_millis: r.cpu(&w, "cpu_base", dw.cpu_base_millis as u64) as f64,
        cpu_millis_per_rps: r.number(&w, "cpu_per_rps", dw.cpu_millis_per_rps),
        memory_base_bytes: r.memory(&w, "memory_base", dw.memory_base_bytes),
        memory_bytes_per_rps: r.memory(&w, "memory_per_rps", dw.memory_bytes_per_rps as u64) as f64,
        termination_grace_secs: r.duration(&w, "termination_grace", dw.termination_grace_secs),
        pdb_max_unavailable: match r.count(
            &w,
            "pdb_max_unavailable",
            dw.pdb_max_unavailable.unwrap_or(0),
        ) {
            0 => None,
            n => Some(n),
        },
    };
    for (key, problem) in workload.problems() {
        let at = r.line_of_key(&w, key, line);
        r.bad(at, format!("{key}: {problem}"));
    }
    r.finish(w, "workload");
    if workload.problems().is_empty() && node.pods_per_node(workload.requests) == 0 {
        r.bad(
            line,
            "a pod's requests do not fit on an empty worker: lower cpu_request/memory_request or enlarge the node".into(),
        );
    }
    workload
}

/// `[pricing]`: the billing minimum, the region whose prices apply (default: the first zone's),
/// and overrides of the price table: `hourly_usd` (on-demand price of `[cluster] instance_type`),
/// `spot_discount` (every Spot price = on-demand × (1 − it)), `prices` (per type
/// `{ on_demand = …, spot = … }`). Returns the pricing and the market's prices; a type the
/// policies may launch without a price is a problem.
pub(crate) fn pricing(
    r: &mut Reader<'_>,
    p: Entries,
    line: usize,
    node: &NodeShape,
    launchable: &[String],
) -> (Pricing, Market) {
    let dp = Pricing::default();
    let minimum_billed_secs = r.duration(&p, "minimum_billed", dp.minimum_billed_secs);
    let default_region = Market::region_of(node.zones.first().map_or("us-east-1a", |z| z.as_str()));
    let region = r.string(&p, "region", &default_region);
    let mut market = Market::for_region(&region);
    if let Some((at, v)) = r.take(&p, "prices") {
        match v {
            Value::Table(t) => {
                for (ty, prices) in t {
                    let get = |k: &str| {
                        prices
                            .get(k)
                            .and_then(|x| x.as_float().or(x.as_integer().map(|i| i as f64)))
                    };
                    let (Some(od), Some(spot)) = (get("on_demand"), get("spot")) else {
                        r.bad(
                            at,
                            format!("prices.{ty}: needs on_demand and spot, USD per hour"),
                        );
                        continue;
                    };
                    let band = market
                        .offers
                        .get(&ty)
                        .map_or(Band::Under5, |o| o.interruption_band);
                    market.offers.insert(
                        ty,
                        Offer {
                            on_demand: od,
                            spot,
                            interruption_band: band,
                        },
                    );
                }
            }
            other => r.bad(
                at,
                format!(
                    "prices: a {} is not a table of instance types",
                    other.type_str()
                ),
            ),
        }
    }
    let hourly = r.number(&p, "hourly_usd", f64::NAN);
    if !hourly.is_nan() {
        let o = market
            .offers
            .entry(node.instance_type.clone())
            .or_insert(Offer {
                on_demand: hourly,
                spot: hourly,
                interruption_band: Band::Under5,
            });
        o.on_demand = hourly;
    }
    let discount = r.number(&p, "spot_discount", f64::NAN);
    if !discount.is_nan() {
        if discount >= 100.0 {
            let at = r.line_of_key(&p, "spot_discount", line);
            r.bad(
                at,
                format!("spot_discount: {discount} must be below 100 (percent)"),
            );
        }
        for o in market.offers.values_mut() {
            o.spot = o.on_demand * (1.0 - discount / 100.0);
        }
    }
    r.finish(p, "pricing");
    for ty in launchable {
        if !market.offers.contains_key(ty) {
            r.bad(
                line,
                format!("no price for {ty} in {region}: add it to [pricing] prices or pick a region of functions/engine/prices.json"),
            );
        }
    }
    let hourly_usd = market
        .offers
        .get(&node.instance_type)
        .map_or(dp.hourly_usd, |o| o.on_demand);
    (
        Pricing {
            hourly_usd,
            minimum_billed_secs,
        },
        market,
    )
}

/// `[spot]`: `interruption_rate` (percent of a pool's Spot workers interrupted per month;
/// default: the pool's Spot Instance Advisor band, upper edge), `warning` (2m), `seed`, and `ice`,
/// a list of `{ instance_type, start, duration, reclaim }` periods without Spot capacity.
pub(crate) fn spot(r: &mut Reader<'_>, s: Entries, line: usize, market: &mut Market) {
    if let Some((at, v)) = r.take(&s, "interruption_rate") {
        let raw = match v {
            Value::String(x) => x,
            Value::Integer(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            other => other.type_str().to_owned(),
        };
        match smartscale_engine::config::units::parse_percent(&raw) {
            Ok(p) => market.interruption_rate_pct = Some(p),
            Err(e) => r.bad(at, format!("interruption_rate: {e}")),
        }
    }
    market.warning_secs = r.duration(&s, "warning", market.warning_secs as u64) as i64;
    market.seed = r.count(&s, "seed", market.seed as u32) as u64;
    if let Some((at, v)) = r.take(&s, "ice") {
        let Value::Array(items) = v else {
            r.bad(
                at,
                "ice: must be a list of { instance_type, start, duration, reclaim }".into(),
            );
            r.finish(s, "spot");
            return;
        };
        for item in items {
            let text = |k: &str| item.get(k).and_then(|x| x.as_str()).map(str::to_owned);
            let secs = |k: &str| {
                text(k).and_then(|t| smartscale_engine::config::units::parse_duration_secs(&t).ok())
            };
            let reclaim = item
                .get("reclaim")
                .and_then(|x| x.as_float().or(x.as_integer().map(|i| i as f64)))
                .unwrap_or(0.0);
            match (text("instance_type"), secs("start"), secs("duration")) {
                (Some(instance_type), Some(start), Some(duration)) if (0.0..=1.0).contains(&reclaim) => {
                    market.ice.push(Ice {
                        instance_type,
                        start: start as i64,
                        end: (start + duration) as i64,
                        reclaim,
                    })
                }
                _ => r.bad(
                    at,
                    "ice: each period needs instance_type, start and duration (\"59h\", \"3h\") and a reclaim share in 0..1".into(),
                ),
            }
        }
    }
    let _ = line;
    r.finish(s, "spot");
}

/// `[baseline]`: the fixed pool's workers.
pub(crate) fn baseline(r: &mut Reader<'_>, b: Entries) -> u32 {
    let nodes = r.count(&b, "nodes", 5);
    r.finish(b, "baseline");
    nodes
}

/// `[policy]`: SmartScale's settings by their environment variable names, validated by
/// `Config::from_lookup`; returns the configuration and the overrides as written.
pub(crate) fn policy(
    r: &mut Reader<'_>,
    pol: Entries,
    line: usize,
) -> (Config, BTreeMap<String, String>) {
    let mut overrides = BTreeMap::new();
    let mut lines = BTreeMap::new();
    for (k, v) in &pol {
        let at = line_of(r.text, k.span().start);
        let value = match v.get_ref() {
            Value::String(s) => s.clone(),
            Value::Integer(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Boolean(b) => b.to_string(),
            other => {
                r.bad(
                    at,
                    format!(
                        "{}: a {} is not a setting: write a number, string or boolean",
                        k.get_ref(),
                        other.type_str()
                    ),
                );
                continue;
            }
        };
        overrides.insert(k.get_ref().clone(), value);
        lines.insert(k.get_ref().clone(), at);
    }
    let asked = RefCell::new(BTreeSet::new());
    let config = Config::from_lookup(|name| {
        asked.borrow_mut().insert(name.to_owned());
        overrides.get(name).cloned()
    });
    let asked = asked.into_inner();
    for (k, at) in &lines {
        if !asked.contains(k) {
            r.bad(
                *at,
                format!(
                    "unknown policy setting `{k}`: use SmartScale's environment variable names (MIN_NODES, SCALE_UP_THRESHOLD_CPU, COOLDOWN_SCALE_UP, …)"
                ),
            );
        }
    }
    let config = match config {
        Ok(c) => c,
        Err(CoreError::Config { problems }) => {
            for pr in problems {
                let at = lines.get(&pr.variable).copied().unwrap_or(line);
                r.bad(at, format!("[policy] {pr}"));
            }
            Config::default()
        }
        Err(other) => {
            r.bad(line, format!("[policy] {other}"));
            Config::default()
        }
    };
    (config, overrides)
}

/// `[cluster_autoscaler]`: the model's flags (bounds default to the policy's); the loop period
/// must be a multiple of the `tick`.
pub(crate) fn cluster_autoscaler(
    r: &mut Reader<'_>,
    a: Entries,
    line: usize,
    policy: &Config,
    tick: u64,
) -> CaSettings {
    let s = CaSettings {
        scan_interval_secs: r.duration(&a, "scan_interval", 10),
        scale_down_utilization_threshold: r.number(&a, "scale_down_utilization_threshold", 0.5),
        scale_down_unneeded_secs: r.duration(&a, "scale_down_unneeded_time", 600),
        scale_down_delay_after_add_secs: r.duration(&a, "scale_down_delay_after_add", 600),
        scale_down_delay_after_delete_secs: r.duration(&a, "scale_down_delay_after_delete", 0),
        scale_down_delay_after_failure_secs: r.duration(&a, "scale_down_delay_after_failure", 180),
        max_pod_eviction_secs: r.duration(&a, "max_pod_eviction_time", 120),
        max_node_provision_secs: r.duration(&a, "max_node_provision_time", 900),
        unremovable_recheck_secs: r.duration(&a, "unremovable_node_recheck_timeout", 300),
        max_empty_bulk_delete: r.count(&a, "max_empty_bulk_delete", 10),
        ok_total_unready_count: r.count(&a, "ok_total_unready_count", 3),
        max_total_unready_pct: r.number(&a, "max_total_unready_percentage", 45.0),
        initial_backoff_secs: r.duration(&a, "initial_node_group_backoff", 300),
        max_backoff_secs: r.duration(&a, "max_node_group_backoff", 1800),
        backoff_reset_secs: r.duration(&a, "node_group_backoff_reset", 10_800),
        min_nodes: r.count(&a, "min_nodes", policy.min_nodes),
        max_nodes: r.count(&a, "max_nodes", policy.max_nodes),
    };
    let scan_line = r.line_of_key(&a, "scan_interval", line);
    r.finish(a, "cluster_autoscaler");
    let model = PeerLoop {
        section: "cluster_autoscaler",
        nodes: (s.min_nodes, s.max_nodes),
        interval: ("scan_interval", scan_line, s.scan_interval_secs),
        tick: Some(tick),
    };
    model.check(r, line);
    s
}

/// What a peer model's section must satisfy once read: its node bounds in order, and its loop's
/// interval longer than 0s and (with a `tick`) a multiple of the simulation tick.
struct PeerLoop {
    section: &'static str,
    /// `min_nodes`, `max_nodes`.
    nodes: (u32, u32),
    /// The interval's key, its line and its value in seconds.
    interval: (&'static str, usize, u64),
    tick: Option<u64>,
}

impl PeerLoop {
    /// Reports each broken rule to `r` (`line`: the section header's).
    fn check(&self, r: &mut Reader<'_>, line: usize) {
        let (key, key_line, secs) = self.interval;
        if self.nodes.0 > self.nodes.1 {
            r.bad(
                line,
                format!("[{}] min_nodes is above max_nodes", self.section),
            );
        }
        match self.tick {
            _ if secs == 0 => r.bad(key_line, format!("{key} must be longer than 0s")),
            Some(tick) if tick > 0 && !secs.is_multiple_of(tick) => r.bad(
                key_line,
                format!("{key} must be a multiple of tick ({tick}s)"),
            ),
            _ => {}
        }
    }
}

/// `[karpenter]`: the model's settings (the limit defaults to the policy's `MAX_NODES`).
pub(crate) fn karpenter(
    r: &mut Reader<'_>,
    k: Entries,
    line: usize,
    policy: &Config,
) -> KarpenterSettings {
    let s = KarpenterSettings {
        batch_idle_secs: r.duration(&k, "batch_idle_duration", 1),
        batch_max_secs: r.duration(&k, "batch_max_duration", 10),
        disruption_poll_secs: r.duration(&k, "disruption_poll_interval", 10),
        consolidate_after_secs: r.duration(&k, "consolidate_after", 0),
        budget_nodes_pct: r.number(&k, "budget_nodes_percent", 10.0),
        validation_secs: r.duration(&k, "validation_delay", 15),
        max_multi_node_candidates: 100,
        min_nodes: r.count(&k, "min_nodes", 0),
        max_nodes: r.count(&k, "max_nodes", policy.max_nodes),
    };
    let poll_line = r.line_of_key(&k, "disruption_poll_interval", line);
    r.finish(k, "karpenter");
    let model = PeerLoop {
        section: "karpenter",
        nodes: (s.min_nodes, s.max_nodes),
        interval: (
            "disruption_poll_interval",
            poll_line,
            s.disruption_poll_secs,
        ),
        tick: None,
    };
    model.check(r, line);
    s
}
