/**
 * The authoring form of a lesson's live blocks: add, edit, move and remove chart, signal, try-it
 * and forecast blocks, with the symbol, indicator and strategy catalogues offered as suggestions.
 * The server checks every block against the market data when the course is saved and names the
 * bad field; `errors` places those violations next to the field of their block.
 */
import type { ChartBlock, ForecastBlock, LessonBlock, SignalBlock, TryItBlock } from "@gen/trading/education/v1/education_pb";
import { useQuery } from "@tanstack/react-query";
import { useId, useState } from "react";
import { backtestClient, indicatorClient, marketClient } from "../../api/marketClients";
import { Button } from "../../ui/Button";
import { SelectField, TextField } from "../../ui/Field";
import {
  BLOCK_KINDS,
  blockKindLabel,
  moveBlock,
  newBlock,
  paramsText,
  readList,
  readParams,
  readTime,
  removeBlock,
  replaceBlock,
  timeText,
  type BlockKind,
} from "./blockForm";

const TIMEFRAMES = ["5m", "15m", "1h", "4h", "1d"];

type FieldErrors = Record<string, string>;

/** Text typed into a field that holds a parsed value: the typed text while it still means the value. */
function useTypedText(canonical: string, canonicalOf: (text: string) => string): [string, (t: string) => void] {
  const [text, setText] = useState(canonical);
  return [canonicalOf(text) === canonical ? text : canonical, setText];
}

function useCatalogue() {
  const opts = { staleTime: Infinity, retry: false } as const;
  const symbols = useQuery({ queryKey: ["catalogue", "symbols"], queryFn: () => marketClient.listSymbols({}), ...opts });
  const indicators = useQuery({ queryKey: ["catalogue", "indicators"], queryFn: () => indicatorClient.listIndicators({}), ...opts });
  const strategies = useQuery({ queryKey: ["catalogue", "strategies"], queryFn: () => backtestClient.listStrategies({}), ...opts });
  return {
    symbols: symbols.data?.symbols.map((s) => s.info?.symbol ?? "").filter(Boolean) ?? [],
    indicators: indicators.data?.indicators.map((i) => i.name) ?? [],
    strategies: strategies.data?.strategies ?? [],
  };
}

type Catalogue = ReturnType<typeof useCatalogue>;

function Suggestions({ id, values }: { id: string; values: readonly string[] }) {
  return (
    <datalist id={id}>
      {values.map((v) => (
        <option key={v} value={v} />
      ))}
    </datalist>
  );
}

function SymbolTimeframe({ value, onChange, errors, ids }: { value: { symbol: string; timeframe: string }; onChange: (symbol: string, timeframe: string) => void; errors: FieldErrors; ids: { symbols: string; timeframes: string } }) {
  return (
    <div className="editor-columns">
      <TextField label="Symbol" name="block-symbol" value={value.symbol} list={ids.symbols} onChange={(v) => onChange(v.trim().toUpperCase(), value.timeframe)} error={errors.symbol} required />
      <TextField label="Timeframe" name="block-timeframe" value={value.timeframe} list={ids.timeframes} onChange={(v) => onChange(value.symbol, v.trim())} error={errors.timeframe} required />
    </div>
  );
}

/** Optional bounds of the bars: dates only (try-it) or dates and RFC 3339 times (chart). */
function DateRange({ range: [start, end], onChange, errors: [startError, endError], datesOnly = false }: { range: [string, string]; onChange: (start: string, end: string) => void; errors: [string | undefined, string | undefined]; datesOnly?: boolean }) {
  const suffix = datesOnly ? " date" : "";
  const name = datesOnly ? "-date" : "";
  return (
    <div className="editor-columns">
      <TextField
        label={`Start${suffix}`}
        name={`block-start${name}`}
        value={start}
        placeholder="2017-11-06"
        hint={datesOnly ? "YYYY-MM-DD; empty: all the bars" : "YYYY-MM-DD or an RFC 3339 time; empty: the latest bars"}
        onChange={(v) => onChange(v.trim(), end)}
        error={startError}
      />
      <TextField label={`End${suffix}`} name={`block-end${name}`} value={end} placeholder="2017-11-15" onChange={(v) => onChange(start, v.trim())} error={endError} />
    </div>
  );
}

