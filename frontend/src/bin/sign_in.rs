//! The changeaudit sign-in page.

fn main() {
    changeaudit_frontend::start_sign_in();
}
