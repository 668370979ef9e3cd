//! The soak's report: the healthy pair's latency before and during the abuse, the server's
//! memory, and what the abusers met. Targets are printed beside the numbers, not asserted.

use std::fmt::Write;

use hdrhistogram::Histogram;

use super::tally::Stats;
use crate::report::ms;

/// Issue 9's targets: the healthy p99 during abuse at most twice the p99 before it, and the
/// server's peak RSS under 200 MB (10^6 bytes).
pub const P99_RATIO_TARGET: f64 = 2.0;
pub const PEAK_RSS_TARGET_MB: f64 = 200.0;

/// The healthy pair keeps calling after an early stop, so its "during" figures then mix
/// abused and quiet time and say nothing about the target.
const NOT_JUDGED: &str = "not judged, abuse stopped early";

pub struct Healthy {
    pub secs: u64,
    pub calls: u64,
    pub errors: u64,
    /// Microseconds from callInvite sent to callInvitationReceived.
    pub latency: Histogram<u64>,
}

pub struct Memory {
    pub start_kib: u64,
    pub peak_before_kib: u64,
    pub peak_during_kib: u64,
    /// The kernel's high-water mark over the server's life: catches peaks between samples.
    pub hwm_kib: Option<u64>,
    pub after_kib: u64,
}

impl Memory {
    pub fn peak_kib(&self) -> u64 {
        self.peak_during_kib
            .max(self.peak_before_kib)
            .max(self.hwm_kib.unwrap_or(0))
    }
}

pub struct Report {
    pub before: Healthy,
    pub during: Healthy,
    pub memory: Option<Memory>,
    pub abuse: Vec<(&'static str, Stats)>,
    pub abuse_secs: f64,
    /// Seconds into the abuse when the RSS cap stopped it, and the cap in MB.
    pub capped: Option<(f64, u64)>,
}

fn mb(kib: u64) -> f64 {
    kib as f64 * 1024.0 / 1e6
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "MISSED"
    }
}

/// during/before for one quantile, or None without samples on both sides.
fn ratio(before: &Histogram<u64>, during: &Histogram<u64>, q: f64) -> Option<f64> {
    if before.is_empty() || during.is_empty() {
        return None;
    }
    Some(during.value_at_quantile(q) as f64 / before.value_at_quantile(q).max(1) as f64)
}

fn quantile(h: &Histogram<u64>, q: f64) -> String {
    if h.is_empty() {
        "-".into()
    } else {
        format!("{} ms", ms(h.value_at_quantile(q)))
    }
}

pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let (b, d) = (&r.before, &r.during);
    let _ = writeln!(
        out,
        "{:<34}{:>12}{:>12}{:>15}  target",
        "healthy pair, invite->received",
        format!("before {}s", b.secs),
        format!("during {}s", d.secs),
        "during/before"
    );
    let _ = writeln!(out, "  {:<32}{:>12}{:>12}", "calls", b.calls, d.calls);
    let _ = writeln!(out, "  {:<32}{:>12}{:>12}", "errors", b.errors, d.errors);
    for (name, q) in [("p50", 0.5), ("p99", 0.99), ("p999", 0.999), ("max", 1.0)] {
        let x = ratio(&b.latency, &d.latency, q);
        let target = match (name, x) {
            ("p99", Some(_)) if r.capped.is_some() => {
                format!("<= {P99_RATIO_TARGET}x: {NOT_JUDGED}")
            }
            ("p99", Some(x)) => {
                format!("<= {P99_RATIO_TARGET}x: {}", verdict(x <= P99_RATIO_TARGET))
            }
            ("p99", None) => format!("<= {P99_RATIO_TARGET}x: no samples"),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "  {:<32}{:>12}{:>12}{:>15}  {target}",
            name,
            quantile(&b.latency, q),
            quantile(&d.latency, q),
            x.map_or("-".into(), |x| format!("{x:.2}x")),
        );
    }
    let _ = writeln!(out);
    match &r.memory {
        Some(m) => {
            let _ = writeln!(out, "{:<34}{:>12}  target", "server memory (RSS)", "MB");
            let rows = [
                ("at start", Some(m.start_kib)),
                ("peak before abuse", Some(m.peak_before_kib)),
                ("peak during abuse (sampled)", Some(m.peak_during_kib)),
                ("peak over the run (VmHWM)", m.hwm_kib),
                ("after abuse", Some(m.after_kib)),
            ];
            for (name, kib) in rows {
                let Some(kib) = kib else { continue };
                let _ = writeln!(out, "  {name:<32}{:>12.1}", mb(kib));
            }
            let peak = mb(m.peak_kib());
            let _ = writeln!(
                out,
                "  {:<32}{peak:>12.1}  < {PEAK_RSS_TARGET_MB} MB: {}",
                "peak",
                verdict(peak < PEAK_RSS_TARGET_MB)
            );
        }
        None => {
            let _ = writeln!(out, "server memory: not measured");
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<34}{:>12}{:>12}{:>10}{:>10}{:>13}",
        format!("abuse ({:.1} s)", r.abuse_secs),
        "connections",
        "sent",
        "refused",
        "cut",
        "open at end"
    );
    let mut total = Stats::default();
    for (name, stats) in &r.abuse {
        abuse_row(&mut out, name, stats);
        total.merge(stats.clone());
    }
    abuse_row(&mut out, "total", &total);
    if let Some((at, cap)) = r.capped {
        let _ = writeln!(
            out,
            "abuse stopped early: the server's RSS passed {cap} MB after {at:.1} s"
        );
    }
    for (name, stats) in &r.abuse {
        for (label, reasons) in [("refused", &stats.refused), ("cut", &stats.cut)] {
            if reasons.is_empty() {
                continue;
            }
            let list: Vec<String> = reasons.iter().map(|(k, v)| format!("{k} x{v}")).collect();
            let _ = writeln!(out, "{label} {name}: {}", list.join(", "));
        }
    }
    let _ = writeln!(out);
    let _ = write!(out, "{}", summary(r, &total));
    out
}

