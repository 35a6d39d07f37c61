//! The bell: notices marked read, and the stream of the inbox.

use changeaudit_shared::api::requests::MarkRead;
use changeaudit_shared::api::routes::notifications;

use super::{ApiError, send};

/// Marks read the notices up to and including `newest`.
pub async fn mark_read(newest: i64) -> Result<(), ApiError> {
    let up_to = MarkRead {
        up_to: Some(newest),
    };
    send(notifications::mark_read(), &up_to).await
}

/// Where the inbox streams from (server-sent events).
pub fn stream_path() -> String {
    notifications::stream().path
}
