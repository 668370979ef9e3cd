import "./styles.css";
import { createApi } from "./api";
import { App } from "./app";
import { installDiagnostics } from "./media/stats";
import { browserTransport, inTauri, tauriTransport } from "./transport";

// Both windows load this bundle: the main window (index.html) and the incoming-call
// popup (index.html#incoming). Opened by a browser (browser mode), it is the main window.
const kind = location.hash === "#incoming" ? "popup" : "main";
document.documentElement.dataset.window = kind;
const root = document.getElementById("app");
if (root) {
  const transport = inTauri() ? tauriTransport() : browserTransport();
  const app = new App({ api: createApi(transport), root, kind });
  // End-to-end tests read the call's media over WebDriver (see media/stats.ts).
  if (app.media) installDiagnostics(window, app.media);
  // The popup benchmark reads when each window came into view with an incoming call.
  (window as unknown as { beckonIncomingShown: () => unknown }).beckonIncomingShown = () => app.incomingShown.last;
  void app.start();
}
