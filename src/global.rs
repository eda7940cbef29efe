//! Process-wide providers, as Python's `trace.set_tracer_provider` / `trace.get_tracer`.
//!
//! Until a provider is set, [`tracer`] returns a tracer of a no-op provider, as the API
//! without an SDK: its spans are not recorded, carry their parent's span context on, and
//! cost almost nothing. Once a provider is set, such a tracer starts its spans through it.

use std::sync::{Arc, OnceLock, RwLock};

use crate::attributes::StringValue;
use crate::logs::{Logger, LoggerProvider};
use crate::metrics::{Meter, MeterProvider};
use crate::propagation::TextMapPropagator;
use crate::resource::Resource;
use crate::scope::InstrumentationScope;
use crate::trace::{Tracer, TracerProvider};

/// One process-wide value. A poisoned lock is recovered: the value is always consistent
/// (it is only ever replaced whole).
struct Slot<T>(RwLock<Option<T>>);

impl<T: Clone> Slot<T> {
    const fn new() -> Self {
        Slot(RwLock::new(None))
    }
    fn set(&self, v: T) -> Option<T> {
        match self.0.write() {
            Ok(mut g) => g.replace(v),
            Err(p) => p.into_inner().replace(v),
        }
    }
    fn get(&self) -> Option<T> {
        match self.0.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }
    fn take(&self) -> Option<T> {
        match self.0.write() {
            Ok(mut g) => g.take(),
            Err(p) => p.into_inner().take(),
        }
    }
}

static TRACER_PROVIDER: Slot<TracerProvider> = Slot::new();
static METER_PROVIDER: Slot<MeterProvider> = Slot::new();
static LOGGER_PROVIDER: Slot<LoggerProvider> = Slot::new();
static PROPAGATOR: Slot<SharedPropagator> = Slot::new();

/// The process-wide fallback used until a value is set, built once.
fn fallback<T: Clone>(cell: &'static OnceLock<T>, build: impl FnOnce() -> T) -> T {
    cell.get_or_init(build).clone()
}

/// Sets the global tracer provider, returning the previous one (if any), as Python's
/// `trace.set_tracer_provider`.
pub fn set_tracer_provider(provider: TracerProvider) -> Option<TracerProvider> {
    TRACER_PROVIDER.set(provider)
}

/// The global tracer provider (a no-op one until [`set_tracer_provider`] is called: its spans
/// are not recorded, carry their parent's span context on, and cost almost nothing).
pub fn tracer_provider() -> TracerProvider {
    TRACER_PROVIDER.get().unwrap_or_else(|| {
        static NOOP: OnceLock<TracerProvider> = OnceLock::new();
        fallback(&NOOP, TracerProvider::noop)
    })
}

/// The tracer provider set with [`set_tracer_provider`], if any.
pub(crate) fn installed_tracer_provider() -> Option<TracerProvider> {
    TRACER_PROVIDER.get()
}

/// A tracer of the global provider, as Python's `trace.get_tracer("my.tracer.name")`. One
/// taken before a provider is set (in a `static`, say) starts its spans through the provider
/// set later, as Python's proxy tracer does: the first one it finds, then always that one.
pub fn tracer(name: impl Into<StringValue>) -> Tracer {
    tracer_provider().tracer(name)
}

/// A tracer of the global provider for a scope with version, schema URL or attributes.
pub fn tracer_with_scope(scope: InstrumentationScope) -> Tracer {
    tracer_provider().tracer_with_scope(scope)
}

/// Removes the global tracer provider and returns it (e.g. to shut it down).
pub fn take_tracer_provider() -> Option<TracerProvider> {
    TRACER_PROVIDER.take()
}

/// Sets the global meter provider, returning the previous one (if any), as Python's
/// `metrics.set_meter_provider`.
pub fn set_meter_provider(provider: MeterProvider) -> Option<MeterProvider> {
    METER_PROVIDER.set(provider)
}

