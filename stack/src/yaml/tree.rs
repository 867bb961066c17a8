//! A YAML document tree read under limits, from saphyr-parser's events.
//!
//! saphyr's own loader recurses once per nesting level with no limit and copies the anchored
//! node for every alias: a 10 KB file nested 5,000 deep overflows the stack, and an alias
//! bomb under 1 KB expands to gigabytes. This loader is a loop over the parser's events with
//! an explicit stack, so it stops at [`MAX_DEPTH`] before the parser goes deeper; an alias is
//! one node pointing at its anchor, never a copy; and, as go-yaml's decoder counts the nodes
//! it decodes through aliases ("document contains excessive aliasing", go-yaml v3 decode.go),
//! it adds up the nodes each alias stands for and stops past [`MAX_ALIAS_NODES`]. Each node
//! records the size and depth it has once aliases are followed, so walking the tree (merge
//! keys included) is bounded by those two limits.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError};

use crate::limits::{MAX_ALIAS_NODES, MAX_DEPTH};

/// A node's position in [`Tree::nodes`].
pub type Id = u32;

#[derive(Debug)]
pub enum Value<'a> {
    /// `plain`: written without quotes or a block indicator (so `42` or `null` is not text).
    Scalar {
        text: Cow<'a, str>,
        plain: bool,
    },
    Sequence(Vec<Id>),
    Mapping(Vec<(Id, Id)>),
    /// `*name`: the anchored node, not a copy of it.
    Alias(Id),
}

#[derive(Debug)]
pub struct Node<'a> {
    /// 1-based line of the node's first character.
    pub line: u32,
    pub value: Value<'a>,
    /// Nodes it stands for with aliases followed (saturating); 0 while a collection is open.
    size: u32,
    /// Levels it spans with aliases followed.
    depth: u16,
}

/// The documents of a YAML stream.
#[derive(Debug)]
pub struct Tree<'a> {
    nodes: Vec<Node<'a>>,
    pub documents: Vec<Id>,
    /// The first mapping key written twice in one mapping: its line, the key, and the line
    /// of its first occurrence.
    duplicate: Option<(usize, Id, usize)>,
}

/// Why a file was not read: the parser's error, or a limit reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadError {
    Syntax { line: usize, message: String },
    Limit { line: usize, message: String },
}

impl LoadError {
    pub fn line(&self) -> usize {
        match self {
            LoadError::Syntax { line, .. } | LoadError::Limit { line, .. } => *line,
        }
    }
}

impl From<ScanError> for LoadError {
    fn from(e: ScanError) -> LoadError {
        let line = e.marker().line();
        if e.info() == "recursion limit exceeded" {
            // the scanner reads flow collections ahead of the events, and stops at 255 levels
            return LoadError::Limit {
                line,
                message: too_deep(),
            };
        }
        LoadError::Syntax {
            line,
            message: e.info().to_owned(),
        }
    }
}

fn too_deep() -> String {
    format!("YAML nested deeper than {MAX_DEPTH} levels; a check reads at most that")
}

/// An open collection: its node, and for a mapping the key waiting for its value.
struct Open {
    id: Id,
    key: Option<Id>,
}

/// A merge key: `<<` written plain, as go-yaml's `isMerge` reads it (a quoted `"<<"` is an
/// ordinary key).
pub fn is_merge_key(node: &Node) -> bool {
    matches!(&node.value, Value::Scalar { text, plain: true } if text == "<<")
}

