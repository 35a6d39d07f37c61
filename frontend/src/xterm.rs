//! xterm.js 6, vendored in `vendor/xterm`: the terminal through the xterm-js-rs binding, and
//! here only what that binding lacks: options from xterm.js 6's own names, the fit addon, and
//! `ready`. The page's import map names `xterm-lazy.mjs` as the module `xterm` the binding
//! imports: xterm.js itself is fetched when a page first shows a terminal, so the sign-in page
//! and every page without one never load it.

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

#[wasm_bindgen(module = "xterm")]
extern "C" {
    #[wasm_bindgen(js_name = loadXterm)]
    fn load_xterm() -> js_sys::Promise;
}

#[wasm_bindgen]
extern "C" {
    /// The terminal, seen only as something to write bytes to.
    type Writable;

    /// `write` with UTF-8 bytes that JavaScript owns. The binding's `write_utf8` passes a view
    /// of the app's own memory, which xterm.js would read later, after the app reused it.
    #[wasm_bindgen(method)]
    fn write(this: &Writable, data: &js_sys::Uint8Array);
}

/// Writes UTF-8 `bytes` to `terminal`, as the device printed them.
pub fn write_bytes(terminal: &Terminal, bytes: &js_sys::Uint8Array) {
    let terminal: &JsValue = terminal.as_ref();
    terminal.unchecked_ref::<Writable>().write(bytes);
}

/// Waits until xterm.js is loaded (at once, after the first time): before, no terminal can be
/// made.
pub async fn ready() -> Result<(), String> {
    wasm_bindgen_futures::JsFuture::from(load_xterm())
        .await
        .map(drop)
        .map_err(|_| {
            "The terminal could not be loaded from the server; reload the page.".to_owned()
        })
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
