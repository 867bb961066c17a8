//! Dev containers (`devcontainer.json`, docs/cli.md "Files it reads"): the image a dev
//! container runs. The file is JSON with comments (JSONC), read as the reference CLI reads it
//! (devcontainers/cli src/spec-node/configContainer.ts: `jsonc.parse`, whose errors it does
//! not check, so trailing commas pass too). The properties, from the spec's schema
//! (devcontainers/spec schemas/devContainer.base.schema.json):
//! - `build.dockerfile` (or the older `dockerFile`): built locally from that Dockerfile (a
//!   row that says so; check the Dockerfile itself), whether or not `image` is there too, as
//!   the CLI decides (src/spec-node/configContainer.ts, `isDockerFileConfig` first);
//! - `image`: the image (a row);
//! - `dockerComposeFile` with `service`: the container is that service of the Compose file
//!   (a row that says so; check the Compose file).
//!
//! `${localEnv:NAME}` and the other substitutions of the CLI (src/spec-common/
//! variableSubstitution.ts) are values of the machine that opens the container: an image
//! using one is a row that names it.

use crate::yaml::tree::{Id, Tree};
use crate::{Found, Kind, Problem, Rows, Scan};

/// The scan of `text` when it is a dev container configuration: a JSON object, comments and
/// trailing commas allowed, naming an image, a Dockerfile or a Compose file; `None` otherwise.
pub(crate) fn scan(name: &str, text: &str) -> Option<Scan> {
    let json = uncommented(text)?;
    let tree = match Tree::load(&json) {
        Ok(tree) => tree,
        Err(error) if name.ends_with("devcontainer.json") => {
            return Some(Scan {
                kind: Kind::Devcontainer,
                found: vec![crate::yaml::refused(name, error)],
                omitted: 0,
            });
        }
        Err(_) => return None,
    };
    let &[doc] = tree.documents.as_slice() else {
        return None;
    };
    let build = tree
        .get(doc, "build")
        .and_then(|b| tree.get(b, "dockerfile"));
    let dockerfile = build.or_else(|| tree.get(doc, "dockerFile"));
    let compose = tree.get(doc, "dockerComposeFile");
    let image = tree.get(doc, "image");
    if !tree.is_mapping(doc) || (image.is_none() && dockerfile.is_none() && compose.is_none()) {
        return None;
    }
    let mut rows = Rows::default();
    let at = |id: Id| format!("{name}:{}", tree.line(id));
    // the CLI's order (configContainer.ts): a Dockerfile configuration first, then `image`
    let row = if let Some(dockerfile) = dockerfile {
        let file = tree.text(dockerfile).unwrap_or("?");
        Found {
            location: at(dockerfile),
            image: Err(Problem::Elsewhere(format!(
                "built from the Dockerfile {}: check that file",
                output::clip(file, crate::limits::MAX_QUOTED)
            ))),
            platform: None,
        }
    } else if let Some(image) = image {
        Found {
            location: at(image),
            image: crate::yaml::text_field(&tree, image).and_then(|i| match i.find("${") {
                Some(start) => {
                    let end = i[start..].find('}').map_or(i.len(), |e| start + e + 1);
                    Err(Problem::UnresolvedVariable(crate::excerpt(&i[start..end])))
                }
                None => crate::reference(i),
            }),
            platform: None,
        }
    } else {
        let compose = compose?;
        let files: Vec<&str> = match tree.items(compose) {
            [] => tree.text(compose).into_iter().collect(),
            items => items.iter().filter_map(|&i| tree.text(i)).collect(),
        };
        let service = tree
            .get(doc, "service")
            .and_then(|s| tree.text(s))
            .unwrap_or("?");
        Found {
            location: at(compose),
            image: Err(Problem::Elsewhere(format!(
                "the service {} of {}: check that file",
                output::clip(service, crate::limits::MAX_QUOTED),
                output::clip(&files.join(", "), crate::limits::MAX_QUOTED)
            ))),
            platform: None,
        }
    };
    if rows.room() {
        rows.push(row);
    }
    Some(rows.scan(Kind::Devcontainer))
}

