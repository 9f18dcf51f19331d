// A message's files in the timeline. An image (only what the gateway marked `image`: PNG, JPEG,
// GIF, WebP; never an SVG or HTML file) is a box of its own aspect ratio that waits until the
// media step made its thumbnail, then shows the thumbnail; a click or Enter opens the original in
// a viewer. Everything else is a chip with its name and size and a download button. Links are
// presigned and asked for when needed (core/attachmentLinks.ts).

import { useEffect, useRef, useState, type KeyboardEvent as ReactKeyboardEvent } from "react";
import { createPortal } from "react-dom";

import type { AttachmentVariant } from "../../core/api";
import { humanSize, isPreviewable, previewBox } from "../../core/attachments";
import { ProtocolError, type Attachment } from "../../core/protocol";
import type { ReadyFile } from "../../core/uploads";
import { DownloadIcon, FileIcon } from "../common/icons";
import { useChatClient } from "../state";

type Link = { state: "idle" | "loading" } | { state: "ready"; url: string } | { state: "failed"; error: string };

/** A presigned link to one of an attachment's files, asked for while `wanted`. */
function useLink(room: string, id: string, variant: AttachmentVariant, wanted: boolean): Link {
  const client = useChatClient();
  const [link, setLink] = useState<Link>({ state: "idle" });
  useEffect(() => {
    if (!wanted) return;
    let live = true;
    setLink({ state: "loading" });
    client.attachmentLink(room, id, variant).then(
      (url) => live && setLink({ state: "ready", url }),
      (error: unknown) => live && setLink({ state: "failed", error: linkFailure(error) }),
    );
    return () => {
      live = false;
    };
  }, [client, room, id, variant, wanted]);
  return link;
}

/** Why a file could not be fetched, in words for the person. */
export function linkFailure(error: unknown): string {
  if (!(error instanceof ProtocolError)) return "Could not get the file";
  switch (error.code) {
    case "not_ready":
      return "The image is still being processed; try again in a moment";
    case "not_found":
      return "The file is no longer there";
    case "forbidden":
      return "You may not read this room";
    case "disconnected":
      return "Network error: the chat service could not be reached";
    default:
      return "Could not get the file";
  }
}

/**
 * Saves the file behind a presigned link without leaving the page: a link with `download` (the
 * store also answers every file that is not an image with `Content-Disposition: attachment`,
 * which a browser follows where it ignores `download`, on another origin).
 */
export function downloadFrom(url: string, name: string): void {
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.rel = "noopener";
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
}

export function MessageFiles({ room, attachments }: { room: string; attachments: readonly Attachment[] }) {
  const [viewing, setViewing] = useState<Attachment | null>(null);
  const images = attachments.filter(isPreviewable);
  const files = attachments.filter((attachment) => !isPreviewable(attachment));
  return (
    <div className="msg-files" data-testid="attachments">
      {images.length > 0 && (
        <div className="msg-images">
          {images.map((attachment) => (
            <ImagePreview key={attachment.id} room={room} attachment={attachment} onOpen={() => setViewing(attachment)} />
          ))}
        </div>
      )}
      {files.map((attachment) => (
        <FileChip key={attachment.id} room={room} attachment={attachment} />
      ))}
      {viewing !== null && <ImageViewer room={room} attachment={viewing} onClose={() => setViewing(null)} />}
    </div>
  );
}

/** An image: a placeholder of its shape until its thumbnail exists and is fetched, then the thumbnail. */
function ImagePreview({ room, attachment, onOpen }: { room: string; attachment: Attachment; onOpen: () => void }) {
  const box = previewBox(attachment);
  const ready = attachment.thumbnail === true;
  const link = useLink(room, attachment.id, "thumbnail", ready);
  const [broken, setBroken] = useState(false);
  if (link.state === "failed" || broken) return <FileChip room={room} attachment={attachment} />;
  if (!ready || link.state !== "ready") {
    return (
      // Sizes through the CSSOM (React's style property), which the Content-Security-Policy allows.
      <div
        className="msg-image placeholder"
        role="img"
        aria-label={`${attachment.name}: ${ready ? "loading" : "being processed"}`}
        data-testid="image-placeholder"
        data-processed={ready}
        style={{ width: box.width, aspectRatio: `${box.width} / ${box.height}` }}
      >
        <span className="muted">{ready ? "Loading…" : "Processing image…"}</span>
      </div>
    );
  }
  return (
    <button
      type="button"
      className="msg-image"
      aria-label={`Open ${attachment.name}`}
      title={attachment.name}
      data-testid="image-thumbnail"
      onClick={onOpen}
    >
      <img src={link.url} alt={attachment.name} width={box.width} height={box.height} onError={() => setBroken(true)} />
    </button>
  );
}

