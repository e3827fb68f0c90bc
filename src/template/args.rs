//! Binding filter, test and lookup arguments by Ansible's parameter names,
//! positionally or by keyword, as Python would.

use minijinja::value::{Kwargs, Value as Mj};
use minijinja::{Error, ErrorKind};

/// Arguments bound to parameter names.
pub struct Args {
    what: String,
    names: &'static [&'static str],
    vals: Vec<Option<Mj>>,
    /// Positional arguments past the named ones (`*args`).
    pub extra: Vec<Mj>,
    /// Keyword arguments not among the names (`**kwargs`), when allowed.
    pub extra_kw: Vec<(String, Mj)>,
}

impl Args {
    /// Binds `args` to `names`. Too many positional arguments or unknown
    /// keywords are an error naming `what`.
    pub fn bind(what: &str, names: &'static [&'static str], args: &[Mj]) -> Result<Args, Error> {
        Args::bind_ext(what, names, args, false, false)
    }

    /// As [`Args::bind`], optionally collecting extra positional (`*args`)
    /// and keyword (`**kwargs`) arguments instead of failing on them.
    pub fn bind_ext(
        what: &str,
        names: &'static [&'static str],
        args: &[Mj],
        var_pos: bool,
        var_kw: bool,
    ) -> Result<Args, Error> {
        let (pos, kw) = split_kwargs(args);
        let mut out = Args {
            what: what.to_string(),
            names,
            vals: vec![None; names.len()],
            extra: Vec::new(),
            extra_kw: Vec::new(),
        };
        for (i, v) in pos.iter().enumerate() {
            if i < names.len() {
                out.vals[i] = Some(v.clone());
            } else if var_pos {
                out.extra.push(v.clone());
            } else {
                return Err(Error::new(
                    ErrorKind::TooManyArguments,
                    format!("{what} takes at most {} arguments", names.len()),
                ));
            }
        }
        for (k, v) in kw {
            match names.iter().position(|n| *n == k) {
                Some(i) => out.vals[i] = Some(v),
                None if var_kw => out.extra_kw.push((k, v)),
                None => {
                    return Err(Error::new(
                        ErrorKind::InvalidOperation,
                        format!("{what} got an unexpected keyword argument '{k}'"),
                    ))
                }
            }
        }
        Ok(out)
    }

    fn idx(&self, name: &str) -> usize {
        self.names
            .iter()
            .position(|n| *n == name)
            .unwrap_or(usize::MAX)
    }

    /// The raw argument, if given.
    pub fn get(&self, name: &str) -> Option<&Mj> {
        self.vals.get(self.idx(name)).and_then(|v| v.as_ref())
    }

    pub fn required(&self, name: &str) -> Result<&Mj, Error> {
        self.get(name).ok_or_else(|| {
            Error::new(
                ErrorKind::MissingArgument,
                format!("{} is missing its '{name}' argument", self.what),
            )
        })
    }

    pub fn str_or(&self, name: &str, default: &str) -> String {
        match self.get(name) {
            Some(v) if !v.is_none() && !v.is_undefined() => super::convert::py_str_mj(v),
            _ => default.to_string(),
        }
    }

    pub fn opt_str(&self, name: &str) -> Option<String> {
        match self.get(name) {
            Some(v) if !v.is_none() && !v.is_undefined() => Some(super::convert::py_str_mj(v)),
            _ => None,
        }
    }

    pub fn bool_or(&self, name: &str, default: bool) -> bool {
        match self.get(name) {
            Some(v) if !v.is_undefined() => {
                if let Some(s) = v.as_str() {
                    super::filters::ansible_bool_str(s)
                } else {
                    v.is_true()
                }
            }
            _ => default,
        }
    }

    pub fn int_or(&self, name: &str, default: i64) -> Result<i64, Error> {
        match self.get(name) {
            None => Ok(default),
            Some(v) if v.is_none() => Ok(default),
            Some(v) => to_i64(v).ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidOperation,
                    format!("{}: '{name}' must be an integer, got {v}", self.what),
                )
            }),
        }
    }
}

/// An integer from a number or a numeric string.
pub fn to_i64(v: &Mj) -> Option<i64> {
    if let Some(i) = v.as_i64() {
        return Some(i);
    }
    if let Some(s) = v.as_str() {
        return s.trim().parse().ok();
    }
    f64::try_from(v.clone()).ok().map(|f| f as i64)
}

/// Splits trailing keyword arguments off positional ones.
pub fn split_kwargs(args: &[Mj]) -> (Vec<Mj>, Vec<(String, Mj)>) {
    let mut pos: Vec<Mj> = args.to_vec();
    let mut kw = Vec::new();
    if let Some(last) = pos.last() {
        if let Ok(k) = <Kwargs as minijinja::value::ArgType>::from_value(Some(last)) {
            for name in k.args() {
                if let Ok(v) = k.get::<Mj>(name) {
                    kw.push((name.to_string(), v));
                }
            }
            pos.pop();
        }
    }
    (pos, kw)
}
