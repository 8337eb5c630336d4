import { describe, expect, it } from "vitest";

import { browserTimeZone, endOfDayIso, formatDay, isoToWallTime, relative, wallTimeToIso } from "./time";

describe("wall times in a chosen zone", () => {
  it("runs in Europe/Berlin (the test script sets TZ)", () => {
    expect(browserTimeZone()).toBe("Europe/Berlin");
  });

  it("reads 09:00 in New York as 09:00 New York time, not the browser's", () => {
    expect(wallTimeToIso("2030-01-07T09:00", "America/New_York")).toBe("2030-01-07T09:00:00-05:00");
    expect(new Date(wallTimeToIso("2030-01-07T09:00", "America/New_York")!).toISOString()).toBe(
      "2030-01-07T14:00:00.000Z",
    );
    expect(wallTimeToIso("2030-07-07T09:00", "Europe/Berlin")).toBe("2030-07-07T09:00:00+02:00");
  });

  it("shows an instant as the wall time it is in the task's zone", () => {
    expect(isoToWallTime("2030-01-07T14:00:00Z", "America/New_York")).toBe("2030-01-07T09:00");
    expect(isoToWallTime("2030-01-07T14:00:00Z", "Asia/Tokyo")).toBe("2030-01-07T23:00");
    expect(isoToWallTime(null, "UTC")).toBe("");
  });

  it("moves a wall time in a spring-forward gap forward, as the backend does", () => {
    expect(wallTimeToIso("2030-03-10T02:30", "America/New_York")).toBe("2030-03-10T03:30:00-04:00");
  });

  it("ends a repeat at the end of the chosen day in the task's zone", () => {
    expect(endOfDayIso("2030-01-31", "America/New_York")).toBe("2030-01-31T23:59:59-05:00");
    expect(endOfDayIso("not a day", "UTC")).toBeNull();
  });

  it("rejects what is not a complete date and time", () => {
    expect(wallTimeToIso("2030-01-07", "UTC")).toBeNull();
    expect(wallTimeToIso("", "UTC")).toBeNull();
  });
});

describe("formatting", () => {
  it("formats a day for people", () => {
    expect(formatDay("2030-01-31T23:59:59-05:00", "America/New_York")).toMatch(/Jan 31, 2030/);
  });

  it("says how far away a time is", () => {
    const now = Date.parse("2030-01-01T12:00:00Z");
    expect(relative("2030-01-01T12:05:00Z", now)).toBe("in 5 min");
    expect(relative("2030-01-01T09:00:00Z", now)).toBe("3 h ago");
    expect(relative("2030-01-03T12:00:00Z", now)).toBe("in 2 days");
    expect(relative("2030-01-01T12:00:10Z", now)).toBe("now");
  });
});
