//! `mquery check FILE...`: will a whole stack run on a platform? Every image reference of the
//! files (Compose, Kubernetes/Helm output, Dockerfiles, lists: `mquery_stack`) is looked up
//! once, all at once, and judged against `--platform` (or the platform the file itself asks
//! for: a Compose service's `platform:`, `FROM --platform=`). The plan and the report are
//! `stack::plan`'s and `stack::report`'s, shared with the service's `POST /v1/check`.
//!
//! A Compose file is interpolated as `docker compose config` interpolates it (compose-go
//! cli/options.go, dotenv/env.go; docker/compose cmd/compose/compose.go): with the process
//! environment and the `.env` file of the Compose file's directory (the current directory
//! for `-`), or the files of `--env-file` (then no `.env` is read); the environment wins over
//! any file, a later file over an earlier one. `--no-env` reads neither (as the service).

use std::collections::HashMap;
use std::io::{Read, Write as _};
use std::path::{Path, PathBuf};

use output::formats::{self, Format};
use registry::Sense;
use stack::dotenv::{self, DotenvError, MAX_SIZE};
use stack::plan::{Asked, Plan};
use stack::report::Status;
use stack::{Context, Kind, Triple};

use crate::{Backend, EXIT_ERROR, EXIT_PLATFORM_UNSUPPORTED, lookup_all, read_at_most};

/// The largest file `mquery check` reads: far above any real stack, far below what would
/// strain a laptop (the scanner's own limits bound what a file can expand to).
const MAX_FILE: usize = 64 << 20;

/// Where the variables of Compose files come from: `--env-file` (repeatable) and `--no-env`.
#[derive(Debug, Clone, Default)]
pub struct EnvOptions {
    pub env_files: Vec<String>,
    pub no_env: bool,
}

/// The variables each file is read with.
#[derive(Debug)]
struct Variables {
    /// The process environment (with `PWD`, as docker compose adds it); `None` with
    /// `--no-env`.
    environment: Option<HashMap<String, String>>,
    /// The variables of `--env-file` (or `COMPOSE_ENV_FILES`), read once for every file;
    /// `None`: the `.env` beside each Compose file.
    explicit: Option<HashMap<String, String>>,
    /// `COMPOSE_DISABLE_ENV_FILE` is true: no `.env` is read.
    no_default: bool,
    /// The `.env` files read, by directory.
    /// `Err`: the file did not read, which stops a check only for a Compose file.
    beside: HashMap<PathBuf, Result<HashMap<String, String>, String>>,
}

