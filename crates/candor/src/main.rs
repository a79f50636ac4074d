//! The `candor` binary: the command line over every room.
use clap::{Parser, Subcommand};

mod dsa_cmd;
mod exchange_cmd;
mod hash_cmd;
mod index_cmd;
mod list_cmd;
mod log_cmd;
mod policy_cmd;
mod scan_cmd;
mod serve_cmd;

#[derive(Parser)]
#[command(
    name = "candor",
    version,
    about = "Candor: the open content-matching engine"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Hash files: md5, sha1 and sha256 of everything, PDQ of images (JSON Lines or TSV).
    Hash(hash_cmd::HashArgs),
    /// Build and inspect PDQ index files.
    #[command(subcommand)]
    Index(IndexCommand),
    /// Match hashes or images against a bank file or an index file.
    Match(index_cmd::MatchArgs),
    /// Run the service (HTTP API, match index, transparency log).
    Serve(serve_cmd::ServeArgs),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(serve_cmd::TokenCommand),
    /// Verify the transparency log and notice proofs.
    #[command(subcommand)]
    Log(log_cmd::LogCommand),
    /// Explain what a policy file does before it is published (simulator and lints).
    #[command(subcommand)]
    Policy(policy_cmd::PolicyCommand),
    /// Statements of reasons for the EU DSA Transparency Database: export, submit.
    #[command(subcommand)]
    Dsa(dsa_cmd::DsaCommand),
    /// Scan one file with a running service: exit 0 clean, 1 not clean (reason on stderr), 2
    /// could not check. Flags or CANDOR_* variables (matrix-content-scanner's `scan.script`).
    ScanFile(scan_cmd::ScanFileArgs),
    /// Import a hash-list file into a bank (lines, hma-csv, stopncii, tcap, ncmec): checked
    /// whole first, then one atomic write; a malformed record imports nothing.
    Import(list_cmd::ImportArgs),
    /// Export a bank's live signals as a hash-list file.
    Export(list_cmd::ExportArgs),
    /// Keep banks in sync with hash-sharing sources (`[[exchange]]` in the config): sync, status.
    #[command(subcommand)]
    Exchange(exchange_cmd::ExchangeCommand),
}

#[derive(Subcommand)]
enum IndexCommand {
    /// Build an index file from a bank file.
    Build(index_cmd::BuildArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Hash(args) => hash_cmd::run(args),
        Command::Index(IndexCommand::Build(args)) => index_cmd::run_build(args),
        Command::Match(args) => index_cmd::run_match(args),
        Command::Log(cmd) => log_cmd::run(cmd),
        Command::Serve(args) => serve_cmd::run_serve(args),
        Command::Token(cmd) => serve_cmd::run_token(cmd),
        Command::Policy(cmd) => policy_cmd::run(cmd),
        Command::Dsa(cmd) => dsa_cmd::run(cmd),
        Command::ScanFile(args) => scan_cmd::run(args),
        Command::Import(args) => list_cmd::run_import(args),
        Command::Export(args) => list_cmd::run_export(args),
        Command::Exchange(cmd) => exchange_cmd::run(cmd),
    };
    match result {
        Ok(code) => code,
        // The reader went away (`candor hash dir | head`): stop quietly, like other filters.
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("candor: error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
