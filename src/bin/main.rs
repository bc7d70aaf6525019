use loco_rs::cli;
use migration::Migrator;
use orders_flow::{app::App, cli_args};

// glibc malloc was about 40 % of the worker's CPU under load (perf: malloc,
// free, malloc_consolidate); see BENCHMARKS.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(reason) = cli_args::repeated_task_argument(&args) {
        eprintln!("error: {reason}");
        std::process::exit(1);
    }
    // Loco parses task arguments as `key:value`; the product documents `key=value`.
    cli_args::reexec_if_rewritten();
    cli_args::remember_start_mode(std::env::args());
    if let Err(err) = cli::main::<App, Migrator>().await {
        eprintln!("error: {err}");
        std::process::exit(1);
    }
}
