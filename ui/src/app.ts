// The window controller: keeps the model (host state + view-local bits), renders it,
// routes clicks, keys and form submits to the Api, and turns notices into one-off effects
// (banner, toast, history refresh). Call logic stays in the Rust manager: every page
// renders from the snapshot.
import { render as litRender } from "lit-html";
import type { Api } from "./api";
import { checkInvitees } from "./ids";
import { inCallAction, onDeviceChange } from "./incall-actions";
import { keyAction } from "./app-keys";
import { outcomeBanner } from "./outcome";
import { canCall } from "./pages/home";
import { draftFrom, settingsFromDraft, type SettingsDraft } from "./pages/settings";
import { MediaController, type MediaModule } from "./media/controller";
import { TrayLink } from "./tray-link";
import type { HostNotice, HostUpdate } from "./media/host";
import { play, PLAY_BLOCKED_EVENT } from "./media/src-object";
import { IncomingShownProbe } from "./incoming-shown";
import { warmIncoming } from "./pages/incoming";
import { createSoundPlayer, readSoundPrefs, SOUND_PREFS_KEY, writeSoundPrefs, type RingtoneId, type SoundKind, type SoundPlayer, type SoundPrefs } from "./sounds";
import type { Unlisten } from "./transport";
import type { ApiError, AppState, CallType, CommandError, Settings } from "./types";
import { emptyModel, pageFor, renderWindow, windowTitle, type Model, type PageName, type WindowKind } from "./view";

export type AppOptions = {
  api: Api;
  root: HTMLElement;
  kind: WindowKind;
  sounds?: SoundPlayer;
  /**
   * Makes the main window's audio/video module, told how to ask for a render. Default:
   * a controller on the browser's WebRTC. The popup only rings: it never has one.
   */
  createMedia?: (onChange: () => void) => MediaModule | null;
  now?: () => number;
  /** How many history entries home shows. */
  historyCount?: number;
  /** How long a banner about the user's own doing stays. */
  ownBannerMs?: number;
  toastMs?: number;
  /** Whether the window has the focus (default: the document's). */
  hasFocus?: () => boolean;
  /**
   * Where the missed-call badge keeps when the user last looked, and the sound preferences
   * (default: localStorage, which both windows share).
   */
  storage?: MarkStore | null;
};

export type MarkStore = Pick<Storage, "getItem" | "setItem">;

export type ToastTone = "info" | "bad";

const SETTINGS_FIELDS: ReadonlyArray<keyof SettingsDraft> = ["serverUrl", "userId", "userName", "token"];

export class App {
  readonly model: Model = emptyModel();
  readonly sounds: SoundPlayer;
  readonly media: MediaModule | null;
  private readonly tray: TrayLink | null;
  private readonly api: Api;
  private readonly root: HTMLElement;
  private readonly kind: WindowKind;
  private readonly now: () => number;
  private readonly historyCount: number;
  private readonly ownBannerMs: number;
  private readonly toastMs: number;
  private readonly view: HTMLElement;
  private readonly toastHost: HTMLElement;
  private unlisteners: Unlisten[] = [];
  private ticker: ReturnType<typeof setInterval> | null = null;
  private bannerTimer: ReturnType<typeof setTimeout> | null = null;
  private lastPage: PageName | null = null;
  private lastTitle: string | null = null;
  private historySeq = 0;
  private readonly hasFocus: () => boolean;
  private readonly storage: MarkStore | null;
  /** The storage key of the user the missed-call mark is kept for, and whether they are looking. */
  private markKey: string | null = null;
  private looking = false;
  private updates = 0;
  private disposed = false;

