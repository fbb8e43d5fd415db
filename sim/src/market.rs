//! What EC2 offers the simulated cluster: an hourly price per instance type and capacity type,
//! Spot pools that run out of capacity for a while (ICE periods, `InsufficientInstanceCapacity`),
//! and Spot interruptions as a seeded random process. Every policy of a run gets the same market.
//!
//! Interruptions: each Spot worker's time to its interruption warning is drawn at launch from an
//! exponential distribution whose rate makes `interruption_rate` of a pool's instances interrupted
//! per 30-day month (the Spot Instance Advisor's frequency-of-interruption measure; by default the
//! upper edge of the pool's band in the price table, `<5%` → 5 %). The draw depends only on the
//! seed and the worker's launch number, so two policies that launch their n-th worker as Spot see
//! the same fate for it. An ICE period may also reclaim the running Spot workers of its pool
//! (`reclaim`: the share of them, drawn the same way). The warning comes `warning` (2 minutes)
//! before the termination. See docs/SIMULATOR.md ("Spot and prices").

use smartscale_engine::engine::capacity::{CapacityType, Offer, PriceTable};
use std::collections::BTreeMap;

/// A time when one Spot pool (an instance type, in every zone) has no capacity.
#[derive(Debug, Clone, PartialEq)]
pub struct Ice {
    /// The pool's instance type.
    pub instance_type: String,
    /// Start, seconds since the start of the run.
    pub start: i64,
    /// End (exclusive), seconds since the start of the run.
    pub end: i64,
    /// Share (0..1) of the pool's running Spot workers interrupted when the period starts.
    pub reclaim: f64,
}

/// The offers of one run. Keys of `[pricing]` (prices) and `[spot]` (the rest).
#[derive(Debug, Clone, PartialEq)]
pub struct Market {
    /// The region whose prices apply (`[pricing] region`; default: the first zone's region).
    pub region: String,
    /// Prices and interruption bands per instance type: the price table's for the region, with
    /// the scenario's overrides.
    pub offers: BTreeMap<String, Offer>,
    /// Spot interruptions per instance per 30-day month, percent; `None`: each pool's band.
    pub interruption_rate_pct: Option<f64>,
    /// Seconds from the interruption warning to the termination (EC2: 120).
    pub warning_secs: i64,
    /// Seed of the interruption draws.
    pub seed: u64,
    /// Periods without Spot capacity.
    pub ice: Vec<Ice>,
}

/// A 30-day month, seconds.
const MONTH_SECS: f64 = 30.0 * 86_400.0;

impl Market {
    /// The shipped price table's offers for `region` (none when the table lacks the region), the
    /// default interruption rate, a 2-minute warning, seed 1 and no ICE period.
    pub fn for_region(region: &str) -> Market {
        let offers = PriceTable::shipped()
            .regions
            .get(region)
            .cloned()
            .unwrap_or_default();
        Market {
            region: region.to_owned(),
            offers,
            interruption_rate_pct: None,
            warning_secs: 120,
            seed: 1,
            ice: Vec::new(),
        }
    }

    /// The region of availability zone `zone` (`ap-south-1a` → `ap-south-1`).
    pub fn region_of(zone: &str) -> String {
        zone.trim_end_matches(|c: char| c.is_ascii_lowercase())
            .to_owned()
    }

    /// The hourly price of one `instance_type` worker of `capacity`, USD; 0 when unknown (the
    /// scenario reader refuses a launchable type without a price).
    pub fn price(&self, instance_type: &str, capacity: CapacityType) -> f64 {
        self.offers
            .get(instance_type)
            .map_or(0.0, |o| o.price(capacity))
    }

    /// True when `instance_type` Spot has capacity at `now`.
    pub fn spot_available(&self, instance_type: &str, now: i64) -> bool {
        !self
            .ice
            .iter()
            .any(|i| i.instance_type == instance_type && i.start <= now && now < i.end)
    }

    /// The pool EC2 Fleet would fill one worker of `capacity` from at `now`, among `types`
    /// (preference order) without `avoid`: for Spot the cheapest pool with capacity
    /// (price-capacity-optimized, the capacity half being the ICE periods), for on-demand the
    /// cheapest (lowest-price); ties go to the earlier type. `None`: no Spot capacity left in
    /// any of them (the launcher then falls back to on-demand).
    pub fn pool(
        &self,
        types: &[String],
        capacity: CapacityType,
        now: i64,
        avoid: Option<&str>,
    ) -> Option<String> {
        let open = |t: &&String| capacity == CapacityType::OnDemand || self.spot_available(t, now);
        let mut candidates: Vec<&String> = types.iter().filter(open).collect();
        if candidates.len() > 1 {
            candidates.retain(|t| Some(t.as_str()) != avoid);
        }
        candidates
            .into_iter()
            .enumerate()
            .min_by(|(i, a), (j, b)| {
                self.price(a, capacity)
                    .total_cmp(&self.price(b, capacity))
                    .then(i.cmp(j))
            })
            .map(|(_, t)| t.clone())
    }

    /// Monthly interruption rate of `instance_type`, percent.
    pub fn interruption_rate(&self, instance_type: &str) -> f64 {
        self.interruption_rate_pct.unwrap_or_else(|| {
            self.offers
                .get(instance_type)
                .map_or(5.0, |o| o.interruption_band.monthly_pct())
        })
    }

