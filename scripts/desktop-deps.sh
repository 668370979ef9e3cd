# Desktop (Tauri 2) build and test dependencies on Debian/Ubuntu.
# Source after scripts/lib.sh (uses as_root, apt_install and need_rust from there):
#     . scripts/lib.sh
#     . scripts/desktop-deps.sh
#     need_desktop
# Idempotent: when everything is present it only runs dpkg-query and `command -v`.

# Needed to compile a Tauri 2 app (WebKitGTK 4.1, tray, image loading).
DESKTOP_BUILD_PKGS=(
    libwebkit2gtk-4.1-dev build-essential curl wget file libxdo-dev libssl-dev
    libayatana-appindicator3-dev librsvg2-dev pkg-config
)
# Needed to run and test it headless: Xvfb, WebDriver for WebKitGTK, a session bus,
# screenshots, window inspection, a notification daemon.
DESKTOP_TEST_PKGS=(
    xvfb xauth webkit2gtk-driver dbus-x11 imagemagick x11-utils xdotool dunst
)

need_tauri_driver() {
    case ":$PATH:" in
        *":$HOME/.cargo/bin:"*) ;;
        *) export PATH="$HOME/.cargo/bin:$PATH" ;;
    esac
    command -v tauri-driver >/dev/null 2>&1 && return 0
    need_rust
    echo "installing: tauri-driver (cargo install, about 1 min)"
    cargo install tauri-driver --locked --quiet
}

need_desktop() {
    apt_install "${DESKTOP_BUILD_PKGS[@]}" "${DESKTOP_TEST_PKGS[@]}"
    need_tauri_driver
}
