//! `MOCK`: no backend; the request template's output names the status code
//! (DG: how-to-mock-integration).

/// Extracts `statusCode` from a rendered MOCK request template. AWS accepts strict JSON
/// (`{"statusCode": 200}`) and also the unquoted-key form CDK generates (`{statusCode: 200}`),
/// so this reads leniently: the first `statusCode` key followed by `:` and an integer.
pub fn status_from_template_output(text: &str) -> Option<u16> {
    let mut rest = text;
    while let Some(i) = rest.find("statusCode") {
        let after = rest[i + "statusCode".len()..]
            .trim_start_matches(['"', '\''])
            .trim_start();
        if let Some(v) = after.strip_prefix(':') {
            let v = v.trim_start().trim_start_matches(['"', '\'']);
            let digits: &str = &v[..v.bytes().take_while(u8::is_ascii_digit).count()];
            return digits.parse().ok().filter(|s| (100..=599).contains(s));
        }
        rest = &rest[i + 1..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::status_from_template_output as s;

    #[test]
    fn lenient_status() {
        assert_eq!(s(r#"{"statusCode": 200}"#), Some(200));
        assert_eq!(s("{statusCode: 404}"), Some(404));
        assert_eq!(s(r#"{"statusCode": "201"}"#), Some(201));
        assert_eq!(s(r#"{"statusCode": 2000}"#), None);
        assert_eq!(s(r#"{"message": "x"}"#), None);
        assert_eq!(s(""), None);
    }
}
