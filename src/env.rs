//! Reading the specification's environment variables, with typed errors.

use std::time::Duration;

use crate::diagnostics;
use crate::error::{ConfigError, ConfigErrorKind};

/// The trimmed value of `name`, `None` when unset or empty.
pub(crate) fn var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// `OTEL_SDK_DISABLED`: whether the SDK is switched off for every signal (only "true", in
/// any case, is true; another value than "false" is reported). Providers built then are
/// no-ops: spans pass their parent's context on, instruments and loggers record nothing.
pub(crate) fn sdk_disabled() -> bool {
    match var("OTEL_SDK_DISABLED") {
        None => false,
        Some(v) if v.eq_ignore_ascii_case("true") => {
            diagnostics::report("OTEL_SDK_DISABLED=true: this provider records nothing");
            true
        }
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        Some(v) => {
            diagnostics::report(&format!(
                "OTEL_SDK_DISABLED={v:?} ignored: expected true or false"
            ));
            false
        }
    }
}

/// A non-negative integer variable.
pub(crate) fn u64_var(name: &'static str) -> Result<Option<u64>, ConfigError> {
    match var(name) {
        None => Ok(None),
        Some(v) => v.parse::<u64>().map(Some).map_err(|_| {
            ConfigError::new(
                ConfigErrorKind::Invalid,
                name,
                v,
                "expected a non-negative integer",
            )
        }),
    }
}

/// Like [`u64_var`], but a bad value is reported through diagnostics and ignored (the
/// specification's fallback for SDK settings: keep the default).
pub(crate) fn u64_or_report(name: &'static str) -> Option<u64> {
    u64_var(name).unwrap_or_else(|e| {
        diagnostics::report(&format!("{e}; using the default"));
        None
    })
}

/// A duration in milliseconds, reporting and ignoring a bad value.
pub(crate) fn millis_or_report(name: &'static str) -> Option<Duration> {
    u64_or_report(name).map(Duration::from_millis)
}
