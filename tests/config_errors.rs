//! Broken configurations through the real binary: `tollgate validate FILE` exits 1 and names
//! the file, the place in it (JSON pointer or line/column) and what is wrong; `tollgate serve`
//! on a broken file exits 1 without listening. The fixtures live in `tests/fixtures/broken/`.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{driver_args, root};

/// Each broken fixture, the location its first error names, and a substring of the message.
const CASES: &[(&str, &str, &str)] = &[
    (
        "yaml-syntax.yaml",
        "line 7, column 4",
        "did not find expected '-' indicator",
    ),
    (
        "json-syntax.json",
        "line 5, column 27",
        "invalid JSON: trailing comma",
    ),
    (
        "unknown-top-level-key.yaml",
        "line 2, column 1",
        "unknown field `listners`",
    ),
    (
        "unknown-integration-type.json",
        "/paths/~1pets/get/x-amazon-apigateway-integration/type",
        "unknown integration type `lambda_proxy`",
    ),
    (
        "missing-uri.yaml",
        "/paths/~1pets/get/x-amazon-apigateway-integration",
        "an HTTP integration needs a `uri`",
    ),
    (
        "bad-uri-scheme.yaml",
        "/paths/~1pets/get/x-amazon-apigateway-integration/uri",
        "invalid HTTP endpoint `ftp://files.example.test/pets`",
    ),
    (
        "timeout-out-of-range.json",
        "/paths/~1pets/get/x-amazon-apigateway-integration/timeoutInMillis",
        "timeoutInMillis 30000 is out of range",
    ),
    (
        "bad-passthrough.yaml",
        "/paths/~1pets/post/x-amazon-apigateway-integration/passthroughBehavior",
        "unknown passthroughBehavior `sometimes`",
    ),
    (
        "bad-request-parameter-source.yaml",
        "/paths/~1pets/get/x-amazon-apigateway-integration/requestParameters/integration.request.header.x-session",
        "invalid mapping source `method.request.cookie.session`",
    ),
    (
        "bad-selection-pattern.yaml",
        "/paths/~1pets/get/x-amazon-apigateway-integration/responses/4[0-9",
        "invalid selectionPattern `4[0-9`",
    ),
    (
        "invalid-status-code.json",
        "/paths/~1pets/get/x-amazon-apigateway-integration/responses/default/statusCode",
        "invalid statusCode \"999\"",
    ),
    (
        "greedy-not-last.yaml",
        "/paths/~1files~1{path+}~1meta/get",
        "the greedy variable must be the last segment",
    ),
    (
        "two-variable-siblings.yaml",
        "/paths/~1pets~1{name}~1toys/get",
        "`{name}` cannot sit beside `{petId}`",
    ),
    (
        "mapping-unknown-api.yaml",
        "/domains/0/mappings/0",
        "no API is named `petz`",
    ),
    (
        "bad-stage-variable.yaml",
        "/apis/0/stages/1/variables/backend",
        "invalid value `has spaces and <angle> brackets`",
    ),
    (
        "missing-openapi-file.yaml",
        "/apis/0/openapi",
        "cannot load `no-such-export.yaml`",
    ),
    (
        "unknown-request-validator.yaml",
        "/paths/~1pets/post/x-amazon-apigateway-request-validator",
        "unknown request validator `params-only`",
    ),
    (
        "invalid-request-model.yaml",
        "/paths/~1pets/post/requestBody/content/application~1json/schema",
        "the request model for `application/json` is not a valid JSON Schema (draft 4)",
    ),
    (
        "bad-listener-address.yaml",
        "/listeners/0/address",
        "`localhost:8080` is not an IP:PORT address",
    ),
];

fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures/broken").join(name)
}

fn validate(file: &PathBuf) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .arg("validate")
        .arg(file)
        .stdin(Stdio::null())
        .output()
        .expect("run tollgate validate")
}

#[test]
fn every_broken_fixture_is_reported_with_file_location_and_message() {
    let mut failures = Vec::new();
    for (name, location, message) in CASES {
        let file = fixture(name);
        let out = validate(&file);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let first = stdout.lines().next().unwrap_or("");
        // `error: FILE: LOCATION: MESSAGE`, the shape every problem is printed in.
        let prefix = format!("error: {}: {location}: ", file.display());
        if out.status.code() != Some(1) {
            failures.push(format!(
                "{name}: exit {:?}, want 1\n{stdout}",
                out.status.code()
            ));
        } else if !first.starts_with(&prefix) {
            failures.push(format!(
                "{name}: first line does not start with {prefix:?}\n{stdout}"
            ));
        } else if !first.contains(message) {
            failures.push(format!("{name}: message lacks {message:?}\n{stdout}"));
        } else if !stdout.contains("\n  hint: ") {
            failures.push(format!("{name}: no hint\n{stdout}"));
        } else if !stdout
            .trim_end()
            .ends_with(&format!("{}: 1 error(s)", file.display()))
        {
            failures.push(format!("{name}: no error count naming the file\n{stdout}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n\n")
    );
}

/// Every file in the fixture directory is in the table (or is the valid document the
/// broken gateway configs point at), so a new fixture cannot go unchecked.
#[test]
fn the_table_covers_every_fixture() {
    let mut names: Vec<String> = std::fs::read_dir(root().join("tests/fixtures/broken"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "ok-openapi.yaml")
        .collect();
    names.sort();
    let mut table: Vec<String> = CASES.iter().map(|c| c.0.to_string()).collect();
    table.sort();
    assert_eq!(names, table);
    assert!(CASES.len() >= 12);
}

#[test]
fn the_bundled_example_validates() {
    let file = root().join("config/petstore.yaml");
    let out = validate(&file);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    // The method count is left out: the example grows with the project.
    let last = stdout.lines().last().unwrap_or("");
    assert!(
        last.starts_with(&format!("{}: OK (1 API(s), ", file.display())),
        "{stdout}"
    );
    assert!(!stdout.contains("error:"), "{stdout}");
    // The valid document the broken configs reference validates too.
    let ok = validate(&fixture("ok-openapi.yaml"));
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
}

/// `serve` refuses a broken file: exit 1, the problem on stderr, and no listening banner.
#[test]
fn serve_on_a_broken_file_exits_1_without_listening() {
    for name in [
        "unknown-integration-type.json",
        "mapping-unknown-api.yaml",
        "yaml-syntax.yaml",
    ] {
        let file = fixture(name);
        let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .arg("serve")
            .arg(&file)
            .args(["--listen", "127.0.0.1:0", "--workers", "1"])
            .args(driver_args())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{name}: serve kept running on a broken file");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stdout = String::new();
        let mut stderr = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut stdout)
            .unwrap();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert_eq!(status.code(), Some(1), "{name}: {stderr}");
        assert!(!stdout.contains("listening"), "{name}: {stdout}");
        assert!(
            stderr.contains(&format!("error: {}: ", file.display())),
            "{name}: {stderr}"
        );
        assert!(stderr.contains("tollgate: not started"), "{name}: {stderr}");
    }
}
