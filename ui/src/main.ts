import "./styles.css";
import { createApi } from "./api";
import { App } from "./app";
import { tauriTransport } from "./transport";

// Both windows load this bundle: the main window (index.html) and the incoming-call
// popup (index.html#incoming).
const kind = location.hash === "#incoming" ? "popup" : "main";
document.documentElement.dataset.window = kind;
const root = document.getElementById("app");
if (root) void new App({ api: createApi(tauriTransport()), root, kind }).start();