/** A file that is not previewed: its name, its size, and a download. */
function FileChip({ room, attachment }: { room: string; attachment: Attachment }) {
  const client = useChatClient();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const download = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      downloadFrom(await client.attachmentLink(room, attachment.id, "original"), attachment.name);
    } catch (failure) {
      setError(linkFailure(failure));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="file-chip" data-testid="file-chip" data-type={attachment.type}>
      <FileIcon />
      <div className="file-meta">
        <bdi className="file-name" title={attachment.name} data-testid="file-name">
          {attachment.name}
        </bdi>
        <span className="file-size" data-testid="file-size">
          {humanSize(attachment.size)}
        </span>
        {error !== null && (
          <span className="file-error" role="alert">
            {error}
          </span>
        )}
      </div>
      <button
        type="button"
        className="icon-button"
        aria-label={`Download ${attachment.name}`}
        title="Download"
        disabled={busy}
        onClick={() => void download()}
      >
        <DownloadIcon />
      </button>
    </div>
  );
}

/** The original of an image over the page: Escape, the × button or a click beside it closes it. */
function ImageViewer({ room, attachment, onClose }: { room: string; attachment: Attachment; onClose: () => void }) {
  const client = useChatClient();
  const link = useLink(room, attachment.id, "original", true);
  const dialog = useRef<HTMLDivElement>(null);
  const close = useRef<HTMLButtonElement>(null);
  const [error, setError] = useState<string | null>(null);
  // Focus goes into the viewer and comes back to the thumbnail that opened it.
  useEffect(() => {
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    close.current?.focus();
    return () => opener?.focus();
  }, []);
  useEffect(() => {
    const onKey = (event: KeyboardEvent): void => {
      if (event.key === "Escape") onClose();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [onClose]);
  // Tab stays within the viewer while it is open.
  const trap = (event: ReactKeyboardEvent): void => {
    if (event.key !== "Tab" || dialog.current === null) return;
    const stops = [...dialog.current.querySelectorAll<HTMLElement>("button:not(:disabled), a[href]")];
    const first = stops[0];
    const last = stops[stops.length - 1];
    if (first === undefined || last === undefined) return;
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  };
  const download = async (): Promise<void> => {
    setError(null);
    try {
      downloadFrom(await client.attachmentLink(room, attachment.id, "original"), attachment.name);
    } catch (failure) {
      setError(linkFailure(failure));
    }
  };
  // Over the whole page, not inside the moving rows of the virtual list.
  return createPortal(
    <div className="overlay viewer-overlay" onMouseDown={(event) => event.target === event.currentTarget && onClose()}>
      <div
        ref={dialog}
        className="viewer"
        role="dialog"
        aria-modal="true"
        aria-label={attachment.name}
        data-testid="image-viewer"
        onKeyDown={trap}
      >
        <header className="viewer-head">
          <bdi className="file-name" title={attachment.name}>
            {attachment.name}
          </bdi>
          <span className="file-size">{humanSize(attachment.size)}</span>
          <button type="button" className="icon-button" aria-label={`Download ${attachment.name}`} title="Download" onClick={() => void download()}>
            <DownloadIcon />
          </button>
          <button ref={close} type="button" className="icon-button" aria-label="Close" onClick={onClose}>
            ×
          </button>
        </header>
        <div className="viewer-body">
          {link.state === "ready" ? (
            <img src={link.url} alt={attachment.name} data-testid="viewer-image" />
          ) : link.state === "failed" ? (
            <p role="alert">{link.error}</p>
          ) : (
            <p className="muted">Loading…</p>
          )}
          {error !== null && <p role="alert">{error}</p>}
        </div>
      </div>
    </div>,
    document.body,
  );
}

/** The files of one's own message on its way: names and sizes (nothing to fetch yet). */
export function PendingFiles({ files }: { files: readonly ReadyFile[] }) {
  return (
    <div className="msg-files" data-testid="attachments">
      {files.map((file) => (
        <div key={file.uploadId} className="file-chip" data-testid="file-chip" data-type={file.type}>
          <FileIcon />
          <div className="file-meta">
            <bdi className="file-name" title={file.name} data-testid="file-name">
              {file.name}
            </bdi>
            <span className="file-size" data-testid="file-size">
              {humanSize(file.size)}
            </span>
          </div>
        </div>
      ))}
    </div>
  );
}
