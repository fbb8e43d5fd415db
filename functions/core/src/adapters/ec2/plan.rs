//! The pure parts of a launch: which purchase options to try in which order, which subnet keeps
//! the zones balanced, and the client token that makes a retried call idempotent.

use crate::seams::{Lifecycle, ManagedInstance, Pool};

/// One RunInstances attempt: an instance type and a purchase option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The instance type.
    pub instance_type: String,
    /// Spot or on-demand.
    pub lifecycle: Lifecycle,
}

/// The attempts in order: with Spot, every type as Spot first, then every type on-demand;
/// without, every type on-demand.
pub fn attempts(instance_types: &[String], use_spot: bool) -> Vec<Attempt> {
    let spot = instance_types.iter().filter(|_| use_spot).map(|t| Attempt {
        instance_type: t.clone(),
        lifecycle: Lifecycle::Spot,
    });
    let on_demand = instance_types.iter().map(|t| Attempt {
        instance_type: t.clone(),
        lifecycle: Lifecycle::OnDemand,
    });
    spot.chain(on_demand).collect()
}

/// True when `attempt` would launch Spot capacity in one of the `avoid` pools in `zone` (the
/// zone of the chosen subnet; unknown zones avoid nothing).
pub fn avoided(attempt: &Attempt, zone: Option<&str>, avoid: &[Pool]) -> bool {
    attempt.lifecycle == Lifecycle::Spot
        && avoid
            .iter()
            .any(|p| p.instance_type == attempt.instance_type && Some(p.zone.as_str()) == zone)
}

/// A worker subnet and its availability zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subnet {
    /// Subnet id.
    pub id: String,
    /// Its availability zone.
    pub zone: String,
}

/// The subnet whose zone holds the fewest of `instances`; ties go to the earlier subnet in
/// `subnets` (the configured order). `None` when no subnet is configured.
pub fn choose_subnet<'a>(
    subnets: &'a [Subnet],
    instances: &[ManagedInstance],
) -> Option<&'a Subnet> {
    subnets
        .iter()
        .enumerate()
        .min_by_key(|(i, s)| (instances.iter().filter(|m| m.zone == s.zone).count(), *i))
        .map(|(_, s)| s)
}

/// The `ClientToken` of attempt `attempt` of a launch for `operation_id` when `already` of its
/// instances exist: the same on every retry of the same step, different once instances appeared
/// (so the remainder is a new request). At most 64 ASCII characters, as EC2 requires.
pub fn client_token(operation_id: &str, already: usize, attempt: usize) -> String {
    let suffix = format!("-{already}-{attempt}");
    let plain = format!("{operation_id}{suffix}");
    if plain.len() <= 64 && plain.is_ascii() {
        return plain;
    }
    let prefix: String = operation_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(64 - 17 - suffix.len())
        .collect();
    format!("{prefix}-{:016x}{suffix}", fnv1a(operation_id.as_bytes()))
}

