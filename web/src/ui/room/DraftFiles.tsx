// The files chosen for the message being written, above the box: each with its name and size, a
// progress bar while it uploads, why it failed (with Retry when trying again can help), and a
// button to take it out.

import { humanSize } from "../../core/attachments";
import type { DraftFile } from "../../core/stores/drafts";
import { FileIcon } from "../common/icons";

export function DraftFiles({
  files,
  onRemove,
  onRetry,
}: {
  files: readonly DraftFile[];
  onRemove: (key: string) => void;
  onRetry: (key: string) => void;
}) {
  if (files.length === 0) return null;
  return (
    <ul className="draft-files" aria-label="Files to send" data-testid="draft-files">
      {files.map((file) => {
        const percent = file.size > 0 ? Math.floor((file.sent * 100) / file.size) : 0;
        return (
          <li key={file.key} className={`draft-file ${file.state}`} data-testid="draft-file" data-state={file.state}>
            <FileIcon />
            <div className="draft-meta">
              <div className="draft-line">
                <bdi className="file-name" title={file.name}>
                  {file.name}
                </bdi>
                <span className="file-size">{humanSize(file.size)}</span>
              </div>
              {file.state === "uploading" && (
                <div className="draft-line">
                  <progress max={file.size} value={file.sent} aria-label={`Uploading ${file.name}`} data-testid="upload-progress" />
                  <span className="draft-percent" data-testid="upload-percent">
                    {percent}%
                  </span>
                </div>
              )}
              {file.state === "ready" && <span className="draft-done">Uploaded</span>}
              {file.state === "failed" && (
                <span className="draft-error" role="alert" data-testid="upload-error">
                  {file.error ?? "Could not upload the file"}
                </span>
              )}
            </div>
            {file.state === "failed" && file.retryable === true && (
              <button type="button" className="link small" onClick={() => onRetry(file.key)}>
                Retry
              </button>
            )}
            <button type="button" className="icon-button small" aria-label={`Remove ${file.name}`} onClick={() => onRemove(file.key)}>
              ×
            </button>
          </li>
        );
      })}
    </ul>
  );
}
