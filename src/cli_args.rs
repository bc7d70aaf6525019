//! What `main` needs to know about the command line before Loco parses it.
use std::{ffi::OsString, sync::OnceLock};

/// Rewrites `task NAME key=value` into Loco's `task NAME key:value`.
///
/// Only a leading identifier before the first `=` counts as a key, so values
/// keep any `=` or `:` they contain (`reason=a=b` → `reason:a=b`), and
/// arguments already in `key:value` form pass through untouched.
#[must_use]
pub fn normalize<I: IntoIterator<Item = OsString>>(args: I) -> Vec<OsString> {
    let args: Vec<OsString> = args.into_iter().collect();
    let Some(task_at) = args.iter().position(|a| a == "task") else {
        return args;
    };
    // Arguments after `task` and the task name are task variables.
    let vars_from = task_at + 2;
    args.into_iter()
        .enumerate()
        .map(|(i, arg)| {
            if i >= vars_from {
                rewrite_var(arg)
            } else {
                arg
            }
        })
        .collect()
}

/// The first task argument given twice (`file=a file=b`, or `file=a file:b`),
/// as a one-line reason. Loco keeps task arguments in a map, where the last
/// one would silently win: `main` refuses the command instead.
#[must_use]
pub fn repeated_task_argument(args: &[OsString]) -> Option<String> {
    let task_at = args.iter().position(|a| a == "task")?;
    let mut seen = std::collections::HashSet::new();
    args.iter()
        .skip(task_at + 2)
        .filter_map(|arg| arg.to_str())
        .filter_map(|text| {
            let cut = text.find(['=', ':'])?;
            Some(&text[..cut]).filter(|key| is_key(key))
        })
        .find(|key| !seen.insert(*key))
        .map(|key| format!("argument `{key}` is given more than once; give each argument once"))
}

fn rewrite_var(arg: OsString) -> OsString {
    let Some(text) = arg.to_str() else {
        return arg;
    };
    match text.split_once('=') {
        Some((key, value)) if is_key(key) => format!("{key}:{value}").into(),
        _ => arg,
    }
}

fn is_key(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with('-')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Replaces this process with itself run on the normalized arguments, if any
/// changed. `exec` keeps the pid, so signals and the exit status behave as if
/// the user had typed `key:value` in the first place.
pub fn reexec_if_rewritten() {
    let original: Vec<OsString> = std::env::args_os().collect();
    let normalized = normalize(original.clone());
    if normalized == original {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut command = std::process::Command::new(exe);
    command.args(&normalized[1..]);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let err = command.exec();
        eprintln!("error: could not re-run with normalized arguments: {err}");
        std::process::exit(1);
    }
    #[cfg(not(unix))]
    {
        let status = command.status().map_or(1, |s| s.code().unwrap_or(1));
        std::process::exit(status);
    }
}

/// Which parts of the app `cargo loco start …` asked this process to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartRole {
    /// `start`: the web server only.
    ServerOnly,
    /// `start --worker`, `--server-and-worker` or `--all`: apalis workers run here.
    WithWorkers,
}

static START_ROLE: OnceLock<StartRole> = OnceLock::new();

/// Records the start role from the raw arguments. No Loco hook is told the
/// start mode, so `before_run` asks [`start_role`] instead.
pub fn remember_start_mode<I: IntoIterator<Item = String>>(args: I) {
    let _ = START_ROLE.set(start_role_of(args));
}

/// The role recorded by [`remember_start_mode`]; server only when nothing was
/// recorded (tests boot the app without a command line).
#[must_use]
pub fn start_role() -> StartRole {
    START_ROLE.get().copied().unwrap_or(StartRole::ServerOnly)
}

fn start_role_of<I: IntoIterator<Item = String>>(args: I) -> StartRole {
    let mut args = args.into_iter().skip(1);
    if !args.by_ref().any(|a| a == "start") {
        return StartRole::ServerOnly;
    }
    let runs_workers = args.any(|a| {
        matches!(
            a.as_str(),
            "-w" | "--worker" | "-s" | "--server-and-worker" | "-a" | "--all"
        ) || a.starts_with("--worker=")
    });
    if runs_workers {
        StartRole::WithWorkers
    } else {
        StartRole::ServerOnly
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn task_vars_accept_equals_and_colon() {
        let got = normalize(os(&[
            "cli",
            "task",
            "orders_import",
            "file=a.csv",
            "chunk_size:5",
            "reason=a=b:c",
        ]));
        assert_eq!(
            got,
            os(&[
                "cli",
                "task",
                "orders_import",
                "file:a.csv",
                "chunk_size:5",
                "reason:a=b:c"
            ])
        );
    }

    #[test]
    fn task_name_and_other_commands_are_untouched() {
        let same = os(&["cli", "start", "--binding=0.0.0.0"]);
        assert_eq!(normalize(same.clone()), same);
        let task_name = os(&["cli", "-e", "test", "task", "x=y", "k=v"]);
        assert_eq!(
            normalize(task_name),
            os(&["cli", "-e", "test", "task", "x=y", "k:v"])
        );
    }

    #[test]
    fn a_repeated_task_argument_is_named() {
        let repeated = |a: &[&str]| repeated_task_argument(&os(a));
        assert_eq!(
            repeated(&["cli", "task", "orders_import", "file=a", "file=b"]).as_deref(),
            Some("argument `file` is given more than once; give each argument once")
        );
        assert!(repeated(&["cli", "task", "t", "file=a", "file:b"]).is_some());
        assert!(repeated(&["cli", "task", "t", "k=1", "x=2", "k:3"]).is_some());
        assert_eq!(
            repeated(&["cli", "task", "t", "file=a", "chunk_size=5"]),
            None
        );
        assert_eq!(
            repeated(&["cli", "task", "t", "reason=a=b", "key=a:b"]),
            None
        );
        assert_eq!(repeated(&["cli", "task", "file=a", "file=b"]), None);
        assert_eq!(repeated(&["cli", "start", "--worker", "--worker"]), None);
    }

    #[test]
    fn start_flags_decide_the_role() {
        let role = |a: &[&str]| start_role_of(a.iter().map(ToString::to_string));
        assert_eq!(role(&["cli", "start"]), StartRole::ServerOnly);
        assert_eq!(role(&["cli", "start", "--worker"]), StartRole::WithWorkers);
        assert_eq!(role(&["cli", "start", "-s"]), StartRole::WithWorkers);
        assert_eq!(role(&["cli", "start", "--all"]), StartRole::WithWorkers);
        assert_eq!(role(&["cli", "task", "--worker"]), StartRole::ServerOnly);
    }
}
