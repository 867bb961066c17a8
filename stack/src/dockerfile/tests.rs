use super::*;
use crate::Triple;
use crate::limits::MAX_EXPANSION;
use lex::Value;

fn triple(os: &str, arch: &str, variant: &str) -> Triple {
    Triple {
        os: os.into(),
        arch: arch.into(),
        variant: variant.into(),
    }
}

/// Building on linux/amd64 for linux/arm64.
fn context() -> Context {
    Context {
        vars: None,
        target: Some(triple("linux", "arm64", "")),
        build: triple("linux", "amd64", ""),
        files: None,
    }
}

type Row = (usize, Result<String, Problem>, Option<String>);

fn scan_with(text: &str, context: &Context) -> Vec<Row> {
    as_rows(read("Dockerfile", text, true, context).expect("named so"))
}

/// The rows of every stage, built or not (before [`Scanner::finish`]): what the tests of
/// the reading and the expansion look at.
fn every_stage_with(text: &str, context: &Context) -> Vec<Row> {
    let parsed = instructions::parse(text);
    let mut scanner = Scanner::new("Dockerfile", &parsed, context);
    for item in &parsed.items {
        scanner.item(item);
    }
    as_rows(scanner.found)
}

fn every_stage(text: &str) -> Vec<Row> {
    every_stage_with(text, &context())
}

fn as_rows(found: Vec<Found>) -> Vec<Row> {
    found
        .into_iter()
        .map(|found| {
            let line = found
                .location
                .strip_prefix("Dockerfile:")
                .and_then(|l| l.parse().ok())
                .expect("a line");
            (line, found.image, found.platform)
        })
        .collect()
}

fn scan(text: &str) -> Vec<Row> {
    scan_with(text, &context())
}

fn ok(line: usize, image: &str, platform: Option<&str>) -> Row {
    (line, Ok(image.into()), platform.map(Into::into))
}

fn err(line: usize, problem: Problem) -> Row {
    (line, Err(problem), None)
}

/// The row of an image in a stage BuildKit does not build.
fn not_built(line: usize, stage: &str) -> Row {
    err(line, Problem::NotBuilt(stage.into()))
}

/// The rows whose problem is a sentence of the given kind, by line.
fn refused_lines(rows: &[Row]) -> Vec<usize> {
    rows.iter()
        .filter(|(_, image, _)| matches!(image, Err(Problem::Dockerfile(_) | Problem::Syntax(_))))
        .map(|(line, ..)| *line)
        .collect()
}

const MULTI_STAGE: &str = r#"# syntax=docker/dockerfile:1.7
# check=error=true

ARG GO_VERSION=1.22
ARG ALPINE_VERSION=3.20
ARG GOLANG_IMAGE="golang:${GO_VERSION}-alpine${ALPINE_VERSION}"
ARG REGISTRY=ghcr.io/acme
ARG DISTROLESS=gcr.io/distroless/static-debian12:nonroot
ARG BUILDER_TAG
ARG TARGETOS

FROM --platform=$BUILDPLATFORM ${GOLANG_IMAGE} AS build
ARG TARGETOS TARGETARCH
ARG GO_VERSION=9.99
ARG LATE=stage-only
WORKDIR /src
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=bind,source=go.sum,target=go.sum \
    GOOS=$TARGETOS GOARCH=$TARGETARCH go build -o /out/app ./cmd/app

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS tools
RUN --mount=from=ghcr.io/acme/protoc:25.1,source=/usr/bin/protoc,target=/usr/local/bin/protoc \
    protoc --version

FROM alpine:${ALPINE_VERSION} AS base-linux
RUN apk add --no-cache ca-certificates
FROM mcr.microsoft.com/windows/nanoserver:ltsc2022 AS base-windows

FROM base-${TARGETOS} AS runtime
COPY --from=build /out/app /app
COPY --from=docker.io/tonistiigi/xx:1.4 / /
COPY --link --from=0 /out /out0
FROM --platform=linux/${TARGETARCH}${TARGETVARIANT:+/$TARGETVARIANT} busybox:1.36 AS probe

FROM ${DISTROLESS} AS release
COPY --from=runtime /app /app
FROM ${REGISTRY}/builder:${BUILDER_TAG} AS ci
FROM ${REGISTRY}/builder:${BUILDER_TAG:-latest} AS ci-latest
FROM ${REGISTRY}/extra:${LATE}
FROM release
"#;

