import { CourseLevel } from "@gen/trading/education/v1/education_pb";
import { describe, expect, it } from "vitest";
import { duration, enumValue, LEVELS, levelLabel } from "./labels";

describe("education labels", () => {
  it("formats durations", () => {
    expect(duration(25)).toBe("25 min");
    expect(duration(60)).toBe("1 h");
    expect(duration(65)).toBe("1 h 5 min");
  });
  it("reads enums from select values, refusing others", () => {
    expect(enumValue("2", LEVELS, CourseLevel.UNSPECIFIED)).toBe(CourseLevel.INTERMEDIATE);
    expect(enumValue("9", LEVELS, CourseLevel.UNSPECIFIED)).toBe(CourseLevel.UNSPECIFIED);
    expect(levelLabel(CourseLevel.ADVANCED)).toBe("Advanced");
  });
});
