//! Log record limits: how many attributes a record keeps and how long their values may be.

use crate::env::u64_or_report;

/// Limits applied to every record a provider's loggers emit. Attributes past the count limit
/// are dropped and counted (`dropped_attributes_count`); longer values are truncated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogLimits {
    /// Maximum attributes per record (default 128).
    pub max_attributes_per_record: u32,
    /// Maximum length of string values in characters, and of byte values in bytes (default:
    /// unlimited).
    pub max_attribute_value_length: Option<u32>,
}

impl Default for LogLimits {
    fn default() -> Self {
        LogLimits {
            max_attributes_per_record: 128,
            max_attribute_value_length: None,
        }
    }
}

impl LogLimits {
    /// The defaults overridden by `OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT` and
    /// `OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT`, or else by the general
    /// `OTEL_ATTRIBUTE_COUNT_LIMIT` and `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`. A bad value is
    /// reported through diagnostics and the default kept.
    pub fn from_env() -> Self {
        let clamp = |v: u64| v.min(u32::MAX as u64) as u32;
        let count = u64_or_report("OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT")
            .or_else(|| u64_or_report("OTEL_ATTRIBUTE_COUNT_LIMIT"))
            .map(clamp)
            .unwrap_or(LogLimits::default().max_attributes_per_record);
        let len = u64_or_report("OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT")
            .or_else(|| u64_or_report("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT"))
            .map(clamp);
        LogLimits {
            max_attributes_per_record: count,
            max_attribute_value_length: len,
        }
    }
}
