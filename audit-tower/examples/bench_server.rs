//! The server behind `bench/layer_load.sh`: one JSON route, in one of several setups.
//!
//! ```sh
//! cargo run --release -p audit-tower --example bench_server -- MODE PORT DIR
//! ```
//! MODE: `bare`, `metadata`, `request_response`, `trace` (tower-http's TraceLayer with a JSON
//! tracing subscriber on a non-blocking file), `strict` (RequestResponse, policy Strict, JSONL
//! synced every batch). DIR receives the log files. `bench_server_mimalloc` is the same server
//! with mimalloc as the global allocator.

#[path = "common/bench_server.rs"]
mod server;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    server::main()
}
