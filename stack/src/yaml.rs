//! Compose files and Kubernetes YAML, read with saphyr (YAML 1.2, anchors resolved) so that
//! every value keeps its line.

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};

use crate::interpolate::interpolate;
use crate::{Found, Kind, Problem, Scan, reference};

/// The pod-spec fields that hold containers, wherever a pod template sits (Pod, Deployment,
/// StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, a `kind: List` of any of them).
const CONTAINER_FIELDS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

fn text<'a>(node: &'a MarkedYaml) -> Option<&'a str> {
    match &node.data {
        YamlData::Value(Scalar::String(s)) => Some(s),
        _ => None,
    }
}

fn entries<'a, 'input>(
    node: &'a MarkedYaml<'input>,
) -> Option<impl Iterator<Item = (&'a MarkedYaml<'input>, &'a MarkedYaml<'input>)>> {
    match &node.data {
        YamlData::Mapping(map) => Some(map.iter()),
        _ => None,
    }
}

fn get<'a, 'input>(node: &'a MarkedYaml<'input>, key: &str) -> Option<&'a MarkedYaml<'input>> {
    entries(node)?
        .find(|(k, _)| text(k) == Some(key))
        .map(|(_, v)| v)
}

fn location(name: &str, node: &MarkedYaml) -> String {
    format!("{name}:{}", node.span.start.line())
}

/// Compose or Kubernetes: `Ok(None)` when the YAML is neither; `Err` (a problem row) when it
/// does not parse.
pub fn scan(name: &str, text_: &str) -> Result<Option<Scan>, Found> {
    let docs = MarkedYaml::load_from_str(text_).map_err(|e| Found {
        location: format!("{name}:{}", e.marker().line()),
        image: Err(Problem::Unparsable(e.info().to_owned())),
        platform: None,
    })?;
    if let Some(services) = docs.iter().find_map(|d| get(d, "services")) {
        return Ok(Some(Scan {
            kind: Kind::Compose,
            found: compose(name, services),
        }));
    }
    let kubernetes = docs
        .iter()
        .any(|d| get(d, "kind").is_some() && get(d, "apiVersion").is_some());
    if !kubernetes {
        return Ok(None);
    }
    let mut found = Vec::new();
    for doc in &docs {
        containers(name, doc, &mut found);
    }
    Ok(Some(Scan {
        kind: Kind::Kubernetes,
        found,
    }))
}

/// `services.*.image`, with `${VAR:-default}` interpolated (no environment is read: a
/// variable without a default is reported); `build:`-only services are listed, not looked up.
fn compose(name: &str, services: &MarkedYaml) -> Vec<Found> {
    let no_env = |_: &str| None;
    let mut found = Vec::new();
    for (key, service) in entries(services).into_iter().flatten() {
        let platform = get(service, "platform")
            .and_then(text)
            .and_then(|p| interpolate(p, &no_env).ok());
        let row = match get(service, "image") {
            Some(image) => Found {
                location: location(name, image),
                image: match text(image) {
                    Some(t) => interpolate(t, &no_env).and_then(|i| reference(&i)),
                    None => Err(Problem::NotAString),
                },
                platform,
            },
            None if get(service, "build").is_some() => Found {
                location: location(name, key),
                image: Err(Problem::BuiltLocally),
                platform,
            },
            None => continue,
        };
        found.push(row);
    }
    found
}

/// Every container of every pod template in `node`, in document order.
fn containers(name: &str, node: &MarkedYaml, found: &mut Vec<Found>) {
    match &node.data {
        YamlData::Mapping(map) => {
            for (key, value) in map {
                let is_containers = text(key).is_some_and(|k| CONTAINER_FIELDS.contains(&k));
                match (&value.data, is_containers) {
                    (YamlData::Sequence(list), true) => {
                        for container in list {
                            if let Some(image) = get(container, "image") {
                                found.push(Found {
                                    location: location(name, image),
                                    image: text(image).map_or(Err(Problem::NotAString), reference),
                                    platform: None,
                                });
                            }
                        }
                    }
                    _ => containers(name, value, found),
                }
            }
        }
        YamlData::Sequence(list) => {
            for item in list {
                containers(name, item, found);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rows;

    #[test]
    fn compose_services() {
        let compose = r#"
x-common: &common
  restart: always
services:
  web:
    <<: *common
    image: "nginx:1.27-alpine"
    platform: linux/arm64
  api:
    build: ./api
  db:
    image: postgres:${PG_VERSION:-16}
  cache:
    image: redis:${REDIS_TAG}
  odd:
    image: 42
"#;
        let scan = scan("compose.yaml", compose)
            .expect("parses")
            .expect("compose");
        assert_eq!(scan.kind, Kind::Compose);
        assert_eq!(
            rows(&scan),
            [
                (
                    "compose.yaml:7".into(),
                    Ok("nginx:1.27-alpine".into()),
                    Some("linux/arm64".into())
                ),
                ("compose.yaml:9".into(), Err(Problem::BuiltLocally), None),
                ("compose.yaml:12".into(), Ok("postgres:16".into()), None),
                (
                    "compose.yaml:14".into(),
                    Err(Problem::UnresolvedVariable("REDIS_TAG".into())),
                    None
                ),
                ("compose.yaml:16".into(), Err(Problem::NotAString), None),
            ]
        );
    }

    #[test]
    fn kubernetes_documents_and_lists() {
        let k8s = r#"apiVersion: v1
kind: List
items:
- apiVersion: apps/v1
  kind: StatefulSet
  spec:
    template:
      spec:
        initContainers: [{name: init, image: ghcr.io/org/migrate:v3}]
        containers:
        - {name: app, image: ghcr.io/org/app:v3}
---
apiVersion: v1
kind: Pod
spec:
  ephemeralContainers:
  - name: debug
    image: "{{ .Values.image }}"
"#;
        let scan = scan("-", k8s).expect("parses").expect("kubernetes");
        assert_eq!(scan.kind, Kind::Kubernetes);
        assert_eq!(
            rows(&scan),
            [
                ("-:9".into(), Ok("ghcr.io/org/migrate:v3".into()), None),
                ("-:11".into(), Ok("ghcr.io/org/app:v3".into()), None),
                (
                    "-:18".into(),
                    Err(Problem::Template("{{ .Values.image }}".into())),
                    None
                ),
            ]
        );
    }

    #[test]
    fn broken_yaml_is_a_row() {
        let err = scan("bad.yaml", "services:\n  web: [unclosed\n").expect_err("broken");
        assert!(err.location.starts_with("bad.yaml:"), "{err:?}");
        assert!(matches!(err.image, Err(Problem::Unparsable(_))));
        assert_eq!(scan("x.yaml", "just: a mapping\n").expect("parses"), None);
    }
}
