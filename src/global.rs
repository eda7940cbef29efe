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

fn meter_provider_slot() -> &'static RwLock<Option<crate::metrics::MeterProvider>> {
    static P: OnceLock<RwLock<Option<crate::metrics::MeterProvider>>> = OnceLock::new();
    P.get_or_init(|| RwLock::new(None))
}

/// Sets the global meter provider, returning the previous one (if any), as Python's
/// `metrics.set_meter_provider`.
pub fn set_meter_provider(
    provider: crate::metrics::MeterProvider,
) -> Option<crate::metrics::MeterProvider> {
    match meter_provider_slot().write() {
        Ok(mut g) => g.replace(provider),
        Err(p) => p.into_inner().replace(provider),
    }
}

/// The global meter provider (a no-op one, without readers, until [`set_meter_provider`] is
/// called: its instruments record nothing).
pub fn meter_provider() -> crate::metrics::MeterProvider {
    let current = meter_provider_slot().read().ok().and_then(|g| g.clone());
    current.unwrap_or_else(|| {
        static NOOP: OnceLock<crate::metrics::MeterProvider> = OnceLock::new();
        NOOP.get_or_init(|| {
            crate::metrics::MeterProvider::builder()
                .with_resource(crate::resource::Resource::empty())
                .build()
        })
        .clone()
    })
}

/// A meter of the global provider, as Python's `metrics.get_meter("my.meter.name")`.
pub fn meter(name: impl Into<StringValue>) -> crate::metrics::Meter {
    meter_provider().meter(name)
}

/// A meter of the global provider for a scope with version, schema URL or attributes.
pub fn meter_with_scope(scope: InstrumentationScope) -> crate::metrics::Meter {
    meter_provider().meter_with_scope(scope)
}

/// Removes the global meter provider and returns it (e.g. to shut it down).
pub fn take_meter_provider() -> Option<crate::metrics::MeterProvider> {
    meter_provider_slot()
        .write()
        .ok()
        .and_then(|mut g| g.take())
}
