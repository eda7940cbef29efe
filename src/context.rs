//! The execution [`Context`]: the current span (and any other value, such as baggage) that
//! travels with a unit of work.
//!
//! Each thread has a current context. [`Context::attach`] makes a context current and returns
//! a guard that restores the previous one when dropped, so nested scopes nest. Futures carry
//! a context across `.await` points and onto other tasks with [`FutureExt::with_context`] /
//! [`FutureExt::with_current_context`]:
//!
//! ```
//! use otlp_sdk::context::{Context, FutureExt};
//! # async fn work() {}
//! # fn spawn<F: std::future::Future>(_f: F) {}
//! // The spawned task sees the caller's current span as its parent.
//! spawn(work().with_current_context());
//! ```

use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use crate::trace::span::SharedSpan;
use crate::trace::span_rc::SpanRc;
use crate::trace::{Span, SpanContext, SpanHandle};

/// An immutable, cheaply cloned bag of execution-scoped values: the active span and typed
/// entries such as baggage.
#[derive(Clone, Default)]
pub struct Context {
    pub(crate) span: Option<SpanRc<SharedSpan>>,
    values: Option<Arc<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>>,
}

thread_local! {
    static CURRENT: RefCell<Context> = RefCell::new(Context::default());
}

impl Context {
    /// An empty context: no span, no value.
    pub fn new() -> Self {
        Context::default()
    }

    /// A clone of this thread's current context.
    pub fn current() -> Self {
        Self::map_current(Context::clone)
    }

    /// Runs `f` on this thread's current context without cloning it.
    #[inline]
    pub fn map_current<T>(f: impl FnOnce(&Context) -> T) -> T {
        let mut f = Some(f);
        let res = CURRENT.try_with(|c| match c.try_borrow() {
            Ok(cx) => f.take().map(|f| f(&cx)),
            Err(_) => None,
        });
        match (res, f) {
            (Ok(Some(v)), _) => v,
            (_, Some(f)) => f(&Context::default()),
            // Unreachable: `f` is only taken when it ran and produced a value.
            (_, None) => unreachable!("map_current: closure consumed without a result"),
        }
    }

    /// A copy of this context whose active span is `span`.
    pub fn with_span(&self, span: Span) -> Self {
        Context {
            span: Some(SpanRc::new(SharedSpan::new(span))),
            values: self.values.clone(),
        }
    }

    pub(crate) fn with_shared_span(&self, span: SpanRc<SharedSpan>) -> Self {
        Context {
            span: Some(span),
            values: self.values.clone(),
        }
    }

    /// A copy of this context whose active span is a remote (or otherwise non-recording)
    /// span context, e.g. one extracted from a `traceparent` header. The next span started in
    /// the returned context becomes its child.
    pub fn with_remote_span_context(&self, span_context: SpanContext) -> Self {
        self.with_span(Span::non_recording(span_context))
    }

    /// The active span of this context (a non-recording, invalid one when there is none).
    pub fn span(&self) -> SpanHandle {
        SpanHandle::new(self.span.clone())
    }

    /// `true` when this context has an active span.
    pub fn has_active_span(&self) -> bool {
        self.span.is_some()
    }

    /// The span context of the active span ([`SpanContext::INVALID`] when there is none).
    pub fn span_context(&self) -> &SpanContext {
        match &self.span {
            Some(s) => s.span_context(),
            None => &SpanContext::INVALID,
        }
    }

    /// A copy of this context with `value` stored under its type (replacing any previous one).
    pub fn with_value<T: Any + Send + Sync>(&self, value: T) -> Self {
        let mut map = self.values.as_deref().cloned().unwrap_or_default();
        map.insert(TypeId::of::<T>(), Arc::new(value));
        Context {
            span: self.span.clone(),
            values: Some(Arc::new(map)),
        }
    }

    /// The value of type `T`, if one was stored.
    pub fn get<T: Any + Send + Sync>(&self) -> Option<&T> {
        self.values
            .as_ref()?
            .get(&TypeId::of::<T>())?
            .downcast_ref::<T>()
    }

    /// Makes this context current on this thread until the returned guard is dropped, which
    /// restores the previous one.
    pub fn attach(self) -> ContextGuard {
        let prev = CURRENT
            .try_with(|c| {
                c.try_borrow_mut()
                    .ok()
                    .map(|mut cur| std::mem::replace(&mut *cur, self))
            })
            .ok()
            .flatten();
        ContextGuard {
            prev,
            _not_send: PhantomData,
        }
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("span", self.span_context())
            .field("values", &self.values.as_ref().map_or(0, |v| v.len()))
            .finish()
    }
}

/// Restores the previously current context when dropped. Not `Send`: a guard belongs to the
/// thread that attached it.
#[must_use = "the context is detached as soon as the guard is dropped"]
pub struct ContextGuard {
    prev: Option<Context>,
    _not_send: PhantomData<*const ()>,
}

impl ContextGuard {
    /// Restores the previous context now and returns the one this guard attached (or
    /// whatever was current in its place).
    pub(crate) fn detach(mut self) -> Option<Context> {
        let prev = self.prev.take()?;
        CURRENT
            .try_with(|c| {
                c.try_borrow_mut()
                    .ok()
                    .map(|mut cur| std::mem::replace(&mut *cur, prev))
            })
            .ok()
            .flatten()
    }
}

impl Drop for ContextGuard {
    fn drop(&mut self) {
        if let Some(prev) = self.prev.take() {
            let _ = CURRENT.try_with(|c| {
                if let Ok(mut cur) = c.try_borrow_mut() {
                    // Drop the detached context after releasing the borrow: dropping the last
                    // handle of a span ends it, and ending must be able to read the context.
                    let detached = std::mem::replace(&mut *cur, prev);
                    drop(cur);
                    drop(detached);
                }
            });
        }
    }
}

impl fmt::Debug for ContextGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ContextGuard")
    }
}

/// Carries a [`Context`] with a future: the context is current while the future is polled,
/// so spans started inside it (even across `.await` points and on other threads) get the
/// right parent, and the context never leaks into other tasks.
pub trait FutureExt: Sized {
    /// Polls `self` with `cx` as the current context.
    fn with_context(self, cx: Context) -> WithContext<Self> {
        WithContext { inner: self, cx }
    }

    /// Polls `self` with the caller's current context (captured now).
    fn with_current_context(self) -> WithContext<Self> {
        self.with_context(Context::current())
    }
}

impl<F: Future> FutureExt for F {}

pin_project_lite::pin_project! {
    /// A future polled with a context attached; see [`FutureExt`].
    #[derive(Debug)]
    pub struct WithContext<F> {
        #[pin]
        inner: F,
        cx: Context,
    }
}

impl<F: Future> Future for WithContext<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _guard = this.cx.clone().attach();
        this.inner.poll(task)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Tag(u32);

    #[test]
    fn attach_and_restore_nest() {
        assert!(Context::current().get::<Tag>().is_none());
        let g1 = Context::new().with_value(Tag(1)).attach();
        assert_eq!(Context::current().get::<Tag>(), Some(&Tag(1)));
        {
            let _g2 = Context::current().with_value(Tag(2)).attach();
            assert_eq!(Context::current().get::<Tag>(), Some(&Tag(2)));
        }
        assert_eq!(Context::current().get::<Tag>(), Some(&Tag(1)));
        drop(g1);
        assert!(Context::current().get::<Tag>().is_none());
    }
}
