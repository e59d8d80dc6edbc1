//! Parsing `#[audited(…)]`'s options, with errors that point at the offending token.

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, LitStr, Token};

const ACCEPTED: &str = "expected a name (\"sow_create\"), `name = \"…\"`, `skip(arg, …)`, `skip_all`, \
`fields(key = value, …)`, `user = expr`, `tenant = expr`, `tags(\"…\", …)`, `started`, `level = \"metadata\" | \"request\" | \"request_response\"`, `ret`, `ret(Debug)`, `err` or `err(Debug)`";

/// How a custom field's value is recorded.
pub(crate) enum FieldKind {
    /// `key = expr`: as JSON when it implements `Serialize`.
    Value,
    /// `key = %expr`: its `Display` text.
    Display,
    /// `key = ?expr`: its `Debug` text (asked for explicitly: redaction cannot see inside it).
    Debug,
}

pub(crate) struct Field {
    pub key: Ident,
    pub kind: FieldKind,
    pub value: Expr,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    Metadata,
    Request,
    RequestResponse,
}

/// How `ret` / `err` write the value, as in `#[tracing::instrument]`.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum FormatMode {
    /// `ret`: as JSON when it implements `Serialize`; `err`: its `Display` text.
    #[default]
    Default,
    /// `(Display)`: its `Display` text.
    Display,
    /// `(Debug)`: its `Debug` text.
    Debug,
}

#[derive(Default)]
pub(crate) struct Args {
    pub name: Option<LitStr>,
    pub skips: Vec<Ident>,
    pub skip_all: Option<Span>,
    pub fields: Vec<Field>,
    pub user: Option<Expr>,
    pub tenant: Option<Expr>,
    pub tags: Vec<LitStr>,
    pub started: Option<Span>,
    pub level: Option<Level>,
    pub ret: Option<(Span, FormatMode)>,
    pub err: Option<(Span, FormatMode)>,
}

/// `(Debug)` or `(Display)` after `ret` / `err`, if given.
fn format_mode(input: ParseStream<'_>) -> syn::Result<FormatMode> {
    if !input.peek(syn::token::Paren) {
        return Ok(FormatMode::Default);
    }
    let content;
    syn::parenthesized!(content in input);
    let mode: Ident = content.parse()?;
    match mode.to_string().as_str() {
        "Debug" => Ok(FormatMode::Debug),
        "Display" => Ok(FormatMode::Display),
        _ => Err(syn::Error::new(
            mode.span(),
            "expected `Debug` or `Display`, as in #[tracing::instrument(ret(Debug))]",
        )),
    }
}

fn duplicate(span: Span, option: &str) -> syn::Error {
    syn::Error::new(span, format!("duplicate option `{option}`: give it once"))
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Args::default();
        let mut seen_skip = false;
        let mut seen_fields = false;
        while !input.is_empty() {
            if input.peek(LitStr) {
                let name: LitStr = input.parse()?;
                if args.name.is_some() {
                    return Err(duplicate(name.span(), "name"));
                }
                args.name = Some(name);
            } else {
                let option: Ident = input
                    .parse()
                    .map_err(|e| syn::Error::new(e.span(), ACCEPTED))?;
                let span = option.span();
                match option.to_string().as_str() {
                    "name" => {
                        input.parse::<Token![=]>()?;
                        let name: LitStr = input.parse()?;
                        if args.name.is_some() {
                            return Err(duplicate(span, "name"));
                        }
                        args.name = Some(name);
                    }
                    "skip" => {
                        if seen_skip {
                            return Err(duplicate(span, "skip"));
                        }
                        seen_skip = true;
                        let content;
                        syn::parenthesized!(content in input);
                        let names = Punctuated::<Ident, Token![,]>::parse_terminated(&content)?;
                        args.skips.extend(names);
                    }
                    "skip_all" => {
                        if args.skip_all.is_some() {
                            return Err(duplicate(span, "skip_all"));
                        }
                        args.skip_all = Some(span);
                    }
                    "fields" => {
                        if seen_fields {
                            return Err(duplicate(span, "fields"));
                        }
                        seen_fields = true;
                        let content;
                        syn::parenthesized!(content in input);
                        let fields = Punctuated::<Field, Token![,]>::parse_terminated(&content)?;
                        args.fields.extend(fields);
                    }
                    "user" => {
                        if args.user.is_some() {
                            return Err(duplicate(span, "user"));
                        }
                        input.parse::<Token![=]>()?;
                        args.user = Some(input.parse()?);
                    }
                    "tenant" => {
                        if args.tenant.is_some() {
                            return Err(duplicate(span, "tenant"));
                        }
                        input.parse::<Token![=]>()?;
                        args.tenant = Some(input.parse()?);
                    }
                    "tags" => {
                        if !args.tags.is_empty() {
                            return Err(duplicate(span, "tags"));
                        }
                        let content;
                        syn::parenthesized!(content in input);
                        let tags = Punctuated::<LitStr, Token![,]>::parse_terminated(&content)?;
                        args.tags.extend(tags);
                    }
                    "started" => {
                        if args.started.is_some() {
                            return Err(duplicate(span, "started"));
                        }
                        args.started = Some(span);
                    }
                    "level" => {
                        if args.level.is_some() {
                            return Err(duplicate(span, "level"));
                        }
                        input.parse::<Token![=]>()?;
                        let level: LitStr = input.parse()?;
                        args.level = Some(match level.value().as_str() {
                            "metadata" => Level::Metadata,
                            "request" => Level::Request,
                            "request_response" => Level::RequestResponse,
                            _ => {
                                return Err(syn::Error::new(
                                    level.span(),
                                    "unknown level: expected \"metadata\", \"request\" or \"request_response\"",
                                ))
                            }
                        });
                    }
                    "ret" => {
                        if args.ret.is_some() {
                            return Err(duplicate(span, "ret"));
                        }
                        args.ret = Some((span, format_mode(input)?));
                    }
                    "err" => {
                        if args.err.is_some() {
                            return Err(duplicate(span, "err"));
                        }
                        args.err = Some((span, format_mode(input)?));
                    }
                    other => {
                        return Err(syn::Error::new(
                            span,
                            format!("unknown option `{other}`: {ACCEPTED}"),
                        ));
                    }
                }
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        if let (Some(span), false) = (args.skip_all, args.skips.is_empty()) {
            return Err(syn::Error::new(
                span,
                "`skip_all` and `skip(…)` together: use one of them",
            ));
        }
        Ok(args)
    }
}

impl Parse for Field {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let key: Ident = input.parse()?;
        if !input.peek(Token![=]) {
            // `fields(x)` records the variable `x` under its own name.
            return Ok(Field {
                value: syn::parse_quote!(#key),
                key,
                kind: FieldKind::Value,
            });
        }
        input.parse::<Token![=]>()?;
        let kind = if input.peek(Token![%]) {
            input.parse::<Token![%]>()?;
            FieldKind::Display
        } else if input.peek(Token![?]) {
            input.parse::<Token![?]>()?;
            FieldKind::Debug
        } else {
            FieldKind::Value
        };
        Ok(Field {
            key,
            kind,
            value: input.parse()?,
        })
    }
}

/// A function's attributes and signature, with its body taken as tokens: what is left to
/// recognise a function whose body `syn` cannot read.
pub(crate) struct FnHead;

impl Parse for FnHead {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        input.call(syn::Attribute::parse_outer)?;
        input.parse::<syn::Visibility>()?;
        input.parse::<syn::Signature>()?;
        let _body: proc_macro2::Group = input.parse()?;
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the function"));
        }
        Ok(FnHead)
    }
}
