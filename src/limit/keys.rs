//! API keys: the lookup table the request path uses, and the import of AWS's API key CSV files.
//!
//! A presented key is hashed with SHA-256 and looked up by digest, then the digest is compared in
//! constant time (`subtle`). Keying the table by digest lets the config give either the key or
//! only its SHA-256 (so the secret need not sit in the config) with one code path, and a timing
//! difference in the map lookup can only tell an attacker about digests, not about key bytes.
//!
//! Rules (DG: api-gateway-api-key-source, api-key-file-format; aws-behavior §9.2): a key is 20 to
//! 128 characters, a name at most 1024; two keys are the same key when their values are equal,
//! and a later import of the same value replaces the earlier one.

use std::collections::HashMap;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::config::ApiKeyConfig;

/// Shortest key AWS accepts ("API Key value should be at least 20 characters").
pub const MIN_KEY_LEN: usize = 20;
/// Longest key AWS accepts ("API Key value exceeds maximum size of 128 characters").
pub const MAX_KEY_LEN: usize = 128;
/// Longest key name AWS accepts.
pub const MAX_NAME_LEN: usize = 1024;
/// Most rows one CSV import reads; a larger file is refused rather than read without end.
pub const MAX_CSV_ROWS: usize = 1_000_000;
/// Most fields in one CSV row.
const MAX_CSV_FIELDS: usize = 64;

/// A SHA-256 digest.
pub type Digest32 = [u8; 32];

/// SHA-256 of `value`.
#[must_use]
pub fn sha256(value: &[u8]) -> Digest32 {
    Sha256::digest(value).into()
}

/// One known key, as the request path needs it.
#[derive(Debug, Clone)]
pub struct KeyEntry {
    /// `$context.identity.apiKeyId`.
    pub id: String,
    /// Disabled keys are refused.
    pub enabled: bool,
    digest: Digest32,
}

/// Every configured key, by digest.
#[derive(Debug, Default)]
pub struct KeyTable {
    by_digest: HashMap<Digest32, u32, ahash::RandomState>,
    entries: Vec<KeyEntry>,
}

/// Why a configured key was refused at load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError {
    /// The key's id.
    pub id: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl KeyTable {
    /// Builds the table; every bad key is reported, not just the first.
    pub fn build(keys: &[ApiKeyConfig]) -> Result<KeyTable, Vec<KeyError>> {
        let mut table = KeyTable::default();
        let mut errors = Vec::new();
        for key in keys {
            let err = |message: String| KeyError {
                id: key.id.clone(),
                message,
            };
            let digest = match (&key.value, &key.value_sha256) {
                (Some(v), None) => match check_key_value(v) {
                    Ok(()) => sha256(v.as_bytes()),
                    Err(m) => {
                        errors.push(err(m));
                        continue;
                    }
                },
                (None, Some(hex)) => match parse_hex32(hex) {
                    Some(d) => d,
                    None => {
                        errors.push(err(
                            "valueSha256 must be 64 hexadecimal digits (a SHA-256 digest)".into(),
                        ));
                        continue;
                    }
                },
                _ => {
                    errors.push(err("give exactly one of value and valueSha256".into()));
                    continue;
                }
            };
            if key.id.is_empty() {
                errors.push(err("the key has no id".into()));
                continue;
            }
            let index = table.entries.len() as u32;
            if table.by_digest.insert(digest, index).is_some() {
                errors.push(err(
                    "another key has the same value; two keys with one value are one key".into(),
                ));
                continue;
            }
            table.entries.push(KeyEntry {
                id: key.id.clone(),
                enabled: key.enabled,
                digest,
            });
        }
        if errors.is_empty() {
            Ok(table)
        } else {
            Err(errors)
        }
    }

    /// The index of the key whose value is `presented`, if any.
    #[inline]
    #[must_use]
    pub fn find(&self, presented: &[u8]) -> Option<u32> {
        if presented.len() > MAX_KEY_LEN {
            return None;
        }
        let digest = sha256(presented);
        let index = *self.by_digest.get(&digest)?;
        let entry = self.entries.get(index as usize)?;
        bool::from(entry.digest.ct_eq(&digest)).then_some(index)
    }

    /// The entry at `index`.
    #[must_use]
    pub fn entry(&self, index: u32) -> Option<&KeyEntry> {
        self.entries.get(index as usize)
    }

    /// The index of the key with id `id`.
    #[must_use]
    pub fn index_of_id(&self, id: &str) -> Option<u32> {
        self.entries
            .iter()
            .position(|e| e.id == id)
            .map(|i| i as u32)
    }

    /// Number of keys.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no keys.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Checks a key value against AWS's rules (aws-behavior §9.2).
pub fn check_key_value(v: &str) -> Result<(), String> {
    let n = v.chars().count();
    if n < MIN_KEY_LEN {
        return Err(format!(
            "API Key value should be at least {MIN_KEY_LEN} characters (this one has {n})"
        ));
    }
    if n > MAX_KEY_LEN {
        return Err(format!(
            "API Key value exceeds maximum size of {MAX_KEY_LEN} characters (this one has {n})"
        ));
    }
    if !v.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err("API Key value must be letters and digits only".into());
    }
    Ok(())
}

