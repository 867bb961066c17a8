//! What a registry's pull token says it grants: distribution's token spec makes a token a JWT
//! whose claims carry an `access` list (`{"type":"repository","name":...,"actions":[...]}`),
//! as Docker Hub's, distribution's, GitLab's and Quay's are. A token is a token server's
//! answer, so hostile: at most [`MAX_TOKEN`] bytes are looked at and at most [`MAX_GRANTS`]
//! repositories read; anything unexpected says nothing.

use base64::Engine as _;
use serde::Deserialize;

/// The longest token read (the registry client reads at most 64 KiB of a token response).
pub const MAX_TOKEN: usize = 64 << 10;
/// The most repositories read from one token's claims (a combined request names at most 64).
pub const MAX_GRANTS: usize = 256;

/// The repositories `token` grants `pull` on (or `*`), when it is a JWT whose claims carry an
/// `access` list; `None` for an opaque token (ghcr.io's anonymous ones, ECR Public's), which
/// says nothing of what it grants.
pub fn granted_repositories(token: &str) -> Option<Vec<String>> {
    #[derive(Deserialize)]
    struct Claims {
        access: Vec<Access>,
    }
    #[derive(Deserialize)]
    struct Access {
        #[serde(rename = "type")]
        kind: String,
        name: String,
        #[serde(default)]
        actions: Vec<String>,
    }
    if token.len() > MAX_TOKEN {
        return None;
    }
    let mut parts = token.split('.');
    let (Some(_header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: Claims = serde_json::from_slice(&payload).ok()?;
    if claims.access.len() > MAX_GRANTS {
        return None;
    }
    Some(
        claims
            .access
            .into_iter()
            .filter(|a| {
                a.kind == "repository"
                    && a.actions
                        .iter()
                        .any(|action| action == "pull" || action == "*")
            })
            .map(|a| a.name)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &str) -> String {
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.sig", b64(r#"{"alg":"ES256"}"#), b64(claims))
    }

    #[test]
    fn what_a_token_grants() {
        let token = jwt(
            r#"{"access":[{"type":"repository","name":"library/alpine","actions":["pull"]},
                {"type":"repository","name":"private/x","actions":[]},
                {"type":"registry","name":"catalog","actions":["*"]},
                {"type":"repository","name":"org/all","actions":["*"]}]}"#,
        );
        assert_eq!(
            granted_repositories(&token),
            Some(vec!["library/alpine".to_owned(), "org/all".to_owned()])
        );
        // opaque tokens say nothing: ghcr.io's, ECR Public's
        assert_eq!(granted_repositories("djE6b3JnL2FwcDox"), None);
        assert_eq!(granted_repositories(&jwt(r#"{"sub":"x"}"#)), None);
        assert_eq!(granted_repositories("a.%%%.c"), None);
        assert_eq!(granted_repositories("a.b.c.d"), None);
        // bounded
        let many = format!(
            r#"{{"access":[{}]}}"#,
            vec![r#"{"type":"repository","name":"a","actions":["pull"]}"#; MAX_GRANTS + 1]
                .join(",")
        );
        assert_eq!(granted_repositories(&jwt(&many)), None);
        assert_eq!(granted_repositories(&"a".repeat(MAX_TOKEN + 1)), None);
    }
}
