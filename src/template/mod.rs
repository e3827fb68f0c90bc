//! The one template environment of herd: Jinja2 as ansible-core 2.19 runs it.
//!
//! Everything that renders a `{{ }}` goes through [`Templar`]: task
//! arguments, conditionals, the `template` module and lookups. It is a
//! `minijinja` environment with Ansible's filters ([`filters`]), tests
//! ([`tests`]) and lookups ([`lookups`]) added, and with Ansible's rules:
//!
//! * a string that is exactly one `{{ expr }}` evaluates to the native value;
//! * inside text, values print as Python prints them (`['a']`, `True`, `None`);
//! * variables that hold templates are rendered lazily, when read, and
//!   lists and dicts element by element ([`vars`]);
//! * undefined variables are an error naming the variable, except where
//!   `default`, `is defined` and friends look at them ([`rewrite`] lets
//!   `a.b.c | default(x)` work with `a` undefined under strict rules).
//!
//! Compiled templates are cached in the environment, keyed by their text;
//! a bare expression is compiled as a small template that hands its value
//! back, so it is cached the same way.

mod args;
mod convert;
mod datetime;
mod filters;
mod lookups;
mod pyformat;
mod rewrite;
mod serial;
mod tests;
mod vars;

use std::sync::{Arc, OnceLock};

use minijinja::{Environment, ErrorKind, UndefinedBehavior};

use crate::diag::{exit, Diagnostic};
use crate::value::{as_unsafe, Map, Value};

pub use convert::{from_mj, to_mj};
use vars::{ErrorSink, VarsObject};

/// The variables a template sees.
#[derive(Clone, Default)]
pub struct Vars {
    /// All variables of the host, already merged by precedence.
    pub vars: Map<String, Value>,
    /// Where `hostvars` reads other hosts' variables from.
    pub hostvars: Option<Arc<dyn HostVarsSource>>,
    /// Variables that are the same for every host of a play (`groups`,
    /// `ansible_play_hosts`, …), shared instead of copied into each host's
    /// map: they grow with the number of hosts. A name in `vars` hides the
    /// same name here.
    pub shared: Option<Arc<Map<String, Value>>>,
}

impl Vars {
    pub fn new(vars: Map<String, Value>) -> Vars {
        Vars {
            vars,
            hostvars: None,
            shared: None,
        }
    }
}

/// Gives templates access to every host's variables (`hostvars`).
pub trait HostVarsSource: Send + Sync {
    fn host_names(&self) -> Vec<String>;
    fn host_vars(&self, host: &str) -> Option<Map<String, Value>>;
}

/// Options of the `template` module and lookup that change how Jinja reads
/// a file.
#[derive(Clone, Debug, PartialEq)]
pub struct TemplateFileOptions {
    pub trim_blocks: bool,
    pub lstrip_blocks: bool,
    /// `\n`, `\r\n` or `\r`: what every line ending of the result becomes.
    pub newline_sequence: String,
    pub block_start_string: String,
    pub block_end_string: String,
    pub variable_start_string: String,
    pub variable_end_string: String,
    pub comment_start_string: String,
    pub comment_end_string: String,
    /// Directories where `{% include %}` and `{% import %}` look for
    /// relative names (the template's own directory, the role's and the
    /// playbook's `templates/`), in order.
    pub search_path: Vec<String>,
}

impl Default for TemplateFileOptions {
    fn default() -> Self {
        TemplateFileOptions {
            trim_blocks: true,
            lstrip_blocks: false,
            newline_sequence: "\n".into(),
            block_start_string: "{%".into(),
            block_end_string: "%}".into(),
            variable_start_string: "{{".into(),
            variable_end_string: "}}".into(),
            comment_start_string: "{#".into(),
            comment_end_string: "#}".into(),
            search_path: Vec::new(),
        }
    }
}

/// The placeholder `omit` evaluates to. Callers drop module arguments whose
/// value equals it.
pub fn omit_token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| {
        use rand::Rng;
        let mut rng = rand::thread_rng();
        let hex: String = (0..40)
            .map(|_| char::from_digit(rng.gen_range(0..16), 16).unwrap_or('0'))
            .collect();
        format!("__omit_place_holder__{hex}")
    })
}

