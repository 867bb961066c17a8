//! `mquery IMAGE...`: is a container image multi-platform, and which platforms does it
//! support? Prints mquery's text (or the v1 JSON document with `--json`); `mquery diff` and
//! `mquery check` (`check.rs`) are its subcommands, `--endpoint`'s backend is `service.rs`,
//! a stack's progress line `progress.rs`. The options, output, environment and exit
//! status are documented in docs/cli.md.
//!
//! Exit codes: 0 success, 1 any error, 3 an image does not support `--platform`, 4 `mquery
//! diff`: NEW dropped a platform OLD had, 5 `--verify` found something (1 outranks 3, which
//! outranks 5).

mod check;
mod config;
mod login;
mod progress;
mod service;

use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;

use clap::Parser;
use output::formats::Format;
use output::{CacheInfo, ErrorBody, ErrorReport, LookupResult, Report, printable};
use registry::{Client, ErrorCode, PlatformCheck, PlatformSpec, Reference, Sense};
use stack::plan::Asked;

use crate::config::Config;
use crate::progress::Progress;
use crate::service::Service;

/// Reads `source` to its end when it holds at most `max` bytes; `Ok(None)` when it holds more
/// (only `max + 1` bytes are read to know). Every file the command reads goes through it.
fn read_at_most(source: impl std::io::Read, max: u64) -> std::io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut source.take(max + 1), &mut bytes)?;
    Ok((bytes.len() as u64 <= max).then_some(bytes))
}

/// The version `--version` prints and the SARIF log names: the package's, and the commit it
/// was built from when the build could tell (build.rs).
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), env!("MQUERY_BUILD_COMMIT"));

const EXIT_ERROR: u8 = 1;
const EXIT_PLATFORM_UNSUPPORTED: u8 = 3;
const EXIT_PLATFORM_DROPPED: u8 = 4;
const EXIT_VERIFY_FINDINGS: u8 = 5;

