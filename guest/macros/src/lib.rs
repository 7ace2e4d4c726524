//! The `#[xyz_guest::function]` attribute. Documented, and to be used, through `xyz-guest`.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, LitStr, Pat, ReturnType, Type, parse_macro_input};

/// Exports a function over the xyz ABI. See the `xyz-guest` crate docs.
#[proc_macro_attribute]
pub fn function(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut outputs: Option<Vec<LitStr>> = None;
    let mut name: Option<LitStr> = None;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("outputs") {
            let value = meta.value()?;
            let content;
            syn::bracketed!(content in value);
            let list = content.parse_terminated(|p| p.parse::<LitStr>(), syn::Token![,])?;
            outputs = Some(list.into_iter().collect());
            Ok(())
        } else if meta.path.is_ident("name") {
            name = Some(meta.value()?.parse()?);
            Ok(())
        } else {
            Err(meta.error("expected `outputs = [..]` or `name = \"..\"`"))
        }
    });
    parse_macro_input!(attr with parser);
    let func = parse_macro_input!(item as ItemFn);
    match expand(func, outputs, name) {
        Ok(tokens) => tokens.into(),
        Err(err) => err.to_compile_error().into(),
    }
}

/// An output named in the attribute: `name` or `name[dim, ..]`.
struct OutSpec {
    name: String,
    dims: Vec<String>,
    span: Span,
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn parse_out(lit: &LitStr) -> syn::Result<OutSpec> {
    let text = lit.value();
    let bad = || {
        syn::Error::new(
            lit.span(),
            "an output is `name` or `name[dim, ..]`, with ASCII identifiers",
        )
    };
    let (name, dims) = match text.split_once('[') {
        None => (text.trim().to_string(), Vec::new()),
        Some((name, rest)) => {
            let inner = rest.trim_end().strip_suffix(']').ok_or_else(bad)?;
            let dims: Vec<String> = inner.split(',').map(|d| d.trim().to_string()).collect();
            (name.trim().to_string(), dims)
        }
    };
    if !is_ident(&name) || dims.iter().any(|d| !is_ident(d)) {
        return Err(bad());
    }
    Ok(OutSpec {
        name,
        dims,
        span: lit.span(),
    })
}

/// The type as `Result<T, E>`'s `T`, if it is a `Result`.
fn result_ok_type(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        syn::GenericArgument::Type(t) => Some(t),
        _ => None,
    }
}

fn is_str_ref(ty: &Type) -> bool {
    matches!(ty, Type::Reference(r) if r.mutability.is_none()
        && matches!(&*r.elem, Type::Path(p) if p.path.is_ident("str")))
}

