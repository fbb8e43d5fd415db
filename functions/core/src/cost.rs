//! What the fleet costs now, as the cost EMF metric reports it each tick (docs/METRICS.md,
//! "Cost"): the hourly cost by capacity type and instance type, the savings against a fixed
//! baseline (`BASELINE_NODES` on-demand workers of the first `WORKER_INSTANCE_TYPES` type) and
//! the Spot share. Pure: the prices come in through a lookup, in production the engine's price
//! table ([`Config::hourly_price`] over `functions/engine/prices.json`), so prices have one owner.
//!
//! The metric and dimension names are those of `functions/core/cost-metrics.json`, which the CDK
//! cost dashboard reads; the tests below check the lines against that file.

use crate::config::Config;
use crate::model::CapacityType;
use crate::seams::ManagedInstance;
use crate::telemetry::{emf, Unit};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `cost-metrics.json`, embedded: the metric names shared with the CDK dashboards.
pub const COST_METRICS_JSON: &str = include_str!("../cost-metrics.json");

/// `HourlyCost`: USD per hour, of the fleet or of one capacity type (and instance type).
pub const HOURLY_COST: &str = "HourlyCost";
/// `BaselineHourlyCost`: USD per hour of the baseline fleet.
pub const BASELINE_HOURLY_COST: &str = "BaselineHourlyCost";
/// `SavingsVsBaseline`: percent saved against the baseline.
pub const SAVINGS_VS_BASELINE: &str = "SavingsVsBaseline";
/// `SpotShare`: percent of the workers that are Spot.
pub const SPOT_SHARE: &str = "SpotShare";
/// The dimension naming the purchase option (`on-demand`, `spot`: [`CapacityType::ec2_name`]).
pub const CAPACITY_TYPE_DIMENSION: &str = "CapacityType";
/// The dimension naming the instance type.
pub const INSTANCE_TYPE_DIMENSION: &str = "InstanceType";

/// The capacity types whose `HourlyCost` by `CapacityType` alone [`cost_metrics`] writes every
/// tick, 0 included.
pub const CAPACITY_TYPES: [CapacityType; 2] = [CapacityType::OnDemand, CapacityType::Spot];

/// The hourly price of one instance of a type bought a way, or `None` when the table has none.
pub type PriceLookup<'a> = &'a dyn Fn(&str, CapacityType) -> Option<f64>;

/// The workers of one capacity type and instance type, and what they cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TypeCost {
    /// Spot or on-demand.
    pub capacity_type: CapacityType,
    /// Instance type.
    pub instance_type: String,
    /// Running and pending workers.
    pub workers: u32,
    /// USD per hour of those workers.
    pub usd_per_hour: f64,
}

/// The fleet's cost at one moment, as Evaluate carries it in its output (`cost`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FleetCost {
    /// Cost by capacity type and instance type, for the running and pending workers whose price
    /// is known; ordered by capacity type (on-demand first), then type.
    pub by_type: Vec<TypeCost>,
    /// Workers whose price the table lacks (not in `by_type`; named so a gap is visible).
    pub unpriced: Vec<String>,
    /// USD per hour of the baseline: `BASELINE_NODES` on-demand workers of the baseline type.
    pub baseline_usd_per_hour: f64,
    /// Spot workers over all running and pending workers, 0..1 (0 without workers).
    pub spot_share: f64,
}

impl FleetCost {
    /// The fleet's USD per hour.
    pub fn total(&self) -> f64 {
        self.by_type.iter().map(|t| t.usd_per_hour).sum()
    }

    /// The USD per hour of the workers bought as `capacity`.
    pub fn of(&self, capacity: CapacityType) -> f64 {
        self.by_type
            .iter()
            .filter(|t| t.capacity_type == capacity)
            .map(|t| t.usd_per_hour)
            .sum()
    }

    /// Savings against the baseline in percent (negative when the fleet costs more); 0 without a
    /// baseline price.
    pub fn savings_percent(&self) -> f64 {
        if self.baseline_usd_per_hour <= 0.0 {
            0.0
        } else {
            (1.0 - self.total() / self.baseline_usd_per_hour) * 100.0
        }
    }
}

