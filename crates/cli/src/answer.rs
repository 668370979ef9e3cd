//! `beckon answer`: waits for calls and accepts or declines them, by flag or by asking.
//!
//! A question on a terminal can outlive the call it is about (the caller gives up, the
//! ringing times out, another device answers), so an answer typed at the prompt only acts
//! if the call it was asked for is still the one ringing.

use std::io::BufRead;
use std::time::Duration;

use beckon_client::manager::{Connection, Notice};
use beckon_client::{CallManager, Phase};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::args::{AnswerArgs, ConnArgs};
use crate::call::sleep_until;
use crate::output::{self, Exit, Printer};
use crate::session;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Ask,
    Accept,
    Decline,
}

pub async fn run(conn: &ConnArgs, args: AnswerArgs) -> Exit {
    let mut out = Printer::new();
    // The ringing time is the caller's; this only matters for calls made from here.
    let (manager, mut updates) = match session::manager(conn, "answer", 60).await {
        Ok(m) => m,
        Err(e) => {
            out.error(&e);
            return Exit::Error;
        }
    };
    let mode = if args.auto_accept {
        Mode::Accept
    } else if args.auto_decline {
        Mode::Decline
    } else {
        Mode::Ask
    };
    let mut interrupts = session::interrupts();
    let mut lines = (mode == Mode::Ask).then(stdin_lines);
    if let Some(s) = args.hangup_after {
        out.in_call_hint = format!("Hanging up in {s} s (Ctrl-C to hang up now).");
    }
    let me = manager.client().user_id().to_owned();
    out.line(&format!("Waiting for calls as {me} (Ctrl-C to quit)…"));

    // The call a prompt on screen is about.
    let mut asking: Option<String> = None;
    let mut announced: Option<String> = None;
    let mut hang_up_at: Option<Instant> = None;
    let exit = loop {
        tokio::select! {
            update = updates.next() => {
                let Some(update) = update else {
                    out.error("the connection to the server ended");
                    break Exit::ConnectionLost;
                };
                out.update(&update);
                if let Connection::Disconnected { .. } = update.snapshot.connection {
                    break Exit::ConnectionLost;
                }
                match &update.notice {
                    Notice::Changed if update.snapshot.phase == Phase::Incoming => {
                        let Some(call) = &update.snapshot.call else { continue };
                        if call.call_id.is_none() || announced == call.call_id {
                            continue;
                        }
                        announced = call.call_id.clone();
                        out.line(&output::incoming(call));
                        match mode {
                            Mode::Accept | Mode::Decline => {
                                act(&manager, call.call_id.as_deref().unwrap_or_default(), mode).await
                            }
                            Mode::Ask => {
                                asking = call.call_id.clone();
                                out.prompt("Accept? [y/N]");
                            }
                        }
                    }
                    Notice::Accepted { .. } => {
                        hang_up_at = args.hangup_after.map(|s| Instant::now() + Duration::from_secs(s));
                    }
                    Notice::Finished { outcome, call } => {
                        hang_up_at = None;
                        if asking.is_some() && asking == call.call_id {
                            asking = None;
                        }
                        if args.once {
                            break Exit::of(outcome, call);
                        }
                    }
                    _ => {}
                }
            }
            line = next_line(&mut lines) => {
                out.prompt_answered(&line);
                let Some(call_id) = asking.take() else { continue };
                let yes = matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes");
                // Refused if that call stopped ringing meanwhile: the answer is not for
                // whatever rings next.
                act(&manager, &call_id, if yes { Mode::Accept } else { Mode::Decline }).await;
            }
            Some(()) = interrupts.recv() => {
                out.interrupted();
                let now = manager.snapshot();
                let accepting = now.phase == Phase::Incoming && now.call.is_some_and(|c| c.working);
                if now.phase == Phase::InCall || accepting {
                    let _ = manager.hang_up().await;
                } else {
                    // Quitting is not declining: a call ringing here goes on ringing on the
                    // user's other devices.
                    out.line("Stopped waiting for calls.");
                    break if args.once { Exit::Cancelled } else { Exit::Ok };
                }
            }
            _ = sleep_until(hang_up_at) => {
                hang_up_at = None;
                let _ = manager.hang_up().await;
            }
        }
    };
    // Waits for a hang-up, cancel or decline still on its way, then signs out.
    manager.logout().await;
    exit
}

async fn act(manager: &CallManager, call_id: &str, mode: Mode) {
    let _ = match mode {
        Mode::Accept => manager.accept_call(call_id).await,
        Mode::Decline | Mode::Ask => manager.decline_call(call_id).await,
    };
    // Refused only when the call is already over, which its own update reports.
}

/// Lines typed on stdin. A plain thread, because a blocking read cannot be cancelled and
/// would keep the runtime from shutting down; the process exit ends the thread.
fn stdin_lines() -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel(16);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The next line typed; once stdin is closed, never (calls then ring until they stop).
async fn next_line(lines: &mut Option<mpsc::Receiver<String>>) -> String {
    if let Some(rx) = lines {
        if let Some(line) = rx.recv().await {
            return line;
        }
    }
    *lines = None;
    std::future::pending().await
}
