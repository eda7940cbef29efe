//! Views: select instruments (by name with `*`/`?` wildcards, kind, unit, meter) and change
//! the streams they produce (name, description, attribute keys, aggregation, cardinality
//! limit), or drop them.
//!
//! ```
//! use otlp_sdk::metrics::{Aggregation, View};
//! // Latency histograms in seconds get their own buckets; a noisy attribute is removed.
//! let view = View::builder()
//!     .with_instrument_name("*.duration")
//!     .with_aggregation(Aggregation::ExplicitBucketHistogram {
//!         boundaries: vec![0.005, 0.01, 0.1, 1.0],
//!         record_min_max: true,
//!     })
//!     .with_excluded_attribute_keys(["user.id"])
//!     .build()
//!     .unwrap();
//! # let _ = view;
//! ```

use std::sync::Arc;

use crate::attributes::{Key, StringValue};
use crate::error::{ConfigError, ConfigErrorKind};
use crate::metrics::aggregate::AttrFilter;
use crate::metrics::InstrumentKind;
use crate::scope::InstrumentationScope;

/// How a stream aggregates measurements.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub enum Aggregation {
    /// The instrument kind's default: sum for counters, last value for gauges, explicit
    /// buckets (the instrument's advisory boundaries, or the defaults) for histograms.
    #[default]
    Default,
    /// Drop every measurement: the stream is not produced.
    Drop,
    /// Arithmetic sum (monotonic for counters and histograms).
    Sum,
    /// The last measurement.
    LastValue,
    /// Explicit-bucket histogram.
    ExplicitBucketHistogram {
        /// Increasing upper bounds (inclusive) of the buckets; one more bucket above.
        boundaries: Vec<f64>,
        /// Whether to record min and max.
        record_min_max: bool,
    },
    /// Base-2 exponential histogram.
    Base2ExponentialHistogram {
        /// Maximum buckets per range (positive, negative); default 160.
        max_size: u32,
        /// Starting (maximum) scale; default 20.
        max_scale: i8,
        /// Whether to record min and max.
        record_min_max: bool,
    },
}