fn parse_hex32(hex: &str) -> Option<Digest32> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// One bad row of a CSV import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvError {
    /// 1-based line in the file.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for CsvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Reads an API key file in AWS's format (DG: api-key-file-format).
///
/// The header names the columns, case-insensitively and in any order; `Name` and `Key` are
/// required, `Description`, `Enabled` and `UsagePlanIds` optional, other columns ignored. A
/// field may be quoted with `"` or `'` (AWS quotes a list of plan ids: `"c7y23b,glvrsr"`); a
/// doubled quote inside stands for one. Missing optional values default to an empty string and
/// `Enabled` to true. A later row with the same key replaces an earlier one. Imported keys get
/// id `k` + the first 9 hex digits of the key's SHA-256 (stable across imports) and are stored
/// by digest only, so the config written from them holds no secret.
///
/// Every bad row is reported with its line; nothing is returned unless the whole file is good.
pub fn import_csv(text: &str) -> Result<Vec<ApiKeyConfig>, Vec<CsvError>> {
    let mut errors = Vec::new();
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((header_line, header)) = lines.next() else {
        return Err(vec![CsvError {
            line: 1,
            message: "the file is empty; it needs a header with Name and Key columns".into(),
        }]);
    };
    let columns = match split_row(header.trim_start_matches('\u{feff}')) {
        Ok(c) => c,
        Err(message) => {
            return Err(vec![CsvError {
                line: header_line,
                message,
            }]);
        }
    };
    let col = |want: &str| {
        columns
            .iter()
            .position(|c| c.trim().eq_ignore_ascii_case(want))
    };
    let (name_col, key_col) = (col("name"), col("key"));
    let (desc_col, enabled_col, plans_col) =
        (col("description"), col("enabled"), col("usageplanids"));
    let (Some(name_col), Some(key_col)) = (name_col, key_col) else {
        return Err(vec![CsvError {
            line: header_line,
            message: format!(
                "the header must have Name and Key columns (found: {})",
                columns.join(",")
            ),
        }]);
    };

    let mut keys: Vec<ApiKeyConfig> = Vec::new();
    let mut by_digest: HashMap<Digest32, usize> = HashMap::new();
    for (line, row) in lines {
        if keys.len() >= MAX_CSV_ROWS {
            errors.push(CsvError {
                line,
                message: format!("more than {MAX_CSV_ROWS} keys in one file"),
            });
            break;
        }
        let bad = |message: String| CsvError { line, message };
        let fields = match split_row(row) {
            Ok(f) => f,
            Err(m) => {
                errors.push(bad(m));
                continue;
            }
        };
        let field = |c: Option<usize>| {
            c.and_then(|c| fields.get(c))
                .map(|s| s.trim())
                .unwrap_or("")
        };
        let name = field(Some(name_col));
        let key = field(Some(key_col));
        let mut row_errors = Vec::new();
        if name.is_empty() {
            row_errors.push("the Name is empty".to_string());
        } else if name.chars().count() > MAX_NAME_LEN {
            row_errors.push(format!("the Name is longer than {MAX_NAME_LEN} characters"));
        }
        if let Err(m) = check_key_value(key) {
            row_errors.push(m);
        }
        let enabled = match field(enabled_col).to_ascii_lowercase().as_str() {
            "" | "true" => true,
            "false" => false,
            other => {
                row_errors.push(format!("Enabled must be TRUE or FALSE, not {other:?}"));
                true
            }
        };
        if !row_errors.is_empty() {
            errors.push(bad(row_errors.join("; ")));
            continue;
        }
        let digest = sha256(key.as_bytes());
        let config = ApiKeyConfig {
            id: format!("k{}", &to_hex(&digest)[..9]),
            name: name.to_string(),
            description: field(desc_col).to_string(),
            value: None,
            value_sha256: Some(to_hex(&digest)),
            enabled,
            usage_plan_ids: field(plans_col)
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(String::from)
                .collect(),
        };
        match by_digest.get(&digest) {
            Some(&at) => keys[at] = config,
            None => {
                by_digest.insert(digest, keys.len());
                keys.push(config);
            }
        }
    }
    if errors.is_empty() {
        Ok(keys)
    } else {
        Err(errors)
    }
}

