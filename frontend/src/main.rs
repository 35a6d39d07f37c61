//! The changeaudit single-page app.

mod api;
mod app;
mod bell;
mod forms;
mod listing;
mod loaded;
mod local_time;
mod pages;
mod passkey;
mod pick;
mod session;
mod shell;
mod xterm;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
