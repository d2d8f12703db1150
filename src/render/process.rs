//! Running a renderer (`helm`, `kustomize`) as a child process, fenced in: a clean
//! environment (only what is passed), its own working directory, a deadline and a cap on
//! what it may print, and a process group of its own so that whatever it started is killed
//! with it. Blocking: call from a blocking thread.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// How often a running child is checked for having exited, overrun or over-printed.
const POLL: Duration = Duration::from_millis(10);

/// The most of a failing child's stderr kept for its error message.
const MAX_STDERR: usize = 16 << 10;

/// What may go wrong running a renderer.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RunError {
    /// The program could not be started.
    #[error("cannot run {program}: {reason}")]
    NotStarted {
        /// The program.
        program: String,
        /// Why.
        reason: String,
    },
    /// It ran past its deadline and was killed.
    #[error("{program} did not finish within {seconds}s (limits.renderTimeoutSeconds); killed")]
    TimedOut {
        /// The program.
        program: String,
        /// The deadline, in seconds.
        seconds: u64,
    },
    /// It printed more than allowed and was killed.
    #[error("{program} printed more than {limit} bytes (limits.maxTotalBytes); killed")]
    TooMuchOutput {
        /// The program.
        program: String,
        /// The cap, in bytes.
        limit: u64,
    },
    /// It exited unsuccessfully; `stderr` is what it said (trimmed, capped).
    #[error("{program} failed ({status}): {stderr}")]
    Failed {
        /// The program.
        program: String,
        /// How it exited.
        status: String,
        /// What it printed on stderr.
        stderr: String,
    },
}

/// One run of a renderer.
#[derive(Debug)]
pub struct Run<'a> {
    /// The program (a path, or a name looked up on the `PATH` given in `env`).
    pub program: &'a Path,
    /// Its arguments.
    pub args: Vec<String>,
    /// Its working directory.
    pub dir: &'a Path,
    /// Its whole environment: nothing of tidegate's own is inherited.
    pub env: Vec<(String, String)>,
    /// How long it may run.
    pub timeout: Duration,
    /// The most bytes it may print on stdout.
    pub max_output: u64,
}

impl Run<'_> {
    /// Runs it to completion; its stdout.
    pub fn output(self) -> Result<Vec<u8>, RunError> {
        let program = self
            .program
            .file_name()
            .unwrap_or(self.program.as_os_str())
            .to_string_lossy()
            .into_owned();
        let mut child = Command::new(self.program)
            .args(&self.args)
            .current_dir(self.dir)
            .env_clear()
            .envs(self.env.iter().map(|(key, value)| (key, value)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|error| RunError::NotStarted {
                program: self.program.display().to_string(),
                reason: error.to_string(),
            })?;
        let over = Arc::new(AtomicBool::new(false));
        let stdout = child.stdout.take().map(|pipe| {
            let (over, limit) = (over.clone(), self.max_output);
            thread::spawn(move || read_capped(pipe, limit, &over))
        });
        let stderr = child.stderr.take().map(|pipe| {
            thread::spawn(move || read_capped(pipe, MAX_STDERR as u64, &AtomicBool::new(false)))
        });
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().map_err(|error| RunError::NotStarted {
                program: program.clone(),
                reason: error.to_string(),
            })? {
                break Some(status);
            }
            if over.load(Ordering::Relaxed) || started.elapsed() >= self.timeout {
                kill_group(&mut child);
                break None;
            }
            thread::sleep(POLL);
        };
        // Whatever it left running would hold its pipes open: the group goes with it.
        kill_group(&mut child);
        let stdout = stdout.map(join).unwrap_or_default();
        let stderr = stderr.map(join).unwrap_or_default();
        if over.load(Ordering::Relaxed) {
            return Err(RunError::TooMuchOutput {
                program,
                limit: self.max_output,
            });
        }
        let Some(status) = status else {
            return Err(RunError::TimedOut {
                program,
                seconds: self.timeout.as_secs(),
            });
        };
        if status.success() {
            Ok(stdout)
        } else {
            Err(RunError::Failed {
                program,
                status: status.to_string(),
                stderr: String::from_utf8_lossy(&stderr).trim().to_owned(),
            })
        }
    }
}

