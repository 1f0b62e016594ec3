import { useMemo } from "react";
import { renderMarkdown } from "./markdown";

/** A lesson's markdown, rendered through both safety layers of markdown.ts. */
export function Markdown({ source, testId }: { source: string; testId?: string }) {
  const html = useMemo(() => renderMarkdown(source), [source]);
  // The HTML is escaped by markdownToHtml and allow-list sanitised by DOMPurify (markdown.ts).
  return <div className="markdown" data-testid={testId} dangerouslySetInnerHTML={{ __html: html }} />;
}
