//! glibc's allocator, set for a server that runs for months. By default it keeps what a thread
//! once freed in that thread's arena (one per thread that allocated, up to eight per core), and
//! after the first large block is freed it stops handing large blocks back to the system at all:
//! a session that printed 20 MB left the server 10 MiB larger for good, each one.
//!
//! The settings are environment variables glibc reads when a program starts, so the program
//! starts itself again with them, once, keeping its process ID, arguments and everything else.
//! One set already (by a unit file or a person measuring) is left as it is. Other C libraries
//! ignore them.

use std::ffi::OsString;

/// Blocks of 128 KiB and more are mapped on their own and handed back when freed (fixed, so the
/// threshold does not climb); two arenas, whatever the number of threads.
const SETTINGS: [(&str, &str); 2] = [
    ("MALLOC_MMAP_THRESHOLD_", "131072"),
    ("MALLOC_ARENA_MAX", "2"),
];

/// Starts this program again with the allocator's settings when one is missing; returns when
/// they are all there, or when starting again failed (the program then runs as it is).
#[cfg(unix)]
pub fn settle() {
    use std::os::unix::process::CommandExt;

    let missing: Vec<(&str, &str)> = SETTINGS
        .into_iter()
        .filter(|(name, _)| std::env::var_os(name).is_none())
        .collect();
    if missing.is_empty() {
        return;
    }
    let program = match std::env::current_exe() {
        Ok(program) => program,
        Err(error) => {
            eprintln!("changeaudit: running with the allocator's defaults: {error}");
            return;
        }
    };
    let mut arguments = std::env::args_os();
    let name = arguments
        .next()
        .unwrap_or_else(|| OsString::from("changeaudit"));
    // Only returns if the program could not be started again. Logging is not set up yet: the
    // reason goes to standard error, and the program runs on with glibc's defaults.
    let failed = std::process::Command::new(program)
        .arg0(name)
        .args(arguments)
        .envs(missing)
        .exec();
    eprintln!(
        "changeaudit: running with the allocator's defaults: starting again failed: {failed}"
    );
}

#[cfg(not(unix))]
pub fn settle() {}
