import { ConnectError } from "@connectrpc/connect";
import { type FormEvent, useState } from "react";
import { toApiError } from "../../api/errors";
import { marketClient } from "../../api/marketClients";
import { BadRequestSchema } from "@gen/google/rpc/error_details_pb";
import { Alert } from "../../ui/Alert";
import { Button } from "../../ui/Button";
import { SelectField, TextField } from "../../ui/Field";
import { PageHeader, usePageTitle } from "../../ui/page";
import { IMPORT_SAMPLES, type ImportDraft, TIMEFRAMES, importRequest, importText } from "./adminActions";

const FIELDS = { symbol: ["symbol", "Symbol"], timeframe: ["timeframe", "Timeframe"], sample: ["sample", "Sample"] } as const;

/** The rejected rows of a refused CSV ("line 3: high is below low"), as the API lists them. */
function rejectedRows(thrown: unknown): string[] {
  return ConnectError.from(thrown)
    .findDetails(BadRequestSchema)
    .flatMap((d) => d.fieldViolations.filter((v) => v.field === "csv_content").map((v) => v.description));
}

/** Admin: market data import (MarketDataService.ImportBars) from a bundled sample or a CSV file. */
export function ImportPage() {
  usePageTitle("Market data import");
  const [draft, setDraft] = useState<ImportDraft>({ source: "sample", sample: "EURUSD", csv: "", symbol: "", timeframe: "1h", dryRun: true });
  const [fileName, setFileName] = useState("");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ ok: boolean; text: string; rows?: string[] } | null>(null);
  const set = <K extends keyof ImportDraft>(key: K, value: ImportDraft[K]) => setDraft((d) => ({ ...d, [key]: value }));

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const { request, errors: found } = importRequest(draft);
    setErrors(found);
    setResult(null);
    if (!request) return;
    setBusy(true);
    try {
      setResult({ ok: true, text: importText(await marketClient.importBars(request)) });
    } catch (err) {
      const api = toApiError(err, { fields: FIELDS });
      setErrors(api.fieldErrors);
      const rows = rejectedRows(err);
      setResult({ ok: false, text: rows.length ? "Nothing was imported: these rows were refused." : api.message, rows });
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="stack">
      <PageHeader
        title="Market data import"
        lead="Bars from a sample data set of the engine or a CSV file, stored in one transaction: a file with any bad row changes nothing. Importing the same rows again adds nothing. Each import is recorded in the audit log."
      />
      <form className="card stack" onSubmit={(e) => void submit(e)} noValidate data-testid="import-form">
        <fieldset className="field">
          <legend>Source</legend>
          <label className="field-check">
            <input type="radio" name="source" checked={draft.source === "sample"} onChange={() => set("source", "sample")} /> A sample
            data set
          </label>
          <label className="field-check">
            <input type="radio" name="source" checked={draft.source === "csv"} onChange={() => set("source", "csv")} /> A CSV file
          </label>
        </fieldset>
        {draft.source === "sample" ? (
          <SelectField
            label="Sample"
            name="sample"
            value={draft.sample}
            onChange={(v) => set("sample", v)}
            options={IMPORT_SAMPLES.map((s) => ({ value: s, label: s === "EURUSD" ? "EURUSD (hourly)" : "GOOG (daily)" }))}
            error={errors.sample}
          />
        ) : (
          <>
            <div className={`field${errors.csv ? " field-invalid" : ""}`}>
              <label htmlFor="import-file">CSV file</label>
              <p className="field-hint" id="import-file-hint">
                A header row; time (RFC 3339, “YYYY-MM-DD HH:MM” in UTC or epoch seconds), open, high, low, close, volume. At
                most 16 MiB.
              </p>
              <input
                id="import-file"
                type="file"
                accept=".csv,text/csv,text/plain"
                aria-describedby={errors.csv ? "import-file-hint import-file-error" : "import-file-hint"}
                aria-invalid={errors.csv ? true : undefined}
                data-testid="import-file"
                onChange={(e) => {
                  const file = e.target.files?.[0];
                  setFileName(file?.name ?? "");
                  if (file) void file.text().then((text) => set("csv", text));
                  else set("csv", "");
                }}
              />
              {fileName && <p className="muted">{fileName}</p>}
              {errors.csv && (
                <p className="field-error" id="import-file-error" data-testid="error-csv">
                  {errors.csv}
                </p>
              )}
            </div>
            <TextField label="Symbol" name="symbol" value={draft.symbol} onChange={(v) => set("symbol", v)} error={errors.symbol} required />
            <SelectField
              label="Timeframe"
              name="timeframe"
              value={draft.timeframe}
              onChange={(v) => set("timeframe", v)}
              options={TIMEFRAMES.map((t) => ({ value: t, label: t }))}
              error={errors.timeframe}
            />
          </>
        )}
        <div className="field field-check">
          <label>
            <input type="checkbox" className="field-check-input" checked={draft.dryRun} onChange={(e) => set("dryRun", e.target.checked)} data-testid="import-dry-run" />{" "}
            Check only (dry run): store nothing
          </label>
        </div>
        <div className="form-actions">
          <Button type="submit" busy={busy} data-testid="import-submit">
            {draft.dryRun ? "Check" : "Import"}
          </Button>
        </div>
      </form>
      {result && (
        <Alert tone={result.ok ? "success" : "error"} testId="import-result">
          <p>{result.text}</p>
          {result.rows && result.rows.length > 0 && (
            <ul data-testid="import-rejected">
              {result.rows.map((r) => (
                <li key={r}>{r}</li>
              ))}
            </ul>
          )}
        </Alert>
      )}
    </div>
  );
}
