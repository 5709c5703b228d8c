//! The command line: `callops [run]`, `migrate`, `check`, `settings`, `analyze`, `numbering import`,
//! `bench …`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::config::{Config, Purpose};
use crate::telemetry::init_logging;

#[derive(Parser, Debug)]
#[command(
    name = "callops",
    version,
    about = "Telegram-first chat-ops for sales teams' phone calls"
)]
pub struct Cli {
    /// A callops.toml to read before the environment.
    #[arg(long, global = true, env = "CALLOPS_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Cmd>,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Runs the HTTP server, the workers and the bot (the default).
    Run,
    /// Applies database migrations and exits.
    Migrate,
    /// Validates the configuration and reaches every configured service.
    Check,
    /// Asks the running instance's `/health/ready` (HTTP_ADDR); exit 0 when ready. Backs the
    /// Docker HEALTHCHECK (the image has no curl).
    Healthcheck,
    /// Prints every setting with its default and meaning (the README's table).
    Settings,
    /// Transcribes and analyses local recordings (wav, mp3, ogg, flac) and prints the protocols.
    Analyze {
        /// Audio files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Also post each protocol to TELEGRAM_CHAT_ID.
        #[arg(long)]
        post: bool,
        /// The analysis profile (default: PROFILE).
        #[arg(long)]
        profile: Option<String>,
    },
    /// The numbering plan registry (number → region → time zone).
    Numbering {
        #[command(subcommand)]
        what: NumberingCmd,
    },
    /// Benchmarks that print figures.
    Bench {
        #[command(subcommand)]
        what: BenchCmd,
    },
}

