//! Group calls and the in-call controls, checked by what each browser's own `getStats`
//! says arrived from whom: a mesh of three, a fourth joining later, one leaving; a
//! microphone switched mid-call; a screen shared.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use serde_json::Value;

use crate::page::Page;
use crate::scenarios::Body;
use crate::stack::{Dirs, Extra, Net, Side, Stack};
use crate::stats::{num, stats, text, wait_stats};

/// Three or four browsers share two cores here: media takes longer to start than in 1:1.
const MEDIA_WAIT: Duration = Duration::from_secs(40);

const CAROL: Extra = ("carol", "Carol Reyes", 550.0);
const DAVE: Extra = ("dave", "Dave Okafor", 770.0);

/// This page's peer connection with `user`, if it has one.
pub fn peer_of<'a>(st: &'a Value, user: &str) -> Option<&'a Value> {
    st.pointer("/peers")?
        .as_array()?
        .iter()
        .find(|p| p.pointer("/userId").and_then(Value::as_str) == Some(user))
}

fn packets_from(st: &Value, user: &str) -> f64 {
    peer_of(st, user).map_or(0.0, |p| num(p, "/inboundAudio/packetsReceived"))
}

fn level_from(st: &Value, user: &str) -> f64 {
    peer_of(st, user).map_or(0.0, |p| num(p, "/inboundAudio/audioLevel"))
}

/// `side` hears each of `others`: packets keep coming from each and they are not silence.
async fn hears_each(side: &Side, others: &[&str]) -> Result<()> {
    let first = wait_stats(
        &side.page,
        &format!("audio packets from each of {others:?}"),
        MEDIA_WAIT,
        |st| others.iter().all(|o| packets_from(st, o) > 0.0),
    )
    .await?;
    let then: Vec<f64> = others.iter().map(|o| packets_from(&first, o)).collect();
    wait_stats(
        &side.page,
        &format!("more audio, not silence, from each of {others:?}"),
        MEDIA_WAIT,
        |st| {
            others
                .iter()
                .zip(&then)
                .all(|(o, t)| packets_from(st, o) > t + 25.0 && level_from(st, o) > 0.01)
        },
    )
    .await?;
    Ok(())
}

