//! A thin binding to the vendored xterm.js 6 (`vendor/xterm`): only what the terminal page uses.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/vendor/xterm/xterm.mjs")]
extern "C" {
    pub type Terminal;

    #[wasm_bindgen(constructor)]
    pub fn new(options: &JsValue) -> Terminal;

    /// Draws the terminal inside `parent`, an element of the page.
    #[wasm_bindgen(method)]
    pub fn open(this: &Terminal, parent: &JsValue);

    #[wasm_bindgen(method)]
    pub fn write(this: &Terminal, data: &str);

    /// Writes `data`, then calls `done` once xterm.js has parsed it onto the screen.
    #[wasm_bindgen(method, js_name = write)]
    pub fn write_then(this: &Terminal, data: &str, done: &Closure<dyn FnMut()>);

    /// Back to a blank screen and the default modes, as a player does before a seek.
    #[wasm_bindgen(method)]
    pub fn reset(this: &Terminal);

    #[wasm_bindgen(method)]
    pub fn focus(this: &Terminal);

    #[wasm_bindgen(method)]
    pub fn dispose(this: &Terminal);

    #[wasm_bindgen(method, getter)]
    pub fn cols(this: &Terminal) -> u16;

    #[wasm_bindgen(method, getter)]
    pub fn rows(this: &Terminal) -> u16;

    #[wasm_bindgen(method)]
    pub fn resize(this: &Terminal, cols: u16, rows: u16);

    #[wasm_bindgen(method, js_name = loadAddon)]
    pub fn load_addon(this: &Terminal, addon: &FitAddon);

    /// Keystrokes and pastes, as the text to send to the device.
    #[wasm_bindgen(method, js_name = onData)]
    pub fn on_data(this: &Terminal, listener: &Closure<dyn FnMut(String)>) -> JsValue;

    /// The terminal's new size, as `{cols, rows}`.
    #[wasm_bindgen(method, js_name = onResize)]
    pub fn on_resize(this: &Terminal, listener: &Closure<dyn FnMut(JsValue)>) -> JsValue;
}

#[wasm_bindgen(module = "/vendor/xterm/addon-fit.mjs")]
extern "C" {
    pub type FitAddon;

    #[wasm_bindgen(constructor)]
    pub fn new() -> FitAddon;

    /// Resizes the terminal to fill its element.
    #[wasm_bindgen(method)]
    pub fn fit(this: &FitAddon);
}