#[test]
fn a_multi_stage_dockerfile_with_argument_chains_and_platform_arguments() {
    assert_eq!(
        every_stage(MULTI_STAGE),
        [
            ok(12, "golang:1.22-alpine3.20", Some("linux/amd64")),
            // the in-stage ARG GO_VERSION=9.99 does not reach this FROM
            ok(21, "golang:1.22", Some("linux/amd64")),
            ok(22, "ghcr.io/acme/protoc:25.1", None),
            ok(25, "alpine:3.20", None),
            ok(27, "mcr.microsoft.com/windows/nanoserver:ltsc2022", None),
            // FROM base-${TARGETOS}: the stage base-linux, no image
            ok(31, "docker.io/tonistiigi/xx:1.4", None),
            ok(33, "busybox:1.36", Some("linux/arm64")),
            ok(35, "gcr.io/distroless/static-debian12:nonroot", None),
            err(37, Problem::UnresolvedVariable("BUILDER_TAG".into())),
            ok(38, "ghcr.io/acme/builder:latest", None),
            // an ARG declared in a stage is not a meta argument
            err(39, Problem::UnresolvedVariable("LATE".into())),
        ]
    );
    // what BuildKit builds: the last stage (FROM release) and, transitively, release
    // (COPY --from=runtime), runtime (FROM base-linux, COPY --from=build and --from=0),
    // base-linux, build; the others' images are not judged, their problems stay
    assert_eq!(
        scan(MULTI_STAGE),
        [
            ok(12, "golang:1.22-alpine3.20", Some("linux/amd64")),
            not_built(21, "tools"),
            not_built(22, "tools"),
            ok(25, "alpine:3.20", None),
            not_built(27, "base-windows"),
            ok(31, "docker.io/tonistiigi/xx:1.4", None),
            not_built(33, "probe"),
            ok(35, "gcr.io/distroless/static-debian12:nonroot", None),
            err(37, Problem::UnresolvedVariable("BUILDER_TAG".into())),
            not_built(38, "ci-latest"),
            err(39, Problem::UnresolvedVariable("LATE".into())),
        ]
    );
}

#[test]
fn the_target_platform_defaults_to_the_build_platform() {
    let context = Context {
        vars: None,
        target: None,
        build: triple("linux", "arm", "v7"),
        files: None,
    };
    let text = "FROM --platform=$TARGETPLATFORM alpine\n\
                    FROM base-$TARGETARCH$TARGETVARIANT\n\
                    FROM --platform=$BUILDOS/$BUILDARCH x-${TARGETSTAGE}\n\
                    FROM y AS last\n";
    assert_eq!(
        every_stage_with(text, &context),
        [
            ok(1, "alpine", Some("linux/arm/v7")),
            ok(2, "base-armv7", None),
            ok(3, "x-last", Some("linux/arm")),
            ok(4, "y", None),
        ]
    );
    // a Windows target reaches the Windows stage
    let windows = Context {
        target: Some(triple("windows", "amd64", "")),
        ..context
    };
    let rows = scan_with(MULTI_STAGE, &windows);
    assert!(
        rows.contains(&ok(
            27,
            "mcr.microsoft.com/windows/nanoserver:ltsc2022",
            None
        )),
        "{rows:?}"
    );
    // and the Linux stage is the one not built
    assert!(
        rows.contains(&err(25, Problem::NotBuilt("base-linux".into()))),
        "{rows:?}"
    );
    assert!(!rows.iter().any(|(line, ..)| *line == 29), "{rows:?}");
}

#[test]
fn meta_arguments_and_automatic_ones() {
    let text = "ARG TARGETARCH\n\
                    ARG BUILDOS=plan9\n\
                    ARG A=1 B=${A}2\n\
                    ARG A\n\
                    ARG EMPTY=\n\
                    ARG QUOTED=\"x y\" SINGLE='$A' ESCAPED=a\\$A\n\
                    FROM img:$TARGETARCH-$BUILDOS-$A$B\n\
                    FROM \"$QUOTED\"\n\
                    FROM $SINGLE$ESCAPED\n\
                    FROM img$EMPTY\n\
                    ARG A=in-stage\n\
                    FROM img:$A\n";
    assert_eq!(
        every_stage(text),
        [
            ok(7, "img:arm64-plan9-112", None),
            ok(8, "x y", None),
            ok(9, "$Aa$A", None),
            ok(10, "img", None),
            ok(12, "img:1", None),
        ]
    );
}