impl<'a> Tree<'a> {
    /// Reads every document of `text`.
    pub fn load(text: &'a str) -> Result<Tree<'a>, LoadError> {
        let mut tree = Tree {
            nodes: Vec::new(),
            documents: Vec::new(),
            duplicate: None,
        };
        let mut open: Vec<Open> = Vec::new();
        let mut anchors: HashMap<usize, Id> = HashMap::new();
        let mut through_aliases: u64 = 0;
        for event in Parser::new_from_str(text) {
            let (event, span) = event?;
            let line = span.start.line();
            let limit = |message: String| LoadError::Limit { line, message };
            let (id, anchor) = match event {
                Event::Scalar(text, style, anchor, _tag) => {
                    let plain = style == ScalarStyle::Plain;
                    (tree.push(line, Value::Scalar { text, plain }, 1, 1), anchor)
                }
                Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                    if open.len() >= MAX_DEPTH {
                        return Err(limit(too_deep()));
                    }
                    let value = match event {
                        Event::SequenceStart(..) => Value::Sequence(Vec::new()),
                        _ => Value::Mapping(Vec::new()),
                    };
                    let id = tree.push(line, value, 0, 0);
                    tree.attach(&mut open, id);
                    open.push(Open { id, key: None });
                    if anchor > 0 {
                        anchors.insert(anchor, id);
                    }
                    continue;
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    let Some(closed) = open.pop() else { continue };
                    tree.close(closed.id, line)?;
                    continue;
                }
                Event::Alias(anchor) => {
                    let Some(&target) = anchors.get(&anchor) else {
                        return Err(LoadError::Syntax {
                            line,
                            message: "an alias names an unknown anchor".to_owned(),
                        });
                    };
                    let (size, depth) = tree.measure(target);
                    if size == 0 {
                        // go-yaml: "anchor '...' value contains itself"
                        return Err(LoadError::Syntax {
                            line,
                            message: "an alias refers to a node that contains it".to_owned(),
                        });
                    }
                    through_aliases += u64::from(size);
                    if through_aliases > MAX_ALIAS_NODES as u64 {
                        return Err(limit(format!(
                            "YAML aliases expand to more than {MAX_ALIAS_NODES} nodes \
                             (an alias bomb?); a check reads at most that"
                        )));
                    }
                    (tree.push(line, Value::Alias(target), size, depth), 0)
                }
                Event::StreamStart
                | Event::StreamEnd
                | Event::DocumentStart(_)
                | Event::DocumentEnd
                | Event::Nothing => continue,
            };
            tree.attach(&mut open, id);
            if anchor > 0 {
                anchors.insert(anchor, id);
            }
        }
        Ok(tree)
    }

    fn push(&mut self, line: usize, value: Value<'a>, size: u32, depth: u16) -> Id {
        // a 1 MiB file holds far fewer than 2^32 nodes
        let id = Id::try_from(self.nodes.len()).unwrap_or(Id::MAX);
        self.nodes.push(Node {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            value,
            size,
            depth,
        });
        id
    }

    /// Adds `id` to the collection being read, or as a new document.
    fn attach(&mut self, open: &mut [Open], id: Id) {
        let Some(parent) = open.last_mut() else {
            self.documents.push(id);
            return;
        };
        match &mut self.nodes[parent.id as usize].value {
            Value::Sequence(items) => items.push(id),
            Value::Mapping(entries) => match parent.key.take() {
                None => parent.key = Some(id),
                Some(key) => entries.push((key, id)),
            },
            Value::Scalar { .. } | Value::Alias(_) => {}
        }
    }

    /// The expanded size and depth of a node (0: a collection still open).
    fn measure(&self, id: Id) -> (u32, u16) {
        let node = &self.nodes[id as usize];
        (node.size, node.depth)
    }

