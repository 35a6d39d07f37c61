//! Admin → Users, Access groups, Devices, Credentials, Audit trail.

mod activity;
mod credentials;
mod devices;
mod groups;
mod list;
mod trail;
mod users;

pub use activity::ActivityAdmin;
pub use credentials::CredentialsAdmin;
pub use devices::DevicesAdmin;
pub use groups::GroupsAdmin;
pub use trail::AuditTrailAdmin;
pub use users::UsersAdmin;