#[test]
fn a_required_argument_without_a_value() {
    // BuildKit splits FROM on blanks and ARG into words: a message with blanks needs
    // quotes in ARG and cannot be in FROM
    let text = "ARG REGISTRY\n\
                    ARG MIRROR=\"${REGISTRY:?set REGISTRY to your mirror}\"\n\
                    FROM ${REGISTRY:?set-REGISTRY}/app\n\
                    FROM $MIRROR/other\n\
                    FROM ${REGISTRY:-docker.io}/third\n\
                    FROM ${REGISTRY:?set REGISTRY}/app\n";
    let required = |message: &str| Problem::Required {
        name: "REGISTRY".into(),
        message: message.into(),
    };
    let rows = every_stage(text);
    assert_eq!(
        rows[..3],
        [
            err(3, required("set-REGISTRY")),
            err(4, required("set REGISTRY to your mirror")),
            ok(5, "docker.io/third", None),
        ]
    );
    assert_eq!(refused_lines(&rows[3..]), [6]);
    assert_eq!(
        required_message("FROM ${X:?}"),
        "required variable X is missing a value: is not allowed to be unset"
    );
}

fn required_message(text: &str) -> String {
    match &scan(text)[0].1 {
        Err(problem) => problem.to_string(),
        Ok(image) => image.clone(),
    }
}

#[test]
fn a_heredoc_body_is_content() {
    let text = "FROM alpine:3.20\n\
                    RUN <<EOF\n\
                    FROM evil\n\
                    echo hi\n\
                    EOF\n\
                    COPY <<-\"CONF\" /etc/app.conf\n\
                    \tFROM evil2\n\
                    \tCONF\n\
                    RUN python3 <<'PY' && cat <<EOT2\n\
                    FROM evil3\n\
                    PY\n\
                    FROM evil4\n\
                    EOT2\n\
                    FROM debian:12\n";
    assert_eq!(
        every_stage(text),
        [ok(1, "alpine:3.20", None), ok(14, "debian:12", None)]
    );
    // a heredoc that never ends hides nothing after it: BuildKit refuses the file
    let rows = scan("FROM a\nRUN <<EOF\nFROM evil\n");
    assert_eq!(rows[0], ok(1, "a", None));
    assert_eq!(refused_lines(&rows), [2]);
    assert_eq!(rows.len(), 2);
}

#[test]
fn a_windows_dockerfile_with_a_backtick_escape_and_crlf() {
    let text = "# escape=`\n\
                    \n\
                    FROM mcr.microsoft.com/windows/servercore:ltsc2022 AS build\n\
                    RUN powershell -Command `\n\
                    \x20   $ErrorActionPreference = 'Stop'; `\n\
                    \x20   Invoke-WebRequest https://example.com/x.zip -OutFile C:\\x.zip\n\
                    COPY --from=mcr.microsoft.com/powershell:lts-nanoserver-ltsc2022 C:\\PowerShell C:\\PowerShell\n\
                    \n\
                    FROM mcr.microsoft.com/windows/nanoserver:ltsc2022 `\n\
                    \x20   AS final\n\
                    COPY --from=build C:\\x.zip C:\\\n"
            .replace('\n', "\r\n");
    assert_eq!(
        scan(&text),
        [
            ok(3, "mcr.microsoft.com/windows/servercore:ltsc2022", None),
            ok(
                7,
                "mcr.microsoft.com/powershell:lts-nanoserver-ltsc2022",
                None
            ),
            ok(9, "mcr.microsoft.com/windows/nanoserver:ltsc2022", None),
        ]
    );
}

