//! Compiles the gRPC example's protocol with protox (pure Rust): no `protoc` to install.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = protox::compile(["proto/helloworld.proto"], ["proto"])?;
    tonic_prost_build::configure().compile_fds(files)?;
    println!("cargo:rerun-if-changed=proto/helloworld.proto");
    Ok(())
}
