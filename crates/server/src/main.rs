use clap::Parser;

use beckon_server::cli::{Cli, Command};
use beckon_server::store::StoreError;
use beckon_server::RunError;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let serve = match cli.command {
        Some(Command::Token(args)) => {
            return match args.mint() {
                Ok(token) => {
                    println!("{token}");
                    std::process::ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("beckon-server: {e}");
                    std::process::ExitCode::from(2)
                }
            };
        }
        Some(Command::Serve(args)) => args,
        None => cli.serve,
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&serve.log)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        // Colours only for a person watching; a log file stays greppable.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    let config = match serve.config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("beckon-server: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("beckon-server: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let listener = beckon_server::listener::bind(serve.listen)?;
        beckon_server::run(listener, config, shutdown_signal()).await
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("beckon-server: {e}");
            std::process::ExitCode::from(exit_code(&e))
        }
    }
}

/// sysexits(3) codes, so a supervisor can tell "another server has this database" (retry
/// later, or fix the unit) from a failed disk (look at the log before restarting).
fn exit_code(e: &RunError) -> u8 {
    match e {
        RunError::Store(StoreError::Locked { .. }) => 75, // EX_TEMPFAIL
        RunError::Store(_) => 70,                         // EX_SOFTWARE
        _ => 1,
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return ctrl_c.await.unwrap_or(()),
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
