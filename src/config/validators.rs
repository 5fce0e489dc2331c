//! Request validators from an OpenAPI export (DG: api-gateway-request-validation-set-up,
//! aws-behavior §10): the `x-amazon-apigateway-request-validators` map, the API-wide and
//! per-operation `x-amazon-apigateway-request-validator`, the operation's required
//! parameters and its request models, compiled into [`RequestValidator`]s.
//!
//! Models are JSON Schema draft 4, as AWS runs them. They reference each other the way
//! exports write it (`#/components/schemas/X` in OpenAPI 3, `#/definitions/X` in Swagger 2)
//! or the way the API Gateway console does
//! (`https://apigateway.amazonaws.com/restapis/{id}/models/X`); every form is rewritten to
//! `#/definitions/X` inside one document holding all the API's models, so no reference ever
//! leaves the process.

use std::path::Path;

use serde_json::{Map, Value, json};

use super::error::{ConfigError, Problems, pointer_token};
use crate::validate::{Location, RequestValidator, Required};

/// AWS's console form of a model reference.
const AWS_MODEL_REF: &str = "https://apigateway.amazonaws.com/restapis/";

/// The API-wide part: named validators, the default one, and every model.
#[derive(Debug, Default)]
pub struct ApiValidators {
    /// Name → (validateRequestBody, validateRequestParameters).
    named: Vec<(String, bool, bool)>,
    /// The root `x-amazon-apigateway-request-validator`.
    default: Option<String>,
    /// Every model, references rewritten, as `definitions`.
    definitions: Map<String, Value>,
}

/// Reads the API-wide validator settings and models of an OpenAPI document.
pub fn api_validators(
    file: &Path,
    root: &Map<String, Value>,
    problems: &mut Problems,
) -> ApiValidators {
    let mut out = ApiValidators::default();
    let loc = "/x-amazon-apigateway-request-validators";
    match root.get("x-amazon-apigateway-request-validators") {
        None => {}
        Some(Value::Object(map)) => {
            for (name, v) in map {
                let vloc = format!("{loc}/{}", pointer_token(name));
                let flag = |k: &str, problems: &mut Problems| match v.get(k) {
                    None => false,
                    Some(Value::Bool(b)) => *b,
                    Some(_) => {
                        problems.push(
                            ConfigError::new(file, format!("{vloc}/{k}"), format!("`{k}` must be true or false")),
                        );
                        false
                    }
                };
                let body = flag("validateRequestBody", problems);
                let params = flag("validateRequestParameters", problems);
                out.named.push((name.clone(), body, params));
            }
        }
        Some(_) => problems.push(
            ConfigError::new(file, loc, "`x-amazon-apigateway-request-validators` must be an object")
                .hint("map each validator name to { validateRequestBody: bool, validateRequestParameters: bool }"),
        ),
    }
    match root.get("x-amazon-apigateway-request-validator") {
        None => {}
        Some(Value::String(s)) => out.default = Some(s.clone()),
        Some(_) => problems.push(ConfigError::new(
            file,
            "/x-amazon-apigateway-request-validator",
            "`x-amazon-apigateway-request-validator` must be the name of a validator",
        )),
    }
    let models = root
        .get("components")
        .and_then(|c| c.get("schemas"))
        .or_else(|| root.get("definitions"))
        .and_then(Value::as_object);
    for (name, schema) in models.into_iter().flatten() {
        let mut schema = schema.clone();
        rewrite_refs(&mut schema);
        out.definitions.insert(name.clone(), schema);
    }
    out
}

