//! Builds [`Node`] trees from saphyr-parser's events.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};

use super::{resolve_plain, Node, NodeKind};
use crate::diag::{Diagnostic, Loc, Result};

/// Reads and parses a YAML (or JSON) file. An empty file is a null node.
pub fn load_file(path: &Path) -> Result<Node> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| {
        Diagnostic::new(format!("could not read '{name}': {e}"))
            .hint("check that the file exists and is readable")
    })?;
    // A whole-file vault is decrypted here, for every YAML file herd reads.
    let bytes = crate::vault::open_file_data(bytes, path)?;
    let text = String::from_utf8(bytes.to_vec()).map_err(|e| {
        Diagnostic::parse(
            format!("'{name}' is not valid UTF-8 text"),
            Loc::new(name.as_str(), 1, 1),
        )
        .hint(format!(
            "invalid byte at offset {}",
            e.utf8_error().valid_up_to()
        ))
    })?;
    load_str(&text, &name)
}

/// Parses YAML text; `file` names it in locations and errors.
pub fn load_str(text: &str, file: &str) -> Result<Node> {
    let mut builder = Builder {
        file: Arc::from(file),
        anchors: HashMap::new(),
        parser: Parser::new_from_str(text),
    };
    let root = builder.document()?;
    if text.contains("$ANSIBLE_VAULT") {
        let mut inline = Vec::new();
        inline_vaults(&root, &mut inline);
        crate::vault::note_inline(&inline);
    }
    Ok(root)
}

/// The `!vault` values under `node`, with where each is.
fn inline_vaults<'n>(node: &'n Node, out: &mut Vec<(&'n str, Loc)>) {
    match &node.kind {
        NodeKind::Vault(t) => out.push((t, node.loc.clone())),
        NodeKind::Seq(items) => items.iter().for_each(|n| inline_vaults(n, out)),
        NodeKind::Map(pairs) => pairs.iter().for_each(|(_, v)| inline_vaults(v, out)),
        _ => {}
    }
}

struct Builder<'a> {
    file: Arc<str>,
    anchors: HashMap<usize, Node>,
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
}

impl<'a> Builder<'a> {
    fn loc(&self, span: &Span) -> Loc {
        Loc {
            file: self.file.clone(),
            line: span.start.line() as u32,
            col: span.start.col() as u32 + 1,
        }
    }

    fn next(&mut self) -> Result<(Event<'a>, Span)> {
        match self.parser.next_event() {
            Some(Ok(ev)) => Ok(ev),
            Some(Err(e)) => {
                let m = e.marker();
                let loc = Loc::new(self.file.clone(), m.line() as u32, m.col() as u32 + 1);
                Err(Diagnostic::parse(
                    format!("Syntax Error while loading YAML: {}", e.info()),
                    loc,
                )
                .hint("check the indentation and quoting near this spot; a value that starts with '{{' must be quoted"))
            }
            None => Err(Diagnostic::parse(
                "unexpected end of YAML input",
                Loc::file(self.file.clone()),
            )),
        }
    }

    fn document(&mut self) -> Result<Node> {
        let mut root = None;
        loop {
            let (ev, span) = self.next()?;
            match ev {
                Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
                Event::StreamEnd => break,
                Event::DocumentStart(_) => {
                    if root.is_some() {
                        return Err(Diagnostic::parse(
                            "expected a single YAML document, but found another",
                            self.loc(&span),
                        )
                        .hint("remove the second '---' or split the file"));
                    }
                    let (ev, span) = self.next()?;
                    if matches!(ev, Event::DocumentEnd) {
                        root = Some(Node::new(NodeKind::Null, self.loc(&span)));
                    } else {
                        root = Some(self.node(ev, span)?);
                    }
                }
                other => {
                    let node = self.node(other, span)?;
                    root = Some(node);
                }
            }
        }
        Ok(root.unwrap_or_else(|| Node::new(NodeKind::Null, Loc::new(self.file.clone(), 1, 1))))
    }

