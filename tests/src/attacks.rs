//! The scanner's hostile files: each is small to send, and each was, before the bounds of
//! stack/src/limits.rs, a stack overflow that aborted the process, gigabytes of memory, or an
//! answer hundreds of times the file's size. Generated here (never committed) for
//! lambda/tests/attacks.rs (the service) and cli/tests/attacks.rs (`mquery check`), with the
//! bounds both hold their process to.
//!
//! No file names a real image: the YAML files name `REGISTRY/acme/app:v1` on the test registry,
//! the list names `a` (`docker.io/library/a`, which the tests send to the test registry as the
//! Docker Hub mirror), the Dockerfile names nothing that parses.

/// The address space the process under attack runs in (`prlimit --as`). A debug
/// `mquery-lambda` maps about 180 MiB at rest (its threads' stacks, the allocator's arenas);
/// 2 GiB leaves room for every legitimate request while a runaway one fails its test (the
/// allocation fails and the process aborts) long before it could take the machine's memory.
pub const ADDRESS_SPACE: u64 = 2 << 30;

/// The peak resident set (`VmHWM`) allowed after an attack, in KiB. An idle debug server holds
/// about 22 MiB; reading the largest allowed file (1 MiB) into a bounded report costs a few
/// times that, nowhere near 256 MiB; each attack's unbounded cost is far above it (768 MB for
/// the Dockerfile and the list, past 4 GiB for the alias bombs).
pub const PEAK_RSS_KIB: u64 = 256 << 10;

/// The largest answer allowed to an attack, in bytes: the page echoes the posted file (at most
/// 1 MiB) in its form, so 2 MiB is what a bounded answer needs; unbounded ones were 49 MiB (the
/// list) and 256 MiB (the Dockerfile).
pub const MAX_ANSWER: usize = 2 << 20;

/// One hostile file, and how to tell that an answer names the limit it reaches.
#[derive(Debug)]
pub struct Attack {
    /// A short name for test output.
    pub name: &'static str,
    /// The file's name: `name=` of `/v1/check`, the file `mquery check` reads. Chosen not to
    /// contain any word an answer is searched for.
    pub file_name: &'static str,
    pub text: String,
    /// A `.env` to write beside the file: read by `mquery check` (as `docker compose` reads
    /// the project's), not by the service, which has no environment.
    pub dotenv: Option<String>,
    /// Other files to write beside it (name, text): the files a Compose `include` or a
    /// kustomization names, read by `mquery check`; the service is sent one file and reads
    /// none of them.
    pub beside: Vec<(String, String)>,
    /// The limit it reaches, in words (for failure messages).
    pub limit: &'static str,
    /// Whether an answer's text (lower-cased) names that limit.
    names: fn(&str) -> bool,
}

impl Attack {
    /// Whether `answer` (a report, a table, an error sentence or a page) says which limit
    /// refused the file. The generated files contain none of the words searched for.
    pub fn names_limit(&self, answer: &str) -> bool {
        (self.names)(&answer.to_lowercase())
    }
}

/// "YAML nesting deeper than 128 levels" (limits::MAX_DEPTH).
fn names_depth(answer: &str) -> bool {
    answer.contains("128") && (answer.contains("nest") || answer.contains("deep"))
}

/// "alias expansion over its budget" (limits::MAX_ALIAS_NODES).
fn names_aliases(answer: &str) -> bool {
    answer.contains("alias")
}

/// Merge keys count against the alias budget, or have a limit of their own.
fn names_merges(answer: &str) -> bool {
    names_aliases(answer) || answer.contains("merge")
}

/// A 3,000-link merge chain is 3,000 levels deep (merge keys count as nesting), and resolving
/// every link visits 4.5 million nodes: either limit may stop it first.
fn names_depth_or_merges(answer: &str) -> bool {
    names_depth(answer) || names_merges(answer)
}

/// "expansion over 4096 bytes" (limits::MAX_EXPANSION).
fn names_expansion(answer: &str) -> bool {
    answer.contains("4096") || answer.contains("4 kib")
}

