//! A child process that cannot outlive the test. On Unix each one leads its own process
//! group, so dropping it also stops what it started (tauri-driver starts WebKitWebDriver,
//! which starts the app, which starts WebKit's web and network processes). On Windows
//! (tests/media's WebView2 run) the process itself is killed: a WebView2 app's browser
//! processes end with their host, and msedgedriver starts nothing there.

use std::process::{Child, Command, Stdio};
#[cfg(unix)]
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

pub struct Proc {
    name: String,
    child: Child,
}

impl Proc {
    pub fn spawn(name: &str, cmd: &mut Command) -> Result<Proc> {
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            cmd.process_group(0);
        }
        let child = cmd
            .stdin(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {name} ({cmd:?})"))?;
        Ok(Proc {
            name: name.to_owned(),
            child,
        })
    }

    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Fails if the process has already exited: a dead Xvfb or driver explains every
    /// later failure, so it is reported first.
    pub fn check_running(&mut self) -> Result<()> {
        match self.child.try_wait()? {
            None => Ok(()),
            Some(status) => anyhow::bail!("{} exited early: {status}", self.name),
        }
    }

    #[cfg(unix)]
    fn signal_group(&self, signal: libc::c_int) {
        let Ok(pgid) = libc::pid_t::try_from(self.child.id()) else {
            return;
        };
        // SAFETY: kill(2) with a negative pid signals the process group this process leads;
        // it touches no memory.
        unsafe {
            libc::kill(-pgid, signal);
        }
    }
}

#[cfg(windows)]
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(unix)]
impl Drop for Proc {
    fn drop(&mut self) {
        // TERM first, so the apps close their connections and WebKit cleans up; KILL
        // whatever is still there after a moment.
        self.signal_group(libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.signal_group(libc::SIGKILL);
        let _ = self.child.wait();
    }
}
