//! The pure parts of an EC2 Fleet launch: the overrides of one `CreateFleet` request (every
//! instance type × worker subnet, less the Spot pools to avoid) and which errors of an `instant`
//! fleet mean "this pool has no capacity now" (remembered and skipped, then on-demand at once).
//! The request itself is built in [`super::Ec2Provisioner`]; the rules are in
//! `docs/OPERATIONS.md` ("Launching").

use super::errors::{classify, Fault};
use super::plan::Subnet;
use crate::seams::{CapacityType, LaunchRequest, Pool};

/// One launch-template override: an instance type in a subnet, with its on-demand priority.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// Instance type.
    pub instance_type: String,
    /// Subnet id, `None` when no worker subnet is configured (the template's network settings).
    pub subnet_id: Option<String>,
    /// The subnet's zone (empty when unknown).
    pub zone: String,
    /// `prioritized` on-demand order (lower first): by type in preference order, then by subnet
    /// in the order given (emptiest zone first).
    pub priority: f64,
}

impl Override {
    /// The Spot pool this override launches into.
    pub fn pool(&self) -> Pool {
        Pool {
            instance_type: self.instance_type.clone(),
            zone: self.zone.clone(),
        }
    }
}

/// Every type × subnet, types in preference order, subnets in the order given (priority counts
/// up in that order). For Spot the pools
/// in `avoid` are left out (an interrupted worker's pool, offers that failed a few minutes ago);
/// on-demand uses every pool.
pub fn overrides(
    types: &[String],
    subnets: &[Subnet],
    lifecycle: CapacityType,
    avoid: &[Pool],
) -> Vec<Override> {
    let places: Vec<(Option<String>, String)> = if subnets.is_empty() {
        vec![(None, String::new())]
    } else {
        subnets
            .iter()
            .map(|s| (Some(s.id.clone()), s.zone.clone()))
            .collect()
    };
    types
        .iter()
        .enumerate()
        .flat_map(|(i, t)| {
            let n = places.len();
            places
                .iter()
                .enumerate()
                .map(move |(j, (subnet_id, zone))| Override {
                    instance_type: t.clone(),
                    subnet_id: subnet_id.clone(),
                    zone: zone.clone(),
                    priority: (i * n + j) as f64,
                })
        })
        .filter(|o| lifecycle == CapacityType::OnDemand || !avoid.contains(&o.pool()))
        .collect()
}

/// Of a launch `req` whose operation already has `have_spot` Spot and `have_on_demand`
/// on-demand instances: `(spot, on_demand)` still to launch. The total is what is missing; Spot
/// gets what the request still wants of it (a Spot share launched on-demand earlier counts as
/// launched, so a retry never launches it twice).
pub fn missing(req: &LaunchRequest, have_spot: u32, have_on_demand: u32) -> (u32, u32) {
    let total = req.count().saturating_sub(have_spot + have_on_demand);
    let spot = total.min(req.spot.saturating_sub(have_spot));
    (spot, total - spot)
}

/// How long a failed Spot offer is skipped.
pub const OFFER_MEMORY_SECS: u64 = 600;

/// True when an `instant` fleet's error `code` means its pool has no capacity for us now
/// ([`super::errors::Fault::Capacity`], the one list of such codes): the pool is skipped for
/// [`OFFER_MEMORY_SECS`] and replaced by on-demand at once.
pub fn is_capacity_error(code: &str) -> bool {
    classify(Some(code), None) == Fault::Capacity
}

/// True when an `instant` fleet's error `code` is an account limit ([`Fault::Quota`]: not
/// retryable, `QuotaExceeded`).
pub fn is_quota_error(code: &str) -> bool {
    classify(Some(code), None) == Fault::Quota
}