fn open_peers(st: &Value) -> Vec<String> {
    let mut ids: Vec<String> = st
        .pointer("/peers")
        .and_then(Value::as_array)
        .map(|ps| {
            ps.iter()
                .filter_map(|p| p.pointer("/userId").and_then(Value::as_str))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

async fn accept(page: &Page) -> Result<()> {
    page.wait_page("incoming").await?;
    page.click("[data-action=accept]").await?;
    page.wait_page("calling").await
}

async fn on_group(dirs: &Dirs, name: &str, extra: &[Extra], body: Body) -> Result<()> {
    crate::scenarios::on_with(dirs, Net::Direct, name, extra, body).await
}

pub fn three_then_four(d: &Dirs) -> Pin<Box<dyn Future<Output = Result<()>> + '_>> {
    Box::pin(on_group(d, "group", &[CAROL, DAVE], |s| {
        Box::pin(async move {
            let (alice, bob, carol, dave) = (&s.alice, &s.bob, &s.more[0], &s.more[1]);
            alice.page.fill("#dial-ids", "bob, carol").await?;
            alice
                .page
                .click("[data-action=call][data-type=voice]")
                .await?;
            accept(&bob.page).await?;
            accept(&carol.page).await?;
            alice.page.wait_page("calling").await?;
            hears_each(alice, &["bob", "carol"]).await?;
            hears_each(bob, &["alice", "carol"]).await?;
            hears_each(carol, &["alice", "bob"]).await?;

            // Bob, not the caller, brings dave in: everyone connects to him, nobody else
            // reconnects.
            let before: Vec<Value> = stats_of(&[alice, bob, carol]).await?;
            bob.page.fill("#invite-ids", "dave").await?;
            bob.page.click("[data-form=invite] [type=submit]").await?;
            accept(&dave.page).await?;
            for (side, others) in [
                (alice, ["bob", "carol", "dave"]),
                (bob, ["alice", "carol", "dave"]),
                (carol, ["alice", "bob", "dave"]),
                (dave, ["alice", "bob", "carol"]),
            ] {
                hears_each(side, &others).await?;
            }
            for (side, st) in [alice, bob, carol].into_iter().zip(&before) {
                let now = stats(&side.page).await?;
                ensure!(
                    num(&now, "/closedPeers") == num(st, "/closedPeers"),
                    "{}: a connection was closed when dave joined: {now}",
                    side.page.user
                );
            }
            for side in s.sides() {
                side.page
                    .shot(&format!("group-4-{}", side.page.user))
                    .await?;
            }

            // Carol leaves: exactly her connections close, on every side.
            let before: Vec<Value> = stats_of(&[alice, bob, dave]).await?;
            carol.page.click("[data-action=leave]").await?;
            carol.page.wait_page("home").await?;
            wait_stats(
                &carol.page,
                "every connection closed and every track ended",
                MEDIA_WAIT,
                |st| {
                    num(st, "/openPeers") == 0.0
                        && num(st, "/closedPeers") == 3.0
                        && st.pointer("/localTracksEnded") == Some(&Value::Bool(true))
                },
            )
            .await?;
            for (side, st) in [alice, bob, dave].into_iter().zip(&before) {
                let closed = num(st, "/closedPeers");
                let expected: Vec<String> = ["alice", "bob", "dave"]
                    .iter()
                    .filter(|u| **u != side.page.user)
                    .map(|u| u.to_string())
                    .collect();
                wait_stats(
                    &side.page,
                    "carol's connection closed, and only hers",
                    MEDIA_WAIT,
                    |now| open_peers(now) == expected && num(now, "/closedPeers") == closed + 1.0,
                )
                .await?;
            }
            let others: [(&Side, [&str; 2]); 3] = [
                (alice, ["bob", "dave"]),
                (bob, ["alice", "dave"]),
                (dave, ["alice", "bob"]),
            ];
            for (side, others) in others {
                hears_each(side, &others).await?;
            }
            alice.page.click("[data-action=end-call]").await?;
            for side in [alice, bob, dave] {
                side.page.wait_page("home").await?;
            }
            Ok(())
        })
    }))
}

/// Each side's stats, in order.
async fn stats_of(sides: &[&Side]) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    for side in sides {
        out.push(stats(&side.page).await?);
    }
    Ok(out)
}

/// alice calls bob (voice), bob accepts, both hear each other.
async fn one_to_one(s: &Stack) -> Result<()> {
    s.alice.page.fill("#dial-ids", "bob").await?;
    s.alice
        .page
        .click("[data-action=call][data-type=voice]")
        .await?;
    accept(&s.bob.page).await?;
    s.alice.page.wait_page("calling").await?;
    hears_each(&s.alice, &["bob"]).await?;
    hears_each(&s.bob, &["alice"]).await
}

pub fn microphone_switch(d: &Dirs) -> Pin<Box<dyn Future<Output = Result<()>> + '_>> {
    Box::pin(on_group(d, "mic-switch", &[], |s| {
        Box::pin(async move {
            one_to_one(s).await?;
            let page = &s.alice.page;
            page.click("[data-action=devices]").await?;
            page.wait_for("select[data-device=microphone]").await?;
            let st = stats(page).await?;
            let mics = st
                .pointer("/devices/microphone")
                .and_then(Value::as_array)
                .context("no microphone list in alice's stats")?;
            let current = track_label(&st, "audio");
            let other = mics
                .iter()
                .find(|m| m.pointer("/label").and_then(Value::as_str) != Some(current.as_str()))
                .and_then(|m| m.pointer("/deviceId").and_then(Value::as_str))
                .with_context(|| format!("alice has no second microphone: {mics:?}"))?
                .to_owned();
            let label = mics
                .iter()
                .find(|m| m.pointer("/deviceId").and_then(Value::as_str) == Some(other.as_str()))
                .and_then(|m| m.pointer("/label").and_then(Value::as_str))
                .unwrap_or_default()
                .to_owned();
            page.on_element("select[data-device=microphone]", |el| {
                let other = other.clone();
                async move { el.select_by_value(&other).await }
            })
            .await?;
            wait_stats(page, "the chosen microphone in use", MEDIA_WAIT, |st| {
                track_label(st, "audio") == label
            })
            .await?;
            page.shot("mic-switch-alice").await?;
            // Bob keeps hearing alice, from the new microphone.
            hears_each(&s.bob, &["alice"]).await?;
            let st = stats(page).await?;
            ensure!(
                text(&st, "/devices/chosen/microphone") == other,
                "alice's choice is not kept: {st}"
            );
            s.alice.page.click("[data-action=hang-up]").await?;
            s.bob.page.wait_page("home").await?;
            // The choice is the settings page's too, named as the system names it.
            page.wait_page("home").await?;
            page.click("header [data-action=edit-settings]").await?;
            page.wait_page("settings").await?;
            let shown = page
                .on_element("select[data-device=microphone]", |el| async move {
                    el.prop("value").await
                })
                .await?;
            ensure!(
                shown.as_deref() == Some(other.as_str()),
                "alice's settings show microphone {shown:?}, not {other}"
            );
            page.wd
                .execute(
                    "document.querySelector('select[data-device=microphone]').scrollIntoView({block: 'center'})",
                    vec![],
                )
                .await?;
            page.shot("devices-settings-alice").await
        })
    }))
}

