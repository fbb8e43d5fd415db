//! Scenario families: parametrised weeks drawn from a seed, so that work is not tuned to one
//! curve. A [`Family`] gives ranges; [`Week::draw`] picks one week's parameters from them
//! (deterministically: the same family and seed give the same week); [`Week::trace_csv`] renders
//! its traffic, one row a minute; [`scenario`] is that week with the settings of the built-in
//! TechFlow week (cluster, workload, prices, every policy's settings).
//!
//! The shape of a day: a night level, a morning ramp (start hour and length: its steepness) up
//! to the day's peak (weekday or weekend level, a mid-afternoon bump), an evening decline (start
//! and length) back to the night level; multiplicative noise per minute; and flash sales of a
//! given height and length at random times (a 2-minute rise and a 10-minute fall).

use crate::builtin;
use crate::scenario::{self, Scenario, ScenarioError};
use std::fmt::Write as _;

/// An inclusive range a parameter is drawn from, uniformly.
pub type Range = (f64, f64);

/// A stretch of a day: (start hour, hours).
pub type Span = (f64, f64);

/// The ranges of one family's weeks.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// Name on the command line (`--family NAME`) and in scenario names (`NAME-SEED`).
    pub name: &'static str,
    /// One sentence for people.
    pub description: &'static str,
    /// Traffic at night, requests/s.
    pub night_rps: Range,
    /// Daytime peak on Monday to Friday, requests/s.
    pub weekday_peak_rps: Range,
    /// Daytime peak on Saturday and Sunday, requests/s.
    pub weekend_peak_rps: Range,
    /// Local hour the morning ramp starts.
    pub ramp_start_hour: Range,
    /// Hours the morning ramp takes (short is steep).
    pub ramp_hours: Range,
    /// Local hour the evening decline starts.
    pub decline_start_hour: Range,
    /// Hours the evening decline takes.
    pub decline_hours: Range,
    /// Noise, as a share of traffic (± this, per minute).
    pub noise: Range,
    /// How many flash sales in the week (whole numbers in the range).
    pub flash_sales: (u32, u32),
    /// A flash sale's traffic as a multiple of what it would be.
    pub sale_factor: Range,
    /// A flash sale's length, minutes.
    pub sale_minutes: Range,
}

/// The built-in families.
pub static FAMILIES: [Family; 2] = [
    Family {
        name: "techflow",
        description: "TechFlow-like weeks: 9-to-9 weekday peaks, lower weekends, quiet nights, 0-2 flash sales",
        night_rps: (1000.0, 1600.0),
        weekday_peak_rps: (5000.0, 6800.0),
        weekend_peak_rps: (3000.0, 5000.0),
        ramp_start_hour: (7.0, 9.0),
        ramp_hours: (0.5, 2.0),
        decline_start_hour: (19.5, 21.5),
        decline_hours: (0.5, 2.0),
        noise: (0.01, 0.03),
        flash_sales: (0, 2),
        sale_factor: (1.5, 3.0),
        sale_minutes: (20.0, 90.0),
    },
    Family {
        name: "volatile",
        description: "Steeper ramps, noisier traffic and 1-4 higher flash sales at random times",
        night_rps: (600.0, 2000.0),
        weekday_peak_rps: (4000.0, 8000.0),
        weekend_peak_rps: (2000.0, 6000.0),
        ramp_start_hour: (6.0, 10.0),
        ramp_hours: (0.1, 1.0),
        decline_start_hour: (18.0, 22.0),
        decline_hours: (0.2, 1.5),
        noise: (0.03, 0.08),
        flash_sales: (1, 4),
        sale_factor: (1.5, 4.0),
        sale_minutes: (10.0, 120.0),
    },
];

/// The family named `name`.
pub fn family(name: &str) -> Option<&'static Family> {
    FAMILIES.iter().find(|f| f.name == name)
}

/// One flash sale of a drawn week.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sale {
    /// Start, hours from Monday 00:00.
    pub start_hour: f64,
    /// Traffic multiple at its height.
    pub factor: f64,
    /// Length, minutes.
    pub minutes: f64,
}

/// One week's parameters, drawn from a family.
#[derive(Debug, Clone, PartialEq)]
pub struct Week {
    /// `<family>-<seed>`.
    pub name: String,
    /// The family's sentence with the seed.
    pub description: String,
    /// Night traffic, requests/s.
    pub night_rps: f64,
    /// Each day's peak, Monday first, requests/s.
    pub peaks: [f64; 7],
    /// Each day's morning ramp.
    pub ramps: [Span; 7],
    /// Each day's evening decline.
    pub declines: [Span; 7],
    /// Noise share.
    pub noise: f64,
    /// Flash sales, in time order.
    pub sales: Vec<Sale>,
    seed: u64,
}

