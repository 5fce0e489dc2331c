//! Compile any text as a template and render it: must never panic or run unbounded.
//! Run: `cargo fuzz run --fuzz-dir tests/fuzz template_render`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::template::{IntegrationResponse, RenderState, RequestData, Template};

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    let Ok(t) = Template::compile(src) else { return };
    let req = RequestData {
        body: br#"{"a":[1,{"b":"c"}],"s":"x y","n":null}"#,
        path_params: &[("id", "1")],
        query: &[("q", "v"), ("q", "w")],
        headers: &[("Accept", "application/json")],
        stage_variables: &[("v", "1")],
        ..RequestData::default()
    };
    let mut out = Vec::new();
    let mut state = RenderState::new();
    let _ = t.render(&req, None, &mut state, &mut out);
    let resp = IntegrationResponse { status: 200, headers: &[], body: b"[1,2]" };
    out.clear();
    let _ = t.render(&req, Some(&resp), &mut state, &mut out);
    let _ = state.overrides();
});