/// The zone of `subnet_id` among `subnets`, empty when it is not one of them.
pub fn zone_of(subnets: &[Subnet], subnet_id: Option<&str>) -> String {
    subnets
        .iter()
        .find(|s| Some(s.id.as_str()) == subnet_id)
        .map(|s| s.zone.clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subnets() -> Vec<Subnet> {
        ["a", "b"]
            .iter()
            .map(|z| Subnet {
                id: format!("subnet-{z}"),
                zone: format!("ap-south-1{z}"),
            })
            .collect()
    }

    fn pool(t: &str, z: &str) -> Pool {
        Pool {
            instance_type: t.into(),
            zone: z.into(),
        }
    }

    struct Case {
        name: &'static str,
        lifecycle: CapacityType,
        subnets: Vec<Subnet>,
        avoid: Vec<Pool>,
        /// `type@zone/priority`, in order.
        want: &'static [&'static str],
    }

    #[test]
    fn every_type_in_every_subnet_less_the_avoided_spot_pools() {
        let types = vec!["t3.small".to_string(), "t3a.small".to_string()];
        let cases = [
            Case {
                name: "spot, nothing avoided",
                lifecycle: CapacityType::Spot,
                subnets: subnets(),
                avoid: vec![],
                want: &[
                    "t3.small@ap-south-1a/0",
                    "t3.small@ap-south-1b/1",
                    "t3a.small@ap-south-1a/2",
                    "t3a.small@ap-south-1b/3",
                ],
            },
            Case {
                name: "spot, one pool avoided",
                lifecycle: CapacityType::Spot,
                subnets: subnets(),
                avoid: vec![pool("t3.small", "ap-south-1a")],
                want: &[
                    "t3.small@ap-south-1b/1",
                    "t3a.small@ap-south-1a/2",
                    "t3a.small@ap-south-1b/3",
                ],
            },
            Case {
                name: "on-demand ignores the avoided Spot pools",
                lifecycle: CapacityType::OnDemand,
                subnets: subnets(),
                avoid: vec![pool("t3.small", "ap-south-1a")],
                want: &[
                    "t3.small@ap-south-1a/0",
                    "t3.small@ap-south-1b/1",
                    "t3a.small@ap-south-1a/2",
                    "t3a.small@ap-south-1b/3",
                ],
            },
            Case {
                name: "no subnet configured: one override per type",
                lifecycle: CapacityType::Spot,
                subnets: vec![],
                avoid: vec![],
                want: &["t3.small@/0", "t3a.small@/1"],
            },
        ];
        for c in cases {
            let got: Vec<String> = overrides(&types, &c.subnets, c.lifecycle, &c.avoid)
                .iter()
                .map(|o| format!("{}@{}/{}", o.instance_type, o.zone, o.priority))
                .collect();
            assert_eq!(got, c.want, "case {}", c.name);
        }
    }

    #[test]
    fn what_is_missing() {
        struct Case {
            name: &'static str,
            spot: u32,
            on_demand: u32,
            have: (u32, u32),
            want: (u32, u32),
        }
        let cases = [
            Case {
                name: "nothing yet",
                spot: 2,
                on_demand: 1,
                have: (0, 0),
                want: (2, 1),
            },
            Case {
                name: "the Spot share fell back to on-demand before: nothing twice",
                spot: 2,
                on_demand: 0,
                have: (0, 2),
                want: (0, 0),
            },
            Case {
                name: "half done",
                spot: 2,
                on_demand: 2,
                have: (1, 1),
                want: (1, 1),
            },
            Case {
                name: "more than asked",
                spot: 1,
                on_demand: 0,
                have: (0, 3),
                want: (0, 0),
            },
        ];
        for c in cases {
            let req = LaunchRequest {
                operation_id: "op".into(),
                on_demand: c.on_demand,
                spot: c.spot,
                instance_types: vec![],
                avoid: vec![],
            };
            assert_eq!(missing(&req, c.have.0, c.have.1), c.want, "case {}", c.name);
        }
    }

    #[test]
    fn capacity_errors_and_zones() {
        // (code, a pool without capacity, an account limit): the fleet's errors read as the
        // classification of every other EC2 error does.
        let cases = [
            ("InsufficientInstanceCapacity", true, false),
            ("capacity-not-available", true, false),
            ("SpotMaxPriceTooLow", true, false),
            ("InsufficientFreeAddressesInSubnet", true, false),
            ("VcpuLimitExceeded", false, true),
            ("InstanceLimitExceeded", false, true),
            ("UnauthorizedOperation", false, false),
        ];
        for (code, capacity, quota) in cases {
            assert_eq!(is_capacity_error(code), capacity, "{code}");
            assert_eq!(is_quota_error(code), quota, "{code}");
        }
        assert_eq!(zone_of(&subnets(), Some("subnet-b")), "ap-south-1b");
        assert_eq!(zone_of(&subnets(), Some("subnet-x")), "");
        assert_eq!(zone_of(&subnets(), None), "");
    }
}
