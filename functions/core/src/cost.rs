//! What the fleet costs now, as the cost EMF metric reports it each tick: the hourly cost by
//! capacity type and instance type, the savings against a fixed baseline (`BASELINE_NODES`
//! on-demand workers of the first configured type) and the Spot share. Pure: the prices come in
//! through a lookup, so the price table has one owner (the engine's, see `docs/METRICS.md`,
//! "Cost").

use crate::seams::{Lifecycle, ManagedInstance};
use crate::telemetry::{emf, Unit};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::BTreeMap;

/// The hourly price of one instance of a type bought a way, or `None` when the table has none.
pub type PriceLookup<'a> = &'a dyn Fn(&str, Lifecycle) -> Option<f64>;

/// INTERIM, replaced at merge by the engine's `hourly_price(region, type, capacity_type)` over
/// `functions/engine/prices.json`: a lookup into `table`, `(type, lifecycle) -> USD per hour`.
pub fn interim_price(
    table: &BTreeMap<(String, Lifecycle), f64>,
    t: &str,
    l: Lifecycle,
) -> Option<f64> {
    table.get(&(t.to_string(), l)).copied()
}

/// The fleet's cost at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetCost {
    /// USD per hour by `(lifecycle, instance type)`, for the running and pending workers whose
    /// price is known.
    pub hourly: BTreeMap<(Lifecycle, String), f64>,
    /// Workers whose price the table lacks (not in `hourly`; named so a gap is visible).
    pub unpriced: Vec<String>,
    /// USD per hour of the baseline: `BASELINE_NODES` on-demand workers of the baseline type.
    pub baseline_hourly: f64,
    /// Spot workers over all running and pending workers, 0..1 (0 without workers).
    pub spot_share: f64,
}

impl FleetCost {
    /// The fleet's USD per hour.
    pub fn total(&self) -> f64 {
        self.hourly.values().sum()
    }

