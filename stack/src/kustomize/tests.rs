use super::*;

/// A rule named `name` with the given new name, new tag, digest and tag suffix.
fn rule(name: &str, new: [Option<&str>; 4]) -> ImageRule {
    let [new_name, new_tag, digest, tag_suffix] = new.map(|v| v.map(str::to_owned));
    ImageRule {
        name: name.to_owned(),
        new_name,
        new_tag,
        digest,
        tag_suffix,
        line: 0,
    }
}

fn read(name: &str, text: &str) -> Kustomization {
    match parse(name, text) {
        Some(Ok(k)) => k,
        other => panic!("{name}: {other:?}"),
    }
}

fn refused(name: &str, text: &str) -> (String, Problem) {
    match parse(name, text) {
        Some(Err(Found {
            location,
            image: Err(problem),
            ..
        })) => (location, problem),
        other => panic!("{name}: {other:?}"),
    }
}

fn paths(entries: &[Entry]) -> Vec<(&str, usize)> {
    entries.iter().map(|e| (e.path.as_str(), e.line)).collect()
}

/// api/internal/image/image_test.go `TestIsImageMatched`.
#[test]
fn kustomize_matching_cases() {
    let sha512 = "nginx@sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";
    let cases = [
        ("nginx", "nginx", true),
        ("nginx:12345", "nginx", true),
        ("nginx@sha256:xyz", "nginx", true),
        ("nginx:12345@sha256:xyz", "nginx", true),
        ("nginx@sha512:xyz", "nginx", true),
        ("nginx:12345@sha512:xyz", "nginx", true),
        (sha512, "nginx", true),
        (
            "nginx@multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8",
            "nginx",
            true,
        ),
        ("apache:12345", "nginx", false),
        // an invalid regexp matches nothing
        ("nginx", "[", false),
    ];
    for (image, name, want) in cases {
        assert_eq!(image::is_matched(image, name), want, "{image} by {name}");
    }
}

/// The regexp's other edges: the name is a prefix only up to a tag or a digest, `.` is any
/// character, the tag's and the digest's characters are bounded.
#[test]
fn matching_edges() {
    let cases = [
        ("nginx-alpine", "nginx", false),
        ("docker.io/nginx", "nginx", false),
        ("nginx", "docker.io/nginx", false),
        ("dockerXio/nginx:1", "docker.io/nginx", true),
        ("docker.io/nginx", "docker\\.io/nginx", true),
        ("dockerXio/nginx", "docker\\.io/nginx", false),
        ("a\nb", "a.b", false),
        (
            "some.registry.io/my-image:{GENERATED_TAG}",
            "some.registry.io/my-image",
            true,
        ),
        ("nginx:1/2", "nginx", false),
        ("nginx:", "nginx", true),
        ("nginx@sha256", "nginx", false),
        ("nginx@-sha:1", "nginx", false),
        ("nginx@sha--256:1", "nginx", false),
        ("nginx@sha.256:a.b", "nginx", true),
        // `}` and `]` alone, and a `{` that starts no repetition, are literal in Go
        ("a}b", "a}b", true),
        ("a]b", "a]b", true),
        ("a{b", "a{b", true),
        // Go refuses these: nothing matches
        ("nginx", "*nginx", false),
        ("nginx)", "nginx)", false),
        ("nginx", "nginx\\", false),
        ("{2}", "{2}", false),
        // an empty name matches a reference that is only a tag or a digest
        (":1", "", true),
        ("nginx", "", false),
    ];
    for (image, name, want) in cases {
        assert_eq!(
            image::is_matched(image, name),
            want,
            "{image:?} by {name:?}"
        );
    }
    let syntax = |name: &str| rule(name, [None; 4]).unsupported_syntax();
    assert_eq!(syntax("docker.io/nginx"), None);
    assert_eq!(syntax("docker\\.io/nginx"), None);
    assert_eq!(syntax("["), None, "invalid: kustomize matches nothing too");
    assert_eq!(
        syntax("a[]"),
        None,
        "`]` first in a class is literal: still unclosed"
    );
    assert_eq!(syntax("nginx|apache"), Some('|'));
    assert_eq!(syntax("ngin(x)"), Some('('));
    assert_eq!(syntax("nginx.*"), Some('*'));
    assert_eq!(syntax("ghcr.io/[a-z]+"), Some('['));
    assert_eq!(syntax("\\d"), Some('\\'));
    assert_eq!(syntax("a{2}"), Some('{'));
    assert!(!image::is_matched("nginx", "nginx|apache"));
}