pub use herd_modules::api::shell_quote;

/// Whether a string holds anything Jinja would act on.
pub fn is_template(text: &str) -> bool {
    // One pass over the bytes: this runs on every key and string of the
    // variables a template reads.
    let b = text.as_bytes();
    b.iter().position(|&c| c == b'{').is_some_and(|start| {
        b[start..]
            .windows(2)
            .any(|w| w[0] == b'{' && matches!(w[1], b'{' | b'%' | b'#'))
    })
}

pub(crate) struct Envs {
    /// Undefined values fail as soon as they are used; chains guarded by
    /// `default` or `is defined` are rewritten to tolerate them (see
    /// [`rewrite`]).
    strict: Environment<'static>,
}

/// The template environment, built once and shared.
#[derive(Clone)]
pub struct Templar {
    envs: Arc<Envs>,
}

impl Default for Templar {
    fn default() -> Self {
        Templar::new()
    }
}

/// Puts back the newlines that end a template's source and that rendering
/// dropped, as ansible-core does after every render: as many `\n` as the
/// source ends with beyond those the result already ends with.
fn keep_trailing_newlines(source: &str, mut out: String) -> String {
    let count = |t: &str| t.bytes().rev().take_while(|b| *b == b'\n').count();
    let missing = count(source).saturating_sub(count(&out));
    out.extend(std::iter::repeat_n('\n', missing));
    out
}

/// Marks the name of a template held in the loader's cache as inline text
/// rather than a file name.
const INLINE: char = '\u{1}';

