//! Shedding: `rag serve` looks at the device every `serve.shed.check_every_s` (CPU temperature,
//! CPU frequency against its maximum, the local queue's expected wait, the local model's speed
//! against its own recent speed) and, while a limit is crossed, sheds questions in the
//! configured order (remote models, fewer chunks, extractive). It recovers with hysteresis: only
//! when every reading is back inside its limit with a margin (3 °C, 10% of frequency or speed,
//! half the queue wait).

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rag::config::ShedConfig;
use rag::types::{Answer, Shedding};
use rag::Rag;

/// Temperature when no passive trip point says otherwise (°C), as the design suggests.
const DEFAULT_MAX_TEMP_C: f64 = 45.0;
/// Margin under the temperature limit before shedding stops (°C).
const TEMP_MARGIN_C: f64 = 3.0;
/// Margin above the frequency and speed ratios before shedding stops.
const RATIO_MARGIN: f64 = 0.1;
/// Speed samples older than this no longer count (a shed model answers little).
const SPEED_STALE: Duration = Duration::from_secs(60);
/// Local answers before the speed baseline counts.
const SPEED_SAMPLES: u32 = 3;

/// What the watcher has seen.
#[derive(Debug, Default)]
struct State {
    /// Why questions are shed now.
    shedding: Option<String>,
    /// Recent local generation speed (fast moving average) and its baseline (slow), tokens/s.
    fast_tps: f64,
    baseline_tps: f64,
    samples: u32,
    last_sample: Option<Instant>,
    /// Mean seconds a local answer takes (moving average).
    answer_s: f64,
}

/// The device watcher of one server.
#[derive(Debug)]
pub struct Watcher {
    config: ShedConfig,
    state: Mutex<State>,
}

/// One look at the device.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Readings {
    /// Hottest thermal zone and the limit, °C.
    pub temp: Option<(f64, f64)>,
    /// Mean current over maximum CPU frequency.
    pub freq_ratio: Option<f64>,
    /// Expected wait for the local model, seconds.
    pub queue_wait_s: f64,
    /// Recent and baseline local tokens/s, when enough recent answers were seen.
    pub speed: Option<(f64, f64)>,
}

impl Watcher {
    /// A watcher with `config`.
    pub fn new(config: &ShedConfig) -> Watcher {
        Watcher {
            config: config.clone(),
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What questions carry: the order, and why the device is overloaded now. `None` when
    /// shedding is off.
    pub fn shedding(&self) -> Option<Shedding> {
        self.config.enabled.then(|| Shedding {
            order: self.config.order.clone(),
            overloaded: self.state().shedding.clone(),
        })
    }

    /// True while questions are shed.
    pub fn is_shedding(&self) -> bool {
        self.state().shedding.is_some()
    }

    /// Seconds between looks.
    pub fn period(&self) -> Duration {
        Duration::from_secs_f64(self.config.check_every_s)
    }

    /// Learns from an answer a local model wrote: its speed and how long it took.
    pub fn observe(&self, answer: &Answer, rag: &Rag) {
        let (Some(g), Some(model)) = (&answer.generation, &answer.model) else {
            return;
        };
        if rag.remote_models().iter().any(|r| &r.name() == model) || answer.shed.is_some() {
            return;
        }
        let t = &answer.timings_ms;
        let decode_s = (t.generate - t.first_token.unwrap_or(0.0)) / 1e3;
        let mut st = self.state();
        st.answer_s = if st.answer_s == 0.0 {
            t.generate / 1e3
        } else {
            0.8 * st.answer_s + 0.2 * t.generate / 1e3
        };
        if g.generated_tokens < 4 || decode_s <= 0.0 {
            return;
        }
        let tps = g.generated_tokens as f64 / decode_s;
        if st.samples == 0 {
            st.fast_tps = tps;
            st.baseline_tps = tps;
        } else {
            st.fast_tps = 0.5 * st.fast_tps + 0.5 * tps;
            st.baseline_tps = 0.95 * st.baseline_tps + 0.05 * tps;
        }
        st.samples += 1;
        st.last_sample = Some(Instant::now());
    }

    /// Reads the device and the local queue.
    pub fn read(&self, rag: &Rag) -> Readings {
        let st = self.state();
        let (waiting, slots) = rag
            .llm()
            .map_or((0, 1), |l| (l.waiting(), l.slots().max(1)));
        let fresh = st.last_sample.is_some_and(|t| t.elapsed() < SPEED_STALE);
        Readings {
            temp: temperature(&self.config.thermal_dir, self.config.max_temp_c),
            freq_ratio: frequency_ratio(&self.config.cpu_dir),
            queue_wait_s: waiting as f64 * st.answer_s / slots as f64,
            speed: (fresh && st.samples >= SPEED_SAMPLES).then_some((st.fast_tps, st.baseline_tps)),
        }
    }

    /// Looks at the device once and starts or stops shedding; returns whether it sheds now.
    pub fn check(&self, rag: &Rag) -> bool {
        let r = self.read(rag);
        let c = &self.config;
        let mut reasons = Vec::new();
        let mut recovered = true;
        if let Some((temp, limit)) = r.temp {
            if temp >= limit {
                reasons.push(format!("CPU at {temp:.0} °C (limit {limit:.0} °C)"));
            }
            recovered &= temp < limit - TEMP_MARGIN_C;
        }
        if let Some(ratio) = r.freq_ratio {
            if ratio < c.min_freq_ratio {
                reasons.push(format!(
                    "CPU throttled to {:.0}% of its maximum frequency",
                    ratio * 100.0
                ));
            }
            recovered &= ratio >= c.min_freq_ratio + RATIO_MARGIN;
        }
        if r.queue_wait_s > c.max_queue_wait_s {
            reasons.push(format!(
                "questions would wait about {:.0} s for the local model (limit {:.0} s)",
                r.queue_wait_s, c.max_queue_wait_s
            ));
        }
        recovered &= r.queue_wait_s <= c.max_queue_wait_s / 2.0;
        if let Some((fast, base)) = r.speed {
            if fast < c.min_speed_ratio * base {
                reasons.push(format!(
                    "the local model runs at {fast:.1} tokens/s, {:.0}% of its recent {base:.1}",
                    100.0 * fast / base
                ));
            }
            recovered &= fast >= (c.min_speed_ratio + RATIO_MARGIN) * base;
        }
        let mut st = self.state();
        let before = st.shedding.is_some();
        if !reasons.is_empty() {
            st.shedding = Some(reasons.join("; "));
        } else if recovered {
            st.shedding = None;
        }
        let now = st.shedding.is_some();
        if now != before {
            match &st.shedding {
                Some(why) => tracing::warn!("shedding questions: {why}"),
                None => tracing::info!("shedding stopped: the device is back within its limits"),
            }
        }
        now
    }
}

fn read_number(path: &Path) -> Option<f64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The hottest thermal zone under `dir` and the limit (°C): `max_temp_c`, else the zones'
/// lowest passive trip point, else 45 °C. `None` without zones.
fn temperature(dir: &Path, max_temp_c: Option<f64>) -> Option<(f64, f64)> {
    let zones: Vec<_> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("thermal_zone"))
        })
        .collect();
    let hottest = zones
        .iter()
        .filter_map(|z| read_number(&z.join("temp")))
        .map(|milli| milli / 1000.0)
        .reduce(f64::max)?;
    let passive = zones
        .iter()
        .flat_map(|z| {
            (0..16).filter_map(move |i| {
                let kind = std::fs::read_to_string(z.join(format!("trip_point_{i}_type"))).ok()?;
                (kind.trim() == "passive")
                    .then(|| read_number(&z.join(format!("trip_point_{i}_temp"))))
                    .flatten()
            })
        })
        .map(|milli| milli / 1000.0)
        .reduce(f64::min);
    Some((
        hottest,
        max_temp_c.or(passive).unwrap_or(DEFAULT_MAX_TEMP_C),
    ))
}

