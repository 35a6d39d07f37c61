//! Every refusal and failure of the API becomes problem details (RFC 9457). A refusal names the
//! field or the rule; a failure says nothing internal to the client and logs its cause.

use std::borrow::Cow;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use changeaudit_shared::problem::{FieldError, PROBLEM_JSON, Problem};
use serde::de::DeserializeOwned;

use crate::approvals::ApprovalError;
use crate::auth::password::PasswordError;
use crate::auth::throttle::ThrottleError;
use crate::db::DbError;
use crate::groups::GroupError;
use crate::terminal::store::ListError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("invalid fields")]
    Validation(Vec<FieldError>),
    #[error("malformed body: {0}")]
    MalformedBody(String),
    #[error("malformed query: {0}")]
    MalformedQuery(String),
    #[error("not signed in")]
    Unauthenticated,
    #[error("wrong username or password")]
    InvalidCredentials,
    #[error("forbidden: {0}")]
    Forbidden(Cow<'static, str>),
    #[error("cross-origin request refused")]
    CrossOrigin,
    #[error("too many failed sign-ins")]
    TooManyAttempts { retry_after: Duration },
    /// The server has no room for this now (every password-hashing place taken).
    #[error("busy")]
    Busy { retry_after: Duration },
    /// The answer was not ready within the server's deadline; the work goes on without it.
    #[error("overdue")]
    Overdue { retry_after: Duration },
    /// The person has as many of something open as they may; says what.
    #[error("limit: {0}")]
    Limit(String),
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("conflict on {0}")]
    Conflict(String),
    /// The request is well formed but a rule of the product refuses it now.
    #[error("{field}: {detail}")]
    Rule { field: String, detail: String },
    #[error("service unavailable: {context}")]
    Unavailable { context: &'static str },
    #[error("{context}: {source}")]
    Internal {
        context: &'static str,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl AppError {
    pub fn internal(
        context: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        AppError::Internal {
            context,
            source: source.into(),
        }
    }

    pub fn rule(field: &str, detail: impl Into<String>) -> Self {
        AppError::Rule {
            field: field.to_owned(),
            detail: detail.into(),
        }
    }

    pub fn field(field: &str, detail: impl Into<String>) -> Self {
        AppError::Validation(vec![FieldError {
            field: field.to_owned(),
            detail: detail.into(),
        }])
    }

    fn problem(&self) -> Problem {
        let (status, kind, title) = self.kind();
        Problem {
            kind: kind.to_owned(),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: self.detail(),
            errors: self.field_errors(),
        }
    }

    /// The status, the problem's type and its title.
    fn kind(&self) -> (StatusCode, &'static str, &'static str) {
        use StatusCode as S;
        match self {
            AppError::Validation(_) => (
                S::UNPROCESSABLE_ENTITY,
                "/problems/validation",
                "The request has invalid fields",
            ),
            AppError::MalformedBody(_) => (
                S::BAD_REQUEST,
                "/problems/malformed-body",
                "The request body is not valid JSON of the expected shape",
            ),
            AppError::MalformedQuery(_) => (
                S::BAD_REQUEST,
                "/problems/malformed-query",
                "The query string has a parameter of the wrong shape",
            ),
            AppError::Unauthenticated => (
                S::UNAUTHORIZED,
                "/problems/unauthenticated",
                "Sign in first",
            ),
            AppError::InvalidCredentials => (
                S::UNAUTHORIZED,
                "/problems/invalid-credentials",
                "Wrong username or password",
            ),
            AppError::Forbidden(_) => (S::FORBIDDEN, "/problems/forbidden", "Not allowed"),
            AppError::CrossOrigin => (
                S::FORBIDDEN,
                "/problems/cross-origin",
                "Cross-origin request refused",
            ),
            AppError::TooManyAttempts { .. } => (
                S::TOO_MANY_REQUESTS,
                "/problems/too-many-attempts",
                "Too many failed sign-ins",
            ),
            AppError::Busy { .. } => (
                S::SERVICE_UNAVAILABLE,
                "/problems/busy",
                "The server is busy",
            ),
            AppError::Overdue { .. } => (
                S::SERVICE_UNAVAILABLE,
                "/problems/overdue",
                "The answer took too long",
            ),
            AppError::Limit(_) => (S::TOO_MANY_REQUESTS, "/problems/limit", "Too many at once"),
            AppError::NotFound => (S::NOT_FOUND, "about:blank", "Not Found"),
            AppError::MethodNotAllowed => {
                (S::METHOD_NOT_ALLOWED, "about:blank", "Method Not Allowed")
            }
            AppError::Conflict(_) => (
                S::CONFLICT,
                "/problems/conflict",
                "Conflicts with an existing record",
            ),
            AppError::Rule { .. } => (S::CONFLICT, "/problems/rule", "Refused by a rule"),
            AppError::Unavailable { .. } => (
                S::SERVICE_UNAVAILABLE,
                "/problems/unavailable",
                "The service is temporarily unavailable",
            ),
            AppError::Internal { .. } => (
                S::INTERNAL_SERVER_ERROR,
                "about:blank",
                "Internal Server Error",
            ),
        }
    }

    /// What the person is told besides the title; nothing internal, ever.
    fn detail(&self) -> Option<String> {
        match self {
            AppError::MalformedBody(detail) | AppError::MalformedQuery(detail) => {
                Some(detail.clone())
            }
            AppError::Forbidden(rule) => Some(rule.to_string()),
            AppError::CrossOrigin => {
                Some("State-changing requests must come from changeaudit's own pages.".to_owned())
            }
            AppError::TooManyAttempts { retry_after } => Some(format!(
                "Too many failed sign-ins; try again in {} s.",
                whole_seconds(*retry_after)
            )),
            AppError::Limit(words) => Some(words.clone()),
            AppError::Busy { retry_after } => Some(format!(
                "Too many sign-ins are being checked at once; try again in {} s.",
                whole_seconds(*retry_after)
            )),
            AppError::Overdue { retry_after } => Some(format!(
                "The server could not answer in time; what was asked may still be done, so look before asking again (in {} s).",
                whole_seconds(*retry_after)
            )),
            AppError::Rule { field, detail } => Some(format!("{field}: {detail}")),
            _ => None,
        }
    }

    /// The fields at fault, each with what is wrong with it.
    fn field_errors(&self) -> Vec<FieldError> {
        let one = |field: &str, detail: &str| {
            vec![FieldError {
                field: field.to_owned(),
                detail: detail.to_owned(),
            }]
        };
        match self {
            AppError::Validation(errors) => errors.clone(),
            AppError::Conflict(field) => one(field, "is already taken"),
            AppError::Rule { field, detail } => one(field, detail),
            _ => Vec::new(),
        }
    }
}

fn whole_seconds(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match &self {
            AppError::Internal { .. } | AppError::Unavailable { .. } => {
                tracing::error!(error = %self, "request failed");
            }
            _ => {}
        }
        let problem = self.problem();
        let status =
            StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(problem)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let AppError::TooManyAttempts { retry_after }
        | AppError::Busy { retry_after }
        | AppError::Overdue { retry_after } = self
        {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from(whole_seconds(retry_after)),
            );
        }
        response
    }
}