#[test]
fn copy_from_and_run_mount_from() {
    let text = "FROM golang:1.22 AS Build\n\
                    RUN --mount=type=cache,target=/root/.cache go build\n\
                    FROM alpine:3.20\n\
                    COPY --from=build /out /app\n\
                    COPY --from=BUILD /out /app\n\
                    COPY --from=nginx:1.27 /etc/nginx /etc/nginx\n\
                    COPY --from=scratch / /\n\
                    COPY --from=0 /a /b\n\
                    COPY --from=6 /a /b\n\
                    COPY --from=7 /a /b\n\
                    RUN --mount=type=bind,from=ghcr.io/acme/tools:1,source=/tool,target=/t tool\n\
                    RUN --mount=from=build,target=/b --mount=type=cache,from=Later-Stage,target=/c ls\n\
                    RUN --mount=type=bind,from=0,target=/z ls\n\
                    RUN --mount=type=secret,id=x cat /run/secrets/x\n\
                    ADD --chown=1 https://example.com/a /a\n\
                    FROM later AS later-stage\n\
                    COPY --from=later-stage / /\n\
                    FROM Build\n";
    // 4 stages; before line 9 BuildKit has also registered the mount's scratch (line 2),
    // nginx and scratch: indices 0..=6 exist, 7 does not
    assert_eq!(
        every_stage(text),
        [
            ok(1, "golang:1.22", None),
            ok(3, "alpine:3.20", None),
            ok(6, "nginx:1.27", None),
            err(
                10,
                Problem::Dockerfile("COPY --from=7 names no stage: there are 7 before it".into())
            ),
            ok(11, "ghcr.io/acme/tools:1", None),
            // a number is a name in from= (no index there)
            ok(13, "0", None),
            // `FROM later` is not the stage declared after it
            ok(16, "later", None),
            // stage names are lower-cased where declared, not where FROM names them:
            // BuildKit reads `Build` as an image (and refuses it)
            ok(18, "Build", None),
        ]
    );
}

/// BuildKit builds the last stage and what it uses, transitively (convert.go
/// `allReachableStages`); the images of the other stages are not judged.
#[test]
fn only_the_stages_the_last_stage_uses_are_judged() {
    let cases: [(&str, &str, Vec<Row>); 11] = [
        (
            "a Windows stage the final stage does not use",
            "FROM mcr.microsoft.com/windows/servercore:ltsc2022 AS win
                 RUN echo hi
                 FROM alpine:3.20
",
            vec![not_built(1, "win"), ok(3, "alpine:3.20", None)],
        ),
        (
            "an amd64-only dev stage, and an unnamed one, unused",
            "FROM golang:1.22 AS build
                 FROM --platform=linux/amd64 ghcr.io/acme/devtools:1 AS dev
                 COPY --from=build /out /out
                 FROM busybox:1.36
                 FROM gcr.io/distroless/static
                 COPY --from=build /out /app
",
            vec![
                ok(1, "golang:1.22", None),
                not_built(2, "dev"),
                not_built(4, "2"),
                ok(5, "gcr.io/distroless/static", None),
            ],
        ),
        (
            "a stage used only through COPY --from=name (any case)",
            "FROM node:20 AS assets
                 FROM nginx:1.27
                 COPY --from=ASSETS /dist /usr/share/nginx/html
",
            vec![ok(1, "node:20", None), ok(2, "nginx:1.27", None)],
        ),
        (
            "a stage used only through COPY --from=0",
            "FROM golang:1.22
                 FROM busybox:1.36 AS unused
                 FROM alpine:3.20
                 COPY --from=0 /out /out
",
            vec![
                ok(1, "golang:1.22", None),
                not_built(2, "unused"),
                ok(3, "alpine:3.20", None),
            ],
        ),
        (
            "a stage used only through RUN --mount from=name; an unused stage's mount",
            "FROM ghcr.io/acme/protoc:25 AS protoc
                 FROM debian:12 AS other
                 RUN --mount=type=bind,from=ghcr.io/acme/lint:1,target=/l /l
                 FROM alpine:3.20
                 RUN --mount=type=bind,from=protoc,source=/bin/protoc,target=/p /p
",
            vec![
                ok(1, "ghcr.io/acme/protoc:25", None),
                not_built(2, "other"),
                not_built(3, "other"),
                ok(4, "alpine:3.20", None),
            ],
        ),
        (
            "a number in from= is a name, not an index",
            "FROM golang:1.22
                 FROM alpine:3.20
                 RUN --mount=from=0,target=/z ls
",
            vec![
                not_built(1, "0"),
                ok(2, "alpine:3.20", None),
                ok(3, "0", None),
            ],
        ),
        (
            "a chain: the final stage FROM build, build FROM base",
            "FROM debian:12 AS base
                 FROM base AS build
                 RUN --mount=type=bind,from=ghcr.io/acme/tools:1,target=/t ls
                 FROM ubuntu:24.04 AS unused
                 FROM build
",
            vec![
                ok(1, "debian:12", None),
                ok(3, "ghcr.io/acme/tools:1", None),
                not_built(4, "unused"),
            ],
        ),
        (
            "a chain nothing uses is not built as a whole",
            "FROM debian:12 AS a
                 FROM a AS b
                 COPY --from=nginx:1.27 / /
                 FROM alpine:3.20
",
            vec![
                not_built(1, "a"),
                not_built(3, "b"),
                ok(4, "alpine:3.20", None),
            ],
        ),
        (
            "an image of a used and an unused stage: judged through the used one",
            "FROM alpine:3.20 AS tools
                 FROM golang:1.22 AS unused
                 COPY --from=alpine:3.20 / /
                 FROM tools
                 COPY --from=golang:1.22 /usr/local/go /go
",
            vec![
                ok(1, "alpine:3.20", None),
                not_built(2, "unused"),
                not_built(3, "unused"),
                ok(5, "golang:1.22", None),
            ],
        ),
        (
            // BuildKit expands every FROM and parses every reference, built or not
            "an unused stage's problems and invalid references stay",
            "ARG X
                 FROM ${X:?set-X} AS a
                 FROM Bad:Ref AS b
                 FROM {{.Image}} AS c
                 FROM alpine:3.20
",
            vec![
                err(
                    2,
                    Problem::Required {
                        name: "X".into(),
                        message: "set-X".into(),
                    },
                ),
                ok(3, "Bad:Ref", None),
                err(4, Problem::Template("{{.Image}}".into())),
                ok(5, "alpine:3.20", None),
            ],
        ),
        (
            // BuildKit refuses the cycle; the walk still ends
            "stages that use each other",
            "FROM debian:12 AS x
                 COPY --from=y / /
                 FROM alpine:3.20 AS y
                 COPY --from=x / /
                 FROM busybox:1.36
                 COPY --from=x / /
",
            vec![
                ok(1, "debian:12", None),
                ok(3, "alpine:3.20", None),
                ok(5, "busybox:1.36", None),
            ],
        ),
    ];
    for (what, text, expected) in cases {
        assert_eq!(scan(text), expected, "{what}");
    }
    assert_eq!(
        Problem::NotBuilt("dev".into()).to_string(),
        "in stage dev, which the last stage does not use: not built by default, not looked up"
    );
}