  constructor(opts: AppOptions) {
    this.api = opts.api;
    this.root = opts.root;
    this.kind = opts.kind;
    const doc = this.root.ownerDocument;
    this.storage = opts.storage !== undefined ? opts.storage : defaultStorage(doc);
    this.model.soundPrefs = readSoundPrefs(this.storage);
    // Read from the store each time a sound starts: the popup may have been open since
    // before the main window changed them.
    this.sounds = opts.sounds ?? createSoundPlayer(doc.defaultView ?? undefined, () => (this.storage ? readSoundPrefs(this.storage) : this.model.soundPrefs));
    const onChange = (): void => this.render();
    this.media =
      opts.kind !== "main" ? null : opts.createMedia ? opts.createMedia(onChange) : new MediaController({ api: opts.api, onChange });
    this.tray = this.media ? new TrayLink(opts.api, this.media) : null;
    this.now = opts.now ?? (() => Date.now());
    this.historyCount = opts.historyCount ?? 50;
    this.ownBannerMs = opts.ownBannerMs ?? 8000;
    this.toastMs = opts.toastMs ?? 6000;
    this.hasFocus = opts.hasFocus ?? (() => doc.hasFocus());
    this.view = doc.createElement("div");
    this.view.className = "view";
    this.toastHost = doc.createElement("div");
    this.toastHost.className = "toasts";
    this.toastHost.setAttribute("aria-live", "polite");
    this.root.replaceChildren(this.view, this.toastHost);
    this.root.addEventListener("click", this.onClick);
    this.root.addEventListener("submit", this.onSubmit);
    this.root.addEventListener("input", this.onInput);
    // WebDriver's Element Clear (WebKit's atom) fires only "change": without it the model
    // would keep the old text and the next render would put it back.
    this.root.addEventListener("change", this.onInput);
    this.root.addEventListener(PLAY_BLOCKED_EVENT, this.onPlayBlocked);
    doc.addEventListener("keydown", this.onKeyDown);
    doc.defaultView?.addEventListener("focus", this.onFocusChange);
    doc.defaultView?.addEventListener("blur", this.onFocusChange);
    doc.defaultView?.addEventListener("storage", this.onStorage);
    doc.addEventListener("visibilitychange", this.onVisibility);
    this.onVisibility();
  }

  /** When this window came into view with an incoming call (the popup benchmark reads it). */
  readonly incomingShown = new IncomingShownProbe();

  /** Whether the window is on screen, as a data attribute tests can wait for. */
  private readonly onVisibility = (): void => {
    const doc = this.root.ownerDocument;
    doc.documentElement.dataset.visibility = doc.visibilityState;
    this.noteIncomingShown();
  };

  private noteIncomingShown(): void {
    const doc = this.root.ownerDocument;
    if (doc.visibilityState === "visible" && this.page === "incoming") this.incomingShown.onShown(this.model.snapshot, doc.defaultView);
  }

  /** Subscribes to the host, then asks for the current state. */
  async start(): Promise<void> {
    if (this.kind === "popup") this.sounds.prepare();
    this.render();
    try {
      this.unlisteners.push(await this.api.onUpdate((u) => this.applyUpdate(u)));
      this.unlisteners.push(await this.api.onSettings((s) => this.applySettings(s)));
      if (this.tray) this.unlisteners.push(await this.tray.listen());
    } catch (e) {
      this.toast(`Couldn't subscribe to the app's events: ${toMessage(e)}`, "bad");
    }
    try {
      const state = await this.askState();
      this.model.settings = state.settings;
      this.model.loaded = true;
    } catch (e) {
      this.model.loaded = true;
      this.model.settingsError = `Couldn't reach the app: ${toMessage(e)}`;
    }
    this.refreshHistory();
    this.render();
    // After the first page is up: the incoming call is the page that must come fastest.
    if (!this.disposed) warmIncoming(this.root.ownerDocument, this.kind === "popup");
    // Elapsed times (ringing, call duration) and "x min ago" stay current.
    this.ticker = setInterval(() => this.render(), 1000);
  }

  /**
   * Asks the host for its state and takes the snapshot in the answer only if no update
   * arrived meanwhile: the answer and the events travel separately, so an update can
   * overtake an answer computed before it, and the older answer must not undo it.
   */
  private async askState(): Promise<AppState> {
    const seen = this.updates;
    const state = await this.api.appState();
    if (this.updates === seen && !this.disposed) {
      this.model.snapshot = state.snapshot;
      this.media?.sync(state.snapshot);
    }
    return state;
  }

