//! The instrumentation scope: the name (and optional version, schema URL and attributes) of
//! the library or module that produced telemetry, e.g. `my.tracer.name`.

use std::sync::Arc;

use crate::attributes::{KeyValue, StringValue};

/// The instrumentation scope of a tracer, meter or logger. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct InstrumentationScope(Arc<ScopeInner>);

impl PartialEq for InstrumentationScope {
    fn eq(&self, other: &Self) -> bool {
        self.ptr_eq(other) || self.0 == other.0
    }
}

#[derive(Debug, PartialEq, Default)]
struct ScopeInner {
    name: StringValue,
    version: Option<StringValue>,
    schema_url: Option<StringValue>,
    attributes: Vec<KeyValue>,
}

impl InstrumentationScope {
    /// A scope with just a name.
    pub fn new(name: impl Into<StringValue>) -> Self {
        Self::builder(name).build()
    }

    /// A builder for a scope with a version, schema URL or attributes.
    pub fn builder(name: impl Into<StringValue>) -> ScopeBuilder {
        ScopeBuilder(ScopeInner {
            name: name.into(),
            ..Default::default()
        })
    }

    /// The scope name.
    pub fn name(&self) -> &str {
        &self.0.name
    }
    /// The version, if any.
    pub fn version(&self) -> Option<&str> {
        self.0.version.as_deref()
    }
    /// The schema URL, if any.
    pub fn schema_url(&self) -> Option<&str> {
        self.0.schema_url.as_deref()
    }
    /// The scope attributes.
    pub fn attributes(&self) -> &[KeyValue] {
        &self.0.attributes
    }
    /// `true` when both handles point at the same scope (cheap identity check for grouping).
    pub(crate) fn ptr_eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// Builds an [`InstrumentationScope`].
#[derive(Debug)]
pub struct ScopeBuilder(ScopeInner);

impl ScopeBuilder {
    /// Sets the version.
    pub fn with_version(mut self, v: impl Into<StringValue>) -> Self {
        self.0.version = Some(v.into());
        self
    }
    /// Sets the schema URL.
    pub fn with_schema_url(mut self, v: impl Into<StringValue>) -> Self {
        self.0.schema_url = Some(v.into());
        self
    }
    /// Sets the scope attributes.
    pub fn with_attributes(mut self, attrs: impl IntoIterator<Item = KeyValue>) -> Self {
        // Keys are unique (OTLP requires it): a repeated key keeps its last value, at its
        // first position.
        let mut out: Vec<KeyValue> = Vec::new();
        for kv in attrs {
            match out.iter_mut().find(|o| o.key == kv.key) {
                Some(o) => o.value = kv.value,
                None => out.push(kv),
            }
        }
        self.0.attributes = out;
        self
    }
    /// The scope.
    pub fn build(self) -> InstrumentationScope {
        InstrumentationScope(Arc::new(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_attribute_key_keeps_its_last_value() {
        let s = InstrumentationScope::builder("s")
            .with_attributes([
                KeyValue::new("k", 1),
                KeyValue::new("j", 0),
                KeyValue::new("k", 2),
            ])
            .build();
        assert_eq!(
            s.attributes(),
            [KeyValue::new("k", 2), KeyValue::new("j", 0)]
        );
    }
}