/// "N more rows not shown" (limits::MAX_ROWS), or "N more" where a row's places are cut (not a
/// platform list's "+N more").
fn names_rows(answer: &str) -> bool {
    answer.contains("not shown")
        || answer.match_indices(" more").any(|(at, _)| {
            let before = answer[..at].trim_end_matches(|c: char| c.is_ascii_digit());
            before.len() < at && !before.ends_with('+')
        })
}

/// How deep the nesting attacks go: 5,000 levels in about 10 KB.
const DEPTH: usize = 5000;

/// Sequences nested 5,000 deep in block style: `- - - ... x`, each `- ` one level deeper than
/// the last (go-yaml's own limit test has this shape: testdata/limit.yaml "deeply nested
/// indents", refused by DefaultDepthCheck in internal/libyaml/options.go at 10,000).
pub fn nested_block_sequences(_registry: &str) -> Attack {
    let text = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: tower\nspec:\n  containers:\n  {}x\n",
        "- ".repeat(DEPTH)
    );
    Attack {
        name: "nested_block_sequences",
        file_name: "pod.yaml",
        text,
        dotenv: None,
        beside: Vec::new(),
        limit: "YAML nesting deeper than 128 levels",
        names: names_depth,
    }
}

/// The same depth in flow style: `[[[...]]]` (go-yaml testdata/limit.yaml "deeply nested
/// slices").
pub fn nested_flow_sequences(_registry: &str) -> Attack {
    let text = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: tower\nspec:\n  containers: {}{}\n",
        "[".repeat(DEPTH),
        "]".repeat(DEPTH)
    );
    Attack {
        name: "nested_flow_sequences",
        file_name: "pod.yaml",
        text,
        dotenv: None,
        beside: Vec::new(),
        limit: "YAML nesting deeper than 128 levels",
        names: names_depth,
    }
}

/// `indent` + `l0: &l0 [lol x9]`, then nine levels `lN: &lN [*lN-1 x9]`: under 1 KB that
/// stands for 9^10 scalars (the "billion laughs").
fn laughs(indent: &str) -> String {
    let mut text = format!("{indent}l0: &l0 [{}]\n", ["lol"; 9].join(", "));
    for level in 1..=9 {
        let below = vec![format!("*l{}", level - 1); 9].join(", ");
        text.push_str(&format!("{indent}l{level}: &l{level} [{below}]\n"));
    }
    text
}

/// The billion laughs in a Kubernetes Deployment's labels, which a scan walking the document
/// for pod templates reaches (kubectl's YAML reader, go-yaml, refuses it: DefaultAliasCheck in
/// internal/libyaml/options.go, "document contains excessive aliasing").
pub fn alias_bomb_kubernetes(registry: &str) -> Attack {
    let text = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: laughs\n  labels:\n{}\
         spec:\n  template:\n    spec:\n      containers:\n      - name: app\n        image: {registry}/acme/app:v1\n",
        laughs("    ")
    );
    Attack {
        name: "alias_bomb_kubernetes",
        file_name: "deployment.yaml",
        text,
        dotenv: None,
        beside: Vec::new(),
        limit: "alias expansion over its budget (100,000 nodes)",
        names: names_aliases,
    }
}

/// The billion laughs in a Compose `x-` field, used by a service (docker compose decodes the
/// whole file with go-yaml, aliases expanded, and refuses it the same way).
pub fn alias_bomb_compose(registry: &str) -> Attack {
    let text = format!(
        "x-laughs:\n{}services:\n  web:\n    image: {registry}/acme/app:v1\n    command: *l9\n",
        laughs("  ")
    );
    Attack {
        name: "alias_bomb_compose",
        file_name: "compose.yaml",
        text,
        dotenv: None,
        beside: Vec::new(),
        limit: "alias expansion over its budget (100,000 nodes)",
        names: names_aliases,
    }
}

