//! The `dais` binary. Natively it is the command line (`commands`); built for the browser (web/build.sh) it opens
//! the view in the page's canvas.

#[cfg(not(target_arch = "wasm32"))]
mod cli;
#[cfg(not(target_arch = "wasm32"))]
mod commands;
#[cfg(not(target_arch = "wasm32"))]
mod error;
#[cfg(not(target_arch = "wasm32"))]
mod exit;

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    commands::main()
}

#[cfg(all(target_arch = "wasm32", not(feature = "gui")))]
compile_error!(
    "the browser build is the view: build it with the `gui` feature (web/build.sh does)"
);

#[cfg(all(target_arch = "wasm32", feature = "gui"))]
fn main() {
    dais::gui::web::start();
}
