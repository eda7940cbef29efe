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
