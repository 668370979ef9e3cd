//! What the two custom test runners (tests/e2e, tests/media) share: reading the name
//! filters `cargo test` passes, and running the whole suite under a time budget on its own
//! runtime, with one exit code.

use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;

/// Positional arguments are name filters; libtest's own flags (as `cargo test` passes
/// them) are accepted and ignored, with the values of those that take one.
pub fn filters(args: &[String]) -> Vec<String> {
    const WITH_VALUE: [&str; 6] = [
        "--test-threads",
        "--skip",
        "--color",
        "--format",
        "--logfile",
        "-Z",
    ];
    let mut out = Vec::new();
    let mut skip_next = false;
    for a in args {
        if std::mem::take(&mut skip_next) {
            continue;
        }
        if WITH_VALUE.contains(&a.as_str()) {
            skip_next = true;
        } else if !a.starts_with('-') {
            out.push(a.clone());
        }
    }
    out
}

/// Runs `suite` on a fresh multi-threaded runtime, failing it after `budget`: a hang fails
/// CI in minutes rather than at its time limit. `what` names the suite in the messages.
pub fn run_bounded(
    what: &str,
    budget: Duration,
    suite: impl Future<Output = Result<()>>,
) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start a tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        tokio::time::timeout(budget, suite)
            .await
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the {what} run took over {budget:?}")))
    });
    // What the suite started is gone by now (dropped inside it).
    runtime.shutdown_timeout(Duration::from_secs(2));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\n{what} run failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}
