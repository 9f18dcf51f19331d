// The browser's side of uploading an attached file: its bytes go to the object store with
// XMLHttpRequest, since fetch reports no upload progress.

import type { LocalFile, PutFile } from "../core/uploads";
import { TransferError } from "../core/uploads";

/**
 * PUTs a file to the presigned URL with exactly the headers the gateway gave (the signature
 * covers its size and type), telling how many bytes have gone as they go.
 */
export const xhrPut: PutFile = (ticket, file, onProgress) => {
  const xhr = new XMLHttpRequest();
  const done = new Promise<void>((resolve, reject) => {
    xhr.upload.onprogress = (event) => onProgress(event.loaded);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve();
      else reject(new TransferError("refused", xhr.status));
    };
    xhr.onerror = () => reject(new TransferError("network"));
    xhr.ontimeout = () => reject(new TransferError("network"));
    xhr.onabort = () => reject(new TransferError("aborted"));
  });
  xhr.open(ticket.method, ticket.url);
  for (const [name, value] of Object.entries(ticket.headers)) xhr.setRequestHeader(name, value);
  xhr.send(asBlob(file));
  return { done, abort: () => xhr.abort() };
};

function asBlob(file: LocalFile): Blob {
  if (file instanceof Blob) return file;
  throw new TypeError("only a browser File can be uploaded");
}
