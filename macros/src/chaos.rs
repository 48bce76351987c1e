//! `#[chaos]`: parse the options and the function, hand it to the point.
//!
//! The function keeps its attributes and signature. Its body goes into an
//! invocation of `mischief::__point!`, a `macro_rules!` macro of `mischief`
//! that holds the point's code: for a plain `fn`, the whole body (which the
//! point wraps in a closure, so the off path needs no stack frame); for an
//! `async fn`, and a plain one whose body cannot move into a closure, one
//! statement inserted before the body. The compile-time off switch
//! (`--cfg mischief_off`) is decided there, in `mischief`, so it always
//! agrees with `mischief::compiled_in()`.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Expr, Ident, ItemFn, LitStr, ReturnType, Token, Type};

const USAGE: &str = "expected `name = \"...\"`, `chaos = <handle>`, `delay_only` or `crate = <path>`";

/// The attribute's options.
#[derive(Default)]
struct Options {
    name: Option<LitStr>,
    chaos: Option<Expr>,
    delay_only: Option<Ident>,
    /// Where mischief is, when not at `::mischief` (renamed, or re-exported).
    krate: Option<syn::Path>,
}

impl Parse for Options {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut options = Options::default();
        while !input.is_empty() {
            if !input.peek(Ident::peek_any) {
                return Err(input.error(format!("unexpected token in #[chaos(...)]: {USAGE}")));
            }
            let key = input.call(Ident::parse_any)?;
            let duplicate = || syn::Error::new(key.span(), format!("duplicate option `{key}`"));
            match key.to_string().as_str() {
                "name" => {
                    if options.name.is_some() {
                        return Err(duplicate());
                    }
                    value_sign(input, &key)?;
                    if !input.peek(LitStr) {
                        return Err(input.error("expected a string literal, e.g. `name = \"payments.charge\"`"));
                    }
                    let name: LitStr = input.parse()?;
                    check_name(&name)?;
                    options.name = Some(name);
                }
                "chaos" => {
                    if options.chaos.is_some() {
                        return Err(duplicate());
                    }
                    value_sign(input, &key)?;
                    options.chaos = Some(input.parse()?);
                }
                "delay_only" => {
                    if options.delay_only.is_some() {
                        return Err(duplicate());
                    }
                    if input.peek(Token![=]) {
                        return Err(input.error("`delay_only` is a flag and takes no value"));
                    }
                    options.delay_only = Some(key);
                }
                "crate" => {
                    if options.krate.is_some() {
                        return Err(duplicate());
                    }
                    value_sign(input, &key)?;
                    options.krate = Some(input.call(syn::Path::parse_mod_style)?);
                }
                _ => return Err(syn::Error::new(key.span(), format!("unknown option `{key}`: {USAGE}"))),
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(options)
    }
}

/// The `=` after an option that takes a value.
fn value_sign(input: ParseStream<'_>, key: &Ident) -> syn::Result<()> {
    if !input.peek(Token![=]) {
        return Err(syn::Error::new(key.span(), format!("option `{key}` needs a value: `{key} = ...`")));
    }
    input.parse::<Token![=]>().map(drop)
}

/// The rules on point names that the engine would otherwise only find at
/// run time.
fn check_name(name: &LitStr) -> syn::Result<()> {
    let value = name.value();
    if value.trim().is_empty() {
        return Err(syn::Error::new(name.span(), "the point name must not be empty"));
    }
    if value.chars().any(char::is_control) {
        return Err(syn::Error::new(name.span(), "the point name must not contain control characters"));
    }
    Ok(())
}

/// Expands `#[chaos(attr)] item`.
pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let options: Options = syn::parse2(attr)?;
    let mut function = parse_function(item)?;
    if let Some(constness) = &function.sig.constness {
        return Err(syn::Error::new(
            constness.span(),
            "#[chaos] cannot be used on a `const fn`: a fault point is decided at run time",
        ));
    }

