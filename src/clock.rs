//! The data plane's time source.
