//! AWS credentials and region for the Lambda Invoke API, found the way the AWS SDKs find them.
//!
//! Tollgate signs its calls to Lambda with the same credentials the AWS CLI would use on the
//! same machine, so an operator configures nothing new. Resolution runs once, at config load
//! (control plane); the request path only reads the resolved [`Credentials`].
//!
//! Order (AWS SDKs and Tools Reference Guide, "Standardized credential providers" and
//! "Shared config and credentials files"; botocore `credentials.py` is the reference behaviour):
//!
//! 1. Environment: `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY`, with `AWS_SESSION_TOKEN`
//!    (or the legacy `AWS_SECURITY_TOKEN`). An empty variable counts as unset; only one of
//!    the pair set is an error, as botocore's `PartialCredentialsError`.
//! 2. The shared credentials file (`AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`),
//!    section `[PROFILE]`.
//! 3. The shared config file (`AWS_CONFIG_FILE`, else `~/.aws/config`), section
//!    `[profile PROFILE]` (or `[default]`).
//!
//! The profile is `AWS_PROFILE`, else `AWS_DEFAULT_PROFILE`, else `default`. A profile named
//! explicitly that exists in neither file is an error (botocore's `ProfileNotFound`). The
//! region is `AWS_REGION`, else `AWS_DEFAULT_REGION`, else `region` in the config file's
//! profile section.
//!
//! The files are INI as Python's `configparser` reads them (botocore uses it): `#`/`;` full-line
//! comments, `key = value` or `key: value`, indented continuation lines (nested settings such
//! as `s3 =`), no inline comments, and duplicate sections or keys are errors. Every error names
//! the file and, where there is one, the line.
//!
//! Not supported (yet): `credential_process`, SSO, `role_arn`/`source_profile` (AssumeRole),
//! web identity, container and instance metadata credentials. Their keys are read and ignored;
//! a profile that has only them gives a clear error.

use std::fmt;
use std::path::{Path, PathBuf};

/// Largest credentials or config file read: far more than any real one, and a bound on the parse.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// Most lines parsed from one file (the parse loop's bound).
pub const MAX_LINES: usize = 50_000;

/// An access key pair, with the session token of temporary credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `AKIA...` (long-term) or `ASIA...` (temporary).
    pub access_key_id: String,
    /// The secret; never printed.
    pub secret_access_key: String,
    /// Sent as `X-Amz-Security-Token` when present.
    pub session_token: Option<String>,
}

impl fmt::Debug for Credentials {
    // The secret and the token must never reach a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Where resolved credentials came from (for the startup log line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `AWS_ACCESS_KEY_ID` and friends.
    Environment,
    /// A shared credentials or config file, with the profile used.
    File {
        /// The file.
        path: PathBuf,
        /// The profile name.
        profile: String,
    },
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Environment => f.write_str("environment variables"),
            Source::File { path, profile } => {
                write!(f, "profile `{profile}` in {}", path.display())
            }
        }
    }
}

/// Why credentials or the region could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialsError {
    /// The file concerned, if any.
    pub path: Option<PathBuf>,
    /// The 1-based line in that file, if the problem has one.
    pub line: Option<usize>,
    /// What is wrong and what to do.
    pub message: String,
}

impl CredentialsError {
    fn plain(message: impl Into<String>) -> Self {
        CredentialsError {
            path: None,
            line: None,
            message: message.into(),
        }
    }

