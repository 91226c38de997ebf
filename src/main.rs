use clap::Parser;

// glibc malloc spent a fifth of ingest time in fragmentation handling (perf); mimalloc does not.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("COWRIEQL_LOG"))
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