/// SplitMix64: a small, fast, well-mixed generator, enough for drawing parameters.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn pick(&mut self, (lo, hi): Range) -> f64 {
        lo + (hi - lo) * self.unit()
    }
}

fn smoothstep(x: f64) -> f64 {
    let x = x.clamp(0.0, 1.0);
    x * x * (3.0 - 2.0 * x)
}

impl Week {
    /// Week number `seed` of `family`.
    pub fn draw(family: &Family, seed: u64) -> Week {
        let salt = family.name.bytes().fold(0xCBF2_9CE4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x0100_0000_01B3)
        });
        let mut rng = Rng(salt ^ seed.wrapping_mul(0xA24B_AED4_963E_E407));
        let night_rps = rng.pick(family.night_rps);
        let weekday = rng.pick(family.weekday_peak_rps);
        let weekend = rng.pick(family.weekend_peak_rps);
        let days: [(f64, Span, Span); 7] = std::array::from_fn(|d| {
            let level = if d < 5 { weekday } else { weekend };
            let peak = (level * (0.95 + 0.1 * rng.unit())).max(night_rps);
            let ramp = (
                rng.pick(family.ramp_start_hour),
                rng.pick(family.ramp_hours),
            );
            let decline = (
                rng.pick(family.decline_start_hour),
                rng.pick(family.decline_hours),
            );
            (peak, ramp, decline)
        });
        let peaks = days.map(|x| x.0);
        let ramps = days.map(|x| x.1);
        let declines = days.map(|x| x.2);
        let noise = rng.pick(family.noise);
        let (lo, hi) = family.flash_sales;
        let count = lo + (rng.unit() * (hi - lo + 1) as f64) as u32;
        let mut sales: Vec<Sale> = (0..count.min(hi))
            .map(|_| Sale {
                start_hour: rng.pick((0.0, 7.0 * 24.0 - 2.0)),
                factor: rng.pick(family.sale_factor),
                minutes: rng.pick(family.sale_minutes),
            })
            .collect();
        sales.sort_by(|a, b| a.start_hour.total_cmp(&b.start_hour));
        Week {
            name: format!("{}-{seed}", family.name),
            description: format!("{} (seed {seed})", family.description),
            night_rps,
            peaks,
            ramps,
            declines,
            noise,
            sales,
            seed,
        }
    }

    /// Traffic without noise at `hours` from Monday 00:00.
    pub fn rps_at(&self, hours: f64) -> f64 {
        let d = ((hours / 24.0).floor() as usize).min(6);
        let h = hours - 24.0 * d as f64;
        let (rs, rl) = self.ramps[d];
        let (ds, dl) = self.declines[d];
        let peak = self.peaks[d];
        let night = self.night_rps;
        let day = if h < rs || h >= ds + dl {
            night
        } else if h < rs + rl {
            night + (peak - night) * smoothstep((h - rs) / rl.max(1e-9))
        } else if h < ds {
            // A mid-afternoon bump of 10 % over the plateau.
            let x = ((h - rs - rl) / (ds - rs - rl).max(1e-9)).clamp(0.0, 1.0);
            peak * (1.0 + 0.1 * (std::f64::consts::PI * x).sin())
        } else {
            peak + (night - peak) * smoothstep((h - ds) / dl.max(1e-9))
        };
        let factor = self.sales.iter().fold(1.0, |f, s| {
            let since = (hours - s.start_hour) * 60.0;
            let rise = 2.0;
            let fall = 10.0;
            let here = if (0.0..rise).contains(&since) {
                1.0 + (s.factor - 1.0) * since / rise
            } else if (rise..s.minutes).contains(&since) {
                s.factor
            } else if (s.minutes..s.minutes + fall).contains(&since) {
                s.factor - (s.factor - 1.0) * (since - s.minutes) / fall
            } else {
                1.0
            };
            f * here
        });
        day * factor
    }

    /// The week's traffic as a `time,rps` CSV, one row a minute from second 0 to 7 days.
    pub fn trace_csv(&self) -> String {
        let mut rng = Rng(self.seed ^ 0x0005_EED0_FA11);
        let mut out = String::with_capacity(7 * 24 * 60 * 14);
        out.push_str("time,rps\n");
        for m in 0..=7 * 24 * 60u64 {
            let wiggle = 1.0 + self.noise * (2.0 * rng.unit() - 1.0);
            let rps = (self.rps_at(m as f64 / 60.0) * wiggle).max(0.0);
            let _ = writeln!(out, "{},{rps:.1}", m * 60);
        }
        out
    }

    /// The scenario TOML of this week: the built-in TechFlow week's settings with this week's
    /// name, description and `trace = "<name>.csv"`.
    pub fn toml(&self) -> String {
        let base = builtin::toml("techflow-week").unwrap_or_default();
        let mut section = "";
        let mut out = String::new();
        for l in base.lines() {
            if l.starts_with('[') {
                section = l.trim();
            }
            let key = l.split('=').next().map(str::trim).unwrap_or("");
            let line = match (section, key) {
                ("[scenario]", "name") => format!("name = \"{}\"", self.name),
                ("[scenario]", "description") => {
                    format!("description = \"{}\"", self.description.replace('"', "'"))
                }
                ("[scenario]", "trace") => format!("trace = \"{}.csv\"", self.name),
                _ => l.to_owned(),
            };
            out.push_str(&line);
            out.push('\n');
        }
        out
    }
}

