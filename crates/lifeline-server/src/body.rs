//! The one way a request body is read: [`JsonBody`].

use axum::Json;
use axum::extract::FromRequest;
use axum::response::{IntoResponse, Response};

use crate::limits::{BODY_READ_TIMEOUT, body_timeout, busy};
use crate::problem::AppError;
use crate::state::AppState;

/// A JSON body extractor whose rejections are problem+json with precise codes.
///
/// It is the one place a request body is read: always the last extractor, so authentication
/// and the role ([`crate::auth::Admin`], [`crate::auth::Operator`]) are checked before any of
/// it arrives. The body must fit its route's limit and the node's in-flight budget
/// ([`crate::limits::MAX_BODY_BYTES_IN_FLIGHT`], else 503 `busy`), and arrive within
/// [`BODY_READ_TIMEOUT`] (else 408 `body_timeout`, connection closed).
#[derive(Debug)]
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<T: serde::de::DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, state: &AppState) -> Result<Self, Response> {
        // Held while the body is read and parsed; its bytes return to the budget after.
        let Some(_reserved) = state.body_budget().reserve(&req) else {
            return Err(busy());
        };
        match tokio::time::timeout(BODY_READ_TIMEOUT, Json::<T>::from_request(req, state)).await {
            Ok(Ok(Json(value))) => Ok(Self(value)),
            Ok(Err(rejection)) => Err(AppError::from(rejection).into_response()),
            Err(_) => Err(body_timeout()),
        }
    }
}
