//! What a page's media module reports (`window.beckonMedia.stats()`: the browser's own
//! `getStats`, summarized per peer), and waiting until it shows something.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use serde_json::Value;

use crate::page::Page;

pub async fn stats(page: &Page) -> Result<Value> {
    let script = r#"
        const done = arguments[arguments.length - 1];
        if (!window.beckonMedia) { done({ error: "no window.beckonMedia" }); return; }
        window.beckonMedia.stats().then(done, (e) => done({ error: String(e) }));
    "#;
    let value = page.wd.execute_async(script, vec![]).await?;
    if let Some(e) = value.get("error").and_then(Value::as_str) {
        bail!("{}: stats failed: {e}", page.user);
    }
    Ok(value)
}

/// Waits until `ok` holds for the page's stats; the failure names `what` and shows the
/// last stats seen.
pub async fn wait_stats(
    page: &Page,
    what: &str,
    within: Duration,
    ok: impl Fn(&Value) -> bool,
) -> Result<Value> {
    let deadline = Instant::now() + within;
    loop {
        let s = stats(page).await?;
        if ok(&s) {
            return Ok(s);
        }
        if Instant::now() > deadline {
            bail!(
                "{}: waited {within:?} for {what}; last stats: {s}",
                page.user
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The one peer of a 1:1 call.
pub fn peer(s: &Value) -> &Value {
    s.pointer("/peers/0").unwrap_or(&Value::Null)
}

pub fn num(v: &Value, pointer: &str) -> f64 {
    v.pointer(pointer).and_then(Value::as_f64).unwrap_or(0.0)
}

pub fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}
