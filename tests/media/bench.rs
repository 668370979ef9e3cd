//! `-- --bench`: call set-up time, from bob's click on Accept to the first packet of bob's
//! audio arriving in alice's browser, over 20 calls direct and 20 forced through coturn.
//! Next to it, the floor measured in the same run and the same browser: two peer
//! connections inside alice's page, signalled in memory, from the offer to the first audio
//! packet. What is above the floor is Beckon: the accept's round trip, the relays of the
//! offer, answer and candidates, and the pages' own work.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::stack::{Dirs, Net, Stack};

const CALLS: usize = 20;

pub async fn run(dirs: &Dirs) -> Result<()> {
    println!("\ncall set-up: Accept clicked -> first remote audio packet at the caller, {CALLS} calls each");
    for net in [Net::Direct, Net::Relay] {
        let stack = Stack::start(net, dirs).await?;
        let result = measure(&stack).await;
        stack.stop().await;
        let (beckon, floor, steps) = result?;
        let (b, f) = (percentiles(&beckon), percentiles(&floor));
        println!(
            "{:<7} Beckon   p50 {:>4.0} ms  p90 {:>4.0} ms  min {:>4.0}  max {:>4.0}",
            name(net),
            b.0,
            b.1,
            b.2,
            b.3
        );
        println!(
            "{:<7} floor    p50 {:>4.0} ms  p90 {:>4.0} ms  min {:>4.0}  max {:>4.0}   (raw WebRTC in one page)",
            "", f.0, f.1, f.2, f.3
        );
        println!("{:<7} ratio    p50 {:.2}x", "", b.0 / f.0.max(1.0));
        print_steps(&steps);
    }
    Ok(())
}

fn name(net: Net) -> &'static str {
    match net {
        Net::Direct => "direct",
        _ => "relay",
    }
}

/// Each set-up step's times after the click, over the calls.
type Steps = BTreeMap<String, Vec<f64>>;

async fn measure(s: &Stack) -> Result<(Vec<f64>, Vec<f64>, Steps)> {
    let (mut beckon, mut floor, mut steps) = (Vec::new(), Vec::new(), Steps::new());
    let rtc = rtc_config(s);
    for _ in 0..CALLS {
        floor.push(raw_webrtc(s, &rtc).await?);
        beckon.push(one_call(s, &mut steps).await?);
    }
    Ok((beckon, floor, steps))
}

/// Where the time goes: the median of each step the pages marked, after the click.
fn print_steps(steps: &Steps) {
    let mut medians: Vec<(f64, &str)> = steps
        .iter()
        .map(|(name, v)| (percentiles(v).0, name.as_str()))
        .collect();
    medians.sort_by(|a, b| a.0.total_cmp(&b.0));
    let line: Vec<String> = medians
        .iter()
        .map(|(ms, name)| format!("{name} {ms:.0}"))
        .collect();
    println!(
        "{:<7} steps (median ms after the click): {}",
        "",
        line.join(", ")
    );
}

/// The pages' own marks (capture, peer connection, offer, answer, connected), relative to
/// the click.
fn record_steps(steps: &mut Steps, who: &str, stats: &Value, clicked: f64) {
    let mut add = |name: String, at: Option<f64>| {
        if let Some(at) = at {
            steps.entry(name).or_default().push(at - clicked);
        }
    };
    for step in ["started", "settled"] {
        add(
            format!("{who} capture {step}"),
            stats
                .pointer(&format!("/capture/{step}"))
                .and_then(Value::as_f64),
        );
    }
    if let Some(marks) = stats.pointer("/peers/0/marks").and_then(Value::as_object) {
        for (name, at) in marks {
            add(format!("{who} {name}"), at.as_f64());
        }
    }
}

/// The browser's RTCConfiguration for the floor: the same ICE servers and policy the
/// server hands alice.
fn rtc_config(s: &Stack) -> Value {
    let ice = s.ice.config_for("alice", SystemTime::now());
    json!({
        "iceServers": ice.ice_servers,
        "iceTransportPolicy": ice.ice_transport_policy,
    })
}

