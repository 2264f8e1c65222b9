//! The OpenAPI 3.1 document at `/api/openapi.json`: request schemas derived from the Rust types
//! (utoipa), paths generated from the route table, so the document cannot miss a route.

use axum::Json;
use serde_json::{json, Value};
use utoipa::openapi::{ComponentsBuilder, InfoBuilder, OpenApiBuilder};

use crate::routes::{Access, Kind, ROUTES};

pub fn document() -> Value {
    let components = ComponentsBuilder::new()
        .schema_from::<crate::api::LoginIn>()
        .schema_from::<crate::api::UserIn>()
        .schema_from::<crate::service::PatientIn>()
        .schema_from::<crate::service::OrderIn>()
        .schema_from::<crate::service::LevelIn>()
        .schema_from::<crate::service::AdjustIn>()
        .schema_from::<crate::service::AcceptIn>()
        .build();
    let doc = OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("mgiv clinical web service")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some("Magnesium sulfate orders, levels, forecasts and Bayesian TDM for a ward team. Every clinical answer comes from the mgiv libraries (mgiv-clinical). Sign in with POST /api/login; send the session cookie, and the returned csrf_token in X-CSRF-Token on every POST."))
                .build(),
        )
        .components(Some(components))
        .build();
    let mut v = serde_json::to_value(doc).unwrap_or_else(|_| json!({}));
    v["components"]["schemas"]["Error"] = json!({
        "type": "object", "required": ["error"],
        "properties": {"error": {"type": "object", "required": ["status", "field", "message"], "properties": {
            "status": {"type": "integer"}, "field": {"type": "string"}, "value": {"type": "string"},
            "message": {"type": "string"}, "allowed": {"type": "string"}, "details": {}}}}
    });
    v["components"]["schemas"]["Observation"] = json!({
        "type": "object", "description": "FHIR R4 Observation (serum magnesium: LOINC 19123-9, 2601-3, 2600-5, 73573-8)",
        "required": ["resourceType", "status", "code", "subject", "valueQuantity"],
        "properties": {"resourceType": {"type": "string", "enum": ["Observation"]}, "status": {"type": "string"},
            "code": {"type": "object"}, "subject": {"type": "object"}, "effectiveDateTime": {"type": "string"},
            "valueQuantity": {"type": "object"}}
    });
    v["components"]["securitySchemes"] = json!({
        "session": {"type": "apiKey", "in": "cookie", "name": crate::routes::SESSION_COOKIE},
        "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"}
    });
    let mut paths = serde_json::Map::new();
    for r in ROUTES.iter().filter(|r| r.kind == Kind::Api) {
        let mut params = Vec::new();
        for seg in r.path.split('/') {
            if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                params.push(json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}));
            }
        }
        if r.path == "/api/fhir/Observation" && r.method == "GET" {
            params.push(json!({"name": "patient", "in": "query", "required": true, "schema": {"type": "string"}}));
        }
        let err = json!({"description": "error naming the field", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
        let ok_code = if r.method == "POST" && r.path != "/api/login" && !r.path.ends_with("logout")
        {
            "201"
        } else {
            "200"
        };
        let mut responses = json!({ok_code: {"description": "success", "content": {"application/json": {"schema": {"type": "object"}}}}});
        for code in ["400", "401", "403", "404", "409", "415", "422", "429"] {
            responses[code] = err.clone();
        }
        let mut op = json!({"summary": r.summary, "operationId": format!("{} {}", r.method, r.path), "responses": responses});
        if !params.is_empty() {
            op["parameters"] = json!(params);
        }
        if let Some(b) = r.body {
            let ct = if b == "Observation" {
                "application/fhir+json"
            } else {
                "application/json"
            };
            op["requestBody"] = json!({"required": true, "content": {ct: {"schema": {"$ref": format!("#/components/schemas/{b}")}}}});
        }
        match r.access {
            Access::Public => op["security"] = json!([]),
            Access::Roles(roles) => {
                op["security"] = json!([{"session": [], "csrf": []}]);
                op["x-roles"] = json!(roles.iter().map(|r| r.as_str()).collect::<Vec<_>>());
            }
        }
        let entry = paths.entry(r.path.to_string()).or_insert_with(|| json!({}));
        entry[r.method.to_ascii_lowercase()] = op;
    }
    v["paths"] = Value::Object(paths);
    v
}

pub async fn openapi_json() -> Json<Value> {
    static DOC: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    Json(DOC.get_or_init(document).clone())
}
