//! The agent as a Windows service: `deskhand-agent service
//! install|start|stop|uninstall`, and the entry point the service control
//! manager (SCM) starts, `service run`.
//!
//! Registration uses the `windows-service` crate's safe SCM API. The
//! service's own entry point uses `windows-services`, whose dispatcher
//! needs no `unsafe` in this crate (`windows-service`'s
//! `define_windows_service!` expands to an `unsafe` block, which the
//! workspace forbids).
//!
//! The service runs as LocalSystem with automatic start, and restarts
//! after a crash (10 s, three times a day). Its state directory (by
//! default `%ProgramData%\deskhand`) is readable only by SYSTEM and
//! Administrators: `install` creates it and replaces its ACL before the
//! agent enrolls, so the private key never sits in a directory users can
//! read. The service logs to `agent.log` in that directory.

use std::ffi::OsString;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use windows_service::service::{
    ServiceAccess, ServiceAction, ServiceActionType, ServiceErrorControl, ServiceFailureActions,
    ServiceFailureResetPeriod, ServiceInfo, ServiceStartType, ServiceState, ServiceType,
};
use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};

/// The service's name in the SCM (`sc query deskhand-agent`).
pub const SERVICE_NAME: &str = "deskhand-agent";
const DISPLAY_NAME: &str = "deskhand agent";
const ERROR_SERVICE_ALREADY_RUNNING: i32 = 1056;
const DESCRIPTION: &str = "Reports this PC's inventory to the deskhand server and runs its jobs.";

/// `deskhand-agent service ...`.
#[derive(Debug, Clone, Copy, clap::Subcommand)]
pub enum ServiceCommand {
    /// Register the service (automatic start, LocalSystem) and restrict the state directory to SYSTEM and Administrators.
    Install,
    /// Start the service.
    Start,
    /// Stop the service.
    Stop,
    /// Stop the service and remove it (the state directory stays).
    Uninstall,
    /// The entry point the service control manager starts; not for interactive use.
    #[command(hide = true)]
    Run,
}

fn manager(access: ServiceManagerAccess) -> Result<ServiceManager> {
    ServiceManager::local_computer(None::<&str>, access).context(
        "opening the service control manager: run this from an elevated (administrator) prompt",
    )
}

/// Registers the service to run `deskhand-agent [--config FILE] --state-dir DIR service run`.
pub fn install(state_dir: &Path, config: Option<&Path>) -> Result<()> {
    let exe = std::env::current_exe().context("finding this program's own path")?;
    prepare_state_dir(state_dir)?;
    let mut launch_arguments: Vec<OsString> = Vec::new();
    if let Some(config) = config {
        launch_arguments.push("--config".into());
        launch_arguments.push(config.into());
    }
    launch_arguments.extend([
        OsString::from("--state-dir"),
        state_dir.into(),
        "service".into(),
        "run".into(),
    ]);
    let info = ServiceInfo {
        name: SERVICE_NAME.into(),
        display_name: DISPLAY_NAME.into(),
        service_type: ServiceType::OWN_PROCESS,
        start_type: ServiceStartType::AutoStart,
        error_control: ServiceErrorControl::Normal,
        executable_path: exe,
        launch_arguments,
        dependencies: vec![],
        account_name: None,
        account_password: None,
    };
    let scm = manager(ServiceManagerAccess::CONNECT | ServiceManagerAccess::CREATE_SERVICE)?;
    let service = scm
        .create_service(&info, ServiceAccess::CHANGE_CONFIG | ServiceAccess::START)
        .context(
            "registering the service; if it exists already, run `deskhand-agent service uninstall` first",
        )?;
    service
        .set_description(DESCRIPTION)
        .context("setting the service's description")?;
    let restart = ServiceAction {
        action_type: ServiceActionType::Restart,
        delay: Duration::from_secs(10),
    };
    service
        .update_failure_actions(ServiceFailureActions {
            reset_period: ServiceFailureResetPeriod::After(Duration::from_secs(24 * 3600)),
            reboot_msg: None,
            command: None,
            actions: Some(vec![restart.clone(), restart.clone(), restart]),
        })
        .context("setting the service's restart policy")?;
    println!(
        "installed the service {SERVICE_NAME}; state in {}",
        state_dir.display()
    );
    Ok(())
}

/// Starts the installed service.
pub fn start() -> Result<()> {
    let scm = manager(ServiceManagerAccess::CONNECT)?;
    let service = scm
        .open_service(SERVICE_NAME, ServiceAccess::START)
        .context("opening the service: install it with `deskhand-agent service install`")?;
    match service.start::<&str>(&[]) {
        Ok(()) => println!("started the service {SERVICE_NAME}"),
        // Windows (and Wine) start automatic services at boot by themselves.
        Err(windows_service::Error::Winapi(e))
            if e.raw_os_error() == Some(ERROR_SERVICE_ALREADY_RUNNING) =>
        {
            println!("the service {SERVICE_NAME} is already running");
        }
        Err(e) => {
            return Err(e).context("starting the service; see agent.log in the state directory");
        }
    }
    Ok(())
}

