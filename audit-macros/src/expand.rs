//! Generating the audited function: the same signature, a body that records the call.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, Pat, ReturnType, Type};

use crate::parse::{Args, FieldKind, FormatMode, Level};

/// The names arguments bind, in order (never `self`): `a` of `a: T`, and `x`, `y` of a
/// destructuring `Point { x, y }: Point` or `(x, y): (u32, u32)`, as tracing-attributes
/// records them. `_` binds nothing.
fn argument_names(item: &ItemFn) -> Vec<syn::Ident> {
    fn bound(pat: &Pat, names: &mut Vec<syn::Ident>) {
        match pat {
            Pat::Ident(pat) => {
                names.push(pat.ident.clone());
                if let Some((_, sub)) = &pat.subpat {
                    bound(sub, names);
                }
            }
            Pat::Tuple(tuple) => tuple.elems.iter().for_each(|p| bound(p, names)),
            Pat::TupleStruct(tuple) => tuple.elems.iter().for_each(|p| bound(p, names)),
            Pat::Struct(st) => st.fields.iter().for_each(|f| bound(&f.pat, names)),
            Pat::Slice(slice) => slice.elems.iter().for_each(|p| bound(p, names)),
            Pat::Reference(reference) => bound(&reference.pat, names),
            Pat::Type(typed) => bound(&typed.pat, names),
            Pat::Paren(paren) => bound(&paren.pat, names),
            _ => {}
        }
    }
    let mut names = Vec::new();
    for input in &item.sig.inputs {
        if let FnArg::Typed(typed) = input {
            bound(&typed.pat, &mut names);
        }
    }
    names
}

/// Whether the written return type is a `Result` (by its last path segment, as `#[tracing::instrument(err)]` does).
fn is_result(ty: &Type) -> bool {
    match ty {
        Type::Path(path) => path
            .path
            .segments
            .last()
            .is_some_and(|s| s.ident == "Result"),
        _ => false,
    }
}

/// `#[async_trait]` (applied first) turns `async fn f() -> T` into
/// `fn f() -> Pin<Box<dyn Future<Output = T> + …>> { Box::pin(async move { … }) }`:
/// finds that async block and `T`.
fn async_trait_body(item: &ItemFn) -> Option<(&syn::ExprCall, &syn::ExprAsync, Type)> {
    if item.sig.asyncness.is_some() {
        return None;
    }
    let Some(syn::Stmt::Expr(syn::Expr::Call(call), None)) = item.block.stmts.last() else {
        return None;
    };
    let syn::Expr::Path(func) = &*call.func else {
        return None;
    };
    if func.path.segments.last().is_none_or(|s| s.ident != "pin") || call.args.len() != 1 {
        return None;
    }
    let syn::Expr::Async(inner) = call.args.first()? else {
        return None;
    };
    Some((call, inner, future_output(&item.sig.output)?))
}

/// `T` in a return type `Pin<Box<dyn Future<Output = T> + …>>`.
fn future_output(output: &ReturnType) -> Option<Type> {
    let ReturnType::Type(_, ty) = output else {
        return None;
    };
    fn find(ty: &Type) -> Option<Type> {
        match ty {
            Type::Path(path) => {
                path.path
                    .segments
                    .iter()
                    .find_map(|segment| match &segment.arguments {
                        syn::PathArguments::AngleBracketed(args) => {
                            args.args.iter().find_map(|arg| match arg {
                                syn::GenericArgument::Type(inner) => find(inner),
                                _ => None,
                            })
                        }
                        _ => None,
                    })
            }
            Type::TraitObject(object) => object.bounds.iter().find_map(|bound| match bound {
                syn::TypeParamBound::Trait(t) => {
                    t.path.segments.last().and_then(|s| match &s.arguments {
                        syn::PathArguments::AngleBracketed(args) => {
                            args.args.iter().find_map(|arg| match arg {
                                syn::GenericArgument::AssocType(assoc)
                                    if assoc.ident == "Output" =>
                                {
                                    Some(assoc.ty.clone())
                                }
                                _ => None,
                            })
                        }
                        _ => None,
                    })
                }
                _ => None,
            }),
            _ => None,
        }
    }
    find(ty)
}