    fn at(path: &Path, line: Option<usize>, message: impl Into<String>) -> Self {
        CredentialsError {
            path: Some(path.to_path_buf()),
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for CredentialsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.path, self.line) {
            (Some(p), Some(l)) => write!(f, "{}:{l}: {}", p.display(), self.message),
            (Some(p), None) => write!(f, "{}: {}", p.display(), self.message),
            _ => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for CredentialsError {}

/// One `[section]` of an INI file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The header text between the brackets, trimmed.
    pub name: String,
    /// Line of the header.
    pub line: usize,
    /// `key = value` entries: lower-cased key, value, line.
    pub entries: Vec<(String, String, usize)>,
}

impl Section {
    /// The value of `key` (lower case), if set and not empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, v, _)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

/// Parses an INI file as `configparser.RawConfigParser` does. `path` is only for errors.
pub fn parse_ini(text: &str, path: &Path) -> Result<Vec<Section>, CredentialsError> {
    let mut sections: Vec<Section> = Vec::new();
    // Whether the previous non-blank line was a `key = value` (indented lines continue it).
    let mut in_value = false;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        if i >= MAX_LINES {
            return Err(CredentialsError::at(
                path,
                Some(line_no),
                format!("more than {MAX_LINES} lines; is this really an AWS file?"),
            ));
        }
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let trimmed = line.trim();
        if trimmed.is_empty() {
            in_value = false;
            continue;
        }
        if trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let indented = line.starts_with([' ', '\t']);
        if indented && in_value {
            // A continuation line (nested `s3 =` settings): part of the previous value.
            if let Some(entry) = sections.last_mut().and_then(|s| s.entries.last_mut()) {
                entry.1.push('\n');
                entry.1.push_str(trimmed);
            }
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix('[') {
            let Some(end) = rest.rfind(']') else {
                return Err(CredentialsError::at(
                    path,
                    Some(line_no),
                    format!("unclosed section header `{trimmed}`: write `[name]`"),
                ));
            };
            let name = rest[..end].trim().to_string();
            if let Some(prev) = sections.iter().find(|s| s.name == name) {
                return Err(CredentialsError::at(
                    path,
                    Some(line_no),
                    format!(
                        "section `[{name}]` appears twice (first on line {}); merge them",
                        prev.line
                    ),
                ));
            }
            sections.push(Section {
                name,
                line: line_no,
                entries: Vec::new(),
            });
            in_value = false;
            continue;
        }
        let Some(cut) = trimmed.find(['=', ':']) else {
            return Err(CredentialsError::at(
                path,
                Some(line_no),
                format!(
                    "expected `[section]` or `key = value`, found `{}`",
                    shorten(trimmed)
                ),
            ));
        };
        let key = trimmed[..cut].trim().to_ascii_lowercase();
        let value = trimmed[cut + 1..].trim().to_string();
        if key.is_empty() {
            return Err(CredentialsError::at(
                path,
                Some(line_no),
                "a setting with no name before `=`",
            ));
        }
        let Some(section) = sections.last_mut() else {
            return Err(CredentialsError::at(
                path,
                Some(line_no),
                format!("`{key}` is outside any section: put `[default]` (or a profile) above it"),
            ));
        };
        if let Some((_, _, first)) = section.entries.iter().find(|(k, _, _)| *k == key) {
            return Err(CredentialsError::at(
                path,
                Some(line_no),
                format!(
                    "`{key}` is set twice in `[{}]` (first on line {first})",
                    section.name
                ),
            ));
        }
        section.entries.push((key, value, line_no));
        in_value = true;
    }
    Ok(sections)
}

/// The start of a bad line, without ever echoing a whole (possibly secret) value.
fn shorten(s: &str) -> String {
    const SHOWN: usize = 24;
    match s.char_indices().nth(SHOWN) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// Reads an environment variable; empty counts as unset (as botocore).
type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

fn var(env: Env<'_>, name: &str) -> Option<String> {
    env(name).filter(|v| !v.is_empty())
}

fn home_file(env: Env<'_>, name: &str) -> Option<PathBuf> {
    var(env, "HOME").map(|h| Path::new(&h).join(".aws").join(name))
}

/// `~/` at the start of a configured path means the home directory, as the SDKs expand it.
fn expand_home(env: Env<'_>, raw: &str) -> PathBuf {
    match (raw.strip_prefix("~/"), var(env, "HOME")) {
        (Some(rest), Some(home)) => Path::new(&home).join(rest),
        _ => PathBuf::from(raw),
    }
}

fn credentials_file(env: Env<'_>) -> Option<PathBuf> {
    match var(env, "AWS_SHARED_CREDENTIALS_FILE") {
        Some(p) => Some(expand_home(env, &p)),
        None => home_file(env, "credentials"),
    }
}

fn config_file(env: Env<'_>) -> Option<PathBuf> {
    match var(env, "AWS_CONFIG_FILE") {
        Some(p) => Some(expand_home(env, &p)),
        None => home_file(env, "config"),
    }
}

/// The profile to use, and whether it was named explicitly.
fn profile(env: Env<'_>) -> (String, bool) {
    match var(env, "AWS_PROFILE").or_else(|| var(env, "AWS_DEFAULT_PROFILE")) {
        Some(p) => (p, true),
        None => ("default".to_string(), false),
    }
}

/// Reads and parses a file; `Ok(None)` when it does not exist (the SDKs skip a missing file).
fn read_ini(path: &Path) -> Result<Option<Vec<Section>>, CredentialsError> {
    use std::io::Read as _;
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(CredentialsError::at(
                path,
                None,
                format!("cannot read: {e}"),
            ));
        }
    };
    let mut text = String::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| CredentialsError::at(path, None, format!("cannot read: {e}")))?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(CredentialsError::at(
            path,
            None,
            format!("larger than {MAX_FILE_BYTES} bytes; is this really an AWS file?"),
        ));
    }
    parse_ini(&text, path).map(Some)
}