impl From<sqlx::Error> for AppError {
    fn from(error: sqlx::Error) -> Self {
        DbError::from(error).into()
    }
}

impl From<Vec<FieldError>> for AppError {
    fn from(errors: Vec<FieldError>) -> Self {
        AppError::Validation(errors)
    }
}

impl From<DbError> for AppError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::NotFound => AppError::NotFound,
            DbError::Conflict { constraint } => AppError::Conflict(constraint),
            DbError::Other(source) => AppError::internal("database", source),
        }
    }
}

impl From<ApprovalError> for AppError {
    fn from(error: ApprovalError) -> Self {
        use crate::approvals::barrier::Barrier;
        let detail = error.to_string();
        match error {
            ApprovalError::NotFound => AppError::NotFound,
            ApprovalError::NotGranted(_)
            | ApprovalError::NotTheRequester
            | ApprovalError::Barred(
                Barrier::NotApprover { .. }
                | Barrier::OwnRequest
                | Barrier::OwnChange { .. }
                | Barrier::EditedChange { .. },
            ) => AppError::Forbidden(detail.into()),
            ApprovalError::Barred(Barrier::Closed(_)) | ApprovalError::AlreadyClosed(_) => {
                AppError::rule("status", detail)
            }
            ApprovalError::Barred(Barrier::AlreadyVoted) => AppError::rule("decision", detail),
            ApprovalError::NoChangeCovers => AppError::rule("credential_id", detail),
            ApprovalError::NotACoveringChange(_) | ApprovalError::SeveralChangesCover(_) => {
                AppError::field("change_id", detail)
            }
            ApprovalError::JustificationRequired(_) => AppError::field("justification", detail),
            ApprovalError::TooLong { field, .. } => AppError::field(field, detail),
            ApprovalError::DisapprovalWithoutReason => AppError::field("comment", detail),
            ApprovalError::NoPasskey => AppError::rule("passkey", detail),
            ApprovalError::SignatureMissing => AppError::field("credential", detail),
            ApprovalError::SignatureRefused(_) => AppError::rule("credential", detail),
            ApprovalError::Internal { context, source } => AppError::Internal { context, source },
            ApprovalError::Db(error) => error.into(),
        }
    }
}