fn abuse_row(out: &mut String, name: &str, s: &Stats) {
    let _ = writeln!(
        out,
        "  {name:<32}{:>12}{:>12}{:>10}{:>10}{:>13}",
        s.connections,
        s.sent,
        s.refused_total(),
        s.cut_total(),
        s.open_at_end
    );
}

/// One greppable line with the figures the issue asks for.
fn summary(r: &Report, total: &Stats) -> String {
    let p99 = |h: &Histogram<u64>| {
        if h.is_empty() {
            "-".to_string()
        } else {
            format!("{} ms", ms(h.value_at_quantile(0.99)))
        }
    };
    let x = ratio(&r.before.latency, &r.during.latency, 0.99);
    let ratio = x.map_or("no samples".into(), |x| {
        if r.capped.is_some() {
            format!("{x:.2}x ({NOT_JUDGED})")
        } else {
            format!("{x:.2}x ({})", verdict(x <= P99_RATIO_TARGET))
        }
    });
    let rss = r.memory.as_ref().map_or("not measured".into(), |m| {
        let peak = mb(m.peak_kib());
        format!("{peak:.1} MB ({})", verdict(peak < PEAK_RSS_TARGET_MB))
    });
    format!(
        "summary: healthy p99 before {} during {} ratio {ratio} | peak RSS {rss} | refused {} cut {}\n",
        p99(&r.before.latency),
        p99(&r.during.latency),
        total.refused_total(),
        total.cut_total()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invites::new_histogram;

    fn healthy(secs: u64, p99_us: u64) -> Healthy {
        let mut latency = new_histogram();
        for _ in 0..98 {
            latency.record(500).unwrap();
        }
        latency.record_n(p99_us, 2).unwrap();
        Healthy {
            secs,
            calls: 100,
            errors: 0,
            latency,
        }
    }

    fn report(during_p99_us: u64, peak_during_kib: u64) -> Report {
        let mut fuzz = Stats {
            connections: 10,
            sent: 400,
            ..Stats::default()
        };
        fuzz.cut("close 1007");
        fuzz.refused("upgrade: HTTP 503");
        Report {
            before: healthy(15, 1_000),
            during: healthy(60, during_p99_us),
            memory: Some(Memory {
                start_kib: 10_000,
                peak_before_kib: 15_000,
                peak_during_kib,
                hwm_kib: Some(peak_during_kib),
                after_kib: 20_000,
            }),
            abuse: vec![("fuzz", fuzz)],
            abuse_secs: 60.0,
            capped: None,
        }
    }

    #[test]
    fn targets_are_judged_and_printed_beside_the_numbers() {
        let good = render(&report(1_500, 100_000));
        assert!(good.contains("<= 2x: met"), "{good}");
        assert!(good.contains("< 200 MB: met"), "{good}");
        assert!(
            good.contains("summary: healthy p99 before 1.00 ms during 1.50 ms ratio 1.50x (met)")
        );
        assert!(
            good.contains("refused fuzz: upgrade: HTTP 503 x1"),
            "{good}"
        );
        assert!(good.contains("cut fuzz: close 1007 x1"), "{good}");
        assert!(good.contains("refused 1 cut 1"), "{good}");

        // 2.5 ms against 1 ms, and 250,000 KiB = 256 MB.
        let bad = render(&report(2_500, 250_000));
        assert!(bad.contains("<= 2x: MISSED"), "{bad}");
        assert!(bad.contains("< 200 MB: MISSED"), "{bad}");
        assert!(bad.contains("peak RSS 256.0 MB (MISSED)"), "{bad}");
    }

    #[test]
    fn an_early_stop_leaves_the_latency_target_unjudged() {
        let mut r = report(1_500, 2_100_000);
        r.capped = Some((3.5, 2000));
        let text = render(&r);
        assert!(
            text.contains("<= 2x: not judged, abuse stopped early"),
            "{text}"
        );
        assert!(text.contains("abuse stopped early: the server's RSS passed 2000 MB after 3.5 s"));
        assert!(text.contains("< 200 MB: MISSED"), "{text}");
    }

    #[test]
    fn an_empty_phase_prints_no_ratio_rather_than_a_made_up_one() {
        let mut r = report(1_500, 100_000);
        r.during.latency = new_histogram();
        let text = render(&r);
        assert!(text.contains("<= 2x: no samples"), "{text}");
        assert!(text.contains("ratio no samples"), "{text}");
    }
}
