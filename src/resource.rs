//! The [`Resource`]: an immutable description of the entity producing telemetry (the service,
//! its version, host, container...).
//!
//! [`Resource::new`] mirrors Python's `Resource.create`: it starts from the SDK defaults
//! (`telemetry.sdk.*` and `service.name = unknown_service:<executable>`), merges
//! `OTEL_RESOURCE_ATTRIBUTES` and `OTEL_SERVICE_NAME` from the environment, then the
//! attributes given in code, which win.
//!
//! ```
//! use otlp_sdk::resource::{Resource, SERVICE_NAME};
//! use otlp_sdk::KeyValue;
//! let resource = Resource::new([KeyValue::new(SERVICE_NAME, "my.service.name")]);
//! assert_eq!(resource.get(SERVICE_NAME).unwrap().as_str(), Some("my.service.name"));
//! assert_eq!(resource.get("telemetry.sdk.language").unwrap().as_str(), Some("rust"));
//! ```

use std::sync::Arc;

use crate::attributes::{KeyValue, StringValue, Value};
use crate::diagnostics;

/// `service.name`: the logical name of the service.
pub const SERVICE_NAME: &str = "service.name";
/// `service.version`: the version of the service.
pub const SERVICE_VERSION: &str = "service.version";
/// `service.namespace`: a namespace for `service.name`.
pub const SERVICE_NAMESPACE: &str = "service.namespace";
/// `service.instance.id`: the id of this instance of the service.
pub const SERVICE_INSTANCE_ID: &str = "service.instance.id";
/// `deployment.environment.name`: e.g. `production`.
pub const DEPLOYMENT_ENVIRONMENT_NAME: &str = "deployment.environment.name";
/// `telemetry.sdk.name`: the SDK's name (`otlp-sdk`).
pub const TELEMETRY_SDK_NAME: &str = "telemetry.sdk.name";
/// `telemetry.sdk.language`: `rust`.
pub const TELEMETRY_SDK_LANGUAGE: &str = "telemetry.sdk.language";
/// `telemetry.sdk.version`: the SDK's version.
pub const TELEMETRY_SDK_VERSION: &str = "telemetry.sdk.version";
/// `host.name`.
pub const HOST_NAME: &str = "host.name";
/// `process.pid`.
pub const PROCESS_PID: &str = "process.pid";

/// An immutable set of attributes describing the entity producing telemetry. Cheap to clone.
#[derive(Clone, Debug, PartialEq)]
pub struct Resource(Arc<ResourceInner>);

#[derive(Debug, PartialEq, Default)]
struct ResourceInner {
    attributes: Vec<KeyValue>,
    schema_url: Option<StringValue>,
}

impl Default for Resource {
    /// The SDK defaults merged with the environment (`OTEL_RESOURCE_ATTRIBUTES`,
    /// `OTEL_SERVICE_NAME`).
    fn default() -> Self {
        Resource::builder().build()
    }
}

impl Resource {
    /// The defaults and the environment, merged with `attributes` (which win).
    pub fn new(attributes: impl IntoIterator<Item = KeyValue>) -> Self {
        Resource::builder().with_attributes(attributes).build()
    }

    /// A resource with no attribute at all.
    pub fn empty() -> Self {
        Resource(Arc::new(ResourceInner::default()))
    }

    /// Exactly these attributes: no default, no environment.
    pub fn from_attributes(attributes: impl IntoIterator<Item = KeyValue>) -> Self {
        let mut out: Vec<KeyValue> = Vec::new();
        for kv in attributes {
            put(&mut out, kv);
        }
        Resource(Arc::new(ResourceInner {
            attributes: out,
            schema_url: None,
        }))
    }

    /// A builder seeded with the defaults and the environment.
    pub fn builder() -> ResourceBuilder {
        let mut attrs = sdk_defaults();
        for kv in from_env() {
            put(&mut attrs, kv);
        }
        ResourceBuilder {
            attributes: attrs,
            schema_url: None,
        }
    }

    /// A builder with no attribute.
    pub fn builder_empty() -> ResourceBuilder {
        ResourceBuilder {
            attributes: Vec::new(),
            schema_url: None,
        }
    }

    /// The attributes, one per key.
    pub fn attributes(&self) -> &[KeyValue] {
        &self.0.attributes
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| &kv.value)
    }

    /// The schema URL, if any.
    pub fn schema_url(&self) -> Option<&str> {
        self.0.schema_url.as_deref()
    }

    /// Number of attributes.
    pub fn len(&self) -> usize {
        self.0.attributes.len()
    }

    /// `true` with no attribute.
    pub fn is_empty(&self) -> bool {
        self.0.attributes.is_empty()
    }

    /// Merges `updating` into `self` as the specification defines: `updating`'s values win on
    /// a key conflict; the schema URL is kept when only one side has one or both agree, and
    /// is dropped (with a diagnostic) when they differ.
    pub fn merge(&self, updating: &Resource) -> Resource {
        let mut attrs = self.0.attributes.clone();
        for kv in &updating.0.attributes {
            put(&mut attrs, kv.clone());
        }
        let schema_url = match (&self.0.schema_url, &updating.0.schema_url) {
            (None, s) | (s, None) => s.clone(),
            (Some(a), Some(b)) if a == b => Some(a.clone()),
            (Some(_), Some(_)) => {
                diagnostics::report("resource merge: conflicting schema URLs; dropping both");
                None
            }
        };
        Resource(Arc::new(ResourceInner {
            attributes: attrs,
            schema_url,
        }))
    }
}

/// Builds a [`Resource`].
#[derive(Debug)]
pub struct ResourceBuilder {
    attributes: Vec<KeyValue>,
    schema_url: Option<StringValue>,
}

