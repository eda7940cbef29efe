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

/// A thread's current context, and what it needs to handle guards dropped out of order.
///
/// Each guard keeps the context it replaced and its depth (1 for the oldest live guard).
/// Guards dropped in order (the usual case) just put their context back. A guard dropped
/// while a newer one is alive leaves the current context alone and files the context it
/// replaced under its depth in `graves`; when the newer guard goes, it skips the dead guard's
/// context and restores the one filed instead.
struct Stack {
    current: Context,
    depth: usize,
    graves: Vec<(usize, Context)>,
}

thread_local! {
    static CURRENT: RefCell<Stack> = const {
        RefCell::new(Stack {
            current: Context {
                span: None,
                values: None,
            },
            depth: 0,
            graves: Vec::new(),
        })
    };
}

impl Stack {
    /// Makes `cx` current; returns the context it replaces and the new guard's depth.
    #[inline]
    fn push(&mut self, cx: Context) -> (Context, usize) {
        self.depth += 1;
        (std::mem::replace(&mut self.current, cx), self.depth)
    }

    /// [`Stack::push`] of the current context with `span` as its active span, changing only
    /// the span field in place.
    #[inline(always)]
    fn push_span(&mut self, span: SpanRc<SharedSpan>) -> (Context, usize) {
        self.depth += 1;
        let values = self.current.values.clone();
        let prev = self.current.span.replace(span);
        (Context { span: prev, values }, self.depth)
    }

    /// The guard at `depth`, which replaced `prev`, is dropped, and it is not the simple
    /// case (the newest guard, with no dead guard filed). Returns the context the guard
    /// attached when it was current, `None` when a newer guard is alive; and the contexts of
    /// dead guards it skipped, for the caller to drop outside the borrow.
    #[cold]
    #[inline(never)]
    fn pop_slow(&mut self, depth: usize, prev: Context) -> (Option<Context>, Vec<Context>) {
        let mut skipped = Vec::new();
        if depth != self.depth {
            if depth < self.depth {
                self.graves.push((depth, prev));
            } else {
                skipped.push(prev);
            }
            return (None, skipped);
        }
        let mut restore = prev;
        let mut depth = depth - 1;
        // The guards just below may be dead: skip their contexts.
        while let Some(i) = self.graves.iter().position(|(d, _)| *d == depth) {
            skipped.push(std::mem::replace(
                &mut restore,
                self.graves.swap_remove(i).1,
            ));
            depth -= 1;
        }
        self.depth = depth;
        (Some(std::mem::replace(&mut self.current, restore)), skipped)
    }
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
            Ok(stack) => f.take().map(|f| f(&stack.current)),
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

    /// Makes a copy of the current context with `span` as its active span current until the
    /// guard drops: what [`Context::attach`] of such a copy does, in one access to the
    /// thread's context.
    #[inline]
    pub(crate) fn attach_shared_span(span: SpanRc<SharedSpan>) -> ContextGuard {
        let mut span = Some(span);
        let saved = CURRENT
            .try_with(|c| {
                let mut stack = c.try_borrow_mut().ok()?;
                Some(stack.push_span(span.take()?))
            })
            .ok()
            .flatten();
        ContextGuard {
            saved,
            _not_send: PhantomData,
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
    /// restores the previous one. Guards dropped out of order are handled: the current
    /// context is always the one of the newest guard still alive.
    #[inline]
    pub fn attach(self) -> ContextGuard {
        let saved = CURRENT
            .try_with(|c| c.try_borrow_mut().ok().map(|mut stack| stack.push(self)))
            .ok()
            .flatten();
        ContextGuard {
            saved,
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
///
/// Guards are meant to be dropped in reverse order of attaching (as scopes do), but need not
/// be: a guard dropped while a newer one is alive leaves the current context to the newer
/// one, and when that one goes, the context from before both comes back.
#[must_use = "the context is detached as soon as the guard is dropped"]
pub struct ContextGuard {
    /// The context this guard replaced and its depth; `None` when attaching failed (the
    /// thread is exiting) or once detached.
    saved: Option<(Context, usize)>,
    _not_send: PhantomData<*const ()>,
}

/// Detaches the guard at `depth`, which replaced `prev`: returns the context it attached
/// when it was current.
#[inline]
fn pop(prev: Context, depth: usize) -> Option<Context> {
    CURRENT
        .try_with(move |c| {
            let Ok(mut stack) = c.try_borrow_mut() else {
                return None;
            };
            if depth == stack.depth && stack.graves.is_empty() {
                // The newest guard, nothing filed: put its context back.
                stack.depth -= 1;
                return Some(std::mem::replace(&mut stack.current, prev));
            }
            let (out, skipped) = stack.pop_slow(depth, prev);
            drop(stack);
            drop(skipped);
            out
        })
        .ok()
        .flatten()
}

impl ContextGuard {
    /// Detaches now and returns the context this guard attached, when it was current.
    pub(crate) fn detach(mut self) -> Option<Context> {
        let (prev, depth) = self.saved.take()?;
        pop(prev, depth)
    }
}

impl Drop for ContextGuard {
    fn drop(&mut self) {
        if let Some((prev, depth)) = self.saved.take() {
            // Dropped here, after the borrow is released: dropping the last handle of a span
            // ends it, and ending must be able to read the context.
            drop(pop(prev, depth));
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

    fn current_tag() -> Option<u32> {
        Context::map_current(|cx| cx.get::<Tag>().map(|t| t.0))
    }

    #[test]
    fn guards_dropped_out_of_order_restore_the_right_context() {
        std::thread::spawn(|| {
            let g1 = Context::new().with_value(Tag(1)).attach();
            let g2 = Context::new().with_value(Tag(2)).attach();
            let g3 = Context::new().with_value(Tag(3)).attach();
            // The oldest goes first: the newest guard's context stays current.
            drop(g1);
            assert_eq!(current_tag(), Some(3));
            // A guard in the middle, detached while a newer one is current: nothing to give
            // back, and the current context stays.
            assert!(g2.detach().is_none());
            assert_eq!(current_tag(), Some(3));
            // A new guard on top of the gaps, then the rest in order.
            let g4 = Context::new().with_value(Tag(4)).attach();
            assert_eq!(current_tag(), Some(4));
            drop(g4);
            assert_eq!(current_tag(), Some(3));
            drop(g3);
            // Every guard is gone: the context from before them all is back, and nothing is
            // left filed.
            assert_eq!(current_tag(), None);
            CURRENT.with(|c| {
                let stack = c.borrow();
                assert_eq!(stack.depth, 0);
                assert!(stack.graves.is_empty());
            });
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_newer_guard_dropped_after_an_older_one_skips_it() {
        std::thread::spawn(|| {
            let base = Context::new().with_value(Tag(0)).attach();
            let g1 = Context::new().with_value(Tag(1)).attach();
            let g2 = Context::new().with_value(Tag(2)).attach();
            drop(g1);
            assert_eq!(current_tag(), Some(2));
            drop(g2);
            // Not Tag(1): its guard is gone.
            assert_eq!(current_tag(), Some(0));
            drop(base);
            assert_eq!(current_tag(), None);
        })
        .join()
        .unwrap();
    }
}
