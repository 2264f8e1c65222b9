//! API errors: a status and a JSON body naming the field, the value and what is allowed.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::db::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub field: String,
    pub value: String,
    pub message: String,
    pub allowed: String,
    /// more to show (e.g. the alerts of a refused order)
    pub extra: Option<Value>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        field: &str,
        value: &str,
        message: &str,
        allowed: &str,
    ) -> ApiError {
        ApiError {
            status,
            field: field.into(),
            value: value.into(),
            message: message.into(),
            allowed: allowed.into(),
            extra: None,
        }
    }
    pub fn internal(message: &str) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "", "", message, "")
    }
    pub fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "session",
            "absent or expired",
            "sign in first (POST /api/login)",
            "a session cookie from /api/login",
        )
    }
    pub fn forbidden(message: &str) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "role", "", message, "")
    }
    pub fn to_json(&self) -> Value {
        let mut v = json!({"error": {"status": self.status.as_u16(), "field": self.field, "value": self.value,
                                      "message": self.message, "allowed": self.allowed}});
        if let Some(x) = &self.extra {
            v["error"]["details"] = x.clone();
        }
        v
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.to_json())).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::NotFound(w) => ApiError::new(
                StatusCode::NOT_FOUND,
                "id",
                &w,
                &format!("{w} not found"),
                "an id of your team",
            ),
            StoreError::Conflict(m) => ApiError::new(
                StatusCode::CONFLICT,
                "expected_version",
                "",
                &m,
                "the current version",
            ),
            StoreError::Invalid {
                field,
                value,
                allowed,
            } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                &field,
                &value,
                &format!("invalid {field}: {value}"),
                &allowed,
            ),
            // the database's own message is not sent (it may name tables and values)
            StoreError::Db(_) => ApiError::internal("database error"),
        }
    }
}

impl From<mgiv_core::error::MgivError> for ApiError {
    fn from(e: mgiv_core::error::MgivError) -> ApiError {
        use mgiv_core::error::MgivError as E;
        let msg = e.to_string();
        match e {
            E::Invalid {
                field,
                value,
                allowed,
            } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                &field,
                &value,
                &msg,
                &allowed,
            ),
            E::Parse(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "regimen",
                "",
                &msg,
                "regimen text as in docs/REGIMENS.md",
            ),
            E::UnknownModel { id, known } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "model", &id, &msg, &known)
            }
            _ => ApiError::internal(&msg),
        }
    }
}

impl From<mgiv_safety::SafetyError> for ApiError {
    fn from(e: mgiv_safety::SafetyError) -> ApiError {
        use mgiv_safety::SafetyError as E;
        let msg = e.to_string();
        match e {
            E::Core(c) => c.into(),
            E::Unknown {
                field,
                value,
                known,
            } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                &field,
                &value,
                &msg,
                &known,
            ),
            E::Invalid {
                field,
                value,
                allowed,
            } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                &field,
                &value,
                &msg,
                &allowed,
            ),
            E::Data { .. } => ApiError::internal(&msg),
        }
    }
}

/// A JSON body whose rejection is an [`ApiError`] naming the field serde complained about.
pub struct JsonBody<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for JsonBody<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;
    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(JsonBody(v)),
            Err(r) => Err(json_rejection(r)),
        }
    }
}

fn json_rejection(r: axum::extract::rejection::JsonRejection) -> ApiError {
    let status = r.status();
    let text = r.body_text();
    let detail = text
        .split_once("target type: ")
        .map(|x| x.1)
        .unwrap_or(&text)
        .to_string();
    let field = if let Some(i) = detail.find("field `") {
        detail[i + 7..]
            .split('`')
            .next()
            .unwrap_or("body")
            .to_string()
    } else {
        match detail.split_once(": ") {
            Some((path, _)) if !path.contains(' ') && !path.is_empty() && path != "." => {
                path.to_string()
            }
            _ => "body".to_string(),
        }
    };
    let status = if status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
        status
    } else if status.is_client_error() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::BAD_REQUEST
    };
    ApiError::new(
        status,
        &field,
        "",
        &detail,
        "a JSON body as described in /api/openapi.json",
    )
}
