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

fn logger_provider_slot() -> &'static RwLock<Option<crate::logs::LoggerProvider>> {
    static P: OnceLock<RwLock<Option<crate::logs::LoggerProvider>>> = OnceLock::new();
    P.get_or_init(|| RwLock::new(None))
}

/// Sets the global logger provider, returning the previous one (if any), as Python's
/// `set_logger_provider`.
pub fn set_logger_provider(
    provider: crate::logs::LoggerProvider,
) -> Option<crate::logs::LoggerProvider> {
    match logger_provider_slot().write() {
        Ok(mut g) => g.replace(provider),
        Err(p) => p.into_inner().replace(provider),
    }
}

/// The global logger provider (one with no processor, whose records go nowhere, until
/// [`set_logger_provider`] is called).
pub fn logger_provider() -> crate::logs::LoggerProvider {
    let current = logger_provider_slot().read().ok().and_then(|g| g.clone());
    current.unwrap_or_else(|| {
        static NOOP: OnceLock<crate::logs::LoggerProvider> = OnceLock::new();
        NOOP.get_or_init(|| {
            crate::logs::LoggerProvider::builder()
                .with_resource(crate::resource::Resource::empty())
                .build()
        })
        .clone()
    })
}

/// A logger of the global logger provider.
pub fn logger(name: impl Into<StringValue>) -> crate::logs::Logger {
    logger_provider().logger(name)
}

/// Removes the global logger provider and returns it (e.g. to shut it down).
pub fn take_logger_provider() -> Option<crate::logs::LoggerProvider> {
    logger_provider_slot()
        .write()
        .ok()
        .and_then(|mut g| g.take())
}

type SharedPropagator = std::sync::Arc<dyn crate::propagation::TextMapPropagator>;

fn propagator_slot() -> &'static RwLock<Option<SharedPropagator>> {
    static P: OnceLock<RwLock<Option<SharedPropagator>>> = OnceLock::new();
    P.get_or_init(|| RwLock::new(None))
}

/// Sets the global text-map propagator, as Python's `propagate.set_global_textmap`.
pub fn set_text_map_propagator(propagator: impl crate::propagation::TextMapPropagator + 'static) {
    let p: SharedPropagator = std::sync::Arc::new(propagator);
    match propagator_slot().write() {
        Ok(mut g) => *g = Some(p),
        Err(e) => *e.into_inner() = Some(p),
    }
}

/// The global text-map propagator: the one set with [`set_text_map_propagator`], else the
/// one `OTEL_PROPAGATORS` names (`tracecontext,baggage` when unset or invalid; an invalid
/// value is reported through [`diagnostics`](crate::diagnostics)).
///
/// ```
/// use std::collections::HashMap;
/// use otlp_sdk::global;
///
/// let mut headers: HashMap<String, String> = HashMap::new();
/// global::get_text_map_propagator().inject(&mut headers);
/// let cx = global::get_text_map_propagator().extract(&headers);
/// # let _ = cx;
/// ```
pub fn get_text_map_propagator() -> SharedPropagator {
    if let Some(p) = propagator_slot().read().ok().and_then(|g| g.clone()) {
        return p;
    }
    static FROM_ENV: OnceLock<SharedPropagator> = OnceLock::new();
    FROM_ENV
        .get_or_init(|| {
            let p = crate::propagation::propagators_from_env().unwrap_or_else(|e| {
                crate::diagnostics::report(&format!("{e}; using tracecontext,baggage"));
                crate::propagation::TextMapCompositePropagator::w3c()
            });
            std::sync::Arc::new(p)
        })
        .clone()
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

/// Shuts down the global tracer, meter and logger providers when dropped, so that a `main`
/// that returns (or unwinds) still flushes everything they accepted:
///
/// ```
/// fn main() {
///     let _flush_on_exit = otlp_sdk::global::shutdown_guard();
///     // ... set providers, do work ...
/// } // here every global provider is shut down, flushing its queues
/// ```
pub fn shutdown_guard() -> ShutdownGuard {
    ShutdownGuard { _private: () }
}

/// See [`shutdown_guard`].
#[must_use = "the providers are shut down when the guard is dropped"]
#[derive(Debug)]
pub struct ShutdownGuard {
    _private: (),
}

impl Drop for ShutdownGuard {
    fn drop(&mut self) {
        if let Some(p) = take_tracer_provider() {
            if let Err(e) = p.shutdown() {
                crate::diagnostics::report(&format!("tracer provider shutdown: {e}"));
            }
        }
        if let Some(p) = take_meter_provider() {
            if let Err(e) = p.shutdown() {
                crate::diagnostics::report(&format!("meter provider shutdown: {e}"));
            }
        }
        if let Some(p) = take_logger_provider() {
            if let Err(e) = p.shutdown() {
                crate::diagnostics::report(&format!("logger provider shutdown: {e}"));
            }
        }
    }
}