/// api/internal/image/image_test.go `TestSplit`.
#[test]
fn kustomize_split_cases() {
    let cases = [
        ("nginx", ("nginx", "", "")),
        ("nginx:1.2.3", ("nginx", "1.2.3", "")),
        ("nginx@sha256:12345", ("nginx", "", "sha256:12345")),
        (
            "nginx:1.2.3@sha256:12345",
            ("nginx", "1.2.3", "sha256:12345"),
        ),
        ("docker.io/nginx:1.2.3", ("docker.io/nginx", "1.2.3", "")),
        (
            "foo.com:443/nginx:1.2.3",
            ("foo.com:443/nginx", "1.2.3", ""),
        ),
        (
            "foo.com:443/nginx:1.2.3@sha256:12345",
            ("foo.com:443/nginx", "1.2.3", "sha256:12345"),
        ),
        // the rest of `Split`'s branches
        ("foo.com:443/nginx", ("foo.com:443/nginx", "", "")),
        ("/nginx:1", ("/nginx", "1", "")),
        ("nginx@sha256:1:2", ("nginx", "", "sha256:1:2")),
    ];
    for (image, want) in cases {
        assert_eq!(image::split(image), want, "{image}");
    }
}

/// api/filters/imagetag/imagetag_test.go and legacy_test.go: each table's rule on each of
/// its images, one pass (a field one filter reaches).
#[test]
fn kustomize_rewrite_cases() {
    let images = [
        "nginx:1.7.9",
        "nginx:latest",
        "foobar:1",
        "postgres:1.8.0",
        "nginx",
        "nginx@sha256:111111111111111111",
        "alpine:1.8.0",
    ];
    let digest = Some("sha256:222222222222222222");
    let tables: [(ImageRule, [&str; 7]); 5] = [
        // "new Tag"
        (
            rule("nginx", [None, Some("v2"), None, None]),
            [
                "nginx:v2",
                "nginx:v2",
                "foobar:1",
                "postgres:1.8.0",
                "nginx:v2",
                "nginx:v2",
                "alpine:1.8.0",
            ],
        ),
        // "newImage"
        (
            rule("nginx", [Some("busybox"), None, None, None]),
            [
                "busybox:1.7.9",
                "busybox:latest",
                "foobar:1",
                "postgres:1.8.0",
                "busybox",
                "busybox@sha256:111111111111111111",
                "alpine:1.8.0",
            ],
        ),
        // "newImageAndTag"
        (
            rule("nginx", [Some("busybox"), Some("v3"), None, None]),
            [
                "busybox:v3",
                "busybox:v3",
                "foobar:1",
                "postgres:1.8.0",
                "busybox:v3",
                "busybox:v3",
                "alpine:1.8.0",
            ],
        ),
        // "newDigest"
        (
            rule("nginx", [None, None, digest, None]),
            [
                "nginx@sha256:222222222222222222",
                "nginx@sha256:222222222222222222",
                "foobar:1",
                "postgres:1.8.0",
                "nginx@sha256:222222222222222222",
                "nginx@sha256:222222222222222222",
                "alpine:1.8.0",
            ],
        ),
        // "newImageAndDigest"
        (
            rule("nginx", [Some("busybox"), None, digest, None]),
            [
                "busybox@sha256:222222222222222222",
                "busybox@sha256:222222222222222222",
                "foobar:1",
                "postgres:1.8.0",
                "busybox@sha256:222222222222222222",
                "busybox@sha256:222222222222222222",
                "alpine:1.8.0",
            ],
        ),
    ];
    for (rule, want) in &tables {
        let got = images.map(|i| apply(std::slice::from_ref(rule), i));
        assert_eq!(&got, want, "{rule:?}");
    }
    let long = "sha256:46d5b90a7f4e9996351ad893a26bcbd27216676ad4d5316088ce351fb2c2c3dd";
    let tagged = format!("nginx:1.2.1@{long}");
    let singles = [
        // "legacy multiple images in containers", "update with digest"
        (
            rule("nginx", [Some("apache"), None, Some("12345"), None]),
            "nginx:1.2.1",
            "apache@12345".to_owned(),
        ),
        (
            rule("nginx", [Some("apache"), None, Some("12345"), None]),
            "nginx:2.1.2",
            "apache@12345".into(),
        ),
        // "legacy both containers and initContainers"
        (
            rule("nginx", [Some("apache"), Some("3.2.1"), None, None]),
            "nginx:1.2.1",
            "apache:3.2.1".into(),
        ),
        (
            rule("nginx", [Some("apache"), Some("3.2.1"), None, None]),
            "tomcat:1.2.3",
            "tomcat:1.2.3".into(),
        ),
        // "multiple matches in sequence"
        (
            rule("nginx", [Some("apache"), Some("3.2.1"), None, None]),
            "not_nginx@54321",
            "not_nginx@54321".into(),
        ),
        // "tagWithBraces"
        (
            rule(
                "some.registry.io/my-image",
                [None, Some("my-fixed-tag"), None, None],
            ),
            "some.registry.io/my-image:{GENERATED_TAG}",
            "some.registry.io/my-image:my-fixed-tag".into(),
        ),
        // "image with tag and digest new name"
        (
            rule("nginx", [Some("apache"), None, None, None]),
            &tagged,
            format!("apache:1.2.1@{long}"),
        ),
        // "... new name new tag"
        (
            rule("nginx", [Some("apache"), Some("1.3.0"), None, None]),
            &tagged,
            "apache:1.3.0".into(),
        ),
        // "... new name new tag and digest"
        (
            rule(
                "nginx",
                [Some("apache"), Some("1.3.0"), Some("sha256:xyz"), None],
            ),
            &tagged,
            "apache:1.3.0@sha256:xyz".into(),
        ),
        // "updateimagesuffix"
        (
            rule("redis", [None, None, None, Some("-alpine")]),
            "redis:6.2.6",
            "redis:6.2.6-alpine".into(),
        ),
        // "update image volume in pod spec"
        (
            rule("nginx", [Some("apache"), None, Some("12345"), None]),
            "nginx",
            "apache@12345".into(),
        ),
    ];
    for (rule, image, want) in singles {
        assert_eq!(
            apply(std::slice::from_ref(&rule), image),
            want,
            "{rule:?} on {image}"
        );
    }
}