impl Variables {
    fn new(options: &EnvOptions) -> Result<Variables, String> {
        let mut variables = Variables {
            environment: None,
            explicit: None,
            no_default: false,
            beside: HashMap::new(),
        };
        if options.no_env {
            return Ok(variables);
        }
        // a variable that is not UTF-8 is left out (Go keeps its bytes; no valid reference
        // could be made of them)
        let mut environment: HashMap<String, String> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        if !environment.contains_key("PWD")
            && let Some(pwd) = std::env::current_dir()
                .ok()
                .and_then(|d| d.into_os_string().into_string().ok())
        {
            environment.insert("PWD".to_owned(), pwd);
        }
        // `--env-file`, else COMPOSE_ENV_FILES (comma-separated), is the list; relative paths
        // are the current directory's, `~` is the home directory (compose-go paths/home.go)
        let files: Vec<String> = if options.env_files.is_empty() {
            environment
                .get("COMPOSE_ENV_FILES")
                .map(|list| {
                    list.split(',')
                        .filter(|f| !f.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        } else {
            options.env_files.clone()
        };
        if files.is_empty() {
            // compose-go cli/options.go WithEnvFiles: strconv.ParseBool's spellings
            variables.no_default = match environment
                .get("COMPOSE_DISABLE_ENV_FILE")
                .map(String::as_str)
            {
                None | Some("0" | "f" | "F" | "false" | "FALSE" | "False") => false,
                Some("1" | "t" | "T" | "true" | "TRUE" | "True") => true,
                Some(other) => {
                    return Err(format!(
                        "COMPOSE_DISABLE_ENV_FILE: {other:?} is not a boolean"
                    ));
                }
            };
        } else {
            let home = environment.get("HOME").cloned();
            let mut vars = HashMap::new();
            for file in &files {
                let path = match (file.strip_prefix('~'), &home) {
                    (Some(rest), Some(home)) => Path::new(home).join(rest.trim_start_matches('/')),
                    _ => PathBuf::from(file),
                };
                read_env_file(&path, &environment, &mut vars)?;
            }
            variables.explicit = Some(vars);
        }
        variables.environment = Some(environment);
        Ok(variables)
    }

    /// The variables of `file` (`text` is its content): `Err` is a sentence for stderr.
    fn of(&mut self, file: &str, text: &str) -> Result<Option<HashMap<String, String>>, String> {
        let Some(environment) = &self.environment else {
            return Ok(None);
        };
        let mut vars = environment.clone();
        let from_files = match &self.explicit {
            Some(explicit) => Some(explicit),
            None if self.no_default => None,
            None => {
                let dir = match file {
                    "-" => Path::new("."),
                    _ => Path::new(file)
                        .parent()
                        .filter(|d| !d.as_os_str().is_empty())
                        .unwrap_or(Path::new(".")),
                };
                let path = dir.join(".env");
                // a missing `.env` (or a directory of that name) is no error (compose-go
                // cli/options.go WithEnvFiles); read once per directory, it is used by Compose
                // files only, the one kind interpolated with it (other scans ignore `vars`)
                let present = match std::fs::metadata(&path) {
                    Ok(meta) => !meta.is_dir(),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
                    Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
                };
                if present {
                    let read = self.beside.entry(dir.to_owned()).or_insert_with(|| {
                        let mut read = HashMap::new();
                        read_env_file(&path, environment, &mut read).map(|()| read)
                    });
                    match read {
                        Ok(read) => Some(&*read),
                        // only a Compose file is interpolated with it: for another kind a
                        // broken `.env` is no error (the scan this costs is the error path's)
                        Err(e) => {
                            if stack::scan(file, text, &Context::default()).kind == Kind::Compose {
                                return Err(e.clone());
                            }
                            None
                        }
                    }
                } else {
                    None
                }
            }
        };
        // the environment wins (compose-go types/mapping.go Merge keeps what is set)
        for (key, value) in from_files.into_iter().flatten() {
            vars.entry(key.clone()).or_insert_with(|| value.clone());
        }
        Ok(Some(vars))
    }
}

/// Reads the env file at `path` into `vars` (the files before it), its values interpolated
/// with `environment` first; `Err` is a sentence naming `file:line`.
fn read_env_file(
    path: &Path,
    environment: &HashMap<String, String>,
    vars: &mut HashMap<String, String>,
) -> Result<(), String> {
    let shown = output::printable(&path.display().to_string()).into_owned();
    let bytes = std::fs::File::open(path)
        .and_then(|f| read_at_most(f, MAX_SIZE as u64))
        .map_err(|e| format!("cannot read env file {shown}: {e}"))?
        .ok_or_else(|| format!("{shown}: {}", DotenvError::TooLarge))?;
    // compose reads bytes; a value that is not UTF-8 cannot make a valid reference anyway
    let text = String::from_utf8_lossy(&bytes);
    let lookup = |name: &str| environment.get(name).cloned();
    dotenv::parse_into(&text, &lookup, vars).map_err(|e| match e {
        DotenvError::Line { line, reason } => {
            format!("{shown}:{line}: {}", output::printable(&reason))
        }
        DotenvError::TooLarge => format!("{shown}: {e}"),
    })
}

/// The files a Compose file names (`include`, `extends: {file:}`), read from disk like the
/// files given, each at most [`MAX_FILE`] bytes (the scanner bounds how many: SECURITY.md).
#[derive(Debug)]
struct Disk;

impl stack::files::Files for Disk {
    fn read(&self, path: &str) -> Result<String, String> {
        // a FIFO or a device (`include: [/dev/stdin]`) would block or never end
        let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
        if !meta.is_file() {
            return Err("not a regular file".to_owned());
        }
        let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
        let bytes = read_at_most(file, MAX_FILE as u64)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("larger than {} MiB", MAX_FILE >> 20))?;
        String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_owned())
    }

    fn is_dir(&self, path: &str) -> bool {
        std::fs::metadata(path).is_ok_and(|m| m.is_dir())
    }
}

/// Reads `files` (`-` is standard input), each at most [`MAX_FILE`] bytes; `Err` is a
/// sentence for stderr.
fn read(files: &[String]) -> Result<Vec<(String, String)>, String> {
    files
        .iter()
        .map(|file| {
            let shown = output::printable(file);
            let source: Box<dyn Read> = if file == "-" {
                Box::new(std::io::stdin())
            } else {
                Box::new(
                    std::fs::File::open(file).map_err(|e| format!("cannot read {shown}: {e}"))?,
                )
            };
            let cannot_read = |e: std::io::Error| format!("cannot read {shown}: {e}");
            let bytes = read_at_most(source, MAX_FILE as u64)
                .map_err(cannot_read)?
                .ok_or_else(|| {
                    format!(
                        "{shown} is larger than {} MiB, the most mquery check reads of a file",
                        MAX_FILE >> 20
                    )
                })?;
            // the same error as reading into a String would give
            let mut text = String::new();
            bytes
                .as_slice()
                .read_to_string(&mut text)
                .map_err(cannot_read)?;
            Ok((file.clone(), text))
        })
        .collect()
}

/// How the answer is printed: `--format`, `--color` decided, and whether stderr is a
/// terminal (the progress line).
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub format: Format,
    pub colour: bool,
    pub progress: bool,
}

