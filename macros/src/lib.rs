//! The `#[traced]` attribute of otlp-sdk: the Rust form of the Python guide's
//! `@tracer.start_as_current_span("span")` decorator. Use it through `otlp_sdk::traced`.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::{parse_macro_input, Expr, ItemFn, LitStr, Token};

struct Args {
    name: Option<LitStr>,
    tracer: Option<Expr>,
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Args {
            name: None,
            tracer: None,
        };
        if input.peek(LitStr) {
            args.name = Some(input.parse()?);
            if input.peek(Token![,]) {
                input.parse::<Token![,]>()?;
            }
        }
        while !input.is_empty() {
            let key: syn::Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            match key.to_string().as_str() {
                "name" => args.name = Some(input.parse()?),
                "tracer" => args.tracer = Some(input.parse()?),
                other => {
                    return Err(syn::Error::new(
                        key.span(),
                        format!("unknown argument `{other}`; expected `name` or `tracer`"),
                    ))
                }
            }
            if input.peek(Token![,]) {
                input.parse::<Token![,]>()?;
            }
        }
        Ok(args)
    }
}

/// Runs the function inside a new current span, like the Python guide's
/// `@tracer.start_as_current_span("span")` decorator. Works on `fn` and `async fn`.
///
/// - `#[traced]`: the span is named after the function;
/// - `#[traced("span")]`: an explicit span name;
/// - `#[traced("span", tracer = "my.tracer.name")]`: the global tracer of that scope (default:
///   the package name, `CARGO_PKG_NAME`), or `tracer = some_expr` for any expression giving a
///   `&Tracer`/`Tracer`.
///
/// Inside, `otlp_sdk::trace::get_current_span()` is the new span. For `async fn`, the span is
/// current whenever the future is polled and ends when it completes or is dropped.
///
/// As Python's decorator records an exception, a function returning `Result` that returns
/// an `Err` gets an `exception` event (`exception.type`, `exception.message`: the error's
/// `std::error::Error` chain, else its `Display`, else its `Debug`, else its type name) and
/// the status `Error`; a panic unwinding out of the function does the same.
#[proc_macro_attribute]
pub fn traced(attr: TokenStream, item: TokenStream) -> TokenStream {
    let args = parse_macro_input!(attr as Args);
    let func = parse_macro_input!(item as ItemFn);
    expand(args, func).into()
}

fn expand(args: Args, func: ItemFn) -> TokenStream2 {
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = func;
    let name = match args.name {
        Some(n) => quote!(#n),
        None => {
            let s = sig.ident.to_string();
            quote!(#s)
        }
    };
    let tracer = match args.tracer {
        None => quote!(::otlp_sdk::global::tracer(env!("CARGO_PKG_NAME"))),
        Some(Expr::Lit(l)) => quote!(::otlp_sdk::global::tracer(#l)),
        Some(e) => quote!((#e).clone()),
    };
    let ret_ty = match &sig.output {
        syn::ReturnType::Default => None,
        syn::ReturnType::Type(_, t) => Some(&**t),
    };
    // `-> Result<..>` (any path ending in `Result`): an `Err` is recorded on the span.
    let returns_result = ret_ty.is_some_and(|t| match t {
        syn::Type::Path(p) => p.path.segments.last().is_some_and(|s| s.ident == "Result"),
        _ => false,
    });
    // The body runs in a closure (or, async, an inner async block) so that `?` and `return`
    // come back to where an `Err` is recorded, when the result can be named (no `impl`) and
    // borrows nothing (no `&` or lifetime: a borrow could not leave the closure). Otherwise
    // only an `Err` that is the body's value is seen.
    let wrap = returns_result && ret_ty.is_some_and(|t| !mentions(t, is_impl_or_borrow));
    // The result's type, with `_` for any `impl Trait` in it (which cannot be written
    // there): the error type must be known where the error is described.
    let annotated = match ret_ty {
        Some(t) => {
            let t = infer_impls(t);
            quote!(: #t)
        }
        None => quote!(: ()),
    };
    let record_err = if returns_result {
        quote! {
            if let ::core::result::Result::Err(__otlp_err) = &__otlp_result {
                #[allow(unused_imports)]
                use ::otlp_sdk::__private::{
                    ViaBoxedError as _, ViaDebug as _, ViaDisplay as _, ViaError as _,
                    ViaType as _,
                };
                ::otlp_sdk::__private::record_error(
                    (&&&&::otlp_sdk::__private::ErrWrap(__otlp_err)).otlp_describe(),
                );
            }
        }
    } else {
        quote!()
    };
    let body = match ret_ty {
        Some(_) if wrap && sig.asyncness.is_some() => quote!((async move #block).await),
        Some(t) if wrap => quote!({
            #[allow(clippy::redundant_closure_call)]
            let __otlp_value = (|| -> #t #block)();
            __otlp_value
        }),
        _ => quote!(#block),
    };
    if sig.asyncness.is_some() {
        quote! {
            #(#attrs)* #vis #sig {
                let __otlp_tracer = #tracer;
                let __otlp_cx = ::otlp_sdk::context::Context::current()
                    .with_span(__otlp_tracer.start_span(#name));
                ::otlp_sdk::__private::FutureExt::with_context(
                    async move {
                        // Ends the span when the future finishes or is dropped.
                        let __otlp_end = ::otlp_sdk::__private::EndOnDrop::current();
                        let __otlp_result #annotated = #body;
                        #record_err
                        __otlp_result
                    },
                    __otlp_cx,
                )
                .await
            }
        }
    } else if returns_result {
        quote! {
            #(#attrs)* #vis #sig {
                let __otlp_guard = (#tracer).start_as_current_span(#name);
                let __otlp_result #annotated = #body;
                #record_err
                __otlp_result
            }
        }
    } else {
        quote! {
            #(#attrs)* #vis #sig {
                let __otlp_guard = (#tracer).start_as_current_span(#name);
                #block
            }
        }
    }
}

/// Whether any token of `t`, at any depth, is one `pred` picks.
fn mentions(t: &syn::Type, pred: fn(&proc_macro2::TokenTree) -> bool) -> bool {
    fn scan(ts: proc_macro2::TokenStream, pred: fn(&proc_macro2::TokenTree) -> bool) -> bool {
        ts.into_iter().any(|tt| match &tt {
            proc_macro2::TokenTree::Group(g) => scan(g.stream(), pred),
            _ => pred(&tt),
        })
    }
    scan(quote!(#t), pred)
}

/// `t` with `_` for every `impl Trait` in it.
fn infer_impls(t: &syn::Type) -> syn::Type {
    use syn::visit_mut::VisitMut;
    struct Infer;
    impl VisitMut for Infer {
        fn visit_type_mut(&mut self, t: &mut syn::Type) {
            if let syn::Type::ImplTrait(_) = t {
                *t = syn::Type::Infer(syn::TypeInfer {
                    underscore_token: Default::default(),
                });
            } else {
                syn::visit_mut::visit_type_mut(self, t);
            }
        }
    }
    let mut t = t.clone();
    Infer.visit_type_mut(&mut t);
    t
}

/// `impl` (an `impl Trait` type cannot be written for a variable or a closure's return).
fn is_impl(tt: &proc_macro2::TokenTree) -> bool {
    matches!(tt, proc_macro2::TokenTree::Ident(i) if i == "impl")
}

/// `impl`, `&` or a lifetime's `'`.
fn is_impl_or_borrow(tt: &proc_macro2::TokenTree) -> bool {
    is_impl(tt)
        || matches!(tt, proc_macro2::TokenTree::Punct(p) if p.as_char() == '&' || p.as_char() == '\'')
}