fn contains_impl_trait(ty: &Type) -> bool {
    let mut found = false;
    fn walk(ty: &Type, found: &mut bool) {
        match ty {
            Type::ImplTrait(_) => *found = true,
            Type::Path(path) => {
                for segment in &path.path.segments {
                    if let syn::PathArguments::AngleBracketed(args) = &segment.arguments {
                        for arg in &args.args {
                            if let syn::GenericArgument::Type(inner) = arg {
                                walk(inner, found);
                            }
                        }
                    }
                }
            }
            Type::Reference(reference) => walk(&reference.elem, found),
            Type::Tuple(tuple) => tuple.elems.iter().for_each(|t| walk(t, found)),
            Type::Paren(paren) => walk(&paren.elem, found),
            _ => {}
        }
    }
    walk(ty, &mut found);
    found
}

pub(crate) fn expand(args: Args, item: ItemFn) -> syn::Result<TokenStream> {
    let arguments = argument_names(&item);
    for skip in &args.skips {
        if !arguments.iter().any(|a| a == skip) {
            return Err(syn::Error::new(
                skip.span(),
                format!("`skip` names `{skip}`, which is not an argument of this function"),
            ));
        }
    }
    let name = match &args.name {
        Some(name) => name.value(),
        None => item.sig.ident.to_string(),
    };
    let level = match args.level.unwrap_or(Level::RequestResponse) {
        Level::Metadata => quote!(Metadata),
        Level::Request => quote!(Request),
        Level::RequestResponse => quote!(RequestResponse),
    };
    let private = quote!(::audit_core::__private);
    let recorded: Vec<_> = if args.skip_all.is_some() {
        Vec::new()
    } else {
        arguments
            .iter()
            .filter(|a| !args.skips.contains(a))
            .collect()
    };
    let record_args = recorded.iter().map(|arg| {
        let key = arg.to_string();
        quote! {
            __audit_args.insert(#key.to_owned(), (&&#private::Recorded(&#arg)).__audit_record());
        }
    });
    let fields = args.fields.iter().map(|field| {
        let key = field.key.to_string();
        let value = &field.value;
        let recorded = match field.kind {
            FieldKind::Value => quote_spanned!(value.span()=> (&&#private::Recorded(&(#value))).__audit_record()),
            FieldKind::Display => quote_spanned!(value.span()=> #private::Value::String(::std::format!("{}", #value))),
            FieldKind::Debug => quote_spanned!(value.span()=> #private::Value::String(::std::format!("{:?}", #value))),
        };
        quote!(__audit_call.field(#key, #recorded);)
    });
    let user = args
        .user
        .as_ref()
        .map(|user| quote_spanned!(user.span()=> __audit_call.user(&(#user));));
    let tenant = args
        .tenant
        .as_ref()
        .map(|tenant| quote_spanned!(tenant.span()=> __audit_call.tenant(&(#tenant));));
    let tags = args.tags.iter().map(|tag| quote!(__audit_call.tag(#tag);));
    let started = args.started.map(|_| quote!(__audit_call.started();));

    // `ret(Debug)` / `err(Debug)` choose the text, as in `#[tracing::instrument]`; the value
    // and the error are recorded either way (`level = "request"` leaves the value out).
    let ret_mode = args.ret.map(|(_, mode)| mode).unwrap_or_default();
    let err_mode = args.err.map(|(_, mode)| mode).unwrap_or_default();
    let record = |value: TokenStream| match ret_mode {
        FormatMode::Default => quote!((&&#private::Recorded(#value)).__audit_record()),
        FormatMode::Display => {
            quote!(#private::Value::String(::std::format!("{}", #value)))
        }
        FormatMode::Debug => {
            quote!(#private::Value::String(::std::format!("{:?}", #value)))
        }
    };
    let error_text = match err_mode {
        FormatMode::Default => quote!((&&#private::ErrorText(__audit_err)).__audit_error()),
        FormatMode::Display => quote!(::std::format!("{}", __audit_err)),
        FormatMode::Debug => quote!(::std::format!("{:?}", __audit_err)),
    };
    let async_trait = async_trait_body(&item);
    let output_type: Option<Type> = match (&async_trait, &item.sig.output) {
        (Some((_, _, output)), _) => Some(output.clone()),
        (None, ReturnType::Type(_, ty)) => Some((**ty).clone()),
        (None, ReturnType::Default) => None,
    };
    let is_result = output_type.as_ref().is_some_and(is_result);
    let finish = if is_result {
        let recorded_ok = record(quote!(__audit_ok));
        let ok = quote!(__audit_call.records_response().then(|| #recorded_ok));
        quote! {
            if __audit_call.is_active() {
                __audit_call.finish_with(|__audit_call| match &__audit_value {
                    ::std::result::Result::Ok(__audit_ok) => (#ok, ::std::option::Option::None),
                    ::std::result::Result::Err(__audit_err) => (
                        ::std::option::Option::None,
                        ::std::option::Option::Some(#error_text),
                    ),
                });
            }
        }
    } else {
        let recorded_value = record(quote!(&__audit_value));
        quote! {
            if __audit_call.is_active() {
                __audit_call.finish_with(|__audit_call| (
                    __audit_call.records_response().then(|| #recorded_value),
                    ::std::option::Option::None,
                ));
            }
        }
    };

    let block = match &async_trait {
        Some((_, inner, _)) => &inner.block,
        None => &item.block,
    };
    let (output_ty, annotate) = match &output_type {
        None => (quote!(()), true),
        Some(ty) => (quote!(#ty), !contains_impl_trait(ty)),
    };
    let run = if item.sig.asyncness.is_some() || async_trait.is_some() {
        let typed = annotate.then(|| quote!(: ::std::thread::Result<#output_ty>));
        quote! {
            let __audit_result #typed = #private::catch_unwind_async(&__audit_call, async move #block).await;
        }
    } else {
        let closure = if annotate {
            quote!(move || -> #output_ty #block)
        } else {
            quote!(move || #block)
        };
        quote! {
            let __audit_result = #private::catch_unwind(&__audit_call, #closure);
        }
    };

    let body = quote! {
        #[allow(unused_imports)]
        use #private::{ErrorDisplay as _, ErrorFallback as _, RecordFallback as _, RecordSerialize as _};
        #[allow(unused_mut)]
        let mut __audit_call = #private::Call::start(#name, #private::Level::#level);
        if __audit_call.records_request() {
            __audit_call.request_with(|| {
                #[allow(unused_mut)]
                let mut __audit_args = #private::Map::new();
                #(#record_args)*
                __audit_args
            });
        }
        if __audit_call.is_active() {
            #(#fields)*
            #user
            #tenant
            #(#tags)*
            #started
        }
        #run
        match __audit_result {
            ::std::result::Result::Ok(__audit_value) => {
                #finish
                __audit_value
            }
            ::std::result::Result::Err(__audit_panic) => {
                __audit_call.finish_panic(&*__audit_panic);
                ::std::panic::resume_unwind(__audit_panic)
            }
        }
    };
    let ItemFn {
        attrs, vis, sig, ..
    } = &item;
    let body = match &async_trait {
        // Keep `#[async_trait]`'s boxing; audit inside the future it boxes.
        Some((call, inner, _)) => {
            let func = &call.func;
            let capture = &inner.capture;
            let statements = &item.block.stmts[..item.block.stmts.len() - 1];
            quote! {
                #(#statements)*
                #func(async #capture { #body })
            }
        }
        None => body,
    };
    Ok(quote! {
        #(#attrs)*
        #vis #sig {
            #body
        }
    })
}