impl From<GroupError> for AppError {
    fn from(error: GroupError) -> Self {
        match error {
            GroupError::Invalid(errors) => AppError::Validation(errors),
            GroupError::Encode(source) => AppError::internal("encoding benign commands", source),
            GroupError::Db(error) => error.into(),
        }
    }
}

impl From<ListError> for AppError {
    fn from(error: ListError) -> Self {
        match error {
            ListError::NotADay { field } => AppError::field(field, error.to_string()),
            ListError::Db(error) => error.into(),
        }
    }
}

impl From<PasswordError> for AppError {
    fn from(error: PasswordError) -> Self {
        match error {
            PasswordError::Busy => AppError::Busy {
                retry_after: Duration::from_secs(1),
            },
            other => AppError::internal("password hashing", other),
        }
    }
}

impl From<ThrottleError> for AppError {
    fn from(error: ThrottleError) -> Self {
        match error {
            ThrottleError::Blocked { retry_after } => AppError::TooManyAttempts { retry_after },
            ThrottleError::Db(error) => error.into(),
        }
    }
}

/// `Json` whose rejections answer in the same problem shape as everything else.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(AppError::MalformedBody(describe(&rejection))),
        }
    }
}

/// `Query` whose rejections name the parameter in the problem shape.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(AppError::MalformedQuery(rejection.body_text())),
        }
    }
}

/// `Path` whose rejections answer 404: a path that does not parse names nothing that exists.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(ApiPath(value)),
            Err(_) => Err(AppError::NotFound),
        }
    }
}

fn describe(rejection: &JsonRejection) -> String {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            "Send the body as JSON with `Content-Type: application/json`.".to_owned()
        }
        // serde's message names the field and position, and holds nothing of the server's.
        other => other.body_text(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_say_nothing_internal() {
        let error = AppError::internal("loading users", std::io::Error::other("disk on fire"));
        let problem = error.problem();
        assert_eq!(problem.status, 500);
        let json = serde_json::to_string(&problem).unwrap();
        assert!(!json.contains("disk on fire"));
        assert!(!json.contains("loading users"));
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(whole_seconds(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds(Duration::from_secs(2)), 2);
        assert_eq!(whole_seconds(Duration::from_millis(2_001)), 3);
    }
}
