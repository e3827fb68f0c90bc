//! Argument validation: the one way a module turns its raw arguments into
//! typed values.
//!
//! A module declares its parameters once, as a static [`Spec`]; [`Spec::validate`]
//! checks the task's arguments against it as Ansible's `AnsibleModule` does
//! (unknown names, aliases, required, types, choices, mutually exclusive
//! groups) and returns [`Args`], from which the module reads typed values.
//! The error messages follow Ansible's wording, so users searching for them
//! find the same answers, with a "did you mean" added for misspelt names.

use serde_json::{Map, Value};

use crate::api::{ExecOptions, Host, HostError, ModuleContext, Outcome};

/// The type of one parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A string; numbers and booleans are converted as Python's `str()`.
    Str,
    /// A path: a string (kept as given).
    Path,
    /// A boolean, from Ansible's boolean strings (yes/no, true/false,
    /// on/off, y/n, t/f, 1/0) in any case.
    Bool,
    /// An integer, from a number or a string of digits.
    Int,
    /// A list of strings; a string is split on commas.
    List,
    /// A file mode: an octal string (`'0644'`), an integer (YAML `0644`),
    /// a symbolic mode (`u+x,g-w`), or `preserve` where allowed.
    Mode,
    /// Any value, kept as given.
    Raw,
}

/// One parameter of a module.
#[derive(Clone, Copy, Debug)]
pub struct Param {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
    pub aliases: &'static [&'static str],
    pub choices: &'static [&'static str],
    /// The value used when the argument is not given, as Ansible's
    /// documentation states it (shown by `herd doc`).
    pub default: Option<&'static str>,
}

impl Param {
    pub const fn new(name: &'static str, kind: Kind) -> Param {
        Param {
            name,
            kind,
            required: false,
            aliases: &[],
            choices: &[],
            default: None,
        }
    }
    pub const fn str(name: &'static str) -> Param {
        Param::new(name, Kind::Str)
    }
    pub const fn path(name: &'static str) -> Param {
        Param::new(name, Kind::Path)
    }
    pub const fn bool(name: &'static str) -> Param {
        Param::new(name, Kind::Bool)
    }
    pub const fn int(name: &'static str) -> Param {
        Param::new(name, Kind::Int)
    }
    pub const fn list(name: &'static str) -> Param {
        Param::new(name, Kind::List)
    }
    pub const fn mode(name: &'static str) -> Param {
        Param::new(name, Kind::Mode)
    }
    pub const fn raw(name: &'static str) -> Param {
        Param::new(name, Kind::Raw)
    }
    pub const fn required(mut self) -> Param {
        self.required = true;
        self
    }
    pub const fn aliases(mut self, aliases: &'static [&'static str]) -> Param {
        self.aliases = aliases;
        self
    }
    pub const fn choices(mut self, choices: &'static [&'static str]) -> Param {
        self.choices = choices;
        self
    }
    pub const fn default(mut self, value: &'static str) -> Param {
        self.default = Some(value);
        self
    }
}

/// The parameters of one module.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    /// Short module name, e.g. `file`.
    pub module: &'static str,
    pub params: &'static [Param],
    /// Groups of which at most one may be given.
    pub mutually_exclusive: &'static [&'static [&'static str]],
    /// Groups of which at least one must be given.
    pub required_one_of: &'static [&'static [&'static str]],
}

/// A file mode as the user wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Numeric permission bits.
    Octal(u32),
    /// Symbolic, e.g. `u+rwx,g-w,o=r`, applied to the current mode.
    Symbolic(String),
    /// `preserve` (copy, template): the source file's mode.
    Preserve,
}

/// A validated argument value.
#[derive(Clone, Debug, PartialEq)]
pub enum Arg {
    Str(String),
    Bool(bool),
    Int(i64),
    List(Vec<String>),
    Mode(Mode),
    Raw(Value),
}

/// Validated arguments, by canonical parameter name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Args {
    values: Vec<(&'static str, Arg)>,
    /// Names of the `path` arguments, whose `~` is the remote user's home.
    paths: Vec<&'static str>,
}

