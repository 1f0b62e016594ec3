import { create } from "qrcode";

/**
 * The dark modules of a QR code as one SVG path ("M x y h1 v1 h-1 z" per module), with the
 * side length in modules. Drawn by React as an <svg>: no inline script, no data: URL, no
 * innerHTML, so a strict Content-Security-Policy is fine with it.
 */
export function qrPath(text: string): { size: number; d: string } {
  const qr = create(text, { errorCorrectionLevel: "M" });
  const { size } = qr.modules;
  const parts: string[] = [];
  for (let row = 0; row < size; row++) {
    for (let col = 0; col < size; col++) {
      if (qr.modules.get(row, col)) parts.push(`M${col} ${row}h1v1h-1z`);
    }
  }
  return { size, d: parts.join("") };
}
