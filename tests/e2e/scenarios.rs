//! What a user does, through the UI: sign in, call, answer from the popup, decline,
//! cancel, let it ring out, call someone offline, get a busy caller while talking, and a
//! group call. Each scenario starts and ends with both apps idle on the home page.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use beckon_client::manager::{Notice, Outcome, Phase};
use beckon_client::{CallManager, CallType, ClientConfig, Connection, MachineConfig, Updates};

use crate::app::App;
use crate::World;

pub type Scenario = for<'a> fn(&'a World) -> Pin<Box<dyn Future<Output = Result<()>> + 'a>>;

/// Runs first whatever the filter: the others need signed-in apps.
pub const SIGN_IN: (&str, Scenario) = ("first_run_sign_in", |w| Box::pin(sign_in(w)));

pub const ALL: &[(&str, Scenario)] = &[
    ("call_accept_busy_hang_up", |w| {
        Box::pin(call_accept_busy_hang_up(w))
    }),
    ("answered_while_put_away", |w| {
        Box::pin(answered_while_put_away(w))
    }),
    ("decline", |w| Box::pin(decline(w))),
    ("cancel_with_esc", |w| Box::pin(cancel_with_esc(w))),
    ("no_answer_then_missed", |w| {
        Box::pin(no_answer_then_missed(w))
    }),
    ("offline_callee", |w| Box::pin(offline_callee(w))),
    ("group_call_end_for_all", |w| Box::pin(group_call(w))),
];

/// Enough for every ringing call here, once the apps are up; see RING_SECONDS.
const RING_OUT: Duration = Duration::from_secs(20);
const ESCAPE: &str = "\u{e00c}";

async fn sign_in(w: &World) -> Result<()> {
    for (app, name) in [(&w.alice, "Alice Martin"), (&w.bob, "Bob Stone")] {
        // A fresh install opens on the first-run settings.
        app.wait_for("[data-page=settings][data-mode=first]")
            .await?;
        if app.user == "alice" {
            app.shot("settings-first-run").await?;
        }
        // Settings are tried before they are saved: a server that is not there is
        // refused next to the address, and what was typed stays.
        app.fill("#set-server", "http://127.0.0.1:1/ws").await?;
        app.fill("#set-user", app.user).await?;
        app.fill("#set-name", name).await?;
        app.click("button[type=submit]").await?;
        app.wait_for("#set-server-error").await?;
        let error = app.text("#set-server-error").await?;
        ensure!(
            error.contains("Cannot reach the server at 127.0.0.1:1"),
            "unexpected settings error: {error:?}"
        );
        if app.user == "alice" {
            app.shot("settings-error").await?;
        }
        app.fill("#set-server", &w.server_url).await?;
        app.click("button[type=submit]").await?;
        app.wait_page("home").await?;
        app.wait_for("[data-conn=connected]").await?;
    }
    w.alice.shot("home-first").await?;
    start_at_login(&w.alice).await
}

/// The settings' "Start Beckon when I sign in" makes the desktop's login item (XDG
/// autostart here), which starts the app in the tray, and unticking removes it.
async fn start_at_login(app: &App) -> Result<()> {
    let item = app.home.path().join(".config/autostart/Beckon.desktop");
    app.click("[data-action=edit-settings]").await?;
    app.wait_for("[data-field=startAtLogin]").await?;
    ensure!(!item.exists(), "a login item before asking for one");
    app.click("[data-field=startAtLogin]").await?;
    wait_file(&item, true).await?;
    let entry = std::fs::read_to_string(&item)?;
    ensure!(
        entry.contains("--in-tray"),
        "the login item starts the app in the tray: {entry}"
    );
    app.shot("settings-start-at-login").await?;
    app.click("[data-field=startAtLogin]").await?;
    wait_file(&item, false).await?;
    app.click("[data-action=cancel-settings]").await?;
    app.wait_page("home").await
}