/// Merge keys nine levels deep, nine to a level: `m1: &m1 {<<: [*m0, *m0, ...]}`; a service
/// merges the top one, and its image is in the bottom one, so reading the service (its
/// `image`, and its `platform` and `build`, which no level has) means following 9^9 merges.
pub fn merge_key_bomb_compose(registry: &str) -> Attack {
    let mut text = format!("x-levels:\n  m0: &m0 {{image: {registry}/acme/app:v1}}\n");
    for level in 1..=9 {
        let below = vec![format!("*m{}", level - 1); 9].join(", ");
        text.push_str(&format!("  m{level}: &m{level} {{<<: [{below}]}}\n"));
    }
    text.push_str("services:\n  web:\n    <<: *m9\n");
    Attack {
        name: "merge_key_bomb_compose",
        file_name: "compose.yaml",
        text,
        dotenv: None,
        beside: Vec::new(),
        limit: "alias (merge) expansion over its budget",
        names: names_merges,
    }
}

/// A chain of 3,000 merges, each link merging the one before (`l1: &l1 {<<: *l0}`), the image
/// at its far end; a service merges the last link.
pub fn merge_chain_compose(registry: &str) -> Attack {
    const LINKS: usize = 3000;
    let mut text = format!("x-links:\n  l0: &l0 {{image: {registry}/acme/app:v1}}\n");
    for link in 1..LINKS {
        text.push_str(&format!("  l{link}: &l{link} {{<<: *l{}}}\n", link - 1));
    }
    text.push_str(&format!("services:\n  web:\n    <<: *l{}\n", LINKS - 1));
    Attack {
        name: "merge_chain_compose",
        file_name: "compose.yaml",
        text,
        dotenv: None,
        beside: Vec::new(),
        limit: "merge nesting deeper than 128 levels, or alias expansion over its budget",
        names: names_depth_or_merges,
    }
}

/// An `ARG` default of 64 KiB referenced 4,096 times in one `FROM`: 16 KiB of `${W}` that
/// expand to 256 MiB.
pub fn dockerfile_arg_expansion(_registry: &str) -> Attack {
    let text = format!(
        "ARG W={}\nFROM {}\nRUN true\n",
        "w".repeat(64 << 10),
        "${W}".repeat(1 << 12)
    );
    Attack {
        name: "dockerfile_arg_expansion",
        file_name: "Dockerfile",
        text,
        dotenv: None,
        beside: Vec::new(),
        limit: "expansion over 4096 bytes",
        names: names_expansion,
    }
}

/// `A=` ten letters, then `B` to `I`, each defined as ten references to the one before: 10
/// bytes at `A`, 10^9 (1 GB) at `I`.
fn chain(define: &str) -> String {
    let names = ["A", "B", "C", "D", "E", "F", "G", "H", "I"];
    let mut text = format!("{define}A={}\n", "a".repeat(10));
    for pair in names.windows(2) {
        let before = format!("${{{}}}", pair[0]).repeat(10);
        text.push_str(&format!("{define}{}={before}\n", pair[1]));
    }
    text
}

/// Global `ARG`s whose defaults each reference the one before ten times: about 500 bytes that
/// expand to 1 GB in the `FROM` (BuildKit expands each global `ARG`'s default with those before
/// it: buildMetaArgs in frontend/dockerfile/dockerfile2llb/convert.go).
pub fn dockerfile_arg_chain(_registry: &str) -> Attack {
    Attack {
        name: "dockerfile_arg_chain",
        file_name: "Dockerfile",
        text: format!("{}FROM ${{I}}\nRUN true\n", chain("ARG ")),
        dotenv: None,
        beside: Vec::new(),
        limit: "expansion over 4096 bytes",
        names: names_expansion,
    }
}

/// A Compose service whose image is `${I}`, and beside it a `.env` whose variables each
/// reference the one before ten times: 1 GB from about 500 bytes (compose-go reads a `.env`
/// expanding each value with the variables before it: extractVarValue in dotenv/parser.go).
/// For `mquery check` only.
pub fn dotenv_chain(_registry: &str) -> Attack {
    Attack {
        name: "dotenv_chain",
        file_name: "compose.yaml",
        text: "services:\n  web:\n    image: ${I}\n".to_owned(),
        dotenv: Some(chain("")),
        beside: Vec::new(),
        limit: "expansion over 4096 bytes",
        names: names_expansion,
    }
}

