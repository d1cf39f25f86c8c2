//! The OpenAPI 3.1 document, generated. [`Api`] registers every route together with its
//! [`Doc`] (method, role, request and reply types), so the router and the document are one
//! list: a route cannot be served undocumented, nor documented unserved. The schemas come
//! from the `lifeline-api` types themselves (their `schema` feature derives
//! `schemars::JsonSchema`), so a field added to a type is documented by construction, with
//! its doc comment as its description.

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Bytes;
use axum::handler::Handler;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{MethodFilter, MethodRouter, on};
use lifeline_api::{Problem, Role};
use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::{JsonSchema, Schema};
use serde_json::{Map, Value, json};

use crate::AppState;

/// Adds a type's schema to the generator's components and returns a reference to it.
type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

fn schema_of<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// The media type of a JSON Web Key Set (RFC 7517 §8.5).
pub(crate) const JWK_SET_MEDIA_TYPE: &str = "application/jwk-set+json";

/// The JSON Web Key Set (RFC 7517): the core writes it, as a JSON value.
fn jwks(_: &mut SchemaGenerator) -> Schema {
    let key = json!({
        "type": "object",
        "description": "An Ed25519 public key (kty OKP, crv Ed25519, alg EdDSA) and its validity window",
        "required": ["kty", "crv", "x", "kid"],
        "properties": {
            "kty": { "const": "OKP" },
            "crv": { "const": "Ed25519" },
            "x": { "type": "string", "description": "The public key, base64url" },
            "kid": { "type": "string" },
        },
    });
    Schema::try_from(json!({
        "type": "object",
        "required": ["keys"],
        "properties": { "keys": { "type": "array", "items": key } },
    }))
    .unwrap_or_default()
}

/// What a route answers on success.
enum Reply {
    /// `application/json` of this schema.
    Json(SchemaFn),
    /// JSON of this schema under its own media type (a JWKS: `application/jwk-set+json`).
    JsonAs(&'static str, SchemaFn),
    /// A string body of this media type (a JWT, the Prometheus text format).
    Text(&'static str),
    /// No body.
    Empty,
}

/// One operation's documentation: built with [`Doc::get`] (…) and the methods after it.
pub(crate) struct Doc {
    method: &'static str,
    filter: MethodFilter,
    tag: &'static str,
    summary: &'static str,
    role: Option<Role>,
    body: Option<SchemaFn>,
    query: Option<SchemaFn>,
    headers: Vec<(&'static str, &'static str)>,
    replies: Vec<(u16, Reply)>,
}

impl std::fmt::Debug for Doc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Doc")
            .field("method", &self.method)
            .field("summary", &self.summary)
            .finish_non_exhaustive()
    }
}

impl Doc {
    fn new(
        method: &'static str,
        filter: MethodFilter,
        tag: &'static str,
        summary: &'static str,
    ) -> Self {
        Self {
            method,
            filter,
            tag,
            summary,
            role: None,
            body: None,
            query: None,
            headers: Vec::new(),
            replies: Vec::new(),
        }
    }

    /// A `GET` in the group `tag`; anyone may call it until [`Doc::role`] says otherwise.
    pub(crate) fn get(tag: &'static str, summary: &'static str) -> Self {
        Self::new("get", MethodFilter::GET, tag, summary)
    }

    /// A `POST`.
    pub(crate) fn post(tag: &'static str, summary: &'static str) -> Self {
        Self::new("post", MethodFilter::POST, tag, summary)
    }

    /// A `PUT`.
    pub(crate) fn put(tag: &'static str, summary: &'static str) -> Self {
        Self::new("put", MethodFilter::PUT, tag, summary)
    }

    /// A `DELETE`.
    pub(crate) fn delete(tag: &'static str, summary: &'static str) -> Self {
        Self::new("delete", MethodFilter::DELETE, tag, summary)
    }

    /// The least role a bearer token needs (`security` and `x-required-role`).
    pub(crate) fn role(mut self, role: Role) -> Self {
        self.role = Some(role);
        self
    }

    /// The JSON request body.
    pub(crate) fn body<T: JsonSchema>(mut self) -> Self {
        self.body = Some(schema_of::<T>);
        self
    }

