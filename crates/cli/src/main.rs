//! `beckon`: the Beckon client for a terminal, for scripts and for trying a server out.

mod answer;
mod args;
mod call;
mod history;
mod output;
mod session;

use clap::Parser;

use args::{Cli, Command};
use output::Exit;

fn main() -> std::process::ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap would exit with 2, which here means "declined".
            let _ = e.print();
            let exit = if e.use_stderr() {
                Exit::Error
            } else {
                Exit::Ok
            };
            return exit.into();
        }
    };
    // Diagnostics only on request and only on stderr: stdout is for the call's progress.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("beckon: cannot start the runtime: {e}");
            return Exit::Error.into();
        }
    };
    let exit = runtime.block_on(async move {
        match cli.command {
            Command::Call(args) => call::run(&cli.conn, args).await,
            Command::Answer(args) => answer::run(&cli.conn, args).await,
            Command::History(args) => history::run(&cli.conn, args).await,
        }
    });
    exit.into()
}
