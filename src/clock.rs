//! The data plane's time source: `quanta`, read once per request.
