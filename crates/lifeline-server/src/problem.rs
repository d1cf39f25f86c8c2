//! One error type for every handler: an RFC 9457 `application/problem+json` response with a
//! stable `code`. Internal failures are logged and answered with a bare 500/503: their
//! details (SQL, paths) never reach the caller.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use lifeline_api::Problem;

use crate::store::StoreError;

/// An error answered as problem+json.
#[derive(Debug)]
pub struct AppError {
    status: StatusCode,
    code: &'static str,
    detail: String,
}

impl AppError {
    /// An error with a status, a stable code and a detail for people.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
        }
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

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The detail for people.
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        eprintln!("lifeline-server: {e}");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
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

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let problem = Problem {
            type_: format!("urn:lifeline:problem:{}", self.code),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail,
            code: self.code.to_owned(),
        };
        let mut response = (self.status, Json(problem)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// A JSON body extractor whose rejections are problem+json with precise codes.
///
/// It is the one place a request body is read: always the last extractor, so authentication
/// and the role ([`crate::auth::Admin`], [`crate::auth::Operator`]) are checked before any of
/// it arrives. The body must fit its route's limit and the node's in-flight budget
/// ([`crate::MAX_BODY_BYTES_IN_FLIGHT`], else 503 `busy`), and arrive within
/// [`crate::BODY_READ_TIMEOUT`] (else 408 `body_timeout`, connection closed).
#[derive(Debug)]
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<T: serde::de::DeserializeOwned> axum::extract::FromRequest<crate::AppState> for JsonBody<T> {
    type Rejection = Response;

    async fn from_request(
        req: axum::extract::Request,
        state: &crate::AppState,
    ) -> Result<Self, Response> {
        // Held while the body is read and parsed; its bytes return to the budget after.
        let Some(_reserved) = state.body_budget().reserve(&req) else {
            return Err(crate::limits::busy());
        };
        match tokio::time::timeout(
            crate::limits::BODY_READ_TIMEOUT,
            Json::<T>::from_request(req, state),
        )
        .await
        {
            Ok(Ok(Json(value))) => Ok(Self(value)),
            Ok(Err(rejection)) => Err(AppError::from(rejection).into_response()),
            Err(_) => Err(crate::limits::body_timeout()),
        }
    }
}
