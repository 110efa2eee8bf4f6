//! Compiles the example TAs in `tas/*.wat` to WebAssembly binaries in OUT_DIR (the wasm32 Rust
//! target is not needed: the TAs are written in the WebAssembly text format).

use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo:rerun-if-changed=tas");
    for name in ["hello", "counter"] {
        let src = format!("tas/{name}.wat");
        println!("cargo:rerun-if-changed={src}");
        let wasm = wat::parse_file(&src).unwrap_or_else(|e| panic!("{src}: {e}"));
        std::fs::write(out.join(format!("{name}.wasm")), wasm)
            .unwrap_or_else(|e| panic!("writing {name}.wasm: {e}"));
    }
}
