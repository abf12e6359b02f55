//! `#[db_test]`, the attribute of Handoff's integration tests
//! (`tests/api/common.rs` holds what it calls).
//!
//! ```text
//! #[db_test]
//! async fn creates_a_lead(app: TestApp) {
//!     app.create_lead("a@example.com", json!({})).await;
//! }
//! ```
//!
//! becomes a `#[tokio::test]` that runs the body with
//! `crate::common::each_backend` (once per backend, a fresh `TestApp` each
//! time); `#[db_test(with = adjust)]` runs it with
//! `crate::common::each_backend_with(adjust, ..)` (a `fn(&mut Config)`,
//! such as `manual_clock`), and `#[db_test(postgres_only)]` with
//! `crate::common::postgres_only`. The test is an ordinary function item, so
//! rustfmt formats its body (a macro's or a closure's body it leaves alone
//! as soon as one line cannot fit), and the body keeps its own spans, so a
//! failure points at its line.

use proc_macro::{Delimiter, Group, Punct, Spacing, TokenStream, TokenTree};

/// Runs an `async fn name(app: TestApp) { .. }` once per backend (with a
/// configuration adjusted by `with = adjust`), or on PostgreSQL only with
/// `#[db_test(postgres_only)]`.
#[proc_macro_attribute]
pub fn db_test(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(attr, item).unwrap_or_else(|message| {
        format!("compile_error!({message:?});")
            .parse()
            .unwrap_or_default()
    })
}

fn expand(attr: TokenStream, item: TokenStream) -> Result<TokenStream, String> {
    let attr: Vec<TokenTree> = attr.into_iter().collect();
    let (runner, config) = match attr.as_slice() {
        [] => ("each_backend", None),
        [TokenTree::Ident(only)] if only.to_string() == "postgres_only" => ("postgres_only", None),
        [TokenTree::Ident(with), TokenTree::Punct(eq), config @ ..]
            if with.to_string() == "with" && eq.as_char() == '=' && !config.is_empty() =>
        {
            ("each_backend_with", Some(config.iter().cloned()))
        }
        _ => {
            return Err(
                "#[db_test] takes nothing, `postgres_only` or `with = <fn(&mut Config)>`".into(),
            );
        }
    };
    let tokens: Vec<TokenTree> = item.into_iter().collect();
    let fn_at = tokens
        .iter()
        .position(|t| matches!(t, TokenTree::Ident(i) if i.to_string() == "fn"))
        .ok_or("#[db_test] goes on an `async fn`")?;
    let (
        Some(TokenTree::Ident(name)),
        Some(TokenTree::Group(params)),
        Some(TokenTree::Group(body)),
    ) = (tokens.get(fn_at + 1), tokens.get(fn_at + 2), tokens.last())
    else {
        return Err("#[db_test] expects `async fn name(app: TestApp) { .. }`".into());
    };
    if params.delimiter() != Delimiter::Parenthesis || body.delimiter() != Delimiter::Brace {
        return Err("#[db_test] expects `async fn name(app: TestApp) { .. }`".into());
    }
    // Attributes and doc comments stay; `async fn` is written anew.
    let keep = fn_at.saturating_sub(1);
    if !matches!(tokens.get(keep), Some(TokenTree::Ident(i)) if i.to_string() == "async") {
        return Err("#[db_test] goes on an `async fn`".into());
    }
    let parse = |s: &str| s.parse::<TokenStream>().map_err(|e| e.to_string());

    // `async |app: TestApp| { body }`
    let mut closure = parse("async")?;
    closure.extend([TokenTree::Punct(Punct::new('|', Spacing::Alone))]);
    closure.extend(params.stream());
    closure.extend([
        TokenTree::Punct(Punct::new('|', Spacing::Alone)),
        TokenTree::Group(body.clone()),
    ]);
    // `crate::common::runner(config, closure).await;`
    let mut args = TokenStream::new();
    if let Some(config) = config {
        args.extend(config);
        args.extend([TokenTree::Punct(Punct::new(',', Spacing::Alone))]);
    }
    args.extend(closure);
    let mut call = parse(&format!("crate::common::{runner}"))?;
    call.extend([TokenTree::Group(Group::new(Delimiter::Parenthesis, args))]);
    call.extend(parse(".await;")?);

    let mut out: TokenStream = tokens[..keep].iter().cloned().collect();
    out.extend(parse(
        "#[::tokio::test(flavor = \"multi_thread\", worker_threads = 2)] async fn",
    )?);
    out.extend([
        TokenTree::Ident(name.clone()),
        TokenTree::Group(Group::new(Delimiter::Parenthesis, TokenStream::new())),
        TokenTree::Group(Group::new(Delimiter::Brace, call)),
    ]);
    Ok(out)
}