async fn wait_file(path: &std::path::Path, present: bool) -> Result<()> {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while path.exists() != present {
        if std::time::Instant::now() > deadline {
            bail!(
                "{} is {} after 5 s",
                path.display(),
                if present { "missing" } else { "still there" }
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Alice calls bob from the home page; returns once bob's popup is up and driven.
async fn alice_rings_bob(w: &World, call_type: &str) -> Result<()> {
    w.alice.fill("#dial-ids", "bob").await?;
    w.alice
        .click(&format!("[data-action=call][data-type={call_type}]"))
        .await?;
    w.alice.wait_page("waiting").await?;
    w.bob.to_popup().await?;
    let title = w.bob.text("#incoming-title").await?;
    let sub = w.bob.text("#incoming-sub").await?;
    ensure!(title == "Alice Martin", "popup shows caller {title:?}");
    ensure!(
        sub.to_lowercase().contains(call_type),
        "popup says {sub:?} for a {call_type} call"
    );
    Ok(())
}

/// The OS window title (task bar, window switcher) says who bob talks to, and for how long.
async fn titled_in_call_with_alice(w: &World) -> Result<()> {
    w.desktop
        .wait_window_titled(
            "^In call with Alice Martin — 0:[0-9]{2}$",
            Duration::from_secs(5),
        )
        .await
}

async fn call_accept_busy_hang_up(w: &World) -> Result<()> {
    let seen = w.desktop.notifications().len();
    alice_rings_bob(w, "voice").await?;
    w.bob.shot("popup").await?;
    w.desktop
        .screenshot(&w.shots.join("screen-popup-over-apps.png"))?;
    let status = w.alice.text(".stage-status").await?;
    ensure!(status == "Ringing", "alice's waiting page says {status:?}");
    w.alice.shot("waiting").await?;

    let n = w
        .desktop
        .wait_notification(seen, "Incoming voice call", Duration::from_secs(5))
        .await?;
    ensure!(
        n.app == "Beckon" && n.body.contains("Alice Martin (alice)"),
        "incoming notification: {n:?}"
    );
    ensure!(
        n.actions == ["accept", "Accept", "decline", "Decline"],
        "the incoming notification offers Accept and Decline: {n:?}"
    );
    let withdrawn = w.desktop.withdrawn();

    // The main window shows the call too, for a user who is looking at it; the windows'
    // titles (task bar, window switcher) say who is calling.
    w.bob.to_main().await?;
    w.bob.wait_page("incoming").await?;
    w.desktop
        .wait_window_titled("^Incoming call — Alice Martin$", Duration::from_secs(5))
        .await?;
    w.bob.shot("incoming").await?;

    w.bob.to_popup().await?;
    w.bob.click_closing("[data-action=accept]").await?;
    w.bob.wait_popup_closed().await?;
    // Answered: the notification that it rings is taken down.
    w.desktop
        .wait_withdrawn(withdrawn, Duration::from_secs(5))
        .await?;
    w.bob.wait_page("calling").await?;
    // The popup is gone: this is the main window's title.
    titled_in_call_with_alice(w).await?;
    w.alice.wait_page("calling").await?;
    // Debian's WebKitGTK has no WebRTC: the page says so and offers browser mode.
    w.alice
        .wait_for("[data-page=calling][data-media=unsupported]")
        .await?;
    w.alice.wait_for("[data-action=open-in-browser]").await?;
    // Bob's name came with his answer: alice sees who she is talking to, not an ID.
    let peer = w.alice.text("#stage-title").await?;
    ensure!(peer == "Bob Stone", "alice's calling page names {peer:?}");
    w.alice.shot("calling").await?;
    w.bob.shot("calling-callee").await?;

    // Carol calls bob while he talks: she hears busy, bob is not disturbed.
    let (carol, mut carol_updates) = sdk_user(w, "carol", "Carol Diaz").await?;
    carol
        .call(vec!["bob".into()], CallType::Voice)
        .await
        .context("carol's call")?;
    let outcome = finished(&mut carol_updates).await?;
    ensure!(
        outcome == Outcome::Busy,
        "carol's call to bob ended {outcome:?}"
    );
    carol.logout().await;
    ensure!(
        !w.bob.popup_shown().await?,
        "bob got a popup for carol's call while in a call"
    );
    w.bob.wait_page("calling").await?;

    // Hanging up ends the call on both sides.
    w.alice.click("[data-action=hang-up]").await?;
    w.alice.wait_for("[data-outcome=hungUp]").await?;
    w.bob.wait_for("[data-outcome=endedByPeer]").await?;
    w.bob.shot("home-ended-by-peer").await?;
    // Carol's call left bob at most a discreet entry in his recent calls.
    w.bob
        .wait_for(".recent.recent-busy")
        .await
        .context("carol's busy call in bob's recent calls")?;
    w.bob.shot("home-recents").await?;
    w.alice.shot("home-hung-up").await?;
    dismiss(&w.alice).await?;
    dismiss(&w.bob).await
}

/// Bob's main window is put away (to the tray): the call he answers in the popup comes
/// forward in it, on the calling page, where he can see it and hang up.
async fn answered_while_put_away(w: &World) -> Result<()> {
    w.bob.put_main_away().await?;
    alice_rings_bob(w, "voice").await?;
    w.bob.click_closing("[data-action=accept]").await?;
    w.bob
        .wait_main_shown(true)
        .await
        .context("bob answered in the popup, and his main window stayed away")?;
    w.bob.wait_page("calling").await?;
    titled_in_call_with_alice(w).await?;
    w.desktop
        .screenshot(&w.shots.join("screen-answered-while-put-away.png"))?;
    w.alice.wait_page("calling").await?;
    w.alice.click("[data-action=hang-up]").await?;
    w.alice.wait_for("[data-outcome=hungUp]").await?;
    w.bob.wait_for("[data-outcome=endedByPeer]").await?;
    dismiss(&w.alice).await?;
    dismiss(&w.bob).await
}

async fn decline(w: &World) -> Result<()> {
    alice_rings_bob(w, "video").await?;
    w.bob.shot("popup-video").await?;
    w.bob.click_closing("[data-action=decline]").await?;
    w.bob.wait_popup_closed().await?;
    w.alice.wait_for("[data-outcome=declined]").await?;
    w.bob.wait_for("[data-outcome=rejected]").await?;
    w.alice.shot("home-declined").await?;
    dismiss(&w.alice).await?;
    dismiss(&w.bob).await
}

async fn cancel_with_esc(w: &World) -> Result<()> {
    let seen = w.desktop.notifications().len();
    alice_rings_bob(w, "voice").await?;
    w.bob.to_main().await?;
    w.alice.press(ESCAPE).await?;
    // The popup closes by itself when the caller gives up.
    w.bob.wait_popup_closed().await?;
    w.alice.wait_for("[data-outcome=cancelled]").await?;
    w.bob.wait_for("[data-outcome=cancelledByCaller]").await?;
    w.bob.shot("home-cancelled-by-caller").await?;
    // A caller who hangs up first leaves a missed call, and bob is told so.
    let n = w
        .desktop
        .wait_notification(seen, "Missed call", Duration::from_secs(5))
        .await?;
    ensure!(
        n.body.contains("Alice Martin") && n.body.contains("hung up"),
        "missed notification: {n:?}"
    );
    dismiss(&w.alice).await?;
    dismiss(&w.bob).await
}

async fn no_answer_then_missed(w: &World) -> Result<()> {
    let seen = w.desktop.notifications().len();
    alice_rings_bob(w, "voice").await?;
    w.bob.to_main().await?;
    w.alice
        .wait_for_within("[data-outcome=noAnswer]", RING_OUT)
        .await?;
    w.alice.shot("home-no-answer").await?;
    w.bob.wait_popup_closed().await?;
    w.bob.wait_for("[data-outcome=missed]").await?;
    w.bob.wait_for(".recent.recent-missed").await?;
    w.bob.shot("home-missed").await?;
    let n = w
        .desktop
        .wait_notification(seen, "Missed call", Duration::from_secs(5))
        .await?;
    ensure!(
        n.body.contains("Alice Martin"),
        "missed notification: {n:?}"
    );
    dismiss(&w.alice).await?;
    dismiss(&w.bob).await
}

async fn offline_callee(w: &World) -> Result<()> {
    w.alice.fill("#dial-ids", "dave").await?;
    w.alice.press("\u{e007}").await?; // Enter places a voice call
    w.alice.wait_page("waiting").await?;
    w.alice
        .wait_for(".stage-status")
        .await
        .context("waiting status")?;
    let status = w.alice.text(".stage-status").await?;
    // The server cannot tell an unknown ID from a user who is signed out: the page says
    // both, and promises nothing.
    ensure!(
        status.starts_with("dave isn't online") && status.contains("mistyped"),
        "calling offline dave shows {status:?}"
    );
    // How long dave can still sign in and be rung: the server's deadline, counting down.
    let note = w.alice.text(r#"[data-note="not-online"]"#).await?;
    ensure!(
        note.starts_with("It rings if they sign in within 0:"),
        "the not-online note says {note:?}"
    );
    w.alice.shot("waiting-offline").await?;
    w.alice
        .wait_for_within("[data-outcome=unreachable]", RING_OUT)
        .await?;
    w.alice.shot("home-unreachable").await?;
    dismiss(&w.alice).await
}

async fn group_call(w: &World) -> Result<()> {
    let (carol, mut carol_updates) = sdk_user(w, "carol", "Carol Diaz").await?;
    w.alice.fill("#dial-ids", "bob, carol").await?;
    w.alice.click("[data-action=call][data-type=video]").await?;
    w.alice.wait_page("waiting").await?;
    w.alice
        .wait_for(".member[data-user=bob][data-state=received]")
        .await?;
    w.alice
        .wait_for(".member[data-user=carol][data-state=received]")
        .await?;
    w.alice.shot("waiting-group").await?;

    // Carol answers on the SDK; bob answers in the main window rather than the popup.
    let call_id = ringing(&mut carol_updates).await?;
    carol.accept_call(&call_id).await.context("carol accepts")?;
    w.bob.wait_page("incoming").await?;
    w.bob.click("[data-action=accept]").await?;
    w.bob.wait_popup_closed().await?;
    w.bob.wait_page("calling").await?;
    w.alice.wait_page("calling").await?;
    w.alice.wait_for(".stage-group").await?;
    w.alice
        .wait_for(".member[data-user=bob][data-state=accepted]")
        .await?;
    w.alice
        .wait_for(".member[data-user=carol][data-state=accepted]")
        .await?;
    w.alice.shot("calling-group").await?;
    w.bob.shot("calling-group-member").await?;

    w.alice.click("[data-action=end-call]").await?;
    w.alice.wait_for("[data-outcome=hungUp]").await?;
    w.bob.wait_for("[data-outcome=endedByPeer]").await?;
    // The banner says who ended it.
    let banner = w.bob.text("[data-outcome=endedByPeer]").await?;
    ensure!(
        banner.contains("Alice Martin ended the call for everyone"),
        "bob's banner: {banner:?}"
    );
    w.bob.shot("home-group-ended").await?;
    let outcome = finished(&mut carol_updates).await?;
    ensure!(
        outcome
            == Outcome::EndedByPeer {
                by: Some("alice".into())
            },
        "carol's group call ended {outcome:?}"
    );
    carol.logout().await;
    dismiss(&w.alice).await?;
    dismiss(&w.bob).await
}

/// Clears the outcome banner, so the next scenario's banner is its own.
async fn dismiss(app: &App) -> Result<()> {
    app.to_main().await?;
    if app.exists("[data-action=dismiss-banner]").await? {
        app.click("[data-action=dismiss-banner]").await?;
        app.wait_gone("[data-outcome]").await?;
    }
    app.wait_page("home").await
}

/// A third user on the SDK's call manager, signed in.
pub async fn sdk_user(w: &World, id: &str, name: &str) -> Result<(CallManager, Updates)> {
    let config = ClientConfig::new(&w.server_url, id).user_name(name);
    let (manager, mut updates) = CallManager::start(config, MachineConfig::default());
    let online = async {
        while let Some(u) = updates.next().await {
            if u.snapshot.connection == Connection::Connected {
                return true;
            }
        }
        false
    };
    match tokio::time::timeout(Duration::from_secs(10), online).await {
        Ok(true) => Ok((manager, updates)),
        _ => bail!("{id} could not sign in on the SDK"),
    }
}

async fn ringing(updates: &mut Updates) -> Result<String> {
    let wait = async {
        while let Some(u) = updates.next().await {
            if let (Phase::Incoming, Some(call)) = (&u.snapshot.phase, &u.snapshot.call) {
                if let Some(id) = &call.call_id {
                    return Some(id.clone());
                }
            }
        }
        None
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .ok()
        .flatten()
        .context("no incoming call on the SDK")
}

async fn finished(updates: &mut Updates) -> Result<Outcome> {
    let wait = async {
        while let Some(u) = updates.next().await {
            if let Notice::Finished { outcome, .. } = u.notice {
                return Some(outcome);
            }
        }
        None
    };
    tokio::time::timeout(RING_OUT, wait)
        .await
        .ok()
        .flatten()
        .context("the SDK user's call did not finish")
}