/// A list of one-letter lines, as many as fit in the service's largest file (1 MiB): one image
/// (`a`) found on 524,287 lines.
pub fn one_letter_lines(_registry: &str) -> Attack {
    Attack {
        name: "one_letter_lines",
        file_name: "images.txt",
        text: "a\n".repeat((1 << 19) - 1),
        dotenv: None,
        beside: Vec::new(),
        limit: "1000 rows, then one saying how many more were not shown",
        names: names_rows,
    }
}

/// One 512 KiB string, anchored once and named by 1,500 containers' `image: *b`: an alias
/// costs one node, so only a cap on the field's length (and rows never built past 1,000)
/// keeps each row from copying it (750 MB).
pub fn aliased_long_image(_registry: &str) -> Attack {
    let containers = vec!["{name: c, image: *b}"; 1500].join(", ");
    let text = format!(
        "x: &b \"{}\"\napiVersion: v1\nkind: Pod\nspec: {{containers: [{containers}]}}\n",
        "Q".repeat(512 << 10)
    );
    Attack {
        name: "aliased_long_image",
        file_name: "pod.yaml",
        text,
        dotenv: None,
        beside: Vec::new(),
        limit: "an image field over 4096 bytes, and 1000 rows",
        names: |answer| names_expansion(answer) && names_rows(answer),
    }
}

/// A flow collection opened 400,000 columns in, 300,000 lines long, then a stray `}`: strict
/// YAML refuses it, and re-indenting its lines as compose's parser would read them would give
/// each 400,001 spaces (120 GB). The re-reading stops at twice the file; the strict error
/// stands.
pub fn lenient_growth(_registry: &str) -> Attack {
    let text = format!("{}[\n{}}}\n", " ".repeat(400_000), "x\n".repeat(300_000));
    Attack {
        name: "lenient_growth",
        file_name: "compose.yaml",
        text,
        dotenv: None,
        beside: Vec::new(),
        limit: "the re-reading's size (the strict YAML error stands), or, without a YAML \
                file name, read as a list of 1000 rows",
        names: |answer| answer.contains("not valid yaml") || names_rows(answer),
    }
}

/// GitLab CI variables that each name the one before ten times, nine deep: about 500 bytes
/// that expand to a billion copies of one letter (GitLab expands a variable's references
/// before the runner expands the image name).
pub fn gitlab_variable_bomb(_registry: &str) -> Attack {
    let mut text = String::from("variables:\n  V0: q\n");
    for i in 1..=9 {
        let before = format!("$V{}", i - 1);
        text.push_str(&format!("  V{i}: \"{}\"\n", before.repeat(10)));
    }
    text.push_str("job:\n  image: $V9\n  script: [x]\n");
    Attack {
        name: "gitlab_variable_bomb",
        file_name: ".gitlab-ci.yml",
        text,
        dotenv: None,
        beside: Vec::new(),
        limit: "expansion over 4096 bytes",
        names: names_expansion,
    }
}

/// 20,000 GitLab CI jobs, each extending the one before: resolving every job's chain in full
/// would visit 200 million jobs; GitLab stops a chain at 10 levels, and so does the scan.
pub fn gitlab_extends_chain(_registry: &str) -> Attack {
    let mut text = String::from("j0:\n  image: q\n  script: [x]\n");
    for i in 1..20_000 {
        text.push_str(&format!("j{i}:\n  extends: j{}\n", i - 1));
    }
    Attack {
        name: "gitlab_extends_chain",
        file_name: ".gitlab-ci.yml",
        text,
        dotenv: None,
        beside: Vec::new(),
        limit: "extends 10 levels deep, and 1000 rows",
        names: |answer| answer.contains("10 levels") && names_rows(answer),
    }
}

/// Whether an answer says the other files were not read by the service, which reads none.
fn names_service_reads_no_files(answer: &str) -> bool {
    answer.contains("only mquery check on the command line reads")
}

