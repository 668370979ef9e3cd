import { describe, expect, it } from "vitest";
import { ALL_OUTCOMES, finishedCall, snapshot } from "../src/fixtures";
import { outcomeBanner } from "../src/outcome";
import { renderHome } from "../src/pages/home";
import type { HostOutcome as Outcome } from "../src/media/host";
import { mount, NOW, text } from "./helpers";

const EXPECTED: Record<Outcome["kind"], RegExp> = {
  declined: /^bob declined/,
  busy: /^bob is busy/,
  noAnswer: /^No answer from bob/,
  unreachable: /^bob couldn't be reached They weren't online while the call rang: they may be signed out, or the ID may be mistyped\./,
  cancelledByCaller: /^Bob Chen cancelled the call They hung up before you answered: a missed call/,
  missed: /^Missed call from Bob Chen You didn't answer/,
  answeredElsewhere: /^Answered on another device/,
  declinedElsewhere: /^Declined on another device/,
  endedByPeer: /^bob ended the call .*after 3:05/,
  connectionLost: /connection lost/i,
  cancelled: /^Call cancelled You cancelled the call to bob/,
  rejected: /^Call declined You declined the call from Bob Chen/,
  hungUp: /^Call ended You hung up/,
  left: /^You left the group call/,
  failed: /^Call failed server said: invitee list too long/,
  mediaFailed: /^Couldn't connect the call's audio Your call with bob was set up, but no audio got through/,
};

function bannerText(o: Outcome): string {
  const b = outcomeBanner(o, finishedCall(o, NOW), NOW);
  return `${b.title} ${b.detail}`;
}

describe("finished-outcome banners", () => {
  it("covers every Outcome kind", () => {
    expect(ALL_OUTCOMES.map((o) => o.kind).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it.each(ALL_OUTCOMES.map((o) => [o.kind, o] as const))("%s has its own text", (kind, o) => {
    expect(bannerText(o)).toMatch(EXPECTED[kind]);
  });

  it("media that dropped mid-call reads as a lost connection, with the talk time", () => {
    expect(bannerText({ kind: "mediaFailed", problem: "connectionLost" })).toBe(
      "Connection lost The audio connection with bob dropped and didn't come back, so the call ended after 3:05.",
    );
    expect(outcomeBanner({ kind: "mediaFailed", problem: "connectionLost" }, finishedCall({ kind: "hungUp" }, NOW), NOW).tone).toBe("bad");
  });

  it("no two outcomes read the same", () => {
    const titles = ALL_OUTCOMES.map((o) => outcomeBanner(o, finishedCall(o, NOW), NOW).title);
    const texts = ALL_OUTCOMES.map(bannerText);
    expect(new Set(texts).size).toBe(ALL_OUTCOMES.length);
    expect(new Set(titles).size).toBe(ALL_OUTCOMES.length);
  });

  it("the user's own doing fades; news from others stays", () => {
    const own = ALL_OUTCOMES.filter((o) => outcomeBanner(o, finishedCall(o, NOW), NOW).own).map((o) => o.kind);
    expect(own.sort()).toEqual(["cancelled", "hungUp", "left", "rejected"]);
  });

  it("missed calls offer Call back to the caller; declined offers Call again", () => {
    const missed = outcomeBanner({ kind: "missed" }, finishedCall({ kind: "missed" }, NOW), NOW);
    expect(missed.redial).toEqual({ users: ["bob"], callType: "voice" });
    expect(missed.tone).toBe("bad");
    const el = mount(
      renderHome({ snapshot: snapshot(), dialText: "", dialError: null, history: [], historyError: null, missedSince: null, banner: missed, busy: null, now: NOW }),
    );
    expect(el.querySelector(".banner")?.getAttribute("data-outcome")).toBe("missed");
    expect(el.querySelector(".banner")?.getAttribute("role")).toBe("alert");
    expect(text(el.querySelector('.banner [data-action="call-back"]'))).toBe("Call back");
    const declined = outcomeBanner({ kind: "declined" }, finishedCall({ kind: "declined" }, NOW), NOW);
    const el2 = mount(
      renderHome({ snapshot: snapshot(), dialText: "", dialError: null, history: [], historyError: null, missedSince: null, banner: declined, busy: null, now: NOW }),
    );
    expect(text(el2.querySelector('.banner [data-action="call-back"]'))).toBe("Call again");
    expect(el2.querySelector('.banner [data-action="dismiss-banner"]')?.getAttribute("aria-label")).toBe("Dismiss");
  });

  it("group outcomes name everyone", () => {
    const call = finishedCall({ kind: "busy" }, NOW);
    call.peers = [
      { userId: "bob", name: "bob", state: "rejected", reason: "busy" },
      { userId: "carol", name: "carol", state: "rejected", reason: "busy" },
    ];
    call.group = true;
    expect(outcomeBanner({ kind: "busy" }, call, NOW).title).toBe("bob and carol are busy");
  });
});