fn build_env(behavior: UndefinedBehavior, opts: &TemplateFileOptions) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(behavior);
    env.set_trim_blocks(opts.trim_blocks);
    env.set_lstrip_blocks(opts.lstrip_blocks);
    // A template's own trailing newlines are put back after rendering
    // (see `keep_trailing_newlines`); included templates lose theirs, as in
    // Jinja2 and Ansible.
    env.set_keep_trailing_newline(false);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.set_recursion_limit(200);
    if opts.block_start_string != "{%"
        || opts.block_end_string != "%}"
        || opts.variable_start_string != "{{"
        || opts.variable_end_string != "}}"
        || opts.comment_start_string != "{#"
        || opts.comment_end_string != "#}"
    {
        if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
            .block_delimiters(
                opts.block_start_string.clone(),
                opts.block_end_string.clone(),
            )
            .variable_delimiters(
                opts.variable_start_string.clone(),
                opts.variable_end_string.clone(),
            )
            .comment_delimiters(
                opts.comment_start_string.clone(),
                opts.comment_end_string.clone(),
            )
            .build()
        {
            env.set_syntax(syntax);
        }
    }
    env.set_loader(|name| {
        if let Some(text) = name.strip_prefix(INLINE) {
            return Ok(Some(rewrite::rewrite_chains(&strip_fqcn(text))));
        }
        // `{% include %}` and `{% import %}` of a file, by the path the
        // join callback found.
        match std::fs::read_to_string(name) {
            Ok(text) => Ok(Some(text)),
            Err(_) => Ok(None),
        }
    });
    env.set_path_join_callback(|name, _parent| {
        if name.starts_with('/') {
            return name.to_string().into();
        }
        SEARCH_PATH.with(|sp| {
            for dir in sp.borrow().iter() {
                let cand = std::path::Path::new(dir).join(name);
                if cand.is_file() {
                    return cand.to_string_lossy().into_owned().into();
                }
            }
            name.to_string().into()
        })
    });
    env.set_formatter(|out, _state, value| {
        if value.is_undefined() {
            return Err(minijinja::Error::from(ErrorKind::UndefinedError));
        }
        OUTPUTS.with(|o| {
            if let Some(top) = o.borrow_mut().last_mut() {
                top.0 += 1;
                top.1 = Some(value.clone());
            }
        });
        // ansible-core 2.19 prints a bare None as nothing inside text.
        if value.is_none() {
            return Ok(());
        }
        let text = convert::py_str_mj(value);
        out.write_str(&text)
            .map_err(|_| minijinja::Error::new(ErrorKind::WriteFailure, "write failed"))
    });
    // `a.b.c` that yields undefined as soon as a link is missing; used for
    // chains guarded by `default` or `is defined` (see `rewrite`).
    env.add_function(
        "__herd_chain",
        |root: minijinja::Value, segs: minijinja::value::Rest<minijinja::Value>| {
            let mut cur = root;
            for seg in segs.iter() {
                if cur.is_undefined() || cur.is_none() {
                    return minijinja::Value::UNDEFINED;
                }
                cur = match seg.as_str() {
                    Some(name) => cur.get_attr(name).unwrap_or(minijinja::Value::UNDEFINED),
                    None => cur.get_item(seg).unwrap_or(minijinja::Value::UNDEFINED),
                };
            }
            cur
        },
    );
    // ansible-core 2.19's `undef(hint)`: an undefined value on purpose.
    env.add_function("undef", |_hint: Option<String>| minijinja::Value::UNDEFINED);
    // Python's `'%s' % x` (see `rewrite`).
    env.add_function(
        "__herd_percent",
        |fmt: String, args: minijinja::value::Rest<minijinja::Value>| {
            let mut vals = Vec::new();
            for a in args.iter() {
                if a.is_undefined() {
                    return Err(minijinja::Error::from(ErrorKind::UndefinedError));
                }
                vals.push(from_mj(a)?);
            }
            pyformat::format(&fmt, &vals)
                .map(minijinja::Value::from)
                .map_err(op_error)
        },
    );
    env.add_function("__herd_capture", |v: minijinja::Value| {
        if v.is_undefined() {
            return Err(minijinja::Error::from(ErrorKind::UndefinedError));
        }
        CAPTURED.with(|c| *c.borrow_mut() = Some(v));
        Ok(minijinja::Value::from(()))
    });
    env.set_unknown_method_callback(|state, value, method, args| {
        // `list.index(x)`, missing from minijinja's Python compatibility.
        if method == "index" && value.kind() == minijinja::value::ValueKind::Seq {
            let needle = args.first().cloned().unwrap_or_default();
            for (i, item) in value.try_iter()?.enumerate() {
                if item == needle {
                    return Ok(minijinja::Value::from(i));
                }
            }
            return Err(op_error(format!(
                "{} is not in list",
                convert::py_str_mj(&needle)
            )));
        }
        minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args)
    });
    filters::register(&mut env);
    filters::guard_builtins(&mut env);
    tests::register(&mut env);
    lookups::register(&mut env);
    datetime::register(&mut env);
    env
}

/// What went wrong while rendering, before it is phrased for the user.
pub(crate) enum RenderError {
    Jinja(minijinja::Error),
}

impl From<minijinja::Error> for RenderError {
    fn from(e: minijinja::Error) -> Self {
        RenderError::Jinja(e)
    }
}