impl ResourceBuilder {
    /// Sets `service.name`.
    pub fn with_service_name(self, name: impl Into<StringValue>) -> Self {
        self.with_attribute(KeyValue::new(SERVICE_NAME, Value::String(name.into())))
    }
    /// Adds (or replaces) one attribute.
    pub fn with_attribute(mut self, kv: KeyValue) -> Self {
        put(&mut self.attributes, kv);
        self
    }
    /// Adds (or replaces) several attributes.
    pub fn with_attributes(mut self, kvs: impl IntoIterator<Item = KeyValue>) -> Self {
        for kv in kvs {
            put(&mut self.attributes, kv);
        }
        self
    }
    /// Sets the schema URL.
    pub fn with_schema_url(mut self, url: impl Into<StringValue>) -> Self {
        self.schema_url = Some(url.into());
        self
    }
    /// The resource.
    pub fn build(self) -> Resource {
        Resource(Arc::new(ResourceInner {
            attributes: self.attributes,
            schema_url: self.schema_url,
        }))
    }
}

fn put(attrs: &mut Vec<KeyValue>, kv: KeyValue) {
    match attrs.iter_mut().find(|e| e.key == kv.key) {
        Some(e) => e.value = kv.value,
        None => attrs.push(kv),
    }
}

fn sdk_defaults() -> Vec<KeyValue> {
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    vec![
        KeyValue::new(SERVICE_NAME, format!("unknown_service:{exe}")),
        KeyValue::new(TELEMETRY_SDK_LANGUAGE, "rust"),
        KeyValue::new(TELEMETRY_SDK_NAME, "otlp-sdk"),
        KeyValue::new(TELEMETRY_SDK_VERSION, env!("CARGO_PKG_VERSION")),
    ]
}

/// Attributes from `OTEL_RESOURCE_ATTRIBUTES` then `OTEL_SERVICE_NAME` (which wins for
/// `service.name`). A malformed `OTEL_RESOURCE_ATTRIBUTES` is discarded whole, with a
/// diagnostic, as the specification requires.
fn from_env() -> Vec<KeyValue> {
    let mut out = Vec::new();
    if let Ok(raw) = std::env::var("OTEL_RESOURCE_ATTRIBUTES") {
        match parse_resource_attributes(&raw) {
            Ok(kvs) => out.extend(kvs),
            Err(e) => diagnostics::report(&format!("OTEL_RESOURCE_ATTRIBUTES ignored: {e}")),
        }
    }
    if let Ok(name) = std::env::var("OTEL_SERVICE_NAME") {
        let name = name.trim();
        if !name.is_empty() {
            out.push(KeyValue::new(SERVICE_NAME, name.to_string()));
        }
    }
    out
}

/// Parses the `key1=value1,key2=value2` list of `OTEL_RESOURCE_ATTRIBUTES`, percent-decoding
/// keys and values.
pub(crate) fn parse_resource_attributes(raw: &str) -> Result<Vec<KeyValue>, String> {
    let mut out = Vec::new();
    for item in raw.split(',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let (k, v) = item
            .split_once('=')
            .ok_or_else(|| format!("entry {item:?} has no '='"))?;
        let key = decode(k.trim())?;
        if key.is_empty() {
            return Err(format!("entry {item:?} has an empty key"));
        }
        let value = decode(v.trim())?;
        out.push(KeyValue::new(key, value));
    }
    Ok(out)
}

fn decode(s: &str) -> Result<String, String> {
    // A '%' must start an escape: two hex digits (the specification discards the whole
    // variable otherwise, rather than keep the text as it is).
    let b = s.as_bytes();
    for (i, _) in s.match_indices('%') {
        let hex = |j: usize| b.get(j).is_some_and(u8::is_ascii_hexdigit);
        if !(hex(i + 1) && hex(i + 2)) {
            return Err(format!("{s:?} has a '%' not followed by two hex digits"));
        }
    }
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| format!("{s:?} is not valid UTF-8 once percent-decoded"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_percent_encoded_pairs() {
        let kvs = parse_resource_attributes("a=b%20c, d = %2Ce ,,").unwrap();
        assert_eq!(
            kvs,
            vec![KeyValue::new("a", "b c"), KeyValue::new("d", ",e")]
        );
        assert!(parse_resource_attributes("a=b,c").is_err());
        assert!(parse_resource_attributes("=b").is_err());
        assert!(parse_resource_attributes("a=%FF").is_err());
        // Bad escapes are not kept as text.
        assert!(parse_resource_attributes("a=%zz").is_err());
        assert!(parse_resource_attributes("a=b%4").is_err());
        assert!(parse_resource_attributes("a%=b").is_err());
        assert_eq!(
            parse_resource_attributes("a=100%25").unwrap(),
            vec![KeyValue::new("a", "100%")]
        );
    }

    #[test]
    fn merge_prefers_updating_values() {
        let a = Resource::from_attributes([KeyValue::new("k", 1), KeyValue::new("x", 1)]);
        let b = Resource::from_attributes([KeyValue::new("k", 2)]);
        let m = a.merge(&b);
        assert_eq!(m.get("k"), Some(&Value::I64(2)));
        assert_eq!(m.get("x"), Some(&Value::I64(1)));
    }

    #[test]
    fn schema_urls_merge_per_spec() {
        let a = Resource::builder_empty().with_schema_url("s1").build();
        let b = Resource::builder_empty().with_schema_url("s2").build();
        let none = Resource::empty();
        assert_eq!(a.merge(&none).schema_url(), Some("s1"));
        assert_eq!(none.merge(&b).schema_url(), Some("s2"));
        assert_eq!(a.merge(&a).schema_url(), Some("s1"));
        assert_eq!(a.merge(&b).schema_url(), None);
    }
}