/// `text` with JSONC's comments (`//` to the end of the line, `/* ... */`) and the tabs
/// between tokens turned into spaces, every line where it was; `None` unless the first token
/// is `{`. Strings are copied as they are (a `//` inside one is text).
fn uncommented(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    let mut first_token = None;
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match c {
                '\\' => {
                    if let Some(escaped) = chars.next() {
                        out.push(escaped);
                    }
                }
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match (c, chars.peek()) {
            ('/', Some('/')) => {
                while let Some(&next) = chars.peek() {
                    if next == '\n' {
                        break;
                    }
                    chars.next();
                    out.push(' ');
                }
                out.push(' ');
            }
            ('/', Some('*')) => {
                chars.next();
                out.push_str("  ");
                let mut last = ' ';
                for next in chars.by_ref() {
                    out.push(if next == '\n' { '\n' } else { ' ' });
                    if last == '*' && next == '/' {
                        break;
                    }
                    last = next;
                }
            }
            ('\t', _) => out.push(' '),
            (c, _) => {
                if first_token.is_none() && !c.is_whitespace() {
                    first_token = Some(c);
                }
                if c == '"' {
                    in_string = true;
                }
                out.push(c);
            }
        }
    }
    (first_token == Some('{')).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(name: &str, text: &str) -> Vec<(String, Result<String, Problem>)> {
        let scan = scan(name, text).expect("a dev container");
        assert_eq!(scan.kind, Kind::Devcontainer);
        scan.found
            .into_iter()
            .map(|f| (f.location, f.image))
            .collect()
    }

    #[test]
    fn image_with_comments_tabs_and_trailing_commas() {
        let text = "// the dev container\n{\n\t/* the base */\n\t\"name\": \"x // y\",\n\t\"image\": \"mcr.microsoft.com/devcontainers/base:bookworm\", // pinned\n\t\"features\": {\"ghcr.io/devcontainers/features/node:1\": {},},\n}\n";
        assert_eq!(
            rows(".devcontainer/devcontainer.json", text),
            [(
                ".devcontainer/devcontainer.json:5".to_owned(),
                Ok("mcr.microsoft.com/devcontainers/base:bookworm".to_owned())
            )]
        );
    }

    #[test]
    fn dockerfiles_compose_files_and_substitutions() {
        let build = "{\"build\": {\"dockerfile\": \"Dockerfile\", \"context\": \"..\"}}";
        assert_eq!(
            rows("devcontainer.json", build),
            [(
                "devcontainer.json:1".to_owned(),
                Err(Problem::Elsewhere(
                    "built from the Dockerfile Dockerfile: check that file".into()
                ))
            )]
        );
        let compose = "{\n  \"dockerComposeFile\": [\"../compose.yaml\", \"dev.yaml\"],\n  \"service\": \"app\"\n}";
        assert_eq!(
            rows("devcontainer.json", compose),
            [(
                "devcontainer.json:2".to_owned(),
                Err(Problem::Elsewhere(
                    "the service app of ../compose.yaml, dev.yaml: check that file".into()
                ))
            )]
        );
        let env = "{\"image\": \"ghcr.io/org/dev:${localEnv:TAG:latest}\"}";
        assert_eq!(
            rows("devcontainer.json", env),
            [(
                "devcontainer.json:1".to_owned(),
                Err(Problem::UnresolvedVariable("${localEnv:TAG:latest}".into()))
            )]
        );
    }

    #[test]
    fn other_json_is_not_a_dev_container() {
        assert!(scan("pod.json", "{\"apiVersion\": \"v1\", \"kind\": \"Pod\"}").is_none());
        assert!(scan("list.txt", "alpine\n").is_none());
        assert!(scan("a.json", "[{\"image\": \"x\"}]").is_none());
        // an unterminated comment or string is no hang and no panic
        assert!(scan("a.json", "{\"image\": \"x\" /* never closed").is_none());
        let broken = scan("devcontainer.json", "{\"image\": \"x\"").expect("named so");
        assert!(matches!(broken.found[0].image, Err(Problem::Unparsable(_))));
    }
}