thread_local! {
    /// Where included templates are looked for during the current
    /// template file render.
    static SEARCH_PATH: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Sets the include search path for the duration of a render.
struct SearchPathGuard(Vec<String>);

impl SearchPathGuard {
    fn set(paths: &[String]) -> SearchPathGuard {
        SearchPathGuard(
            SEARCH_PATH.with(|sp| std::mem::replace(&mut *sp.borrow_mut(), paths.to_vec())),
        )
    }
}

impl Drop for SearchPathGuard {
    fn drop(&mut self) {
        let old = std::mem::take(&mut self.0);
        SEARCH_PATH.with(|sp| *sp.borrow_mut() = old);
    }
}

thread_local! {
    /// For each template being rendered on this thread, innermost last: how
    /// many `{{ }}` values it printed, and the last one.
    static OUTPUTS: std::cell::RefCell<Vec<(usize, Option<minijinja::Value>)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs a render, counting the `{{ }}` values it prints (those of templates
/// it renders in turn are theirs): the result, the count and the last value.
fn counting_outputs<T>(f: impl FnOnce() -> T) -> (T, usize, Option<minijinja::Value>) {
    struct Frame;
    impl Drop for Frame {
        fn drop(&mut self) {
            OUTPUTS.with(|o| o.borrow_mut().pop());
        }
    }
    OUTPUTS.with(|o| o.borrow_mut().push((0, None)));
    let frame = Frame;
    let r = f();
    let (n, last) = OUTPUTS.with(|o| {
        o.borrow_mut()
            .last_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    });
    drop(frame);
    (r, n, last)
}

thread_local! {
    /// The value handed over by `__herd_capture` (see [`eval_cached`]).
    static CAPTURED: std::cell::RefCell<Option<minijinja::Value>> = const { std::cell::RefCell::new(None) };
}

/// Evaluates an expression to its value. The expression is compiled once,
/// as a template that passes its value to `__herd_capture`, and kept in the
/// environment's template cache; compiling a bare expression each time
/// costs about as much as evaluating it.
fn eval_cached(
    env: &Environment<'static>,
    expr: &str,
    ctx: &minijinja::Value,
) -> Result<minijinja::Value, minijinja::Error> {
    let name = format!("{INLINE}{{{{ __herd_capture(({expr})) }}}}");
    let tmpl = env.get_template(&name)?;
    counting_outputs(|| tmpl.render(ctx)).0?;
    // Nested renders (lazy variables) take their own value before this
    // template's capture runs, so the slot holds this expression's value.
    CAPTURED
        .with(|c| c.borrow_mut().take())
        .ok_or_else(|| minijinja::Error::from(ErrorKind::UndefinedError))
}

/// Drops the `ansible.builtin.` / `ansible.legacy.` prefix of filter and
/// test names (`x | ansible.builtin.to_json`, `x is ansible.builtin.match`):
/// herd's filters and tests are the builtin ones.
fn strip_fqcn(text: &str) -> String {
    if !text.contains("ansible.builtin.") && !text.contains("ansible.legacy.") {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let next = ["ansible.builtin.", "ansible.legacy."]
            .iter()
            .filter_map(|p| rest.find(p).map(|i| (i, p.len())))
            .min();
        let Some((i, len)) = next else {
            out.push_str(rest);
            return out;
        };
        let before = rest[..i].trim_end();
        let is_name = before.ends_with('|')
            || before.ends_with(" is")
            || before.ends_with(" not")
            || before.ends_with("(is");
        out.push_str(&rest[..i]);
        if !is_name {
            out.push_str(&rest[i..i + len]);
        }
        rest = &rest[i + len..];
    }
}

/// Splits `{{ expr }}` into `expr` when that is the whole string.
fn single_expression(text: &str) -> Option<&str> {
    // Jinja drops one trailing newline of the source; any other text
    // around the expression makes the result a string (checked with
    // ansible-core 2.19: "  {{ 1 }}  " is "  1  ", "{{ 1 }}\n" is 1).
    let t = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(text);
    let inner = t.strip_prefix("{{")?.strip_suffix("}}")?;
    if inner.contains("{{") || inner.contains("}}") || inner.contains("{%") || inner.contains("{#")
    {
        return None;
    }
    let inner = inner.strip_prefix(['-', '+']).unwrap_or(inner);
    let inner = inner.strip_suffix(['-', '+']).unwrap_or(inner);
    if inner.trim().is_empty() {
        return None;
    }
    Some(inner)
}

/// A first line `#jinja2: trim_blocks: False, lstrip_blocks: True`
/// overrides the template options for that file, as in Ansible; the line
/// itself is not part of the output.
fn jinja2_overrides<'t>(
    text: &'t str,
    opts: &TemplateFileOptions,
) -> Result<(&'t str, TemplateFileOptions), Diagnostic> {
    let Some(rest) = text.strip_prefix("#jinja2:") else {
        return Ok((text, opts.clone()));
    };
    let bad = |m: String| Diagnostic::new(m).code(exit::HOST_FAILED);
    let Some(eol) = rest.find('\n') else {
        return Err(bad("Missing newline after '#jinja2:' override.".into()));
    };
    let mut out = opts.clone();
    for pair in rest[..eol].split(',') {
        let Some((key, val)) = pair.split_once(':') else {
            return Err(bad(format!(
                "Missing key-value separator `:` in '#jinja2:' override pair '{pair}'."
            )));
        };
        let val = val.trim();
        let text_val = || -> Result<String, Diagnostic> {
            let unquoted = val
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .or_else(|| val.strip_prefix('"').and_then(|v| v.strip_suffix('"')));
            let v = unquoted.ok_or_else(|| {
                bad(format!(
                    "'#jinja2:' override '{}' needs a quoted string, got {val}",
                    key.trim()
                ))
            })?;
            Ok(v.replace("\\n", "\n").replace("\\r", "\r"))
        };
        let flag = || -> Result<bool, Diagnostic> {
            match val {
                "True" => Ok(true),
                "False" => Ok(false),
                other => Err(bad(format!(
                    "'#jinja2:' override '{}' needs True or False, got {other}",
                    key.trim()
                ))),
            }
        };
        match key.trim() {
            "trim_blocks" => out.trim_blocks = flag()?,
            "lstrip_blocks" => out.lstrip_blocks = flag()?,
            // Trailing newlines are always kept, as the template module does.
            "keep_trailing_newline" => {
                flag()?;
            }
            "newline_sequence" => out.newline_sequence = text_val()?,
            "block_start_string" => out.block_start_string = text_val()?,
            "block_end_string" => out.block_end_string = text_val()?,
            "variable_start_string" => out.variable_start_string = text_val()?,
            "variable_end_string" => out.variable_end_string = text_val()?,
            "comment_start_string" => out.comment_start_string = text_val()?,
            "comment_end_string" => out.comment_end_string = text_val()?,
            other => {
                return Err(bad(format!("Invalid '#jinja2:' override key '{other}'.")));
            }
        }
    }
    Ok((&rest[eol + 1..], out))
}

/// `opts` with the settings that do not change how the text is read
/// (newlines, search path) set to their defaults.
fn default_options_of(opts: &TemplateFileOptions) -> TemplateFileOptions {
    TemplateFileOptions {
        newline_sequence: "\n".into(),
        search_path: Vec::new(),
        ..opts.clone()
    }
}

/// Whether a failed template might succeed when undefined values chain:
/// only templates that test for undefined values can. Used for template
/// files with custom delimiters, which the chain rewriting cannot read.
fn may_chain(text: &str) -> bool {
    text.contains("default")
        || text.contains("defined")
        || text.contains("d(")
        || text.contains("| d")
        || text.contains("|d")
        || text.contains("omit")
}

impl Templar {
    pub fn new() -> Templar {
        let opts = TemplateFileOptions::default();
        Templar {
            envs: Arc::new(Envs {
                strict: build_env(UndefinedBehavior::Strict, &opts),
            }),
        }
    }

    fn context(&self, vars: &Vars) -> (Arc<VarsObject>, vars::ScopeGuard) {
        VarsObject::borrowed(self.clone(), vars, Arc::new(ErrorSink::default()))
    }

    /// Render a string. A string with no template markers is returned
    /// as-is. A string that is exactly one `{{ expr }}` evaluates to the
    /// native value; anything else renders to text.
    pub fn render_str(&self, text: &str, vars: &Vars) -> Result<Value, Diagnostic> {
        if !is_template(text) {
            return Ok(Value::String(text.to_string()));
        }
        let (ctx, _guard) = self.context(vars);
        let r = self.render_str_in(text, &ctx);
        self.finish(r, text, &ctx)
    }

    /// Recursively render every string inside lists and dicts (keys too).
    /// `!unsafe` strings come back unrendered, as plain strings.
    pub fn render_value(&self, v: &Value, vars: &Vars) -> Result<Value, Diagnostic> {
        if !convert::needs_render(v) {
            return Ok(v.clone());
        }
        let (ctx, _guard) = self.context(vars);
        let r = self.render_value_in(v, &ctx);
        self.finish(r, &crate::value::py_str(v), &ctx)
    }

    /// Evaluate a bare Jinja expression (no braces) to a value.
    pub fn eval_expr(&self, expr: &str, vars: &Vars) -> Result<Value, Diagnostic> {
        let (ctx, _guard) = self.context(vars);
        let r = self.eval_in(expr, &ctx);
        self.finish(r, expr, &ctx)
    }

    /// A `when:`-style conditional; the result must be a boolean.
    pub fn eval_condition(&self, expr: &str, vars: &Vars) -> Result<bool, Diagnostic> {
        let (ctx, _guard) = self.context(vars);
        self.condition_in(expr, &ctx)
    }

    /// A list of conditionals, all of which must hold. Booleans in the list
    /// are taken as they are.
    pub fn eval_conditions(&self, conds: &[Value], vars: &Vars) -> Result<bool, Diagnostic> {
        let (ctx, _guard) = self.context(vars);
        for c in conds {
            let ok = match c {
                Value::Bool(b) => *b,
                Value::String(s) => self.condition_in(s, &ctx)?,
                other => {
                    return Err(cond_type_error(
                        crate::value::type_name(other),
                        if crate::value::truthy(other) {
                            "True"
                        } else {
                            "False"
                        },
                    ))
                }
            };
            if !ok {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Render a whole template file's text, as the `template` module does.
    pub fn render_template_file(
        &self,
        text: &str,
        vars: &Vars,
        opts: &TemplateFileOptions,
    ) -> Result<String, Diagnostic> {
        let (text, overridden) = jinja2_overrides(text, opts)?;
        let opts = &overridden;
        let (ctx, _guard) = self.context(vars);
        let _search = SearchPathGuard::set(&opts.search_path);
        let ctx_value = minijinja::Value::from_dyn_object(ctx.clone());
        let default_syntax = default_options_of(opts) == TemplateFileOptions::default();
        let r = if default_syntax {
            self.run(|env| {
                env.get_template(&format!("{INLINE}{text}"))?
                    .render(&ctx_value)
            })
        } else {
            let strict = build_env(UndefinedBehavior::Strict, opts);
            let default_delimiters = TemplateFileOptions {
                trim_blocks: true,
                lstrip_blocks: false,
                ..default_options_of(opts)
            } == TemplateFileOptions::default();
            let src = if default_delimiters {
                rewrite::rewrite_chains(&strip_fqcn(text))
            } else {
                strip_fqcn(text)
            };
            match strict.render_str(&src, &ctx_value) {
                // Custom delimiters cannot be rewritten; retry with chaining
                // undefined values when the template guards against them.
                Err(e)
                    if e.kind() == ErrorKind::UndefinedError
                        && !default_delimiters
                        && may_chain(text) =>
                {
                    build_env(UndefinedBehavior::Chainable, opts).render_str(&src, &ctx_value)
                }
                r => r,
            }
            .map_err(RenderError::from)
        };
        let out = keep_trailing_newlines(text, self.finish(r, text, &ctx)?);
        Ok(match opts.newline_sequence.as_str() {
            "\n" | "" => out,
            nl => out.replace("\r\n", "\n").replace('\n', nl),
        })
    }

    /// Runs `f` in the environment.
    fn run<T>(
        &self,
        f: impl Fn(&Environment<'static>) -> Result<T, minijinja::Error>,
    ) -> Result<T, RenderError> {
        f(&self.envs.strict).map_err(RenderError::from)
    }

    pub(crate) fn render_str_in(
        &self,
        text: &str,
        ctx: &Arc<VarsObject>,
    ) -> Result<Value, RenderError> {
        if !is_template(text) {
            return Ok(Value::String(text.to_string()));
        }
        let ctx_value = minijinja::Value::from_dyn_object(ctx.clone());
        if let Some(expr) = single_expression(text) {
            let v = self.run(|env| {
                let v = eval_cached(env, expr, &ctx_value)?;
                if v.is_undefined() {
                    return Err(minijinja::Error::from(ErrorKind::UndefinedError));
                }
                Ok(v)
            })?;
            let value = from_mj(&v)?;
            // A string keeps the newlines written after the expression (as
            // ansible-core 2.19 renders "{{ x }}\n"); other types are
            // native values and drop them.
            return Ok(match value {
                Value::String(s) => Value::String(keep_trailing_newlines(text, s)),
                other => other,
            });
        }
        let (out, printed, last) = counting_outputs(|| {
            self.run(|env| {
                env.get_template(&format!("{INLINE}{text}"))?
                    .render(&ctx_value)
            })
        });
        let out = out?;
        // As ansible-core 2.19's native rendering: a template whose only
        // output is one `{{ }}` value (statements and comments print
        // nothing) is that value, of its own type; one that prints nothing
        // is None; anything else is the text.
        match last {
            None if printed == 0 && out.is_empty() => return Ok(Value::Null),
            Some(v) if printed >= 1 && !v.is_undefined() => {
                let shown = if v.is_none() {
                    String::new()
                } else {
                    convert::py_str_mj(&v)
                };
                if shown == out {
                    match from_mj(&v)? {
                        Value::String(_) => {}
                        native => return Ok(native),
                    }
                }
            }
            _ => {}
        }
        Ok(Value::String(keep_trailing_newlines(text, out)))
    }

    pub(crate) fn render_value_in(
        &self,
        v: &Value,
        ctx: &Arc<VarsObject>,
    ) -> Result<Value, RenderError> {
        if let Some(s) = as_unsafe(v) {
            return Ok(Value::String(s.to_string()));
        }
        Ok(match v {
            Value::String(s) => self.render_str_in(s, ctx)?,
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| self.render_value_in(i, ctx))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(m) => {
                if let Some(text) = crate::value::as_vault(v) {
                    // An inline `!vault` value is its plaintext, rendered
                    // like any other string.
                    return match crate::vault::decrypt_inline(text, None) {
                        Ok(plain) => self.render_str_in(&plain, ctx),
                        Err(d) => {
                            ctx.sink.set_hard(d.code(exit::HOST_FAILED));
                            Err(RenderError::Jinja(minijinja::Error::new(
                                ErrorKind::InvalidOperation,
                                "a vault value could not be decrypted",
                            )))
                        }
                    };
                }
                let mut out = Map::new();
                for (k, item) in m {
                    let key = if is_template(k) {
                        crate::value::py_str(&self.render_str_in(k, ctx)?)
                    } else {
                        k.clone()
                    };
                    out.insert(key, self.render_value_in(item, ctx)?);
                }
                Value::Object(out)
            }
            other => other.clone(),
        })
    }

    /// Renders a template file's text with the default file options.
    pub(crate) fn render_file_in(
        &self,
        text: &str,
        ctx: &Arc<VarsObject>,
        search_path: &[String],
    ) -> Result<String, RenderError> {
        let _search = SearchPathGuard::set(search_path);
        let ctx_value = minijinja::Value::from_dyn_object(ctx.clone());
        let out = self.run(|env| {
            env.get_template(&format!("{INLINE}{text}"))?
                .render(&ctx_value)
        })?;
        Ok(keep_trailing_newlines(text, out))
    }

    fn eval_in(&self, expr: &str, ctx: &Arc<VarsObject>) -> Result<Value, RenderError> {
        let ctx_value = minijinja::Value::from_dyn_object(ctx.clone());
        let v = self.run(|env| {
            let v = eval_cached(env, expr, &ctx_value)?;
            if v.is_undefined() {
                return Err(minijinja::Error::from(ErrorKind::UndefinedError));
            }
            Ok(v)
        })?;
        Ok(from_mj(&v)?)
    }

    fn condition_in(&self, expr: &str, ctx: &Arc<VarsObject>) -> Result<bool, Diagnostic> {
        let mut e = expr.trim();
        // `when: "{{ x }}"` is accepted by Ansible (with a warning): the
        // braces are taken off.
        if let Some(inner) = single_expression(e) {
            e = inner.trim();
        }
        if e.is_empty() {
            return Ok(true);
        }
        let r = self.eval_in(e, ctx);
        let v = self.finish(r, expr, ctx)?;
        match v {
            Value::Bool(b) => Ok(b),
            other => Err(cond_type_error(
                crate::value::type_name(&other),
                if crate::value::truthy(&other) {
                    "True"
                } else {
                    "False"
                },
            )
            .hint(format!(
                "the conditional was: {expr}; compare explicitly (e.g. `x | bool` or `x == 'yes'`)"
            ))),
        }
    }

    /// Turns a render result into the user-facing one, naming undefined
    /// variables and reporting errors found while rendering nested variables.
    fn finish<T>(
        &self,
        r: Result<T, RenderError>,
        text: &str,
        ctx: &Arc<VarsObject>,
    ) -> Result<T, Diagnostic> {
        if let Some(d) = ctx.sink.take_hard() {
            return Err(d);
        }
        match r {
            Ok(v) => Ok(v),
            Err(RenderError::Jinja(e)) => Err(self.describe(&e, text, ctx)),
        }
    }

    fn describe(&self, e: &minijinja::Error, text: &str, ctx: &Arc<VarsObject>) -> Diagnostic {
        // A filter or lookup that already phrased its error fully.
        if let Some(d) = find_diag(e) {
            return d;
        }
        let msg = match e.kind() {
            ErrorKind::UndefinedError if e.detail() == Some(filters::MANDATORY) => {
                let why = vars::name_undefined(&self.envs.strict, text, ctx).unwrap_or_default();
                match why
                    .split('\'')
                    .nth(1)
                    .filter(|_| why.ends_with("is undefined"))
                {
                    Some(name) => format!(
                        "The filter plugin 'ansible.builtin.mandatory' failed: Mandatory variable '{name}' not defined."
                    ),
                    None => "The filter plugin 'ansible.builtin.mandatory' failed: Mandatory variable not defined.".to_string(),
                }
            }
            ErrorKind::UndefinedError => vars::name_undefined(&self.envs.strict, text, ctx)
                .unwrap_or_else(|| match e.line() {
                    Some(n) if text.contains('\n') => {
                        format!("an undefined value was used on line {n} of the template")
                    }
                    _ => "an undefined value was used".to_string(),
                }),
            ErrorKind::SyntaxError => {
                return Diagnostic::new(format!(
                    "Syntax error in template: {}. String: {text}",
                    e.detail().unwrap_or("syntax error")
                ))
                .code(exit::HOST_FAILED)
            }
            ErrorKind::UnknownFilter => format!(
                "No filter named '{}'.",
                unknown_name(e.detail().unwrap_or("?"), "filter ")
            ),
            ErrorKind::UnknownTest => format!(
                "No test named '{}'.",
                unknown_name(e.detail().unwrap_or("?"), "test ")
            ),
            _ => match e.detail() {
                Some(d) => d.to_string(),
                None => e.kind().to_string(),
            },
        };
        Diagnostic::new(msg)
            .code(exit::HOST_FAILED)
            .hint(format!("in template: {text}"))
    }
}

/// The name in minijinja's "filter NAME is unknown".
fn unknown_name<'a>(detail: &'a str, kind: &str) -> &'a str {
    detail
        .strip_prefix(kind)
        .and_then(|d| d.strip_suffix(" is unknown"))
        .unwrap_or(detail)
}

fn cond_type_error(ty: &str, truth: &str) -> Diagnostic {
    Diagnostic::new(format!(
        "Conditional result ({truth}) was derived from value of type '{ty}'. Conditionals must have a boolean result."
    ))
    .code(exit::HOST_FAILED)
}

/// Diagnostics raised inside filters and lookups travel through minijinja
/// as the source of an error; this finds them again.
pub(crate) fn find_diag(e: &minijinja::Error) -> Option<Diagnostic> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(err) = cur {
        if let Some(d) = err.downcast_ref::<Diagnostic>() {
            return Some(d.clone());
        }
        cur = err.source();
    }
    None
}

/// A minijinja error carrying a fully phrased [`Diagnostic`].
pub(crate) fn diag_error(d: Diagnostic) -> minijinja::Error {
    minijinja::Error::new(ErrorKind::InvalidOperation, d.message.clone()).with_source(d)
}

/// A minijinja error for a filter, test or lookup with a plain message.
pub(crate) fn op_error(msg: impl Into<String>) -> minijinja::Error {
    diag_error(Diagnostic::new(msg).code(exit::HOST_FAILED))
}