/// updater.go's precedence: a suffix yields to a new tag or a digest, and drops a digest; an
/// empty value is unset; the rules apply in order, each to the previous one's result.
#[test]
fn precedence_and_order() {
    let one = |r: ImageRule, image: &str| apply(&[r], image);
    let tag_and_suffix = rule("redis", [None, Some("7"), None, Some("-alpine")]);
    assert_eq!(one(tag_and_suffix, "redis:6"), "redis:7");
    let digest_and_suffix = rule("redis", [None, None, Some("sha256:1"), Some("-alpine")]);
    assert_eq!(one(digest_and_suffix, "redis:6"), "redis@sha256:1");
    let suffix = rule("redis", [None, None, None, Some("-alpine")]);
    assert_eq!(one(suffix.clone(), "redis:6@sha256:1"), "redis:6-alpine");
    assert_eq!(one(suffix, "redis"), "redis:-alpine");
    let empty = rule("redis", [Some(""), Some(""), Some(""), Some("")]);
    assert_eq!(one(empty, "redis:6@sha256:1"), "redis:6@sha256:1");
    let rules = [
        rule("nginx", [Some("ghcr.io/org/nginx"), None, None, None]),
        rule("ghcr.io/org/nginx", [None, Some("1.27"), None, None]),
        rule("nginx", [None, Some("never"), None, None]),
    ];
    assert_eq!(apply(&rules, "nginx:1.25"), "ghcr.io/org/nginx:1.27");
}

