//! Kustomize's image transformer on one image field: which rules match a reference
//! (api/internal/image/image.go `IsImageMatched`), how a reference splits into name, tag and
//! digest (same file, `Split`), how a rule rewrites it (api/filters/imagetag/updater.go), and
//! how many times the transformer reaches a field (plugin/builtin/imagetagtransformer/
//! ImageTagTransformer.go runs api/filters/imagetag/legacy.go's filter, then
//! api/filters/imagetag/imagetag.go's over the default field specs of
//! api/internal/konfig/builtinpluginconsts/images.go).

use super::ImageRule;

/// The fields the default field specs name (api/internal/konfig/builtinpluginconsts/images.go),
/// as paths of mapping keys from the resource's root, `[]` for a sequence's items.
const FIELD_SPECS: [&[&str]; 6] = [
    &["spec", "containers", "[]", "image"],
    &["spec", "initContainers", "[]", "image"],
    &["spec", "volumes", "[]", "image", "reference"],
    &["spec", "template", "spec", "containers", "[]", "image"],
    &["spec", "template", "spec", "initContainers", "[]", "image"],
    &[
        "spec",
        "template",
        "spec",
        "volumes",
        "[]",
        "image",
        "reference",
    ],
];

/// The sequences whose items' `image` the legacy filter rewrites, at any depth
/// (api/filters/imagetag/legacy.go: `containers` and `initContainers`, not
/// `ephemeralContainers`).
const LEGACY_FIELDS: [&str; 2] = ["containers", "initContainers"];

/// How many times each rule reaches the field at `path` of a resource of `kind`: 0, 1 or 2.
/// `path` is the mapping keys from the resource's root to the field, `[]` standing for an
/// item of a sequence (`["spec", "template", "spec", "containers", "[]", "image"]`); a
/// `kind: List` item is its own root. Each rule runs the legacy filter (any `image` of an item
/// of a `containers` or `initContainers` sequence, at any depth), then the field-spec filter
/// (the six default paths): a field both reach is rewritten twice by the same rule, which
/// only a `tagSuffix` notices (kubernetes-sigs/kustomize issue 4814). Neither filter touches a
/// CustomResourceDefinition (api/filters/imagetag/legacy.go, imagetag.go `isOnDenyList`).
pub fn passes(kind: &str, path: &[&str]) -> usize {
    if kind == "CustomResourceDefinition" {
        return 0;
    }
    let legacy = match path {
        [.., field, "[]", "image"] => LEGACY_FIELDS.contains(field),
        _ => false,
    };
    let spec = FIELD_SPECS.contains(&path);
    usize::from(legacy) + usize::from(spec)
}

/// The image of a field after the rules, each applied `passes` times in a row before the next
/// (api/internal/target/kusttarget_configplugin.go: one transformer per rule, in order; each
/// runs both filters). See [`passes`].
pub fn transform(rules: &[ImageRule], image: &str, passes: usize) -> String {
    let mut image = image.to_owned();
    for rule in rules {
        for _ in 0..passes {
            image = rewrite(rule, &image);
            // a tagSuffix grows the image with each rule: past any reference's length the
            // caller refuses it, so the rest is not computed
            if image.len() > crate::limits::MAX_EXPANSION {
                return image;
            }
        }
    }
    image
}

/// The image after the rules, each applied once, in list order: a field one of the
/// transformer's two filters reaches (see [`passes`] for one both reach).
pub fn apply(rules: &[ImageRule], image: &str) -> String {
    transform(rules, image, 1)
}

/// One rule on one reference (api/filters/imagetag/updater.go `SetImageValue`): a new name
/// replaces the name; a new tag and a digest together set both; a new tag alone drops the
/// digest; a digest alone drops the tag; otherwise a tag suffix is appended to the tag and
/// drops the digest. An empty value counts as unset, as Go's `!= ""` reads it.
fn rewrite(rule: &ImageRule, image: &str) -> String {
    if !is_matched(image, &rule.name) {
        return image.to_owned();
    }
    let (name, tag, digest) = split(image);
    let name = set(&rule.new_name).unwrap_or(name);
    let (tag, digest) = match (set(&rule.new_tag), set(&rule.digest)) {
        (Some(new_tag), Some(new_digest)) => (new_tag.to_owned(), new_digest),
        (Some(new_tag), None) => (new_tag.to_owned(), ""),
        (None, Some(new_digest)) => (String::new(), new_digest),
        (None, None) => match set(&rule.tag_suffix) {
            Some(suffix) => (format!("{tag}{suffix}"), ""),
            None => (tag.to_owned(), digest),
        },
    };
    let mut out = name.to_owned();
    if !tag.is_empty() {
        out.push(':');
        out.push_str(&tag);
    }
    if !digest.is_empty() {
        out.push('@');
        out.push_str(digest);
    }
    out
}

