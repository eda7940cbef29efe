//! Runtime support of the `#[traced]` attribute (through `otlp_sdk::__private`): recording
//! what a traced function's `Err` holds, and ending an async function's span when its future
//! finishes. Not a public API.

use std::fmt;

use crate::attributes::KeyValue;
use crate::semconv;
use crate::trace::{get_current_span, SpanHandle, Status};

/// An error of a traced function, to be described by the richest of the traits it
/// implements: `std::error::Error` (with its sources), `Display`, `Debug`, or none (its type
/// name only), or a boxed `dyn Error` through the error it holds. The macro calls
/// `(&&&&ErrWrap(e)).otlp_describe()` with the five traits in scope: method lookup tries the impls from the most references down, and skips those whose
/// bounds the error does not meet.
pub struct ErrWrap<'a, T: ?Sized>(pub &'a T);

impl<T: ?Sized> Clone for ErrWrap<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T: ?Sized> Copy for ErrWrap<'_, T> {}

impl<T: ?Sized> fmt::Debug for ErrWrap<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ErrWrap")
    }
}

/// The error's type name and message.
pub type Description = (&'static str, String);

/// An error's message `msg`, then those of its sources from `source` on.
fn chain(mut msg: String, mut source: Option<&(dyn std::error::Error + 'static)>) -> String {
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

/// Describes a boxed `dyn Error` (which does not itself implement `Error`) through the
/// error it holds, with its sources.
pub trait ViaBoxedError {
    /// The description.
    fn otlp_describe(self) -> Description;
}
macro_rules! boxed_error {
    ($($t:ty),*) => {$(
        impl ViaBoxedError for &&&&ErrWrap<'_, Box<$t>> {
            fn otlp_describe(self) -> Description {
                let e = &**self.0;
                (std::any::type_name::<Box<$t>>(), chain(e.to_string(), e.source()))
            }
        }
    )*};
}
boxed_error!(
    dyn std::error::Error,
    dyn std::error::Error + Send,
    dyn std::error::Error + Send + Sync
);

/// Describes an error through `std::error::Error`: the message, then its sources.
pub trait ViaError {
    /// The description.
    fn otlp_describe(self) -> Description;
}
impl<T: std::error::Error + ?Sized> ViaError for &&&ErrWrap<'_, T> {
    fn otlp_describe(self) -> Description {
        (
            std::any::type_name::<T>(),
            chain(self.0.to_string(), self.0.source()),
        )
    }
}

/// Describes an error through `Display`.
pub trait ViaDisplay {
    /// The description.
    fn otlp_describe(self) -> Description;
}
impl<T: fmt::Display + ?Sized> ViaDisplay for &&ErrWrap<'_, T> {
    fn otlp_describe(self) -> Description {
        (std::any::type_name::<T>(), self.0.to_string())
    }
}

/// Describes an error through `Debug`.
pub trait ViaDebug {
    /// The description.
    fn otlp_describe(self) -> Description;
}
impl<T: fmt::Debug + ?Sized> ViaDebug for &ErrWrap<'_, T> {
    fn otlp_describe(self) -> Description {
        (std::any::type_name::<T>(), format!("{:?}", self.0))
    }
}

/// Describes an error by its type only.
pub trait ViaType {
    /// The description.
    fn otlp_describe(self) -> Description;
}
impl<T: ?Sized> ViaType for ErrWrap<'_, T> {
    fn otlp_describe(self) -> Description {
        let t = std::any::type_name::<T>();
        (t, t.to_string())
    }
}

/// The current span (the traced function's) failed with `error`: an `exception` event, and
/// the status `Error` with its message, as Python's decorator does for an exception.
pub fn record_error((type_name, message): Description) {
    let span = get_current_span();
    span.add_event(
        "exception",
        [
            KeyValue::new(semconv::EXCEPTION_TYPE, type_name),
            KeyValue::new(semconv::EXCEPTION_MESSAGE, message.clone()),
        ],
    );
    span.set_status(Status::error(message));
}

/// A span being unwound through by a panic gets the status `Error` and an `exception`
/// event (the panic's message is not available while unwinding).
pub(crate) fn record_panic(span: &SpanHandle) {
    span.add_event(
        "exception",
        [
            KeyValue::new(semconv::EXCEPTION_TYPE, "panic"),
            KeyValue::new(semconv::EXCEPTION_MESSAGE, "the thread panicked"),
        ],
    );
    span.set_status(Status::error("panicked"));
}

/// Ends the current span (an async traced function's, taken when its future first runs)
/// when the future finishes, or is dropped: the span does not wait for clones of its
/// context that the function handed out.
#[derive(Debug)]
pub struct EndOnDrop(SpanHandle, bool);

impl EndOnDrop {
    /// Takes the current span.
    pub fn current() -> Self {
        EndOnDrop(get_current_span(), std::thread::panicking())
    }
}

impl Drop for EndOnDrop {
    fn drop(&mut self) {
        // Unwound through (not made while unwinding from an earlier panic).
        if std::thread::panicking() && !self.1 {
            record_panic(&self.0);
        }
        self.0.end();
    }
}
