/** Names people read for the education enums and a few helpers the pages share. */
import { CourseLevel, CourseStatus, CourseTier } from "@gen/trading/education/v1/education_pb";

export const LEVELS: ReadonlyArray<{ value: CourseLevel; label: string }> = [
  { value: CourseLevel.BEGINNER, label: "Beginner" },
  { value: CourseLevel.INTERMEDIATE, label: "Intermediate" },
  { value: CourseLevel.ADVANCED, label: "Advanced" },
];

export const TIERS: ReadonlyArray<{ value: CourseTier; label: string }> = [
  { value: CourseTier.FREE, label: "Free" },
  { value: CourseTier.PRO, label: "Pro" },
];

export function levelLabel(level: CourseLevel): string {
  return LEVELS.find((l) => l.value === level)?.label ?? "–";
}

export function tierLabel(tier: CourseTier): string {
  return TIERS.find((t) => t.value === tier)?.label ?? "–";
}

export function statusLabel(status: CourseStatus): string {
  switch (status) {
    case CourseStatus.DRAFT:
      return "Draft";
    case CourseStatus.PUBLISHED:
      return "Published";
    case CourseStatus.ARCHIVED:
      return "Archived";
    default:
      return "–";
  }
}

/** "1 h 5 min" / "25 min". */
export function duration(minutes: number): string {
  if (minutes < 60) return `${minutes} min`;
  const rest = minutes % 60;
  return rest ? `${Math.floor(minutes / 60)} h ${rest} min` : `${minutes / 60} h`;
}

/** An enum from a select's string value, or the fallback. */
export function enumValue<T extends number>(value: string, allowed: ReadonlyArray<{ value: T }>, fallback: T): T {
  const n = Number(value);
  return allowed.some((a) => a.value === n) ? (n as T) : fallback;
}
