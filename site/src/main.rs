//! Turns the browser app's WASM, as cargo links it, into the site's
//! package directory (`target/site/pkg`), in two steps:
//!
//! 1. it splits the WASM at the app's lazy routes (`#[lazy]`, see
//!    `app/src/pages/lazy_page.rs`): each becomes a chunk the page fetches
//!    when it first needs it, with the loader
//!    `__wasm_split.______________________.js` and the manifest
//!    `__wasm_split_manifest.json` that leptos' hydration scripts look for;
//! 2. it binds what is left, the main module, to JS (wasm-bindgen), as
//!    `NAME.js` and `NAME.wasm`.
//!
//! The libraries are the ones the app's own crates pin, so no separately
//! installed tool can disagree with them. `scripts/tools.sh`
//! (`build_release`) runs this between cargo, which must link the WASM with
//! `--emit-relocs`, and wasm-opt.
//!
//! Usage: build-site APP.wasm PACKAGE_DIR NAME

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The loader's name, as leptos asks for it when the site's files are not
/// hashed.
const LOADER: &str = "./__wasm_split.______________________.js";
const MANIFEST: &str = "__wasm_split_manifest.json";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [app, package_dir, name] = args.as_slice() else {
        eprintln!("usage: build-site APP.wasm PACKAGE_DIR NAME");
        return ExitCode::from(2);
    };
    let (app, package_dir) = (Path::new(app), Path::new(package_dir));
    let built = split(app, package_dir, name).and_then(|(main, chunks)| {
        bind(&main, package_dir, name)?;
        Ok(chunks)
    });
    match built {
        Ok(chunks) => {
            println!(
                "{}: {name}.js, {name}.wasm and {chunks} chunks",
                package_dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot build the site from {}: {e}", app.display());
            ExitCode::FAILURE
        }
    }
}

/// Splits `app` into `package_dir`. Answers where the main module went
/// (beside `app`, as it is not served as it is) and how many chunks were
/// made.
fn split(app: &Path, package_dir: &Path, name: &str) -> Result<(PathBuf, usize), Box<dyn Error>> {
    let wasm = std::fs::read(app)?;
    let main = app.with_extension("split.wasm");
    // The chunks import the main module's exports through its JS.
    let main_module = format!("./{name}.js");
    let split = wasm_split_cli_support::transform({
        let mut options = wasm_split_cli_support::Options::new(&wasm);
        options.output_dir = package_dir;
        options.main_out_path = &main;
        options.main_module = &main_module;
        options.link_name = LOADER;
        options
    })?;
    std::fs::write(
        package_dir.join(MANIFEST),
        serde_json::to_string_pretty(&split.prefetch_map)?,
    )?;
    Ok((main, split.split_modules.len()))
}

/// Binds the main module to JS, as `NAME.js` and `NAME.wasm` in
/// `package_dir`. The chunks reach into the main module by the linker's
/// names, so those are kept, unmangled.
fn bind(main: &Path, package_dir: &Path, name: &str) -> Result<(), Box<dyn Error>> {
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(main)
        .out_name(name)
        .web(true)?
        .keep_lld_exports(true)
        .demangle(false)
        .generate(package_dir)?;
    // wasm-bindgen writes NAME_bg.wasm; leptos' pages ask for NAME.wasm.
    std::fs::rename(
        package_dir.join(format!("{name}_bg.wasm")),
        package_dir.join(format!("{name}.wasm")),
    )?;
    Ok(())
}
