//! Every bound of the scanner, in one place (SECURITY.md lists them with these numbers). A
//! posted file is hostile until bounded: each limit is enforced while the file is read, not
//! after, and reaching one is a row or a 413 that says which.

/// The deepest YAML nesting read (collections inside collections, merge keys included).
/// Kubernetes' deepest real documents (CRD schemas) stay under 64.
pub const MAX_DEPTH: usize = 128;

/// Nodes visited through aliases and merge keys in one file, as go-yaml's excessive-aliasing
/// check bounds them: an alias is never copied, but following it costs the nodes it holds.
pub const MAX_ALIAS_NODES: usize = 100_000;

/// The longest value one expansion (Compose interpolation, a Dockerfile `ARG` substitution)
/// may produce. An image reference is at most a few hundred bytes.
pub const MAX_EXPANSION: usize = 4096;

/// What the expansions of one Dockerfile may cost in all, in bytes written and in
/// pattern-matching steps (`${VAR#pattern}` and its kin): [`MAX_ROWS`] references of
/// [`MAX_EXPANSION`] bytes. A real Dockerfile spends a few kilobytes; the bound keeps a
/// hostile one (a thousand `FROM $BIG` lines, a pattern made to backtrack) linear in its size.
pub const MAX_FILE_EXPANSION: usize = MAX_EXPANSION * MAX_ROWS;

/// The largest `.env` file `mquery check` reads.
pub const MAX_ENV_FILE: usize = 1 << 20;

/// The most rows one check lists; past it, one row says how many were left out.
pub const MAX_ROWS: usize = 1000;

/// The longest piece of a file quoted in a row's reason.
pub const MAX_QUOTED: usize = 200;

/// How deep files may include files (Compose `include`, `extends: {file:}`).
pub const MAX_INCLUDE_DEPTH: usize = 8;

/// The most other files one file's scan reads.
pub const MAX_INCLUDED_FILES: usize = 64;

/// The most bytes those files may hold in all.
pub const MAX_INCLUDED_BYTES: usize = 64 << 20;

/// The most entries one kustomization may list in `resources` (with `bases`), in
/// `components`, and in `images` (with `imageTags`): real ones list tens.
pub const MAX_KUSTOMIZE_ENTRIES: usize = 1000;

/// The work one GitLab CI file's resolution may do in all its jobs: `extends` bases visited,
/// variables followed, services resolved. A large real file (hundreds of jobs) spends a few
/// thousand.
pub const MAX_GITLAB_STEPS: usize = 100_000;

/// The service entries one Compose file's `extends` resolution may look at, in all its
/// services and the files they extend.
pub const MAX_RESOLVE_WORK: usize = 2_000_000;
