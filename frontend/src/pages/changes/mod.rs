//! Change Audit → Changes: the list, and the form that registers or edits one, with the
//! change's life under it.

mod devices_tab;
mod form;
mod life;
mod list;
mod script_tab;

pub use form::{ChangeForm, EditChange};
pub use list::ChangesList;
