//! The `switchboard` command line.

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::net::SocketAddr;
use std::path::PathBuf;
use uuid::Uuid;

use application::EventMetadata;
use application::accounts::NewUser;
use application::feed::EventLog;
use domain::{EmailAddress, Role};
use infrastructure::Settings;
use infrastructure::config::Mode;
use infrastructure::feed::scan::StoreLog;

use crate::runtime::{self, Roles};
use crate::state::AppState;

#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about = "Business communications, event-sourced.")]
pub struct Cli {
    /// A TOML configuration file (also `SWITCHBOARD_CONFIG`).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Data directory of the embedded default (also `SWITCHBOARD_DATA_DIR`).
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs the API, the projectors and the workers in one process.
    Serve {
        /// Address to listen on (also `SWITCHBOARD_LISTEN`).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Leaves the projectors to `switchboard project` processes: an
        /// API process of a distributed deployment (refused embedded, whose
        /// one process must run them).
        #[arg(long)]
        no_projectors: bool,
        /// Leaves the background workers to `switchboard work` processes.
        #[arg(long)]
        no_workers: bool,
    },
    /// Applies the database migrations and exits.
    Migrate,
    /// Runs the projectors only.
    Project,
    /// Runs the background workers (the relay to JetStream) only.
    Work,
    /// Runs the Exotel simulator alone (account `sandbox`, key `sandbox-key`, token `sandbox-token`).
    Sim {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: SocketAddr,
    },
    /// Read-model maintenance.
    Projections {
        #[command(subcommand)]
        command: ProjectionsCommand,
    },
    /// Organisations and users.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Master keys of the credential cipher.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// The audit history.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Re-wraps every integration data key under the active master key
    /// (`SWITCHBOARD_MASTER_KEY_ID`); afterwards older keys can be removed.
    Rotate,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Checks every stored event against its hash chain; exits non-zero on
    /// any altered, removed or reordered event.
    Verify {
        /// One organisation (default: all).
        #[arg(long)]
        org: Option<Uuid>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProjectionsCommand {
    /// Empties a projection (or all) and replays the event store into it.
    Rebuild { name: Option<String> },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Creates an organisation and prints its id.
    CreateOrg {
        #[arg(long)]
        name: String,
    },
    /// Creates a user in an organisation and prints its id.
    CreateUser {
        #[arg(long)]
        org: Uuid,
        #[arg(long)]
        email: String,
        #[arg(long, env = "SWITCHBOARD_NEW_USER_PASSWORD", hide_env_values = true)]
        password: String,
        #[arg(long, value_parser = ["admin", "manager", "agent", "auditor"])]
        role: String,
        #[arg(long)]
        name: Option<String>,
    },
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut settings = Settings::load(cli.config.clone()).context("reading the configuration")?;
    if let Some(dir) = cli.data_dir {
        settings.data_dir = dir;
    }
    if let Command::Serve {
        listen: Some(listen), ..
    } = cli.command
    {
        settings.listen = listen;
    }
    crate::telemetry::init_logs(settings.log_format);
    match cli.command {
        Command::Serve {
            no_projectors,
            no_workers,
            ..
        } => {
            if no_projectors && settings.mode() == Mode::Embedded {
                anyhow::bail!(
                    "--no-projectors needs the distributed mode: the embedded process must run its projectors"
                );
            }
            let roles = Roles {
                api: true,
                projectors: !no_projectors,
                workers: !no_workers,
            };
            serve(settings, roles).await
        }
        Command::Sim { listen } => sim(listen).await,
        Command::Migrate => migrate(settings).await,
        Command::Project => {
            serve(
                settings,
                Roles {
                    api: false,
                    projectors: true,
                    workers: false,
                },
            )
            .await
        }
        Command::Work => {
            serve(
                settings,
                Roles {
                    api: false,
                    projectors: false,
                    workers: true,
                },
            )
            .await
        }
        Command::Projections {
            command: ProjectionsCommand::Rebuild { name },
        } => rebuild(settings, name).await,
        Command::Admin { command } => admin(settings, command).await,
        Command::Keys {
            command: KeysCommand::Rotate,
        } => rotate_keys(settings).await,
        Command::Audit {
            command: AuditCommand::Verify { org },
        } => verify(settings, org).await,
    }
}

async fn serve(settings: Settings, roles: Roles) -> anyhow::Result<()> {
    let listener = match roles.api {
        true => Some(
            tokio::net::TcpListener::bind(settings.listen)
                .await
                .with_context(|| format!("listening on {}", settings.listen))?,
        ),
        false => None,
    };
    let embedded = settings.mode() == Mode::Embedded && settings.sandbox;
    let state = AppState::build(settings, crate::telemetry::metrics())
        .await
        .context("starting")?;
    let mut simulator = None;
    if embedded && roles.api {
        crate::sandbox::ensure(&state).await.context("preparing the sandbox")?;
        let sim = simulator::start(state.settings.sandbox_simulator_listen)
            .await
            .context("starting the sandbox's Exotel simulator")?;
        state.exotel.outbound().permit(sim.addr);
        crate::sandbox::connect_simulator(&state, &sim.base_url())
            .await
            .context("connecting the sandbox to its simulator")?;
        if let Some(local) = listener.as_ref().and_then(|l| l.local_addr().ok()) {
            state.callback_tokens.listening_on(local);
        }
        crate::sandbox::route_whatsapp(&state, &sim)
            .await
            .context("routing the sandbox's WhatsApp messages")?;
        simulator = Some(sim);
    }
    let running = runtime::start(state, roles, listener).await?;
    if let Some(addr) = running.addr {
        tracing::info!(%addr, "listening");
    }
    running.until_signalled().await;
    if let Some(sim) = simulator {
        sim.stop();
    }
    Ok(())
}

async fn sim(listen: SocketAddr) -> anyhow::Result<()> {
    let running = simulator::start(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    println!(
        "Exotel simulator on {} (account sandbox, key sandbox-key, token sandbox-token)",
        running.base_url()
    );
    tokio::signal::ctrl_c().await?;
    running.stop();
    Ok(())
}

async fn migrate(settings: Settings) -> anyhow::Result<()> {
    let db = infrastructure::database::Database::connect(&settings).await?;
    db.migrate().await?;
    println!("migrations applied");
    Ok(())
}

async fn rebuild(settings: Settings, name: Option<String>) -> anyhow::Result<()> {
    let state = AppState::build(settings, None).await?;
    let log = StoreLog(state.db.clone());
    let head = log.head().await?;
    let chosen: Vec<_> = projections::all()
        .into_iter()
        .filter(|p| name.as_deref().is_none_or(|n| n == p.name()))
        .collect();
    if chosen.is_empty() {
        bail!("no projection named {}", name.unwrap_or_default());
    }
    let bar = ProgressBar::new(head.max(0) as u64);
    bar.set_style(ProgressStyle::with_template(
        "{msg:14} {bar:40} {pos}/{len} events ({per_sec})",
    )?);
    bar.set_message(if chosen.len() == 1 { chosen[0].name() } else { "all" });
    let projectors: Vec<&dyn projections::Projector> = chosen.iter().map(|p| p.as_ref()).collect();
    let applied = state
        .projections
        .rebuild_all(&projectors, &log, &|position| bar.set_position(position as u64))
        .await?;
    bar.finish();
    for (projector, applied) in chosen.iter().zip(applied) {
        println!("{}: {applied} events applied", projector.name());
    }
    Ok(())
}

async fn admin(settings: Settings, command: AdminCommand) -> anyhow::Result<()> {
    let state = AppState::build(settings, None).await?;
    let accounts = state.accounts();
    match command {
        AdminCommand::CreateOrg { name } => {
            let meta = EventMetadata::system("cli", None);
            let id = accounts.create_organisation(&name, &meta).await?;
            println!("{id}");
        }
        AdminCommand::CreateUser {
            org,
            email,
            password,
            role,
            name,
        } => {
            let email = EmailAddress::parse(&email).context("--email")?;
            let role = Role::parse(&role).context("--role")?;
            let display_name = name.unwrap_or_else(|| email.as_str().split('@').next().unwrap_or_default().to_string());
            let meta = EventMetadata::system("cli", Some(org));
            let id = accounts
                .register_user(
                    NewUser {
                        organisation_id: org,
                        email,
                        display_name,
                        password,
                        role,
                    },
                    &meta,
                )
                .await?;
            println!("{id}");
        }
    }
    Ok(())
}

async fn rotate_keys(settings: Settings) -> anyhow::Result<()> {
    let state = AppState::build(settings, None).await?;
    let rotated = state
        .integrations()
        .rotate_keys(&EventMetadata::system("keys-rotate", None))
        .await?;
    println!(
        "{rotated} data keys re-wrapped under master key {}",
        application::cipher::CredentialCipher::active_master_key_id(&state.keyring)
    );
    Ok(())
}

async fn organisations(state: &AppState, only: Option<Uuid>) -> anyhow::Result<Vec<String>> {
    if let Some(org) = only {
        return Ok(vec![org.to_string()]);
    }
    Ok(projections::audit_log::organisations(&state.db.read).await?)
}

async fn verify(settings: Settings, org: Option<Uuid>) -> anyhow::Result<()> {
    let state = AppState::build(settings, None).await?;
    let log = StoreLog(state.db.clone());
    let head = log.head().await?;
    let mut findings = 0;
    for organisation in organisations(&state, org).await? {
        let bar = ProgressBar::new(head.max(0) as u64);
        bar.set_style(ProgressStyle::with_template("{msg:38} {bar:30} {pos}/{len}")?);
        bar.set_message(organisation.clone());
        let report =
            projections::audit_chain::verify(&state.db.read, &log, &organisation, &|p| bar.set_position(p as u64))
                .await?;
        bar.finish_and_clear();
        println!(
            "{organisation}: {} events checked, {} pending, head {}",
            report.events_checked,
            report.events_pending,
            report.chain_head.as_deref().unwrap_or("-")
        );
        for finding in &report.findings {
            println!("  {}", serde_json::to_string(finding)?);
        }
        findings += report.findings.len();
    }
    if findings > 0 {
        bail!("{findings} findings");
    }
    Ok(())
}
