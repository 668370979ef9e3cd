//! `cargo test -p beckon-app --test e2e -- --bench` (scripts/bench-popup): how long an
//! incoming call takes to be on screen. Twenty times, a caller on the SDK rings bob's app;
//! each window stamps the first frame it draws with the call while it is visible. The
//! popup's time is printed next to its floor, measured in the same run: bob's main window,
//! already on screen, drawing the same call from the same update.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use beckon_client::CallType;

use crate::app::App;
use crate::scenarios;
use crate::World;

const CALLS: usize = 20;

pub async fn popup(w: &World) -> Result<()> {
    let (carol, _updates) = scenarios::sdk_user(w, "carol", "Carol Diaz").await?;
    let (mut popup, mut main, mut steps) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..CALLS {
        let sent = unix_ms();
        carol
            .call(vec!["bob".into()], CallType::Voice)
            .await
            .with_context(|| format!("call {i}"))?;
        let call_id = call_id(&carol).await?;
        w.bob.to_popup().await?;
        let p = shown(&w.bob, &call_id).await?;
        popup.push(p.drawn.saturating_sub(sent));
        steps.push(p.steps(sent));
        w.bob.to_main().await?;
        main.push(shown(&w.bob, &call_id).await?.drawn.saturating_sub(sent));
        carol.cancel().await.context("cancelling")?;
        w.bob.wait_popup_closed().await?;
        w.bob.wait_page("home").await?;
    }
    carol.logout().await;
    println!("\nincoming call on screen, from the invite sent (ms, {CALLS} calls)");
    println!("popup, call by call: {popup:?}");
    println!("main, call by call:  {main:?}");
    println!("popup, each call's (sent -> in the page, -> visible, -> drawn): {steps:?}");
    println!("{:<44}{:>8}{:>8}{:>8}", "", "p50", "p99", "max");
    report("popup: caller name and Accept drawn", &mut popup);
    report("floor: main window (visible) drawing it", &mut main);
    let ratio = percentile(&popup, 0.5) as f64 / percentile(&main, 0.5).max(1) as f64;
    println!("popup p50 / floor p50: {ratio:.2}x; target: popup p99 <= 100 ms");
    Ok(())
}

/// The caller's call ID, which comes with the server's answer to the invitation.
async fn call_id(caller: &beckon_client::CallManager) -> Result<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(id) = caller.snapshot().call.and_then(|c| c.call_id) {
            return Ok(id);
        }
        if Instant::now() > deadline {
            bail!("the caller's call got no ID within 10 s");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Wall-clock ms at which a window got an incoming call, was visible with it, drew it.
struct Shown {
    received: u64,
    visible: u64,
    drawn: u64,
}

impl Shown {
    /// The time each step took, from the invite sent.
    fn steps(&self, sent: u64) -> [u64; 3] {
        [
            self.received.saturating_sub(sent),
            self.visible.saturating_sub(self.received.max(sent)),
            self.drawn.saturating_sub(self.visible),
        ]
    }
}

/// When the window now driven got `call_id`, showed it and first drew it while visible.
async fn shown(app: &App, call_id: &str) -> Result<Shown> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v = app
            .wd
            .execute("return window.beckonIncomingShown()", vec![])
            .await?;
        if let (Some(id), Some(drawn)) = (v["callId"].as_str(), v["drawn"].as_u64()) {
            if drawn > 0 && id == call_id {
                let at = |k: &str| v[k].as_u64().unwrap_or(0);
                let (received, visible) = (at("received"), at("visible"));
                return Ok(Shown {
                    received,
                    visible,
                    drawn,
                });
            }
        }
        if Instant::now() > deadline {
            bail!("{}: {call_id} not drawn within 10 s: {v}", app.user);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn report(what: &str, samples: &mut [u64]) {
    samples.sort_unstable();
    println!(
        "{what:<44}{:>8}{:>8}{:>8}",
        percentile(samples, 0.5),
        percentile(samples, 0.99),
        samples.last().copied().unwrap_or(0)
    );
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

use beckon_protocol::now_unix_ms as unix_ms;
