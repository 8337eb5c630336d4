import { describe, expect, it } from "vitest";

import type { RecurrenceRule } from "../api/types";
import { describeRule } from "./recurrence";

const BASE: Pick<RecurrenceRule, "interval" | "basis"> = { interval: 1, basis: "due" };

describe("describeRule", () => {
  it("formats the end date for people, in the task's zone", () => {
    expect(describeRule({ ...BASE, frequency: "weekly", weekdays: ["MO", "WE"], until: "2030-02-01T04:59:59Z" }, "America/New_York")).toBe(
      "Every week on Mon, Wed, until Jan 31, 2030",
    );
  });

  it("describes every kind of rule", () => {
    expect(describeRule({ ...BASE, frequency: "daily" }, "UTC")).toBe("Every day");
    expect(describeRule({ ...BASE, frequency: "weekly", weekdays: ["MO", "TU", "WE", "TH", "FR"] }, "UTC")).toBe("Every weekday");
    expect(describeRule({ ...BASE, frequency: "monthly", interval: 2, nth_weekday: { ordinal: -1, weekday: "FR" } }, "UTC")).toBe(
      "Every 2 months on the last Friday",
    );
    expect(describeRule({ ...BASE, frequency: "monthly", month_day: 22, count: 3, basis: "completion" }, "UTC")).toBe(
      "Every month on the 22nd, 3 times (from completion)",
    );
    expect(describeRule({ ...BASE, frequency: "monthly", month_day: 11 }, "UTC")).toBe("Every month on the 11th");
    expect(describeRule({ ...BASE, frequency: "yearly", count: 1 }, "UTC")).toBe("Every year, once");
  });
});