/// The cost of `instances` (those `pending` or `running`) at `price`, against `baseline_nodes`
/// on-demand workers of `baseline_type`.
pub fn fleet_cost(
    instances: &[ManagedInstance],
    price: PriceLookup,
    baseline_nodes: u32,
    baseline_type: &str,
) -> FleetCost {
    let live: Vec<&ManagedInstance> = instances
        .iter()
        .filter(|i| matches!(i.state.as_str(), "pending" | "running"))
        .collect();
    let mut by_type: Vec<TypeCost> = Vec::new();
    let mut unpriced = Vec::new();
    for i in &live {
        let Some(p) = price(&i.instance_type, i.capacity_type) else {
            unpriced.push(i.instance_id.clone());
            continue;
        };
        match by_type
            .iter_mut()
            .find(|t| t.capacity_type == i.capacity_type && t.instance_type == i.instance_type)
        {
            Some(t) => {
                t.workers += 1;
                t.usd_per_hour += p;
            }
            None => by_type.push(TypeCost {
                capacity_type: i.capacity_type,
                instance_type: i.instance_type.clone(),
                workers: 1,
                usd_per_hour: p,
            }),
        }
    }
    by_type.sort_by(|a, b| {
        (a.capacity_type, &a.instance_type).cmp(&(b.capacity_type, &b.instance_type))
    });
    let spot = live
        .iter()
        .filter(|i| i.capacity_type == CapacityType::Spot)
        .count();
    FleetCost {
        by_type,
        unpriced,
        baseline_usd_per_hour: f64::from(baseline_nodes)
            * price(baseline_type, CapacityType::OnDemand).unwrap_or(0.0),
        spot_share: if live.is_empty() {
            0.0
        } else {
            spot as f64 / live.len() as f64
        },
    }
}

/// [`fleet_cost`] at the configured region's prices, against the configured baseline.
pub fn of_fleet(instances: &[ManagedInstance], cfg: &Config) -> FleetCost {
    fleet_cost(
        instances,
        &|t, c| cfg.hourly_price(t, c),
        cfg.baseline_nodes,
        cfg.baseline_instance_type(),
    )
}

