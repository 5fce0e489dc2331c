//! VALIDATE: API Gateway's request validators (DG: api-gateway-method-request-validation,
//! aws-behavior §10), compiled at load by `config::validators` and checked here, after LIMIT
//! and before the cache and the integration.
//!
//! A method with a validator checks, in AWS's order:
//!
//! 1. **Parameters** (`validateRequestParameters`): every required header, path and query
//!    string parameter must be present and not blank (`?q=` counts as missing). All missing
//!    names are reported at once, in the order AWS lists them: sorted by the full
//!    `method.request.{header|path|querystring}.NAME` key (so headers, then path, then query).
//! 2. **Body** (`validateRequestBody`): the body must be valid JSON that satisfies the model
//!    (JSON Schema draft 4) declared for the request's content type, falling back to the
//!    `application/json` model. An empty body is validated as `{}` (AWS-validated: a `GET`
//!    without a body fails a model that requires properties).
//!
//! The compiled schemas are `jsonschema` validators, built once per method and content type
//! and shared read-only by every core. Methods without a validator pay one `Option` check.

use crate::http::request::Request;
use crate::route::Params;

/// Where a required parameter is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Location {
    /// `method.request.header.NAME` (case-insensitive).
    Header,
    /// `method.request.path.NAME`.
    Path,
    /// `method.request.querystring.NAME`.
    QueryString,
}

/// One required parameter.
#[derive(Debug, Clone)]
pub struct Required {
    /// Where it is read from.
    pub location: Location,
    /// Its name as configured.
    pub name: String,
}

/// A method's compiled request validator.
#[derive(Debug, Default)]
pub struct RequestValidator {
    /// Required parameters in AWS's reporting order; empty unless `validateRequestParameters`.
    pub params: Vec<Required>,
    /// Models by lower-cased content type; empty unless `validateRequestBody` and the method
    /// declares request models.
    pub models: Vec<(String, jsonschema::Validator)>,
}

/// Why a request failed validation.
#[derive(Debug, PartialEq, Eq)]
pub enum Invalid {
    /// `BAD_REQUEST_PARAMETERS`: the missing names, comma-separated as AWS prints them.
    Parameters(String),
    /// `BAD_REQUEST_BODY`.
    Body,
}

impl RequestValidator {
    /// Sorts `params` into AWS's reporting order (by full key), keeping the first of duplicates.
    pub fn sort(&mut self) {
        self.params
            .sort_by(|a, b| (a.location, a.name.as_str()).cmp(&(b.location, b.name.as_str())));
        self.params
            .dedup_by(|a, b| a.location == b.location && a.name == b.name);
    }

    /// Checks one request: parameters first, then the body.
    pub fn check(&self, req: &Request<'_>, path_params: &Params<'_, '_>) -> Result<(), Invalid> {
        let mut missing = String::new();
        for p in &self.params {
            let present = match p.location {
                Location::Header => req.header(&p.name).is_some_and(|v| !is_blank(v)),
                Location::Path => path_params.get(&p.name).is_some_and(|v| !is_blank(v)),
                Location::QueryString => {
                    crate::pipeline::query_last(req.query, &p.name).is_some_and(|v| !v.is_empty())
                }
            };
            if !present {
                if !missing.is_empty() {
                    missing.push_str(", ");
                }
                missing.push_str(&p.name);
            }
        }
        if !missing.is_empty() {
            return Err(Invalid::Parameters(missing));
        }
        if self.models.is_empty() {
            return Ok(());
        }
        let ct = crate::pipeline::media_type(req.header("content-type"));
        let model = ct
            .and_then(|ct| self.models.iter().find(|(t, _)| t.eq_ignore_ascii_case(ct)))
            .or_else(|| self.models.iter().find(|(t, _)| t == "application/json"));
        let Some((_, schema)) = model else {
            return Ok(());
        };
        let body: &[u8] = if req.body.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            req.body
        };
        match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(v) if schema.is_valid(&v) => Ok(()),
            _ => Err(Invalid::Body),
        }
    }
}

fn is_blank(v: &[u8]) -> bool {
    v.iter().all(|b| *b == b' ' || *b == b'\t')
}