#[derive(Debug, Parser)]
#[command(
    name = "mquery",
    subcommand_negates_reqs = true,
    version = VERSION,
    about = "Is a container image multi-platform, and which platforms does it support?",
    after_help = "Exit status: 0 success, 1 any error, 3 an image does not support --platform \
                  (natively, or with --compatible as docker pull would), 5 --verify found \
                  something; mquery diff: 4 NEW dropped a platform OLD had.\n\
                  Environment: MQUERY_ENDPOINT (--endpoint's default); MQUERY_INSECURE_REGISTRIES, \
                  MQUERY_PRIVATE_REGISTRIES, MQUERY_CA_FILE, SSL_CERT_FILE, SSL_CERT_DIR; \
                  MQUERY_DOCKER_HUB_MIRROR, MQUERY_DOCKER_HUB_FALLBACK, MQUERY_DOCKER_HUB_USERNAME \
                  with MQUERY_DOCKER_HUB_TOKEN; RUST_LOG; logins: REGISTRY_AUTH_FILE, \
                  XDG_RUNTIME_DIR, XDG_CONFIG_HOME, DOCKER_CONFIG, HOME; for mquery check, COMPOSE_ENV_FILES, \
                  COMPOSE_DISABLE_ENV_FILE and the variables Compose files use."
)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Print JSON: the v1 document of each IMAGE (an array when several are given), the diff
    /// document with diff, the check document (one object) with check.
    #[arg(long, global = true)]
    json: bool,
    /// Exit 3 unless every IMAGE runs natively on PLATFORM: containerd's syntax, e.g.
    /// linux/arm64, arm64, x86_64, armhf, windows(10.0.17763)/amd64, linux(+gpu)/amd64, or an
    /// OS alone (any architecture of it). Older variants of the same architecture count.
    #[arg(long, value_name = "PLATFORM")]
    platform: Option<String>,
    /// With --platform: accept what `docker pull --platform` would pick, cross-architecture
    /// fallbacks included (linux/arm/v7 for linux/arm64, linux/386 for linux/amd64).
    #[arg(long, requires = "platform")]
    compatible: bool,
    /// Also read each platform entry's image config (opt-in: one manifest and one config
    /// request per platform, up to 64) and report entries whose index platform disagrees with
    /// their config, duplicate platforms and entries that are not images; exit 5 if any.
    #[arg(long)]
    verify: bool,
    /// Output format: text (the default), json (as --json), github (workflow commands that
    /// mark each problem on its line in a pull request), sarif (2.1.0, for code scanning),
    /// junit (XML, one test case per image) or markdown (a table for a pull-request comment).
    /// The last four report a check's problems: with mquery IMAGE... they need no --verify.
    #[arg(
        long,
        global = true,
        value_name = "FORMAT",
        value_parser = Format::ALL.map(|(name, _)| name),
        conflicts_with = "json"
    )]
    format: Option<String>,
    /// Colour the text format's verdicts: auto (on a terminal, unless NO_COLOR is set and not
    /// empty), always or never.
    #[arg(long, global = true, value_name = "WHEN", default_value = "auto", value_parser = ["auto", "always", "never"])]
    color: String,
    /// Ask the mquery service at URL instead of the registries (default: MQUERY_ENDPOINT).
    #[arg(long, value_name = "URL", global = true)]
    endpoint: Option<String>,
    /// Read registry logins from FILE alone (podman's auth.json or docker's config.json
    /// format; default: REGISTRY_AUTH_FILE, else the containers auth.json files, then
    /// docker's config.json). Not used with --endpoint.
    #[arg(long, value_name = "FILE", global = true)]
    authfile: Option<std::path::PathBuf>,
    /// Image references: alpine, golang:1.22, ghcr.io/org/app:v1, name@sha256:...
    #[arg(required = true, value_name = "IMAGE")]
    images: Vec<String>,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Print the completion script of SHELL, made from these options: e.g. `source <(mquery
    /// completions bash)`, or save it where the shell loads completions (docs/cli.md).
    Completions {
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff, section 1), made from these options: `mquery man |
    /// man -l -`, or save it as mquery.1 in a man directory.
    Man,
    /// The platforms NEW added and dropped relative to OLD (compared as containerd normalizes
    /// them: arm64 and arm64/v8 are one platform), attestation counts and digests. Exit 4 when
    /// NEW dropped a platform OLD had.
    Diff {
        /// The release before, e.g. ghcr.io/org/app:v1
        #[arg(value_name = "OLD")]
        old: String,
        /// The release after, e.g. ghcr.io/org/app:v2
        #[arg(value_name = "NEW")]
        new: String,
    },
    /// Every image a stack runs, checked at once: Compose files, Kubernetes YAML (helm template
    /// and kubectl get -o yaml output too), Dockerfiles and plain lists; `-` reads standard
    /// input. One row per image (where it was found, its platforms, the verdict for PLATFORM or
    /// for the platform the file asks for), then a summary. Exit 3 when an image lacks
    /// PLATFORM, 1 when a lookup failed, a reference could not be read or nothing was found.
    Check {
        /// Files to read (the kind is detected from the content).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<String>,
        /// The platform every image must run on natively (the main command's syntax).
        #[arg(long, value_name = "PLATFORM")]
        platform: Option<String>,
        /// With --platform: accept containerd's fallbacks, as `docker pull` would.
        #[arg(long, requires = "platform")]
        compatible: bool,
        /// Interpolate Compose files with the variables of FILE (and the environment, which
        /// wins) instead of the `.env` beside each, as `docker compose --env-file`; repeat it
        /// for several (a later file wins).
        #[arg(long = "env-file", value_name = "FILE")]
        env_files: Vec<String>,
        /// Interpolate Compose files with no variables at all, neither the environment nor
        /// `.env` (as the service does): a variable without a default is reported.
        #[arg(long, conflicts_with = "env_files")]
        no_env: bool,
    },
}

