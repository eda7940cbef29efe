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
///   the crate name), or `tracer = some_expr` for any expression giving a `&Tracer`/`Tracer`.
///
/// Inside, `otlp_sdk::trace::get_current_span()` is the new span. For `async fn`, the span is
/// current whenever the future is polled and ends when it completes or is dropped.
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
    if sig.asyncness.is_some() {
        let ret = match &sig.output {
            syn::ReturnType::Default => quote!(()),
            syn::ReturnType::Type(_, t) => quote!(#t),
        };
        quote! {
            #(#attrs)* #vis #sig {
                let __otlp_tracer = #tracer;
                let __otlp_cx = ::otlp_sdk::context::Context::current()
                    .with_span(__otlp_tracer.start_span(#name));
                ::otlp_sdk::__private::FutureExt::with_context(
                    async move {
                        let __otlp_result: #ret = #block;
                        __otlp_result
                    },
                    __otlp_cx,
                )
                .await
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
