//! Parse any text as a JSONPath and evaluate it over a fixed document.
//! Run: `cargo fuzz run --fuzz-dir tests/fuzz json_path`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::template::json_path::JsonPath;
use tollgate::template::value::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(path) = std::str::from_utf8(data) else { return };
    let doc = Value::from_json(&serde_json_doc());
    if let Ok(p) = JsonPath::parse(path) {
        let mut s = String::new();
        p.eval(&doc).write_json(&mut s, 0);
    }
});

fn serde_json_doc() -> tollgate_json::Value {
    tollgate_json::from_str(r#"{"store":{"book":[{"t":"A","p":8},{"t":"B","p":12.5}],"x":null},"k":[[1,2],[3]]}"#)
        .unwrap_or_default()
}
