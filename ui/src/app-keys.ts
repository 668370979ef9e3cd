// What a keydown in a window asks for: the call's shortcuts (incall-keys.ts), Enter in the
// popup, and Esc on the pages where it backs out. The App runs the action it names, as if
// its button were clicked; null leaves the key to the page.
import { pressedShortcut } from "./incall-keys";
import type { Model, PageName, WindowKind } from "./view";

export type KeyContext = { page: PageName; view: ParentNode; kind: WindowKind; model: Model };

export function keyAction(ev: KeyboardEvent, c: KeyContext): string | null {
  const shortcut = pressedShortcut(ev, c.page, c.view);
  // Ctrl/Cmd+W puts the main window away; the popup goes when its call stops ringing.
  if (shortcut === "close-window") return c.kind === "main" ? shortcut : null;
  if (shortcut) return shortcut;
  if (ev.defaultPrevented) return null;
  const working = c.model.snapshot?.call?.working ?? false;
  if (ev.key === "Enter") {
    // A focused button (Decline) answers Enter itself.
    const onButton = (ev.target as Element | null)?.closest?.("button, input, a");
    return c.kind === "popup" && c.page === "incoming" && !onButton && !working ? "accept" : null;
  }
  if (ev.key !== "Escape") return null;
  if (c.page === "waiting") return "cancel";
  if (c.page === "incoming" && !working) return "decline";
  const m = c.model;
  if (c.page === "settings" && m.settings && m.snapshot && !m.saving) return "cancel-settings";
  return null;
}
