use clap::Parser;

// glibc malloc spent a fifth of ingest time in fragmentation handling (perf); mimalloc does not.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    // Warnings of cowrieql's own (waiting for a lock, …) by default; COWRIEQL_LOG=debug etc.
    let filter = tracing_subscriber::EnvFilter::try_from_env("COWRIEQL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("cowrieql=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .without_time()
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
    let cli = cowrieql::cli::Cli::parse();
    let code = match cowrieql::cli::run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", cowrieql::store::errors::describe(&e));
            2
        }
    };
    std::process::exit(code);
}