/// Which fields the transformer reaches, and how often; a field both filters reach takes
/// each rule twice (kubernetes-sigs/kustomize issue 4814: `redis:6.2.6-alpine-alpine`).
#[test]
fn fields_and_passes() {
    let cases = [
        ("Deployment", "spec/template/spec/containers/[]/image", 2),
        (
            "Deployment",
            "spec/template/spec/initContainers/[]/image",
            2,
        ),
        ("Pod", "spec/containers/[]/image", 2),
        ("Pod", "spec/ephemeralContainers/[]/image", 0),
        (
            "Deployment",
            "spec/template/spec/ephemeralContainers/[]/image",
            0,
        ),
        (
            "CronJob",
            "spec/jobTemplate/spec/template/spec/containers/[]/image",
            1,
        ),
        ("MyKind", "spec/anything/containers/[]/image", 1),
        ("Pod", "spec/volumes/[]/image/reference", 1),
        (
            "Deployment",
            "spec/template/spec/volumes/[]/image/reference",
            1,
        ),
        ("MyKind", "spec/runLatest/container/image", 0),
        ("Pod", "spec/containers/image", 0),
        ("CustomResourceDefinition", "spec/containers/[]/image", 0),
    ];
    for (kind, field, want) in cases {
        assert_eq!(
            passes(kind, &field.split('/').collect::<Vec<_>>()),
            want,
            "{kind} {field}"
        );
    }
    let suffix = [rule("redis", [None, None, None, Some("-alpine")])];
    assert_eq!(
        transform(&suffix, "redis:6.2.6", 2),
        "redis:6.2.6-alpine-alpine"
    );
    assert_eq!(transform(&suffix, "redis:6.2.6", 0), "redis:6.2.6");
    let renamed = [rule(
        "redis",
        [Some("mirror/redis"), None, None, Some("-alpine")],
    )];
    assert_eq!(
        transform(&renamed, "redis:6.2.6", 2),
        "mirror/redis:6.2.6-alpine"
    );
}

#[test]
fn detection() {
    let declared =
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- a.yaml\n";
    assert_eq!(paths(&read("x.yaml", declared).resources), [("a.yaml", 4)]);
    let component = "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nimages:\n- name: a\n  newTag: b\n";
    assert_eq!(
        read("x.yaml", component).images[0].new_tag.as_deref(),
        Some("b")
    );
    // either of kind and apiVersion alone
    read("x.yaml", "kind: Kustomization\nnamePrefix: a-\n");
    read("x.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\n");
    // neither: the fields, matched as Go's decoder matches names (the Kelvin sign is `k`)
    let fields = read("x.yaml", "Resources:\n- a\nBASES: [b]\nnamePrefix: p-\n");
    assert_eq!(paths(&fields.resources), [("a", 2), ("b", 3)]);
    read("x.yaml", "\u{212A}ind: Kustomization\n");
    let not = [
        "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers: [{image: nginx}]\n",
        "services:\n  web:\n    image: nginx\n",
        "just: a mapping\n",
        "namePrefix: a-\n",
        "resources: [a]\nextra: 1\n",
        // Flux's Kustomization is a Kubernetes resource
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nspec:\n  path: ./app\n",
        "kind: Kustomization\nspec: {}\n",
        "- resources\n",
        "resources: [a]\n---\nresources: [b]\n",
        "",
        // YAML errors belong to the YAML scan, unless the name is kustomize's
        "resources: [a\n",
    ];
    for text in not {
        assert_eq!(parse("x.yaml", text), None, "{text}");
    }
    let (location, problem) = refused("dir/kustomization.yaml", "resources: [a\n");
    assert!(
        location.starts_with("dir/kustomization.yaml:"),
        "{location}"
    );
    assert!(matches!(problem, Problem::Unparsable(_)), "{problem:?}");
}

