//! The price table (`functions/engine/prices.json`): per region and instance type, the on-demand
//! and a recent Spot hourly price and the Spot Instance Advisor interruption band; per instance
//! type, its size. The file names its sources and the date they were recorded; see
//! docs/COST_ANALYSIS.md.

use super::CapacityType;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// `prices.json`, embedded.
pub const PRICES_JSON: &str = include_str!("../../../prices.json");

/// One instance type's prices in one region.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct Offer {
    /// On-demand price, USD per hour.
    pub on_demand: f64,
    /// A recent Spot price, USD per hour.
    pub spot: f64,
    /// The Spot Instance Advisor's frequency-of-interruption band (`<5%`, `5-10%`, `10-15%`,
    /// `15-20%`, `>20%`).
    pub interruption_band: Band,
}

impl Offer {
    /// The hourly price of `capacity`.
    pub fn price(&self, capacity: CapacityType) -> f64 {
        match capacity {
            CapacityType::OnDemand => self.on_demand,
            CapacityType::Spot => self.spot,
        }
    }
}

/// A Spot Instance Advisor frequency-of-interruption band: the share of a pool's Spot instances
/// interrupted over the trailing month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Band {
    /// `<5%`.
    #[serde(rename = "<5%")]
    Under5,
    /// `5-10%`.
    #[serde(rename = "5-10%")]
    From5To10,
    /// `10-15%`.
    #[serde(rename = "10-15%")]
    From10To15,
    /// `15-20%`.
    #[serde(rename = "15-20%")]
    From15To20,
    /// `>20%`.
    #[serde(rename = ">20%")]
    Over20,
}

impl Band {
    /// The band's upper edge as a monthly share of instances interrupted, percent (`>20%` reads
    /// as 25): the pessimistic end, which the simulator uses as its default rate.
    pub fn monthly_pct(self) -> f64 {
        match self {
            Band::Under5 => 5.0,
            Band::From5To10 => 10.0,
            Band::From10To15 => 15.0,
            Band::From15To20 => 20.0,
            Band::Over20 => 25.0,
        }
    }
}

/// An instance type's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Size {
    /// vCPUs.
    pub vcpu: u32,
    /// Memory, MiB.
    pub memory_mib: u64,
}

/// The whole table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PriceTable {
    /// Where the prices come from, and when they were recorded.
    pub source: BTreeMap<String, String>,
    /// Size of each instance type.
    pub instance_types: BTreeMap<String, Size>,
    /// Region → instance type → prices.
    pub regions: BTreeMap<String, BTreeMap<String, Offer>>,
}

impl PriceTable {
    /// The embedded `prices.json`.
    pub fn shipped() -> &'static PriceTable {
        static TABLE: OnceLock<PriceTable> = OnceLock::new();
        TABLE.get_or_init(|| {
            serde_json::from_str(PRICES_JSON).expect("prices.json matches PriceTable")
        })
    }

    /// The prices of `instance_type` in `region`, if the table has them.
    pub fn offer(&self, region: &str, instance_type: &str) -> Option<Offer> {
        self.regions.get(region)?.get(instance_type).copied()
    }

    /// The size of `instance_type`, if the table has it.
    pub fn size(&self, instance_type: &str) -> Option<Size> {
        self.instance_types.get(instance_type).copied()
    }
}

/// The shipped table's hourly price of one `instance_type` worker of `capacity` in `region`, USD;
/// `None` when the table lacks the region or the type.
pub fn hourly_price(region: &str, instance_type: &str, capacity: CapacityType) -> Option<f64> {
    PriceTable::shipped()
        .offer(region, instance_type)
        .map(|o| o.price(capacity))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_table_is_complete_and_spot_is_cheaper() {
        let t = PriceTable::shipped();
        assert!(t.source.contains_key("recorded"));
        for (region, offers) in &t.regions {
            for (ty, o) in offers {
                assert!(t.size(ty).is_some(), "{region} {ty}: no size");
                assert!(
                    0.0 < o.spot && o.spot < o.on_demand,
                    "{region} {ty}: spot {} on-demand {}",
                    o.spot,
                    o.on_demand
                );
            }
        }
    }

    #[test]
    fn hourly_prices() {
        struct Case {
            name: &'static str,
            region: &'static str,
            ty: &'static str,
            capacity: CapacityType,
            want: Option<f64>,
        }
        let cases = [
            Case {
                name: "on-demand t3.small in us-east-1",
                region: "us-east-1",
                ty: "t3.small",
                capacity: CapacityType::OnDemand,
                want: Some(0.0208),
            },
            Case {
                name: "spot t3a.small in ap-south-1",
                region: "ap-south-1",
                ty: "t3a.small",
                capacity: CapacityType::Spot,
                want: Some(0.0073),
            },
            Case {
                name: "unknown region",
                region: "mars-1",
                ty: "t3.small",
                capacity: CapacityType::OnDemand,
                want: None,
            },
            Case {
                name: "unknown type",
                region: "us-east-1",
                ty: "m7.huge",
                capacity: CapacityType::Spot,
                want: None,
            },
        ];
        for c in cases {
            assert_eq!(
                hourly_price(c.region, c.ty, c.capacity),
                c.want,
                "case {}",
                c.name
            );
        }
        assert_eq!(Band::Under5.monthly_pct(), 5.0);
    }
}
