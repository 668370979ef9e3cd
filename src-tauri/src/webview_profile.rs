//! Which WebView2 profile (data folder) and browser switches a window gets on Windows.
//!
//! A launch with `BECKON_CONFIG_DIR` is its own profile (a demo's second user, a test
//! instance), so its webviews keep their data, permission state included, in
//! `<dir>/webview2` rather than sharing the installed app's.
//!
//! Debug builds in such a profile also take extra WebView2 switches from
//! `BECKON_WEBVIEW2_ARGS` (tests/media on Windows: a DevTools port to attach WebDriver to,
//! fake devices). WebView2 itself reads `WEBVIEW2_ADDITIONAL_BROWSER_ARGUMENTS`, but since
//! runtime 150 not in an elevated process, which is what GitHub's Windows runners run; a
//! switch handed over through the API (`AdditionalBrowserArguments`) still counts. Release
//! builds ignore the variable: an installed app takes no switches from its environment.

use std::path::{Path, PathBuf};

use tauri::{Manager, Runtime, WebviewWindowBuilder};

/// What wry passes when an app sets no switches; setting any replaces them, so they are
/// kept.
const WRY_DEFAULT_ARGS: &str = "--disable-features=msWebOOUI,msPdfOOUI,msSmartScreenProtection";

/// A window's WebView2 settings; `None` leaves Tauri's default.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Profile {
    pub data_directory: Option<PathBuf>,
    pub browser_args: Option<String>,
}

/// The settings for a launch with these environment values. Every window of a launch must
/// get the same ones: WebView2 refuses a second set of switches for a data folder in use.
pub fn profile(config_dir: Option<&Path>, extra_args: Option<&str>, debug_build: bool) -> Profile {
    let Some(dir) = config_dir else {
        return Profile::default();
    };
    let browser_args = extra_args
        .map(str::trim)
        .filter(|a| debug_build && !a.is_empty())
        .map(|a| format!("{WRY_DEFAULT_ARGS} {a}"));
    Profile {
        data_directory: Some(dir.join("webview2")),
        browser_args,
    }
}

/// Applies this launch's profile to a window about to be built (on Windows; elsewhere the
/// builder is returned as it is).
pub fn apply<'a, R: Runtime, M: Manager<R>>(
    builder: WebviewWindowBuilder<'a, R, M>,
) -> WebviewWindowBuilder<'a, R, M> {
    if !cfg!(windows) {
        return builder;
    }
    let dir = std::env::var_os("BECKON_CONFIG_DIR").map(PathBuf::from);
    let args = std::env::var("BECKON_WEBVIEW2_ARGS").ok();
    let p = profile(dir.as_deref(), args.as_deref(), cfg!(debug_assertions));
    let mut builder = builder;
    if let Some(data) = p.data_directory {
        builder = builder.data_directory(data);
    }
    if let Some(args) = p.browser_args {
        builder = builder.additional_browser_args(&args);
    }
    builder
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_installed_profile_is_left_to_tauri() {
        assert_eq!(profile(None, None, true), Profile::default());
        // Switches alone do not make a separate profile, so they are not applied.
        assert_eq!(
            profile(None, Some("--remote-debugging-port=9222"), true),
            Profile::default()
        );
    }

    #[test]
    fn a_config_dir_gets_its_own_data_folder() {
        let p = profile(Some(Path::new("/tmp/alice")), None, false);
        assert_eq!(p.data_directory, Some(PathBuf::from("/tmp/alice/webview2")));
        assert_eq!(p.browser_args, None);
    }

    #[test]
    fn switches_only_in_debug_builds_and_after_wry_s_own() {
        let dir = Some(Path::new("/tmp/bob"));
        let args = Some(" --remote-debugging-port=9222 ");
        assert_eq!(profile(dir, args, false).browser_args, None);
        assert_eq!(
            profile(dir, args, true).browser_args.as_deref(),
            Some(
                "--disable-features=msWebOOUI,msPdfOOUI,msSmartScreenProtection \
                 --remote-debugging-port=9222"
            )
        );
        assert_eq!(profile(dir, Some("  "), true).browser_args, None);
    }
}