/// What kustomize refuses in a kustomization: each a row at its line.
#[test]
fn refusals() {
    let head = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n";
    let cases = [
        ("resources: [a]\nfoo: 1\n", 4, "unknown field \"foo\""),
        ("resources: a.yaml\n", 3, "resources is not a list"),
        ("resources: [1]\n", 3, "a path is not a string"),
        (
            "images:\n- name: a\n  newTag: 1.2\n",
            5,
            "newTag is not a string",
        ),
        (
            "images:\n- name: a\n  newtag2: b\n",
            5,
            "unknown field \"newtag2\" in an image rule",
        ),
        ("images: [a]\n", 3, "an image rule is not a mapping"),
    ];
    for (body, line, reason) in cases {
        let (location, problem) = refused("k.yaml", &format!("{head}{body}"));
        assert_eq!(location, format!("k.yaml:{line}"), "{body}");
        assert_eq!(problem, Problem::Kustomize(reason.to_owned()));
    }
    let (_, problem) = refused(
        "k.yaml",
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Kustomization\n",
    );
    let want = "apiVersion for Kustomization should be kustomize.config.k8s.io/v1beta1";
    assert_eq!(problem, Problem::Kustomize(want.into()));
    // a mapping that only looks like one is refused only under kustomize's file names
    assert_eq!(parse("x.yaml", "images:\n- path: a\n"), None);
    refused("Kustomization", "images:\n- path: a\n");
}

/// The deprecated fields, appended as kustomize's `FixKustomization` appends them; nulls and
/// empty values; case-insensitive image fields.
#[test]
fn deprecated_fields_and_nulls() {
    let text = "bases: [base]\nresources:\n- app.yaml\n- ~\nimageTags:\n- name: old\n  newTag: v1\nimages:\n- NAME: new\n  NewName: ghcr.io/org/new\n  digest: ''\n- ~\ncomponents:\n";
    let k = read("kustomization.yaml", text);
    assert_eq!(paths(&k.resources), [("app.yaml", 3), ("base", 1)]);
    assert_eq!(k.components, []);
    let names: Vec<_> = k.images.iter().map(|r| (r.name.as_str(), r.line)).collect();
    assert_eq!(names, [("new", 9), ("", 12), ("old", 6)]);
    assert_eq!(k.images[0].new_name.as_deref(), Some("ghcr.io/org/new"));
    assert_eq!(k.images[0].digest, None);
}

#[test]
fn bounds() {
    let head = "kind: Kustomization\n";
    let many: String = (0..2000).map(|i| format!("- r{i}.yaml\n")).collect();
    let (location, problem) = refused("k.yaml", &format!("{head}resources:\n{many}"));
    assert_eq!(location, "k.yaml:2");
    let want = "a kustomization with more than 1000 entries in resources (2000); a check reads at most that";
    assert_eq!(problem, Problem::Limit(want.into()));
    // resources and bases together
    let half: String = (0..600).map(|i| format!("- r{i}\n")).collect();
    let (_, problem) = refused("k.yaml", &format!("{head}resources:\n{half}bases:\n{half}"));
    assert!(
        matches!(&problem, Problem::Limit(m) if m.contains("(1200)")),
        "{problem:?}"
    );
    let rules: String = (0..1001).map(|i| format!("- name: i{i}\n")).collect();
    let (_, problem) = refused("k.yaml", &format!("{head}images:\n{rules}"));
    assert!(
        matches!(&problem, Problem::Limit(m) if m.contains("in images (1001)")),
        "{problem:?}"
    );
    let exactly: String = (0..1000).map(|i| format!("- r{i}\n")).collect();
    assert_eq!(
        read("k.yaml", &format!("{head}resources:\n{exactly}"))
            .resources
            .len(),
        1000
    );
    let long = "a".repeat(MAX_EXPANSION + 1);
    let (location, problem) = refused(
        "k.yaml",
        &format!("{head}images:\n- name: x\n  newTag: {long}\n"),
    );
    assert_eq!(location, "k.yaml:4");
    assert!(
        matches!(&problem, Problem::Limit(m) if m.starts_with("a kustomization string of 4097 bytes")),
        "{problem:?}"
    );
    // the loader's limits hold too
    let (_, problem) = refused("kustomization.yaml", &"[".repeat(5000));
    assert!(matches!(problem, Problem::Limit(_)), "{problem:?}");
}

