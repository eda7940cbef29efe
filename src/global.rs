//! Process-wide providers, as Python's `trace.set_tracer_provider` / `trace.get_tracer`.
//!
//! Until a provider is set, [`tracer`] returns a tracer of a provider with no processor: its
//! spans are not recorded, and cost almost nothing.

use std::sync::{OnceLock, RwLock};

use crate::attributes::StringValue;
use crate::scope::InstrumentationScope;
use crate::trace::{Tracer, TracerProvider};

fn tracer_provider_slot() -> &'static RwLock<Option<TracerProvider>> {
    static P: OnceLock<RwLock<Option<TracerProvider>>> = OnceLock::new();
    P.get_or_init(|| RwLock::new(None))
}

/// Sets the global tracer provider, returning the previous one (if any).
pub fn set_tracer_provider(provider: TracerProvider) -> Option<TracerProvider> {
    match tracer_provider_slot().write() {
        Ok(mut g) => g.replace(provider),
        Err(p) => p.into_inner().replace(provider),
    }
}

/// The global tracer provider (a no-op one until [`set_tracer_provider`] is called).
pub fn tracer_provider() -> TracerProvider {
    let current = tracer_provider_slot().read().ok().and_then(|g| g.clone());
    current.unwrap_or_else(noop_tracer_provider)
}

fn noop_tracer_provider() -> TracerProvider {
    static NOOP: OnceLock<TracerProvider> = OnceLock::new();
    NOOP.get_or_init(|| {
        TracerProvider::builder()
            .with_resource(crate::resource::Resource::empty())
            .with_sampler(crate::trace::Sampler::AlwaysOff)
            .build()
    })
    .clone()
}

/// A tracer of the global provider, as Python's `trace.get_tracer("my.tracer.name")`.
pub fn tracer(name: impl Into<StringValue>) -> Tracer {
    tracer_provider().tracer(name)
}

/// A tracer of the global provider for a scope with version, schema URL or attributes.
pub fn tracer_with_scope(scope: InstrumentationScope) -> Tracer {
    tracer_provider().tracer_with_scope(scope)
}

/// Removes the global tracer provider and returns it (e.g. to shut it down).
pub fn take_tracer_provider() -> Option<TracerProvider> {
    tracer_provider_slot()
        .write()
        .ok()
        .and_then(|mut g| g.take())
}