    /// The query string: one parameter per field of `T`.
    pub(crate) fn query<T: JsonSchema>(mut self) -> Self {
        self.query = Some(schema_of::<T>);
        self
    }

    /// An optional request header.
    pub(crate) fn header(mut self, name: &'static str, description: &'static str) -> Self {
        self.headers.push((name, description));
        self
    }

    /// `200` with a `T`.
    pub(crate) fn ok<T: JsonSchema>(self) -> Self {
        self.reply::<T>(200)
    }

    /// `status` with a `T`.
    pub(crate) fn reply<T: JsonSchema>(mut self, status: u16) -> Self {
        self.replies.push((status, Reply::Json(schema_of::<T>)));
        self
    }

    /// `200` with the public key set.
    pub(crate) fn ok_jwks(mut self) -> Self {
        self.replies
            .push((200, Reply::JsonAs(JWK_SET_MEDIA_TYPE, jwks)));
        self
    }

    /// `200` with a string body of `media_type`.
    pub(crate) fn ok_text(mut self, media_type: &'static str) -> Self {
        self.replies.push((200, Reply::Text(media_type)));
        self
    }

    /// `204`, no body.
    pub(crate) fn no_content(mut self) -> Self {
        self.replies.push((204, Reply::Empty));
        self
    }
}

/// The router being built, and the documentation of every route in it.
#[derive(Debug)]
pub(crate) struct Api {
    router: Router<AppState>,
    routes: Vec<(&'static str, Doc)>,
    document: Arc<OnceLock<Bytes>>,
}

impl Api {
    pub(crate) fn new() -> Self {
        Self {
            router: Router::new(),
            routes: Vec::new(),
            document: Arc::new(OnceLock::new()),
        }
    }

    /// Serves `handler` at `path` for the method of `doc`, documented by `doc`.
    pub(crate) fn route<H, T>(self, path: &'static str, doc: Doc, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.route_layered(path, doc, handler, |m| m)
    }

    /// [`Api::route`] with layers around this one route (`layer` wraps its method router).
    pub(crate) fn route_layered<H, T>(
        mut self,
        path: &'static str,
        doc: Doc,
        handler: H,
        layer: impl FnOnce(MethodRouter<AppState>) -> MethodRouter<AppState>,
    ) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.router = self.router.route(path, layer(on(doc.filter, handler)));
        self.routes.push((path, doc));
        self
    }

    /// The handler that serves the document (complete once [`Api::finish`] ran).
    pub(crate) fn document(&self) -> impl Handler<((),), AppState> + use<> {
        let document = Arc::clone(&self.document);
        move || async move {
            (
                [(header::CONTENT_TYPE, "application/json")],
                document.get().cloned().unwrap_or_default(),
            )
                .into_response()
        }
    }

    /// Writes the document of every route registered and returns the router.
    pub(crate) fn finish(self) -> Router<AppState> {
        let bytes = serde_json::to_vec(&document(&self.routes)).unwrap_or_default();
        // Only `finish` sets it, once: `self` is consumed.
        let _ = self.document.set(Bytes::from(bytes));
        self.router
    }
}