/// Splits one CSV line into fields; `"` or `'` may quote a field.
fn split_row(row: &str) -> Result<Vec<String>, String> {
    let row = row.strip_suffix('\r').unwrap_or(row);
    let mut fields = Vec::new();
    let mut chars = row.chars().peekable();
    loop {
        if fields.len() >= MAX_CSV_FIELDS {
            return Err(format!("more than {MAX_CSV_FIELDS} columns"));
        }
        let mut field = String::new();
        match chars.peek().copied() {
            Some(q @ ('"' | '\'')) => {
                chars.next();
                let mut closed = false;
                while let Some(c) = chars.next() {
                    if c == q {
                        if chars.peek() == Some(&q) {
                            chars.next();
                            field.push(q);
                        } else {
                            closed = true;
                            break;
                        }
                    } else {
                        field.push(c);
                    }
                }
                if !closed {
                    return Err(format!("a field opened with {q} is never closed"));
                }
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                    Some(',') => fields.push(field),
                    Some(c) => {
                        return Err(format!("unexpected {c:?} after a closing quote"));
                    }
                }
            }
            _ => {
                for c in chars.by_ref() {
                    if c == ',' {
                        fields.push(field);
                        field = String::new();
                        break;
                    }
                    field.push(c);
                }
                if chars.peek().is_none() {
                    // Either the line ended inside this field, or right after a comma
                    // (then the last, empty field is still to be pushed).
                    fields.push(field);
                    return Ok(fields);
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const KEY: &str = "apikey1234abcdefghij0123456789";

    #[test]
    fn finds_by_value_or_digest() {
        let hashed = to_hex(&sha256(b"otherkey1234abcdefghij0123456789"));
        let table = KeyTable::build(&[
            ApiKeyConfig {
                id: "a".into(),
                value: Some(KEY.into()),
                enabled: true,
                ..Default::default()
            },
            ApiKeyConfig {
                id: "b".into(),
                value_sha256: Some(hashed.to_uppercase()),
                enabled: false,
                ..Default::default()
            },
        ])
        .unwrap();
        assert_eq!(table.find(KEY.as_bytes()), Some(0));
        assert_eq!(table.find(b"otherkey1234abcdefghij0123456789"), Some(1));
        assert!(!table.entry(1).unwrap().enabled);
        assert_eq!(table.find(b"apikey1234abcdefghij012345678"), None);
        assert_eq!(table.find(b""), None);
        assert_eq!(table.find(&[b'a'; 4096]), None);
    }

    #[test]
    fn bad_configured_keys_all_reported() {
        let errs = KeyTable::build(&[
            ApiKeyConfig {
                id: "short".into(),
                value: Some("abc".into()),
                ..Default::default()
            },
            ApiKeyConfig {
                id: "both".into(),
                value: Some(KEY.into()),
                value_sha256: Some("00".repeat(32)),
                ..Default::default()
            },
            ApiKeyConfig {
                id: "badhex".into(),
                value_sha256: Some("zz".repeat(32)),
                ..Default::default()
            },
        ])
        .unwrap_err();
        let ids: Vec<_> = errs.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["short", "both", "badhex"]);
        assert!(
            errs[0]
                .message
                .starts_with("API Key value should be at least 20")
        );
    }

    #[test]
    fn csv_aws_examples() {
        let keys = import_csv("Key,name\napikey1234abcdefghij0123456789,MyFirstApiKey\n").unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].name, "MyFirstApiKey");
        assert!(keys[0].enabled);
        assert_eq!(
            keys[0].value_sha256.as_deref(),
            Some(to_hex(&sha256(KEY.as_bytes())).as_str())
        );
        assert_eq!(keys[0].value, None);
        assert_eq!(keys[0].id.len(), 10);

        let keys = import_csv(
            "Name,key,description,Enabled,usageplanIds\r\n\
             MyFirstApiKey,apikey1234abcdefghij0123456789,An imported key,TRUE,c7y23b\r\n",
        )
        .unwrap();
        assert_eq!(keys[0].description, "An imported key");
        assert_eq!(keys[0].usage_plan_ids, ["c7y23b"]);

        let keys = import_csv(
            "Enabled,Name,key,UsageplanIds,Extra\n\
             false,MyFirstApiKey,apikey1234abcdefghij0123456789,\"c7y23b,glvrsr\",x\n\
             true,Second,'b'pikey1234abcdefghij0123456789,'p1, p2'\n",
        );
        // The second row's key is not one quoted field: reported, nothing returned.
        let errs = keys.unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].line, 3);

        let keys = import_csv(
            "Enabled,Name,key,UsageplanIds,Extra\n\
             false,MyFirstApiKey,apikey1234abcdefghij0123456789,\"c7y23b,glvrsr\",x\n\
             true,Second,bpikey1234abcdefghij0123456789,'p1, p2'\n",
        )
        .unwrap();
        assert!(!keys[0].enabled);
        assert_eq!(keys[0].usage_plan_ids, ["c7y23b", "glvrsr"]);
        assert_eq!(keys[1].usage_plan_ids, ["p1", "p2"]);
    }

    #[test]
    fn csv_same_key_later_row_wins() {
        let keys = import_csv(&format!("name,key,enabled\nA,{KEY},true\nB,{KEY},false\n")).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].name, "B");
        assert!(!keys[0].enabled);
    }

    #[test]
    fn csv_every_bad_row_reported_by_line() {
        let text = format!(
            "Name,Key,Enabled\n\
             good,{KEY},TRUE\n\
             ,{KEY},TRUE\n\
             short,abc,TRUE\n\
             \n\
             maybe,{KEY},perhaps\n\
             quote,\"{KEY},TRUE\n\
             odd,{KEY}!!,TRUE\n"
        );
        let errs = import_csv(&text).unwrap_err();
        let lines: Vec<_> = errs.iter().map(|e| e.line).collect();
        assert_eq!(lines, [3, 4, 6, 7, 8]);
        assert_eq!(errs[0].message, "the Name is empty");
        assert!(errs[1].message.contains("at least 20"));
        assert!(errs[2].message.contains("perhaps"));
        assert!(errs[3].message.contains("never closed"));
        assert!(errs[4].message.contains("letters and digits"));
        assert_eq!(errs[0].to_string(), "line 3: the Name is empty");
    }

    #[test]
    fn csv_header_problems() {
        assert_eq!(import_csv("").unwrap_err()[0].line, 1);
        let errs = import_csv("Name,Description\nx,y\n").unwrap_err();
        assert!(errs[0].message.contains("Name and Key"));
    }

    #[test]
    fn split_row_edge_cases() {
        assert_eq!(split_row("a,,b,").unwrap(), ["a", "", "b", ""]);
        assert_eq!(split_row("\"a\"\"b\",c").unwrap(), ["a\"b", "c"]);
        assert_eq!(split_row("").unwrap(), [""]);
        assert!(split_row("\"a\"b").is_err());
    }
}