/// The section for `profile` in the config file: `[profile NAME]`, or `[default]` for the
/// default profile (the config file's naming, unlike the credentials file's `[NAME]`).
fn config_section<'s>(sections: &'s [Section], profile: &str) -> Option<&'s Section> {
    let prefixed = sections.iter().find(|s| {
        s.name
            .strip_prefix("profile")
            .is_some_and(|rest| rest.starts_with([' ', '\t']) && rest.trim() == profile)
    });
    prefixed.or_else(|| {
        (profile == "default")
            .then(|| sections.iter().find(|s| s.name == "default"))
            .flatten()
    })
}

/// Credentials from one profile section; `Ok(None)` when it sets neither key.
fn from_section(section: &Section, path: &Path) -> Result<Option<Credentials>, CredentialsError> {
    let id = section.get("aws_access_key_id");
    let secret = section.get("aws_secret_access_key");
    match (id, secret) {
        (Some(id), Some(secret)) => Ok(Some(Credentials {
            access_key_id: id.to_string(),
            secret_access_key: secret.to_string(),
            session_token: section
                .get("aws_session_token")
                .or_else(|| section.get("aws_security_token"))
                .map(str::to_string),
        })),
        (None, None) => Ok(None),
        (Some(_), None) => Err(CredentialsError::at(
            path,
            Some(section.line),
            format!(
                "`[{}]` sets aws_access_key_id but not aws_secret_access_key",
                section.name
            ),
        )),
        (None, Some(_)) => Err(CredentialsError::at(
            path,
            Some(section.line),
            format!(
                "`[{}]` sets aws_secret_access_key but not aws_access_key_id",
                section.name
            ),
        )),
    }
}

/// Resolves credentials from the process environment and the shared files.
pub fn resolve() -> Result<(Credentials, Source), CredentialsError> {
    resolve_with(&|name| std::env::var(name).ok())
}