    fn remember(&mut self, anchor: usize, node: &Node) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
    }

    fn node(&mut self, ev: Event<'a>, span: Span) -> Result<Node> {
        let loc = self.loc(&span);
        match ev {
            Event::Alias(id) => self.anchors.get(&id).cloned().ok_or_else(|| {
                Diagnostic::parse("found undefined alias", loc.clone())
                    .hint("define the anchor (&name) before the alias (*name) uses it")
            }),
            Event::Scalar(text, style, anchor, tag) => {
                let kind = scalar(&text, style, tag.as_deref(), &loc)?;
                let node = Node::new(kind, loc);
                self.remember(anchor, &node);
                Ok(node)
            }
            Event::SequenceStart(anchor, tag) => {
                check_collection_tag(tag.as_deref(), "seq", &loc)?;
                let mut items = Vec::new();
                loop {
                    let (ev, span) = self.next()?;
                    if matches!(ev, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(ev, span)?);
                }
                let node = Node::new(NodeKind::Seq(items), loc);
                self.remember(anchor, &node);
                Ok(node)
            }
            Event::MappingStart(anchor, tag) => {
                check_collection_tag(tag.as_deref(), "map", &loc)?;
                let node = self.mapping(loc)?;
                self.remember(anchor, &node);
                Ok(node)
            }
            other => Err(Diagnostic::parse(
                format!("unexpected YAML event {other:?}"),
                loc,
            )),
        }
    }

    /// A mapping, flattened as Ansible's YAML loader does: the pairs of
    /// `<<` merges come first (an earlier source wins over a later one),
    /// then the explicit pairs; an explicit key that repeats a key keeps
    /// the first position and takes the last value, with Ansible's
    /// duplicate-key warning.
    fn mapping(&mut self, loc: Loc) -> Result<Node> {
        let mut explicit: Vec<(Node, Node)> = Vec::new();
        let mut merge_sources: Vec<Vec<(Node, Node)>> = Vec::new();
        loop {
            let (ev, span) = self.next()?;
            if matches!(ev, Event::MappingEnd) {
                break;
            }
            let is_merge =
                matches!(&ev, Event::Scalar(t, ScalarStyle::Plain, _, None) if t == "<<");
            let key = self.node(ev, span)?;
            let (ev, span) = self.next()?;
            let value = self.node(ev, span)?;
            if !is_merge {
                explicit.push((key, value));
                continue;
            }
            let sources: Vec<Node> = match &value.kind {
                NodeKind::Map(_) => vec![value.clone()],
                NodeKind::Seq(items) => items.clone(),
                _ => {
                    return Err(Diagnostic::parse(
                        "expected a mapping or list of mappings for merging",
                        value.loc.clone(),
                    ))
                }
            };
            let mut group: Vec<(Node, Node)> = Vec::new();
            for source in &sources {
                let Some(map) = source.as_map() else {
                    return Err(Diagnostic::parse(
                        "expected a mapping for merging",
                        source.loc.clone(),
                    ));
                };
                for (k, v) in map {
                    if !group.iter().any(|(g, _)| same_key(g, k)) {
                        group.push((k.clone(), v.clone()));
                    }
                }
            }
            merge_sources.push(group);
        }
        let mut pairs: Vec<(Node, Node)> = Vec::new();
        for (k, v) in merge_sources.into_iter().flatten() {
            if !pairs.iter().any(|(p, _)| same_key(p, &k)) {
                pairs.push((k, v));
            }
        }
        for (key, value) in explicit {
            if let Some(existing) = pairs.iter_mut().find(|(k, _)| same_key(k, &key)) {
                crate::diag::warn(format!(
                    "Found duplicate mapping key '{}' at {}. Using last defined value only.",
                    key.key_text().unwrap_or_default(),
                    key.loc
                ));
                existing.1 = value;
            } else {
                pairs.push((key, value));
            }
        }
        Ok(Node::new(NodeKind::Map(pairs), loc))
    }
}

fn same_key(a: &Node, b: &Node) -> bool {
    match (&a.kind, &b.kind) {
        (NodeKind::Seq(_) | NodeKind::Map(_), _) | (_, NodeKind::Seq(_) | NodeKind::Map(_)) => {
            a.kind == b.kind
        }
        _ => {
            a.kind == b.kind
                || (a.key_text().is_some()
                    && a.key_text() == b.key_text()
                    && std::mem::discriminant(&a.kind) == std::mem::discriminant(&b.kind))
        }
    }
}

fn tag_name(tag: &Tag) -> String {
    format!("{}{}", tag.handle, tag.suffix)
}

fn check_collection_tag(tag: Option<&Tag>, want: &str, loc: &Loc) -> Result<()> {
    match tag {
        None => Ok(()),
        Some(t) if t.handle == "!!" && t.suffix == want => Ok(()),
        Some(t) if t.handle == "tag:yaml.org,2002:" && t.suffix == want => Ok(()),
        Some(t) => Err(Diagnostic::parse(
            format!(
                "could not determine a constructor for the tag '{}'",
                tag_name(t)
            ),
            loc.clone(),
        )),
    }
}

