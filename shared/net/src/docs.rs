//! Shell completions and man pages from a program's whole clap command,
//! for `deskhand completions`/`deskhand man` and the agent's generator; the
//! packages run them at build time and install what they write.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
pub use clap_complete::Shell;

/// Writes `shell`'s completion script for `cmd` (named by its `name`) to `out`.
pub fn write_completions(mut cmd: clap::Command, shell: Shell, out: &mut dyn Write) {
    let name = cmd.get_name().to_string();
    clap_complete::generate(shell, &mut cmd, name, out);
}

/// Writes `NAME.1` for `cmd` and `NAME-SUB[-SUB...].1` for each of its
/// visible subcommands, at every depth, into `dir` (made if absent).
/// Returns the files written, the program's own page first.
pub fn write_man_pages(cmd: clap::Command, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| {
        format!(
            "making {}: check the path and its permissions",
            dir.display()
        )
    })?;
    // Built, subcommands carry their page names (`deskhand-jobs-run`) and
    // the global options they inherit; `help` gets no page.
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let mut written = Vec::new();
    write_page(&cmd, dir, &mut written)?;
    Ok(written)
}

/// `cmd`'s page, then its visible subcommands' pages.
fn write_page(cmd: &clap::Command, dir: &Path, written: &mut Vec<PathBuf>) -> Result<()> {
    let man = clap_mangen::Man::new(cmd.clone());
    let path = man.generate_to(dir).with_context(|| {
        format!(
            "writing {} into {}: check the folder's permissions",
            man.get_filename(),
            dir.display()
        )
    })?;
    written.push(path);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_page(sub, dir, written)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program() -> clap::Command {
        clap::Command::new("prog")
            .about("a test program")
            .arg(
                clap::Arg::new("verbose")
                    .long("verbose")
                    .global(true)
                    .action(clap::ArgAction::SetTrue),
            )
            .subcommand(
                clap::Command::new("jobs")
                    .about("jobs on machines")
                    .subcommand(clap::Command::new("run").about("run a job")),
            )
            .subcommand(clap::Command::new("secret").hide(true))
    }

    #[test]
    fn a_page_per_visible_command_at_every_depth() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("man");
        let written = write_man_pages(program(), &out).expect("pages");
        let names: Vec<String> = written
            .iter()
            .filter_map(|p| p.file_name()?.to_str().map(str::to_string))
            .collect();
        assert_eq!(names, ["prog.1", "prog-jobs.1", "prog-jobs-run.1"]);
        let run = std::fs::read_to_string(out.join("prog-jobs-run.1")).expect("read");
        assert!(run.starts_with(".ie") || run.contains(".TH"), "{run}");
        assert!(run.contains("run a job"), "{run}");
        // The global option reaches the subcommand's page.
        assert!(run.contains("verbose"), "{run}");
    }

    #[test]
    fn completions_name_the_subcommands() {
        let mut out = Vec::new();
        write_completions(program(), Shell::Bash, &mut out);
        let script = String::from_utf8(out).expect("utf-8");
        assert!(
            script.contains("prog") && script.contains("jobs"),
            "{script}"
        );
        assert!(script.contains("complete"), "{script}");
    }
}