/// A rule's value, when set: Go's `!= ""`.
fn set(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

/// A reference as name, tag and digest (api/internal/image/image.go `Split`): the first `:` or
/// `@` after the first `/` (when the reference does not start with one) ends the name, so a
/// registry's port stays in it.
pub(crate) fn split(image: &str) -> (&str, &str, &str) {
    let from = image.find('/').filter(|&i| i > 0).unwrap_or(0);
    let search = &image[from..];
    let at = search.find('@').map(|i| i + from);
    let colon = search.find(':').map(|i| i + from);
    if let Some(at) = at
        && colon.is_none_or(|c| at < c)
    {
        // a digest only, or an `@` before any `:`
        return (&image[..at], "", &image[at + 1..]);
    }
    match (colon, at) {
        (Some(colon), Some(at)) => (&image[..colon], &image[colon + 1..at], &image[at + 1..]),
        (Some(colon), None) => (&image[..colon], &image[colon + 1..], ""),
        (None, _) => (image, "", ""),
    }
}

/// One element of a rule's name read as Go's regexp reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Atom {
    /// `.`: any character but a line feed.
    Any,
    Char(char),
}

/// Why a rule's name is not read as a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pattern {
    /// Go's regexp refuses it (a `*` with nothing before it, an unmatched `)`, an unclosed
    /// `[`...): kustomize's `IsImageMatched` then matches nothing.
    Invalid,
    /// Regexp syntax beyond literal characters, `.` and escaped punctuation: the character
    /// that starts it.
    Beyond(char),
}

/// A rule's name as a pattern: literal characters, `.` for any character, `\` before
/// punctuation for the punctuation itself (Go regexp/syntax). `}` and `]` alone are literal
/// in Go's syntax, as is a `{` that does not start a repetition (`{2}`, `{2,}`, `{2,5}`).
pub(crate) fn pattern(name: &str) -> Result<Vec<Atom>, Pattern> {
    let mut atoms = Vec::with_capacity(name.len());
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        atoms.push(match c {
            '.' => Atom::Any,
            '\\' => match chars.next() {
                // Go regexp/syntax parse.go `parseEscape`: an escaped ASCII character that is
                // not a letter or digit is itself
                Some(p) if p.is_ascii() && !p.is_ascii_alphanumeric() => Atom::Char(p),
                // `\d`, `\pL`, `\Q...\E` and the other escapes: beyond literals
                Some(_) => return Err(Pattern::Beyond('\\')),
                // a trailing backslash: "trailing backslash at end of expression"
                None => return Err(Pattern::Invalid),
            },
            '*' | '+' | '?' if atoms.is_empty() => return Err(Pattern::Invalid),
            ')' => return Err(Pattern::Invalid),
            '{' if starts_repetition(chars.clone()) => {
                return Err(if atoms.is_empty() {
                    Pattern::Invalid
                } else {
                    Pattern::Beyond('{')
                });
            }
            // an unclosed class: "missing closing ]"
            '[' if !chars.clone().skip(1).any(|c| c == ']') => return Err(Pattern::Invalid),
            '*' | '+' | '?' | '(' | '[' | '|' | '^' | '$' => return Err(Pattern::Beyond(c)),
            c => Atom::Char(c),
        });
    }
    Ok(atoms)
}

/// Whether the text after a `{` is a repetition's `n}`, `n,}` or `n,m}`.
fn starts_repetition(mut rest: impl Iterator<Item = char>) -> bool {
    let mut digits = 0;
    let mut comma = false;
    for c in rest.by_ref() {
        match c {
            '0'..='9' => digits += 1,
            ',' if digits > 0 && !comma => comma = true,
            '}' => return digits > 0,
            _ => return false,
        }
    }
    false
}

/// Whether a rule named `name` rewrites `image` (api/internal/image/image.go
/// `IsImageMatched`): `^<name>(:[a-zA-Z0-9_.{}-]*)?(@<algorithm>:[a-zA-Z0-9_.{}-]*)?$`, the
/// name inserted unescaped, the digest algorithm as OCI's grammar writes it. A name with
/// regexp syntax beyond [`pattern`]'s matches nothing here (see
/// [`ImageRule::unsupported_syntax`]).
pub(crate) fn is_matched(image: &str, name: &str) -> bool {
    let Ok(atoms) = pattern(name) else {
        return false;
    };
    let mut chars = image.char_indices();
    for atom in &atoms {
        let matched = match (chars.next(), atom) {
            (Some((_, c)), Atom::Any) => c != '\n',
            (Some((_, c)), Atom::Char(want)) => c == *want,
            (None, _) => false,
        };
        if !matched {
            return false;
        }
    }
    let rest = chars.as_str();
    let rest = match rest.strip_prefix(':') {
        Some(tag) => tag.trim_start_matches(is_tag_char),
        None => rest,
    };
    rest.is_empty() || rest.strip_prefix('@').is_some_and(is_digest)
}

/// `[a-zA-Z0-9_.{}-]`: a tag's characters in `IsImageMatched`, and a digest's encoded part.
fn is_tag_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '{' | '}' | '-')
}

/// `[a-zA-Z0-9]+([.+_-][a-zA-Z0-9]+)*:[a-zA-Z0-9_.{}-]*`, the whole text.
fn is_digest(text: &str) -> bool {
    let Some((algorithm, encoded)) = text.split_once(':') else {
        return false;
    };
    let components_ok = algorithm
        .split(['.', '+', '_', '-'])
        .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric()));
    components_ok && encoded.chars().all(is_tag_char)
}
