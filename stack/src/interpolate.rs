//! Variable substitution as Compose and Dockerfiles write it: `$VAR`, `${VAR}`,
//! `${VAR:-default}` and `${VAR-default}` (the default when unset), `$$` for a dollar. A
//! variable with no value and no default cannot be looked up: it is reported by name.

use crate::Problem;

/// `text` with its variables replaced from `vars`.
pub fn interpolate(text: &str, vars: &dyn Fn(&str) -> Option<String>) -> Result<String, Problem> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(braced) = after.strip_prefix('{') {
            let Some(close) = braced.find('}') else {
                return Err(Problem::UnresolvedVariable(braced.to_owned()));
            };
            let inner = &braced[..close];
            let (name, default) = match inner.find([':', '-']) {
                Some(i) => {
                    let default = inner[i..].trim_start_matches(':');
                    let default = default.strip_prefix('-').unwrap_or(default);
                    (&inner[..i], Some(default))
                }
                None => (inner, None),
            };
            match vars(name)
                .filter(|v| !v.is_empty())
                .or(default.map(str::to_owned))
            {
                Some(value) => out.push_str(&value),
                None => return Err(Problem::UnresolvedVariable(name.to_owned())),
            }
            rest = &braced[close + 1..];
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            let name = &after[..end];
            if name.is_empty() {
                out.push('$');
            } else {
                match vars(name) {
                    Some(value) => out.push_str(&value),
                    None => return Err(Problem::UnresolvedVariable(name.to_owned())),
                }
            }
            rest = &after[end..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let vars = |name: &str| match name {
            "TAG" => Some("1.22".to_owned()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        let i = |t: &str| interpolate(t, &vars);
        assert_eq!(i("golang:$TAG"), Ok("golang:1.22".into()));
        assert_eq!(i("golang:${TAG}-alpine"), Ok("golang:1.22-alpine".into()));
        assert_eq!(i("node:${NODE:-20}"), Ok("node:20".into()));
        assert_eq!(i("node:${NODE-20}"), Ok("node:20".into()));
        assert_eq!(i("node:${EMPTY:-20}"), Ok("node:20".into()));
        assert_eq!(i("cost: $$5"), Ok("cost: $5".into()));
        assert_eq!(
            i("app:${VERSION}"),
            Err(Problem::UnresolvedVariable("VERSION".into()))
        );
        assert_eq!(
            i("app:$VERSION"),
            Err(Problem::UnresolvedVariable("VERSION".into()))
        );
        assert_eq!(
            i("app:${OPEN"),
            Err(Problem::UnresolvedVariable("OPEN".into()))
        );
        assert_eq!(i("alpine"), Ok("alpine".into()));
    }
}