impl Args {
    /// Expands a leading `~` (`~`, `~/x`) of path arguments to the home
    /// directory of the user on the host, as Ansible's `type='path'`
    /// does there. Costs a round trip only when some path starts with `~`.
    pub async fn expand_user(&mut self, host: &dyn Host) -> Result<(), HostError> {
        let needs = |v: &Arg| matches!(v, Arg::Str(s) if s == "~" || s.starts_with("~/"));
        if !self
            .values
            .iter()
            .any(|(n, v)| self.paths.contains(n) && needs(v))
        {
            return Ok(());
        }
        let r = host
            .exec("printf %s \"$HOME\"", &ExecOptions::default())
            .await?;
        let home = r.stdout_text();
        if home.is_empty() {
            return Ok(());
        }
        for (n, v) in self.values.iter_mut() {
            if let Arg::Str(s) = v {
                if self.paths.contains(n) && (s == "~" || s.starts_with("~/")) {
                    *s = format!("{home}{}", &s[1..]);
                }
            }
        }
        Ok(())
    }

    fn get(&self, name: &str) -> Option<&Arg> {
        self.values.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// Whether the argument was given (and not null).
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn str(&self, name: &str) -> Option<String> {
        match self.get(name)? {
            Arg::Str(s) => Some(s.clone()),
            _ => None,
        }
    }

    pub fn str_or(&self, name: &str, default: &str) -> String {
        self.str(name).unwrap_or_else(|| default.to_string())
    }

    pub fn bool_or(&self, name: &str, default: bool) -> bool {
        match self.get(name) {
            Some(Arg::Bool(b)) => *b,
            _ => default,
        }
    }

    pub fn bool(&self, name: &str) -> Option<bool> {
        match self.get(name)? {
            Arg::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn int(&self, name: &str) -> Option<i64> {
        match self.get(name)? {
            Arg::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn list(&self, name: &str) -> Option<Vec<String>> {
        match self.get(name)? {
            Arg::List(l) => Some(l.clone()),
            _ => None,
        }
    }

    pub fn mode(&self, name: &str) -> Option<Mode> {
        match self.get(name)? {
            Arg::Mode(m) => Some(m.clone()),
            _ => None,
        }
    }

    pub fn raw(&self, name: &str) -> Option<&Value> {
        match self.get(name)? {
            Arg::Raw(v) => Some(v),
            _ => None,
        }
    }
}

/// Ansible's boolean strings.
pub fn parse_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_f64() {
            Some(1.0) => Some(true),
            Some(0.0) => Some(false),
            _ => None,
        },
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "y" | "yes" | "on" | "1" | "true" | "t" => Some(true),
            "n" | "no" | "off" | "0" | "false" | "f" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A value as Python's `str()` prints it, for string parameters given a
/// number or boolean.
fn to_str(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(true) => Some("True".into()),
        Value::Bool(false) => Some("False".into()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Python's name of a value's type, for conversion errors.
fn py_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// Reads a mode as Ansible's file modules do: an integer is taken as the
/// permission bits, a string of octal digits as octal, anything else as a
/// symbolic mode (checked here so a typo fails before the host is touched).
pub fn parse_mode(v: &Value) -> Result<Mode, String> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .filter(|m| *m <= 0o7777)
            .map(|m| Mode::Octal(m as u32))
            .ok_or_else(|| format!("mode must be in octal or symbolic form, got {n}")),
        Value::String(s) if s == "preserve" => Ok(Mode::Preserve),
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            u32::from_str_radix(s, 8)
                .ok()
                .filter(|m| *m <= 0o7777)
                .map(Mode::Octal)
                .ok_or_else(|| format!("mode must be in octal or symbolic form: {s:?} is not"))
        }
        Value::String(s) => {
            apply_symbolic_mode(0, s, false)?;
            Ok(Mode::Symbolic(s.clone()))
        }
        other => Err(format!(
            "mode must be in octal or symbolic form, got a {}",
            py_type(other)
        )),
    }
}

/// Applies a symbolic mode (`u+x,g-w,o=r`, `a=rX`, `g=u`) to `current`, as
/// chmod(1) does; `is_dir` matters for `X`. A missing who means `a`
/// (Ansible ignores the umask here, and so does herd).
pub fn apply_symbolic_mode(current: u32, spec: &str, is_dir: bool) -> Result<u32, String> {
    let bad =
        || format!("mode must be in octal or symbolic form: {spec:?} is not a valid symbolic mode");
    let mut mode = current & 0o7777;
    for clause in spec.split(',') {
        let op_at = clause.find(['+', '-', '=']).ok_or_else(bad)?;
        let (who, rest) = clause.split_at(op_at);
        let mut mask = 0u32;
        for c in who.chars() {
            mask |= match c {
                'u' => 0o4700,
                'g' => 0o2070,
                'o' => 0o1007,
                'a' => 0o7777,
                _ => return Err(bad()),
            };
        }
        if who.is_empty() {
            mask = 0o7777;
        }
        // Several operations may follow one who: `u+x-w`.
        let mut chars = rest.chars().peekable();
        while let Some(op) = chars.next() {
            if !matches!(op, '+' | '-' | '=') {
                return Err(bad());
            }
            let mut bits = 0u32;
            while let Some(&c) = chars.peek() {
                if matches!(c, '+' | '-' | '=') {
                    break;
                }
                chars.next();
                bits |= match c {
                    'r' => 0o444,
                    'w' => 0o222,
                    'x' => 0o111,
                    'X' => {
                        if is_dir || mode & 0o111 != 0 {
                            0o111
                        } else {
                            0
                        }
                    }
                    's' => 0o6000,
                    't' => 0o1000,
                    // Copy another class's bits onto the targets.
                    'u' => {
                        let b = (mode >> 6) & 7;
                        b | (b << 3) | (b << 6)
                    }
                    'g' => {
                        let b = (mode >> 3) & 7;
                        b | (b << 3) | (b << 6)
                    }
                    'o' => {
                        let b = mode & 7;
                        b | (b << 3) | (b << 6)
                    }
                    _ => return Err(bad()),
                };
            }
            let bits = bits & mask;
            match op {
                '+' => mode |= bits,
                '-' => mode &= !bits,
                _ => {
                    // `=` clears the classes' bits, special bits included.
                    mode = (mode & !mask) | bits;
                }
            }
        }
    }
    Ok(mode)
}

/// Edit distance counting a swap of neighbours as one edit (typos are
/// often swaps), for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    d[0] = (0..=b.len()).collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

/// The closest known name to `name`, if close enough to be a typo.
pub fn did_you_mean<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known
        .into_iter()
        .map(|k| (distance(name, k), k))
        .filter(|(d, k)| *d <= (k.len().max(name.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

impl Spec {
    /// Validates the task's arguments and expands `~` in paths: what every
    /// module does first. An invalid argument is a failed outcome.
    pub async fn parse(&self, ctx: &ModuleContext<'_>) -> Result<Result<Args, Outcome>, HostError> {
        match self.validate(ctx.args) {
            Ok(mut a) => {
                a.expand_user(ctx.host).await?;
                Ok(Ok(a))
            }
            Err(e) => Ok(Err(Outcome::failed(e))),
        }
    }

    /// The module's full name as Ansible prints it in argument errors
    /// (`ansible.posix.authorized_key`, `ansible.builtin.copy`).
    fn fqcn(&self) -> String {
        crate::lookup(self.module)
            .map(|m| m.fqcn())
            .unwrap_or_else(|| format!("ansible.builtin.{}", self.module))
    }

    fn find(&self, key: &str) -> Option<&'static Param> {
        self.params
            .iter()
            .find(|p| p.name == key || p.aliases.contains(&key))
    }

    /// Every accepted name, for messages, as Ansible lists them: the
    /// names sorted, then every alias sorted, in parentheses.
    fn supported(&self) -> String {
        let mut names: Vec<&str> = self.params.iter().map(|p| p.name).collect();
        names.sort_unstable();
        let mut aliases: Vec<&str> = self
            .params
            .iter()
            .flat_map(|p| p.aliases)
            .copied()
            .collect();
        aliases.sort_unstable();
        let mut out = names.join(", ");
        if !aliases.is_empty() {
            out.push_str(&format!(" ({})", aliases.join(", ")));
        }
        out
    }

    /// Checks `raw` against the spec. Keys starting with `_ansible_` are
    /// the engine's and are ignored, as Ansible does; null values count as
    /// not given.
    pub fn validate(&self, raw: &Map<String, Value>) -> Result<Args, String> {
        // Ansible reports the first of its checks that fails, in this
        // order: aliases, mutually exclusive, required, types, choices,
        // required_one_of, and unsupported names last.
        let mut unknown = Vec::new();
        let mut given: Vec<(&'static Param, &str, &Value)> = Vec::new();
        for (key, value) in raw {
            if key.starts_with("_ansible_") {
                continue;
            }
            match self.find(key) {
                Some(p) => given.push((p, key, value)),
                None => unknown.push(key.as_str()),
            }
        }
        given.retain(|(_, _, v)| !v.is_null());
        for (i, (p, key, _)) in given.iter().enumerate() {
            if given[..i].iter().any(|(q, _, _)| q.name == p.name) {
                return Err(format!(
                    "{}: both option {} and its alias {key} are set.",
                    self.fqcn(),
                    p.name
                ));
            }
        }
        let is_set = |n: &str| given.iter().any(|(p, _, _)| p.name == n);
        for group in self.mutually_exclusive {
            let set: Vec<&str> = group.iter().copied().filter(|n| is_set(n)).collect();
            if set.len() > 1 {
                return Err(format!(
                    "parameters are mutually exclusive: {}",
                    group.join("|")
                ));
            }
        }
        let mut missing: Vec<&str> = self
            .params
            .iter()
            .filter(|p| p.required && !is_set(p.name))
            .map(|p| p.name)
            .collect();
        if !missing.is_empty() {
            missing.sort_unstable();
            return Err(format!(
                "missing required arguments: {}",
                missing.join(", ")
            ));
        }
        let mut args = Args::default();
        let mut converted = Vec::new();
        for p in self.params {
            if let Some((_, _, value)) = given.iter().find(|(q, _, _)| q.name == p.name) {
                converted.push((p, convert(p, value)?, *value));
            }
        }
        for (p, arg, value) in converted {
            if !p.choices.is_empty() {
                let shown = match &arg {
                    Arg::Str(s) => s.clone(),
                    _ => value.to_string(),
                };
                if !p.choices.contains(&shown.as_str()) {
                    return Err(format!(
                        "value of {} must be one of: {}, got: {shown}",
                        p.name,
                        p.choices.join(", ")
                    ));
                }
            }
            if p.kind == Kind::Path {
                args.paths.push(p.name);
            }
            args.values.push((p.name, arg));
        }
        for group in self.required_one_of {
            if !group.iter().any(|n| args.has(n)) {
                return Err(format!(
                    "one of the following is required: {}",
                    group.join(", ")
                ));
            }
        }
        if !unknown.is_empty() {
            unknown.sort_unstable();
            // The module as the task named it (the engine passes that
            // name, as Ansible's does), else its fully qualified name.
            let module = match raw.get("_ansible_module_name") {
                Some(Value::String(n)) => n.clone(),
                _ => self.fqcn(),
            };
            let mut msg = format!(
                "Unsupported parameters for ({module}) module: {}. Supported parameters include: {}.",
                unknown.join(", "),
                self.supported()
            );
            let all = self
                .params
                .iter()
                .flat_map(|p| std::iter::once(p.name).chain(p.aliases.iter().copied()));
            if let Some(s) = did_you_mean(unknown[0], all) {
                msg.push_str(&format!(" Did you mean '{s}' instead of '{}'?", unknown[0]));
            }
            return Err(msg);
        }
        Ok(args)
    }
}

/// One of Ansible's `required_if` rules: when `key` is `value` (as given,
/// or by its `default`), every name in `needs` must be given.
#[derive(Clone, Copy, Debug)]
pub struct RequiredIf {
    pub key: &'static str,
    pub default: Option<&'static str>,
    pub value: &'static str,
    pub needs: &'static [&'static str],
}

impl Spec {
    /// [`Spec::parse`] with `required_if` rules, checked where Ansible
    /// checks them: after types, choices and `required_one_of`, before
    /// unknown names are reported.
    pub async fn parse_required_if(
        &self,
        ctx: &ModuleContext<'_>,
        rules: &[RequiredIf],
    ) -> Result<Result<Args, Outcome>, HostError> {
        let check = |a: &Args| {
            rules.iter().find_map(|r| {
                let v = a.str(r.key).or(r.default.map(str::to_string))?;
                let missing: Vec<&str> = r.needs.iter().copied().filter(|n| !a.has(n)).collect();
                (v == r.value && !missing.is_empty()).then(|| {
                    format!(
                        "{} is {} but all of the following are missing: {}",
                        r.key,
                        r.value,
                        missing.join(", ")
                    )
                })
            })
        };
        match self.validate(ctx.args) {
            Ok(mut a) => {
                if let Some(msg) = check(&a) {
                    return Ok(Err(Outcome::failed(msg)));
                }
                a.expand_user(ctx.host).await?;
                Ok(Ok(a))
            }
            Err(e) => {
                // An unknown name is reported last: a rule broken by the
                // known names comes first.
                let known: Map<String, Value> = ctx
                    .args
                    .iter()
                    .filter(|(k, _)| self.find(k).is_some())
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let msg = match self.validate(&known) {
                    Ok(a) => check(&a).unwrap_or(e),
                    _ => e,
                };
                Ok(Err(Outcome::failed(msg)))
            }
        }
    }
}

fn convert(p: &Param, value: &Value) -> Result<Arg, String> {
    let type_err = |want: &str, extra: &str| {
        format!(
            "argument '{}' is of type {} and we were unable to convert to {want}{extra}",
            p.name,
            py_type(value)
        )
    };
    Ok(match p.kind {
        Kind::Str | Kind::Path => Arg::Str(to_str(value).ok_or_else(|| type_err("str", ""))?),
        Kind::Bool => Arg::Bool(parse_bool(value).ok_or_else(|| {
            type_err(
                "bool",
                &format!(
                    ": The value {} is not a valid boolean. Valid booleans include: 'yes', 'no', 'true', 'false', 'on', 'off', 'y', 'n', 't', 'f', '1', '0'",
                    value
                ),
            )
        })?),
        Kind::Int => Arg::Int(match value {
            Value::Number(n) => n.as_i64().ok_or_else(|| type_err("int", ""))?,
            Value::String(s) => s.trim().parse().map_err(|_| type_err("int", ""))?,
            _ => return Err(type_err("int", "")),
        }),
        Kind::List => Arg::List(match value {
            Value::Array(items) => items
                .iter()
                .map(|v| to_str(v).ok_or_else(|| type_err("list", "")))
                .collect::<Result<_, _>>()?,
            Value::String(s) if s.is_empty() => Vec::new(),
            Value::String(s) => s.split(',').map(|x| x.trim().to_string()).collect(),
            other => vec![to_str(other).ok_or_else(|| type_err("list", ""))?],
        }),
        Kind::Mode => Arg::Mode(parse_mode(value)?),
        Kind::Raw => Arg::Raw(value.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    static SPEC: Spec = Spec {
        module: "file",
        params: &[
            Param::path("path").required().aliases(&["dest", "name"]),
            Param::str("state").choices(&["file", "absent"]),
            Param::bool("force"),
            Param::int("count"),
            Param::list("items"),
            Param::mode("mode"),
            Param::str("src"),
            Param::str("content"),
        ],
        mutually_exclusive: &[&["src", "content"]],
        required_one_of: &[],
    };

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn types_aliases_and_defaults() {
        let a = SPEC
            .validate(&map(json!({"dest": "/x", "force": "yes", "count": "3",
                "items": "a, b", "mode": "0644", "_ansible_check_mode": true})))
            .unwrap();
        assert_eq!(a.str("path").as_deref(), Some("/x"));
        assert!(a.bool_or("force", false));
        assert_eq!(a.int("count"), Some(3));
        assert_eq!(a.list("items"), Some(vec!["a".into(), "b".into()]));
        assert_eq!(a.mode("mode"), Some(Mode::Octal(0o644)));
        assert_eq!(a.str_or("state", "file"), "file");
        let a = SPEC
            .validate(&map(json!({"path": 1, "mode": 420, "force": "Off"})))
            .unwrap();
        assert_eq!(a.str("path").as_deref(), Some("1"));
        assert_eq!(a.mode("mode"), Some(Mode::Octal(0o644)));
        assert_eq!(a.bool("force"), Some(false));
    }

    #[test]
    fn errors_name_the_argument_and_module() {
        let e = SPEC
            .validate(&map(json!({"path": "/x", "forse": true})))
            .unwrap_err();
        assert!(
            e.starts_with("Unsupported parameters for (ansible.builtin.file) module: forse."),
            "{e}"
        );
        // Names sorted, then the aliases, as Ansible lists them.
        assert!(e.contains("mode, path, src, state (dest, name)."), "{e}");
        assert!(e.contains("Did you mean 'force'"), "{e}");
        // The name the task used, which the engine passes.
        let e = SPEC
            .validate(&map(
                json!({"path": "/x", "forse": true, "_ansible_module_name": "file"}),
            ))
            .unwrap_err();
        assert!(
            e.starts_with("Unsupported parameters for (file) module: forse."),
            "{e}"
        );
        let e = SPEC.validate(&map(json!({"state": "file"}))).unwrap_err();
        assert!(e.contains("missing required arguments: path"), "{e}");
        let e = SPEC
            .validate(&map(json!({"path": "/x", "state": "dir"})))
            .unwrap_err();
        assert_eq!(e, "value of state must be one of: file, absent, got: dir");
        let e = SPEC
            .validate(&map(json!({"path": "/x", "force": "maybe"})))
            .unwrap_err();
        assert!(e.contains("argument 'force'") && e.contains("bool"), "{e}");
        let e = SPEC
            .validate(&map(json!({"path": "/x", "src": "a", "content": "b"})))
            .unwrap_err();
        assert!(e.contains("mutually exclusive: src|content"), "{e}");
        let e = SPEC
            .validate(&map(json!({"path": "/x", "dest": "/y"})))
            .unwrap_err();
        assert!(e.contains("alias"), "{e}");
    }

    #[test]
    fn symbolic_modes() {
        assert_eq!(apply_symbolic_mode(0o644, "u+x", false), Ok(0o744));
        assert_eq!(apply_symbolic_mode(0o777, "g-w,o=r", false), Ok(0o754));
        assert_eq!(apply_symbolic_mode(0o600, "a+X", true), Ok(0o711));
        assert_eq!(apply_symbolic_mode(0o600, "a+X", false), Ok(0o600));
        assert_eq!(apply_symbolic_mode(0o640, "o=g", false), Ok(0o644));
        assert_eq!(apply_symbolic_mode(0o644, "u+x-w", false), Ok(0o544));
        assert_eq!(apply_symbolic_mode(0o644, "+x", false), Ok(0o755));
        assert!(parse_mode(&json!("u+q")).is_err());
        assert!(parse_mode(&json!("0999")).is_err());
        assert_eq!(parse_mode(&json!("preserve")), Ok(Mode::Preserve));
    }
}