/// Whether text goes out coloured: `--color`, else a terminal without `NO_COLOR` (set and not
/// empty: no-color.org).
fn colour(when: &str, terminal: bool) -> bool {
    match when {
        "always" => true,
        "never" => false,
        _ => terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    }
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) => {
            // --help and --version are not errors
            let code = if e.use_stderr() { EXIT_ERROR } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let style = check::Style {
        format: match (args.format.as_deref().map(str::parse), args.json) {
            (Some(Ok(format)), _) => format,
            (Some(Err(e)), _) => return fail(&e),
            (None, true) => Format::Json,
            (None, false) => Format::Text,
        },
        colour: colour(&args.color, std::io::stdout().is_terminal()),
        progress: std::io::stderr().is_terminal(),
    };
    // made from the definitions above, before anything is configured: nothing else can fail
    match &args.command {
        Some(Command::Completions { shell }) => {
            let mut command = <Args as clap::CommandFactory>::command();
            clap_complete::generate(*shell, &mut command, "mquery", &mut std::io::stdout());
            return ExitCode::SUCCESS;
        }
        Some(Command::Man) => {
            let man = clap_mangen::Man::new(<Args as clap::CommandFactory>::command());
            return match man.render(&mut std::io::stdout()) {
                // `mquery man | head` is no error
                Ok(()) => ExitCode::SUCCESS,
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(e) => fail(&format!("cannot write the manual page: {e}")),
            };
        }
        _ => {}
    }
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => return fail(&e.to_string()),
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // colours only on a terminal: logs captured from a pipe or a container stay plain
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&config.log_filter)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    // the platform asked for, parsed once before anything starts: `check`'s flags, or the
    // main command's
    let (asked, compatible) = match &args.command {
        Some(Command::Check {
            platform,
            compatible,
            ..
        }) => (platform.as_deref(), *compatible),
        _ => (args.platform.as_deref(), args.compatible),
    };
    let platform: Option<Asked> = match asked.map(|p| p.parse().map(|spec| (p.to_owned(), spec))) {
        None => None,
        Some(Ok(asked)) => Some(asked),
        Some(Err(e)) => return fail(&format!("--platform: {e}")),
    };
    let sense = if compatible {
        Sense::Compatible
    } else {
        Sense::Native
    };
    // one thread starts fastest; a stack's dozens of lookups share the cores
    let mut builder = match args.command {
        Some(Command::Check { .. }) => tokio::runtime::Builder::new_multi_thread(),
        _ => tokio::runtime::Builder::new_current_thread(),
    };
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return fail(&format!("cannot start the runtime: {e}")),
    };
    let endpoint = match args.endpoint.as_deref() {
        Some(url) => match registry::config::parse_base_url("--endpoint", url) {
            Ok(url) => Some(url),
            Err(e) => return fail(&e.to_string()),
        },
        None => config.endpoint,
    };
    let backend = match endpoint {
        Some(base) => match Service::new(base, &config.client) {
            Ok(service) => Backend::Service(service),
            Err(e) => return fail(&e.to_string()),
        },
        None => match with_logins(config.client, args.authfile.as_deref())
            .and_then(|client| Client::new(client).map_err(|e| e.to_string()))
        {
            Ok(client) => Backend::Direct(client),
            Err(e) => return fail(&e),
        },
    };
    if let Some(Command::Check {
        files,
        env_files,
        no_env,
        ..
    }) = &args.command
    {
        let env = check::EnvOptions {
            env_files: env_files.clone(),
            no_env: *no_env,
        };
        return ExitCode::from(
            runtime.block_on(check::run(&backend, files, platform, sense, &env, style)),
        );
    }
    let json = match style.format {
        Format::Text => false,
        Format::Json => true,
        _ if args.command.is_some() => return fail("mquery diff prints text or json"),
        _ if args.verify => return fail("--verify prints text or json"),
        _ => {
            return ExitCode::from(runtime.block_on(check::arguments(
                &backend,
                &args.images,
                platform,
                sense,
                style,
            )));
        }
    };
    if let Some(Command::Diff { old, new }) = &args.command {
        let images = [old.clone(), new.clone()];
        let outcomes = runtime.block_on(lookup_all(&backend, &images, false, false));
        return ExitCode::from(print_diff(&outcomes, json));
    }
    let mut outcomes = runtime.block_on(lookup_all(&backend, &args.images, args.verify, false));
    let check = platform.as_ref().map(|(requested, spec)| {
        for report in outcomes.iter_mut().filter_map(|o| o.as_mut().ok()) {
            report.platform_check =
                Some(PlatformCheck::with_spec(requested, spec, &report.summary));
        }
        (spec, sense)
    });
    ExitCode::from(print(&outcomes, json, check))
}

