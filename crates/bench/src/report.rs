//! How results are printed: one `name: value` line per figure, so runs can be compared
//! by eye or with grep.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

/// `p50 1.23 ms p99 3.40 ms p999 7.90 ms` from a histogram in microseconds.
pub fn percentiles(h: &Histogram<u64>) -> String {
    if h.is_empty() {
        return "no samples".into();
    }
    format!(
        "p50 {} ms p99 {} ms p999 {} ms (max {} ms, {} samples)",
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.99)),
        ms(h.value_at_quantile(0.999)),
        ms(h.max()),
        h.len()
    )
}

pub fn ms(micros: u64) -> String {
    format!("{:.2}", micros as f64 / 1000.0)
}

pub fn errors(label: &str, errors: &BTreeMap<String, u64>) {
    if errors.is_empty() {
        return;
    }
    let list: Vec<String> = errors.iter().map(|(k, v)| format!("{k} x{v}")).collect();
    println!("{label} errors: {}", list.join(", "));
}