impl Aggregation {
    /// A base-2 exponential histogram with the specification's defaults (160 buckets, max
    /// scale 20, min/max recorded).
    pub fn base2_exponential_histogram() -> Self {
        Aggregation::Base2ExponentialHistogram {
            max_size: 160,
            max_scale: 20,
            record_min_max: true,
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        match self {
            Aggregation::ExplicitBucketHistogram { boundaries, .. } => {
                validate_boundaries(boundaries).map_err(|reason| {
                    ConfigError::new(
                        ConfigErrorKind::Invalid,
                        "View::with_aggregation",
                        format!("{boundaries:?}"),
                        reason,
                    )
                })
            }
            Aggregation::Base2ExponentialHistogram {
                max_size,
                max_scale,
                ..
            } => {
                if *max_size < 2 || !(-10..=20).contains(max_scale) {
                    Err(ConfigError::new(
                        ConfigErrorKind::OutOfRange,
                        "View::with_aggregation",
                        format!("max_size={max_size} max_scale={max_scale}"),
                        "max_size must be at least 2 and max_scale within -10..=20",
                    ))
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }
}

/// Checks explicit bucket boundaries: finite and strictly increasing.
pub(crate) fn validate_boundaries(b: &[f64]) -> Result<(), &'static str> {
    if b.iter().any(|x| !x.is_finite()) {
        return Err("boundaries must be finite");
    }
    if b.windows(2).any(|w| w[0] >= w[1]) {
        return Err("boundaries must be strictly increasing");
    }
    Ok(())
}

/// Selects instruments and configures the streams made from them. Built by
/// [`View::builder`].
#[derive(Clone, Debug)]
pub struct View {
    name: Option<String>,
    kind: Option<InstrumentKind>,
    unit: Option<String>,
    meter_name: Option<String>,
    meter_version: Option<String>,
    meter_schema_url: Option<String>,
    pub(crate) rename: Option<StringValue>,
    pub(crate) description: Option<StringValue>,
    pub(crate) filter: Option<Arc<AttrFilter>>,
    pub(crate) aggregation: Aggregation,
    pub(crate) cardinality_limit: Option<usize>,
}

impl View {
    /// A builder; at least one selection criterion is required.
    pub fn builder() -> ViewBuilder {
        ViewBuilder(View {
            name: None,
            kind: None,
            unit: None,
            meter_name: None,
            meter_version: None,
            meter_schema_url: None,
            rename: None,
            description: None,
            filter: None,
            aggregation: Aggregation::Default,
            cardinality_limit: None,
        })
    }

    /// `true` when the instrument matches every criterion of this view.
    pub(crate) fn matches(
        &self,
        name: &str,
        kind: InstrumentKind,
        unit: &str,
        scope: &InstrumentationScope,
    ) -> bool {
        self.name
            .as_deref()
            .is_none_or(|p| glob_match(p, &name.to_ascii_lowercase()))
            && self.kind.is_none_or(|k| k == kind)
            && self.unit.as_deref().is_none_or(|u| u == unit)
            && self.meter_name.as_deref().is_none_or(|m| m == scope.name())
            && self
                .meter_version
                .as_deref()
                .is_none_or(|v| Some(v) == scope.version())
            && self
                .meter_schema_url
                .as_deref()
                .is_none_or(|s| Some(s) == scope.schema_url())
    }
}

/// Builds a [`View`].
#[derive(Clone, Debug)]
pub struct ViewBuilder(View);

impl ViewBuilder {
    /// Selects instruments by name; `*` matches any run of characters and `?` any single
    /// one. Case-insensitive, as instrument names are.
    pub fn with_instrument_name(mut self, pattern: impl Into<String>) -> Self {
        self.0.name = Some(pattern.into().to_ascii_lowercase());
        self
    }
    /// Selects instruments of this kind.
    pub fn with_instrument_kind(mut self, kind: InstrumentKind) -> Self {
        self.0.kind = Some(kind);
        self
    }
    /// Selects instruments with this unit.
    pub fn with_instrument_unit(mut self, unit: impl Into<String>) -> Self {
        self.0.unit = Some(unit.into());
        self
    }
    /// Selects instruments of meters with this name.
    pub fn with_meter_name(mut self, name: impl Into<String>) -> Self {
        self.0.meter_name = Some(name.into());
        self
    }
    /// Selects instruments of meters with this version.
    pub fn with_meter_version(mut self, version: impl Into<String>) -> Self {
        self.0.meter_version = Some(version.into());
        self
    }
    /// Selects instruments of meters with this schema URL.
    pub fn with_meter_schema_url(mut self, url: impl Into<String>) -> Self {
        self.0.meter_schema_url = Some(url.into());
        self
    }
    /// Renames the stream (only for a view selecting one instrument by exact name).
    pub fn with_name(mut self, name: impl Into<StringValue>) -> Self {
        self.0.rename = Some(name.into());
        self
    }
    /// Replaces the stream's description.
    pub fn with_description(mut self, description: impl Into<StringValue>) -> Self {
        self.0.description = Some(description.into());
        self
    }
    /// Keeps only these attribute keys (others are removed from the stream's series).
    pub fn with_allowed_attribute_keys<K: Into<Key>>(
        mut self,
        keys: impl IntoIterator<Item = K>,
    ) -> Self {
        self.0.filter = Some(Arc::new(AttrFilter::Allow(
            keys.into_iter().map(Into::into).collect(),
        )));
        self
    }
    /// Removes these attribute keys from the stream's series.
    pub fn with_excluded_attribute_keys<K: Into<Key>>(
        mut self,
        keys: impl IntoIterator<Item = K>,
    ) -> Self {
        self.0.filter = Some(Arc::new(AttrFilter::Deny(
            keys.into_iter().map(Into::into).collect(),
        )));
        self
    }
    /// Changes the aggregation ([`Aggregation::Drop`] drops the instrument).
    pub fn with_aggregation(mut self, aggregation: Aggregation) -> Self {
        self.0.aggregation = aggregation;
        self
    }
    /// Maximum series of the stream, including the overflow series (default 2000).
    pub fn with_cardinality_limit(mut self, limit: usize) -> Self {
        self.0.cardinality_limit = Some(limit);
        self
    }

    /// The view, or a [`ConfigError`] when it selects nothing, renames a wildcard selection,
    /// has invalid histogram settings or a zero cardinality limit.
    pub fn build(self) -> Result<View, ConfigError> {
        let v = self.0;
        if v.name.is_none()
            && v.kind.is_none()
            && v.unit.is_none()
            && v.meter_name.is_none()
            && v.meter_version.is_none()
            && v.meter_schema_url.is_none()
        {
            return Err(ConfigError::new(
                ConfigErrorKind::Invalid,
                "View::builder",
                "",
                "a view needs at least one instrument selection criterion",
            ));
        }
        if let Some(rename) = &v.rename {
            let exact = v.name.as_deref().is_some_and(|n| !n.contains(['*', '?']));
            if !exact {
                return Err(ConfigError::new(
                    ConfigErrorKind::Invalid,
                    "View::with_name",
                    rename.as_str(),
                    "a rename needs an exact (wildcard-free) instrument name selection",
                ));
            }
        }
        v.aggregation.validate()?;
        if v.cardinality_limit == Some(0) {
            return Err(ConfigError::new(
                ConfigErrorKind::OutOfRange,
                "View::with_cardinality_limit",
                "0",
                "the limit must be at least 1",
            ));
        }
        Ok(v)
    }
}

/// Glob matching with `*` (any run) and `?` (one character).
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_wildcards() {
        assert!(glob_match("*", "anything"));
        assert!(glob_match("http.*.duration", "http.server.duration"));
        assert!(!glob_match("http.*.duration", "http.server.size"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "abbc"));
        assert!(glob_match("*er*", "counter"));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("exact", "exactly"));
    }

    #[test]
    fn builder_rejects_bad_views() {
        assert!(View::builder().build().is_err());
        assert!(View::builder()
            .with_instrument_name("a*")
            .with_name("b")
            .build()
            .is_err());
        assert!(View::builder()
            .with_instrument_name("a")
            .with_name("b")
            .build()
            .is_ok());
        let bad = View::builder()
            .with_instrument_kind(InstrumentKind::Histogram)
            .with_aggregation(Aggregation::ExplicitBucketHistogram {
                boundaries: vec![1.0, 1.0],
                record_min_max: true,
            })
            .build();
        assert_eq!(bad.unwrap_err().kind(), ConfigErrorKind::Invalid);
        assert!(View::builder()
            .with_instrument_name("x")
            .with_cardinality_limit(0)
            .build()
            .is_err());
    }
}