  dispose(): void {
    this.disposed = true;
    for (const u of this.unlisteners) u();
    this.unlisteners = [];
    if (this.ticker !== null) clearInterval(this.ticker);
    if (this.bannerTimer !== null) clearTimeout(this.bannerTimer);
    this.sounds.set(null);
    this.media?.dispose();
    this.root.removeEventListener("click", this.onClick);
    this.root.removeEventListener(PLAY_BLOCKED_EVENT, this.onPlayBlocked);
    this.root.removeEventListener("submit", this.onSubmit);
    this.root.removeEventListener("input", this.onInput);
    this.root.removeEventListener("change", this.onInput);
    this.root.ownerDocument.removeEventListener("keydown", this.onKeyDown);
    this.root.ownerDocument.removeEventListener("visibilitychange", this.onVisibility);
    this.root.ownerDocument.defaultView?.removeEventListener("focus", this.onFocusChange);
    this.root.ownerDocument.defaultView?.removeEventListener("blur", this.onFocusChange);
    this.root.ownerDocument.defaultView?.removeEventListener("storage", this.onStorage);
  }

  get page(): PageName {
    return pageFor(this.model, this.kind);
  }

  // ---- host → model ------------------------------------------------------------------

  applyUpdate(u: HostUpdate): void {
    if (this.disposed) return;
    const m = this.model;
    const before = m.snapshot;
    this.updates++;
    m.snapshot = u.snapshot;
    m.loaded = true;
    this.incomingShown.onUpdate(u.snapshot);
    if (u.notice.kind === "signal") {
      // Many per second while a call sets up, and nothing on the page changes: straight
      // to the media module, no render. (The snapshot in this update is the current one.)
      const { callId, fromUserId, payload } = u.notice;
      this.media?.sync(u.snapshot);
      this.media?.onSignal({ callId, fromUserId, payload });
      return;
    }
    this.media?.sync(u.snapshot);
    if (before?.phase !== u.snapshot.phase) {
      // A faded banner only held its space so the page wouldn't jump; off home it can go.
      if (m.banner?.faded) this.setBanner(null);
      m.busy = null;
      m.videoSwapped = false;
      m.devicesOpen = false;
      if (u.snapshot.phase !== "inCall") {
        m.inviteText = "";
        m.inviteError = null;
      }
    }
    if (!before || before.userId !== u.snapshot.userId) this.refreshHistory();
    // A load tried while connecting failed (the host has no server to ask), and calls may
    // have come and gone while offline: the list is asked again each time the link is up.
    else if (before.connection.state !== "connected" && u.snapshot.connection.state === "connected") this.refreshHistory();
    this.onNotice(u.notice, u);
    this.render();
  }

  applySettings(s: Settings | null): void {
    if (this.disposed) return;
    const m = this.model;
    const userChanged = m.settings?.userId !== s?.userId || m.settings?.serverUrl !== s?.serverUrl;
    m.settings = s;
    m.loaded = true;
    if (s === null) {
      m.editingSettings = false;
      m.draft = draftFrom(null);
      // Signed out: no call state is left to draw or to carry media for.
      m.snapshot = null;
      this.media?.sync(null);
    }
    if (userChanged) {
      m.history = null;
      m.banner = null;
      this.refreshHistory();
    }
    this.render();
  }

  private onNotice(n: HostNotice, u: HostUpdate): void {
    if (this.kind !== "main") return;
    switch (n.kind) {
      case "finished": {
        const banner = outcomeBanner(n.outcome, n.call, this.now());
        this.setBanner(banner);
        this.refreshHistory();
        break;
      }
      case "missedWhileAway":
        this.toast(
          n.answered
            ? `${n.callerName || n.callerId} called while you were away; it was answered on another device.`
            : `Missed ${n.callType === "video" ? "video " : ""}call from ${n.callerName || n.callerId} while you were offline.`,
          n.answered ? "info" : "bad",
        );
        this.refreshHistory();
        break;
      case "rejectedBusy":
        // Discreet: it only shows up in the history as a missed call.
        this.refreshHistory();
        break;
      case "error":
        this.toast(n.message, "bad");
        break;
      case "accepted": {
        const call = u.snapshot.call;
        // Your own join (this or another of your devices) is no news to you.
        if (call?.group && n.by !== u.snapshot.userId) {
          const who = call.peers.find((p) => p.userId === n.by);
          this.toast(`${who?.name || n.by} joined the call`, "info");
        }
        break;
      }
      case "changed":
      case "signal":
        break;
    }
  }

