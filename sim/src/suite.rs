//! `simulate --suite`: every policy over many weeks of one [`family`](crate::family), with each
//! policy's median and worst case of the figures that matter: cost against the oracle, pending
//! pod-minutes, the longest wait and overload minutes.

use crate::family;
use crate::policy::PolicyKind;
use crate::run::{self, Summary};
use crate::scenario::ScenarioError;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Every week's summaries, one per policy of `kinds`, in that order.
#[derive(Debug, Clone)]
pub struct Suite {
    /// The family.
    pub family: String,
    /// The policies run, in report order.
    pub kinds: Vec<PolicyKind>,
    /// (seed, summaries), in seed order.
    pub weeks: Vec<(u64, Vec<Summary>)>,
}

/// Median and worst of one figure over the weeks.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Spread {
    /// The median (the mean of the middle two for an even count).
    pub median: f64,
    /// The largest.
    pub worst: f64,
}

impl Spread {
    fn of(mut v: Vec<f64>) -> Spread {
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = match n {
            0 => 0.0,
            n if n % 2 == 1 => v[n / 2],
            n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        };
        Spread {
            median,
            worst: v.last().copied().unwrap_or(0.0),
        }
    }
}

/// One policy's figures over the suite. Field names are the `--json` keys.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PolicyStats {
    /// Policy label.
    pub policy: String,
    /// Worker-hours ÷ the oracle's, per week.
    pub vs_oracle: Spread,
    /// Pending pod-minutes per week.
    pub pending_pod_minutes: Spread,
    /// Longest Pending wait per week, seconds.
    pub max_pending_seconds: Spread,
    /// Overload minutes per week.
    pub overload_minutes: Spread,
    /// Scale actions (scale-ups plus workers removed) per simulated hour, per week.
    pub scale_actions_per_hour: Spread,
    /// Weeks it used fewer worker-hours than the bound at its floor.
    pub below_bound_weeks: usize,
    /// Of those, weeks without a Pending pod or more overload than that bound (the bound's
    /// promise is that there are none).
    pub below_bound_clean_weeks: usize,
}

impl Suite {
    /// Each policy's spreads, in report order.
    pub fn stats(&self) -> Vec<PolicyStats> {
        self.kinds
            .iter()
            .map(|kind| {
                let col = |f: &dyn Fn(&Summary) -> f64| {
                    let of_kind =
                        |s: &Vec<Summary>| s.iter().find(|x| x.policy == kind.label()).map(f);
                    Spread::of(self.weeks.iter().filter_map(|(_, s)| of_kind(s)).collect())
                };
                let below = |clean_only: bool| {
                    let week = |(_, s): &&(u64, Vec<Summary>)| {
                        self.undercuts(s).any(|(x, _, disrupted)| {
                            x.policy == kind.label() && !(clean_only && disrupted)
                        })
                    };
                    self.weeks.iter().filter(week).count()
                };
                PolicyStats {
                    policy: kind.label().into(),
                    vs_oracle: col(&|s| s.vs_oracle),
                    pending_pod_minutes: col(&|s| s.pending_pod_minutes),
                    max_pending_seconds: col(&|s| s.max_pending_seconds),
                    overload_minutes: col(&|s| s.overload_minutes),
                    scale_actions_per_hour: col(&|s| {
                        f64::from(s.scale_ups + s.scale_downs) / s.duration_hours.max(1e-9)
                    }),
                    below_bound_weeks: below(false),
                    below_bound_clean_weeks: below(true),
                }
            })
            .collect()
    }

    /// Weeks where no policy used fewer worker-hours than the bound at its floor.
    pub fn oracle_cheapest(&self) -> usize {
        self.weeks
            .iter()
            .filter(|(_, s)| self.undercuts(s).next().is_none())
            .count()
    }