#[test]
fn what_buildkit_refuses_is_a_row() {
    let text = "FOO bar\n\
                    ARG =x\n\
                    ARG\n\
                    ARG BAD=${\n\
                    FROM\n\
                    FROM a b\n\
                    FROM a AS 1x\n\
                    FROM --platform alpine\n\
                    FROM --plat=x alpine\n\
                    FROM --platform=a --platform=b alpine\n\
                    FROM ${\n\
                    FROM a:${X:=y}\n\
                    FROM $BAD\n\
                    ARG EMPTY=\n\
                    FROM $EMPTY\n\
                    FROM --platform=$EMPTY alpine\n\
                    COPY --from=$X /a /b\n\
                    COPY --from=a\\\\b /a /b\n\
                    COPY --from=a --from=b /a /b\n\
                    RUN --mount=from=$X,target=/x ls\n\
                    RUN --mount=type=bind,from=x\\\"y ls\n\
                    RUN --mount= ls\n\
                    RUN --mount=type=secret,from=x,id=y ls\n\
                    FROM {{.Image}}\n\
                    FROM ok\n";
    let rows = scan(text);
    // lines that name no image (1 to 4): only the first is a row, as BuildKit stops there;
    // every place of an image is one
    assert_eq!(
        refused_lines(&rows),
        [1, 5, 6, 7, 8, 9, 10, 11, 12, 13, 17, 18, 19, 20, 21, 22, 23],
        "{rows:#?}"
    );
    // FROM $BAD: the meta ARG's invalid substitution, where it is used
    assert!(
        matches!(&rows[9], (13, Err(Problem::Syntax(_)), None)),
        "{:?}",
        rows[9]
    );
    for first in [
        "ARG =x\n",
        "ARG\n",
        "ARG BAD=${\n",
        "RUN x\n",
        "# escape=x\n",
    ] {
        let rows = scan(&format!("{first}FROM a\nFOO\n"));
        assert_eq!(refused_lines(&rows), [1], "{first}: {rows:?}");
        assert_eq!(rows[1], ok(2, "a", None));
    }
    // ARG EMPTY after the first FROM is in the stage: $EMPTY has no value at all
    assert_eq!(
        rows[10],
        err(15, Problem::UnresolvedVariable("EMPTY".into()))
    );
    assert_eq!(
        rows[11],
        err(16, Problem::UnresolvedVariable("EMPTY".into()))
    );
    // an escape BuildKit's flag reading removes is no substitution
    assert_eq!(scan("FROM a\nCOPY --from=a\\b / /\n")[1], ok(2, "ab", None));
    assert_eq!(
        rows[rows.len() - 2],
        err(24, Problem::Template("{{.Image}}".into()))
    );
    assert_eq!(rows[rows.len() - 1], ok(25, "ok", None));
    // empty after substitution
    let rows = scan("ARG EMPTY=\nFROM $EMPTY\nFROM --platform=$EMPTY alpine\n");
    assert_eq!(refused_lines(&rows), [2, 3]);
    // every sentence quotes at most MAX_QUOTED bytes of the file
    let long = "é".repeat(1000);
    for text in [
        format!("FROM a {long}\n"),
        format!("{long} x\n"),
        format!("FROM ${{{long}\n"),
    ] {
        for (_, image, _) in scan(&text) {
            let sentence = image.expect_err("refused").to_string();
            assert!(sentence.len() < MAX_QUOTED + 200, "{sentence}");
        }
    }
}