impl ApiValidators {
    /// The compiled validator of one operation, or `None` when none applies.
    pub fn method(
        &self,
        file: &Path,
        oloc: &str,
        root: &Map<String, Value>,
        path_item: &Map<String, Value>,
        op: &Map<String, Value>,
        problems: &mut Problems,
    ) -> Option<RequestValidator> {
        let (name, nloc) = match op.get("x-amazon-apigateway-request-validator") {
            Some(Value::String(s)) => (
                s.as_str(),
                format!("{oloc}/x-amazon-apigateway-request-validator"),
            ),
            Some(_) => {
                problems.push(ConfigError::new(
                    file,
                    format!("{oloc}/x-amazon-apigateway-request-validator"),
                    "`x-amazon-apigateway-request-validator` must be the name of a validator",
                ));
                return None;
            }
            None => (
                self.default.as_deref()?,
                "/x-amazon-apigateway-request-validator".to_string(),
            ),
        };
        let Some(&(_, body, params)) = self.named.iter().find(|(n, ..)| n == name) else {
            let known: Vec<&str> = self.named.iter().map(|(n, ..)| n.as_str()).collect();
            problems.push(
                ConfigError::new(file, &nloc, format!("unknown request validator `{name}`"))
                    .hint(if known.is_empty() {
                        "define it under `x-amazon-apigateway-request-validators` at the document's root".to_string()
                    } else {
                        format!("use one of: {}", known.join(", "))
                    }),
            );
            return None;
        };
        let mut v = RequestValidator::default();
        if params {
            v.params = required_params(root, path_item, op);
            v.sort();
        }
        if body {
            for (ct, schema, at) in request_models(root, op) {
                let mut schema = schema.clone();
                rewrite_refs(&mut schema);
                let doc = json!({
                    "$schema": "http://json-schema.org/draft-04/schema#",
                    "definitions": Value::Object(self.definitions.clone()),
                    "allOf": [schema],
                });
                match jsonschema::draft4::new(&doc) {
                    Ok(compiled) => v.models.push((ct.to_ascii_lowercase(), compiled)),
                    Err(e) => problems.push(
                        ConfigError::new(
                            file,
                            format!("{oloc}/{at}"),
                            format!("the request model for `{ct}` is not a valid JSON Schema (draft 4): {e}"),
                        )
                        .hint("fix the schema, or reference a model in components/schemas (definitions in Swagger 2)"),
                    ),
                }
            }
        }
        (!v.params.is_empty() || !v.models.is_empty()).then_some(v)
    }
}

/// Required header, path and query parameters of an operation (path-item parameters first,
/// overridden by the operation's own with the same name and location).
fn required_params(
    root: &Map<String, Value>,
    item: &Map<String, Value>,
    op: &Map<String, Value>,
) -> Vec<Required> {
    let mut all: Vec<(Location, String, bool)> = Vec::new();
    for list in [item.get("parameters"), op.get("parameters")] {
        for p in list.and_then(Value::as_array).into_iter().flatten() {
            let p = resolve(root, p);
            let location = match p.get("in").and_then(Value::as_str) {
                Some("header") => Location::Header,
                Some("path") => Location::Path,
                Some("query") => Location::QueryString,
                _ => continue,
            };
            let Some(name) = p.get("name").and_then(Value::as_str) else {
                continue;
            };
            let required = p.get("required").and_then(Value::as_bool).unwrap_or(false);
            all.retain(|(l, n, _)| !(*l == location && n == name));
            all.push((location, name.to_string(), required));
        }
    }
    all.into_iter()
        .filter(|(.., required)| *required)
        .map(|(location, name, _)| Required { location, name })
        .collect()
}

