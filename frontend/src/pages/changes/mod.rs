//! Change Audit → Changes: the list, and the form that registers or edits one.

mod devices_tab;
mod form;
mod list;
mod script_tab;

pub use form::{ChangeForm, EditChange};
pub use list::ChangesList;
