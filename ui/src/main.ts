import "./styles.css";
import { createApi } from "./api";
import { App } from "./app";
import { browserTransport, inTauri, tauriTransport } from "./transport";

// Both windows load this bundle: the main window (index.html) and the incoming-call
// popup (index.html#incoming). Opened by a browser (browser mode), it is the main window.
const kind = location.hash === "#incoming" ? "popup" : "main";
document.documentElement.dataset.window = kind;
const root = document.getElementById("app");
const transport = inTauri() ? tauriTransport() : browserTransport();
if (root) void new App({ api: createApi(transport), root, kind }).start();