/// Stops the service and waits (at most 30 s) until it has stopped.
pub fn stop() -> Result<()> {
    let scm = manager(ServiceManagerAccess::CONNECT)?;
    let service = scm
        .open_service(
            SERVICE_NAME,
            ServiceAccess::STOP | ServiceAccess::QUERY_STATUS,
        )
        .context("opening the service: is it installed?")?;
    stop_and_wait(&service)?;
    println!("stopped the service {SERVICE_NAME}");
    Ok(())
}

/// Stops the service if it runs, then removes it.
pub fn uninstall() -> Result<()> {
    let scm = manager(ServiceManagerAccess::CONNECT)?;
    let service = scm
        .open_service(
            SERVICE_NAME,
            ServiceAccess::STOP | ServiceAccess::QUERY_STATUS | ServiceAccess::DELETE,
        )
        .context("opening the service: is it installed?")?;
    stop_and_wait(&service)?;
    service.delete().context("removing the service")?;
    println!("removed the service {SERVICE_NAME}; its state directory stays");
    Ok(())
}

fn stop_and_wait(service: &windows_service::service::Service) -> Result<()> {
    let status = service
        .query_status()
        .context("querying the service's state")?;
    if status.current_state == ServiceState::Stopped {
        return Ok(());
    }
    if status.current_state != ServiceState::StopPending
        && let Err(e) = service.stop()
    {
        // The service can act on the stop and exit before the service
        // manager has answered the control (Wine's then reports a broken
        // pipe): a service that is stopping or stopped has not failed to.
        let now = service
            .query_status()
            .context("querying the service's state")?;
        if !matches!(
            now.current_state,
            ServiceState::StopPending | ServiceState::Stopped
        ) {
            return Err(e).context("stopping the service");
        }
    }
    for _ in 0..60 {
        std::thread::sleep(Duration::from_millis(500));
        let status = service
            .query_status()
            .context("querying the service's state")?;
        if status.current_state == ServiceState::Stopped {
            return Ok(());
        }
    }
    bail!("the service did not stop within 30 s; see agent.log in the state directory")
}

/// Creates the state directory and gives it an ACL of SYSTEM and
/// Administrators only (full control, inherited by the files in it).
fn prepare_state_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    // Well-known SIDs, so this works on every display language.
    let status = std::process::Command::new("icacls")
        .arg(dir)
        .args([
            "/inheritance:r",
            "/grant:r",
            "*S-1-5-18:(OI)(CI)F",
            "*S-1-5-32-544:(OI)(CI)F",
            "/Q",
        ])
        .stdout(std::process::Stdio::null())
        .status()
        .context("running icacls to restrict the state directory")?;
    if !status.success() {
        bail!(
            "icacls could not restrict {} ({status}); run this from an elevated prompt",
            dir.display()
        );
    }
    Ok(())
}

/// Runs `agent` as the service the SCM started: `agent` gets a receiver
/// that fires when the SCM asks the service to stop, and must return soon
/// after. If the agent ends by itself (revoked: code 78, or an error: 1)
/// the process exits with that code, which the SCM records as a failure.
pub fn run<F>(agent: F) -> Result<()>
where
    F: FnOnce(tokio::sync::oneshot::Receiver<()>) -> i32 + Send + 'static,
{
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
    let pending = Mutex::new(Some((agent, stop_rx)));
    let stop_tx = Mutex::new(Some(stop_tx));
    let worker: Mutex<Option<std::thread::JoinHandle<()>>> = Mutex::new(None);
    windows_services::Service::new()
        .can_stop()
        .run(move |_service, command| match command {
            windows_services::Command::Start => {
                let taken = pending.lock().ok().and_then(|mut p| p.take());
                if let Some((agent, stop_rx)) = taken {
                    let handle = std::thread::spawn(move || {
                        let code = agent(stop_rx);
                        if code != 0 {
                            std::process::exit(code);
                        }
                    });
                    if let Ok(mut w) = worker.lock() {
                        *w = Some(handle);
                    }
                }
            }
            windows_services::Command::Stop => {
                if let Some(tx) = stop_tx.lock().ok().and_then(|mut t| t.take()) {
                    let _ = tx.send(());
                }
                if let Some(handle) = worker.lock().ok().and_then(|mut w| w.take()) {
                    let _ = handle.join();
                }
            }
            _ => {}
        })
        .map_err(|e| {
            anyhow!(
                "{e}: `service run` is for the service control manager; start the service with `deskhand-agent service start`, or run in this console with `deskhand-agent run`"
            )
        })
}