/// Kills the child's process group (the child and everything it started) and reaps it.
fn kill_group(child: &mut Child) {
    if let Some(group) = i32::try_from(child.id())
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Reads `pipe` to its end, keeping at most `limit` bytes; past that, raises `over` and stops.
fn read_capped(pipe: impl Read, limit: u64, over: &AtomicBool) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut pipe = pipe.take(limit.saturating_add(1));
    if pipe.read_to_end(&mut kept).is_ok() && kept.len() as u64 > limit {
        kept.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        over.store(true, Ordering::Relaxed);
    }
    kept
}

fn join(reader: thread::JoinHandle<Vec<u8>>) -> Vec<u8> {
    reader.join().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, timeout: Duration, max_output: u64) -> Result<Vec<u8>, RunError> {
        let dir = std::env::temp_dir();
        Run {
            program: Path::new("/bin/sh"),
            args: vec!["-c".into(), script.into()],
            dir: &dir,
            env: vec![("ONLY".into(), "this".into())],
            timeout,
            max_output,
        }
        .output()
    }

    #[test]
    fn the_child_sees_only_the_environment_it_is_given() {
        let out = sh("env | sort", Duration::from_secs(10), 1 << 20).unwrap();
        let out = String::from_utf8(out).unwrap();
        let names: Vec<&str> = out
            .lines()
            .filter_map(|line| line.split('=').next())
            .filter(|name| !matches!(*name, "PWD" | "SHLVL" | "_"))
            .collect();
        assert_eq!(names, ["ONLY"], "{out}");
    }

    #[test]
    fn a_child_past_its_deadline_is_killed() {
        let started = Instant::now();
        let error = sh("sleep 30", Duration::from_millis(200), 1 << 20).unwrap_err();
        assert!(matches!(error, RunError::TimedOut { .. }), "{error}");
        assert!(started.elapsed() < Duration::from_secs(20));
    }

    #[test]
    fn what_a_child_started_is_killed_with_it() {
        // The shell forks `sleep`, which holds the output pipe: only killing the group ends it.
        let started = Instant::now();
        let error = sh("sleep 30 & sleep 30", Duration::from_millis(200), 1 << 20).unwrap_err();
        assert!(matches!(error, RunError::TimedOut { .. }), "{error}");
        assert!(started.elapsed() < Duration::from_secs(20));
        let error = sh("sleep 30 & echo done", Duration::from_secs(10), 1 << 20);
        assert_eq!(error, Ok(b"done\n".to_vec()));
        assert!(started.elapsed() < Duration::from_secs(20));
    }

    #[test]
    fn a_child_printing_without_end_is_killed_at_the_cap() {
        let error = sh("yes tidegate", Duration::from_secs(30), 4096).unwrap_err();
        assert_eq!(
            error,
            RunError::TooMuchOutput {
                program: "sh".into(),
                limit: 4096
            }
        );
    }

    #[test]
    fn output_up_to_the_cap_is_kept_whole() {
        let out = sh("printf 1234", Duration::from_secs(10), 4).unwrap();
        assert_eq!(out, b"1234");
    }

    #[test]
    fn a_failing_child_reports_its_stderr() {
        let error = sh("echo broken >&2; exit 3", Duration::from_secs(10), 1024).unwrap_err();
        let RunError::Failed { stderr, status, .. } = error else {
            panic!("{error:?}")
        };
        assert_eq!(stderr, "broken");
        assert!(status.contains('3'), "{status}");
    }

    #[test]
    fn a_missing_program_is_named() {
        let dir = std::env::temp_dir();
        let error = Run {
            program: Path::new("/nonexistent/helm"),
            args: vec![],
            dir: &dir,
            env: vec![],
            timeout: Duration::from_secs(1),
            max_output: 1,
        }
        .output()
        .unwrap_err();
        assert!(error.to_string().contains("/nonexistent/helm"), "{error}");
    }
}
