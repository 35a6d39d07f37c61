//! Admin → Users, Access groups, Devices, Credentials.

mod credentials;
mod devices;
mod groups;
mod users;

pub use credentials::CredentialsAdmin;
pub use devices::DevicesAdmin;
pub use groups::GroupsAdmin;
pub use users::UsersAdmin;
