// A MetadataStore over a local directory (the CLI's --out): same keys as the
// bucket, same write-once rule, enforced with link(2), which never replaces.
// What S3 keeps beside the bytes (content type, user metadata) lives in a
// dot-file sidecar next to each object: metadata/<id>/.db.zst.age.meta.json.
import { createWriteStream } from 'node:fs';
import { link, mkdir, open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeWebStream } from 'node:stream/web';
import type { MetadataStore, StoredObjectInfo } from './store.ts';

interface Sidecar {
  contentType?: string;
  metadata: Record<string, string>;
}

export class DirStore implements MetadataStore {
  constructor(readonly root: string) {}

  path(key: string): string {
    return join(this.root, ...key.split('/'));
  }

  /** A dot-file, so a listing of the export shows only the objects. */
  sidecarPath(key: string): string {
    const final = this.path(key);
    return join(dirname(final), `.${basename(final)}.meta.json`);
  }

  async head(key: string): Promise<StoredObjectInfo | undefined> {
    const found = await unlessMissing(stat(this.path(key)));
    return found && { size: found.size, metadata: await this.readMetadata(key) };
  }

  get(key: string): Promise<Uint8Array | undefined> {
    return unlessMissing(readFile(this.path(key)));
  }

  async getStream(key: string): Promise<ReadableStream<Uint8Array> | undefined> {
    // Opened first, so a missing file is undefined rather than a failing stream.
    const file = await unlessMissing(open(this.path(key), 'r'));
    return file && (Readable.toWeb(file.createReadStream()) as unknown as ReadableStream<Uint8Array>);
  }

  async putIfAbsent(
    key: string,
    body: ReadableStream<Uint8Array> | Uint8Array,
    options?: { contentType: string; metadata?: Record<string, string> },
  ): Promise<'written' | 'exists'> {
    const final = this.path(key);
    const sidecar = this.sidecarPath(key);
    await mkdir(dirname(final), { recursive: true });
    const suffix = `.partial-${process.pid}-${Math.random().toString(36).slice(2)}`;
    const tmp = `${final}${suffix}`;
    const sidecarTmp = `${sidecar}${suffix}`;
    try {
      const source = body instanceof Uint8Array ? Readable.from([body]) : Readable.fromWeb(body as NodeWebStream<Uint8Array>);
      await pipeline(source, createWriteStream(tmp, { flags: 'wx', mode: 0o644 }));
      const meta: Sidecar = { contentType: options?.contentType, metadata: { ...(options?.metadata ?? {}) } };
      await writeFile(sidecarTmp, `${JSON.stringify(meta)}\n`, { flag: 'wx', mode: 0o644 });
      // The link decides who wrote the object; only that writer may place the
      // sidecar, so a loser never overwrites the winner's metadata. A crash
      // between the two leaves an object without sidecar, read as no metadata.
      try {
        await link(tmp, final);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') return 'exists';
        throw err;
      }
      await rename(sidecarTmp, sidecar);
      return 'written';
    } finally {
      await unlink(tmp).catch(() => {});
      await unlink(sidecarTmp).catch(() => {});
    }
  }

  /** No sidecar (a crash after the link, or an object from before sidecars) means no metadata. */
  private async readMetadata(key: string): Promise<Record<string, string>> {
    const text = await unlessMissing(readFile(this.sidecarPath(key), 'utf8'));
    if (text === undefined) return {};
    // A sidecar that is not the JSON we write (cut short, edited by hand) is
    // treated like a missing one: the object itself is still there and readable.
    try {
      const metadata: unknown = (JSON.parse(text) as Partial<Sidecar> | null)?.metadata;
      if (!metadata || typeof metadata !== 'object' || Array.isArray(metadata)) return {};
      return Object.fromEntries(Object.entries(metadata).filter((e): e is [string, string] => typeof e[1] === 'string'));
    } catch {
      return {};
    }
  }
}

/** A file operation's result, or undefined when the file does not exist. */
async function unlessMissing<T>(operation: Promise<T>): Promise<T | undefined> {
  try {
    return await operation;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
