import { describe, expect, it } from "vitest";
import { formatDuration, formatWhen, initials, joinNames, parseUserIds } from "../src/format";

describe("format", () => {
  it("parses the ID box", () => {
    expect(parseUserIds("")).toEqual([]);
    expect(parseUserIds("  bob ")).toEqual(["bob"]);
    expect(parseUserIds("bob,carol dan;\terin,,bob")).toEqual(["bob", "carol", "dan", "erin"]);
  });

  it("initials", () => {
    expect(initials("Alice Martin")).toBe("AM");
    expect(initials("bob")).toBe("B");
    expect(initials("carol_diaz")).toBe("CD");
    expect(initials("Erin Novak +2")).toBe("EN");
    expect(initials("")).toBe("?");
  });

  it("durations", () => {
    expect(formatDuration(0)).toBe("0:00");
    expect(formatDuration(65_000)).toBe("1:05");
    expect(formatDuration(3_723_000)).toBe("1:02:03");
    expect(formatDuration(-5)).toBe("0:00");
  });

  it("dates", () => {
    const now = new Date(2025, 2, 14, 15, 30).getTime();
    expect(formatWhen(new Date(2025, 2, 14, 9, 5).getTime(), now)).toBe("09:05");
    expect(formatWhen(new Date(2025, 2, 13, 22, 0).getTime(), now)).toBe("Yesterday 22:00");
    expect(formatWhen(new Date(2025, 0, 3, 8, 0).getTime(), now)).toBe("3 Jan 08:00");
    expect(formatWhen(new Date(2023, 0, 3, 8, 0).getTime(), now)).toBe("3 Jan 2023");
  });

  it("names", () => {
    expect(joinNames(["a"])).toBe("a");
    expect(joinNames(["a", "b"])).toBe("a and b");
    expect(joinNames(["a", "b", "c"])).toBe("a, b and c");
    expect(joinNames(["a", "b", "c", "d", "e"])).toBe("a, b +3");
  });
});
