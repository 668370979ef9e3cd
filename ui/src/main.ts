import "./styles.css";
import { createApi } from "./api";
import { App } from "./app";
import { installDiagnostics } from "./media/stats";
import { tauriTransport } from "./transport";

// Both windows load this bundle: the main window (index.html) and the incoming-call
// popup (index.html#incoming).
const kind = location.hash === "#incoming" ? "popup" : "main";
document.documentElement.dataset.window = kind;
const root = document.getElementById("app");
if (root) {
  const app = new App({ api: createApi(tauriTransport()), root, kind });
  // End-to-end tests read the call's media over WebDriver (see media/stats.ts).
  if (app.media) installDiagnostics(window, app.media);
  void app.start();
}