/// [`resolve`] with the environment given as a function (tests pass a map; the process
/// environment is never modified).
pub fn resolve_with(env: Env<'_>) -> Result<(Credentials, Source), CredentialsError> {
    let id = var(env, "AWS_ACCESS_KEY_ID");
    let secret = var(env, "AWS_SECRET_ACCESS_KEY");
    match (id, secret) {
        (Some(access_key_id), Some(secret_access_key)) => {
            let session_token =
                var(env, "AWS_SESSION_TOKEN").or_else(|| var(env, "AWS_SECURITY_TOKEN"));
            return Ok((
                Credentials {
                    access_key_id,
                    secret_access_key,
                    session_token,
                },
                Source::Environment,
            ));
        }
        (Some(_), None) => {
            return Err(CredentialsError::plain(
                "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not: set both, or neither to use ~/.aws/credentials",
            ));
        }
        (None, Some(_)) => {
            return Err(CredentialsError::plain(
                "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not: set both, or neither to use ~/.aws/credentials",
            ));
        }
        (None, None) => {}
    }

    let (profile, explicit) = profile(env);
    let mut tried = vec!["AWS_ACCESS_KEY_ID is not set".to_string()];
    let mut profile_seen = false;

    if let Some(path) = credentials_file(env) {
        match read_ini(&path)? {
            None => tried.push(format!("{} does not exist", path.display())),
            Some(sections) => match sections.iter().find(|s| s.name == profile) {
                None => tried.push(format!("{} has no `[{profile}]` section", path.display())),
                Some(section) => {
                    profile_seen = true;
                    if let Some(c) = from_section(section, &path)? {
                        return Ok((c, Source::File { path, profile }));
                    }
                    tried.push(format!(
                        "`[{profile}]` in {} has no aws_access_key_id",
                        path.display()
                    ));
                }
            },
        }
    }

    if let Some(path) = config_file(env) {
        match read_ini(&path)? {
            None => tried.push(format!("{} does not exist", path.display())),
            Some(sections) => match config_section(&sections, &profile) {
                None => tried.push(format!(
                    "{} has no `[profile {profile}]` section",
                    path.display()
                )),
                Some(section) => {
                    profile_seen = true;
                    if let Some(c) = from_section(section, &path)? {
                        return Ok((c, Source::File { path, profile }));
                    }
                    tried.push(format!(
                        "`[{}]` in {} has no aws_access_key_id (credential_process, SSO and role_arn are not supported)",
                        section.name,
                        path.display()
                    ));
                }
            },
        }
    }

    if explicit && !profile_seen {
        return Err(CredentialsError::plain(format!(
            "AWS profile `{profile}` (from AWS_PROFILE) was not found: {}",
            tried[1..].join("; ")
        )));
    }
    Err(CredentialsError::plain(format!(
        "no AWS credentials for the Lambda Invoke API: {}",
        tried.join("; ")
    )))
}

/// The region from the process environment or the shared config file; `None` if unset.
pub fn resolve_region() -> Result<Option<String>, CredentialsError> {
    resolve_region_with(&|name| std::env::var(name).ok())
}

