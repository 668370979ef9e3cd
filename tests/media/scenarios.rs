//! The calls a user makes, each on its own stack (server, apps, browsers), checked by what
//! the browsers' `getStats` say arrived. alice calls, bob answers.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use anyhow::{ensure, Result};
use serde_json::Value;

use crate::stack::{Dirs, Extra, Net, Side, Stack};
use crate::stats::{num, peer, text, wait_stats};

pub type Body = for<'a> fn(&'a Stack) -> Pin<Box<dyn Future<Output = Result<()>> + 'a>>;
pub type Scenario = fn(&Dirs) -> Pin<Box<dyn Future<Output = Result<()>> + '_>>;

/// How long media gets to start flowing after an accept, on a busy 2-core machine.
const MEDIA_WAIT: Duration = Duration::from_secs(20);
/// The UI's own limits (ui/src/media) plus slack: never connected, or lost and not back.
const GIVE_UP_WAIT: Duration = Duration::from_secs(30);

pub const ALL: &[(&str, Scenario)] = &[
    ("voice_call_mute_and_hang_up", |d| {
        Box::pin(on(d, Net::Direct, "voice", voice_mute_hang_up))
    }),
    ("video_call", |d| {
        Box::pin(on(d, Net::Direct, "video", video_call))
    }),
    ("voice_call_through_turn_only", |d| {
        Box::pin(on(d, Net::Relay, "relay", relay_voice))
    }),
    ("wrong_turn_secret_ends_the_call", |d| {
        Box::pin(on(d, Net::RelayWrongSecret, "wrong-secret", wrong_secret))
    }),
    ("killed_browser_ends_the_call", |d| {
        Box::pin(on(d, Net::Direct, "killed", killed_browser))
    }),
    (
        "group_of_three_then_four_and_one_leaves",
        crate::group::three_then_four,
    ),
    (
        "microphone_switched_mid_call",
        crate::group::microphone_switch,
    ),
    ("screen_shared_and_stopped", crate::group::screen_share),
];

async fn on(dirs: &Dirs, net: Net, name: &str, body: Body) -> Result<()> {
    on_with(dirs, net, name, &[], body).await
}

/// Starts a stack with `extra` members beside alice and bob, runs `body` on it, keeps
/// screenshots of every page if it fails, stops it.
pub async fn on_with(dirs: &Dirs, net: Net, name: &str, extra: &[Extra], body: Body) -> Result<()> {
    let stack = Stack::start_with(net, dirs, extra).await?;
    let result = body(&stack).await;
    if result.is_err() {
        for side in stack.sides() {
            let _ = side
                .page
                .shot(&format!("FAILED-{name}-{}", side.page.user))
                .await;
        }
    }
    stack.stop().await;
    result
}

/// alice calls bob, bob accepts; both pages show the call.
async fn call(s: &Stack, kind: &str) -> Result<()> {
    let (a, b) = (&s.alice.page, &s.bob.page);
    a.fill("#dial-ids", "bob").await?;
    a.click(&format!("[data-action=call][data-type={kind}]"))
        .await?;
    b.wait_page("incoming").await?;
    b.click("[data-action=accept]").await?;
    a.wait_page("calling").await?;
    b.wait_page("calling").await?;
    Ok(())
}

fn audio_packets(s: &Value) -> f64 {
    num(peer(s), "/inboundAudio/packetsReceived")
}

fn audio_level(s: &Value) -> f64 {
    num(peer(s), "/inboundAudio/audioLevel")
}

/// The other side's tone arrives: packets keep coming and they are not silence.
async fn hears(side: &Side) -> Result<()> {
    let first = wait_stats(
        &side.page,
        "audio packets from the other side",
        MEDIA_WAIT,
        |s| audio_packets(s) > 0.0,
    )
    .await?;
    let then = audio_packets(&first);
    wait_stats(
        &side.page,
        "more audio packets and a non-zero level",
        MEDIA_WAIT,
        |s| audio_packets(s) > then + 25.0 && audio_level(s) > 0.01,
    )
    .await?;
    Ok(())
}

/// Both peer connections closed and every captured track ended (the capture light is off).
async fn released(side: &Side) -> Result<()> {
    wait_stats(
        &side.page,
        "every peer closed and every track ended",
        MEDIA_WAIT,
        |s| {
            num(s, "/openPeers") == 0.0
                && num(s, "/closedPeers") >= 1.0
                && s.pointer("/localTracksEnded") == Some(&Value::Bool(true))
        },
    )
    .await?;
    Ok(())
}

