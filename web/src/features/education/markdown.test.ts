import { describe, expect, it } from "vitest";
import { markdownToHtml, safeHref } from "./markdown";

describe("markdownToHtml (layer 1, without a DOM)", () => {
  it("renders markdown", () => {
    const html = markdownToHtml("# Title\n\nSome **bold** and `code`.\n\n- a\n- b\n\n| x | y |\n|---|---|\n| 1 | 2 |");
    expect(html).toContain("<h1>Title</h1>");
    expect(html).toContain("<strong>bold</strong>");
    expect(html).toContain("<code>code</code>");
    expect(html).toContain("<li>a</li>");
    expect(html).toContain("<table>");
  });

  it.each([
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "<iframe src=\"javascript:alert(1)\"></iframe>",
    'text <svg onload=alert(1)> more',
    "<a href=\"javascript:alert(1)\">x</a>",
  ])("escapes raw HTML: %s", (source) => {
    const html = markdownToHtml(source);
    expect(html).not.toMatch(/<(script|img|iframe|svg|a )/i);
    expect(html).toContain("&lt;");
  });

  it.each([
    ["[x](javascript:alert(1))", false],
    ["[x](JaVaScRiPt:alert(1))", false],
    ["[x](data:text/html;base64,PHNjcmlwdD4=)", false],
    ["[x](vbscript:msgbox)", false],
    ["[x](//evil.example/)", false],
    ["[x](https://example.com/a?b=1)", true],
    ["[x](/market?symbol=EURUSD)", true],
  ])("keeps only safe links: %s", (source, kept) => {
    const html = markdownToHtml(source);
    expect(html.includes("<a ")).toBe(kept);
    expect(html).not.toMatch(/javascript:|data:|vbscript:/i);
  });

  it("shows images as links, never loading them", () => {
    expect(markdownToHtml("![chart](https://example.com/c.png)")).not.toContain("<img");
    expect(markdownToHtml('![x](javascript:alert(1))')).not.toContain("<a");
  });

  it("escapes quotes in attributes", () => {
    const html = markdownToHtml('[x](https://example.com/ "a\\" onmouseover=\\"alert(1)")');
    expect(html).not.toMatch(/" onmouseover=/);
  });
});

describe("safeHref", () => {
  it("refuses protocol-relative and backslash paths", () => {
    expect(safeHref("//evil.example")).toBeNull();
    expect(safeHref("/\\evil.example")).toBeNull();
    expect(safeHref("#part-2")).toBe("#part-2");
  });
});