async fn one_call(s: &Stack, steps: &mut Steps) -> Result<f64> {
    let (a, b) = (&s.alice.page, &s.bob.page);
    a.fill("#dial-ids", "bob").await?;
    a.click("[data-action=call][data-type=voice]").await?;
    b.wait_page("incoming").await?;
    // alice's page watches for the first packet while bob's clicks: two sessions at once.
    let first_packet = a.wd.execute_async(FIRST_PACKET, vec![]);
    let accept = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        b.wd.execute(ACCEPT, vec![]).await
    };
    let (arrived, clicked) = tokio::join!(first_packet, accept);
    let arrived = match as_ms(arrived?) {
        Ok(ms) => ms,
        Err(e) => {
            let bob = crate::stats::stats(b).await.unwrap_or_default();
            return Err(e.context(format!("bob's media: {bob}")));
        }
    };
    let clicked = as_ms(clicked?)?;
    record_steps(steps, "alice", &crate::stats::stats(a).await?, clicked);
    record_steps(steps, "bob", &crate::stats::stats(b).await?, clicked);
    a.click("[data-action=hang-up]").await?;
    a.wait_page("home").await?;
    b.wait_page("home").await?;
    Ok(arrived - clicked)
}

async fn raw_webrtc(s: &Stack, rtc: &Value) -> Result<f64> {
    as_ms(
        s.alice
            .page
            .wd
            .execute_async(RAW, vec![rtc.clone()])
            .await?,
    )
    .context("the in-page floor call")
}

fn as_ms(v: Value) -> Result<f64> {
    match v.as_f64() {
        Some(ms) => Ok(ms),
        None => bail!("expected milliseconds, got {v}"),
    }
}

/// p50, p90, min, max.
fn percentiles(samples: &[f64]) -> (f64, f64, f64, f64) {
    let mut v = samples.to_vec();
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.9), v[0], v[v.len() - 1])
}

/// Clicks Accept and returns when, in Unix ms (both pages read the same clock).
const ACCEPT: &str = r#"
    const at = Date.now();
    document.querySelector("[data-action=accept]").click();
    return at;
"#;

/// Polls the media module every 5 ms until audio packets from the other side arrived.
const FIRST_PACKET: &str = r#"
    const done = arguments[arguments.length - 1];
    const limit = Date.now() + 20000;
    const poll = async () => {
        const s = await window.beckonMedia.stats();
        const p = s.peers[0];
        if (p && p.inboundAudio && p.inboundAudio.packetsReceived > 0) return done(Date.now());
        if (Date.now() > limit) return done("no audio within 20 s; alice's banner: "
            + document.querySelector("[data-outcome]")?.getAttribute("data-outcome")
            + "; alice's media: " + JSON.stringify(s));
        setTimeout(poll, 5);
    };
    poll();
"#;

/// Two peer connections in this page, signalled in memory: offer to first audio packet.
const RAW: &str = r#"
    const [config, done] = arguments;
    (async () => {
        const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
        const a = new RTCPeerConnection(config), b = new RTCPeerConnection(config);
        a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate);
        b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate);
        stream.getTracks().forEach((t) => a.addTrack(t, stream));
        const audio = new Audio();
        b.ontrack = (e) => { audio.srcObject = e.streams[0]; audio.play().catch(() => {}); };
        const start = performance.now();
        await a.setLocalDescription();
        await b.setRemoteDescription(a.localDescription);
        await b.setLocalDescription();
        await a.setRemoteDescription(b.localDescription);
        const limit = start + 20000;
        for (;;) {
            const stats = await b.getStats();
            let packets = 0;
            stats.forEach((r) => { if (r.type === "inbound-rtp" && r.kind === "audio") packets = r.packetsReceived; });
            if (packets > 0) break;
            if (performance.now() > limit) throw new Error("no audio within 20 s");
            await new Promise((r) => setTimeout(r, 5));
        }
        const took = performance.now() - start;
        a.close(); b.close();
        stream.getTracks().forEach((t) => t.stop());
        audio.srcObject = null;
        return took;
    })().then(done, (e) => done(String(e)));
"#;