pub async fn run(
    backend: &Backend,
    files: &[String],
    platform: Option<Asked>,
    sense: Sense,
    env: &EnvOptions,
    style: Style,
) -> u8 {
    let texts = match read(files) {
        Ok(texts) => texts,
        Err(e) => {
            eprintln!("mquery: {e}");
            return EXIT_ERROR;
        }
    };
    let mut variables = match Variables::new(env) {
        Ok(variables) => variables,
        Err(e) => {
            eprintln!("mquery: {e}");
            return EXIT_ERROR;
        }
    };
    let build = Triple::host();
    let target = platform
        .as_ref()
        .map(|(_, spec)| Triple::target(spec, &build));
    let mut plan = Plan::new(platform);
    for (file, text) in &texts {
        let vars = match variables.of(file, text) {
            Ok(vars) => vars,
            Err(e) => {
                eprintln!("mquery: {e}");
                return EXIT_ERROR;
            }
        };
        let context = Context {
            vars,
            target: target.clone(),
            build: build.clone(),
            files: Some(std::sync::Arc::new(Disk)),
        };
        plan.add(file, text, &context);
    }
    finish(backend, plan, sense, style).await
}

/// `mquery --format FORMAT IMAGE...` in a CI format: the images named on the command line,
/// checked and reported as a stack (their rows have no file).
pub async fn arguments(
    backend: &Backend,
    images: &[String],
    platform: Option<Asked>,
    sense: Sense,
    style: Style,
) -> u8 {
    let mut plan = Plan::new(platform);
    plan.add_arguments(images);
    finish(backend, plan, sense, style).await
}

/// Looks the plan's images up, prints the report in `style` and returns the exit code.
async fn finish(backend: &Backend, plan: Plan, sense: Sense, style: Style) -> u8 {
    // one lookup per distinct reference, all at once (the client bounds concurrency)
    let outcomes = lookup_all(backend, &plan.references(), false, style.progress).await;
    let report = plan.judge(outcomes, sense);
    let text = match style.format {
        Format::Text => report.table_in(style.colour),
        Format::Json => serde_json::to_string_pretty(&report).unwrap_or_default() + "\n",
        Format::Github => formats::github::render(&report),
        Format::Sarif => formats::sarif::render(&report, crate::VERSION) + "\n",
        Format::Junit => formats::junit::render(&report),
        Format::Markdown => formats::markdown::render(&report),
    };
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
    match report.status {
        Status::Ok => 0,
        Status::Unsupported => EXIT_PLATFORM_UNSUPPORTED,
        Status::Error => EXIT_ERROR,
    }
}
