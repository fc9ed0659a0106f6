//! What shells and man(1) need from the command line, generated from the clap definition so it
//! never drifts from it: `imagefs completions SHELL` (clap_complete) and the hidden
//! `imagefs man --dir DIR` (clap_mangen), which `scripts/install.sh` installs.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::{Cli, CliError, CliResult};

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Directory to write imagefs.1 and imagefs-COMMAND.1 into (created if missing)
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
}

/// Prints the completion script for a shell on standard output.
pub(super) fn completions(args: &CompletionsArgs) -> CliResult {
    // Into memory first: `generate` panics when a write fails (`| head` closing the pipe).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut offered(), "imagefs", &mut script);
    io::stdout().lock().write_all(&script)?;
    Ok(())
}

/// The command line as completions offer it. clap_complete walks hidden subcommands too
/// (clap-rs/clap#1335), and clap has no way to remove one, so the root is rebuilt from `Cli`'s
/// own arguments and its visible subcommands: nothing is restated, nothing can drift.
fn offered() -> clap::Command {
    let full = Cli::command();
    clap::Command::new("imagefs")
        .version(env!("CARGO_PKG_VERSION"))
        .args(full.get_arguments().cloned())
        .subcommands(full.get_subcommands().filter(|s| !s.is_hide_set()).cloned())
}

/// Writes a page for `imagefs` and one for each visible subcommand; returns their paths.
pub(super) fn man(args: &ManArgs) -> CliResult {
    for path in write_man_pages(&args.dir)? {
        println!("{}", path.display());
    }
    Ok(())
}

fn write_man_pages(dir: &Path) -> Result<Vec<PathBuf>, CliError> {
    let failed = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CliError::WriteFile { path, source }
    };
    std::fs::create_dir_all(dir).map_err(failed(dir))?;
    // Built, so each subcommand carries its display name (`imagefs-import`) and the global flags.
    let mut top = Cli::command().disable_help_subcommand(true);
    top.build();
    let mut pages = vec![top.clone()];
    pages.extend(top.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
    let mut written = Vec::new();
    for command in pages {
        let man = clap_mangen::Man::new(command);
        let path = dir.join(man.get_filename());
        let mut page = Vec::new();
        man.render(&mut page).map_err(failed(&path))?;
        std::fs::write(&path, page).map_err(failed(&path))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_man_page_for_the_command_and_each_visible_subcommand() {
        let dir = tempfile::tempdir().unwrap();
        let written = write_man_pages(&dir.path().join("man1")).unwrap();
        let names: Vec<String> = written
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names[0], "imagefs.1");
        for sub in Cli::command()
            .get_subcommands()
            .filter(|s| !s.is_hide_set())
        {
            let page = format!("imagefs-{}.1", sub.get_name());
            assert!(names.contains(&page), "{page} not in {names:?}");
        }
        assert!(
            !names.contains(&"imagefs-sample.1".to_string()),
            "{names:?}"
        );
        assert!(!names.contains(&"imagefs-man.1".to_string()), "{names:?}");
        let import = std::fs::read_to_string(dir.path().join("man1/imagefs-import.1")).unwrap();
        assert!(
            import.starts_with(".ie") || import.contains(".TH"),
            "{import}"
        );
        assert!(import.contains("platform"), "{import}");
    }

    #[test]
    fn completions_offer_the_visible_subcommands_and_every_global_flag() {
        let full = Cli::command();
        let offered = offered();
        let names = |c: &clap::Command| {
            let mut v: Vec<String> = c.get_subcommands().map(|s| s.get_name().into()).collect();
            v.sort();
            v
        };
        let visible: Vec<String> = names(&full)
            .into_iter()
            .filter(|n| !full.find_subcommand(n).unwrap().is_hide_set())
            .collect();
        assert_eq!(names(&offered), visible);
        assert!(!visible.contains(&"sample".to_string()) && !visible.contains(&"man".to_string()));
        let ids = |c: &clap::Command| {
            c.get_arguments()
                .map(|a| a.get_id().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&offered), ids(&full));
    }

    #[test]
    fn an_unwritable_man_directory_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        let e = write_man_pages(&file.join("man1")).unwrap_err();
        assert!(e.to_string().contains(&file.display().to_string()), "{e}");
    }
}
