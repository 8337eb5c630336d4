import { describe, expect, it } from "vitest";

import type { RecurrenceRule } from "../api/types";
import { describeRule } from "./recurrence";

const BASE: Pick<RecurrenceRule, "interval" | "basis" | "week_start" | "missing_day"> = {
  interval: 1,
  basis: "due",
  week_start: "MO",
  missing_day: "skip",
};
const days = (...weekdays: RecurrenceRule["week_start"][]) => weekdays.map((weekday) => ({ weekday, ordinal: null }));

describe("describeRule", () => {
  it("formats the end date for people, in the task's zone", () => {
    expect(
      describeRule({ ...BASE, frequency: "weekly", by_day: days("MO", "WE"), until: "2030-02-01T04:59:59Z" }, "America/New_York"),
    ).toBe("Every week on Mon, Wed, until Jan 31, 2030");
  });

  it("describes every kind of rule", () => {
    expect(describeRule({ ...BASE, frequency: "daily" }, "UTC")).toBe("Every day");
    expect(describeRule({ ...BASE, frequency: "weekly", by_day: days("MO", "TU", "WE", "TH", "FR") }, "UTC")).toBe("Every weekday");
    expect(describeRule({ ...BASE, frequency: "monthly", interval: 2, by_day: [{ ordinal: -1, weekday: "FR" }] }, "UTC")).toBe(
      "Every 2 months on the last Friday",
    );
    expect(describeRule({ ...BASE, frequency: "monthly", by_day: [{ ordinal: -2, weekday: "MO" }] }, "UTC")).toBe(
      "Every month on the 2nd to last Monday",
    );
    expect(describeRule({ ...BASE, frequency: "monthly", by_month_day: [22], count: 3, basis: "completion" }, "UTC")).toBe(
      "Every month on the 22nd, 3 times (from completion)",
    );
    expect(describeRule({ ...BASE, frequency: "monthly", by_month_day: [31], missing_day: "last_day" }, "UTC")).toBe(
      "Every month on the 31st (or the month's last day)",
    );
    expect(describeRule({ ...BASE, frequency: "monthly", by_month_day: [-3] }, "UTC")).toBe("Every month on the 3rd to last day");
    expect(describeRule({ ...BASE, frequency: "yearly", by_month: [2], by_month_day: [29] }, "UTC")).toBe(
      "Every year on the 29th in Feb",
    );
    expect(describeRule({ ...BASE, frequency: "yearly", count: 1 }, "UTC")).toBe("Every year, once");
  });
});
