import type { IndicatorInfo } from "@gen/trading/market/v1/indicator_service_pb";
import { type FormEvent, useMemo, useState } from "react";
import { indicatorSpec, initialValues, paramFields, parseParams } from "../../lib/params";
import { Button } from "../../ui/Button";
import { SelectField, TextField } from "../../ui/Field";

/**
 * Choose indicators from the catalogue with their parameters (fields generated from the
 * catalogue: defaults, bounds); the chosen ones are listed with a remove button each.
 */
export function IndicatorPicker({
  catalogue,
  chosen,
  onChange,
}: {
  catalogue: IndicatorInfo[];
  chosen: string[];
  onChange: (specs: string[]) => void;
}) {
  const [name, setName] = useState(catalogue[0]?.name ?? "");
  const info = catalogue.find((i) => i.name === name);
  const fields = useMemo(() => paramFields(info?.parameters ?? []), [info]);
  const [values, setValues] = useState<Record<string, string>>(() => initialValues(fields));
  const [errors, setErrors] = useState<Record<string, string>>({});

  const choose = (next: string) => {
    setName(next);
    const nextInfo = catalogue.find((i) => i.name === next);
    setValues(initialValues(paramFields(nextInfo?.parameters ?? [])));
    setErrors({});
  };

  const add = (e: FormEvent) => {
    e.preventDefault();
    if (!info) return;
    const parsed = parseParams(fields, values);
    setErrors(parsed.errors);
    if (Object.keys(parsed.errors).length) return;
    const spec = indicatorSpec(info.name, fields, parsed.values);
    if (!chosen.includes(spec)) onChange([...chosen, spec]);
  };

  return (
    <div className="indicator-picker">
      <form onSubmit={add} className="filters" aria-label="Add an indicator" data-testid="indicator-form" noValidate>
        <SelectField
          label="Indicator"
          name="indicator"
          value={name}
          onChange={choose}
          options={catalogue.map((i) => ({ value: i.name, label: `${i.name} — ${i.description}` }))}
        />
        {fields.map((f) => (
          <TextField
            key={`${name}-${f.name}`}
            label={f.label}
            name={f.name}
            type="number"
            inputMode={f.integer ? "numeric" : "decimal"}
            min={f.min}
            max={f.max}
            step={f.step}
            value={values[f.name] ?? ""}
            onChange={(v) => setValues((old) => ({ ...old, [f.name]: v }))}
            error={errors[f.name]}
            hint={f.hint}
            markOptional={false}
          />
        ))}
        <div className="filters-submit">
          <Button type="submit" variant="secondary" data-testid="add-indicator">
            Add
          </Button>
        </div>
      </form>
      {chosen.length > 0 && (
        <ul className="chip-list" aria-label="Indicators on the chart" data-testid="chosen-indicators">
          {chosen.map((spec) => (
            <li key={spec} className="chip">
              <code>{spec}</code>
              <button
                type="button"
                className="chip-remove"
                aria-label={`Remove ${spec}`}
                onClick={() => onChange(chosen.filter((s) => s !== spec))}
              >
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
