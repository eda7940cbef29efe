//! Baggage: name/value pairs that travel with a request, in the [`Context`] and, through the
//! W3C `baggage` header ([`BaggagePropagator`](crate::propagation::BaggagePropagator)), across
//! processes. Each entry may carry metadata (the header's `;property` list).
//!
//! A [`Baggage`] is a plain value: build or change one, then put it in a context with
//! [`Context::with_baggage`]; read the current one with [`Context::baggage`]. The free
//! functions mirror Python's `opentelemetry.baggage` module.
//!
//! ```
//! use otlp_sdk::baggage::{self, Baggage};
//! use otlp_sdk::context::Context;
//!
//! let cx = baggage::set_baggage("user.id", "42", &Context::current());
//! let _guard = cx.attach();
//! assert_eq!(baggage::get_baggage("user.id", &Context::current()).as_deref(), Some("42"));
//!
//! let mut b = Baggage::new();
//! b.insert_with_metadata("tenant", "acme", "plan=gold");
//! assert_eq!(b.get("tenant"), Some("acme"));
//! assert_eq!(b.get_with_metadata("tenant").unwrap().1.as_str(), "plan=gold");
//! ```

use std::fmt;

use crate::attributes::StringValue;
use crate::context::Context;

/// The metadata of a baggage entry: the properties that follow its value in the `baggage`
/// header (`prop1;prop2=value`), kept as they were written.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct BaggageMetadata(StringValue);

impl BaggageMetadata {
    /// The metadata text (empty when none).
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
    /// `true` with no metadata.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<T: Into<StringValue>> From<T> for BaggageMetadata {
    fn from(v: T) -> Self {
        let s: StringValue = v.into();
        let trimmed = s.trim();
        if trimmed.len() == s.len() {
            BaggageMetadata(s)
        } else {
            BaggageMetadata(trimmed.to_string().into())
        }
    }
}

/// A set of name/value entries (names are unique and case-sensitive), in insertion order.
#[derive(Clone, Default, PartialEq)]
pub struct Baggage {
    entries: Vec<(StringValue, StringValue, BaggageMetadata)>,
}

static EMPTY: Baggage = Baggage {
    entries: Vec::new(),
};

impl Baggage {
    /// An empty baggage.
    pub fn new() -> Self {
        Baggage::default()
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.find(name).map(|e| e.1.as_str())
    }

    /// The value and metadata of `name`.
    pub fn get_with_metadata(&self, name: &str) -> Option<(&str, &BaggageMetadata)> {
        self.find(name).map(|e| (e.1.as_str(), &e.2))
    }

    fn find(&self, name: &str) -> Option<&(StringValue, StringValue, BaggageMetadata)> {
        self.entries.iter().find(|e| e.0.as_str() == name)
    }

    /// Sets `name` to `value` (without metadata), returning the previous value.
    pub fn insert(
        &mut self,
        name: impl Into<StringValue>,
        value: impl Into<StringValue>,
    ) -> Option<StringValue> {
        self.insert_with_metadata(name, value, BaggageMetadata::default())
    }

    /// Sets `name` to `value` with metadata, returning the previous value.
    pub fn insert_with_metadata(
        &mut self,
        name: impl Into<StringValue>,
        value: impl Into<StringValue>,
        metadata: impl Into<BaggageMetadata>,
    ) -> Option<StringValue> {
        let (name, value, metadata) = (name.into(), value.into(), metadata.into());
        match self.entries.iter_mut().find(|e| e.0 == name) {
            Some(e) => {
                e.2 = metadata;
                Some(std::mem::replace(&mut e.1, value))
            }
            None => {
                self.entries.push((name, value, metadata));
                None
            }
        }
    }

    /// Removes `name`, returning its value.
    pub fn remove(&mut self, name: &str) -> Option<StringValue> {
        let i = self.entries.iter().position(|e| e.0.as_str() == name)?;
        Some(self.entries.remove(i).1)
    }

    /// The entries: name, value, metadata.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str, &BaggageMetadata)> + '_ {
        self.entries
            .iter()
            .map(|(n, v, m)| (n.as_str(), v.as_str(), m))
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// `true` with no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<K: Into<StringValue>, V: Into<StringValue>> FromIterator<(K, V)> for Baggage {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut b = Baggage::new();
        for (k, v) in iter {
            b.insert(k, v);
        }
        b
    }
}

impl fmt::Debug for Baggage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (n, v, meta) in self.iter() {
            if meta.is_empty() {
                m.entry(&n, &v);
            } else {
                m.entry(&n, &format_args!("{v:?};{}", meta.as_str()));
            }
        }
        m.finish()
    }
}

impl Context {
    /// The baggage of this context (empty when none was set).
    pub fn baggage(&self) -> &Baggage {
        self.get::<Baggage>().unwrap_or(&EMPTY)
    }

    /// A copy of this context carrying `baggage` (replacing its previous baggage).
    pub fn with_baggage(&self, baggage: Baggage) -> Context {
        self.with_value(baggage)
    }
}

/// A copy of `cx` whose baggage has `name` set to `value`, as Python's
/// `baggage.set_baggage(name, value, context)`.
pub fn set_baggage(
    name: impl Into<StringValue>,
    value: impl Into<StringValue>,
    cx: &Context,
) -> Context {
    let mut b = cx.baggage().clone();
    b.insert(name, value);
    cx.with_baggage(b)
}

/// The value of `name` in `cx`'s baggage.
pub fn get_baggage(name: &str, cx: &Context) -> Option<StringValue> {
    cx.baggage().find(name).map(|e| e.1.clone())
}

/// A copy of `cx` whose baggage no longer has `name`.
pub fn remove_baggage(name: &str, cx: &Context) -> Context {
    let mut b = cx.baggage().clone();
    b.remove(name);
    cx.with_baggage(b)
}

/// A copy of `cx` with empty baggage.
pub fn clear_baggage(cx: &Context) -> Context {
    cx.with_baggage(Baggage::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_remove_with_metadata() {
        let mut b = Baggage::new();
        assert_eq!(b.insert("a", "1"), None);
        assert_eq!(b.insert_with_metadata("b", "2", " p1;p2=x "), None);
        assert_eq!(b.insert("a", "3").as_deref(), Some("1"));
        assert_eq!(b.get("a"), Some("3"));
        assert_eq!(b.get("A"), None, "names are case-sensitive");
        assert_eq!(b.get_with_metadata("b").unwrap().1.as_str(), "p1;p2=x");
        assert_eq!(b.len(), 2);
        assert_eq!(b.remove("a").as_deref(), Some("3"));
        assert_eq!(b.remove("a"), None);
        assert_eq!(
            b.iter().map(|(n, v, _)| (n, v)).collect::<Vec<_>>(),
            [("b", "2")]
        );
    }

    #[test]
    fn carried_in_context_immutably() {
        let cx0 = Context::new();
        assert!(cx0.baggage().is_empty());
        let cx1 = set_baggage("k", "v", &cx0);
        let cx2 = remove_baggage("k", &cx1);
        assert!(cx0.baggage().is_empty());
        assert_eq!(get_baggage("k", &cx1).as_deref(), Some("v"));
        assert_eq!(get_baggage("k", &cx2), None);
        assert!(clear_baggage(&cx1).baggage().is_empty());
    }
}
