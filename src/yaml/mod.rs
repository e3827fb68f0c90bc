//! YAML as Ansible reads it: PyYAML's YAML 1.1 rules, with the line and
//! column of every node kept for error messages.
//!
//! The parser (saphyr-parser) gives events with spans; [`load`] builds a
//! [`Node`] tree from them and [`resolve`] types plain scalars the way
//! PyYAML does (`yes` is true, `0644` is octal, `1:30` is 90, `08` and
//! `1e3` stay strings).

mod load;
mod resolve;

pub use load::{load_file, load_str};
pub use resolve::resolve_plain;

use crate::diag::Loc;
use crate::value::Value;

/// One YAML node and where it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub kind: NodeKind,
    pub loc: Loc,
}

#[derive(Clone, Debug, PartialEq)]
pub enum NodeKind {
    Null,
    Bool(bool),
    /// Python ints have no size limit; herd keeps up to 128 bits.
    Int(i128),
    Float(f64),
    Str(String),
    /// A `!unsafe` string: never templated.
    Unsafe(String),
    /// A `!vault` value: the vault text, still encrypted.
    Vault(String),
    Seq(Vec<Node>),
    /// A mapping, in source order, duplicate keys already resolved
    /// (the last one wins, as in PyYAML) and `<<` merges applied.
    Map(Vec<(Node, Node)>),
}

impl Node {
    pub fn new(kind: NodeKind, loc: Loc) -> Node {
        Node { kind, loc }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Str(s) | NodeKind::Unsafe(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            NodeKind::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            NodeKind::Seq(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.kind, NodeKind::Null)
    }

    /// The value of `key` in a mapping node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.key_text().as_deref() == Some(key))
            .map(|(_, v)| v)
    }

    /// A mapping key as text, as Python would turn it into a dict key
    /// string (`1` → "1", `true` → "True").
    pub fn key_text(&self) -> Option<String> {
        match &self.kind {
            NodeKind::Str(s) | NodeKind::Unsafe(s) => Some(s.clone()),
            NodeKind::Int(i) => Some(i.to_string()),
            NodeKind::Float(f) => Some(crate::value::py_float(*f)),
            NodeKind::Bool(b) => Some(if *b { "True" } else { "False" }.to_string()),
            NodeKind::Null => Some("None".to_string()),
            _ => None,
        }
    }

    /// A short name for the node's type, as Ansible's messages name them.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            NodeKind::Null => "NoneType",
            NodeKind::Bool(_) => "bool",
            NodeKind::Int(_) => "int",
            NodeKind::Float(_) => "float",
            NodeKind::Str(_) | NodeKind::Unsafe(_) => "str",
            NodeKind::Vault(_) => "vault-encrypted string",
            NodeKind::Seq(_) => "list",
            NodeKind::Map(_) => "dict",
        }
    }

    /// The plain data this node holds.
    ///
    /// `!unsafe` strings become [`crate::value::unsafe_string`] values and
    /// `!vault` values the `{"__ansible_vault": …}` object Ansible itself
    /// uses to carry them in JSON.
    pub fn to_value(&self) -> Value {
        match &self.kind {
            NodeKind::Null => Value::Null,
            NodeKind::Bool(b) => Value::Bool(*b),
            NodeKind::Int(i) => {
                if let Ok(v) = i64::try_from(*i) {
                    Value::from(v)
                } else if let Ok(v) = u64::try_from(*i) {
                    Value::from(v)
                } else {
                    Value::from(*i as f64)
                }
            }
            NodeKind::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or_else(|| Value::String(crate::value::py_float(*f))),
            NodeKind::Str(s) => Value::String(s.clone()),
            NodeKind::Unsafe(s) => crate::value::unsafe_string(s),
            NodeKind::Vault(s) => {
                let mut m = serde_json::Map::new();
                m.insert("__ansible_vault".into(), Value::String(s.clone()));
                Value::Object(m)
            }
            NodeKind::Seq(items) => Value::Array(items.iter().map(Node::to_value).collect()),
            NodeKind::Map(pairs) => {
                let mut m = serde_json::Map::new();
                for (k, v) in pairs {
                    let key = k
                        .key_text()
                        .unwrap_or_else(|| crate::value::to_json_string(&k.to_value()));
                    m.insert(key, v.to_value());
                }
                Value::Object(m)
            }
        }
    }
}