fn expand(
    func: ItemFn,
    outputs: Option<Vec<LitStr>>,
    name: Option<LitStr>,
) -> syn::Result<TokenStream2> {
    let sig = &func.sig;
    if let Some(tok) = sig.asyncness.as_ref() {
        return Err(syn::Error::new(
            tok.span(),
            "an xyz function cannot be async",
        ));
    }
    if !sig.generics.params.is_empty() {
        return Err(syn::Error::new(
            sig.generics.span(),
            "an xyz function cannot be generic",
        ));
    }
    let Some(outputs) = outputs else {
        return Err(syn::Error::new(
            Span::call_site(),
            "name the outputs: #[xyz_guest::function(outputs = [\"name\", ..])]",
        ));
    };
    let outs: Vec<OutSpec> = outputs.iter().map(parse_out).collect::<syn::Result<_>>()?;
    if outs.is_empty() {
        return Err(syn::Error::new(
            Span::call_site(),
            "an xyz function needs at least one output",
        ));
    }
    let fn_name = &sig.ident;
    let sig_name = name
        .map(|n| n.value())
        .unwrap_or_else(|| fn_name.to_string());
    if !is_ident(&sig_name) {
        return Err(syn::Error::new(
            sig.ident.span(),
            "the function's name must be an ASCII identifier",
        ));
    }

    // Arguments: name, type to read, whether to pass by reference.
    let mut arg_names = Vec::new();
    let mut arg_reads = Vec::new();
    let mut arg_passes = Vec::new();
    let mut sig_args = Vec::new();
    for (k, input) in sig.inputs.iter().enumerate() {
        let FnArg::Typed(pt) = input else {
            return Err(syn::Error::new(
                input.span(),
                "an xyz function cannot take self",
            ));
        };
        let Pat::Ident(pid) = &*pt.pat else {
            return Err(syn::Error::new(
                pt.pat.span(),
                "name each argument with a plain identifier: its name is the sweep's",
            ));
        };
        let arg_name = pid.ident.to_string();
        let arg_name = arg_name.strip_prefix("r#").unwrap_or(&arg_name).to_string();
        if !is_ident(&arg_name) {
            return Err(syn::Error::new(
                pid.ident.span(),
                "argument names must be ASCII identifiers",
            ));
        }
        let var = format_ident!("__xyz_a{}", k);
        let (read_ty, pass) = if is_str_ref(&pt.ty) {
            (quote!(::std::string::String), quote!(&#var))
        } else {
            let ty = &pt.ty;
            (quote!(#ty), quote!(#var))
        };
        let ty_span = pt.ty.span();
        arg_reads.push(quote_spanned! {ty_span=>
            let #var: #read_ty = unsafe { ::xyz_guest::__rt::arg::<#read_ty>(__xyz_args, #k, __xyz_i) };
        });
        sig_args.push(quote_spanned! {ty_span=> __b.arg::<#read_ty>(#arg_name); });
        arg_passes.push(pass);
        arg_names.push(arg_name);
    }
    let nargs = arg_names.len();

    // Outputs.
    let ReturnType::Type(_, ret) = &sig.output else {
        return Err(syn::Error::new(
            sig.span(),
            "an xyz function returns its outputs: add a return type",
        ));
    };
    let (value_ty, fallible) = match result_ok_type(ret) {
        Some(t) => (t, true),
        None => (&**ret, false),
    };
    let out_types: Vec<&Type> = match value_ty {
        Type::Tuple(t) if !t.elems.is_empty() => t.elems.iter().collect(),
        Type::Tuple(t) => {
            return Err(syn::Error::new(t.span(), "an xyz function needs an output"));
        }
        other => vec![other],
    };
    if out_types.len() != outs.len() {
        return Err(syn::Error::new(
            outputs[0].span(),
            format!(
                "{} output name(s) given for {} returned value(s)",
                outs.len(),
                out_types.len()
            ),
        ));
    }
    let mut rank_checks = Vec::new();
    let mut sig_outs = Vec::new();
    let mut out_writes = Vec::new();
    let mut out_vars = Vec::new();
    let mut type_list = Vec::new();
    for (k, (spec, ty)) in outs.iter().zip(&out_types).enumerate() {
        let rank = spec.dims.len();
        let msg = format!(
            "output `{}` names {} extra dim(s); its type must have as many array levels",
            spec.name, rank
        );
        let span = spec.span;
        rank_checks.push(quote_spanned! {span=>
            const _: () = ::core::assert!(
                <#ty as ::xyz_guest::__rt::OutValue>::RANK == #rank, #msg);
        });
        let name = &spec.name;
        let dims = &spec.dims;
        sig_outs.push(quote! { __b.out::<#ty>(#name, &[#(#dims),*]); });
        let var = format_ident!("__xyz_o{}", k);
        out_writes.push(quote! {
            unsafe { ::xyz_guest::__rt::out::<#ty>(__xyz_outs, #k, __xyz_i, #var) };
        });
        out_vars.push(var);
        type_list.push(quote!(<#ty as ::xyz_guest::__rt::OutValue>::TYPE));
    }
    let destructure = if out_types.len() == 1 && !matches!(value_ty, Type::Tuple(_)) {
        let v = &out_vars[0];
        quote!(#v)
    } else {
        quote!((#(#out_vars,)*))
    };
    let value = if fallible {
        quote! {
            match ::xyz_guest::__rt::call(|| #fn_name(#(#arg_passes),*))? {
                ::core::result::Result::Ok(v) => v,
                ::core::result::Result::Err(e) => {
                    return ::core::result::Result::Err(::xyz_guest::__rt::err_message(e));
                }
            }
        }
    } else {
        quote!(::xyz_guest::__rt::call(|| #fn_name(#(#arg_passes),*))?)
    };

    Ok(quote! {
        #func

        #(#rank_checks)*

        /// A module exports one xyz function: a second `#[xyz_guest::function]` in the crate
        /// defines this name again, and the compiler says so once, by this name.
        #[doc(hidden)]
        #[allow(non_upper_case_globals, reason = "the name is the error message")]
        pub const one_xyz_function_per_module__this_crate_has_two: () = ();

        const _: () = {
        /// The xyz ABI version this module implements.
        #[unsafe(no_mangle)]
        pub extern "C" fn xyz_abi_version() -> u32 {
            ::xyz_guest::abi::ABI_VERSION
        }

        /// The signature of this module's function, NUL-terminated.
        #[unsafe(no_mangle)]
        pub extern "C" fn xyz_signature() -> *const u8 {
            static SIG: ::std::sync::OnceLock<::std::boxed::Box<[u8]>> = ::std::sync::OnceLock::new();
            ::xyz_guest::__rt::signature(&SIG, || {
                let mut __b = ::xyz_guest::__rt::SigBuilder::new(#sig_name);
                #(#sig_args)*
                #(#sig_outs)*
                __b
            })
        }

        /// Allocates guest memory for the host.
        #[unsafe(no_mangle)]
        pub extern "C" fn xyz_alloc(size: usize, align: usize) -> *mut u8 {
            ::xyz_guest::__rt::alloc(size, align)
        }

        /// Frees memory from `xyz_alloc`.
        ///
        /// # Safety
        /// `ptr` must come from `xyz_alloc(size, align)`.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn xyz_free(ptr: *mut u8, size: usize, align: usize) {
            unsafe { ::xyz_guest::__rt::free(ptr, size, align) }
        }

        /// Evaluates a chunk of cases.
        ///
        /// # Safety
        /// `call` must be a call frame laid out as the xyz ABI says for this signature.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn xyz_eval(call: *mut ::xyz_guest::abi::Call) -> i32 {
            const __XYZ_TYPES: &[::xyz_guest::abi::ScalarType] = &[#(#type_list),*];
            let __xyz_case = |__xyz_args: &[::xyz_guest::abi::Column],
                              __xyz_outs: &mut ::xyz_guest::__rt::Outputs<'_>,
                              __xyz_i: usize| {
                let _ = &__xyz_args;
                #(#arg_reads)*
                let #destructure = #value;
                #(#out_writes)*
                ::core::result::Result::Ok(())
            };
            unsafe { ::xyz_guest::__rt::eval(call, #nargs, __XYZ_TYPES, __xyz_case) }
        }
        };
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lits(names: &[&str]) -> Option<Vec<LitStr>> {
        Some(
            names
                .iter()
                .map(|n| LitStr::new(n, Span::call_site()))
                .collect(),
        )
    }

    fn error(func: ItemFn, outputs: Option<Vec<LitStr>>) -> String {
        match expand(func, outputs, None) {
            Ok(_) => panic!("expanded"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_plain_function_expands_to_the_abi_exports() {
        let tokens = expand(
            syn::parse_quote! { fn f(a: f64, b: &str) -> (i64, Vec<f64>) { todo!() } },
            lits(&["n", "y[t]"]),
            None,
        )
        .unwrap()
        .to_string();
        for export in [
            "xyz_abi_version",
            "xyz_signature",
            "xyz_alloc",
            "xyz_free",
            "xyz_eval",
        ] {
            assert!(tokens.contains(export), "{export} missing from {tokens}");
        }
    }

    #[test]
    fn misuse_is_refused_with_what_to_do() {
        let cases: [(ItemFn, Option<Vec<LitStr>>, &str); 8] = [
            (
                syn::parse_quote! { async fn f(a: f64) -> f64 { a } },
                lits(&["y"]),
                "cannot be async",
            ),
            (
                syn::parse_quote! { fn f<T>(a: f64) -> f64 { a } },
                lits(&["y"]),
                "cannot be generic",
            ),
            (
                syn::parse_quote! { fn f(a: f64) -> f64 { a } },
                None,
                "name the outputs",
            ),
            (
                syn::parse_quote! { fn f(a: f64) -> f64 { a } },
                lits(&[]),
                "at least one output",
            ),
            (
                syn::parse_quote! { fn f(a: f64) { } },
                lits(&["y"]),
                "add a return type",
            ),
            (
                syn::parse_quote! { fn f((a, b): (f64, f64)) -> f64 { a + b } },
                lits(&["y"]),
                "plain identifier",
            ),
            (
                syn::parse_quote! { fn f(a: f64) -> (f64, f64) { (a, a) } },
                lits(&["y"]),
                "1 output name(s) given for 2 returned value(s)",
            ),
            (
                syn::parse_quote! { fn f(a: f64) -> f64 { a } },
                lits(&["y[t"]),
                "an output is `name` or `name[dim, ..]`",
            ),
        ];
        for (func, outputs, expected) in cases {
            let message = error(func, outputs);
            assert!(message.contains(expected), "{message:?} lacks {expected:?}");
        }
    }
}
