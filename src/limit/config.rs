//! Plain serde shapes for throttles, usage plans and API keys, as the gateway config spells them.
//!
//! Field names follow the API Gateway REST API (`UsagePlan`, `ApiStage`, `ThrottleSettings`,
//! `QuotaSettings`, `ApiKey`; API reference) in camelCase, so an exported usage plan reads
//! unchanged. No logic lives here: [`super::Limiter::build`] checks and compiles these.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// AWS account-level default per Region: 10,000 requests per second (DG: limits).
pub const ACCOUNT_DEFAULT_RATE: f64 = 10_000.0;
/// AWS account-level default burst per Region (DG: limits).
pub const ACCOUNT_DEFAULT_BURST: u64 = 5_000;

/// Everything the limiter is built from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LimitsConfig {
    /// The gateway-wide bucket (AWS's account level). Defaults to 10,000 rps, burst 5,000.
    #[serde(default = "account_default")]
    pub account: ThrottleSettings,
    /// Stage throttles (`methodSettings`), one entry per API stage that sets any.
    #[serde(default)]
    pub stages: Vec<StageThrottleConfig>,
    /// Usage plans.
    #[serde(default)]
    pub usage_plans: Vec<UsagePlanConfig>,
    /// API keys.
    #[serde(default)]
    pub api_keys: Vec<ApiKeyConfig>,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            account: account_default(),
            stages: Vec::new(),
            usage_plans: Vec::new(),
            api_keys: Vec::new(),
        }
    }
}

fn account_default() -> ThrottleSettings {
    ThrottleSettings {
        burst_limit: ACCOUNT_DEFAULT_BURST,
        rate_limit: ACCOUNT_DEFAULT_RATE,
    }
}

/// `ThrottleSettings`: `rateLimit` = steady requests per second, `burstLimit` = bucket size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ThrottleSettings {
    /// Bucket capacity.
    pub burst_limit: u64,
    /// Refill rate, requests per second.
    pub rate_limit: f64,
}

/// A stage's method throttles, from its `methodSettings` (`throttling/rateLimit`,
/// `throttling/burstLimit`). Keys are `resourcePath/httpMethod` as AWS writes them in
/// `methodSettings` (`pets/GET`, `pets/{id}/DELETE`, `/GET` for the root) or `*/*` for the
/// stage default every method without its own entry gets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StageThrottleConfig {
    /// The REST API's id.
    pub api_id: String,
    /// The stage name.
    pub stage: String,
    /// `resourcePath/httpMethod` (or `*/*`) → throttle.
    #[serde(default)]
    pub method_settings: BTreeMap<String, ThrottleSettings>,
}

/// `UsagePlan`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UsagePlanConfig {
    /// The plan's id; keys name it in `usagePlanIds`.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Description, kept for GetUsage-like output.
    #[serde(default)]
    pub description: String,
    /// The API stages the plan covers.
    #[serde(default)]
    pub api_stages: Vec<ApiStageConfig>,
    /// Per-key throttle across all the plan's stages.
    #[serde(default)]
    pub throttle: Option<ThrottleSettings>,
    /// Per-key quota across all the plan's stages.
    #[serde(default)]
    pub quota: Option<QuotaSettings>,
}

/// `ApiStage`: one stage in a plan, with optional per-method key throttles.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiStageConfig {
    /// The REST API's id.
    pub api_id: String,
    /// The stage name.
    pub stage: String,
    /// `/<resourcePath>/<METHOD>` → throttle, as AWS keys it (`/pets/GET`, root `//GET`).
    #[serde(default)]
    pub throttle: BTreeMap<String, ThrottleSettings>,
}

/// `QuotaSettings`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QuotaSettings {
    /// Requests allowed per period.
    pub limit: u64,
    /// Requests subtracted from `limit` in the initial period (API: QuotaSettings).
    #[serde(default)]
    pub offset: u64,
    /// `DAY`, `WEEK` or `MONTH`.
    pub period: QuotaPeriod,
}

/// `QuotaSettings.period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum QuotaPeriod {
    /// A UTC day.
    Day,
    /// A UTC week, Sunday 00:00 to Sunday 00:00 (see `quota.rs`).
    Week,
    /// A UTC calendar month.
    Month,
}

/// `ApiKey`, with its usage-plan membership (`UsagePlanKey`) folded in.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// The key's id (`$context.identity.apiKeyId`).
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// The key itself. Give this or `valueSha256`, not both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Lower- or upper-case hex SHA-256 of the key, so the config need not hold the secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_sha256: Option<String>,
    /// Disabled keys are refused with 403 (AWS-validated).
    #[serde(default = "enabled_default")]
    pub enabled: bool,
    /// Plans the key belongs to.
    #[serde(default)]
    pub usage_plan_ids: Vec<String>,
}

fn enabled_default() -> bool {
    true
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_aws_shaped_plan() {
        let json = r#"{
          "usagePlans": [{"id": "c7y23b", "apiStages": [{"apiId": "a1", "stage": "dev",
             "throttle": {"/pets/GET": {"burstLimit": 2, "rateLimit": 1.0}}}],
             "quota": {"limit": 10, "offset": 0, "period": "DAY"},
             "throttle": {"burstLimit": 1, "rateLimit": 2.0}}],
          "apiKeys": [{"id": "k1", "value": "apikey1234abcdefghij0123456789",
             "usagePlanIds": ["c7y23b"]}]
        }"#;
        let cfg: LimitsConfig = serde_json::from_str(json).unwrap();
        assert_eq!(cfg.account.rate_limit, ACCOUNT_DEFAULT_RATE);
        assert_eq!(cfg.account.burst_limit, ACCOUNT_DEFAULT_BURST);
        let plan = &cfg.usage_plans[0];
        assert_eq!(
            plan.quota,
            Some(QuotaSettings {
                limit: 10,
                offset: 0,
                period: QuotaPeriod::Day
            })
        );
        assert_eq!(plan.api_stages[0].throttle["/pets/GET"].burst_limit, 2);
        assert!(cfg.api_keys[0].enabled);
    }

    #[test]
    fn rejects_unknown_fields() {
        let err = serde_json::from_str::<ThrottleSettings>(r#"{"burst":1,"rateLimit":1}"#);
        assert!(err.is_err());
    }
}
