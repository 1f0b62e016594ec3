import { useMemo } from "react";
import { qrPath } from "../lib/qr";

/** A QR code as SVG; dark on white in both themes (scanners need the contrast). */
export function QrCode({ text, label }: { text: string; label: string }) {
  const { size, d } = useMemo(() => qrPath(text), [text]);
  const quiet = 4;
  const box = size + quiet * 2;
  return (
    <svg className="qr" viewBox={`0 0 ${box} ${box}`} role="img" aria-label={label} data-testid="totp-qr">
      <rect width={box} height={box} fill="#fff" />
      <path d={d} transform={`translate(${quiet} ${quiet})`} fill="#000" shapeRendering="crispEdges" />
    </svg>
  );
}
