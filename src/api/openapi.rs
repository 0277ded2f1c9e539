//! `/api/openapi.json`, built from the route table in [`super::routes`] and the request and
//! response structs themselves (through `schemars`): a route is documented by being
//! registered, and a field by being serialized, so the document cannot drift from the code.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value, json};

use super::error::ErrorBody;

/// Makes the schema of one type (a `$ref` into `components/schemas`).
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// The schema of `T`, as a [`SchemaFn`].
pub fn schema<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// What the document says about one route.
#[derive(Clone, Copy)]
pub struct Doc {
    /// A unique operation id.
    pub id: &'static str,
    /// One line.
    pub summary: &'static str,
    /// The group it is listed under.
    pub tag: &'static str,
    /// The query parameters (an object schema whose properties are the parameters).
    pub query: Option<SchemaFn>,
    /// The JSON body.
    pub body: Option<SchemaFn>,
    /// The success status.
    pub status: u16,
    /// The success body, when there is one.
    pub response: Option<SchemaFn>,
}

/// Statuses any call may answer besides its success.
const ERROR_STATUSES: [(u16, &str); 8] = [
    (400, "Bad request: see the field errors"),
    (401, "API key is either not provided or not valid"),
    (403, "The key is valid, but may not do this"),
    (404, "Not found, or not visible to this key"),
    (405, "Method not allowed"),
    (413, "Request entity too large"),
    (415, "Unsupported media type"),
    (429, "Too many requests: see Retry-After"),
];

fn generator(request: bool) -> SchemaGenerator {
    let settings = SchemaSettings::draft2020_12().with(|s| {
        s.definitions_path = "/components/schemas".into();
        s.meta_schema = None;
    });
    if request {
        settings.for_deserialize().into_generator()
    } else {
        settings.for_serialize().into_generator()
    }
}

/// Turns `{id}` segments into parameters and `{name:regex}` into `{name}`.
fn path_params(path: &str) -> (String, Vec<Value>) {
    let mut params = Vec::new();
    let segments: Vec<String> = path
        .split('/')
        .map(
            |seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => {
                    let name = name.split(':').next().unwrap_or(name);
                    params.push(json!({
                        "name": name,
                        "in": "path",
                        "required": true,
                        "schema": {"type": "integer", "format": "int64", "minimum": 1},
                    }));
                    format!("{{{name}}}")
                }
                None => seg.to_string(),
            },
        )
        .collect();
    (segments.join("/"), params)
}

/// Query parameters from an object schema's properties.
fn query_params(g: &mut SchemaGenerator, make: SchemaFn) -> Vec<Value> {
    let reference = make(g);
    let name = reference
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.rsplit('/').next())
        .map(str::to_string);
    let object = match name.and_then(|n| g.definitions().get(&n).cloned()) {
        Some(v) => v,
        None => reference.to_value(),
    };
    let props = object
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    props
        .into_iter()
        .map(|(name, mut schema)| {
            let description = schema
                .as_object_mut()
                .and_then(|o| o.remove("description"))
                .unwrap_or(Value::String(String::new()));
            // Parameters are optional strings on the wire: drop the null alternative.
            if let Some(types) = schema.get_mut("type").and_then(Value::as_array_mut) {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types[0].clone();
                    schema["type"] = only;
                }
            }
            json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema})
        })
        .collect()
}

/// The whole document.
pub fn document() -> Value {
    let mut responses_gen = generator(false);
    let mut requests_gen = generator(true);
    let error_ref = schema::<ErrorBody>(&mut responses_gen).to_value();
    let mut paths: Map<String, Value> = Map::new();
    for route in super::routes() {
        let doc = route.doc;
        let (path, mut parameters) = path_params(route.path);
        if let Some(q) = doc.query {
            parameters.extend(query_params(&mut requests_gen, q));
        }
        let mut responses = Map::new();
        let success = match doc.response {
            Some(make) => json!({
                "description": "OK",
                "content": {"application/json": {"schema": make(&mut responses_gen).to_value()}},
            }),
            None => json!({"description": "Done"}),
        };
        responses.insert(doc.status.to_string(), success);
        for (status, text) in ERROR_STATUSES {
            responses.insert(
                status.to_string(),
                json!({"description": text, "content": {"application/json": {"schema": error_ref}}}),
            );
        }
        let mut op = json!({
            "operationId": doc.id,
            "summary": doc.summary,
            "tags": [doc.tag],
            "parameters": parameters,
            "responses": responses,
        });
        if let Some(make) = doc.body {
            op["requestBody"] = json!({
                "required": true,
                "content": {"application/json": {"schema": make(&mut requests_gen).to_value()}},
            });
        }
        let entry = paths.entry(path).or_insert_with(|| json!({}));
        entry[route.method.as_str().to_lowercase()] = op;
    }
    let mut schemas = responses_gen.take_definitions(true);
    schemas.extend(requests_gen.take_definitions(true));
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Postdesk API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Compatible with the REST API of FreeScout's API & Webhooks module.",
        },
        "servers": [{"url": "/"}],
        "security": [{"apiKeyHeader": []}, {"apiKeyQuery": []}, {"basic": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "apiKeyHeader": {"type": "apiKey", "in": "header", "name": super::auth::KEY_HEADER},
                "apiKeyQuery": {"type": "apiKey", "in": "query", "name": "api_key"},
                "basic": {"type": "http", "scheme": "basic"},
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_documented_with_its_schemas() {
        let doc = document();
        let paths = doc["paths"].as_object().expect("paths");
        for route in super::super::routes() {
            let (path, _) = path_params(route.path);
            let method = route.method.as_str().to_lowercase();
            assert!(paths[&path][&method].is_object(), "{method} {path}");
        }
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        assert!(schemas.contains_key("ConversationView"));
        assert!(schemas.contains_key("ErrorBody"));
        // Every $ref points at a schema that exists.
        let text = doc.to_string();
        for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = piece.split('"').next().unwrap_or_default();
            assert!(schemas.contains_key(name), "dangling $ref {name}");
        }
    }
}
