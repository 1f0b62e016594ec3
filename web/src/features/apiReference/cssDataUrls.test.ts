import { describe, expect, it } from "vitest";
import { decodeDataUrl } from "../../../scripts/vite-css-data-urls.mjs";

describe("CSS data: images to files (the build's img-src 'self')", () => {
  it("decodes a percent-encoded SVG with escaped quotes as written in CSS", () => {
    const d = decodeDataUrl('data:image/svg+xml;charset=utf-8,<svg xmlns=\\"http://www.w3.org/2000/svg\\"><path fill=\\"%23fff\\"/></svg>');
    expect(d?.ext).toBe("svg");
    expect(d?.bytes.toString("utf8")).toBe('<svg xmlns="http://www.w3.org/2000/svg"><path fill="#fff"/></svg>');
  });
  it("decodes base64 PNG", () => {
    const d = decodeDataUrl("data:image/png;base64,iVBORw0KGgo=");
    expect(d?.ext).toBe("png");
    expect([...(d?.bytes ?? [])].slice(0, 4)).toEqual([0x89, 0x50, 0x4e, 0x47]);
  });
  it("leaves anything else alone", () => {
    expect(decodeDataUrl("data:font/woff2;base64,AAAA")).toBeNull();
    expect(decodeDataUrl("/assets/x.svg")).toBeNull();
  });
});
