//! API keys, usage plans, throttling and quotas through the real gateway (aws-behavior §9).
//! Buckets use a near-zero refill rate, so counts of 200 vs 429 follow from the burst alone
//! and no test depends on sleeping.

use std::process::Command;

use crate::support::{Gateway, request, temp_dir};

const K1: &str = "k1k1k1k1k1k1k1k1k1k1k1k1";
const K2: &str = "k2k2k2k2k2k2k2k2k2k2k2k2";
const KDIS: &str = "kdiskdiskdiskdiskdiskdis";
const KPROD: &str = "kprodkprodkprodkprodkprod";
const KQ: &str = "kqkqkqkqkqkqkqkqkqkqkqkq";

fn mock(body: &str) -> String {
    format!(
        r#"
            x-amazon-apigateway-integration:
              type: mock
              requestTemplates: {{ application/json: '{{"statusCode": 200}}' }}
              responses:
                default:
                  statusCode: "200"
                  responseTemplates: {{ application/json: '{body}' }}"#
    )
}

fn config(account: &str) -> String {
    format!(
        r#"
throttle: {account}
usage_plans:
  - id: gold
    apiStages:
      - apiId: lim
        stage: dev
        throttle:
          "/limited/GET": {{ burstLimit: 2, rateLimit: 0.001 }}
    throttle: {{ burstLimit: 5, rateLimit: 0.001 }}
  - id: quota
    apiStages:
      - apiId: lim
        stage: q
    quota: {{ limit: 3, period: DAY }}
  - id: prodonly
    apiStages:
      - apiId: lim
        stage: prod
api_keys:
  - {{ id: k1, value: {K1}, usagePlanIds: [gold] }}
  - {{ id: k2, value: {K2}, usagePlanIds: [gold] }}
  - {{ id: kdis, value: {KDIS}, enabled: false, usagePlanIds: [gold] }}
  - {{ id: kprod, value: {KPROD}, usagePlanIds: [prodonly] }}
  - {{ id: kq, value: {KQ}, usagePlanIds: [quota] }}
apis:
  - name: lim
    id: lim
    openapi:
      openapi: "3.0.1"
      info: {{ title: lim, version: "1" }}
      components:
        securitySchemes:
          api_key: {{ type: apiKey, name: x-api-key, in: header }}
      paths:
        /keyed:
          get:
            security: [{{ api_key: [] }}]{keyed}
        /limited:
          get:
            security: [{{ api_key: [] }}]{limited}
        /open:
          get:{open}
        /stage-throttled:
          get:{open}
    stages:
      - name: dev
        method_settings:
          "stage-throttled/GET": {{ throttlingRateLimit: 0.001, throttlingBurstLimit: 3 }}
      - name: prod
      - name: q
admin:
  address: 127.0.0.1:0
"#,
        keyed = mock(r#"{"key": "$context.identity.apiKeyId"}"#),
        limited = mock(r#"{"limited": true}"#),
        open = mock(r#"{"open": true}"#),
    )
}

fn statuses(gw: &Gateway, path: &str, key: Option<&str>, n: usize) -> Vec<u16> {
    (0..n)
        .map(|_| {
            let headers: Vec<(&str, &str)> = key.map(|k| ("x-api-key", k)).into_iter().collect();
            request("GET", &gw.url(path), &headers, None).status
        })
        .collect()
}

const HIGH: &str = "{ burstLimit: 100000, rateLimit: 100000 }";

#[test]
fn api_keys_missing_unknown_disabled_or_wrong_stage_are_403() {
    let gw = Gateway::start_yaml(&config(HIGH), &[]);
    for key in [
        None,
        Some("unknownunknownunknownunk"),
        Some(KDIS),
        Some(KPROD),
    ] {
        let headers: Vec<(&str, &str)> = key.map(|k| ("x-api-key", k)).into_iter().collect();
        let r = request("GET", &gw.url("/dev/keyed"), &headers, None);
        assert_eq!(r.status, 403, "{key:?}");
        assert_eq!(r.body, r#"{"message":"Forbidden"}"#);
        assert_eq!(r.header("x-amzn-ErrorType"), Some("ForbiddenException"));
    }
    let r = request("GET", &gw.url("/dev/keyed"), &[("X-API-Key", K1)], None);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["key"], "k1", "$context.identity.apiKeyId");
    // Methods without apiKeyRequired ignore keys entirely.
    assert_eq!(request("GET", &gw.url("/dev/open"), &[], None).status, 200);
}

#[test]
fn throttles_at_every_level() {
    let gw = Gateway::start_yaml(&config(HIGH), &[]);
    // Stage method throttle (methodSettings "stage-throttled/GET", burst 3).
    assert_eq!(
        statuses(&gw, "/dev/stage-throttled", None, 5),
        [200, 200, 200, 429, 429]
    );
    let r = request("GET", &gw.url("/dev/stage-throttled"), &[], None);
    assert_eq!(r.body, r#"{"message":"Too Many Requests"}"#);
    assert_eq!(
        r.header("x-amzn-ErrorType"),
        Some("TooManyRequestsException")
    );
    // Usage plan per-method throttle for a key (burst 2).
    assert_eq!(statuses(&gw, "/dev/limited", Some(K1), 3), [200, 200, 429]);
    // Usage plan per-key throttle (burst 5), independent per key; /limited used 2 of k1's.
    assert_eq!(
        statuses(&gw, "/dev/keyed", Some(K1), 4),
        [200, 200, 200, 429]
    );
    assert_eq!(
        statuses(&gw, "/dev/keyed", Some(K2), 6),
        [200, 200, 200, 200, 200, 429]
    );
    // Other methods are not throttled by these buckets.
    assert_eq!(statuses(&gw, "/dev/open", None, 5), [200; 5]);
}

#[test]
fn gateway_wide_throttle() {
    let gw = Gateway::start_yaml(&config("{ burstLimit: 4, rateLimit: 0.001 }"), &[]);
    assert_eq!(
        statuses(&gw, "/dev/open", None, 6),
        [200, 200, 200, 200, 429, 429]
    );
}

#[test]
fn quota_survives_restart_and_usage_is_reported() {
    let dir = temp_dir("quota");
    let file = dir.join("gateway.yaml");
    std::fs::write(&file, config(HIGH)).unwrap();
    let state = dir.join("state");
    let state_arg = state.to_str().unwrap();
    let gw = Gateway::start_file(&file, &["--state-dir", state_arg]);
    assert_eq!(statuses(&gw, "/q/keyed", Some(KQ), 4), [200, 200, 200, 429]);
    let r = request("GET", &gw.url("/q/keyed"), &[("x-api-key", KQ)], None);
    assert_eq!(r.body, r#"{"message":"Limit Exceeded"}"#);
    assert_eq!(r.header("x-amzn-ErrorType"), Some("LimitExceededException"));
    // The admin endpoint reports the day's usage, GetUsage-shaped.
    let admin = gw
        .banner
        .iter()
        .find_map(|l| l.strip_prefix("tollgate: admin endpoint on "))
        .unwrap()
        .to_string();
    let today = {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let (y, m, d) = tollgate::http::response::civil_from_days((secs / 86400) as i64);
        format!("{y:04}-{m:02}-{d:02}")
    };
    let usage = crate::support::get(&format!(
        "{admin}/usage?usagePlanId=quota&keyId=kq&startDate={today}&endDate={today}"
    ));
    assert_eq!(usage.status, 200, "{}", usage.body);
    assert_eq!(usage.json()["items"]["kq"], serde_json::json!([[3, 0]]));
    assert_eq!(gw.stop().code(), Some(0));
    // Restart on the same state: the quota is still spent.
    let gw = Gateway::start_file(&file, &["--state-dir", state_arg]);
    assert_eq!(statuses(&gw, "/q/keyed", Some(KQ), 2), [429, 429]);
    assert_eq!(gw.stop().code(), Some(0));
    // `tollgate usage` reads the store of a stopped gateway.
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args([
            "usage",
            file.to_str().unwrap(),
            "--key",
            "kq",
            "--from",
            &today,
            "--to",
            &today,
            "--state-dir",
            state_arg,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["usagePlanId"], "quota");
    assert_eq!(v["items"]["kq"], serde_json::json!([[3, 0]]));
}

#[test]
fn quota_periods_and_refills_follow_the_clock() {
    // `--test-clock` moves the gateway's time, so a UTC day boundary and a bucket refill are
    // crossed through the real binary without sleeping.
    let dir = temp_dir("quota-clock");
    let file = dir.join("gateway.yaml");
    std::fs::write(&file, config(HIGH)).unwrap();
    let state = dir.join("state");
    let gw = Gateway::start_file(
        &file,
        &["--state-dir", state.to_str().unwrap(), "--test-clock"],
    );
    assert_eq!(statuses(&gw, "/q/keyed", Some(KQ), 4), [200, 200, 200, 429]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let to_midnight = 86_400 - now % 86_400;
    if to_midnight > 120 {
        // A minute before midnight UTC: still the same day's quota.
        gw.advance_clock(to_midnight - 60);
        assert_eq!(statuses(&gw, "/q/keyed", Some(KQ), 1), [429]);
        gw.advance_clock(120);
    } else {
        gw.advance_clock(to_midnight + 60);
    }
    // The next UTC day: a fresh quota of 3.
    assert_eq!(statuses(&gw, "/q/keyed", Some(KQ), 4), [200, 200, 200, 429]);
    // The stage method bucket (burst 3, 0.001/s) refills one token per 1,000 s.
    assert_eq!(
        statuses(&gw, "/dev/stage-throttled", None, 4),
        [200, 200, 200, 429]
    );
    gw.advance_clock(1_000);
    assert_eq!(statuses(&gw, "/dev/stage-throttled", None, 2), [200, 429]);
    gw.advance_clock(100_000);
    assert_eq!(
        statuses(&gw, "/dev/stage-throttled", None, 4),
        [200, 200, 200, 429]
    );
    assert_eq!(gw.stop().code(), Some(0));
}

#[test]
fn reload_keeps_bucket_levels() {
    let dir = temp_dir("reload");
    let file = dir.join("gateway.yaml");
    std::fs::write(&file, config(HIGH)).unwrap();
    let gw = Gateway::start_file(&file, &[]);
    assert_eq!(statuses(&gw, "/dev/stage-throttled", None, 2), [200, 200]);
    gw.signal("HUP");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !gw
        .output()
        .iter()
        .any(|l| l.contains("configuration reloaded"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no reload within 10 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(
        statuses(&gw, "/dev/stage-throttled", None, 2),
        [200, 429],
        "one token left after reload"
    );
}

#[test]
fn csv_import_good_and_bad() {
    let dir = temp_dir("csv");
    let good = dir.join("keys.csv");
    std::fs::write(
        &good,
        format!("Name,Key,Description,Enabled,UsagePlanIds\nimported,{K2}x,from csv,true,gold\n"),
    )
    .unwrap();
    let out_file = dir.join("keys.yaml");
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args([
            "keys",
            "import",
            good.to_str().unwrap(),
            "--out",
            out_file.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let yaml = std::fs::read_to_string(&out_file).unwrap();
    assert!(yaml.contains("valueSha256"), "{yaml}");
    assert!(
        !yaml.contains(&format!("{K2}x")),
        "the secret is not written"
    );
    // The gateway reads the imported file.
    let cfg = config(HIGH).replace("api_keys:\n", "api_key_files: [keys.yaml]\napi_keys:\n");
    let file = dir.join("gateway.yaml");
    std::fs::write(&file, cfg).unwrap();
    let gw = Gateway::start_file(&file, &[]);
    assert_eq!(
        request(
            "GET",
            &gw.url("/dev/keyed"),
            &[("x-api-key", &format!("{K2}x"))],
            None
        )
        .status,
        200
    );
    // Bad rows are reported by line, and nothing is written.
    let bad = dir.join("bad.csv");
    std::fs::write(
        &bad,
        "Name,Key\nshort,abc\nok,abcdefghijklmnopqrstuvwxyz\nquote,\"unterminated\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["keys", "import", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2"), "{err}");
    assert!(err.contains("line 4"), "{err}");
    assert!(!err.contains("line 3"), "{err}");
}
