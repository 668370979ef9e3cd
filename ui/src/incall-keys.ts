// The call's keyboard shortcuts, in one place: which combination does what on which page,
// and the words the buttons' titles show for it. The App asks `pressedShortcut` on every
// keydown and runs the action it names like a click; it names one only if that action's
// button is on the page and enabled, so a shortcut never reaches what the page doesn't offer.
import type { PageName } from "./view";

type Binding = { letter: string; shift: boolean };

const BINDINGS = {
  mute: { letter: "d", shift: false },
  camera: { letter: "e", shift: false },
  "share-screen": { letter: "e", shift: true },
  "hang-up": { letter: "h", shift: true },
  leave: { letter: "h", shift: true },
  accept: { letter: "a", shift: true },
  decline: { letter: "d", shift: true },
} satisfies Record<string, Binding>;

/** The actions with a command-key binding (and so a shortcut in their title). */
export type KeyAction = keyof typeof BINDINGS;
/**
 * Esc also closes the call's Devices popover; the command key and W puts the window away
 * (to the tray, where calls still ring), as closing it does, on every page.
 */
export type ShortcutAction = KeyAction | "close-devices" | "close-window";

/** The actions each page answers to (hang-up and leave share a key: a page has one of them). */
const ON_PAGE: Partial<Record<PageName, KeyAction[]>> = {
  calling: ["mute", "camera", "share-screen", "hang-up", "leave"],
  incoming: ["accept", "decline"],
};

type NavigatorLike = { platform?: string; userAgentData?: { platform?: string } };

/** macOS takes Cmd where the others take Ctrl (Ctrl+letter there is the text fields' own). */
export function isMac(nav: NavigatorLike | undefined = globalThis.navigator as NavigatorLike | undefined): boolean {
  return /mac/i.test(nav?.userAgentData?.platform || nav?.platform || "");
}

const MAC = isMac();

/**
 * The letter pressed, by the key's meaning and, on a layout without Latin letters, by its
 * place (so Ctrl+D still mutes on a Cyrillic keyboard).
 */
function letterOf(ev: KeyboardEvent): string | null {
  if (/^[a-z]$/i.test(ev.key)) return ev.key.toLowerCase();
  return /^Key([A-Z])$/.exec(ev.code ?? "")?.[1]?.toLowerCase() ?? null;
}

/**
 * The actions a keydown asks for on this page (hang-up and leave share a key). Every
 * binding holds the platform's command key, so they work from inside a text box too:
 * plain typing never matches.
 */
export function shortcutActions(ev: KeyboardEvent, page: PageName, mac = MAC): ShortcutAction[] {
  // Esc closes the Devices popover (the call page's other keys all hold a modifier).
  if (ev.key === "Escape") return page === "calling" && !ev.ctrlKey && !ev.metaKey && !ev.altKey && !ev.shiftKey ? ["close-devices"] : [];
  const command = mac ? ev.metaKey && !ev.ctrlKey : ev.ctrlKey && !ev.metaKey;
  if (!command || ev.altKey) return [];
  const letter = letterOf(ev);
  if (!letter) return [];
  if (letter === "w" && !ev.shiftKey) return ["close-window"];
  return (ON_PAGE[page] ?? []).filter((a) => BINDINGS[a].letter === letter && BINDINGS[a].shift === ev.shiftKey);
}

/** "Ctrl+Shift+E", or "⇧⌘E" on macOS: what a title shows next to the button's words. */
export function shortcutText(action: KeyAction, mac = MAC): string {
  const b = BINDINGS[action];
  const letter = b.letter.toUpperCase();
  return mac ? `${b.shift ? "⇧" : ""}⌘${letter}` : `Ctrl+${b.shift ? "Shift+" : ""}${letter}`;
}

/** A button's title with its shortcut: "Mute your microphone (Ctrl+D)". */
export function withShortcut(title: string, action: KeyAction, mac = MAC): string {
  return `${title} (${shortcutText(action, mac)})`;
}

/**
 * The action to run for this keydown: the page's binding, if that action's button is
 * there and enabled (a group call has Leave, not Hang up; a voice call's camera is off).
 * Held keys repeat nothing: one press, one toggle.
 */
export function pressedShortcut(ev: KeyboardEvent, page: PageName, view: ParentNode, mac = MAC): ShortcutAction | null {
  if (ev.defaultPrevented || ev.repeat) return null;
  const enabled = (a: ShortcutAction): boolean => {
    if (a === "close-window") return true;
    const button = view.querySelector<HTMLButtonElement>(`[data-action="${a}"]`);
    return button !== null && !button.disabled;
  };
  return shortcutActions(ev, page, mac).find(enabled) ?? null;
}