fn scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>, loc: &Loc) -> Result<NodeKind> {
    let Some(tag) = tag else {
        return Ok(if style == ScalarStyle::Plain {
            resolve_plain(text)
        } else {
            NodeKind::Str(text.to_string())
        });
    };
    let core = if tag.handle == "!!" || tag.handle == "tag:yaml.org,2002:" {
        Some(tag.suffix.as_str())
    } else {
        None
    };
    let bad = |what: &str| {
        Diagnostic::parse(
            format!(
                "the value '{text}' is not a valid {what} for tag '{}'",
                tag_name(tag)
            ),
            loc.clone(),
        )
    };
    match (tag.handle.as_str(), tag.suffix.as_str(), core) {
        ("!", "unsafe", _) => Ok(NodeKind::Unsafe(text.to_string())),
        ("!", "vault", _) => Ok(NodeKind::Vault(text.to_string())),
        (_, _, Some("str")) => Ok(NodeKind::Str(text.to_string())),
        (_, _, Some("int")) => match resolve_plain(text) {
            NodeKind::Int(i) => Ok(NodeKind::Int(i)),
            _ => Err(bad("int")),
        },
        (_, _, Some("float")) => match resolve_plain(text) {
            NodeKind::Float(f) => Ok(NodeKind::Float(f)),
            NodeKind::Int(i) => Ok(NodeKind::Float(i as f64)),
            _ => Err(bad("float")),
        },
        (_, _, Some("bool")) => match resolve_plain(text) {
            NodeKind::Bool(b) => Ok(NodeKind::Bool(b)),
            _ => Err(bad("bool")),
        },
        (_, _, Some("null")) => Ok(NodeKind::Null),
        (_, _, Some("timestamp" | "binary")) => Ok(NodeKind::Str(text.to_string())),
        _ => Err(Diagnostic::parse(
            format!(
                "could not determine a constructor for the tag '{}'",
                tag_name(tag)
            ),
            loc.clone(),
        )
        .hint("Ansible's YAML knows the tags !unsafe and !vault and the standard !! tags")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Node {
        load_str(text, "t.yml").unwrap()
    }

    #[test]
    fn spans_and_types() {
        let n = load("a: 1\nb:\n  - yes\n  - '0644'\n  - 0644\n");
        let b = n.get("b").unwrap();
        assert_eq!(b.loc.line, 3);
        let items = b.as_seq().unwrap();
        assert_eq!(items[0].kind, NodeKind::Bool(true));
        assert_eq!(items[1].kind, NodeKind::Str("0644".into()));
        assert_eq!(items[2].kind, NodeKind::Int(420));
        assert_eq!((items[2].loc.line, items[2].loc.col), (5, 5));
    }

    #[test]
    fn merge_keys_and_duplicates() {
        let n = load("base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  y: 3\n  z: 4\n  z: 5\n");
        let v = n.get("c").unwrap().to_value();
        assert_eq!(v, serde_json::json!({"x": 1, "y": 3, "z": 5}));
        let keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["x", "y", "z"]);
        // Earlier sources win, keys in order of first appearance; explicit
        // keys come after merged ones wherever `<<` is written.
        let n = load("a: &a {x: 1, y: 1}\nb: &b {y: 2, z: 2}\nc:\n  q: 0\n  <<: [*a, *b]\n");
        let v = n.get("c").unwrap().to_value();
        let keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["x", "y", "z", "q"]);
        assert_eq!(v["y"], 1);
        let n = load("big: 12345678901234567890\n");
        assert_eq!(
            n.get("big").unwrap().to_value().to_string(),
            "12345678901234567890"
        );
    }

    #[test]
    fn tags() {
        let n = load(
            "a: !unsafe '{{ x }}'\nb: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\nc: !!str 12\n",
        );
        assert_eq!(n.get("a").unwrap().kind, NodeKind::Unsafe("{{ x }}".into()));
        assert!(matches!(n.get("b").unwrap().kind, NodeKind::Vault(_)));
        assert_eq!(n.get("c").unwrap().kind, NodeKind::Str("12".into()));
    }

    #[test]
    fn on_key_is_true_and_empty_is_null() {
        let n = load("on: 1\n");
        assert_eq!(n.as_map().unwrap()[0].0.kind, NodeKind::Bool(true));
        assert!(load("").is_null());
        assert!(load("# only a comment\n").is_null());
    }

    #[test]
    fn syntax_error_has_location() {
        let e = load_str("a: [1, 2\nb: c\n", "bad.yml").unwrap_err();
        assert_eq!(e.exit_code, 4);
        assert!(e.loc.is_some());
        let e = load_str("a: 1\n b: 2\n", "bad.yml").unwrap_err();
        assert_eq!(e.loc.as_ref().unwrap().line, 2);
    }
}