/// A Compose file including 50 times a file that includes 50 times the next, 20 deep: 50^20
/// files without a bound; `mquery check` reads 8 levels and 64 files at most.
pub fn compose_include_fan_out(_registry: &str) -> Attack {
    let include = |next: &str| format!("include:\n{}", format!("  - {next}\n").repeat(50));
    let beside = (1..20)
        .map(|i| (format!("f{i}.yaml"), include(&format!("f{}.yaml", i + 1))))
        .collect();
    Attack {
        name: "compose_include_fan_out",
        file_name: "compose.yaml",
        text: format!("{}services:\n  s:\n    build: .\n", include("f1.yaml")),
        dotenv: None,
        beside,
        limit: "8 levels and 64 files of includes (the service: no other file read)",
        names: |answer| {
            answer.contains("levels deep")
                || answer.contains("more than 64 other files")
                || names_service_reads_no_files(answer)
        },
    }
}

/// A kustomization of 200 image rules, each adding a 4,000-byte tag suffix to the same image,
/// over a resource of 1,000 containers: 1.6 GB of image names without a bound (each rule runs
/// twice on a pod's containers: kustomize issue 4814); an image stops growing at 4096 bytes.
pub fn kustomize_tag_suffix_growth(_registry: &str) -> Attack {
    let rule = format!("- name: q\n  tagSuffix: {}\n", "s".repeat(4000));
    let containers = "  - {name: c, image: q}\n".repeat(1000);
    Attack {
        name: "kustomize_tag_suffix_growth",
        file_name: "kustomization.yaml",
        text: format!("resources:\n- pod.yaml\nimages:\n{}", rule.repeat(200)),
        dotenv: None,
        beside: vec![(
            "pod.yaml".to_owned(),
            format!("apiVersion: v1\nkind: Pod\nspec:\n  containers:\n{containers}"),
        )],
        limit: "an image over 4096 bytes (the service: no other file read)",
        names: |answer| names_expansion(answer) || names_service_reads_no_files(answer),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_are_small_and_say_none_of_the_words_searched_for() {
        for make in [
            nested_block_sequences,
            nested_flow_sequences,
            alias_bomb_kubernetes,
            alias_bomb_compose,
            merge_key_bomb_compose,
            merge_chain_compose,
            dockerfile_arg_expansion,
            dockerfile_arg_chain,
            dotenv_chain,
            one_letter_lines,
            aliased_long_image,
            lenient_growth,
            gitlab_variable_bomb,
            gitlab_extends_chain,
            compose_include_fan_out,
            kustomize_tag_suffix_growth,
        ] {
            let attack = make("127.0.0.1:5000");
            assert!(attack.text.len() < 1 << 20, "{}", attack.name);
            assert!(!attack.names_limit(&attack.text), "{}", attack.name);
            let dotenv = attack.dotenv.as_deref().unwrap_or_default();
            assert!(
                dotenv.len() < 1024 && !attack.names_limit(dotenv),
                "{}",
                attack.name
            );
            assert!(!attack.names_limit(attack.file_name), "{}", attack.name);
            for (name, text) in &attack.beside {
                assert!(text.len() < 1 << 20 && !attack.names_limit(text), "{name}");
            }
        }
        assert!(alias_bomb_kubernetes("r").text.len() < 1024);
        assert!(alias_bomb_compose("r").text.len() < 1024);
        assert!(nested_block_sequences("r").text.len() < 11_000);
        assert!(dockerfile_arg_chain("r").text.len() < 1024);
    }

    #[test]
    fn the_limit_words() {
        let depth = nested_block_sequences("r");
        assert!(depth.names_limit("pod.yaml:7: YAML nesting deeper than 128 levels"));
        assert!(!depth.names_limit("pod.yaml:128: not valid YAML"));
        let rows = one_letter_lines("r");
        assert!(rows.names_limit("524287 more rows not shown"));
        assert!(rows.names_limit("images.txt:1, images.txt:2, ... and 524285 more"));
        assert!(!rows.names_limit("linux/amd64, +2 more"));
        let expansion = dockerfile_arg_expansion("r");
        assert!(expansion.names_limit("the expansion is over 4096 bytes"));
    }
}