    /// Savings against the baseline in percent (negative when the fleet costs more); 0 without a
    /// baseline.
    pub fn savings_percent(&self) -> f64 {
        if self.baseline_hourly <= 0.0 {
            0.0
        } else {
            (1.0 - self.total() / self.baseline_hourly) * 100.0
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
    let mut hourly = BTreeMap::new();
    let mut unpriced = Vec::new();
    for i in &live {
        match price(&i.instance_type, i.lifecycle) {
            Some(p) => {
                *hourly
                    .entry((i.lifecycle, i.instance_type.clone()))
                    .or_insert(0.0) += p
            }
            None => unpriced.push(i.instance_id.clone()),
        }
    }
    let spot = live
        .iter()
        .filter(|i| i.lifecycle == Lifecycle::Spot)
        .count();
    FleetCost {
        hourly,
        unpriced,
        baseline_hourly: f64::from(baseline_nodes)
            * price(baseline_type, Lifecycle::OnDemand).unwrap_or(0.0),
        spot_share: if live.is_empty() {
            0.0
        } else {
            spot as f64 / live.len() as f64
        },
    }
}

/// The cost EMF lines: one `HourlyCost` per capacity type and instance type (dimensions
/// `CapacityType` = `spot`/`on-demand` and `InstanceType`), and one line with the fleet's
/// `HourlyCost`, `BaselineHourlyCost`, `SavingsVsBaseline` (percent) and `SpotShare` (percent).
pub fn cost_metrics(cluster_id: &str, cost: &FleetCost, now: DateTime<Utc>) -> Vec<Value> {
    let mut out: Vec<Value> = cost
        .hourly
        .iter()
        .map(|((l, t), usd)| {
            let capacity = match l {
                Lifecycle::Spot => "spot",
                Lifecycle::OnDemand => "on-demand",
            };
            emf(
                cluster_id,
                &[("CapacityType", capacity), ("InstanceType", t)],
                &[("HourlyCost", Unit::None, *usd)],
                now,
            )
        })
        .collect();
    out.push(emf(
        cluster_id,
        &[],
        &[
            ("HourlyCost", Unit::None, cost.total()),
            ("BaselineHourlyCost", Unit::None, cost.baseline_hourly),
            ("SavingsVsBaseline", Unit::Percent, cost.savings_percent()),
            ("SpotShare", Unit::Percent, cost.spot_share * 100.0),
        ],
        now,
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::testkit::{instance, t0};

    fn table() -> BTreeMap<(String, Lifecycle), f64> {
        BTreeMap::from([
            (("t3.small".to_string(), Lifecycle::OnDemand), 0.0208),
            (("t3.small".to_string(), Lifecycle::Spot), 0.0070),
            (("t3a.small".to_string(), Lifecycle::Spot), 0.0066),
        ])
    }

    fn worker(id: &str, t: &str, l: Lifecycle, state: &str) -> ManagedInstance {
        ManagedInstance {
            instance_type: t.into(),
            lifecycle: l,
            state: state.into(),
            ..instance(id, None)
        }
    }

    struct Case {
        name: &'static str,
        fleet: Vec<ManagedInstance>,
        baseline_nodes: u32,
        want_total: f64,
        want_savings: f64,
        want_spot_share: f64,
        want_unpriced: usize,
    }

    #[test]
    fn cost_savings_and_spot_share() {
        use Lifecycle::{OnDemand, Spot};
        let cases = [
            Case {
                name: "five on-demand: the baseline itself",
                fleet: (0..5)
                    .map(|i| worker(&format!("i-{i}"), "t3.small", OnDemand, "running"))
                    .collect(),
                baseline_nodes: 5,
                want_total: 5.0 * 0.0208,
                want_savings: 0.0,
                want_spot_share: 0.0,
                want_unpriced: 0,
            },
            Case {
                name: "two on-demand and three Spot, one of them pending",
                fleet: vec![
                    worker("i-1", "t3.small", OnDemand, "running"),
                    worker("i-2", "t3.small", OnDemand, "running"),
                    worker("i-3", "t3.small", Spot, "running"),
                    worker("i-4", "t3a.small", Spot, "running"),
                    worker("i-5", "t3a.small", Spot, "pending"),
                ],
                baseline_nodes: 5,
                want_total: 2.0 * 0.0208 + 0.0070 + 2.0 * 0.0066,
                want_savings: (1.0 - (2.0 * 0.0208 + 0.0070 + 2.0 * 0.0066) / (5.0 * 0.0208))
                    * 100.0,
                want_spot_share: 0.6,
                want_unpriced: 0,
            },
            Case {
                name: "terminated workers cost nothing; an unpriced one is named",
                fleet: vec![
                    worker("i-1", "t3.small", OnDemand, "shutting-down"),
                    worker("i-2", "t3a.small", OnDemand, "running"),
                ],
                baseline_nodes: 5,
                want_total: 0.0,
                want_savings: 100.0,
                want_spot_share: 0.0,
                want_unpriced: 1,
            },
            Case {
                name: "no baseline: no savings figure",
                fleet: vec![],
                baseline_nodes: 0,
                want_total: 0.0,
                want_savings: 0.0,
                want_spot_share: 0.0,
                want_unpriced: 0,
            },
        ];
        let t = table();
        let price = |ty: &str, l: Lifecycle| interim_price(&t, ty, l);
        for c in cases {
            let got = fleet_cost(&c.fleet, &price, c.baseline_nodes, "t3.small");
            assert!(
                (got.total() - c.want_total).abs() < 1e-9,
                "case {}: {got:?}",
                c.name
            );
            assert!(
                (got.savings_percent() - c.want_savings).abs() < 1e-9,
                "case {}: {}",
                c.name,
                got.savings_percent()
            );
            assert!(
                (got.spot_share - c.want_spot_share).abs() < 1e-9,
                "case {}",
                c.name
            );
            assert_eq!(got.unpriced.len(), c.want_unpriced, "case {}", c.name);
        }
    }

    #[test]
    fn the_cost_lines_carry_their_dimensions() {
        let t = table();
        let price = |ty: &str, l: Lifecycle| interim_price(&t, ty, l);
        let fleet = vec![
            worker("i-1", "t3.small", Lifecycle::OnDemand, "running"),
            worker("i-2", "t3a.small", Lifecycle::Spot, "running"),
        ];
        let lines = cost_metrics("c1", &fleet_cost(&fleet, &price, 5, "t3.small"), t0());
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["CapacityType"], "spot");
        assert_eq!(lines[0]["InstanceType"], "t3a.small");
        assert_eq!(lines[0]["HourlyCost"], 0.0066);
        assert_eq!(lines[1]["CapacityType"], "on-demand");
        assert_eq!(lines[1]["InstanceType"], "t3.small");
        assert_eq!(
            lines[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0],
            serde_json::json!(["ClusterId", "CapacityType", "InstanceType"])
        );
        assert_eq!(lines[2]["SpotShare"], 50.0);
        let names: Vec<&str> = lines[2]["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "HourlyCost",
                "BaselineHourlyCost",
                "SavingsVsBaseline",
                "SpotShare"
            ]
        );
    }
}
