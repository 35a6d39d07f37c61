//! The changeaudit web app, as two programs built from this library: the sign-in page
//! (`bin/sign_in.rs`), small, so a first visit loads only what signing in needs; and the app
//! (`main.rs`), which the server sends once the person is signed in.

mod api;
mod app;
mod bell;
mod confirm;
mod forms;
mod listing;
mod loaded;
mod local_time;
mod pages;
mod passkey;
mod pick;
mod session;
mod shell;
mod sign_in;
mod toast;
mod xterm;

/// Starts the app, for a signed-in person.
pub fn start_app() {
    console_error_panic_hook::set_once();
    count_policy_violations();
    leptos::mount::mount_to_body(app::App);
}

/// Starts the sign-in page.
pub fn start_sign_in() {
    console_error_panic_hook::set_once();
    count_policy_violations();
    leptos::mount::mount_to_body(sign_in::SignIn);
}

/// Counts what the page's Content-Security-Policy refuses on `<html data-csp-violations>`:
/// nothing should be, and the browser tests look.
fn count_policy_violations() {
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    let Some(document) = web_sys::window().and_then(|window| window.document()) else {
        return;
    };
    let count = Closure::<dyn FnMut()>::new(|| {
        let root = web_sys::window()
            .and_then(|window| window.document())
            .and_then(|document| document.document_element());
        if let Some(root) = root {
            let seen: u32 = root
                .get_attribute("data-csp-violations")
                .and_then(|count| count.parse().ok())
                .unwrap_or(0);
            root.set_attribute("data-csp-violations", &(seen + 1).to_string())
                .ok();
        }
    });
    document
        .add_event_listener_with_callback("securitypolicyviolation", count.as_ref().unchecked_ref())
        .ok();
    // For as long as the page lives.
    count.forget();
}