  private setBanner(banner: Model["banner"]): void {
    this.model.banner = banner;
    if (this.bannerTimer !== null) clearTimeout(this.bannerTimer);
    this.bannerTimer = null;
    if (banner?.own) {
      this.bannerTimer = setTimeout(() => {
        if (this.model.banner === banner) {
          this.model.banner = { ...banner, faded: true };
          this.render();
        }
      }, this.ownBannerMs);
    }
  }

  refreshHistory(): void {
    if (this.kind !== "main" || !this.model.snapshot) return;
    const seq = ++this.historySeq;
    this.api.history(this.historyCount).then(
      (entries) => {
        if (seq !== this.historySeq || this.disposed) return;
        this.model.history = entries;
        this.model.historyError = null;
        this.render();
      },
      (e: unknown) => {
        if (seq !== this.historySeq || this.disposed) return;
        if (this.model.history === null) this.model.historyError = toMessage(e);
        this.render();
      },
    );
  }

  // ---- rendering ---------------------------------------------------------------------

  render(): void {
    if (this.disposed) return;
    const m = this.model;
    const page = this.page;
    if (page === "settings" && !m.draft) m.draft = draftFrom(m.settings);
    if (page !== "settings") m.soundPreview = false;
    m.media = this.media?.view() ?? null;
    this.trackLook(page);
    // lit patches the existing nodes: within a page, focus, caret and element identity
    // (a <video> with a live srcObject) survive every update.
    litRender(renderWindow(m, this.kind, this.now()), this.view);
    if (page !== this.lastPage) {
      if (page === "settings" && this.kind === "main") void this.refreshStartAtLogin();
      this.lastPage = page;
      this.autofocus(page);
    }
    const doc = this.root.ownerDocument;
    const title = windowTitle(m, this.kind, this.now());
    doc.title = title;
    // The popup keeps its own title: it is not in the task bar, and a fixed title is how
    // it is told apart from the main window there.
    if (this.kind === "main" && title !== this.lastTitle) {
      this.lastTitle = title;
      // The OS window keeps its own title; a failure only leaves the old one up.
      this.api.setWindowTitle(title).catch(() => {});
    }
    this.tray?.sync();
    doc.documentElement.dataset.page = page;
    this.noteIncomingShown();
    this.sounds.set(this.soundFor(page));
  }

  /**
   * The missed-call badge counts calls missed since the user last looked at home: a look
   * lasts while home shows in the focused window. During a look the badge counts from the
   * mark before it, so what it announces stays to be seen; when the look ends the mark
   * moves to that moment. Nothing stored yet (first run): nothing is new.
   */
  private trackLook(page: PageName): void {
    if (this.kind !== "main") return;
    const userId = this.model.snapshot?.userId;
    const key = userId ? `beckon.missedSeenAt.${userId}` : null;
    const looking = key !== null && page === "home" && this.hasFocus();
    if (key === this.markKey && looking === this.looking) return;
    const now = this.now();
    if (this.looking && this.markKey) this.writeMark(this.markKey, now);
    this.markKey = key;
    this.looking = looking;
    if (!key) return;
    const stored = Number(this.storage?.getItem(key) ?? NaN);
    this.model.missedSince = Number.isFinite(stored) ? stored : now;
    if (looking || !Number.isFinite(stored)) this.writeMark(key, now);
  }

  private writeMark(key: string, at: number): void {
    try {
      this.storage?.setItem(key, String(at));
    } catch {
      /* storage full or refused: the badge then counts from this session's marks */
    }
  }

  /** Ringtone in the popup while it rings (and for the settings page's Play); ringback on the waiting page. */
  soundFor(page: PageName): SoundKind | null {
    const call = this.model.snapshot?.call;
    if (this.kind === "popup") return page === "incoming" && call && !call.working ? "ringtone" : null;
    if (page === "settings") return this.model.soundPreview ? "ringtone" : null;
    // Ringback stops the moment media flows, whatever the phase says.
    return page === "waiting" && !this.media?.flowing ? "ringback" : null;
  }