/// Mean of current over maximum frequency of the CPUs under `dir`; `None` without cpufreq.
fn frequency_ratio(dir: &Path) -> Option<f64> {
    let ratios: Vec<f64> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("cpufreq"))
        .filter_map(|f| {
            let cur = read_number(&f.join("scaling_cur_freq"))?;
            let max = read_number(&f.join("cpuinfo_max_freq"))?;
            (max > 0.0).then_some(cur / max)
        })
        .collect();
    (!ratios.is_empty()).then(|| ratios.iter().sum::<f64>() / ratios.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(dir: &Path, n: usize, milli: u32, passive: Option<u32>) {
        let z = dir.join(format!("thermal_zone{n}"));
        std::fs::create_dir_all(&z).unwrap();
        std::fs::write(z.join("temp"), format!("{milli}\n")).unwrap();
        if let Some(p) = passive {
            std::fs::write(z.join("trip_point_0_type"), "critical\n").unwrap();
            std::fs::write(z.join("trip_point_0_temp"), "95000\n").unwrap();
            std::fs::write(z.join("trip_point_1_type"), "passive\n").unwrap();
            std::fs::write(z.join("trip_point_1_temp"), format!("{p}\n")).unwrap();
        }
    }

    #[test]
    fn the_hottest_zone_is_read_against_the_lowest_passive_trip_point() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(temperature(dir.path(), None), None);
        zone(dir.path(), 0, 41000, None);
        assert_eq!(temperature(dir.path(), None), Some((41.0, 45.0)));
        zone(dir.path(), 1, 52500, Some(70000));
        zone(dir.path(), 2, 30000, Some(60000));
        assert_eq!(temperature(dir.path(), None), Some((52.5, 60.0)));
        assert_eq!(temperature(dir.path(), Some(50.0)), Some((52.5, 50.0)));
    }

    #[test]
    fn frequency_is_the_mean_share_of_each_cpus_maximum() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(frequency_ratio(dir.path()), None);
        for (cpu, cur) in [(0, 1_000_000), (1, 2_000_000)] {
            let f = dir.path().join(format!("cpu{cpu}/cpufreq"));
            std::fs::create_dir_all(&f).unwrap();
            std::fs::write(f.join("scaling_cur_freq"), format!("{cur}\n")).unwrap();
            std::fs::write(f.join("cpuinfo_max_freq"), "4000000\n").unwrap();
        }
        assert_eq!(frequency_ratio(dir.path()), Some(0.375));
    }
}
