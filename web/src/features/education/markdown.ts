/**
 * Lesson markdown to HTML, safely, in two independent layers:
 *
 * 1. `markdownToHtml` (pure, unit tested): marked with raw HTML *escaped* (a `<script>` in a
 *    lesson is text), links only to http(s), mailto, in-page anchors and this site's paths
 *    (anything else, `javascript:` included, is text), and images shown as links (the app's CSP
 *    loads images from itself only).
 * 2. `sanitize` (in the browser): DOMPurify with an allow-list of tags and attributes; no
 *    `style`, no event handlers, no `<iframe>`, `<form>`, `<svg>`... whatever layer 1 missed.
 *
 * Both together are `renderMarkdown`; the browser XSS corpus test (e2e/flows/education) proves
 * that no script runs from lesson content.
 */
import DOMPurify from "dompurify";
import { Marked, type Tokens } from "marked";

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

/** An href we keep: http(s), mailto, #anchor or a path of this site (not "//host"). */
export function safeHref(href: string): string | null {
  const value = href.trim();
  if (value.startsWith("#")) return value;
  if (value.startsWith("/") && !value.startsWith("//") && !value.startsWith("/\\")) return value;
  try {
    const url = new URL(value);
    return ["http:", "https:", "mailto:"].includes(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}

const marked = new Marked({
  gfm: true,
  breaks: false,
  async: false,
  renderer: {
    html(token: Tokens.HTML | Tokens.Tag): string {
      return escapeHtml(token.text);
    },
    link(this: { parser: { parseInline(tokens: Tokens.Generic[]): string } }, token: Tokens.Link): string {
      const text = this.parser.parseInline(token.tokens);
      const href = safeHref(token.href);
      if (href === null) return text;
      const title = token.title ? ` title="${escapeHtml(token.title)}"` : "";
      return `<a href="${escapeHtml(href)}"${title} rel="noopener noreferrer nofollow">${text}</a>`;
    },
    image(token: Tokens.Image): string {
      const href = safeHref(token.href);
      const label = escapeHtml(token.text || "image");
      return href === null ? label : `<a href="${escapeHtml(href)}" rel="noopener noreferrer nofollow">${label}</a>`;
    },
  },
});

/** Markdown to HTML with raw HTML escaped and unsafe links dropped (layer 1). */
export function markdownToHtml(markdown: string): string {
  return marked.parse(markdown) as string;
}

export const ALLOWED_TAGS = [
  "h1", "h2", "h3", "h4", "h5", "h6", "p", "br", "hr", "blockquote", "ul", "ol", "li", "strong", "em", "del",
  "code", "pre", "a", "table", "thead", "tbody", "tr", "th", "td", "input",
];
export const ALLOWED_ATTR = ["href", "title", "rel", "align", "type", "checked", "disabled", "start"];

/** The allow-list sanitiser (layer 2); needs a DOM (the browser). */
export function sanitize(html: string): string {
  return DOMPurify.sanitize(html, {
    ALLOWED_TAGS,
    ALLOWED_ATTR,
    ALLOW_DATA_ATTR: false,
    ALLOWED_URI_REGEXP: /^(?:https?:|mailto:|#|\/(?!\/))/i,
  });
}

export function renderMarkdown(markdown: string): string {
  return sanitize(markdownToHtml(markdown));
}
