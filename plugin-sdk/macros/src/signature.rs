//! The handler signature check.
//!
//! A macro sees tokens, not types, so the check goes by the last path segment
//! of each type: `Task` and `wasmq_plugin_sdk::Task` are both accepted, a type
//! alias is not. The compiler then verifies the real types in the generated
//! call, so a look-alike `Task` from another crate is still caught.

use syn::{FnArg, GenericArgument, PathArguments, ReturnType, Signature, Type};

/// The signature every handler must have, quoted in every error.
pub const EXPECTED: &str = "a wasmq handler must be `fn(Task) -> Result<Output, TaskError>`";

/// Accepts `fn name(task: Task) -> Result<Output, TaskError>`; otherwise an
/// error pointing at the offending part of the signature.
pub fn check(sig: &Signature) -> syn::Result<()> {
    let fail = |tokens: &dyn quote::ToTokens, what: &str| {
        Err(syn::Error::new_spanned(
            tokens,
            format!("{EXPECTED}: {what}"),
        ))
    };
    if let Some(token) = &sig.asyncness {
        return fail(
            token,
            "it cannot be `async` (the host calls it synchronously)",
        );
    }
    if let Some(token) = &sig.unsafety {
        return fail(token, "it cannot be `unsafe`");
    }
    if let Some(token) = &sig.constness {
        return fail(token, "it cannot be `const`");
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return fail(&sig.generics, "it cannot be generic");
    }
    if let Some(variadic) = &sig.variadic {
        return fail(variadic, "it cannot be variadic");
    }
    if sig.inputs.len() != 1 {
        let what = format!(
            "it takes exactly one argument, the `Task`, not {}",
            sig.inputs.len()
        );
        return if sig.inputs.is_empty() {
            fail(&sig.ident, &what)
        } else {
            fail(&sig.inputs, &what)
        };
    }
    let ty = match &sig.inputs[0] {
        FnArg::Receiver(receiver) => return fail(receiver, "it cannot take `self`"),
        FnArg::Typed(arg) => &arg.ty,
    };
    if !is_named(ty, "Task") {
        return fail(ty, "its argument must be a `Task` (by value)");
    }
    let ReturnType::Type(_, ret) = &sig.output else {
        return fail(&sig.ident, "it must return `Result<Output, TaskError>`");
    };
    match result_args(ret) {
        Some((ok, err)) if is_named(ok, "Output") && is_named(err, "TaskError") => Ok(()),
        _ => fail(ret, "it must return `Result<Output, TaskError>`"),
    }
}

/// Whether `ty` is a path whose last segment is `name`, without generics.
fn is_named(ty: &Type, name: &str) -> bool {
    match ty {
        Type::Path(path) if path.qself.is_none() => path
            .path
            .segments
            .last()
            .is_some_and(|seg| seg.ident == name && seg.arguments.is_none()),
        Type::Paren(inner) => is_named(&inner.elem, name),
        _ => false,
    }
}

/// The two type arguments of `Result<A, B>` (any path ending in `Result`).
fn result_args(ty: &Type) -> Option<(&Type, &Type)> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    let mut types = args.args.iter().filter_map(|arg| match arg {
        GenericArgument::Type(ty) => Some(ty),
        _ => None,
    });
    let (ok, err) = (types.next()?, types.next()?);
    (types.next().is_none() && args.args.len() == 2).then_some((ok, err))
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse_quote;

    fn error_of(sig: Signature) -> String {
        check(&sig).unwrap_err().to_string()
    }

    #[test]
    fn accepts_the_expected_signature_under_any_name_and_path() {
        check(&parse_quote!(fn handle(task: Task) -> Result<Output, TaskError>)).unwrap();
        check(&parse_quote!(fn send_mail(mut t: Task) -> Result<Output, TaskError>)).unwrap();
        check(&parse_quote!(fn h(_: wasmq_plugin_sdk::Task) -> std::result::Result<wasmq_plugin_sdk::Output, wasmq_plugin_sdk::TaskError>)).unwrap();
        check(&parse_quote!(fn h(task: (Task)) -> core::result::Result<Output, TaskError>))
            .unwrap();
    }

    #[test]
    fn rejects_async() {
        let msg = error_of(parse_quote!(async fn handle(task: Task) -> Result<Output, TaskError>));
        assert!(msg.starts_with(EXPECTED), "{msg}");
        assert!(msg.contains("`async`"), "{msg}");
    }

    #[test]
    fn rejects_wrong_arity() {
        for sig in [
            parse_quote!(fn handle() -> Result<Output, TaskError>),
            parse_quote!(fn handle(a: Task, b: Task) -> Result<Output, TaskError>),
        ] {
            let msg = error_of(sig);
            assert!(msg.starts_with(EXPECTED), "{msg}");
            assert!(msg.contains("exactly one argument"), "{msg}");
        }
    }

    #[test]
    fn rejects_wrong_argument_types() {
        for sig in [
            parse_quote!(fn handle(task: &Task) -> Result<Output, TaskError>),
            parse_quote!(fn handle(task: String) -> Result<Output, TaskError>),
            parse_quote!(fn handle(&self) -> Result<Output, TaskError>),
        ] {
            let msg = error_of(sig);
            assert!(msg.starts_with(EXPECTED), "{msg}");
        }
    }

    #[test]
    fn rejects_wrong_return_types() {
        for sig in [
            parse_quote!(fn handle(task: Task)),
            parse_quote!(fn handle(task: Task) -> Output),
            parse_quote!(fn handle(task: Task) -> Result<Output, String>),
            parse_quote!(fn handle(task: Task) -> Result<Vec<u8>, TaskError>),
            parse_quote!(fn handle(task: Task) -> Option<Output>),
            parse_quote!(fn handle(task: Task) -> Result<Output>),
        ] {
            let msg = error_of(sig);
            assert!(
                msg.contains("must return `Result<Output, TaskError>`"),
                "{msg}"
            );
        }
    }

    #[test]
    fn rejects_generic_unsafe_and_const() {
        for sig in [
            parse_quote!(fn handle<T>(task: Task) -> Result<Output, TaskError>),
            parse_quote!(unsafe fn handle(task: Task) -> Result<Output, TaskError>),
            parse_quote!(const fn handle(task: Task) -> Result<Output, TaskError>),
        ] {
            assert!(error_of(sig).starts_with(EXPECTED));
        }
    }
}
