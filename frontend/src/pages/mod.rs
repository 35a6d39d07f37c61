pub mod admin;
pub mod changes;
pub mod credentials;
pub mod home;
pub mod not_found;
pub mod sessions;
pub mod sign_in;
pub mod terminal;