fn voice_mute_hang_up(s: &Stack) -> Pin<Box<dyn Future<Output = Result<()>> + '_>> {
    Box::pin(async move {
        call(s, "voice").await?;
        hears(&s.alice).await?;
        hears(&s.bob).await?;
        s.alice.page.shot("voice-alice").await?;
        s.bob.page.shot("voice-bob").await?;

        s.alice.page.click("[data-action=mute]").await?;
        wait_stats(
            &s.bob.page,
            "silence while alice is muted",
            MEDIA_WAIT,
            |st| {
                st.pointer("/peers/0/inboundAudio/audioLevel").is_some() && audio_level(st) < 0.001
            },
        )
        .await?;
        s.alice.page.shot("voice-alice-muted").await?;
        s.alice.page.click("[data-action=mute]").await?;
        wait_stats(
            &s.bob.page,
            "alice's tone again after unmuting",
            MEDIA_WAIT,
            |st| audio_level(st) > 0.01,
        )
        .await?;

        s.alice.page.click("[data-action=hang-up]").await?;
        released(&s.alice).await?;
        released(&s.bob).await?;
        s.alice.page.wait_page("home").await?;
        s.bob.page.wait_page("home").await?;
        Ok(())
    })
}

fn video_call(s: &Stack) -> Pin<Box<dyn Future<Output = Result<()>> + '_>> {
    Box::pin(async move {
        call(s, "video").await?;
        for side in [&s.alice, &s.bob] {
            let first = wait_stats(&side.page, "decoded video frames", MEDIA_WAIT, |st| {
                num(peer(st), "/inboundVideo/framesDecoded") > 0.0
            })
            .await?;
            let then = num(peer(&first), "/inboundVideo/framesDecoded");
            wait_stats(
                &side.page,
                "more frames, shown in a sized <video>",
                MEDIA_WAIT,
                |st| {
                    num(peer(st), "/inboundVideo/framesDecoded") > then + 10.0
                        && num(peer(st), "/remoteVideo/videoWidth") > 0.0
                        && num(peer(st), "/remoteVideo/videoHeight") > 0.0
                },
            )
            .await?;
        }
        s.alice.page.shot("video-alice").await?;
        s.bob.page.shot("video-bob").await?;
        s.bob.page.click("[data-action=hang-up]").await?;
        released(&s.alice).await?;
        released(&s.bob).await?;
        Ok(())
    })
}

fn relay_voice(s: &Stack) -> Pin<Box<dyn Future<Output = Result<()>> + '_>> {
    Box::pin(async move {
        call(s, "voice").await?;
        hears(&s.alice).await?;
        hears(&s.bob).await?;
        for side in [&s.alice, &s.bob] {
            let st = crate::stats::stats(&side.page).await?;
            let (local, remote) = (
                text(peer(&st), "/selectedPair/local"),
                text(peer(&st), "/selectedPair/remote"),
            );
            ensure!(
                local == "relay" && remote == "relay",
                "{}: the selected candidate pair is {local}/{remote}, not relay/relay",
                side.page.user
            );
        }
        s.alice.page.click("[data-action=hang-up]").await?;
        released(&s.alice).await?;
        released(&s.bob).await?;
        Ok(())
    })
}

fn wrong_secret(s: &Stack) -> Pin<Box<dyn Future<Output = Result<()>> + '_>> {
    Box::pin(async move {
        call(s, "voice").await?;
        // coturn refuses every allocation (401), so ICE stays "new" forever: the page's own
        // media timeout must end the call, saying why.
        s.alice
            .page
            .wait_for_within("[data-outcome=mediaFailed]", GIVE_UP_WAIT)
            .await?;
        let banner = s.alice.page.text("[data-outcome=mediaFailed]").await?;
        ensure!(
            banner.contains("Couldn't connect"),
            "alice's banner says {banner:?}"
        );
        s.alice.page.shot("wrong-secret-alice").await?;
        // Why: the browser was refused by coturn and never connected.
        let st = crate::stats::stats(&s.alice.page).await?;
        let log: Vec<&str> = st
            .pointer("/recentLog")
            .and_then(Value::as_array)
            .map(|l| l.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        ensure!(
            log.iter().any(|l| l.contains("ICE candidate error 401")),
            "alice's media log shows no 401 from TURN: {log:?}"
        );
        ensure!(
            !log.iter().any(|l| l.contains("connection connected")),
            "alice's media connected after all: {log:?}"
        );
        s.bob.page.wait_page("home").await?;
        released(&s.alice).await?;
        released(&s.bob).await?;
        Ok(())
    })
}

fn killed_browser(s: &Stack) -> Pin<Box<dyn Future<Output = Result<()>> + '_>> {
    Box::pin(async move {
        call(s, "voice").await?;
        hears(&s.alice).await?;
        let killed = std::time::Instant::now();
        s.bob.kill_browser()?;
        s.alice
            .page
            .wait_for_within("[data-page=calling][data-media=reconnecting]", MEDIA_WAIT)
            .await?;
        let reconnecting = killed.elapsed();
        s.alice.page.shot("killed-alice-reconnecting").await?;
        s.alice
            .page
            .wait_for_within("[data-outcome=mediaFailed]", GIVE_UP_WAIT)
            .await?;
        print!(
            "(reconnecting after {:.1} s, ended after {:.1} s) ",
            reconnecting.as_secs_f64(),
            killed.elapsed().as_secs_f64()
        );
        let banner = s.alice.page.text("[data-outcome=mediaFailed]").await?;
        ensure!(
            banner.to_lowercase().contains("connection lost"),
            "alice's banner says {banner:?}"
        );
        released(&s.alice).await?;
        Ok(())
    })
}