    /// The policies of one week's `summaries` that used fewer worker-hours than the bound at their
    /// floor (the bound's measure: its cost also depends on the capacity types bought), each with
    /// its saving against that bound (fraction) and whether it left a pod Pending or ran more
    /// overloaded than that bound (the bound is the smallest fleet *without* disruption).
    pub fn undercuts<'a>(
        &self,
        summaries: &'a [Summary],
    ) -> impl Iterator<Item = (&'a Summary, f64, bool)> + 'a {
        summaries.iter().filter_map(move |x| {
            let o = summaries.iter().find(|b| b.policy == x.bound)?;
            (x.node_hours + 1e-9 < o.node_hours).then(|| {
                let disrupted =
                    x.pending_pod_minutes > 0.0 || x.overload_minutes > o.overload_minutes;
                (x, 1.0 - x.node_hours / o.node_hours.max(1e-12), disrupted)
            })
        })
    }

    /// The sentence under the table: the bound's definition, in how many weeks each bound had
    /// the fewest worker-hours at its floor, and for each policy that undercut its bound, in how
    /// many weeks, by how much at most, and at what pending and overload cost; a zero-disruption
    /// undercut is said as such.
    pub fn oracle_sentence(&self) -> String {
        let mut by: BTreeMap<&str, (usize, f64, f64, f64, usize)> = BTreeMap::new();
        for (_, week) in &self.weeks {
            for (x, saving, disrupted) in self.undercuts(week) {
                let e = by.entry(x.policy.as_str()).or_default();
                e.0 += 1;
                e.1 = e.1.max(saving);
                e.2 = e.2.max(x.pending_pod_minutes);
                e.3 = e.3.max(x.overload_minutes);
                e.4 += usize::from(!disrupted);
            }
        }
        let has_oracle = |w: &[Summary]| w.iter().any(|x| x.policy == PolicyKind::Oracle.label());
        if !self.weeks.iter().all(|(_, w)| has_oracle(w)) {
            return "no oracle in the run: no × oracle".into();
        }
        let low = if self.kinds.contains(&PolicyKind::OracleLowFloor) {
            " (oracle-low-floor for the policies below MIN_NODES)"
        } else {
            ""
        };
        let mut out = format!(
            "the bound has the fewest worker-hours of every policy with no Pending pod and no more overload at the same floor{low}; \
bound fewest worker-hours in {} of {} weeks",
            self.oracle_cheapest(),
            self.weeks.len()
        );
        for (policy, (weeks, saving, pending, overload, clean)) in by {
            let _ = write!(
                out,
                "; {policy} fewer in {weeks} (by up to {:.1} %, with up to {pending:.1} pending pod-min and {overload:.1} overload min; {clean} of them without a Pending pod or more overload)",
                saving * 100.0
            );
        }
        out
    }

    /// Simulated hours over all weeks and policies.
    pub fn simulated_hours(&self) -> f64 {
        self.weeks
            .iter()
            .flat_map(|(_, s)| s.iter().map(|x| x.duration_hours))
            .sum()
    }

    /// The suite as a table for people.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Suite {}: {} weeks (seeds {}..={}), every policy on each",
            self.family,
            self.weeks.len(),
            self.weeks.first().map_or(0, |w| w.0),
            self.weeks.last().map_or(0, |w| w.0),
        );
        let _ = writeln!(
            out,
            "{:<26} {:>17} {:>21} {:>19} {:>19} {:>15}",
            "policy",
            "× oracle med/max",
            "pending pod-min m/max",
            "longest wait m/max",
            "overload min m/max",
            "actions/h m/max"
        );
        let _ = writeln!(out, "{}", "-".repeat(122));
        for s in self.stats() {
            let _ = writeln!(
                out,
                "{:<26} {:>8.3} /{:>7.3} {:>10.1} /{:>9.1} {:>8.0}s /{:>7.0}s {:>9.1} /{:>8.1} {:>7.2} /{:>5.2}",
                s.policy,
                s.vs_oracle.median,
                s.vs_oracle.worst,
                s.pending_pod_minutes.median,
                s.pending_pod_minutes.worst,
                s.max_pending_seconds.median,
                s.max_pending_seconds.worst,
                s.overload_minutes.median,
                s.overload_minutes.worst,
                s.scale_actions_per_hour.median,
                s.scale_actions_per_hour.worst,
            );
        }
        let _ = writeln!(
            out,
            "{}; the models are models of Cluster Autoscaler and Karpenter, not the products",
            self.oracle_sentence()
        );
        out
    }

    /// One JSON object per policy, one per line, with [`PolicyStats`]' keys.
    pub fn json_lines(&self) -> String {
        self.stats()
            .iter()
            .map(|s| serde_json::to_string(s).expect("stats always serialise") + "\n")
            .collect()
    }
}

/// Runs every policy over weeks `seeds` of family `name` on `jobs` threads; `done` is called
/// with the number of weeks finished so far.
///
/// Errors: an unknown family.
pub fn run(
    name: &str,
    seeds: std::ops::Range<u64>,
    jobs: usize,
    done: &(dyn Fn(usize) + Sync),
) -> Result<Suite, ScenarioError> {
    run_policies(name, seeds, &PolicyKind::ALL, jobs, &|_| {}, done)
}

/// [`run`] for the policies `kinds` only, each week's scenario passed through `adjust` first (a
/// changed `[policy]`, for `tune` and the backtests).
///
/// Errors: an unknown family.
pub fn run_policies(
    name: &str,
    seeds: std::ops::Range<u64>,
    kinds: &[PolicyKind],
    jobs: usize,
    adjust: &(dyn Fn(&mut crate::scenario::Scenario) + Sync),
    done: &(dyn Fn(usize) + Sync),
) -> Result<Suite, ScenarioError> {
    let mut first = family::scenario(name, seeds.start)?;
    adjust(&mut first);
    let compared = PolicyKind::compared(&first, kinds);
    let list: Vec<u64> = seeds.collect();
    let next = AtomicUsize::new(0);
    let finished = AtomicUsize::new(0);
    let out = Mutex::new(Vec::with_capacity(list.len()));
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&seed) = list.get(i) else { break };
                let mut scenario = family::scenario(name, seed).expect("the family parsed above");
                adjust(&mut scenario);
                let results = run::run_some(&scenario, kinds, &mut |_| {});
                let summaries = results.into_iter().map(|r| r.summary).collect();
                out.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((seed, summaries));
                done(finished.fetch_add(1, Ordering::Relaxed) + 1);
            });
        }
    });
    let mut weeks = out.into_inner().unwrap_or_else(|e| e.into_inner());
    weeks.sort_by_key(|w| w.0);
    Ok(Suite {
        family: name.to_owned(),
        kinds: compared,
        weeks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_take_the_middle_and_the_largest() {
        let cases = [
            ("odd", vec![3.0, 1.0, 2.0], (2.0, 3.0)),
            ("even", vec![4.0, 1.0, 2.0, 3.0], (2.5, 4.0)),
            ("empty", vec![], (0.0, 0.0)),
        ];
        for (name, v, (median, worst)) in cases {
            assert_eq!(Spread::of(v), Spread { median, worst }, "case {name}");
        }
    }
}
