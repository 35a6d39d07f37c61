pub mod admin;
pub mod changes;
pub mod home;
pub mod not_found;
pub mod sign_in;