  private autofocus(page: PageName): void {
    // Text boxes get the focus; call pages focus the page itself, never a button, so a
    // stray Enter or Space can't accept, cancel or hang up. Esc works from anywhere.
    let el: HTMLElement | null = null;
    if (page === "home") el = this.view.querySelector<HTMLElement>("#dial-ids");
    else if (page === "settings" && !this.model.settings)
      el =
        Array.from(this.view.querySelectorAll<HTMLInputElement>("input[data-field]")).find((i) => !i.value) ??
        this.view.querySelector<HTMLElement>("input[data-field]");
    // The popup exists only to be answered: Accept has the focus so Enter takes the call.
    else if (page === "incoming" && this.kind === "popup") el = this.view.querySelector<HTMLElement>('[data-action="accept"]');
    else el = this.view.querySelector<HTMLElement>("main");
    if (el && el.tagName === "MAIN") el.tabIndex = -1;
    el?.focus({ preventScroll: true });
  }

  // ---- toasts ------------------------------------------------------------------------

  toast(text: string, tone: ToastTone = "info"): void {
    const doc = this.root.ownerDocument;
    const el = doc.createElement("div");
    el.className = `toast toast-${tone}`;
    el.setAttribute("role", tone === "bad" ? "alert" : "status");
    const span = doc.createElement("span");
    span.textContent = text;
    const close = doc.createElement("button");
    close.type = "button";
    close.className = "toast-close";
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "×";
    close.addEventListener("click", () => el.remove());
    el.append(span, close);
    this.toastHost.append(el);
    while (this.toastHost.children.length > 3) this.toastHost.firstElementChild?.remove();
    setTimeout(() => el.remove(), this.toastMs);
  }

  // ---- user → host -------------------------------------------------------------------

  private async run(action: string, fn: () => Promise<void>): Promise<boolean> {
    if (this.model.busy === action) return false;
    this.model.busy = action;
    this.render();
    try {
      await fn();
      return true;
    } catch (e) {
      this.toast(toMessage(e), "bad");
      return false;
    } finally {
      if (this.model.busy === action) this.model.busy = null;
      this.render();
    }
  }

  async placeCall(users: string[], callType: CallType, fromDialBox: boolean): Promise<void> {
    const m = this.model;
    if (users.length === 0) {
      m.dialError = "Type the user ID of the person you want to call.";
      this.render();
      this.view.querySelector<HTMLElement>("#dial-ids")?.focus();
      return;
    }
    // The buttons are disabled while offline; Enter in the ID box still lands here. The
    // typed IDs stay for when the connection is back (the page says why nothing happens).
    if (!m.snapshot || !canCall(m.snapshot)) return;
    m.dialError = null;
    this.setBanner(null);
    const ok = await this.run("call", () => this.api.call(users, callType));
    if (ok && fromDialBox) {
      m.dialText = "";
      this.render();
    }
  }

  /** The dial box's IDs, checked here so a mistake reads as a sentence next to the box. */
  private dial(callType: CallType): Promise<void> {
    const m = this.model;
    const checked = checkInvitees(m.dialText, m.snapshot?.userId ?? "");
    if ("error" in checked) {
      m.dialError = checked.error;
      this.render();
      this.view.querySelector<HTMLElement>("#dial-ids")?.focus();
      return Promise.resolve();
    }
    return this.placeCall(checked.users, callType, true);
  }

  private callId(): string | null {
    return this.model.snapshot?.call?.callId ?? null;
  }

