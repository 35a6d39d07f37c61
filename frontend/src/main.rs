//! The changeaudit app, for a signed-in person.

fn main() {
    changeaudit_frontend::start_app();
}
