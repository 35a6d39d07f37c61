//! What every form shares: the API's field errors shown beside their fields, and one request
//! at a time.

use std::future::Future;

use changeaudit_shared::problem::FieldError;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::ApiError;

/// The errors the API gave, by field.
#[derive(Debug, Clone, Copy)]
pub struct FieldErrors(pub RwSignal<Vec<FieldError>>);

impl FieldErrors {
    pub fn new() -> Self {
        FieldErrors(RwSignal::new(Vec::new()))
    }

    /// Every message for fields starting with `prefix`, as one line beside the field.
    pub fn under(self, prefix: &'static str) -> impl Fn() -> Option<AnyView> {
        move || {
            let messages: Vec<String> = self
                .0
                .get()
                .into_iter()
                .filter(|error| error.field.starts_with(prefix))
                .map(|error| error.detail)
                .collect();
            (!messages.is_empty()).then(|| {
                view! {
                    <span class="field-error" data-field=prefix>{messages.join("; ")}</span>
                }
                .into_any()
            })
        }
    }

    /// Takes a refusal apart: its field errors go beside their fields, and the general message
    /// is answered for the top of the form.
    pub fn take(self, error: ApiError) -> String {
        match &error {
            ApiError::Refused(problem) => self.0.set(problem.errors.clone()),
            ApiError::Unreachable(_) | ApiError::Browser(_) => self.0.set(Vec::new()),
        }
        error.message()
    }

    pub fn clear(self) {
        self.0.set(Vec::new());
    }
}

/// Sends a form's request unless one is already on its way, so a double click sends one.
pub fn submit(pending: RwSignal<bool>, request: impl Future<Output = ()> + 'static) {
    if pending.get_untracked() {
        return;
    }
    pending.set(true);
    spawn_local(async move {
        request.await;
        pending.set(false);
    });
}
