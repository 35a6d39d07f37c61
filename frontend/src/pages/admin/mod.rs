//! Admin → Users, Access groups, Devices, Credentials, Command rules, Audit trail.

mod activity;
mod command_rules;
mod credentials;
mod devices;
mod groups;
mod list;
mod rule_form;
mod trail;
mod users;

pub use activity::ActivityAdmin;
pub use command_rules::CommandRulesAdmin;
pub use credentials::CredentialsAdmin;
pub use devices::DevicesAdmin;
pub use groups::GroupsAdmin;
pub use trail::AuditTrailAdmin;
pub use users::UsersAdmin;
