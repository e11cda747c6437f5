//! Build script. It embeds the built-in stage definitions (`stages/*.yaml`, listed into
//! `$OUT_DIR/builtin_stages.rs` for `spec::builtin`). With the `torch` feature it links sapipe against the libtorch of the PyTorch
//! wheel installed by `scripts/setup-torch` (reached through `LIBTORCH`, set in
//! `.cargo/config.toml`): it sets an rpath so the binary runs without environment variables,
//! force-links `libtorch_cuda` when present (otherwise the linker drops it and CUDA is silently
//! unavailable), and compiles the small C++ determinism shim.

// A build script talks to cargo through stdout.
#![allow(clippy::disallowed_macros)]

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    embed_stage_definitions();
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    // The libtorch version enters the keys of device stages; `sapipe` records it even when
    // built without the `torch` feature (its libtorch stages run in `sapipe-torch`).
    let version = std::env::var_os("LIBTORCH")
        .map(PathBuf::from)
        .and_then(|dir| std::fs::read_to_string(dir.join("version.py")).ok())
        .and_then(|text| {
            let line = text
                .lines()
                .find(|l| l.starts_with("__version__"))?
                .to_string();
            Some(line.split(['\'', '"']).nth(1)?.to_string())
        });
    if let Some(version) = version {
        println!("cargo:rustc-env=SAPIPE_LIBTORCH_VERSION={version}");
    }
    if std::env::var_os("CARGO_FEATURE_TORCH").is_none() {
        return;
    }
    let libtorch = match std::env::var_os("LIBTORCH") {
        Some(path) => PathBuf::from(path),
        None => panic!(
            "LIBTORCH is not set: run scripts/setup-torch (or build with --no-default-features)"
        ),
    };
    let libtorch = libtorch.canonicalize().unwrap_or_else(|_| {
        panic!(
            "LIBTORCH={} does not exist: run scripts/setup-torch first (it installs PyTorch 2.11.0 \
             and links .libtorch), or build the engine alone with --no-default-features",
            libtorch.display()
        )
    });
    let lib = libtorch.join("lib");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    if lib.join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-search=native={}", lib.display());
        for flag in ["-Wl,--no-as-needed", "-ltorch_cuda", "-Wl,--as-needed"] {
            println!("cargo:rustc-link-arg-bin=sapipe-torch={flag}");
        }
    }
    let shim = "src/neuro/runtime/shim/determinism.cpp";
    println!("cargo:rerun-if-changed={shim}");
    cc::Build::new()
        .cpp(true)
        .file(shim)
        .include(libtorch.join("include"))
        .include(libtorch.join("include/torch/csrc/api/include"))
        .flag("-std=c++17")
        .flag("-D_GLIBCXX_USE_CXX11_ABI=1")
        .warnings(false)
        .compile("sapipe_determinism");
}

/// Writes `builtin_stages.rs`: a sorted `&[(name, text)]` of every `stages/*.yaml`, each text an
/// `include_str!` of the file, so the binary carries the exact bytes (and so the same keys) as
/// the repository's `stages/`.
fn embed_stage_definitions() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let dir = manifest.join("stages");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    let mut out = String::from("&[\n");
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
        let name = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_else(|| panic!("{}: not a UTF-8 name", file.display()));
        out.push_str(&format!(
            "    ({name:?}, include_str!({:?})),\n",
            file.display().to_string()
        ));
    }
    out.push_str("]\n");
    let target = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it"))
        .join("builtin_stages.rs");
    std::fs::write(&target, out)
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", target.display()));
}
