import type { FileState } from "./reducer";

/**
 * Wording for readers: a reader of another user's public or unlisted app is never told "you" about
 * the owner's doings. ownerLabel is the owner's display name, or a neutral "the owner".
 */
export function ownerLabel(ownerName: string | undefined): string {
  const n = (ownerName ?? "").trim();
  return n === "" ? "the owner" : n;
}

/** authorLabel names who wrote the user's messages of the chat: "You" for the owner only. */
export function authorLabel(owned: boolean, ownerName: string | undefined): string {
  if (owned) return "You";
  const n = (ownerName ?? "").trim();
  return n === "" ? "Owner" : n;
}

/** readerPurpose rewrites a file's purpose ("edited by you", written in the owner's log) for a reader. */
export function readerPurpose(purpose: string, ownerName: string | undefined): string {
  return purpose.replace(/\bedited by you\b/g, `edited by ${ownerLabel(ownerName)}`);
}

/** readerFiles is files with every purpose worded for a reader (the same object when nothing changes). */
export function readerFiles(files: Record<string, FileState>, ownerName: string | undefined): Record<string, FileState> {
  let out: Record<string, FileState> | undefined;
  for (const [p, f] of Object.entries(files)) {
    const purpose = readerPurpose(f.purpose, ownerName);
    if (purpose === f.purpose) continue;
    out ??= { ...files };
    out[p] = { ...f, purpose };
  }
  return out ?? files;
}