    /// A collection is complete: its expanded size and depth, within the limits; a mapping's
    /// merge keys are checked as go-yaml checks them.
    fn close(&mut self, id: Id, line: usize) -> Result<(), LoadError> {
        let children: Vec<Id> = match &self.nodes[id as usize].value {
            Value::Sequence(items) => items.clone(),
            Value::Mapping(entries) => {
                if self.duplicate.is_none() {
                    self.duplicate = self.first_duplicate(entries);
                }
                for &(key, value) in entries {
                    if is_merge_key(self.node(key)) && !self.mergeable(value) {
                        // go-yaml v3 decode.go, failWantMap
                        return Err(LoadError::Syntax {
                            line: self.nodes[key as usize].line as usize,
                            message: "map merge requires map or sequence of maps as the value"
                                .to_owned(),
                        });
                    }
                }
                entries.iter().flat_map(|&(k, v)| [k, v]).collect()
            }
            Value::Scalar { .. } | Value::Alias(_) => return Ok(()),
        };
        let mut size: u32 = 1;
        let mut depth: u16 = 0;
        for child in children {
            let (s, d) = self.measure(child);
            size = size.saturating_add(s);
            depth = depth.max(d);
        }
        let depth = depth.saturating_add(1);
        if usize::from(depth) > MAX_DEPTH + 1 {
            return Err(LoadError::Limit {
                line,
                message: format!(
                    "YAML nested deeper than {MAX_DEPTH} levels once aliases and merge keys \
                     are followed; a check reads at most that"
                ),
            });
        }
        let node = &mut self.nodes[id as usize];
        node.size = size;
        node.depth = depth;
        Ok(())
    }

    /// The first scalar key of `entries` written twice, with both lines.
    fn first_duplicate(&self, entries: &[(Id, Id)]) -> Option<(usize, Id, usize)> {
        if entries.len() < 2 {
            return None;
        }
        let mut seen: HashMap<&str, Id> = HashMap::with_capacity(entries.len());
        for &(key, _) in entries {
            if let Value::Scalar { text, .. } = &self.node(key).value
                && let Some(&first) = seen.get(text.as_ref())
            {
                return Some((self.line(key), key, self.line(first)));
            } else if let Value::Scalar { text, .. } = &self.node(key).value {
                seen.insert(text, key);
            }
        }
        None
    }

    /// The first mapping key written twice in one mapping (go-yaml v3 refuses the file:
    /// "mapping key ... already defined"): its line, the key, and its first line.
    pub fn duplicate_key(&self) -> Option<(usize, &str, usize)> {
        let (line, key, first) = self.duplicate?;
        match &self.node(key).value {
            Value::Scalar { text, .. } => Some((line, text, first)),
            _ => None,
        }
    }

    /// What a merge key may hold: a mapping, or a sequence of mappings (each possibly an
    /// alias of one).
    fn mergeable(&self, id: Id) -> bool {
        match &self.node(id).value {
            Value::Mapping(_) => true,
            Value::Sequence(items) => items
                .iter()
                .all(|&item| matches!(self.node(item).value, Value::Mapping(_))),
            Value::Scalar { .. } | Value::Alias(_) => false,
        }
    }