/// The label of this page's live local track of `kind`.
fn track_label(st: &Value, kind: &str) -> String {
    st.pointer("/localTracks")
        .and_then(Value::as_array)
        .and_then(|ts| {
            ts.iter().find(|t| {
                t.pointer("/kind").and_then(Value::as_str) == Some(kind)
                    && t.pointer("/readyState").and_then(Value::as_str) == Some("live")
            })
        })
        .and_then(|t| t.pointer("/label").and_then(Value::as_str))
        .unwrap_or_default()
        .to_owned()
}

fn frames_from(st: &Value, user: &str) -> f64 {
    peer_of(st, user).map_or(0.0, |p| num(p, "/inboundVideo/framesDecoded"))
}

pub fn screen_share(d: &Dirs) -> Pin<Box<dyn Future<Output = Result<()>> + '_>> {
    Box::pin(on_group(d, "share", &[], |s| {
        Box::pin(async move {
            one_to_one(s).await?;
            s.alice.page.click("[data-action=share-screen]").await?;
            wait_stats(&s.alice.page, "alice sharing", MEDIA_WAIT, |st| {
                st.pointer("/sharing") == Some(&Value::Bool(true))
            })
            .await?;
            let first = wait_stats(&s.bob.page, "frames of alice's screen", MEDIA_WAIT, |st| {
                frames_from(st, "alice") > 0.0
            })
            .await?;
            let then = frames_from(&first, "alice");
            // Chromium's fake screen is 800x600 (its fake camera 640x480): the size says
            // which one arrived, and that bob's page shows it.
            wait_stats(
                &s.bob.page,
                "more frames of the screen, shown in a sized <video>",
                MEDIA_WAIT,
                |st| {
                    let p = peer_of(st, "alice").unwrap_or(&Value::Null);
                    frames_from(st, "alice") > then + 10.0
                        && num(p, "/inboundVideo/frameWidth") == 800.0
                        && num(p, "/remoteVideo/videoWidth") > 0.0
                },
            )
            .await?;
            s.bob.page.shot("share-bob").await?;
            s.alice.page.shot("share-alice").await?;
            s.alice.page.click("[data-action=share-screen]").await?;
            wait_stats(&s.alice.page, "sharing stopped", MEDIA_WAIT, |st| {
                st.pointer("/sharing") == Some(&Value::Bool(false))
            })
            .await?;
            s.bob
                .page
                .wait_gone("video[data-remote-video=alice]:not([hidden])")
                .await?;
            hears_each(&s.bob, &["alice"]).await?;
            s.alice.page.click("[data-action=hang-up]").await?;
            s.bob.page.wait_page("home").await
        })
    }))
}
