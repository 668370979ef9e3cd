//! `beckon call`: rings, follows the call until it is over, and says how it went in the
//! exit status.

use std::time::Duration;

use beckon_client::manager::{Connection, Notice};
use beckon_client::CallType;
use tokio::time::Instant;

use crate::args::{CallArgs, ConnArgs};
use crate::output::{self, Exit, Printer};
use crate::session;

pub async fn run(conn: &ConnArgs, args: CallArgs) -> Exit {
    let mut out = Printer::new();
    let (manager, mut updates) = match session::manager(conn, "call", args.timeout).await {
        Ok(m) => m,
        Err(e) => {
            out.error(&e);
            return Exit::Error;
        }
    };
    let mut interrupts = session::interrupts();
    if let Some(s) = args.hangup_after {
        out.in_call_hint = format!("Hanging up in {s} s (Ctrl-C to hang up now).");
    }
    let call_type = if args.video {
        CallType::Video
    } else {
        CallType::Voice
    };
    if let Err(e) = manager.call(args.users.clone(), call_type).await {
        out.error(&e.to_string());
        manager.logout().await;
        return Exit::Error;
    }
    // Nothing about the call is printed before this line: updates are read below.
    out.line(&format!(
        "Calling {} ({})…",
        args.users.join(", "),
        output::kind(call_type)
    ));

    let mut hang_up_at: Option<Instant> = None;
    let exit = loop {
        tokio::select! {
            update = updates.next() => {
                let Some(update) = update else {
                    out.error("the connection to the server ended");
                    break Exit::ConnectionLost;
                };
                out.update(&update);
                match &update.notice {
                    Notice::Accepted { .. } => {
                        hang_up_at = args.hangup_after.map(|s| Instant::now() + Duration::from_secs(s));
                    }
                    Notice::Finished { outcome, call } => {
                        break Exit::of(outcome, call);
                    }
                    _ => {}
                }
                // A call in progress has been finished by now; this is a drop before it began.
                if let Connection::Disconnected { .. } = update.snapshot.connection {
                    break Exit::ConnectionLost;
                }
            }
            Some(()) = interrupts.recv() => {
                out.interrupted();
                // Cancels while ringing, hangs up in a call; the outcome arrives as an update.
                // Refused only if the call just ended by itself, which is reported anyway.
                let _ = manager.hang_up().await;
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

/// A timer that never fires while there is nothing to time.
pub async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