    // A plain function that returns a future (what `#[async_trait]` makes
    // of every method, before this attribute sees it; a `Service::call`):
    // the point would hold the thread that creates the future, with a
    // blocking sleep, and never the future itself.
    if function.sig.asyncness.is_none()
        && let ReturnType::Type(_, ty) = &function.sig.output
        && returns_future(ty)
    {
        return Err(syn::Error::new(
            ty.span(),
            "#[chaos] cannot hold a future this function returns (it would block the thread that creates it); \
             write `chaos_point!(async \"name\");` first in the async code instead (in an #[async_trait] method: \
             first in the method's body)",
        ));
    }

    // The default path takes the span it is used at, so that an error in
    // the expansion (a missing `From<InjectedFault>`) points there.
    let krate_at = |span: Span| {
        options.krate.as_ref().map_or_else(|| quote_spanned!(span=> ::mischief), ToTokens::to_token_stream)
    };
    let krate = krate_at(Span::call_site());
    let sig = &function.sig;
    let name = match &options.name {
        Some(name) => name.to_token_stream(),
        None => {
            let ident = sig.ident.unraw().to_string();
            quote!(::core::concat!(::core::module_path!(), "::", #ident))
        }
    };
    // `[global]`, or `[chaos = &(expr)]`: `&(expr)` coerces to `&Chaos` from
    // `Chaos`, `&Chaos`, and through `Deref` (`LazyLock<Chaos>`, `Arc<Chaos>`).
    let given = options.chaos.as_ref().map(|expr| quote_spanned!(expr.span()=> &(#expr)));
    let handle = match &given {
        Some(expr) => quote!([chaos = #expr]),
        None => quote!([global]),
    };
    let fallible = match &sig.output {
        ReturnType::Type(_, ty) if options.delay_only.is_none() && returns_result(ty) => Some(ty),
        _ => None,
    };

    if sig.asyncness.is_none() && whole_body_fits(&function) {
        // The body moves into a closure that the point runs (see `__point!`):
        // the function's fast path then needs no stack frame for the point.
        let ret = match &sig.output {
            ReturnType::Type(_, ty) => ty.to_token_stream(),
            ReturnType::Default => quote!(()),
        };
        // A handle taken from arguments that the body takes (`self.chaos` in
        // a `&mut self` method) is cloned first.
        let handle = match (&options.chaos, &given) {
            (Some(expr), Some(given)) if needs_owned_handle(expr, sig) => quote!([owned = #given]),
            _ => handle,
        };
        let (ctor, fail) = match fallible {
            // Spanned on the return type: a missing `E: From<InjectedFault>`
            // is reported there.
            Some(ty) => {
                let krate = krate_at(ty.span());
                (quote!(new), quote_spanned!(ty.span()=> ::core::option::Option::Some(#krate::__private::fail)))
            }
            None => (quote!(delay_only), quote!(::core::option::Option::None)),
        };
        let stmts = std::mem::take(&mut function.block.stmts);
        let (gather, rebind) = rebind_arguments(&mut function.sig, options.chaos.as_ref());
        let point = quote!(#krate::__point!(sync_fn, #ctor, #handle, #name, #ret, { #rebind #(#stmts)* }, #fail));
        if !gather.is_empty() {
            function.block.stmts.push(syn::parse2(gather)?);
        }
        function.block.stmts.push(syn::Stmt::Expr(syn::parse2(point)?, None));
        return Ok(function.into_token_stream());
    }

    // `async fn` (and the rare plain function whose body cannot move into a
    // closure): the point is a statement before the body.
    let point = match (fallible, sig.asyncness.is_some()) {
        (Some(ty), asyncness) => {
            let mode = if asyncness { quote!(async) } else { quote!(sync) };
            let krate_ty = krate_at(ty.span());
            let fail = quote_spanned!(ty.span()=> |__mischief_fault| #krate_ty::__private::fail(__mischief_fault));
            quote!(#krate::__point!(#mode, #handle, #name, #fail);)
        }
        (None, asyncness) => {
            let mode = if asyncness { quote!(async_delay) } else { quote!(sync_delay) };
            quote!(#krate::__point!(#mode, #handle, #name);)
        }
    };
    function.block.stmts.insert(0, syn::parse2(point)?);
    Ok(function.into_token_stream())
}

/// Keeps the order a function drops its arguments in (the reverse of
/// their declaration, after the body's locals) once its body is in a
/// closure, where they would be dropped in the order the body first uses
/// them, and those it does not use after the others.
///
/// Returns two statements. The first, before the closure, gathers the
/// arguments bound to a plain name in a tuple, last first:
/// `let __args = (c, b, a,);`. The second, first in the closure, takes the
/// tuple whole (so the closure captures it whole) and binds them again in
/// their order: `let __args = __args; let (a, mut b, c,) = (__args.2,
/// __args.1, __args.0,);`. A body that runs drops them as locals, c, b, a;
/// a closure that never runs (the point failed the call) drops the tuple,
/// field by field: c, b, a too. A `mut` moves from the signature to the new
/// binding.
///
/// Left as they are: `self` (captured whole, dropped after the rest, as a
/// first argument is), destructuring patterns, shared references (nothing
/// to drop), arguments with attributes (`#[cfg]` may remove them, an
/// `#[allow]` would not follow them), and the arguments the `chaos` option
/// names (the handle is taken from them outside the closure).
fn rebind_arguments(sig: &mut syn::Signature, chaos: Option<&Expr>) -> (TokenStream, TokenStream) {
    let mut in_handle = Vec::new();
    if let Some(expr) = chaos {
        idents(expr.to_token_stream(), &mut in_handle);
    }
    let mut bound = Vec::new();
    let mut moved = Vec::new();
    for input in &mut sig.inputs {
        if let syn::FnArg::Typed(arg) = input
            && arg.attrs.is_empty()
            && !matches!(&*arg.ty, Type::Reference(r) if r.mutability.is_none())
            && let syn::Pat::Ident(p) = &mut *arg.pat
            && p.attrs.is_empty()
            && p.by_ref.is_none()
            && p.subpat.is_none()
            && !in_handle.contains(&p.ident.unraw().to_string())
        {
            let ident = &p.ident;
            let mutability = p.mutability.take();
            bound.push(quote!(#mutability #ident));
            moved.push(quote!(#ident));
        }
    }
    if bound.is_empty() {
        return (TokenStream::new(), TokenStream::new());
    }
    // Hygienic: the body cannot name it.
    let args = Ident::new("__mischief_args", Span::mixed_site());
    let last = bound.len() - 1;
    let fields = (0..bound.len()).map(|i| syn::Index::from(last - i));
    moved.reverse();
    (
        quote!(#[allow(clippy::used_underscore_binding)] let #args = (#(#moved,)*);),
        quote!(let #args = #args; let (#(#bound,)*) = (#(#args.#fields,)*);),
    )
}

/// Can a plain function's body move into a closure unchanged? Not when the
/// closure's return type cannot be written (`impl Trait`, `!`), and not
/// under `#[track_caller]` (the closure would be the caller).
fn whole_body_fits(function: &ItemFn) -> bool {
    fn mentions_impl(tokens: TokenStream) -> bool {
        tokens.into_iter().any(|t| match t {
            proc_macro2::TokenTree::Ident(i) => i == "impl",
            proc_macro2::TokenTree::Group(g) => mentions_impl(g.stream()),
            _ => false,
        })
    }
    let output_ok = match &function.sig.output {
        ReturnType::Default => true,
        ReturnType::Type(_, ty) => !matches!(**ty, Type::Never(_)) && !mentions_impl(ty.to_token_stream()),
    };
    output_ok && !function.attrs.iter().any(|a| a.path().is_ident("track_caller"))
}

/// Every identifier in `tokens`, raw ones without their `r#`, into `out`.
fn idents(tokens: TokenStream, out: &mut Vec<String>) {
    for t in tokens {
        match t {
            proc_macro2::TokenTree::Ident(i) => out.push(i.unraw().to_string()),
            proc_macro2::TokenTree::Group(g) => idents(g.stream(), out),
            _ => {}
        }
    }
}

/// Must the handle be cloned before the body takes the arguments? Yes when
/// `expr` names an argument the closure holding the body would move or
/// borrow mutably: `self` unless the receiver is `&self`, and any argument
/// not of a shared reference type. A handle reached through `&self` or a
/// `&Chaos` argument is only borrowed. (Names are compared as identifiers;
/// a false positive only costs a clone.)
fn needs_owned_handle(expr: &Expr, sig: &syn::Signature) -> bool {
    let shared_ref = |ty: &Type| matches!(ty, Type::Reference(r) if r.mutability.is_none());
    let mut taken = Vec::new();
    for input in &sig.inputs {
        match input {
            syn::FnArg::Receiver(r) if shared_ref(&r.ty) => {}
            syn::FnArg::Receiver(_) => taken.push("self".to_owned()),
            syn::FnArg::Typed(arg) => match &*arg.pat {
                syn::Pat::Ident(p) if shared_ref(&arg.ty) && p.by_ref.is_none() && p.subpat.is_none() => {}
                pat => idents(pat.to_token_stream(), &mut taken),
            },
        }
    }
    let mut used = Vec::new();
    idents(expr.to_token_stream(), &mut used);
    used.iter().any(|u| taken.contains(u))
}

/// The item as a function with a body, or an error saying why it is not one.
fn parse_function(item: TokenStream) -> syn::Result<ItemFn> {
    let not_a_function = match syn::parse2::<ItemFn>(item.clone()) {
        Ok(function) => return Ok(function),
        Err(e) => e,
    };
    if let Ok(method) = syn::parse2::<syn::TraitItemFn>(item.clone())
        && method.default.is_none()
    {
        // A trait's method or a function of an `extern` block: the same
        // syntax.
        return Err(syn::Error::new(
            method.sig.span(),
            "#[chaos] needs a function body; put it on the implementations of this method \
             (a function in an `extern` block cannot have one)",
        ));
    }
    // Some other item: say what the attribute is for. A function that syn
    // could not read: say why, rather than that it is not one.
    if syn::parse2::<syn::Item>(item).is_ok() {
        return Err(syn::Error::new(Span::call_site(), "#[chaos] can only be used on functions (`fn` and `async fn`)"));
    }
    Err(not_a_function)
}

/// Does the written return type name a future: `impl Future<..>`,
/// `Pin<Box<dyn Future<..>>>`, `BoxFuture<..>`, `Self::Future`? Any type
/// named `...Future` counts.
fn returns_future(ty: &Type) -> bool {
    fn any_future(tokens: TokenStream) -> bool {
        tokens.into_iter().any(|t| match t {
            proc_macro2::TokenTree::Ident(i) => i.unraw().to_string().ends_with("Future"),
            proc_macro2::TokenTree::Group(g) => any_future(g.stream()),
            _ => false,
        })
    }
    any_future(ty.to_token_stream())
}

/// Does the written return type name a `Result` (`Result<T, E>`,
/// `io::Result<T>`, `anyhow::Result<T>`, an alias called `Result`)?
fn returns_result(ty: &Type) -> bool {
    match ty {
        Type::Path(path) => path.qself.is_none() && path.path.segments.last().is_some_and(|s| s.ident == "Result"),
        Type::Paren(inner) => returns_result(&inner.elem),
        Type::Group(inner) => returns_result(&inner.elem),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(tokens: TokenStream) -> syn::Result<Options> {
        syn::parse2(tokens)
    }

    fn error(tokens: TokenStream) -> String {
        options(tokens).err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn options_parse() {
        let o = options(quote!(name = "payments.charge", chaos = crate::CHAOS, delay_only)).unwrap();
        assert_eq!(o.name.unwrap().value(), "payments.charge");
        assert!(o.chaos.is_some() && o.delay_only.is_some());
        let o = options(quote!(chaos = self.chaos,)).unwrap();
        assert!(o.name.is_none() && o.chaos.is_some());
        assert!(options(quote!()).unwrap().chaos.is_none());
        let o = options(quote!(crate = platform::faults)).unwrap();
        assert_eq!(o.krate.unwrap().to_token_stream().to_string(), "platform :: faults");
    }

    #[test]
    fn bad_options_say_what_is_wrong() {
        assert_eq!(error(quote!(nmae = "x")), format!("unknown option `nmae`: {USAGE}"));
        assert_eq!(error(quote!(name = "a", name = "b")), "duplicate option `name`");
        assert_eq!(error(quote!(name = payments)), "expected a string literal, e.g. `name = \"payments.charge\"`");
        assert_eq!(error(quote!(name)), "option `name` needs a value: `name = ...`");
        assert_eq!(error(quote!(name = "")), "the point name must not be empty");
        assert_eq!(error(quote!(delay_only = true)), "`delay_only` is a flag and takes no value");
        assert!(error(quote!("payments")).starts_with("unexpected token"));
    }

    #[test]
    fn handles_from_taken_arguments_are_cloned() {
        let owned = |sig: TokenStream, expr: TokenStream| {
            let sig: syn::Signature = syn::parse2(sig).unwrap();
            needs_owned_handle(&syn::parse2(expr).unwrap(), &sig)
        };
        assert!(!owned(quote!(fn get(&self)), quote!(self.chaos)));
        assert!(!owned(quote!(fn get(self: &Self)), quote!(self.chaos)));
        assert!(owned(quote!(fn bump(&mut self)), quote!(self.chaos)));
        assert!(owned(quote!(fn into(self)), quote!(self.chaos)));
        assert!(!owned(quote!(fn f(chaos: &Chaos)), quote!(chaos)));
        assert!(owned(quote!(fn f(chaos: Chaos)), quote!(chaos)));
        assert!(owned(quote!(fn f(chaos: &mut Chaos)), quote!(chaos)));
        assert!(owned(quote!(fn f((chaos, n): (&Chaos, u8))), quote!(chaos)));
        assert!(!owned(quote!(fn f(&mut self, n: u8)), quote!(crate::CHAOS)));
    }

    #[test]
    fn results_are_recognized_by_their_last_segment() {
        let is = |ty: TokenStream| returns_result(&syn::parse2(ty).unwrap());
        assert!(is(quote!(Result<u32, MyError>)));
        assert!(is(quote!(std::io::Result<()>)));
        assert!(is(quote!(::anyhow::Result<String>)));
        assert!(is(quote!((Result<(), E>))));
        assert!(!is(quote!(Option<u32>)));
        assert!(!is(quote!(ResultSet)));
        assert!(!is(quote!(impl Future<Output = Result<(), E>>)));
        assert!(!is(quote!(<T as Trait>::Result)));
    }

    #[test]
    fn futures_are_recognized_by_name() {
        let is = |ty: TokenStream| returns_future(&syn::parse2(ty).unwrap());
        assert!(is(quote!(impl Future<Output = Result<(), E>>)));
        assert!(is(quote!(impl std::future::Future<Output = ()> + Send)));
        assert!(is(quote!(Pin<Box<dyn Future<Output = u8> + Send + 'async_trait>>)));
        assert!(is(quote!(BoxFuture<'static, ()>)));
        assert!(is(quote!(Self::Future)));
        assert!(!is(quote!(Result<u32, MyError>)));
        assert!(!is(quote!(Vec<Futures>)));
    }
}