  async act(action: string, el?: HTMLElement): Promise<void> {
    const m = this.model;
    switch (action) {
      case "call":
        return this.dial(el?.dataset.type === "video" ? "video" : "voice");
      case "call-back": {
        const users = (el?.dataset.users ?? "").split(",").filter(Boolean);
        return this.placeCall(users, el?.dataset.type === "video" ? "video" : "voice", false);
      }
      case "cancel":
        await this.run("cancel", () => this.api.cancel());
        return;
      case "accept": {
        const id = this.callId();
        if (!id) return;
        // The camera/microphone start on the click, never while the call merely rings.
        this.media?.accept(id);
        const ok = await this.run("accept", () => this.api.accept(id));
        if (!ok) this.media?.acceptFailed();
        return;
      }
      case "decline": {
        const id = this.callId();
        if (id) await this.run("decline", () => this.api.decline(id));
        return;
      }
      case "hang-up":
        await this.run("hang-up", () => this.api.hangUp());
        return;
      case "leave":
        await this.run("leave", () => this.api.leave());
        return;
      case "end-call":
        await this.run("end-call", () => this.api.endCall());
        return;
      case "invite":
        return this.invite();
      case "mute":
        this.media?.toggleMute();
        return;
      case "camera":
        await this.media?.toggleCamera();
        return;
      case "swap-video":
        m.videoSwapped = !m.videoSwapped;
        this.render();
        return;
      case "play-media":
        if (this.media) this.media.playBlocked = false;
        for (const el of Array.from(this.view.querySelectorAll<HTMLMediaElement>("audio, video"))) play(el);
        this.render();
        return;
      case "open-in-browser":
        await this.run("open-in-browser", () => this.api.openInBrowser());
        return;
      case "dismiss-banner":
        this.setBanner(null);
        this.render();
        return;
      case "edit-settings":
        m.editingSettings = true;
        m.draft = draftFrom(m.settings);
        m.settingsError = null;
        m.settingsErrorField = null;
        this.render();
        return;
      case "toggle-dnd":
        await this.run("toggle-dnd", () => this.api.setDoNotDisturb(!(m.snapshot?.doNotDisturb ?? false)));
        return;
      case "sign-out":
        if (await this.run("sign-out", () => this.api.signOut())) this.applySettings(null);
        return;
      case "cancel-settings":
        m.editingSettings = false;
        m.settingsError = null;
        m.settingsErrorField = null;
        this.render();
        return;
      case "save-settings":
        return this.saveSettings();
      case "preview-ringtone":
        m.soundPreview = !m.soundPreview;
        this.render();
        return;
      case "retry-history":
        m.historyError = null;
        m.history = null;
        this.render();
        this.refreshHistory();
        return;
      default:
        await inCallAction(action, this.media, m, this.view, () => this.render());
        return;
    }
  }

  private async invite(): Promise<void> {
    const m = this.model;
    const call = m.snapshot?.call;
    const present = (call?.peers ?? []).filter((p) => p.state === "accepted").map((p) => p.userId);
    const checked = checkInvitees(m.inviteText, m.snapshot?.userId ?? "", present);
    const users = "users" in checked ? checked.users : [];
    if ("error" in checked || users.length === 0) {
      m.inviteError = "error" in checked ? checked.error : "Type one or more user IDs to invite.";
      this.render();
      return;
    }
    m.inviteError = null;
    const ok = await this.run("invite", () => this.api.inviteMore(users));
    if (ok) {
      m.inviteText = "";
      this.render();
    }
  }

  private async saveSettings(): Promise<void> {
    const m = this.model;
    const draft = m.draft ?? draftFrom(m.settings);
    const checked = settingsFromDraft(draft);
    if ("error" in checked) {
      this.settingsProblem(checked.error, checked.field);
      return;
    }
    m.saving = true;
    m.settingsError = null;
    m.settingsErrorField = null;
    this.render();
    try {
      await this.api.saveSettings(checked.settings);
      m.settings = checked.settings;
      m.editingSettings = false;
      m.draft = null;
      try {
        m.settings = (await this.askState()).settings;
      } catch {
        /* the update event brings it */
      }
      m.history = null;
      this.refreshHistory();
      m.saving = false;
      this.render();
    } catch (e) {
      m.saving = false;
      this.settingsProblem(toMessage(e), (e as Partial<CommandError>).field ?? null);
    }
  }

  /**
   * Stores a sound preference and plays by it at once. Not through "Save and sign in": it
   * is this installation's, not the account's. The popup hears of it by the storage event.
   */
  private changeSounds(change: Partial<SoundPrefs>): void {
    const m = this.model;
    const next = { ...m.soundPrefs, ...change };
    if (this.storage && !writeSoundPrefs(this.storage, next)) {
      this.toast("Couldn't keep the sound settings: this computer refused to store them.", "bad");
      // The controls go back to what the popup will actually use.
      m.soundPrefs = readSoundPrefs(this.storage);
    } else m.soundPrefs = next;
    this.sounds.refresh();
    this.render();
  }