#[test]
fn a_large_argument_referenced_many_times_is_a_limit() {
    // 64 KiB referenced 4096 times: the value is over the cap when it is declared, and is
    // kept as that, not as 64 KiB to copy 4096 times
    let big = "x".repeat(64 * 1024);
    let text = format!("ARG BIG={big}\nFROM {}\n", "$BIG".repeat(4096));
    let rows = scan(&text);
    assert_eq!(rows.len(), 1);
    assert!(
        matches!(&rows[0], (2, Err(Problem::Limit(m)), None) if m.contains("more than 4096 bytes")),
        "{rows:?}"
    );
    let parsed = instructions::parse(&text);
    let mut scanner = Scanner::new("Dockerfile", &parsed, &context());
    scanner.item(&parsed.items[0]);
    assert!(matches!(
        scanner.vars.get("BIG"),
        Some(Value::Failed(Problem::Limit(_)))
    ));
    // just under the cap: the second reference reaches it while it is written
    let under = "y".repeat(MAX_EXPANSION - 10);
    let text = format!("ARG U={under}\nFROM {}\nFROM $U\n", "$U".repeat(4096));
    let rows = scan(&text);
    assert!(
        matches!(&rows[0], (2, Err(Problem::Limit(_)), None)),
        "{rows:?}"
    );
    assert_eq!(rows[1], ok(3, &under, None));
    // many lines referencing it share one budget for the whole file
    let text = format!("ARG U={under}\n{}", "FROM $U\n".repeat(2000));
    let rows = scan(&text);
    assert_eq!(rows.len(), 2000);
    assert!(matches!(&rows[1999].1, Err(Problem::Limit(m)) if m.contains("in all")));
}

#[test]
fn what_is_not_a_dockerfile() {
    let looks_like = |text: &str| read("x", text, false, &context()).is_some();
    assert!(!looks_like("services:\n  web:\n    image: nginx\n"));
    assert!(!looks_like("alpine\ngolang:1.22\n"));
    assert!(!looks_like("ARG A=1\n"));
    assert!(!looks_like("# FROM alpine\n"));
    assert!(looks_like("from alpine\n"));
    assert!(looks_like("# escape=`\n\nARG A\nFROM alpine\n"));
    // named so, it is read whatever it holds
    assert_eq!(
        read("Dockerfile", "hello\n", true, &context()).map(|f| f.len()),
        Some(1)
    );
}

#[test]
fn no_input_panics() {
    // a deterministic soup of the characters the readers treat specially
    let alphabet = [
        "$",
        "{",
        "}",
        "\\",
        "`",
        "'",
        "\"",
        "<<",
        "-",
        "#",
        "%",
        "/",
        ":",
        "?",
        "*",
        "+",
        "=",
        ",",
        "\n",
        "\r\n",
        " ",
        "\t",
        "é",
        "한",
        "A",
        "0",
        "FROM ",
        "ARG ",
        "RUN ",
        "COPY ",
        "--from=",
        "--mount=",
        "--platform=",
        "AS ",
        "EOF",
        "# escape=`\n",
        "\u{130}",
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..3000 {
        let mut text = String::from(["FROM ", "ARG ", "# escape=`\n"][(seed % 3) as usize]);
        for _ in 0..(seed % 40) {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            text.push_str(alphabet[(seed >> 33) as usize % alphabet.len()]);
        }
        let lines = text.split('\n').count();
        for found in read("f", &text, true, &context()).expect("named so") {
            let line: usize = found.location[2..].parse().expect("a line number");
            assert!((1..=lines).contains(&line), "{text:?}: {found:?}");
        }
        seed = seed.rotate_left(7) ^ text.len() as u64;
    }
}
