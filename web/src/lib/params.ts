/**
 * Forms generated from a catalogue's parameters (indicators, strategies): one field per
 * parameter with its default and bounds, validation against them, and the request forms the API
 * takes (an indicator spec "macd:12,26,9", a strategy's params map). Pure, unit tested.
 */

/** Anything shaped like trading.market.v1.Parameter. */
export interface ParameterLike {
  name: string;
  /** 1 integer, 2 float (ParameterType). */
  type: number;
  defaultValue: number;
  minValue: number;
  maxValue: number;
  description: string;
}

export const PARAMETER_TYPE_INTEGER = 1;

export interface ParamField {
  name: string;
  label: string;
  integer: boolean;
  min: number;
  max: number;
  /** The input's step: 1 for integers, else a step fine enough for the default and the bounds. */
  step: number | "any";
  /** The default as the input shows it. */
  initial: string;
  hint: string;
}

/** "fast_period" -> "Fast period". */
export function paramLabel(name: string): string {
  const words = name.replace(/[_-]+/g, " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** A number as an input shows it: integers plainly, others without float noise (0.1 + 0.2). */
export function formatParam(value: number, integer: boolean): string {
  if (!Number.isFinite(value)) return "";
  if (integer) return String(Math.round(value));
  return String(Number(value.toPrecision(10)));
}

export function paramFields(params: readonly ParameterLike[]): ParamField[] {
  return params.map((p) => {
    const integer = p.type === PARAMETER_TYPE_INTEGER;
    const bounds = `${formatParam(p.minValue, integer)} to ${formatParam(p.maxValue, integer)}`;
    return {
      name: p.name,
      label: paramLabel(p.name),
      integer,
      min: p.minValue,
      max: p.maxValue,
      step: integer ? 1 : "any",
      initial: formatParam(p.defaultValue, integer),
      hint: p.description ? `${p.description} (${bounds})` : `${bounds}`,
    };
  });
}

/** The defaults of every field, keyed by name (a form's starting values). */
export function initialValues(fields: readonly ParamField[]): Record<string, string> {
  return Object.fromEntries(fields.map((f) => [f.name, f.initial]));
}

export interface ParsedParams {
  values: Record<string, number>;
  /** By field name, for people: "Period must be a whole number from 2 to 100000". */
  errors: Record<string, string>;
}

/** Reads the inputs against the fields' types and bounds; an empty input takes the default. */
export function parseParams(fields: readonly ParamField[], input: Record<string, string>): ParsedParams {
  const values: Record<string, number> = {};
  const errors: Record<string, string> = {};
  for (const f of fields) {
    const raw = (input[f.name] ?? "").trim();
    const text = raw === "" ? f.initial : raw;
    const value = Number(text);
    const range = `from ${formatParam(f.min, f.integer)} to ${formatParam(f.max, f.integer)}`;
    if (text === "" || !Number.isFinite(value)) {
      errors[f.name] = `${f.label} must be a number ${range}`;
    } else if (f.integer && !Number.isInteger(value)) {
      errors[f.name] = `${f.label} must be a whole number ${range}`;
    } else if (value < f.min || value > f.max) {
      errors[f.name] = `${f.label} must be ${range}`;
    } else {
      values[f.name] = value;
    }
  }
  return { values, errors };
}

/** An indicator request in the API's form: "rsi:14", "macd:12,26,9"; the name alone without parameters. */
export function indicatorSpec(name: string, fields: readonly ParamField[], values: Record<string, number>): string {
  if (fields.length === 0) return name;
  return `${name}:${fields.map((f) => formatParam(values[f.name] ?? Number(f.initial), f.integer)).join(",")}`;
}
