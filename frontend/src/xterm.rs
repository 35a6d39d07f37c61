//! xterm.js 6, vendored in `vendor/xterm`: the terminal through the xterm-js-rs binding (the
//! page's import map names `xterm.mjs` as the module `xterm` it imports), and here only what
//! that binding lacks: options from xterm.js 6's own names, and the fit addon.

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
pub use xterm_js_rs::{Terminal, TerminalOptions};

#[wasm_bindgen(module = "/vendor/xterm/addon-fit.mjs")]
extern "C" {
    pub type FitAddon;

    #[wasm_bindgen(constructor)]
    pub fn new() -> FitAddon;

    /// Resizes the terminal to fill its element.
    #[wasm_bindgen(method)]
    pub fn fit(this: &FitAddon);
}

/// A terminal made with `options`, a plain object of xterm.js option names.
pub fn new(options: &js_sys::Object) -> Terminal {
    Terminal::new(options.unchecked_ref::<TerminalOptions>())
}

/// Loads the fit addon into `terminal`.
pub fn load_fit(terminal: &Terminal, fit: &FitAddon) {
    let addon: &JsValue = fit.as_ref();
    terminal.load_addon(addon.clone().unchecked_into());
}