/// The cost EMF lines: one `HourlyCost` per capacity type and instance type present (dimensions
/// `CapacityType`, `InstanceType`); one `HourlyCost` per capacity type, both always, 0 when
/// there are none (dimension `CapacityType`, so a week's average is the week's hourly cost); and
/// one line with the fleet's `HourlyCost`, `BaselineHourlyCost`, `SavingsVsBaseline` (percent)
/// and `SpotShare` (percent).
pub fn cost_metrics(cluster_id: &str, cost: &FleetCost, now: DateTime<Utc>) -> Vec<Value> {
    let mut out: Vec<Value> = cost
        .by_type
        .iter()
        .map(|t| {
            emf(
                cluster_id,
                &[
                    (CAPACITY_TYPE_DIMENSION, t.capacity_type.ec2_name()),
                    (INSTANCE_TYPE_DIMENSION, &t.instance_type),
                ],
                &[(HOURLY_COST, Unit::None, t.usd_per_hour)],
                now,
            )
        })
        .collect();
    for capacity in CAPACITY_TYPES {
        out.push(emf(
            cluster_id,
            &[(CAPACITY_TYPE_DIMENSION, capacity.ec2_name())],
            &[(HOURLY_COST, Unit::None, cost.of(capacity))],
            now,
        ));
    }
    out.push(emf(
        cluster_id,
        &[],
        &[
            (HOURLY_COST, Unit::None, cost.total()),
            (BASELINE_HOURLY_COST, Unit::None, cost.baseline_usd_per_hour),
            (SAVINGS_VS_BASELINE, Unit::Percent, cost.savings_percent()),
            (SPOT_SHARE, Unit::Percent, cost.spot_share * 100.0),
        ],
        now,
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::testkit::{instance, t0};
    use smartscale_engine::engine::capacity::hourly_price;
    use CapacityType::{OnDemand, Spot};

    fn worker(id: &str, t: &str, c: CapacityType, state: &str) -> ManagedInstance {
        ManagedInstance {
            instance_type: t.into(),
            capacity_type: c,
            state: state.into(),
            ..instance(id, None)
        }
    }

    /// The shipped table's price in `region`.
    fn p(region: &str, t: &str, c: CapacityType) -> f64 {
        hourly_price(region, t, c).unwrap()
    }

    struct Case {
        name: &'static str,
        region: &'static str,
        fleet: Vec<ManagedInstance>,
        baseline_nodes: u32,
        want_total: f64,
        want_spot_usd: f64,
        want_baseline: f64,
        want_spot_share: f64,
        want_unpriced: usize,
    }

    #[test]
    fn cost_savings_and_spot_share_over_the_shipped_prices() {
        let us = "us-east-1";
        let mumbai = "ap-south-1";
        let cases = [
            Case {
                name: "five on-demand: the baseline itself",
                region: us,
                fleet: (0..5)
                    .map(|i| worker(&format!("i-{i}"), "t3.small", OnDemand, "running"))
                    .collect(),
                baseline_nodes: 5,
                want_total: 5.0 * p(us, "t3.small", OnDemand),
                want_spot_usd: 0.0,
                want_baseline: 5.0 * p(us, "t3.small", OnDemand),
                want_spot_share: 0.0,
                want_unpriced: 0,
            },
            Case {
                name: "the 60/40 mix in Mumbai: two on-demand, three Spot, one of them pending",
                region: mumbai,
                fleet: vec![
                    worker("i-1", "t3.small", OnDemand, "running"),
                    worker("i-2", "t3.small", OnDemand, "running"),
                    worker("i-3", "t3.small", Spot, "running"),
                    worker("i-4", "t3a.small", Spot, "running"),
                    worker("i-5", "t3a.small", Spot, "pending"),
                ],
                baseline_nodes: 5,
                want_total: 2.0 * p(mumbai, "t3.small", OnDemand)
                    + p(mumbai, "t3.small", Spot)
                    + 2.0 * p(mumbai, "t3a.small", Spot),
                want_spot_usd: p(mumbai, "t3.small", Spot) + 2.0 * p(mumbai, "t3a.small", Spot),
                want_baseline: 5.0 * p(mumbai, "t3.small", OnDemand),
                want_spot_share: 0.6,
                want_unpriced: 0,
            },
            Case {
                name: "a burst worker costs its own type's price",
                region: us,
                fleet: vec![
                    worker("i-1", "t3.small", OnDemand, "running"),
                    worker("i-2", "t3.xlarge", Spot, "running"),
                ],
                baseline_nodes: 5,
                want_total: p(us, "t3.small", OnDemand) + p(us, "t3.xlarge", Spot),
                want_spot_usd: p(us, "t3.xlarge", Spot),
                want_baseline: 5.0 * p(us, "t3.small", OnDemand),
                want_spot_share: 0.5,
                want_unpriced: 0,
            },
            Case {
                name: "stopping and terminated workers cost nothing; an unpriced one is named",
                region: us,
                fleet: vec![
                    worker("i-1", "t3.small", OnDemand, "shutting-down"),
                    worker("i-2", "t3.small", Spot, "terminated"),
                    worker("i-3", "m7g.medium", OnDemand, "running"),
                ],
                baseline_nodes: 5,
                want_total: 0.0,
                want_spot_usd: 0.0,
                want_baseline: 5.0 * p(us, "t3.small", OnDemand),
                want_spot_share: 0.0,
                want_unpriced: 1,
            },
            Case {
                name: "no baseline: no savings figure",
                region: us,
                fleet: vec![],
                baseline_nodes: 0,
                want_total: 0.0,
                want_spot_usd: 0.0,
                want_baseline: 0.0,
                want_spot_share: 0.0,
                want_unpriced: 0,
            },
        ];
        for c in cases {
            let price = |t: &str, k: CapacityType| hourly_price(c.region, t, k);
            let got = fleet_cost(&c.fleet, &price, c.baseline_nodes, "t3.small");
            let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
            assert!(close(got.total(), c.want_total), "case {}: {got:?}", c.name);
            assert!(close(got.of(Spot), c.want_spot_usd), "case {}", c.name);
            assert!(
                close(got.of(OnDemand) + got.of(Spot), got.total()),
                "case {}",
                c.name
            );
            assert!(
                close(got.baseline_usd_per_hour, c.want_baseline),
                "case {}",
                c.name
            );
            let want_savings = if c.want_baseline > 0.0 {
                (1.0 - c.want_total / c.want_baseline) * 100.0
            } else {
                0.0
            };
            assert!(
                close(got.savings_percent(), want_savings),
                "case {}: {}",
                c.name,
                got.savings_percent()
            );
            assert!(close(got.spot_share, c.want_spot_share), "case {}", c.name);
            assert_eq!(got.unpriced.len(), c.want_unpriced, "case {}", c.name);
        }
    }

    #[test]
    fn the_configuration_prices_the_fleet_in_its_region() {
        let cfg = Config::from_lookup(|k| {
            [
                ("AWS_REGION", "ap-south-1"),
                ("WORKER_INSTANCE_TYPES", "t3a.small,t3.small"),
                ("BASELINE_NODES", "4"),
            ]
            .iter()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| v.to_string())
        })
        .unwrap();
        let fleet = [worker("i-1", "t3.small", Spot, "running")];
        let got = of_fleet(&fleet, &cfg);
        assert_eq!(got.total(), p("ap-south-1", "t3.small", Spot));
        assert_eq!(
            got.baseline_usd_per_hour,
            4.0 * p("ap-south-1", "t3a.small", OnDemand),
            "the baseline is BASELINE_NODES of the first worker type"
        );
    }

    /// The metric name of each line (its only one, or all four of the fleet line) and its
    /// dimensions besides `ClusterId`.
    fn shape(line: &Value) -> (Vec<String>, Vec<String>) {
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        let names = directive["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap().to_string())
            .collect();
        let dims = directive["Dimensions"][0]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap().to_string())
            .filter(|d| d != "ClusterId")
            .collect();
        (names, dims)
    }

    #[test]
    fn the_cost_lines_carry_their_dimensions_and_values() {
        let us = "us-east-1";
        let price = |t: &str, k: CapacityType| hourly_price(us, t, k);
        let fleet = vec![
            worker("i-1", "t3.small", OnDemand, "running"),
            worker("i-2", "t3a.small", Spot, "running"),
        ];
        let lines = cost_metrics("c1", &fleet_cost(&fleet, &price, 5, "t3.small"), t0());
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[0]["CapacityType"], "on-demand");
        assert_eq!(lines[0]["InstanceType"], "t3.small");
        assert_eq!(lines[0]["HourlyCost"], p(us, "t3.small", OnDemand));
        assert_eq!(lines[1]["CapacityType"], "spot");
        assert_eq!(lines[1]["InstanceType"], "t3a.small");
        assert_eq!(
            shape(&lines[0]).1,
            [CAPACITY_TYPE_DIMENSION, INSTANCE_TYPE_DIMENSION]
        );
        assert_eq!(shape(&lines[2]).1, [CAPACITY_TYPE_DIMENSION]);
        assert_eq!(lines[2]["CapacityType"], "on-demand");
        assert_eq!(lines[3]["CapacityType"], "spot");
        assert_eq!(lines[3]["HourlyCost"], p(us, "t3a.small", Spot));
        assert_eq!(lines[4]["SpotShare"], 50.0);
        assert_eq!(
            shape(&lines[4]).0,
            [
                HOURLY_COST,
                BASELINE_HOURLY_COST,
                SAVINGS_VS_BASELINE,
                SPOT_SHARE
            ]
        );

        let on_demand_only =
            cost_metrics("c1", &fleet_cost(&fleet[..1], &price, 5, "t3.small"), t0());
        assert_eq!(on_demand_only.len(), 4);
        assert_eq!(on_demand_only[1]["CapacityType"], "on-demand");
        assert_eq!(on_demand_only[1]["HourlyCost"], p(us, "t3.small", OnDemand));
        assert_eq!(on_demand_only[2]["CapacityType"], "spot");
        assert_eq!(
            on_demand_only[2]["HourlyCost"], 0.0,
            "the Spot line is there at 0"
        );
    }

    #[test]
    fn the_names_are_those_of_cost_metrics_json() {
        let j: Value = serde_json::from_str(COST_METRICS_JSON).unwrap();
        assert_eq!(j["namespace"], crate::telemetry::NAMESPACE);
        assert_eq!(j["dimensions"]["cluster"], "ClusterId");
        assert_eq!(j["dimensions"]["capacityType"], CAPACITY_TYPE_DIMENSION);
        assert_eq!(j["dimensions"]["instanceType"], INSTANCE_TYPE_DIMENSION);
        assert_eq!(
            j["capacityTypes"],
            serde_json::json!([OnDemand.ec2_name(), Spot.ec2_name()])
        );
        let names: Vec<&str> = j["metrics"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_str().unwrap())
            .collect();
        let emitted: Vec<String> = cost_metrics("c1", &FleetCost::default(), t0())
            .iter()
            .flat_map(|l| shape(l).0)
            .collect();
        for n in &names {
            assert!(emitted.iter().any(|e| e == n), "{n} is never emitted");
        }
        for e in &emitted {
            assert!(
                names.contains(&e.as_str()),
                "{e} is not in cost-metrics.json"
            );
        }
    }
}
