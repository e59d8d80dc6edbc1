//! The `#[audited]` attribute. Use it as `audit_core::audited`; its documentation is there.
//!
//! Parsing lives in `parse.rs`, code generation in `expand.rs`, as in tracing-attributes.

#![deny(unsafe_code)]
#![warn(missing_docs, clippy::return_self_not_must_use)]

use proc_macro::TokenStream;

mod expand;
mod parse;

/// Audits every call of the function it is put on.
///
/// ```ignore
/// #[audit_core::audited("sow_create", skip(db), fields(cost_usd = 0.23), user = user_id)]
/// async fn create_sow(db: &Db, user_id: &str, request: SowRequest) -> Result<Sow, Error> {
///     db.insert(user_id, &request).await
/// }
/// ```
///
/// - Inside a request handled by `audit_tower::AuditLayer` it names the request's entry and adds
///   its fields and user there (no second entry). Elsewhere it records its own entry through the
///   global auditor (`audit_core::set_global_auditor`): arguments by name in `request`, the
///   returned value (or the `Ok` value) in `response_summary`, `Err`'s `Display` text in
///   `error`, and outcome `success`, `error` or `panic` (the panic then unwinds on). Without an
///   auditor the function runs as written, after one check.
/// - Arguments and return values are recorded as JSON when their type implements
///   `serde::Serialize` (then redacted and summarised), else as `"<unrecorded: Type>"`; no bound
///   is added to the function. Generic parameters are recorded as `"<unrecorded: T>"`.
/// - Options: a name string or `name = "…"` (default: the function's name); `skip(a, b)`;
///   `skip_all`; `fields(key = value, key = %display, key = ?debug)`; `user = expr` (`Display`);
///   `tenant = expr` (`Display`) and `tags("billing", …)` (the entry's `tenant` and `tags`);
///   `started` (also write a `started` entry when the call begins, so that a call that never
///   ends, a crash or a hang, still leaves a trace: the two entries share an `operation.id`,
///   the last one has stage `finished`; see `audit_core::operation`);
///   `level = "metadata" | "request" | "request_response"` (default `request_response`);
///   as in `#[tracing::instrument]`, `ret` / `ret(Debug)` / `ret(Display)` (how the returned
///   value is written; recorded by default, as JSON) and `err` / `err(Debug)` / `err(Display)`
///   (how an `Err` is written into `error`; recorded by default with `Display`). To leave the
///   returned value out, use `level = "request"`.
/// - Destructured arguments (`Point { x, y }: Point`, `(a, b): (u32, u32)`) are recorded under
///   the names they bind, which `skip(…)` can name.
/// - Nested audited calls each record their own entry, with `fields.parent_id` the enclosing
///   call's entry id and its correlation id.
#[proc_macro_attribute]
pub fn audited(attr: TokenStream, item: TokenStream) -> TokenStream {
    let args = match syn::parse::<parse::Args>(attr) {
        Ok(args) => args,
        Err(e) => return e.to_compile_error().into(),
    };
    let item2: proc_macro2::TokenStream = item.clone().into();
    let function = match syn::parse::<syn::ItemFn>(item) {
        Ok(function) => function,
        // A function whose body does not parse: the function goes out unchanged, so the
        // compiler reports the body's own error where it is and IDEs keep the function; the
        // error here says it is not audited (as tracing-attributes does).
        Err(body_error) if syn::parse2::<parse::FnHead>(item2.clone()).is_ok() => {
            let note = syn::Error::new(
                body_error.span(),
                format!("#[audited] could not read this function's body ({body_error}); the function is not audited"),
            )
            .to_compile_error();
            return quote::quote!(#note #item2).into();
        }
        Err(_) => {
            let span = item2
                .into_iter()
                .find(|token| {
                    !matches!(
                        token,
                        proc_macro2::TokenTree::Punct(_) | proc_macro2::TokenTree::Group(_)
                    )
                })
                .map_or_else(proc_macro2::Span::call_site, |token| token.span());
            return syn::Error::new(
                span,
                "#[audited] goes on a function or a method (`fn` or `async fn`)",
            )
            .to_compile_error()
            .into();
        }
    };
    match expand::expand(args, function) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}
