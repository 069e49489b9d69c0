// A MetadataStore over a local directory (the CLI's --out): same keys as the
// bucket, same write-once rule, enforced with link(2), which never replaces.
import { createWriteStream } from 'node:fs';
import { link, mkdir, readFile, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeWebStream } from 'node:stream/web';
import type { MetadataStore, StoredObjectInfo } from './store.ts';

export class DirStore implements MetadataStore {
  constructor(readonly root: string) {}

  path(key: string): string {
    return join(this.root, ...key.split('/'));
  }

  async head(key: string): Promise<StoredObjectInfo | undefined> {
    try {
      return { size: (await stat(this.path(key))).size, metadata: {} };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      return await readFile(this.path(key));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** Content type and user metadata have no place in a plain directory and are not kept. */
  async putIfAbsent(key: string, body: ReadableStream<Uint8Array> | Uint8Array, _options?: { contentType: string }): Promise<'written' | 'exists'> {
    const final = this.path(key);
    await mkdir(dirname(final), { recursive: true });
    const tmp = `${final}.partial-${process.pid}-${Math.random().toString(36).slice(2)}`;
    try {
      const source = body instanceof Uint8Array ? Readable.from([body]) : Readable.fromWeb(body as NodeWebStream<Uint8Array>);
      await pipeline(source, createWriteStream(tmp, { flags: 'wx', mode: 0o644 }));
      await link(tmp, final);
      return 'written';
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return 'exists';
      throw err;
    } finally {
      await unlink(tmp).catch(() => {});
    }
  }
}