  /** Asks the host how the app starts; a host that cannot say leaves the card out. */
  private async refreshStartAtLogin(): Promise<void> {
    try {
      this.model.startAtLogin = await this.api.startAtLogin();
    } catch {
      this.model.startAtLogin = null;
    }
    this.render();
  }

  private async changeStartAtLogin(on: boolean): Promise<void> {
    await this.run("start-at-login", () => this.api.setStartAtLogin(on));
    // What the system now says, whether or not the change went through.
    await this.refreshStartAtLogin();
  }

  /** Shows a settings problem next to its field (or under the form) and focuses that field. */
  private settingsProblem(message: string, field: keyof SettingsDraft | null): void {
    const m = this.model;
    m.settingsError = message;
    m.settingsErrorField = field;
    this.render();
    if (field) this.view.querySelector<HTMLElement>(`[data-field="${field}"]`)?.focus();
  }

  // ---- DOM events --------------------------------------------------------------------

  private readonly onClick = (ev: Event): void => {
    const target = ev.target as Element | null;
    const el = target?.closest<HTMLElement>("[data-action]");
    if (!el || !this.root.contains(el)) return;
    if ((el as HTMLButtonElement).disabled) return;
    ev.preventDefault();
    void this.act(el.dataset.action ?? "", el);
  };

  private readonly onSubmit = (ev: Event): void => {
    const form = ev.target as HTMLFormElement | null;
    if (!form) return;
    ev.preventDefault();
    switch (form.dataset.form) {
      case "dial":
        // Enter in the ID box: a voice call.
        void this.dial("voice");
        break;
      case "invite":
        void this.invite();
        break;
      case "settings":
        void this.saveSettings();
        break;
      default:
        break;
    }
  };

  private readonly onInput = (ev: Event): void => {
    if (onDeviceChange(ev, this.media, (message) => this.toast(message, "bad"))) return;
    const el = ev.target as HTMLInputElement | null;
    const field = el?.dataset.field;
    if (!el || !field) return;
    const m = this.model;
    if (field === "dialText") {
      m.dialText = el.value;
      if (m.dialError) {
        m.dialError = null;
        this.render();
      }
    } else if (field === "inviteText") {
      m.inviteText = el.value;
    } else if (field === "soundRingtone") {
      // Both "input" and "change" land here: only a new choice is stored.
      if (el.checked && el.value !== m.soundPrefs.ringtone) this.changeSounds({ ringtone: el.value as RingtoneId });
    } else if (field === "soundVolume") {
      const volume = Number(el.value);
      if (Number.isFinite(volume) && volume !== m.soundPrefs.volume) this.changeSounds({ volume });
    } else if (field === "startAtLogin") {
      if (el.checked !== m.startAtLogin) void this.changeStartAtLogin(el.checked);
    } else if ((SETTINGS_FIELDS as readonly string[]).includes(field)) {
      m.draft = { ...(m.draft ?? draftFrom(m.settings)), [field]: el.value };
    }
  };

  private readonly onFocusChange = (): void => this.render();

  /** Another window (the main one, for the popup) changed the sound preferences. */
  private readonly onStorage = (ev: StorageEvent): void => {
    if (ev.key !== SOUND_PREFS_KEY && ev.key !== null) return;
    this.model.soundPrefs = readSoundPrefs(this.storage);
    this.sounds.refresh();
    this.render();
  };

  private readonly onPlayBlocked = (): void => {
    if (!this.media || this.media.playBlocked) return;
    this.media.playBlocked = true;
    this.render();
  };

  private readonly onKeyDown = (ev: KeyboardEvent): void => {
    const action = keyAction(ev, { page: this.page, view: this.view, kind: this.kind, model: this.model });
    if (!action) return;
    ev.preventDefault();
    if (action === "close-window") void this.api.hideWindow().catch(() => {});
    else void this.act(action);
  };
}

function defaultStorage(doc: Document): MarkStore | null {
  try {
    return doc.defaultView?.localStorage ?? null;
  } catch {
    // A document without storage access throws on the property itself.
    return null;
  }
}

export function toMessage(e: unknown): string {
  if (e && typeof e === "object" && typeof (e as ApiError).message === "string") return (e as ApiError).message;
  if (typeof e === "string") return e;
  return "Something went wrong.";
}
