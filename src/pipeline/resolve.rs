//! RESOLVE and ROUTE: host and base path or `/{stage}/...` → API and stage, then the
//! resource trie and method (aws-behavior §2).

use super::*;

/// Host → custom domain mapping, or the default endpoint's `/{stage}/...`; then the route.
pub(super) fn resolve<'s, 'p>(
    snapshot: &'s Snapshot,
    req: &Request<'p>,
) -> Result<Target<'s, 'p>, Reject> {
    let path = req.path;
    let mut chosen: Option<(&Api, &Stage, &'p str)> = None;
    // The Host header is looked up only when some domain is named (not just `*`).
    let named = snapshot.domains.iter().any(|d| d.host != "*");
    let domain = named
        .then(|| {
            let host = req.host();
            snapshot
                .domains
                .iter()
                .find(|d| d.host.eq_ignore_ascii_case(host))
        })
        .flatten()
        .or_else(|| snapshot.domains.iter().find(|d| d.host == "*"));
    if let Some(domain) = domain {
        let trimmed = path.trim_start_matches('/');
        for m in &domain.mappings {
            let rest = if m.base_path.is_empty() {
                Some(path)
            } else {
                trimmed
                    .strip_prefix(m.base_path.as_str())
                    .filter(|r| r.is_empty() || r.starts_with('/'))
            };
            if let Some(rest) = rest {
                let api = &snapshot.apis[m.api];
                chosen = Some((api, &api.stages[m.stage], rest));
                break;
            }
        }
        if chosen.is_none() {
            return Err(Reject::UnknownStage);
        }
    }
    let (api, stage, rest) = match chosen {
        Some(c) => c,
        None => {
            let api = default_api(snapshot, req).ok_or(Reject::UnknownStage)?;
            let trimmed = path.trim_start_matches('/');
            let (stage_name, rest) = match trimmed.find('/') {
                Some(i) => (&trimmed[..i], &trimmed[i..]),
                None => (trimmed, ""),
            };
            let stage = api
                .stages
                .iter()
                .find(|s| s.name == stage_name)
                .ok_or(Reject::UnknownStage)?;
            (api, stage, rest)
        }
    };
    let method =
        Method::from_bytes(req.method.as_bytes()).ok_or(Reject::MissingAuthenticationToken)?;
    let route_path = if rest.is_empty() { "/" } else { rest };
    let m = api
        .router
        .at(method, route_path.as_bytes())
        .ok_or(Reject::MissingAuthenticationToken)?;
    let method_index = *m.value as usize;
    let method_conf = &api.methods[method_index];
    let stage_index = api
        .stages
        .iter()
        .position(|s| std::ptr::eq(s, stage))
        .unwrap_or(0);
    Ok(Target {
        api,
        stage,
        method: method_conf,
        stage_index,
        method_index,
        limit_id: api.limit_id(stage_index, method_index),
        api_key: None,
        api_key_id: None,
        params: m.params,
        stage_path: rest,
        request_id: request_id(),
        extended_id: extended_request_id(),
    })
}

/// The API for the default endpoint: by `x-apigw-api-id`, by a `{apiId}.execute-api.` host,
/// else the first API.
pub(super) fn default_api<'s>(snapshot: &'s Snapshot, req: &Request<'_>) -> Option<&'s Api> {
    if snapshot.apis.len() > 1 {
        if let Some(id) = req.header_str("x-apigw-api-id") {
            if let Some(api) = snapshot.apis.iter().find(|a| a.id == id) {
                return Some(api);
            }
        }
        let host = req.host();
        if let Some((first, _)) = host.split_once('.') {
            if let Some(api) = snapshot.apis.iter().find(|a| a.id == first) {
                return Some(api);
            }
        }
    }
    snapshot.apis.first()
}