macro_rules! fixture {
    ($path:literal) => {
        (
            $path,
            include_str!(concat!("../../tests/fixtures/kustomize/", $path)),
        )
    };
}

/// kustomize's examples and microservices-demo's kustomize directory
/// (stack/tests/fixtures/kustomize/README.md).
#[test]
fn real_files() {
    let (name, text) = fixture!("microservices-demo/kustomization.yaml");
    let top = read(name, text);
    assert_eq!(paths(&top.resources), [("base", 18)]);
    assert_eq!(top.components, [], "every component is commented out");
    let (name, text) = fixture!("microservices-demo/base/kustomization.yaml");
    let base = read(name, text);
    assert_eq!(base.resources.len(), 11);
    assert_eq!(paths(&base.resources[..1]), [("adservice.yaml", 18)]);
    let service = "us-central1-docker.pkg.dev/online-boutique-ci/microservices-demo/cartservice";
    let image = format!("{service}:v0.10.6");
    let components = [
        (
            fixture!("microservices-demo/components/container-images-tag/kustomization.yaml"),
            11,
        ),
        (
            fixture!(
                "microservices-demo/components/container-images-tag-suffix/kustomization.yaml"
            ),
            11,
        ),
        (
            fixture!("microservices-demo/components/container-images-registry/kustomization.yaml"),
            12,
        ),
    ];
    let mut rules = Vec::new();
    for ((name, text), count) in components {
        let k = read(name, text);
        assert_eq!(k.images.len(), count, "{name}");
        assert!(k.images.iter().all(|r| r.unsupported_syntax().is_none()));
        rules.extend(k.images);
    }
    // in the order the top kustomization lists them ("must be run last and in this order"),
    // on a Deployment's container: both filters reach it
    let pass = passes(
        "Deployment",
        &["spec", "template", "spec", "containers", "[]", "image"],
    );
    assert_eq!(
        transform(&rules, &image, pass),
        "CONTAINER_IMAGES_REGISTRY/cartservice:CONTAINER_IMAGES_TAGCONTAINER_IMAGES_TAG_SUFFIXCONTAINER_IMAGES_TAG_SUFFIX"
    );
    assert_eq!(
        apply(&rules, "redis:alpine"),
        "CONTAINER_IMAGES_REGISTRY/redis:alpine"
    );
    for (name, text) in [
        fixture!("microservices-demo/base/cartservice.yaml"),
        fixture!("multibases/base/pod.yaml"),
        fixture!("transformerconfigs/images/resources.yaml"),
        fixture!("transformerconfigs/images/mykind.yaml"),
    ] {
        assert_eq!(parse(name, text), None, "{name}");
    }
    let (name, text) = fixture!("multibases/kustomization.yaml");
    assert_eq!(
        paths(&read(name, text).resources),
        [("dev", 2), ("staging", 3), ("production", 4)]
    );
    for (name, text) in [
        fixture!("multibases/dev/kustomization.yaml"),
        fixture!("multibases/staging/kustomization.yaml"),
        fixture!("multibases/production/kustomization.yaml"),
    ] {
        assert_eq!(
            paths(&read(name, text).resources),
            [("../base", 2)],
            "{name}"
        );
    }
    let (name, text) = fixture!("multibases/base/kustomization.yaml");
    assert_eq!(paths(&read(name, text).resources), [("pod.yaml", 2)]);
    // the example's own checks (examples/transformerconfigs/images/README.md)
    let (name, text) = fixture!("transformerconfigs/images/kustomization.yaml");
    let k = read(name, text);
    assert_eq!(paths(&k.resources), [("resources.yaml", 2)]);
    let rewritten =
        ["crd-image", "my-app", "docker", "my-mysql", "alpine:1.8.0"].map(|i| apply(&k.images, i));
    assert_eq!(
        rewritten,
        [
            "new-crd-image:new-v1-tag",
            "new-app-1:MYNEWTAG-1",
            "my-docker2@sha256:25a0d4",
            "prod-mysql:v3",
            "alpine:1.8.0"
        ]
    );
}