/// [`resolve_region`] with the environment given as a function.
pub fn resolve_region_with(env: Env<'_>) -> Result<Option<String>, CredentialsError> {
    if let Some(r) = var(env, "AWS_REGION").or_else(|| var(env, "AWS_DEFAULT_REGION")) {
        return Ok(Some(r));
    }
    let Some(path) = config_file(env) else {
        return Ok(None);
    };
    let (profile, _) = profile(env);
    Ok(read_ini(&path)?.and_then(|sections| {
        config_section(&sections, &profile)
            .and_then(|s| s.get("region"))
            .map(str::to_string)
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("tollgate-cred-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn environment_wins_and_reads_the_token() {
        let env = env_of(&[
            ("AWS_ACCESS_KEY_ID", "AKIDENV"),
            ("AWS_SECRET_ACCESS_KEY", "secretenv"),
            ("AWS_SESSION_TOKEN", "tok"),
            ("AWS_PROFILE", "other"),
            ("HOME", "/nonexistent"),
        ]);
        let (c, src) = resolve_with(&env).unwrap();
        assert_eq!(c.access_key_id, "AKIDENV");
        assert_eq!(c.secret_access_key, "secretenv");
        assert_eq!(c.session_token.as_deref(), Some("tok"));
        assert_eq!(src, Source::Environment);
        // The legacy name, and empty meaning unset.
        let env = env_of(&[
            ("AWS_ACCESS_KEY_ID", "A"),
            ("AWS_SECRET_ACCESS_KEY", "S"),
            ("AWS_SESSION_TOKEN", ""),
            ("AWS_SECURITY_TOKEN", "legacy"),
        ]);
        assert_eq!(
            resolve_with(&env).unwrap().0.session_token.as_deref(),
            Some("legacy")
        );
    }

    #[test]
    fn half_an_environment_pair_is_an_error() {
        let env = env_of(&[("AWS_ACCESS_KEY_ID", "A"), ("HOME", "/nonexistent")]);
        let e = resolve_with(&env).unwrap_err();
        assert_eq!(
            e.to_string(),
            "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not: set both, or neither to use ~/.aws/credentials"
        );
        // Empty counts as unset, so this is "nothing at all", not half a pair.
        let env = env_of(&[("AWS_ACCESS_KEY_ID", ""), ("HOME", "/nonexistent")]);
        let e = resolve_with(&env).unwrap_err();
        assert!(e.message.starts_with("no AWS credentials"), "{e}");
    }

    #[test]
    fn file_profiles_are_selected() {
        let d = dir("profiles");
        let creds = d.join("credentials");
        std::fs::write(
            &creds,
            "# comment\n[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key=sdefault\n\n\
             ; another\n[work]\nAWS_ACCESS_KEY_ID: AKIDWORK\naws_secret_access_key = s/w+k\naws_session_token = twork\n\
             s3 =\n  max_concurrent_requests = 20\n",
        )
        .unwrap();
        let path = creds.to_str().unwrap();
        let env = env_of(&[
            ("AWS_SHARED_CREDENTIALS_FILE", path),
            ("HOME", "/nonexistent"),
        ]);
        let (c, src) = resolve_with(&env).unwrap();
        assert_eq!(
            (
                c.access_key_id.as_str(),
                c.secret_access_key.as_str(),
                c.session_token
            ),
            ("AKIDDEFAULT", "sdefault", None)
        );
        assert_eq!(
            src,
            Source::File {
                path: creds.clone(),
                profile: "default".into()
            }
        );
        let env = env_of(&[
            ("AWS_SHARED_CREDENTIALS_FILE", path),
            ("AWS_PROFILE", "work"),
            ("HOME", "/nonexistent"),
        ]);
        let (c, src) = resolve_with(&env).unwrap();
        assert_eq!(
            (
                c.access_key_id.as_str(),
                c.secret_access_key.as_str(),
                c.session_token.as_deref()
            ),
            ("AKIDWORK", "s/w+k", Some("twork"))
        );
        assert_eq!(src.to_string(), format!("profile `work` in {path}"));
    }

    #[test]
    fn home_files_and_the_config_file() {
        let d = dir("home");
        std::fs::create_dir_all(d.join(".aws")).unwrap();
        // Only the config file, with the `profile ` prefix, and a region.
        std::fs::write(
            d.join(".aws/config"),
            "[default]\nregion = eu-west-1\n[profile dev]\nregion = ap-south-1\naws_access_key_id = AKIDDEV\naws_secret_access_key = sdev\n",
        )
        .unwrap();
        let home = d.to_str().unwrap();
        let env = env_of(&[("HOME", home), ("AWS_PROFILE", "dev")]);
        let (c, src) = resolve_with(&env).unwrap();
        assert_eq!(c.access_key_id, "AKIDDEV");
        assert_eq!(
            src,
            Source::File {
                path: d.join(".aws/config"),
                profile: "dev".into()
            }
        );
        assert_eq!(
            resolve_region_with(&env).unwrap().as_deref(),
            Some("ap-south-1")
        );
        let env = env_of(&[("HOME", home)]);
        assert_eq!(
            resolve_region_with(&env).unwrap().as_deref(),
            Some("eu-west-1")
        );
        let env = env_of(&[("HOME", home), ("AWS_DEFAULT_REGION", "us-east-2")]);
        assert_eq!(
            resolve_region_with(&env).unwrap().as_deref(),
            Some("us-east-2")
        );
        let env = env_of(&[
            ("HOME", home),
            ("AWS_DEFAULT_REGION", "us-east-2"),
            ("AWS_REGION", "us-west-2"),
        ]);
        assert_eq!(
            resolve_region_with(&env).unwrap().as_deref(),
            Some("us-west-2")
        );
        // The default profile has no keys in either file.
        let e = resolve_with(&env_of(&[("HOME", home)])).unwrap_err();
        let creds = d.join(".aws/credentials");
        let config = d.join(".aws/config");
        assert_eq!(
            e.to_string(),
            format!(
                "no AWS credentials for the Lambda Invoke API: AWS_ACCESS_KEY_ID is not set; {} does not exist; `[default]` in {} has no aws_access_key_id (credential_process, SSO and role_arn are not supported)",
                creds.display(),
                config.display()
            )
        );
    }

    #[test]
    fn missing_files_and_unknown_profiles() {
        let env = env_of(&[
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/creds"),
            ("AWS_CONFIG_FILE", "/nonexistent/config"),
        ]);
        let e = resolve_with(&env).unwrap_err();
        assert_eq!(
            e.to_string(),
            "no AWS credentials for the Lambda Invoke API: AWS_ACCESS_KEY_ID is not set; /nonexistent/creds does not exist; /nonexistent/config does not exist"
        );
        assert_eq!(resolve_region_with(&env).unwrap(), None);
        let d = dir("unknown");
        let creds = d.join("credentials");
        std::fs::write(
            &creds,
            "[default]\naws_access_key_id=A\naws_secret_access_key=S\n",
        )
        .unwrap();
        let env = env_of(&[
            ("AWS_SHARED_CREDENTIALS_FILE", creds.to_str().unwrap()),
            ("AWS_CONFIG_FILE", "/nonexistent/config"),
            ("AWS_PROFILE", "nope"),
        ]);
        let e = resolve_with(&env).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "AWS profile `nope` (from AWS_PROFILE) was not found: {} has no `[nope]` section; /nonexistent/config does not exist",
                creds.display()
            )
        );
    }

    #[test]
    fn malformed_files_name_the_line() {
        let p = Path::new("/x/credentials");
        let cases: &[(&str, &str)] = &[
            (
                "[default]\naws_access_key_id = A\nthis line is wrong\n",
                "/x/credentials:3: expected `[section]` or `key = value`, found `this line is wrong`",
            ),
            (
                "aws_access_key_id = A\n",
                "/x/credentials:1: `aws_access_key_id` is outside any section: put `[default]` (or a profile) above it",
            ),
            (
                "[default\n",
                "/x/credentials:1: unclosed section header `[default`: write `[name]`",
            ),
            (
                "[a]\nk=1\n\n[a]\n",
                "/x/credentials:4: section `[a]` appears twice (first on line 1); merge them",
            ),
            (
                "[a]\nk=1\n# c\nK = 2\n",
                "/x/credentials:4: `k` is set twice in `[a]` (first on line 2)",
            ),
            (
                "[a]\n = 2\n",
                "/x/credentials:2: a setting with no name before `=`",
            ),
            (
                "[a]\nwJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\n",
                "/x/credentials:2: expected `[section]` or `key = value`, found `wJalrXUtnFEMI/K7MDENG+bP…`",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(
                &parse_ini(text, p).unwrap_err().to_string(),
                want,
                "{text:?}"
            );
        }
        // CRLF files, indented comments, and `key = value = more`.
        let s = parse_ini("[a]\r\n  # c\r\nk = v=w\r\n", p).unwrap();
        assert_eq!(s[0].get("k"), Some("v=w"));
    }

    #[test]
    fn a_half_profile_names_its_section_line() {
        let d = dir("half");
        let creds = d.join("credentials");
        std::fs::write(
            &creds,
            "[default]\nregion=x\n\n[p]\naws_access_key_id = A\n",
        )
        .unwrap();
        let env = env_of(&[
            ("AWS_SHARED_CREDENTIALS_FILE", creds.to_str().unwrap()),
            ("AWS_PROFILE", "p"),
        ]);
        let e = resolve_with(&env).unwrap_err();
        assert_eq!(e.line, Some(4));
        assert_eq!(
            e.to_string(),
            format!(
                "{}:4: `[p]` sets aws_access_key_id but not aws_secret_access_key",
                creds.display()
            )
        );
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let c = Credentials {
            access_key_id: "AKID".into(),
            secret_access_key: "SECRET".into(),
            session_token: Some("TOKEN".into()),
        };
        let s = format!("{c:?}");
        assert!(!s.contains("SECRET") && !s.contains("TOKEN"), "{s}");
        assert!(s.contains("AKID"));
    }
}