/// `(content type, schema, its JSON pointer under the operation)` of an operation's request
/// body: OpenAPI 3 `requestBody.content`, or a Swagger 2 `in: body` parameter with the
/// operation's (or document's) `consumes`.
fn request_models<'a>(
    root: &'a Map<String, Value>,
    op: &'a Map<String, Value>,
) -> Vec<(String, &'a Value, String)> {
    if let Some(body) = op.get("requestBody") {
        let body = resolve(root, body);
        return body
            .get("content")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(ct, media)| {
                let at = format!("requestBody/content/{}/schema", pointer_token(ct));
                Some((ct.clone(), media.get("schema")?, at))
            })
            .collect();
    }
    let body_param = op
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, p)| (i, resolve(root, p)))
        .find(|(_, p)| p.get("in").and_then(Value::as_str) == Some("body"));
    let Some((i, schema)) = body_param.and_then(|(i, p)| Some((i, p.get("schema")?))) else {
        return Vec::new();
    };
    let at = format!("parameters/{i}/schema");
    let consumes = super::compile::strings(op.get("consumes").or_else(|| root.get("consumes")));
    if consumes.is_empty() {
        vec![("application/json".to_string(), schema, at)]
    } else {
        consumes
            .into_iter()
            .map(|ct| (ct, schema, at.clone()))
            .collect()
    }
}

/// Follows one local `$ref` (`#/a/b/c`) within the document, if the value is a reference.
fn resolve<'a>(root: &'a Map<String, Value>, v: &'a Value) -> &'a Value {
    let Some(r) = v.get("$ref").and_then(Value::as_str) else {
        return v;
    };
    let Some(pointer) = r.strip_prefix('#') else {
        return v;
    };
    let mut parts = pointer.split('/').skip(1);
    let Some(first) = parts.next() else { return v };
    let mut cur = match root.get(&unescape(first)) {
        Some(c) => c,
        None => return v,
    };
    for part in parts {
        match cur.get(unescape(part)) {
            Some(next) => cur = next,
            None => return v,
        }
    }
    cur
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// Rewrites every model reference to `#/definitions/NAME`.
fn rewrite_refs(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get_mut("$ref") {
                if let Some(name) = model_name(r) {
                    *r = format!("#/definitions/{}", pointer_token(&name));
                }
            }
            for (_, child) in map.iter_mut() {
                rewrite_refs(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite_refs),
        _ => {}
    }
}

/// The model a reference names, in any of the forms exports and the console use.
fn model_name(r: &str) -> Option<String> {
    let name = if let Some(rest) = r.strip_prefix("#/components/schemas/") {
        rest
    } else if let Some(rest) = r.strip_prefix("#/definitions/") {
        rest
    } else if let Some(rest) = r.strip_prefix(AWS_MODEL_REF) {
        rest.split_once("/models/")?.1
    } else {
        return None;
    };
    (!name.is_empty() && !name.contains('/')).then(|| unescape(name))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn references_in_every_form_point_into_definitions() {
        let mut v = json!({
            "a": {"$ref": "#/components/schemas/Pet"},
            "b": [{"$ref": "https://apigateway.amazonaws.com/restapis/abc123/models/Status"}],
            "c": {"oneOf": [{"type": "null"}, {"$ref": "#/definitions/Other"}]},
            "d": {"$ref": "#/components/responses/Nope"}
        });
        rewrite_refs(&mut v);
        assert_eq!(v["a"]["$ref"], "#/definitions/Pet");
        assert_eq!(v["b"][0]["$ref"], "#/definitions/Status");
        assert_eq!(v["c"]["oneOf"][1]["$ref"], "#/definitions/Other");
        assert_eq!(v["d"]["$ref"], "#/components/responses/Nope");
    }

    #[test]
    fn operation_parameters_override_path_item_ones() {
        let root = Map::new();
        let item = json!({"parameters": [
            {"name": "id", "in": "path", "required": true},
            {"name": "q", "in": "query", "required": true}
        ]});
        let op = json!({"parameters": [
            {"name": "q", "in": "query", "required": false},
            {"name": "X-H", "in": "header", "required": true},
            {"name": "body", "in": "body", "required": true}
        ]});
        let got = required_params(&root, item.as_object().unwrap(), op.as_object().unwrap());
        let names: Vec<_> = got.iter().map(|r| (r.location, r.name.as_str())).collect();
        assert_eq!(names, [(Location::Path, "id"), (Location::Header, "X-H")]);
    }
}
