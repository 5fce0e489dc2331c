//! Lambda integrations (`AWS_PROXY` and `AWS` with a Lambda URI).
//!
//! * [`credentials`]: AWS credentials and region, resolved as the AWS SDKs do.
//! * [`sigv4`]: Signature Version 4 for the Lambda Invoke API.

pub mod credentials;
pub mod sigv4;
