// Dev check of real WebRTC in headless Chromium, without WebDriver: opens a preview page
// (the call-live scene runs both users in one page), reads window.beckonMedia.stats(),
// toggles mute/camera, hangs up, and prints what it saw; saves a screenshot.
//   npx --prefix ui vite &   # dev server on 127.0.0.1:5173
//   node --experimental-websocket ui/scripts/media-probe.mjs "http://127.0.0.1:5173/preview.html?page=call-live" /tmp/live.png 5000
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
const [url, out, waitMs = "5000"] = process.argv.slice(2);
const port = 9333 + Math.floor(Math.random() * 500);
const chrome = spawn("chromium", ["--headless=new", "--no-sandbox", "--disable-gpu", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
  "--autoplay-policy=no-user-gesture-required", "--hide-scrollbars", `--remote-debugging-port=${port}`, "--window-size=1000,700", "about:blank"], { stdio: "ignore" });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let targets;
for (let i = 0; i < 50; i++) { try { targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json(); break; } catch { await sleep(200); } }
const page = targets.find((t) => t.type === "page");
const ws = new WebSocket(page.webSocketDebuggerUrl);
await new Promise((r) => (ws.onopen = r));
let id = 0; const pending = new Map();
ws.onmessage = (m) => { const d = JSON.parse(m.data); if (d.id && pending.has(d.id)) { pending.get(d.id)(d); pending.delete(d.id); } };
const send = (method, params = {}) => new Promise((r) => { const i = ++id; pending.set(i, r); ws.send(JSON.stringify({ id: i, method, params })); });
const evaluate = async (expr) => (await send("Runtime.evaluate", { expression: expr, awaitPromise: true, returnByValue: true })).result?.result?.value;
await send("Page.enable"); await send("Runtime.enable");
await send("Emulation.setDeviceMetricsOverride", { width: 1000, height: 700, deviceScaleFactor: 1, mobile: false });
await send("Page.navigate", { url });
await sleep(Number(waitMs));
const results = {};
results.connected = await evaluate(`(async () => ({ page: document.documentElement.dataset.page, media: document.querySelector("main")?.dataset.media, banner: document.querySelector(".banner")?.textContent.replace(/\\s+/g, " ").trim(), alice: await window.beckonMedia?.stats(), bob: await window.beckonBob?.stats() }))()`);
const shot = await send("Page.captureScreenshot", { format: "png" });
writeFileSync(out, Buffer.from(shot.result.data, "base64"));
results.toggles = await evaluate(`(async () => { const a = window.beckonPreview.app; await a.act("mute"); await a.act("camera"); await new Promise(r => setTimeout(r, 1500)); const s = await window.beckonMedia.stats(); const b = await window.beckonBob.stats(); return { aliceTracks: s.localTracks, bobSeesRemote: window.beckonBob.view().peers[0]?.remoteSending, bobVideo: b.peers[0]?.inboundVideo, mutePressed: document.querySelector('[data-action="mute"]').getAttribute("aria-pressed"), cameraPressed: document.querySelector('[data-action="camera"]').getAttribute("aria-pressed") }; })()`);
results.cameraBack = await evaluate(`(async () => { const a = window.beckonPreview.app; await a.act("camera"); await a.act("mute"); await new Promise(r => setTimeout(r, 1500)); const s = await window.beckonMedia.stats(); const lv = document.querySelector("video[data-local-video]"); return { aliceTracks: s.localTracks, localPreview: { hidden: lv?.hidden, videoWidth: lv?.videoWidth }, remoteVideo: s.peers[0]?.remoteVideo, bobInboundVideo: (await window.beckonBob.stats()).peers[0]?.inboundVideo }; })()`);
results.ended = await evaluate(`(async () => { await window.beckonPreview.app.act("hang-up"); await new Promise(r => setTimeout(r, 500)); return { page: document.documentElement.dataset.page, alice: await window.beckonMedia.stats(), bob: await window.beckonBob.stats(), banner: document.querySelector(".banner")?.textContent.replace(/\\s+/g, " ").trim() }; })()`);
console.log(JSON.stringify(results, null, 1));
ws.close(); chrome.kill();
process.exit(0);