    /// The node `id` stands for: an alias's anchor, or itself.
    pub fn node(&self, id: Id) -> &Node<'a> {
        let node = &self.nodes[id as usize];
        match node.value {
            // an anchor is never an alias (YAML gives aliases no anchor)
            Value::Alias(target) => &self.nodes[target as usize],
            _ => node,
        }
    }

    /// The line a node was written on (an alias: where the alias is, not its anchor).
    pub fn line(&self, id: Id) -> usize {
        self.nodes[id as usize].line as usize
    }

    /// A scalar that is text: quoted, a block scalar, or a plain one that YAML does not read
    /// as null, a boolean or a number.
    pub fn text(&self, id: Id) -> Option<&str> {
        match &self.node(id).value {
            Value::Scalar { text, plain: false } => Some(text),
            Value::Scalar { text, plain: true } if !is_plain_non_string(text) => Some(text),
            _ => None,
        }
    }

    /// Whether `id` is a mapping.
    pub fn is_mapping(&self, id: Id) -> bool {
        matches!(self.node(id).value, Value::Mapping(_))
    }

    /// The value of `key` in the mapping `id`, merge keys applied as go-yaml applies them
    /// (decode.go, `merge`): the mapping's own keys win, then the merged mappings in the
    /// order written, each with its own merges. Bounded: the tree's expanded depth is at most
    /// [`MAX_DEPTH`], and its expanded size within the alias budget.
    pub fn get(&self, id: Id, key: &str) -> Option<Id> {
        let Value::Mapping(entries) = &self.node(id).value else {
            return None;
        };
        let own = entries
            .iter()
            .find(|&&(k, _)| !is_merge_key(self.node(k)) && self.key_is(k, key));
        if let Some(&(_, value)) = own {
            return Some(value);
        }
        self.merged(entries)
            .find_map(|source| self.get(source, key))
    }

    /// The mappings merged into a mapping with these entries, in precedence order.
    fn merged<'t>(&'t self, entries: &'t [(Id, Id)]) -> impl Iterator<Item = Id> + 't {
        entries
            .iter()
            .filter(|&&(k, _)| is_merge_key(self.node(k)))
            .flat_map(move |&(_, value)| match &self.node(value).value {
                Value::Sequence(items) => items.clone(),
                _ => vec![value],
            })
    }

    fn key_is(&self, key: Id, name: &str) -> bool {
        matches!(&self.node(key).value, Value::Scalar { text, .. } if text == name)
    }

    /// The entries of the mapping `id` with merge keys applied: its own (merge keys left
    /// out), then each merged key not already present, in precedence order.
    pub fn entries(&self, id: Id) -> Vec<(Id, Id)> {
        // the common case, a mapping without merge keys in a file without duplicate keys: its
        // own entries as written
        if let Value::Mapping(own) = &self.node(id).value
            && self.duplicate.is_none()
            && !own.iter().any(|&(k, _)| is_merge_key(self.node(k)))
        {
            return own.clone();
        }
        let mut out = Vec::new();
        let mut seen: HashSet<&str> = HashSet::new();
        self.collect_entries(id, &mut out, &mut seen);
        out
    }

    fn collect_entries<'t>(&'t self, id: Id, out: &mut Vec<(Id, Id)>, seen: &mut HashSet<&'t str>) {
        let Value::Mapping(entries) = &self.node(id).value else {
            return;
        };
        for &(k, v) in entries {
            if is_merge_key(self.node(k)) {
                continue;
            }
            let name = match &self.node(k).value {
                Value::Scalar { text, .. } => Some(text.as_ref()),
                _ => None,
            };
            if let Some(name) = name
                && !seen.insert(name)
            {
                continue;
            }
            out.push((k, v));
        }
        for source in self.merged(entries).collect::<Vec<_>>() {
            self.collect_entries(source, out, seen);
        }
    }

    /// The items of a sequence.
    pub fn items(&self, id: Id) -> &[Id] {
        match &self.node(id).value {
            Value::Sequence(items) => items,
            _ => &[],
        }
    }
}

/// Plain scalars YAML resolves to something other than a string: null, booleans and numbers
/// (the core schema, plus YAML 1.1's yes/no/on/off that go-yaml v3 still reads as booleans
/// in some places; Compose rejects them where a string is required).
fn is_plain_non_string(text: &str) -> bool {
    matches!(
        text,
        "" | "~"
            | "null"
            | "Null"
            | "NULL"
            | "true"
            | "True"
            | "TRUE"
            | "false"
            | "False"
            | "FALSE"
            | ".inf"
            | ".Inf"
            | ".INF"
            | "-.inf"
            | "-.Inf"
            | "-.INF"
            | "+.inf"
            | ".nan"
            | ".NaN"
            | ".NAN"
    ) || is_number(text)
}

fn is_number(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if let Some(hex) = digits.strip_prefix("0x") {
        return !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit());
    }
    if let Some(oct) = digits.strip_prefix("0o") {
        return !oct.is_empty() && oct.bytes().all(|b| (b'0'..=b'7').contains(&b));
    }
    !digits.is_empty()
        && digits.bytes().any(|b| b.is_ascii_digit())
        && digits.parse::<f64>().is_ok()
        && !digits.contains(['i', 'I', 'n', 'N'])
}