/// 64-bit FNV-1a: a hash that is stable across processes and Rust versions.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn inst(zone: &str) -> ManagedInstance {
        ManagedInstance {
            instance_id: "i-1".into(),
            zone: zone.into(),
            instance_type: "t3.small".into(),
            lifecycle: Lifecycle::OnDemand,
            state: "running".into(),
            launched_at: DateTime::UNIX_EPOCH,
            operation_id: None,
            private_dns_name: None,
            private_ip: None,
        }
    }

    #[test]
    fn attempts_try_spot_types_then_on_demand_types() {
        let types = vec!["t3.small".to_string(), "t3a.small".to_string()];
        let show = |a: Vec<Attempt>| {
            a.into_iter()
                .map(|a| format!("{}/{:?}", a.instance_type, a.lifecycle))
                .collect::<Vec<_>>()
        };
        let cases = [
            (
                "spot",
                true,
                vec![
                    "t3.small/Spot",
                    "t3a.small/Spot",
                    "t3.small/OnDemand",
                    "t3a.small/OnDemand",
                ],
            ),
            (
                "on-demand",
                false,
                vec!["t3.small/OnDemand", "t3a.small/OnDemand"],
            ),
        ];
        for (name, spot, want) in cases {
            assert_eq!(show(attempts(&types, spot)), want, "case {name}");
        }
    }

    #[test]
    fn the_interrupted_pool_is_avoided_for_spot_only() {
        let pool = Pool {
            instance_type: "t3.small".into(),
            zone: "us-east-1a".into(),
        };
        let attempt = |t: &str, lifecycle| Attempt {
            instance_type: t.into(),
            lifecycle,
        };
        struct Case {
            name: &'static str,
            attempt: Attempt,
            zone: Option<&'static str>,
            want: bool,
        }
        let cases = [
            Case {
                name: "same type, same zone, Spot",
                attempt: attempt("t3.small", Lifecycle::Spot),
                zone: Some("us-east-1a"),
                want: true,
            },
            Case {
                name: "on-demand in the same pool is fine",
                attempt: attempt("t3.small", Lifecycle::OnDemand),
                zone: Some("us-east-1a"),
                want: false,
            },
            Case {
                name: "another type",
                attempt: attempt("t3a.small", Lifecycle::Spot),
                zone: Some("us-east-1a"),
                want: false,
            },
            Case {
                name: "another zone",
                attempt: attempt("t3.small", Lifecycle::Spot),
                zone: Some("us-east-1b"),
                want: false,
            },
            Case {
                name: "zone unknown",
                attempt: attempt("t3.small", Lifecycle::Spot),
                zone: None,
                want: false,
            },
        ];
        for c in cases {
            assert_eq!(
                avoided(&c.attempt, c.zone, std::slice::from_ref(&pool)),
                c.want,
                "case {}",
                c.name
            );
        }
    }

    #[test]
    fn subnet_goes_to_the_emptiest_zone() {
        let subnets = vec![
            Subnet {
                id: "s-a".into(),
                zone: "us-east-1a".into(),
            },
            Subnet {
                id: "s-b".into(),
                zone: "us-east-1b".into(),
            },
            Subnet {
                id: "s-c".into(),
                zone: "us-east-1c".into(),
            },
        ];
        let cases: Vec<(&str, Vec<ManagedInstance>, &str)> = vec![
            ("empty: first", vec![], "s-a"),
            ("a taken", vec![inst("us-east-1a")], "s-b"),
            (
                "a and b taken",
                vec![inst("us-east-1a"), inst("us-east-1b")],
                "s-c",
            ),
            (
                "b least",
                vec![
                    inst("us-east-1a"),
                    inst("us-east-1a"),
                    inst("us-east-1c"),
                    inst("us-east-1b"),
                ],
                "s-b",
            ),
            ("other zones ignored", vec![inst("us-east-1d")], "s-a"),
        ];
        for (name, instances, want) in cases {
            assert_eq!(
                choose_subnet(&subnets, &instances).unwrap().id,
                want,
                "case {name}"
            );
        }
        assert_eq!(choose_subnet(&[], &[]), None);
    }

    #[test]
    fn client_tokens_are_stable_short_and_distinct() {
        let long = "arn:aws:states:us-east-1:123456789012:execution:smartscale:0f5e1c2a-9b7d-4c3e-8a1f-2b3c4d5e6f70";
        let cases = [
            ("short", "op-1", 0, 0, Some("op-1-0-0")),
            ("short later", "op-1", 1, 2, Some("op-1-1-2")),
            ("long", long, 0, 0, None),
        ];
        for (name, op, already, attempt, want) in cases {
            let t = client_token(op, already, attempt);
            assert!(t.len() <= 64 && t.is_ascii(), "case {name}: {t}");
            assert_eq!(t, client_token(op, already, attempt), "case {name}: stable");
            if let Some(w) = want {
                assert_eq!(t, w, "case {name}");
            }
        }
        assert_ne!(client_token(long, 0, 0), client_token(long, 0, 1));
        assert_ne!(
            client_token(long, 0, 0),
            client_token(&long.replace('0', "1"), 0, 0)
        );
    }
}
