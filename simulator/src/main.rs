//! The `simulator` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use simulator::report::summary_table;

/// Monte Carlo of what an ACO program saves Medicare, through acorn's own rule engines.
#[derive(Parser)]
#[command(name = "simulator", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Combines the outputs of `run --shard i/n` into exactly the files an unsharded run writes.
    Merge {
        /// The shard output directories (each with shard.json), in any order.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Where to write the merged output.
        #[arg(long)]
        out: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Merge { dirs, out } => simulator::merge::merge(&dirs, &out).map(|s| {
            println!("{}", summary_table(&s));
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("simulator: {e}");
            ExitCode::FAILURE
        }
    }
}