/// The client settings with the user's registry logins ([`login`]); their warnings go to
/// stderr.
fn with_logins(
    mut client: registry::ClientConfig,
    authfile: Option<&std::path::Path>,
) -> Result<registry::ClientConfig, String> {
    // file names and a file's keys may hold control characters: escaped, as everywhere
    let (logins, warnings) = login::UserLogins::read(authfile, |name| std::env::var(name).ok())
        .map_err(|e| printable(&e).into_owned())?;
    for warning in warnings {
        eprintln!("mquery: warning: {}", printable(&warning));
    }
    client.logins = Some(std::sync::Arc::new(logins));
    Ok(client)
}

fn fail(message: &str) -> ExitCode {
    eprintln!("mquery: {message}");
    ExitCode::from(EXIT_ERROR)
}

/// Where answers come from: the registries themselves, or a deployed mquery service.
#[derive(Debug, Clone)]
enum Backend {
    Direct(Client),
    Service(Service),
}

/// Looks all images up concurrently; answers come back in the order given. Looked up here,
/// they are prepared first: one token request and one connection per registry
/// ([`registry::Client::prepare`]).
async fn lookup_all(
    backend: &Backend,
    images: &[String],
    verify: bool,
    progress: bool,
) -> Vec<LookupResult> {
    if let Backend::Direct(client) = backend
        && images.len() > 1
    {
        let references: Vec<Reference> = images
            .iter()
            .filter_map(|image| Reference::parse(image).ok())
            .collect();
        client.prepare(&references).await;
    }
    let progress = std::sync::Arc::new(Progress::new(progress, images.len()));
    // all at once: the client bounds the requests
    let outcomes = registry::gather(images, images.len(), None, |image| {
        let backend = backend.clone();
        let progress = progress.clone();
        async move {
            let outcome = lookup(&backend, &image, verify).await;
            progress.one_more();
            outcome
        }
    })
    .await;
    progress.clear();
    outcomes
        .into_iter()
        .map(|outcome| {
            outcome
                .unwrap_or_else(|u| Err(ErrorReport::of_image(u.item(), u.code(), u.to_string())))
        })
        .collect()
}

async fn lookup(backend: &Backend, image: &str, verify: bool) -> LookupResult {
    let reference = Reference::parse(image).map_err(|source| {
        let e = registry::Error::InvalidReference {
            input: image.to_owned(),
            source,
        };
        error_report(image, None, e.code(), &e.to_string())
    })?;
    let client = match backend {
        Backend::Direct(client) => client,
        Backend::Service(service) => return service.lookup(image, &reference, verify).await,
    };
    let failed = |e: registry::Error| {
        error_report(image, Some(reference.canonical()), e.code(), &e.to_string())
    };
    let summary = client.summarize(&reference).await.map_err(failed)?;
    let verification = match verify {
        true => Some(client.verify(&reference, &summary).await.map_err(failed)?),
        false => None,
    };
    Ok(Report {
        image: image.to_owned(),
        reference: reference.canonical(),
        summary,
        cache: CacheInfo::fresh_from_registry(),
        platform_check: None,
        verification,
    })
}

