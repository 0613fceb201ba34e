//! Compiles `proto/rdapfleet/v1/*.proto` with protox (pure Rust: no protoc on any machine).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = "proto";
    println!("cargo:rerun-if-changed={dir}");
    let files = ["proto/rdapfleet/v1/coordinator.proto"];
    let fds = protox::compile(files, [dir])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
