//! `bench_server` with mimalloc as the global allocator: entries are allocated by request
//! handlers and freed by the audit writer on another thread, a pattern glibc's malloc serves
//! with arena locks (see BENCHMARKS.md).

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "common/bench_server.rs"]
mod server;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    server::main()
}
