import { useEffect, useState } from "react";
import { Alert } from "../../ui/Alert";
import { Button } from "../../ui/Button";

/** The ten single-use backup codes, shown once, with a download and a copy. */
export function BackupCodes({ codes, onDone }: { codes: string[]; onDone: () => void }) {
  const [href, setHref] = useState<string | null>(null);
  useEffect(() => {
    const text = `Trading platform backup codes (each works once)\n\n${codes.join("\n")}\n`;
    const url = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
    setHref(url);
    return () => URL.revokeObjectURL(url);
  }, [codes]);
  const [copied, setCopied] = useState(false);
  return (
    <div className="stack" data-testid="backup-codes-panel">
      <Alert tone="warning">
        Save these backup codes somewhere safe now: they are shown only this once. Each one signs you in once if you lose
        your authenticator app.
      </Alert>
      <ol className="backup-codes" data-testid="backup-codes">
        {codes.map((c) => (
          <li key={c}>
            <code>{c}</code>
          </li>
        ))}
      </ol>
      <div className="form-actions">
        {href && (
          <a className="btn btn-secondary" href={href} download="backup-codes.txt">
            Download as a text file
          </a>
        )}
        <Button
          variant="secondary"
          onClick={() =>
            void navigator.clipboard?.writeText(codes.join("\n")).then(
              () => setCopied(true),
              () => setCopied(false),
            )
          }
        >
          {copied ? "Copied" : "Copy"}
        </Button>
        <Button onClick={onDone}>I have saved them</Button>
      </div>
    </div>
  );
}