    /// Seconds from launch to the interruption warning of the Spot worker launched `n`-th as
    /// `instance_type`; `None` when the rate is 0.
    pub fn time_to_warning(&self, n: usize, instance_type: &str) -> Option<i64> {
        let share = (self.interruption_rate(instance_type) / 100.0).clamp(0.0, 0.999_999);
        if share <= 0.0 {
            return None;
        }
        let per_sec = -(1.0 - share).ln() / MONTH_SECS;
        let u = self.uniform(n as u64, 0);
        Some((-(1.0 - u).ln() / per_sec).round() as i64)
    }

    /// True when the ICE period `ice` reclaims the Spot worker launched `n`-th.
    pub fn reclaimed(&self, n: usize, ice: usize) -> bool {
        self.uniform(n as u64, ice as u64 + 1) < self.ice[ice].reclaim
    }

    /// When an ICE period reclaims the Spot worker launched `n`-th as `instance_type` at
    /// `launched_at`: the start of the first period of its pool starting after the launch whose
    /// [`Market::reclaimed`] draw takes it; `None` when none does. The schedule is fixed by the
    /// seed, so reading it ahead changes no draw (the clairvoyant bound reads it; the cluster
    /// applies it as each period starts).
    pub fn reclaim_at(&self, n: usize, instance_type: &str, launched_at: i64) -> Option<i64> {
        self.ice
            .iter()
            .enumerate()
            .filter(|(k, i)| {
                i.instance_type == instance_type && i.start > launched_at && self.reclaimed(n, *k)
            })
            .map(|(_, i)| i.start)
            .min()
    }

    /// A uniform draw in [0, 1) from the seed and two keys (SplitMix64).
    fn uniform(&self, a: u64, b: u64) -> f64 {
        let mut z = self
            .seed
            .wrapping_add(a.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .wrapping_add(b.wrapping_mul(0xC2B2_AE3D_27D4_EB4F));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn market() -> Market {
        let mut m = Market::for_region("ap-south-1");
        m.ice.push(Ice {
            instance_type: "t3a.small".into(),
            start: 100,
            end: 200,
            reclaim: 0.5,
        });
        m
    }

    #[test]
    fn pools() {
        let types = vec!["t3.small".to_string(), "t3a.small".to_string()];
        struct Case {
            name: &'static str,
            capacity: CapacityType,
            now: i64,
            avoid: Option<&'static str>,
            want: Option<&'static str>,
        }
        let cases = [
            Case {
                name: "Spot: the cheapest pool",
                capacity: CapacityType::Spot,
                now: 0,
                avoid: None,
                want: Some("t3a.small"),
            },
            Case {
                name: "Spot during its ICE: the other pool",
                capacity: CapacityType::Spot,
                now: 150,
                avoid: None,
                want: Some("t3.small"),
            },
            Case {
                name: "Spot after the ICE",
                capacity: CapacityType::Spot,
                now: 200,
                avoid: None,
                want: Some("t3a.small"),
            },
            Case {
                name: "a replacement avoids the interrupted pool",
                capacity: CapacityType::Spot,
                now: 0,
                avoid: Some("t3a.small"),
                want: Some("t3.small"),
            },
            Case {
                name: "on-demand: lowest price",
                capacity: CapacityType::OnDemand,
                now: 150,
                avoid: None,
                want: Some("t3a.small"),
            },
        ];
        for c in cases {
            assert_eq!(
                market().pool(&types, c.capacity, c.now, c.avoid).as_deref(),
                c.want,
                "case {}",
                c.name
            );
        }
        let only = vec!["t3a.small".to_string()];
        assert_eq!(
            market().pool(&only, CapacityType::Spot, 150, None),
            None,
            "no Spot left"
        );
        assert_eq!(Market::region_of("ap-south-1a"), "ap-south-1");
    }

    /// The draws give the configured monthly share: of 20 000 workers, those warned within 30
    /// days are 5 % (± 0.5).
    #[test]
    fn interruptions_follow_the_rate() {
        let m = market();
        let month = MONTH_SECS as i64;
        let n = 20_000;
        let hit = (0..n)
            .filter(|&i| m.time_to_warning(i, "t3.small").is_some_and(|s| s < month))
            .count();
        let share = 100.0 * hit as f64 / n as f64;
        assert!((share - 5.0).abs() < 0.5, "{share}");
        assert_eq!(
            m.time_to_warning(7, "t3.small"),
            m.time_to_warning(7, "t3.small")
        );
        let none = Market {
            interruption_rate_pct: Some(0.0),
            ..market()
        };
        assert_eq!(none.time_to_warning(7, "t3.small"), None);
        let reclaimed = (0..n).filter(|&i| m.reclaimed(i, 0)).count();
        let ahead = (0..n)
            .filter(|&i| m.reclaim_at(i, "t3a.small", 0) == Some(100))
            .count();
        assert_eq!(ahead, reclaimed, "the schedule read ahead is the draws'");
        assert_eq!(
            m.reclaim_at(0, "t3a.small", 100),
            None,
            "launched at the start"
        );
        assert_eq!(m.reclaim_at(0, "t3.small", 0), None, "another pool");
        assert!((reclaimed as f64 / n as f64 - 0.5).abs() < 0.02);
    }
}