#[derive(Subcommand, Debug)]
pub enum NumberingCmd {
    /// Reads the official open-data files (ABC-3xx.csv, ABC-4xx.csv, ABC-8xx.csv, DEF-9xx.csv
    /// from opendata.digital.gov.ru) into the database, in place of the shipped ranges.
    Import {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Write the compact table to this file instead of the database.
        #[arg(long)]
        table: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum BenchCmd {
    /// Reading a contact list (XLSX with float phones, cp1251 CSV) into contacts with zones.
    Contacts {
        #[arg(long, default_value_t = 10_000)]
        rows: usize,
    },
    /// A whole campaign on the simulated trunk: scheduling overhead per dial, database time per
    /// contact, peak RSS, XLSX import.
    Campaign {
        #[arg(long, default_value_t = 10_000)]
        contacts: usize,
        #[arg(long, default_value_t = 50)]
        concurrency: i64,
    },
    /// Concurrent real SIP calls over loopback to a built-in callee: CPU per call, late or
    /// missing frames, RTP send jitter, voice-to-voice.
    Call {
        #[arg(long, default_value_t = 200)]
        calls: usize,
        #[arg(long, default_value_t = 300)]
        stt_latency_ms: u64,
        #[arg(long, default_value_t = 400)]
        llm_ttft_ms: u64,
        #[arg(long, default_value_t = 150)]
        tts_ttfb_ms: u64,
        /// Calls are placed this long apart (0: all at once, so every call's turns fall on the
        /// same instant).
        #[arg(long, default_value_t = 10)]
        stagger_ms: u64,
    },
    /// Who answered (person, voicemail, IVR, call screener) on the clip set: accuracy and time to
    /// decision.
    Screening {
        /// The clip set (default: assets/screening in the source tree).
        #[arg(long)]
        clips: Option<std::path::PathBuf>,
    },
    /// Durable job throughput and claim latency (SQLite, and Postgres when a URL is set).
    Jobs {
        #[arg(long, default_value_t = 10_000)]
        n: usize,
        #[arg(long, default_value_t = 8)]
        workers: usize,
        /// Postgres to benchmark on (a throw-away schema is created and dropped).
        #[arg(long, env = "TEST_DATABASE_URL")]
        database_url: Option<String>,
    },
    /// What the bot does for /leads, /stats and charts, on a database of N calls.
    Bot {
        #[arg(long, default_value_t = 1_000_000)]
        calls: usize,
        /// Postgres to benchmark on (a throw-away schema is created and dropped).
        #[arg(long, env = "TEST_DATABASE_URL")]
        database_url: Option<String>,
    },
    /// The call-analysis pipeline against in-process fakes with set latencies.
    Pipeline {
        #[arg(long, default_value_t = 2000)]
        calls: usize,
        #[arg(long, default_value_t = 400)]
        stt_latency_ms: u64,
        #[arg(long, default_value_t = 800)]
        llm_latency_ms: u64,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// Call arrivals per second (0 = all at once).
        #[arg(long, default_value_t = 0.0)]
        rate: f64,
    },
    /// Hostile and long recordings through the transcription path: outcome and peak RSS.
    Recordings,
    /// Live-call conversations over the simulated line against in-process fake providers.
    Agent {
        /// Caller turns in total (5 per conversation).
        #[arg(long, default_value_t = 200)]
        turns: usize,
        /// `batch` (upload after the silence) or `streaming` (interim text, adaptive end of turn).
        #[arg(long, value_enum, default_value_t = crate::bench::agent::SttMode::Batch)]
        stt: crate::bench::agent::SttMode,
        /// Streaming: the final text this long after the turn ends.
        #[arg(long, default_value_t = 150)]
        stt_final_ms: u64,
        /// Batch: the transcription's latency.
        #[arg(long, default_value_t = 300)]
        stt_ms: u64,
        #[arg(long, default_value_t = 400)]
        llm_ttft_ms: u64,
        #[arg(long, default_value_t = 150)]
        tts_ttfb_ms: u64,
        /// Conversations at the same time.
        #[arg(long, default_value_t = 20)]
        concurrency: usize,
    },
}

/// The whole program; returns the process exit code.
pub fn main() -> ExitCode {
    crate::http::install_crypto();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("callops: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(dispatch(cli))
}

fn load(cli: &Cli, purpose: Purpose) -> Result<Config, ExitCode> {
    match Config::load(cli.config.as_deref(), purpose) {
        Ok(cfg) => {
            init_logging(cfg.service.log_format);
            if let Some(path) = &cfg.speech.extra_ca_certs {
                match crate::http::load_extra_ca_certs(path) {
                    Ok(n) => tracing::info!(certificates = n, "extra CA certificates trusted"),
                    Err(e) => {
                        eprintln!("callops: configuration error\n{e}");
                        return Err(ExitCode::from(2));
                    }
                }
            }
            Ok(cfg)
        }
        Err(e) => {
            eprintln!("callops: configuration error\n{e}");
            Err(ExitCode::from(2))
        }
    }
}

async fn dispatch(cli: Cli) -> ExitCode {
    let command = cli.command.as_ref().unwrap_or(&Cmd::Run);
    match command {
        Cmd::Run => {
            let cfg = match load(&cli, Purpose::Run) {
                Ok(c) => c,
                Err(code) => return code,
            };
            run(cfg).await
        }
        Cmd::Migrate => {
            let cfg = match load(&cli, Purpose::Tooling) {
                Ok(c) => c,
                Err(code) => return code,
            };
            match crate::app::open_store(&cfg).await {
                Ok(store) => {
                    println!("migrations applied ({:?})", store.backend());
                    store.close().await;
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("callops migrate: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Cmd::Settings => {
            print!("{}", crate::config::settings_table());
            ExitCode::SUCCESS
        }
        Cmd::Healthcheck => {
            let cfg = match load(&cli, Purpose::Tooling) {
                Ok(c) => c,
                Err(code) => return code,
            };
            healthcheck(cfg.service.http_addr).await
        }
        Cmd::Check => {
            let cfg = match load(&cli, Purpose::Tooling) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let rows = crate::check::run_checks(&cfg).await;
            print!("{}", crate::check::render(&rows));
            if rows.iter().any(|r| r.ok == Some(false)) {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Cmd::Analyze {
            files,
            post,
            profile,
        } => {
            let cfg = match load(&cli, Purpose::Tooling) {
                Ok(c) => c,
                Err(code) => return code,
            };
            if cfg.openai.api_key.is_none() {
                eprintln!("callops: configuration error\nmissing required settings: OPENAI_API_KEY\n  set it in the environment or in .env (see .env.example)");
                return ExitCode::from(2);
            }
            match crate::analyze_cmd::run(&cfg, files, profile.as_deref(), *post).await {
                Ok(0) => ExitCode::SUCCESS,
                Ok(_) => ExitCode::FAILURE,
                Err(e) => {
                    eprintln!("callops analyze: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Cmd::Bench {
            what:
                BenchCmd::Campaign {
                    contacts,
                    concurrency,
                },
        } => {
            let args = crate::bench::campaign::CampaignBench {
                contacts: *contacts,
                concurrency: *concurrency,
            };
            match crate::bench::campaign::run(args).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("callops bench campaign: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Cmd::Bench {
            what:
                BenchCmd::Call {
                    calls,
                    stt_latency_ms,
                    llm_ttft_ms,
                    tts_ttfb_ms,
                    stagger_ms,
                },
        } => {
            let args = crate::bench::call::CallBench {
                calls: *calls,
                stagger: std::time::Duration::from_millis(*stagger_ms),
                stt_ms: *stt_latency_ms,
                llm_ttft_ms: *llm_ttft_ms,
                tts_ttfb_ms: *tts_ttfb_ms,
            };
            match crate::bench::call::run(args).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("callops bench call: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Cmd::Bench {
            what: BenchCmd::Screening { clips },
        } => match crate::bench::screening::run(clips.clone()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("callops bench screening: {e:#}");
                ExitCode::FAILURE
            }
        },
        Cmd::Bench {
            what: BenchCmd::Recordings,
        } => match crate::bench::recordings::run().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("callops bench recordings: {e:#}");
                ExitCode::FAILURE
            }
        },
        Cmd::Bench {
            what: BenchCmd::Bot {
                calls,
                database_url,
            },
        } => match crate::bench::bot::run(*calls, database_url.clone()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("callops bench bot: {e:#}");
                ExitCode::FAILURE
            }
        },
        Cmd::Bench {
            what:
                BenchCmd::Pipeline {
                    calls,
                    stt_latency_ms,
                    llm_latency_ms,
                    concurrency,
                    rate,
                },
        } => {
            let args = crate::bench::pipeline::PipelineBench {
                calls: *calls,
                stt_latency_ms: *stt_latency_ms,
                llm_latency_ms: *llm_latency_ms,
                concurrency: (*concurrency).max(1),
                rate: *rate,
            };
            match crate::bench::pipeline::run(args).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("callops bench pipeline: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Cmd::Bench {
            what:
                BenchCmd::Agent {
                    turns,
                    stt,
                    stt_final_ms,
                    stt_ms,
                    llm_ttft_ms,
                    tts_ttfb_ms,
                    concurrency,
                },
        } => {
            let args = crate::bench::agent::AgentBench {
                turns: *turns,
                stt: *stt,
                stt_final_ms: *stt_final_ms,
                stt_ms: *stt_ms,
                llm_ttft_ms: *llm_ttft_ms,
                tts_ttfb_ms: *tts_ttfb_ms,
                concurrency: (*concurrency).max(1),
            };
            match crate::bench::agent::run(args).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("callops bench agent: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Cmd::Numbering {
            what: NumberingCmd::Import { files, table },
        } => {
            let store = if table.is_some() {
                None
            } else {
                let cfg = match load(&cli, Purpose::Tooling) {
                    Ok(c) => c,
                    Err(code) => return code,
                };
                match crate::app::open_store(&cfg).await {
                    Ok(s) => Some(s),
                    Err(e) => {
                        eprintln!("callops numbering import: {e:#}");
                        return ExitCode::FAILURE;
                    }
                }
            };
            match crate::numbering_cmd::run(files, table.as_deref(), store.clone()).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("callops numbering import: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Cmd::Bench {
            what: BenchCmd::Contacts { rows },
        } => match crate::bench::contacts::run(*rows).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("callops bench contacts: {e:#}");
                ExitCode::FAILURE
            }
        },
        Cmd::Bench {
            what:
                BenchCmd::Jobs {
                    n,
                    workers,
                    database_url,
                },
        } => {
            init_logging(crate::config::LogFormat::Human);
            match crate::bench::bench_jobs(*n, (*workers).max(1), database_url.clone()).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("callops bench jobs: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

async fn run(cfg: Config) -> ExitCode {
    let app = match crate::app::start(cfg).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!("cannot start: {e:#}");
            eprintln!("callops: cannot start: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    wait_for_signal().await;
    tracing::info!("shutdown requested: finishing running jobs (10 s at most)");
    if tokio::time::timeout(Duration::from_secs(10), app.stop())
        .await
        .is_err()
    {
        tracing::warn!("shutdown took longer than 10 s; exiting anyway");
    }
    ExitCode::SUCCESS
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `callops healthcheck`: GET `/health/ready` on this machine's HTTP port, 3 s at most.
async fn healthcheck(addr: std::net::SocketAddr) -> ExitCode {
    let mut addr = addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let url = format!("http://{addr}/health/ready");
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("healthcheck: {e}");
            return ExitCode::FAILURE;
        }
    };
    match client.get(&url).send().await {
        Ok(r) if r.status().is_success() => {
            println!("ready");
            ExitCode::SUCCESS
        }
        Ok(r) => {
            let status = r.status();
            let body = r.text().await.unwrap_or_default();
            eprintln!("not ready ({status}): {body}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("healthcheck: {url}: {e}");
            ExitCode::FAILURE
        }
    }
}
