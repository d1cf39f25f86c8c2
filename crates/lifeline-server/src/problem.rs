//! One error type for every handler: an RFC 9457 `application/problem+json` response with a
//! stable `code`. Internal failures are logged and answered with a bare 500/503: their
//! details (SQL, paths) never reach the caller.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use lifeline_api::Problem;

use crate::store::StoreError;

/// Marks a response that failed because the store did (counted by the metrics middleware).
#[derive(Clone, Copy, Debug)]
pub(crate) struct StoreFailure;

/// The code of an answer that failed because the store did.
const STORE_UNAVAILABLE: &str = "store_unavailable";

/// An error answered as problem+json.
#[derive(Debug)]
pub struct AppError {
    status: StatusCode,
    code: &'static str,
    detail: String,
    field: Option<String>,
}

impl AppError {
    /// An error with a status, a stable code and a detail for people.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            field: None,
        }
    }

    /// 422 `invalid_field`: a field of the body out of its bounds (the problem names it).
    pub fn field(e: lifeline_api::bounds::FieldError) -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "invalid_field",
            detail: e.to_string(),
            field: Some(e.field.to_owned()),
        }
    }

    /// The same refusal about one item of a list (`licenses[3]`): the detail and the field
    /// name it.
    pub fn about_item(mut self, item: &str) -> Self {
        self.detail = format!("{item}: {}", self.detail);
        self.field = self.field.map(|f| format!("{item}.{f}"));
        self
    }

    /// 400 `invalid_request`.
    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", detail)
    }

    /// 404 `not_found`.
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", what)
    }

    /// 409 `conflict`.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", detail)
    }

    /// 500 `internal`: something failed inside this server (never the caller's fault). The
    /// cause goes to the log with the request id; the caller gets the id, not the cause.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let request_id = crate::request_id::current();
        tracing::error!(request_id = request_id.as_deref().unwrap_or("-"), %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "an internal error; the server's log has it under this request's id",
        )
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The detail for people.
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

impl From<lifeline_api::bounds::FieldError> for AppError {
    fn from(e: lifeline_api::bounds::FieldError) -> Self {
        Self::field(e)
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        let request_id = crate::request_id::current();
        tracing::error!(request_id = request_id.as_deref().unwrap_or("-"), error = %e, "store failure");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            STORE_UNAVAILABLE,
            "the license store is unavailable; try again",
        )
    }
}

impl From<JsonRejection> for AppError {
    fn from(rejection: JsonRejection) -> Self {
        let (status, code) = match &rejection {
            JsonRejection::MissingJsonContentType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            JsonRejection::JsonSyntaxError(_) => (StatusCode::BAD_REQUEST, "invalid_json"),
            JsonRejection::JsonDataError(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
            JsonRejection::BytesRejection(_) => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
            _ => (StatusCode::BAD_REQUEST, "invalid_request"),
        };
        Self::new(status, code, rejection.body_text())
    }
}

/// The longest `detail` a problem carries: whatever input a message quotes, a caller never
/// gets more than this back.
pub(crate) const MAX_DETAIL_CHARS: usize = 1024;

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let mut detail = self.detail;
        if let Some((cut, _)) = detail.char_indices().nth(MAX_DETAIL_CHARS) {
            detail.truncate(cut);
            detail.push('…');
        }
        if self.status.is_server_error()
            && let Some(id) = crate::request_id::current()
        {
            detail = format!("{detail} (request id {id})");
        }
        let problem = Problem {
            type_: format!("urn:lifeline:problem:{}", self.code),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail,
            code: self.code.to_owned(),
            field: self.field,
        };
        let mut response = (self.status, Json(problem)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.code == STORE_UNAVAILABLE {
            response.extensions_mut().insert(StoreFailure);
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
