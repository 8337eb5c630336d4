import { describe, expect, it } from "vitest";

import { makeTask } from "../test/fakeApi";
import { DEFAULT_FILTERS, SORTS, matches, queryOf } from "./board";

describe("the list's query", () => {
  it("shows open tasks unless asked otherwise", () => {
    expect(queryOf(DEFAULT_FILTERS, 25, 0)).toEqual({ sort: "due", status: "open", limit: 25, offset: 0 });
    expect(queryOf({ ...DEFAULT_FILTERS, status: "" }, 25, 0).status).toBeUndefined();
  });

  it("asks for the most urgent first under 'Priority: highest first'", () => {
    const label = (value: string) => SORTS.find((s) => s.value === value)?.label;
    // The API's `priority` sort is most urgent first.
    expect(label("priority")).toBe("Priority: highest first");
    expect(label("-priority")).toBe("Priority: lowest first");
  });

  it("sends tags lower-cased without '#', and the rest as the API names them", () => {
    const query = queryOf({ ...DEFAULT_FILTERS, q: " rent ", tag: "#Home, work", priority: "high", overdue: true }, 50, 25);
    expect(query).toEqual({
      sort: "due",
      status: "open",
      q: "rent",
      tag: ["home", "work"],
      priority: ["high"],
      overdue: true,
      limit: 50,
      offset: 25,
    });
  });

  it("drops a completed task from the open list", () => {
    expect(matches(makeTask({ status: "completed" }), DEFAULT_FILTERS)).toBe(false);
    expect(matches(makeTask({ status: "completed" }), { ...DEFAULT_FILTERS, status: "" })).toBe(true);
  });
});