/// Week `seed` of the family named `name`, as a scenario.
///
/// Errors: an unknown family (listing the known ones); a parse error would be a bug caught by
/// tests.
pub fn scenario(name: &str, seed: u64) -> Result<Scenario, ScenarioError> {
    let Some(f) = family(name) else {
        let names: Vec<&str> = FAMILIES.iter().map(|f| f.name).collect();
        return Err(ScenarioError::one(
            name,
            None,
            format!(
                "no such scenario family: the families are {}",
                names.join(", ")
            ),
        ));
    };
    let week = Week::draw(f, seed);
    let csv = week.trace_csv();
    scenario::parse(&week.toml(), &format!("<{}>.toml", week.name), |_| {
        Ok((csv.clone(), format!("<{}>.csv", week.name)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_draws_the_same_week_and_another_seed_another() {
        let f = family("techflow").unwrap();
        assert_eq!(Week::draw(f, 7), Week::draw(f, 7));
        assert_ne!(Week::draw(f, 7).peaks, Week::draw(f, 8).peaks);
        assert_eq!(Week::draw(f, 7).trace_csv(), Week::draw(f, 7).trace_csv());
    }

    #[test]
    fn drawn_weeks_stay_in_their_family_ranges() {
        for f in &FAMILIES {
            for seed in 0..50 {
                let w = Week::draw(f, seed);
                let inside = |(lo, hi): Range, v: f64| v >= lo && v <= hi;
                assert!(inside(f.night_rps, w.night_rps), "{} {seed}", f.name);
                for (d, (peak, ramp)) in w.peaks.iter().zip(w.ramps).enumerate() {
                    let level = if d < 5 {
                        f.weekday_peak_rps
                    } else {
                        f.weekend_peak_rps
                    };
                    assert!(*peak >= level.0 * 0.95 - 1e-9, "{} {seed} day {d}", f.name);
                    assert!(*peak <= level.1 * 1.05 + 1e-9, "{} {seed} day {d}", f.name);
                    assert!(inside(f.ramp_hours, ramp.1));
                }
                let n = w.sales.len() as u32;
                assert!(
                    n >= f.flash_sales.0 && n <= f.flash_sales.1,
                    "{} {seed}: {n}",
                    f.name
                );
                // Nights are at the night level, middays near the peak.
                assert!((w.rps_at(3.0) - w.night_rps).abs() < 1e-6 || !w.sales.is_empty());
            }
        }
    }

    #[test]
    fn a_flash_sale_multiplies_the_traffic_while_it_lasts() {
        let f = family("volatile").unwrap();
        let w = (0..100)
            .map(|s| Week::draw(f, s))
            .find(|w| w.sales.len() == 1)
            .expect("some week has exactly one sale");
        let s = w.sales[0];
        let mut calm = w.clone();
        calm.sales.clear();
        let mid = s.start_hour + s.minutes / 120.0;
        let ratio = w.rps_at(mid) / calm.rps_at(mid);
        assert!((ratio - s.factor).abs() < 1e-9, "{ratio} vs {}", s.factor);
        let after = s.start_hour + (s.minutes + 11.0) / 60.0;
        assert!((w.rps_at(after) - calm.rps_at(after)).abs() < 1e-9);
    }

    #[test]
    fn family_weeks_are_scenarios_and_unknown_families_are_refused() {
        let s = scenario("techflow", 3).unwrap();
        assert_eq!(s.name, "techflow-3");
        assert_eq!(s.trace.duration_secs(), 7.0 * 86_400.0);
        assert!(scenario("nope", 1)
            .unwrap_err()
            .to_string()
            .contains("techflow, volatile"));
    }
}