function ChartForm({ block, onChange, errors, ids, catalogue }: FormProps<ChartBlock>) {
  const [indicators, setIndicators] = useTypedText(block.indicators.join(", "), (t) => readList(t).join(", "));
  return (
    <>
      <SymbolTimeframe value={block} onChange={(symbol, timeframe) => onChange({ ...block, symbol, timeframe })} errors={errors} ids={ids} />
      <DateRange range={[block.start, block.end]} onChange={(start, end) => onChange({ ...block, start, end })} errors={[errors.start, errors.end]} />
      <TextField
        label="Indicators"
        name="block-indicators"
        value={indicators}
        hint={catalogue.indicators.length ? `At most 5, such as rsi:14 or macd. Available: ${catalogue.indicators.join(", ")}` : "At most 5, such as rsi:14 or macd"}
        onChange={(v) => {
          setIndicators(v);
          onChange({ ...block, indicators: readList(v) });
        }}
        error={errors.indicators}
      />
    </>
  );
}

function SignalForm({ block, onChange, errors, ids }: FormProps<SignalBlock>) {
  return <SymbolTimeframe value={block} onChange={(symbol, timeframe) => onChange({ ...block, symbol, timeframe })} errors={errors} ids={ids} />;
}

function TryItForm({ block, onChange, errors, ids, catalogue }: FormProps<TryItBlock>) {
  const [params, setParams] = useTypedText(paramsText(block.params), (t) => paramsText(readParams(t).params));
  const [editable, setEditable] = useTypedText(block.editableParams.join(", "), (t) => readList(t).join(", "));
  const strategy = catalogue.strategies.find((s) => s.name === block.strategy);
  const bad = readParams(params).bad;
  return (
    <>
      <TextField
        label="Strategy"
        name="block-strategy"
        value={block.strategy}
        list={ids.strategies}
        hint={strategy ? `${strategy.description} Parameters: ${strategy.parameters.map((p) => p.name).join(", ") || "none"}` : undefined}
        onChange={(v) => onChange({ ...block, strategy: v.trim() })}
        error={errors.strategy}
        required
      />
      <SymbolTimeframe value={block} onChange={(symbol, timeframe) => onChange({ ...block, symbol, timeframe })} errors={errors} ids={ids} />
      <DateRange range={[block.startDate, block.endDate]} onChange={(startDate, endDate) => onChange({ ...block, startDate, endDate })} errors={[errors.start_date, errors.end_date]} datesOnly />
      <TextField
        label="Parameters"
        name="block-params"
        value={params}
        placeholder="fast=10, slow=30"
        hint={bad.length ? `Not name=number, left out: ${bad.join(", ")}` : "name=value pairs, separated by commas"}
        onChange={(v) => {
          setParams(v);
          onChange({ ...block, params: readParams(v).params });
        }}
        error={errors.params}
      />
      <div className="editor-columns">
        <TextField
          label="Parameters the learner may change"
          name="block-editable"
          value={editable}
          onChange={(v) => {
            setEditable(v);
            onChange({ ...block, editableParams: readList(v) });
          }}
          error={errors.editable_params}
        />
        <TextField label="Commission (fraction)" name="block-commission" type="number" step="any" min="0" max="0.1" value={String(block.commission)} onChange={(v) => onChange({ ...block, commission: Number(v) || 0 })} error={errors.commission} />
      </div>
    </>
  );
}

function ForecastForm({ block, onChange, errors, ids }: FormProps<ForecastBlock>) {
  const [windowEnd, setWindowEnd] = useTypedText(timeText(block.windowEnd), (t) => timeText(readTime(t)));
  return (
    <>
      <SymbolTimeframe value={block} onChange={(symbol, timeframe) => onChange({ ...block, symbol, timeframe })} errors={errors} ids={ids} />
      <TextField
        label="Window end"
        name="block-window-end"
        value={windowEnd}
        placeholder="2017-11-14T12:00:00Z"
        hint="The open time of the last bar the learner sees (UTC)"
        onChange={(v) => {
          setWindowEnd(v);
          onChange({ ...block, windowEnd: readTime(v) });
        }}
        error={errors.window_end}
        required
      />
      <div className="editor-columns">
        <TextField label="Bars shown" name="block-window-bars" type="number" min="10" max="500" value={String(block.windowBars)} onChange={(v) => onChange({ ...block, windowBars: Number(v) || 0 })} error={errors.window_bars} />
        <TextField label="Bars ahead" name="block-horizon-bars" type="number" min="1" max="50" value={String(block.horizonBars)} onChange={(v) => onChange({ ...block, horizonBars: Number(v) || 0 })} error={errors.horizon_bars} />
      </div>
    </>
  );
}