/// The OpenAPI document of `routes`.
fn document(routes: &[(&'static str, Doc)]) -> Value {
    let mut g = SchemaSettings::draft2020_12()
        .with(|s| {
            s.definitions_path = "/components/schemas".into();
            s.meta_schema = None;
        })
        .into_generator();
    let problem = g.subschema_for::<Problem>();
    let mut paths = Map::new();
    for (path, doc) in routes {
        let op = operation(&mut g, path, doc, &problem);
        if let Value::Object(item) = paths
            .entry((*path).to_owned())
            .or_insert_with(|| Value::Object(Map::new()))
        {
            item.insert(doc.method.to_owned(), op);
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Lifeline license server",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Issues, revokes and validates Ed25519-signed licenses. Errors are RFC 9457 problem+json with a stable code. Times are unix seconds.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": g.take_definitions(true),
        },
    })
}

fn operation(g: &mut SchemaGenerator, path: &str, doc: &Doc, problem: &Schema) -> Value {
    let mut op = Map::new();
    op.insert("summary".into(), doc.summary.into());
    op.insert("tags".into(), json!([doc.tag]));
    let mut parameters: Vec<Value> = path_parameters(path)
        .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
        .collect();
    if let Some(query) = doc.query {
        parameters.extend(query_parameters(query));
    }
    for (name, description) in &doc.headers {
        parameters.push(json!({
            "name": name, "in": "header", "required": false,
            "schema": { "type": "string" }, "description": description,
        }));
    }
    if !parameters.is_empty() {
        op.insert("parameters".into(), parameters.into());
    }
    if let Some(body) = doc.body {
        op.insert(
            "requestBody".into(),
            json!({ "required": true, "content": { "application/json": { "schema": body(g) } } }),
        );
    }
    let mut responses = Map::new();
    for (status, reply) in &doc.replies {
        let answer = match reply {
            Reply::Json(schema) => json!({
                "description": "OK",
                "content": { "application/json": { "schema": schema(g) } },
            }),
            Reply::JsonAs(media_type, schema) => json!({
                "description": "OK",
                "content": { *media_type: { "schema": schema(g) } },
            }),
            Reply::Text(media_type) => json!({
                "description": "OK",
                "content": { *media_type: { "schema": { "type": "string" } } },
            }),
            Reply::Empty => json!({ "description": "No content" }),
        };
        responses.insert(status.to_string(), answer);
    }
    responses.insert(
        "default".into(),
        json!({
            "description": "Error (RFC 9457)",
            "content": { "application/problem+json": { "schema": problem } },
        }),
    );
    op.insert("responses".into(), responses.into());
    if let Some(role) = doc.role {
        op.insert("security".into(), json!([{ "bearer": [] }]));
        op.insert("x-required-role".into(), role.as_str().into());
    }
    Value::Object(op)
}

/// The `{name}` segments of a route path.
fn path_parameters(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
}

/// One query parameter per property of the query type's schema (inlined: no components).
/// An absent parameter is the type's `None`, so `null` is dropped from their types.
fn query_parameters(query: SchemaFn) -> Vec<Value> {
    let mut inline = SchemaSettings::draft2020_12()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .into_generator();
    let root = query(&mut inline).to_value();
    let required: Vec<&str> = root
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = root.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    properties
        .iter()
        .map(|(name, schema)| {
            let mut schema = schema.clone();
            let description = schema
                .as_object_mut()
                .and_then(|s| s.remove("description"))
                .unwrap_or_else(|| "".into());
            drop_null(&mut schema);
            json!({
                "name": name, "in": "query", "required": required.contains(&name.as_str()),
                "schema": schema, "description": description,
            })
        })
        .collect()
}

/// Removes `null` from a schema's `type` list or `anyOf`/`oneOf` alternatives.
fn drop_null(schema: &mut Value) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    if let Some(Value::Array(types)) = object.get_mut("type") {
        types.retain(|t| t != "null");
        if let [only] = types.as_slice() {
            let only = only.clone();
            object.insert("type".into(), only);
        }
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(alternatives)) = object.get_mut(key) {
            alternatives.retain(|a| a.get("type").and_then(Value::as_str) != Some("null"));
            if let [Value::Object(only)] = alternatives.as_slice() {
                let only = only.clone();
                object.remove(key);
                object.extend(only);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_parameters_are_the_braced_segments() {
        let names: Vec<&str> = path_parameters("/api/v1/licenses/{id}/revoke").collect();
        assert_eq!(names, ["id"]);
        assert_eq!(path_parameters("/healthz").count(), 0);
    }

    #[test]
    fn a_nullable_query_type_loses_its_null() {
        let mut s = json!({ "type": ["integer", "null"], "minimum": 0 });
        drop_null(&mut s);
        assert_eq!(s, json!({ "type": "integer", "minimum": 0 }));
        let mut s = json!({ "anyOf": [{ "$ref": "#/x" }, { "type": "null" }], "description": "d" });
        drop_null(&mut s);
        assert_eq!(s, json!({ "$ref": "#/x", "description": "d" }));
    }
}
