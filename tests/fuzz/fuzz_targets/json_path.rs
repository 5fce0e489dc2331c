//! Parse any text as a JSONPath and evaluate it over a fixed document, twice: over the
//! document as parsed onto the tape (what the gateway reads a body into; definite paths
//! walk the tape directly) and over the same document as a tree of values. Both must give
//! the same JSON, and neither may panic.
//! Run: `cargo fuzz run --fuzz-dir tests/fuzz json_path`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::template::json_doc;
use tollgate::template::json_path::JsonPath;
use tollgate::template::value::Value;

const DOC: &str = r#"{"store":{"book":[{"t":"A","p":8},{"t":"B","p":12.5,"tags":[]}],"x":null,
    "longer_name":{"a":{}},"longer_nam2":"s"},"k":[[1,2],[3]],"e":{},"s":"str"}"#;

fuzz_target!(|data: &[u8]| {
    let Ok(path) = std::str::from_utf8(data) else { return };
    let Ok(p) = JsonPath::parse(path) else { return };
    let tree = Value::from_json(&tollgate_json::from_str(DOC).unwrap_or_default());
    let Some(tape) = json_doc::parse_value(DOC.as_bytes()) else {
        panic!("the fixed document does not parse");
    };
    let (mut a, mut b) = (String::new(), String::new());
    p.eval(&tree).write_json(&mut a, 0);
    p.eval_owned(tape).write_json(&mut b, 0);
    assert_eq!(a, b, "{path}");
});
