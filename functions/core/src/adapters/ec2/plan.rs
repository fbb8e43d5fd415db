//! The pure parts of a launch: which subnet keeps the zones balanced, and the client token that
//! makes a retried call idempotent. The fleet's overrides are in [`super::fleet`].

use crate::seams::ManagedInstance;

/// A worker subnet and its availability zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subnet {
    /// Subnet id.
    pub id: String,
    /// Its availability zone.
    pub zone: String,
}

/// The subnets, the zone holding the fewest of `instances` first; ties keep the configured
/// order. The fleet's on-demand priorities follow this order, so launches keep the zones
/// balanced.
pub fn by_emptiness(subnets: &[Subnet], instances: &[ManagedInstance]) -> Vec<Subnet> {
    let mut v: Vec<(usize, usize, Subnet)> = subnets
        .iter()
        .enumerate()
        .map(|(i, s)| {
            (
                instances.iter().filter(|m| m.zone == s.zone).count(),
                i,
                s.clone(),
            )
        })
        .collect();
    v.sort_by_key(|(n, i, _)| (*n, *i));
    v.into_iter().map(|(_, _, s)| s).collect()
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
    use crate::seams::CapacityType;
    use chrono::DateTime;

    fn inst(zone: &str) -> ManagedInstance {
        ManagedInstance {
            instance_id: "i-1".into(),
            zone: zone.into(),
            instance_type: "t3.small".into(),
            capacity_type: CapacityType::OnDemand,
            state: "running".into(),
            launched_at: DateTime::UNIX_EPOCH,
            operation_id: None,
            private_dns_name: None,
            private_ip: None,
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
                by_emptiness(&subnets, &instances)[0].id,
                want,
                "case {name}"
            );
        }
        assert!(by_emptiness(&[], &[]).is_empty());
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
