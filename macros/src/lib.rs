//! The procedural macro behind `mischief`'s `#[chaos]` attribute.
//!
//! Use it through `mischief` (`mischief::chaos`, feature `macros`, on by
//! default), whose `point` module documents fault points in full. The code
//! this crate generates calls hidden items of `mischief`, so the two crates
//! are released together and this one has no stable API of its own.

use proc_macro::TokenStream;

mod chaos;

/// Makes a function a fault point: the engine may delay it or fail it
/// (with `Err(E::from(fault))`) according to the rules of a `mischief::Chaos`
/// handle.
///
/// ```
/// use mischief::{InjectedFault, chaos};
///
/// #[derive(Debug)]
/// enum PaymentError {
///     Declined,
///     Injected(InjectedFault),
/// }
///
/// impl From<InjectedFault> for PaymentError {
///     fn from(fault: InjectedFault) -> Self {
///         PaymentError::Injected(fault)
///     }
/// }
///
/// /// Charges an order. Rules select this point as `payments.charge`.
/// #[chaos(name = "payments.charge")]
/// fn charge(cents: u64) -> Result<u64, PaymentError> {
///     if cents == 0 {
///         return Err(PaymentError::Declined);
///     }
///     Ok(cents)
/// }
///
/// assert_eq!(charge(1250).unwrap(), 1250); // chaos is off by default
/// ```
///
/// Options, all optional, separated by commas:
///
/// - `name = "payments.charge"`: the point's name, which rules match with
///   `match.name` (exact or glob). Default: `module_path!()::fn_name`.
/// - `chaos = <expr>`: the handle, as an expression of type `Chaos`, `&Chaos`
///   or anything that dereferences to it (a `static LazyLock<Chaos>`, an
///   `Arc<Chaos>`, `self.chaos`). Default: `mischief::Chaos::global()`.
/// - `delay_only`: never fail the call, even if it returns a `Result`.
/// - `crate = <path>`: where mischief is, when not at `::mischief` (a
///   dependency renamed in `Cargo.toml`, or mischief re-exported by another
///   crate). Default: `::mischief`.
///
/// A function whose written return type is a `Result` (`Result<T, E>`,
/// `io::Result<T>`, any path ending in `Result`) needs
/// `E: From<mischief::InjectedFault>` and may be delayed or failed; any other
/// function is only delayed, and a rule that would fail it counts the call
/// as `skipped`. An `async fn` waits with `tokio::time::sleep`, a plain `fn`
/// with `std::thread::sleep`. See the `mischief::point` module for the
/// details, and for `chaos_point!`, the same inside a function body.
#[proc_macro_attribute]
pub fn chaos(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    match chaos::expand(attr.into(), item.clone()) {
        Ok(tokens) => tokens.into(),
        // Keep the function as written, so its callers do not add errors of
        // their own to the one that matters.
        Err(err) => {
            let err = err.into_compile_error();
            quote::quote!(#err #item).into()
        }
    }
}