fn error_report(
    image: &str,
    reference: Option<String>,
    code: ErrorCode,
    message: &str,
) -> ErrorReport {
    ErrorReport {
        image: Some(image.to_owned()),
        reference,
        error: ErrorBody {
            code,
            message: message.to_owned(),
        },
    }
}

/// Prints `mquery diff`'s answer (or the lookups' errors) and returns the exit code.
fn print_diff(outcomes: &[LookupResult], json: bool) -> u8 {
    let (old, new) = match outcomes {
        [Ok(old), Ok(new)] => (old, new),
        _ => return print(outcomes, json, None).max(EXIT_ERROR),
    };
    let diff = registry::Diff::of(&old.image, &old.summary, &new.image, &new.summary);
    let mut stdout = std::io::stdout().lock();
    if json {
        // serializing plain structs of strings cannot fail
        let text = serde_json::to_string_pretty(&diff).unwrap_or_default();
        let _ = writeln!(stdout, "{text}");
    } else {
        let _ = write!(stdout, "{}", output::text::diff(&diff));
    }
    let _ = stdout.flush();
    if diff.dropped.is_empty() {
        0
    } else {
        if !json {
            eprintln!("mquery: {} dropped {}", new.image, diff.dropped.join(", "));
        }
        EXIT_PLATFORM_DROPPED
    }
}

/// Prints the outcomes and returns the exit code.
fn print(outcomes: &[LookupResult], json: bool, platform: Option<(&PlatformSpec, Sense)>) -> u8 {
    let any_error = outcomes.iter().any(Result::is_err);
    let sense = platform.map_or(Sense::Native, |(_, sense)| sense);
    let unsupported: Vec<&Report> = outcomes
        .iter()
        .filter_map(|o| o.as_ref().ok())
        .filter(|r| {
            r.platform_check
                .as_ref()
                .is_some_and(|c| c.satisfied(sense).is_none())
        })
        .collect();
    let mut stdout = std::io::stdout().lock();
    if json {
        #[derive(serde::Serialize)]
        #[serde(untagged)]
        enum Doc<'a> {
            Report(&'a Report),
            Error(&'a ErrorReport),
        }
        let docs: Vec<Doc> = outcomes
            .iter()
            .map(|o| match o {
                Ok(report) => Doc::Report(report),
                Err(error) => Doc::Error(error),
            })
            .collect();
        let text = match docs.as_slice() {
            [one] => serde_json::to_string_pretty(one),
            many => serde_json::to_string_pretty(many),
        };
        // serializing these plain structs cannot fail
        let _ = writeln!(stdout, "{}", text.unwrap_or_default());
    } else {
        let mut first = true;
        for outcome in outcomes {
            match outcome {
                Ok(report) => {
                    if !first {
                        let _ = writeln!(stdout);
                    }
                    first = false;
                    let _ = write!(stdout, "{}", report.to_text(sense));
                }
                Err(error) => eprintln!("mquery: {}", printable(&error.error.message)),
            }
        }
        if let Some((spec, sense)) = platform {
            let how = match sense {
                Sense::Native => " natively",
                Sense::Compatible => ", not even with a fallback",
            };
            for report in &unsupported {
                eprintln!("mquery: {} does not support {spec}{how}", report.image);
            }
        }
    }
    let _ = stdout.flush();
    let findings = outcomes.iter().filter_map(|o| o.as_ref().ok()).any(|r| {
        r.verification
            .as_ref()
            .is_some_and(|v| !v.findings.is_empty())
    });
    if any_error {
        EXIT_ERROR
    } else if !unsupported.is_empty() {
        EXIT_PLATFORM_UNSUPPORTED
    } else if findings {
        EXIT_VERIFY_FINDINGS
    } else {
        0
    }
}