interface FormProps<T> {
  block: T;
  onChange: (b: T) => void;
  errors: FieldErrors;
  ids: { symbols: string; timeframes: string; strategies: string };
  catalogue: Catalogue;
}

function BlockEditor({ block, index, count, errors, ids, catalogue, onChange, onMove, onRemove }: { block: LessonBlock; index: number; count: number; errors: FieldErrors; ids: FormProps<unknown>["ids"]; catalogue: Catalogue; onChange: (b: LessonBlock) => void; onMove: (delta: number) => void; onRemove: () => void }) {
  const k = block.kind;
  const common = { errors, ids, catalogue };
  const other = [errors.kind, errors.id].filter(Boolean).join(". ");
  return (
    <fieldset className="editor-block" data-testid="block-editor" data-kind={k.case ?? ""}>
      <legend>
        Block {index + 1}: {blockKindLabel(k.case)}
      </legend>
      {k.case === "chart" && <ChartForm block={k.value} onChange={(value) => onChange({ ...block, kind: { case: "chart", value } })} {...common} />}
      {k.case === "signal" && <SignalForm block={k.value} onChange={(value) => onChange({ ...block, kind: { case: "signal", value } })} {...common} />}
      {k.case === "tryIt" && <TryItForm block={k.value} onChange={(value) => onChange({ ...block, kind: { case: "tryIt", value } })} {...common} />}
      {k.case === "forecast" && <ForecastForm block={k.value} onChange={(value) => onChange({ ...block, kind: { case: "forecast", value } })} {...common} />}
      <TextField label="Caption" name="block-caption" value={block.caption} maxLength={300} onChange={(v) => onChange({ ...block, caption: v })} error={errors.caption} />
      {other && <p className="field-error">{other}</p>}
      <p className="actions">
        <Button variant="link" disabled={index === 0} onClick={() => onMove(-1)}>
          Move up
        </Button>{" "}
        <Button variant="link" disabled={index === count - 1} onClick={() => onMove(1)}>
          Move down
        </Button>{" "}
        <Button variant="link" onClick={onRemove}>
          Remove block {index + 1}
        </Button>
      </p>
    </fieldset>
  );
}

/**
 * The blocks of one lesson; `errorsOf(i)` gives the server's violations of block i, which no longer
 * match once blocks move or go: `onRearrange` is called then (the page forgets the refusal).
 */
export function BlocksEditor({ blocks, onChange, errorsOf, onRearrange }: { blocks: LessonBlock[]; onChange: (b: LessonBlock[]) => void; errorsOf: (i: number) => FieldErrors; onRearrange: () => void }) {
  const id = useId();
  const [kind, setKind] = useState<BlockKind>("chart");
  const catalogue = useCatalogue();
  const ids = { symbols: `${id}-symbols`, timeframes: `${id}-timeframes`, strategies: `${id}-strategies` };
  return (
    <div className="editor-blocks" data-testid="blocks-editor">
      <p className="muted small">Live blocks: checked against the platform's market data when you save.</p>
      <Suggestions id={ids.symbols} values={catalogue.symbols} />
      <Suggestions id={ids.timeframes} values={TIMEFRAMES} />
      <Suggestions id={ids.strategies} values={catalogue.strategies.map((s) => s.name)} />
      {blocks.map((b, i) => (
        <BlockEditor
          key={b.id || `new-${i}`}
          block={b}
          index={i}
          count={blocks.length}
          errors={errorsOf(i)}
          ids={ids}
          catalogue={catalogue}
          onChange={(x) => onChange(replaceBlock(blocks, i, x))}
          onMove={(delta) => {
            onRearrange();
            onChange(moveBlock(blocks, i, delta));
          }}
          onRemove={() => {
            onRearrange();
            onChange(removeBlock(blocks, i));
          }}
        />
      ))}
      <div className="editor-columns editor-add-block">
        <SelectField label="New block" name="new-block-kind" value={kind} onChange={(v) => setKind((BLOCK_KINDS.find((x) => x.value === v)?.value ?? "chart"))} options={BLOCK_KINDS} />
        <div>
          <Button variant="secondary" onClick={() => onChange([...blocks, newBlock(kind, catalogue.symbols[0] ?? "EURUSD")])} data-testid="add-block">
            Add the block
          </Button>
        </div>
      </div>
    </div>
  );
}
