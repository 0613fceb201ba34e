//! `rdapfleet-worker`: flags, tracing, then the library.

use std::process::ExitCode;

use rdapfleet_worker::cli::Cli;

const BIN: &str = "rdapfleet-worker";

fn main() -> ExitCode {
    let cli: Cli = match rdapfleet_cli::parse(BIN) {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    rdapfleet_worker::logging::init(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{BIN}: error: starting the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let mut stdout = std::io::stdout().lock();
    match runtime.block_on(rdapfleet_worker::run_command(&cli.command, &mut stdout)) {
        Ok(done) => {
            if let Some(note) = done.note {
                eprintln!("{BIN}: {note}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{BIN}: error: {}", e.chain());
            ExitCode::from(e.exit_code())
        }
    }
}