/// The global meter provider (a no-op one, without readers, until [`set_meter_provider`] is
/// called: its instruments record nothing).
pub fn meter_provider() -> MeterProvider {
    METER_PROVIDER.get().unwrap_or_else(|| {
        static NOOP: OnceLock<MeterProvider> = OnceLock::new();
        fallback(&NOOP, || {
            MeterProvider::builder()
                .with_resource(Resource::empty())
                .build()
        })
    })
}

/// A meter of the global provider, as Python's `metrics.get_meter("my.meter.name")`. Unlike
/// tracers, a meter taken before a provider is set (and its instruments) stays a no-op: take
/// meters once the provider is set.
pub fn meter(name: impl Into<StringValue>) -> Meter {
    meter_provider().meter(name)
}

/// A meter of the global provider for a scope with version, schema URL or attributes.
pub fn meter_with_scope(scope: InstrumentationScope) -> Meter {
    meter_provider().meter_with_scope(scope)
}

/// Removes the global meter provider and returns it (e.g. to shut it down).
pub fn take_meter_provider() -> Option<MeterProvider> {
    METER_PROVIDER.take()
}

/// Sets the global logger provider, returning the previous one (if any), as Python's
/// `set_logger_provider`.
pub fn set_logger_provider(provider: LoggerProvider) -> Option<LoggerProvider> {
    LOGGER_PROVIDER.set(provider)
}

/// The global logger provider (one with no processor, whose records go nowhere, until
/// [`set_logger_provider`] is called).
pub fn logger_provider() -> LoggerProvider {
    LOGGER_PROVIDER.get().unwrap_or_else(|| {
        static NOOP: OnceLock<LoggerProvider> = OnceLock::new();
        fallback(&NOOP, || {
            LoggerProvider::builder()
                .with_resource(Resource::empty())
                .build()
        })
    })
}

/// A logger of the global logger provider.
pub fn logger(name: impl Into<StringValue>) -> Logger {
    logger_provider().logger(name)
}

/// Removes the global logger provider and returns it (e.g. to shut it down).
pub fn take_logger_provider() -> Option<LoggerProvider> {
    LOGGER_PROVIDER.take()
}

type SharedPropagator = Arc<dyn TextMapPropagator>;

/// Sets the global text-map propagator, as Python's `propagate.set_global_textmap`.
pub fn set_text_map_propagator(propagator: impl TextMapPropagator + 'static) {
    PROPAGATOR.set(Arc::new(propagator));
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
    PROPAGATOR.get().unwrap_or_else(|| {
        static FROM_ENV: OnceLock<SharedPropagator> = OnceLock::new();
        fallback(&FROM_ENV, || {
            let p = crate::propagation::propagators_from_env().unwrap_or_else(|e| {
                crate::diagnostics::report(&format!("{e}; using tracecontext,baggage"));
                crate::propagation::TextMapCompositePropagator::w3c()
            });
            Arc::new(p)
        })
    })
}

/// Shuts down the global tracer, meter and logger providers when dropped, so that a `main`
/// that returns (or unwinds) still flushes everything they accepted:
///
/// ```
/// // At the top of `main`:
/// let _flush_on_exit = otlp_sdk::global::shutdown_guard();
/// // ... set providers, do work ...
/// // When `main` returns, every global provider is shut down, flushing its queues.
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
        report_shutdown("tracer", take_tracer_provider().map(|p| p.shutdown()));
        report_shutdown("meter", take_meter_provider().map(|p| p.shutdown()));
        report_shutdown("logger", take_logger_provider().map(|p| p.shutdown()));
    }
}

/// Reports a failed shutdown of the `kind` provider; one shut down already (by `main`, say)
/// leaves nothing to report.
fn report_shutdown(kind: &str, result: Option<crate::error::SdkResult>) {
    match result {
        None | Some(Ok(())) | Some(Err(crate::error::SdkError::AlreadyShutdown)) => {}
        Some(Err(e)) => crate::diagnostics::report(&format!("{kind} provider shutdown: {e}")),
    }
}
