//! Moving values between herd's [`Value`] and minijinja's value type, and
//! printing them as Python does.

use minijinja::value::{Value as Mj, ValueKind};
use minijinja::{Error, ErrorKind};

use crate::value::{as_unsafe, py_float, py_repr, Map, Number, Value};

/// A herd value as a minijinja value. `!unsafe` markers become plain strings.
pub fn to_mj(v: &Value) -> Mj {
    match v {
        Value::Null => Mj::from(()),
        Value::Bool(b) => Mj::from(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Mj::from(i)
            } else if let Some(u) = n.as_u64() {
                Mj::from(u)
            } else {
                Mj::from(n.as_f64().unwrap_or(0.0))
            }
        }
        Value::String(s) => Mj::from(s.as_str()),
        Value::Array(items) => Mj::from(items.iter().map(to_mj).collect::<Vec<_>>()),
        Value::Object(m) => {
            if let Some(s) = as_unsafe(v) {
                return Mj::from(s);
            }
            Mj::from_iter(m.iter().map(|(k, v)| (Mj::from(k.as_str()), to_mj(v))))
        }
    }
}

/// A minijinja value as a herd value. Undefined values are an error.
pub fn from_mj(v: &Mj) -> Result<Value, Error> {
    Ok(match v.kind() {
        ValueKind::Undefined => return Err(Error::from(ErrorKind::UndefinedError)),
        ValueKind::None => Value::Null,
        ValueKind::Bool => Value::Bool(v.is_true()),
        ValueKind::Number => num_to_value(v),
        ValueKind::String => Value::String(v.as_str().unwrap_or_default().to_string()),
        ValueKind::Bytes => {
            Value::String(String::from_utf8_lossy(v.as_bytes().unwrap_or_default()).into_owned())
        }
        ValueKind::Map => {
            let mut m = Map::new();
            for key in v.try_iter()? {
                let item = from_mj(&v.get_item(&key)?)?;
                m.insert(key_str(&key), item);
            }
            Value::Object(m)
        }
        ValueKind::Seq | ValueKind::Iterable => {
            let mut out = Vec::new();
            for item in v.try_iter()? {
                out.push(from_mj(&item)?);
            }
            Value::Array(out)
        }
        _ => match v.try_iter() {
            Ok(it) => {
                let mut out = Vec::new();
                for item in it {
                    out.push(from_mj(&item)?);
                }
                Value::Array(out)
            }
            Err(_) => Value::String(v.to_string()),
        },
    })
}

fn num_to_value(v: &Mj) -> Value {
    if v.is_integer() {
        if let Some(i) = v.as_i64() {
            return Value::Number(i.into());
        }
        if let Ok(u) = u64::try_from(v.clone()) {
            return Value::Number(u.into());
        }
    }
    let f = f64::try_from(v.clone()).unwrap_or(0.0);
    Number::from_f64(f)
        .map(Value::Number)
        // JSON has no NaN or infinity; keep their Python spelling.
        .unwrap_or_else(|| Value::String(py_float(f)))
}

/// A dict key as text (Ansible keys may be numbers; JSON keys are strings).
pub fn key_str(k: &Mj) -> String {
    match k.as_str() {
        Some(s) => s.to_string(),
        None => py_str_mj(k),
    }
}

/// `str(value)` in Python.
pub fn py_str_mj(v: &Mj) -> String {
    match v.kind() {
        ValueKind::String => v.as_str().unwrap_or_default().to_string(),
        ValueKind::None => "None".into(),
        ValueKind::Undefined => String::new(),
        ValueKind::Bool => if v.is_true() { "True" } else { "False" }.into(),
        ValueKind::Number => {
            if v.is_integer() {
                v.to_string()
            } else {
                py_float(f64::try_from(v.clone()).unwrap_or(0.0))
            }
        }
        // Objects without list or dict shape (dates) print themselves.
        ValueKind::Plain => v.to_string(),
        _ => match from_mj(v) {
            Ok(val) => py_repr(&val),
            Err(_) => v.to_string(),
        },
    }
}

/// Python's type name of a minijinja value.
pub fn py_type_name_mj(v: &Mj) -> &'static str {
    match v.kind() {
        ValueKind::Undefined => "AnsibleUndefined",
        ValueKind::None => "NoneType",
        ValueKind::Bool => "bool",
        ValueKind::Number => {
            if v.is_integer() {
                "int"
            } else {
                "float"
            }
        }
        ValueKind::String => "str",
        ValueKind::Bytes => "bytes",
        ValueKind::Seq => "list",
        ValueKind::Map => "dict",
        ValueKind::Iterable => "generator",
        _ => "object",
    }
}

/// Whether any string inside `v` holds a template.
pub fn needs_render(v: &Value) -> bool {
    match v {
        Value::String(s) => super::is_template(s),
        Value::Array(items) => items.iter().any(needs_render),
        Value::Object(m) => {
            as_unsafe(v).is_some()
                || crate::value::as_vault(v).is_some()
                || m.iter()
                    .any(|(k, v)| super::is_template(k) || needs_render(v))
        }
        _ => false,
    }
}
