//! Procedural macros for `wasmq-plugin-sdk`.
//!
//! `#[handler]` exists so that a plugin author writes one plain function and
//! never sees the generated WIT bindings: the macro keeps the function as it
//! is (so it can be unit-tested natively) and adds the `Guest` impl and the
//! component export that call it. It checks the signature itself, because a
//! mistake would otherwise surface as a type error deep inside generated code.

mod signature;

use proc_macro::TokenStream;
use quote::quote;
use syn::{ItemFn, parse_macro_input};

/// Turns `fn(Task) -> Result<Output, TaskError>` into the plugin's handler.
///
/// Use it as `#[wasmq_plugin_sdk::handler]` on a function of exactly that
/// shape; the `wasmq-plugin-sdk` crate docs show a complete, compiled plugin.
/// The function may have any name; a plugin has exactly one handler. It must
/// not be `async`, generic, `const` or `unsafe`, and the attribute takes no
/// arguments. A wrong signature is a compile error that quotes the expected
/// one and points at the offending part.
#[proc_macro_attribute]
pub fn handler(attr: TokenStream, item: TokenStream) -> TokenStream {
    let attr = proc_macro2::TokenStream::from(attr);
    if !attr.is_empty() {
        return syn::Error::new_spanned(
            attr,
            "`#[wasmq_plugin_sdk::handler]` takes no arguments: write `#[handler]` alone",
        )
        .into_compile_error()
        .into();
    }
    let function = parse_macro_input!(item as ItemFn);
    if let Err(err) = signature::check(&function.sig) {
        // Keep the function so that the error is the only diagnostic (no
        // knock-on "unused import" warnings).
        let mut out = quote!(#function);
        out.extend(err.into_compile_error());
        return out.into();
    }
    expand(&function).into()
}

/// The function as written, plus the export that calls it.
fn expand(function: &ItemFn) -> proc_macro2::TokenStream {
    let name = &function.sig.ident;
    quote! {
        #function

        #[doc(hidden)]
        struct __WasmqHandler;

        impl ::wasmq_plugin_sdk::__private::Guest for __WasmqHandler {
            fn handle(
                task: ::wasmq_plugin_sdk::__private::WitTask,
            ) -> ::core::result::Result<
                ::wasmq_plugin_sdk::__private::WitOutput,
                ::wasmq_plugin_sdk::__private::WitTaskError,
            > {
                ::wasmq_plugin_sdk::__private::run(task, #name)
            }
        }

        ::wasmq_plugin_sdk::__private::export!(
            __WasmqHandler with_types_in ::wasmq_plugin_sdk::bindings
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    #[test]
    fn expansion_keeps_the_function_and_calls_it() {
        let function: ItemFn = parse_quote! {
            fn send(task: Task) -> Result<Output, TaskError> { Ok(Output::empty()) }
        };
        let out = expand(&function).to_string();
        assert!(out.starts_with("fn send"), "{out}");
        assert!(out.contains("__private :: run (task , send)"), "{out}");
        assert!(out.contains("export !"), "{out}");
    }
}
